// SPDX-License-Identifier: MIT
/* The node itself, the container ioctls, device/region/IRQ info, config space. */
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "check.h"
#include "e2e.h"
#include "vfio_node.h"

/* The daemon applies --mode just after CUSE creates the node 0600 (a limit
 * for a loaded host, not an expectation). */
#define MODE_WAIT_MS 30000

int case_node(struct e2e *t)
{
	unsigned long want = t->arg ? strtoul(t->arg, NULL, 8) : 0600;
	long long end = procs_now_ms() + MODE_WAIT_MS;
	struct stat st;

	CHECK(stat("/dev/vfio-user", &st) == 0 && S_ISDIR(st.st_mode), "no /dev/vfio-user dir");
	CHECK(stat(t->node, &st) == 0, "%s: %s", t->node, strerror(errno));
	CHECK(S_ISCHR(st.st_mode), "%s is not a character device (mode %o)", t->node, st.st_mode);
	while ((st.st_mode & 07777) != want && procs_now_ms() < end) {
		usleep(10000);
		CHECK(stat(t->node, &st) == 0, "%s: %s", t->node, strerror(errno));
	}
	NOTE("%s: char %u:%u mode %04o uid %u gid %u", t->node, major(st.st_rdev),
	     minor(st.st_rdev), st.st_mode & 07777, st.st_uid, st.st_gid);
	CHECK((st.st_mode & 07777) == want, "mode %04o, asked for %04lo", st.st_mode & 07777, want);
	return 0;
}

static int check_iommu_caps(const struct vfio_iommu_type1_info *info)
{
	const struct vfio_info_cap_header *h;
	const struct vfio_iommu_type1_info_cap_iova_range *range;
	const struct vfio_iommu_type1_info_dma_avail *avail;
	uint32_t off = info->cap_offset, prev = 0;
	int seen_range = 0;

	while (off) {
		CHECK(off > prev && off % 4 == 0 && off + sizeof(*h) <= info->argsz,
		      "capability at %u in %u bytes", off, info->argsz);
		h = (const void *)((const char *)info + off);
		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			range = (const void *)h;
			CHECK(range->nr_iovas >= 1, "IOVA range cap with no range");
			NOTE("IOVA range 0: 0x%llx-0x%llx",
			     (unsigned long long)range->iova_ranges[0].start,
			     (unsigned long long)range->iova_ranges[0].end);
			seen_range = 1;
		} else if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
			avail = (const void *)h;
			CHECK(avail->avail > 0, "no DMA mappings available");
			NOTE("DMA mappings available: %u", avail->avail);
		} else {
			NOTE("IOMMU cap id %u", h->id);
		}
		prev = off;
		off = h->next;
	}
	if (!seen_range)
		NOTE("no IOVA range capability (allowed: the whole space is usable)");
	return 0;
}

int case_container(struct e2e *t)
{
	struct vfio_iommu_type1_info small = {.argsz = sizeof(small)};
	struct vfio_iommu_type1_info *info;
	struct vfio_iommu_type1_dma_map map = {.argsz = sizeof(map)};
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK(ioctl(fd, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
	CHECK(ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) == 1);
	CHECK(ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1);
	CHECK(ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU) == 0);
	CHECK(ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU) == 0);
	NOTE("VFIO_UNMAP_ALL extension: %d", ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL));
	/* As /dev/vfio/vfio: nothing but the above works before SET_IOMMU. */
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_MAP_DMA, &map), EINVAL);
	CHECK_ERRNO(ioctl(fd, VFIO_SET_IOMMU, 77), ENODEV);
	CHECK(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0, "SET_IOMMU: %s", strerror(errno));
	CHECK_ERRNO(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), EINVAL);

	small.argsz = offsetof(struct vfio_iommu_type1_info, iova_pgsizes);
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_GET_INFO, &small), EINVAL);
	small.argsz = offsetof(struct vfio_iommu_type1_info, cap_offset);
	CHECK(ioctl(fd, VFIO_IOMMU_GET_INFO, &small) == 0, "GET_INFO minsz: %s", strerror(errno));
	CHECK(small.flags & VFIO_IOMMU_INFO_PGSIZES);
	CHECK(small.iova_pgsizes & 4096, "pgsizes 0x%llx", (unsigned long long)small.iova_pgsizes);
	small.argsz = sizeof(small);
	CHECK(ioctl(fd, VFIO_IOMMU_GET_INFO, &small) == 0);
	NOTE("iova_pgsizes 0x%llx flags 0x%x argsz %u", (unsigned long long)small.iova_pgsizes,
	     small.flags, small.argsz);
	if (!(small.flags & VFIO_IOMMU_INFO_CAPS))
		return 0;
	/* Too small for the chain: the kernel says how much, and no offset. */
	CHECK(small.argsz > sizeof(small) && small.cap_offset == 0, "argsz %u cap_offset %u",
	      small.argsz, small.cap_offset);
	info = calloc(1, small.argsz);
	CHECK(info);
	info->argsz = small.argsz;
	CHECK(ioctl(fd, VFIO_IOMMU_GET_INFO, info) == 0);
	CHECK(info->cap_offset >= sizeof(*info), "cap_offset %u", info->cap_offset);
	CHECK(check_iommu_caps(info) == 0);
	free(info);
	close(fd);
	return 0;
}

/* Region info through the argsz dance; the caller frees. */
static struct vfio_region_info *region_info(int fd, uint32_t index)
{
	struct vfio_region_info head = {.argsz = sizeof(head), .index = index}, *r;

	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &head) < 0)
		return NULL;
	r = calloc(1, head.argsz > sizeof(head) ? head.argsz : sizeof(head));
	if (!r)
		return NULL;
	if (head.argsz <= sizeof(head)) {
		*r = head;
		return r;
	}
	r->argsz = head.argsz;
	r->index = index;
	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, r) < 0) {
		free(r);
		return NULL;
	}
	return r;
}

static uint64_t expected_size(uint32_t index)
{
	switch (index) {
	case VFIO_PCI_BAR0_REGION_INDEX:
		return EXDEV_BAR0_SIZE;
	case VFIO_PCI_BAR2_REGION_INDEX:
		return EXDEV_BAR2_SIZE;
	case VFIO_PCI_CONFIG_REGION_INDEX:
		return EXDEV_CFG_SIZE;
	default:
		return 0;
	}
}

static int check_region(int fd, uint32_t index)
{
	struct vfio_region_info *r = region_info(fd, index);
	const struct vfio_info_cap_header *h;
	uint32_t off;

	CHECK(r, "region %u info: %s", index, strerror(errno));
	NOTE("region %u: size 0x%llx offset 0x%llx flags 0x%x argsz %u", index,
	     (unsigned long long)r->size, (unsigned long long)r->offset, r->flags, r->argsz);
	CHECK(r->offset == REGION_OFF(index, 0), "region %u offset 0x%llx", index,
	      (unsigned long long)r->offset);
	CHECK(r->size == expected_size(index), "region %u size 0x%llx", index,
	      (unsigned long long)r->size);
	CHECK(!(r->flags & VFIO_REGION_INFO_FLAG_MMAP), "region %u offers MMAP", index);
	if (r->size)
		CHECK((r->flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)) ==
		          (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE),
		      "region %u flags 0x%x", index, r->flags);
	off = r->flags & VFIO_REGION_INFO_FLAG_CAPS ? r->cap_offset : 0;
	for (int n = 0; off; n++) {
		CHECK(n < 16 && off >= sizeof(*r) && off % 4 == 0 && off + sizeof(*h) <= r->argsz,
		      "region %u: bad capability chain at %u", index, off);
		h = (const void *)((const char *)r + off);
		NOTE("region %u cap id %u v%u", index, h->id, h->version);
		CHECK(h->id != VFIO_REGION_INFO_CAP_SPARSE_MMAP &&
		          h->id != VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
		      "region %u keeps mmap capability %u", index, h->id);
		CHECK(h->next == 0 || h->next > off, "capability chain goes backwards");
		off = h->next;
	}
	free(r);
	return 0;
}

static int check_irq(int fd, uint32_t index, uint32_t count, uint32_t flags)
{
	struct vfio_irq_info irq = {.argsz = sizeof(irq), .index = index};

	CHECK(ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) == 0, "irq %u: %s", index, strerror(errno));
	NOTE("irq %u: count %u flags 0x%x", index, irq.count, irq.flags);
	CHECK(irq.count == count, "irq %u count %u, want %u", index, irq.count, count);
	CHECK((irq.flags & flags) == flags, "irq %u flags 0x%x lack 0x%x", index, irq.flags, flags);
	return 0;
}

int case_device_info(struct e2e *t)
{
	struct vfio_device_info info = {.argsz = sizeof(info)};
	struct vfio_region_info r = {.argsz = sizeof(r)};
	struct vfio_irq_info irq = {.argsz = sizeof(irq)};
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK(ioctl(fd, VFIO_DEVICE_GET_INFO, &info) == 0, "%s", strerror(errno));
	NOTE("device: flags 0x%x regions %u irqs %u", info.flags, info.num_regions, info.num_irqs);
	CHECK(info.flags & VFIO_DEVICE_FLAGS_PCI);
	CHECK(info.flags & VFIO_DEVICE_FLAGS_RESET);
	CHECK(info.num_regions >= VFIO_PCI_CONFIG_REGION_INDEX + 1);
	CHECK(info.num_irqs == VFIO_PCI_NUM_IRQS);
	for (uint32_t i = 0; i < info.num_regions; i++)
		CHECK(check_region(fd, i) == 0);
	CHECK(check_irq(fd, VFIO_PCI_INTX_IRQ_INDEX, 1,
	                VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
	                    VFIO_IRQ_INFO_AUTOMASKED) == 0);
	CHECK(check_irq(fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 0) == 0);
	CHECK(check_irq(fd, VFIO_PCI_MSIX_IRQ_INDEX, EXDEV_MSIX_VECTORS, VFIO_IRQ_INFO_EVENTFD) ==
	      0);
	CHECK(check_irq(fd, VFIO_PCI_ERR_IRQ_INDEX, 1, VFIO_IRQ_INFO_EVENTFD) == 0);
	CHECK(check_irq(fd, VFIO_PCI_REQ_IRQ_INDEX, 1, VFIO_IRQ_INFO_EVENTFD) == 0);
	r.index = info.num_regions;
	CHECK_ERRNO(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &r), EINVAL);
	irq.index = info.num_irqs;
	CHECK_ERRNO(ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &irq), EINVAL);
	close(fd);
	return 0;
}

static int walk_caps(const uint8_t *cfg)
{
	unsigned int at = cfg[PCI_CAPABILITY_LIST], seen = 0;
	uint16_t ctl;
	uint32_t table, pba;

	CHECK(at == EXDEV_CAP_PM, "first capability at 0x%x", at);
	for (int n = 0; at; n++) {
		CHECK(n < 48 && at >= PCI_STD_HEADER_SIZEOF && at < EXDEV_CFG_SIZE - 2,
		      "capability pointer 0x%x", at);
		NOTE("capability 0x%02x at 0x%02x", cfg[at], at);
		if (cfg[at] == PCI_CAP_ID_PM) {
			CHECK(at == EXDEV_CAP_PM);
			seen |= 1;
		} else if (cfg[at] == PCI_CAP_ID_MSIX) {
			CHECK(at == EXDEV_CAP_MSIX);
			memcpy(&ctl, cfg + at + PCI_MSIX_FLAGS, 2);
			memcpy(&table, cfg + at + PCI_MSIX_TABLE, 4);
			memcpy(&pba, cfg + at + PCI_MSIX_PBA, 4);
			CHECK((ctl & PCI_MSIX_FLAGS_QSIZE) + 1 == EXDEV_MSIX_VECTORS, "ctl 0x%x",
			      ctl);
			CHECK(table == (EXDEV_MSIX_TABLE_OFFSET | 0), "table 0x%x", table);
			CHECK(pba == (EXDEV_MSIX_PBA_OFFSET | 0), "pba 0x%x", pba);
			seen |= 2;
		}
		at = cfg[at + PCI_CAP_LIST_NEXT];
	}
	CHECK(seen == 3, "PM and MSI-X not both found");
	return 0;
}

int case_config(struct e2e *t)
{
	uint8_t cfg[EXDEV_CFG_SIZE], b;
	uint16_t id, status;
	uint32_t class;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK_OK(region_read(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0, cfg, sizeof(cfg)));
	memcpy(&id, cfg + PCI_VENDOR_ID, 2);
	CHECK(id == EXDEV_VENDOR_ID, "vendor 0x%04x", id);
	memcpy(&id, cfg + PCI_DEVICE_ID, 2);
	CHECK(id == EXDEV_DEVICE_ID, "device 0x%04x", id);
	class = cfg[PCI_CLASS_PROG] | cfg[PCI_CLASS_DEVICE] << 8 | cfg[PCI_CLASS_DEVICE + 1] << 16;
	CHECK(class == EXDEV_CLASS_CODE, "class 0x%06x", class);
	memcpy(&status, cfg + PCI_STATUS, 2);
	CHECK(status & PCI_STATUS_CAP_LIST, "status 0x%04x", status);
	CHECK(cfg[PCI_INTERRUPT_PIN] == 1, "interrupt pin %u", cfg[PCI_INTERRUPT_PIN]);
	CHECK(walk_caps(cfg) == 0);

	/* Small reads at odd places agree with the big one. */
	CHECK_OK(region_read(fd, VFIO_PCI_CONFIG_REGION_INDEX, PCI_DEVICE_ID, &id, 2));
	CHECK(id == EXDEV_DEVICE_ID);
	CHECK_OK(region_read(fd, VFIO_PCI_CONFIG_REGION_INDEX, PCI_HEADER_TYPE, &b, 1));
	CHECK(b == cfg[PCI_HEADER_TYPE]);

	/* Interrupt line is writable; the vendor ID is not. */
	b = 0x5a;
	CHECK_OK(region_write(fd, VFIO_PCI_CONFIG_REGION_INDEX, PCI_INTERRUPT_LINE, &b, 1));
	CHECK_OK(region_read(fd, VFIO_PCI_CONFIG_REGION_INDEX, PCI_INTERRUPT_LINE, &b, 1));
	CHECK(b == 0x5a, "interrupt line reads 0x%02x", b);
	id = 0x1234;
	CHECK_OK(region_write(fd, VFIO_PCI_CONFIG_REGION_INDEX, PCI_VENDOR_ID, &id, 2));
	CHECK_OK(region_read(fd, VFIO_PCI_CONFIG_REGION_INDEX, PCI_VENDOR_ID, &id, 2));
	CHECK(id == EXDEV_VENDOR_ID, "vendor ID became 0x%04x", id);
	close(fd);
	return 0;
}
