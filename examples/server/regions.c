// SPDX-License-Identifier: MIT
/*
 * The device's regions as vfio-pci numbers them: BAR0 (registers), BAR2
 * (RAM), config space; every other index exists with size 0, as the kernel
 * reports absent BARs. BAR2 lives in a memfd so it can be offered mappable:
 * the client maps the same pages the messages reach.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "device.h"

int exdev_bar2_init(struct exdev *d)
{
	int err;

	d->bar2_fd = memfd_create("exdev-bar2", MFD_CLOEXEC);
	if (d->bar2_fd < 0)
		return -errno;
	if (ftruncate(d->bar2_fd, EXDEV_BAR2_SIZE) < 0)
		goto fail;
	d->bar2 = mmap(NULL, EXDEV_BAR2_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, d->bar2_fd, 0);
	if (d->bar2 == MAP_FAILED)
		goto fail;
	return 0;
fail:
	err = -errno;
	close(d->bar2_fd);
	d->bar2_fd = -1;
	d->bar2 = NULL;
	return err;
}

void exdev_bar2_fini(struct exdev *d)
{
	if (d->bar2)
		munmap(d->bar2, EXDEV_BAR2_SIZE);
	if (d->bar2_fd >= 0)
		close(d->bar2_fd);
}

static uint64_t region_size(uint32_t index)
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

/* BAR2 offered mappable: the fd, and a sparse-mmap capability covering it.
 * The capability is assembled bytewise: buf promises no alignment. */
static size_t bar2_mmap_info(struct exdev *d, struct vfio_user_region_info *ri, void *buf,
                             size_t room, int *fd)
{
	const struct vfio_info_cap_header hdr = {
	    .id = VFIO_REGION_INFO_CAP_SPARSE_MMAP,
	    .version = 1,
	};
	const uint32_t nr_areas[2] = {1, 0}; /* nr_areas, reserved */
	const struct vfio_region_sparse_mmap_area area = {.offset = 0, .size = EXDEV_BAR2_SIZE};
	size_t full = sizeof(*ri) + sizeof(hdr) + sizeof(nr_areas) + sizeof(area);
	uint8_t *p = (uint8_t *)buf + sizeof(*ri);

	_Static_assert(sizeof(hdr) + sizeof(nr_areas) ==
	                   sizeof(struct vfio_region_info_cap_sparse_mmap),
	               "sparse mmap capability layout");
	ri->flags |= VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
	if (room < full) {
		/* Like the kernel: say caps exist and how much room they need.
		 * vu_serve sends the wire form: no CAPS without the chain. */
		ri->cap_offset = 0;
		return full;
	}
	ri->cap_offset = sizeof(*ri);
	memcpy(p, &hdr, sizeof(hdr));
	memcpy(p + sizeof(hdr), nr_areas, sizeof(nr_areas));
	memcpy(p + sizeof(hdr) + sizeof(nr_areas), &area, sizeof(area));
	*fd = d->bar2_fd;
	return full;
}

int exdev_region_info(void *dev, uint32_t index, void *buf, size_t *len, int *fd)
{
	struct exdev *d = dev;
	struct vfio_user_region_info ri = {.index = index, .size = region_size(index)};
	size_t full = sizeof(ri);

	*fd = -1;
	if (index >= VFIO_PCI_NUM_REGIONS) {
		vu_log(d->log, VU_LOG_WARN, "region info: no region %u", index);
		return -EINVAL;
	}
	if (*len < sizeof(ri)) {
		vu_log(d->log, VU_LOG_WARN, "region info: room for %zu bytes, need %zu", *len,
		       sizeof(ri));
		return -EINVAL;
	}
	if (ri.size)
		ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	if (index == VFIO_PCI_BAR2_REGION_INDEX && d->bar2_mmap)
		full = bar2_mmap_info(d, &ri, buf, *len, fd);
	ri.argsz = full;
	memcpy(buf, &ri, sizeof(ri));
	*len = full;
	return 0;
}

static int check_access(struct exdev *d, const char *what, uint32_t region, uint64_t offset,
                        uint32_t count)
{
	uint64_t size = region < VFIO_PCI_NUM_REGIONS ? region_size(region) : 0;

	if (offset > size || count > size - offset) {
		vu_log(d->log, VU_LOG_WARN,
		       "region %s: %u bytes at 0x%llx outside region %u (size 0x%llx)", what, count,
		       (unsigned long long)offset, region, (unsigned long long)size);
		return -EINVAL;
	}
	return 0;
}

int exdev_region_read(void *dev, uint32_t region, uint64_t offset, void *buf, uint32_t count)
{
	struct exdev *d = dev;
	int err = check_access(d, "read", region, offset, count);

	if (err)
		return err;
	switch (region) {
	case VFIO_PCI_BAR0_REGION_INDEX:
		exdev_bar0_read(d, offset, buf, count);
		break;
	case VFIO_PCI_BAR2_REGION_INDEX:
		memcpy(buf, d->bar2 + offset, count);
		break;
	case VFIO_PCI_CONFIG_REGION_INDEX:
		exdev_config_read(d, offset, buf, count);
		break;
	default:
		break; /* a zero-length access to an absent region */
	}
	return 0;
}

int exdev_region_write(void *dev, uint32_t region, uint64_t offset, const void *buf, uint32_t count)
{
	struct exdev *d = dev;
	int err = check_access(d, "write", region, offset, count);

	if (err)
		return err;
	switch (region) {
	case VFIO_PCI_BAR0_REGION_INDEX:
		exdev_bar0_write(d, offset, buf, count);
		break;
	case VFIO_PCI_BAR2_REGION_INDEX:
		memcpy(d->bar2 + offset, buf, count);
		break;
	case VFIO_PCI_CONFIG_REGION_INDEX:
		exdev_config_write(d, offset, buf, count);
		break;
	default:
		break; /* a zero-length access to an absent region */
	}
	return 0;
}
