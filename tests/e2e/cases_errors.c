// SPDX-License-Identifier: MIT
/* Reset, and what the node refuses: unknown ioctls, bad argsz, mmap. */
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "vfio_node.h"

int case_reset(struct e2e *t)
{
	static const uint32_t regs[] = {EXDEV_REG_SCRATCH,  EXDEV_REG_DMA_SRC,
	                                EXDEV_REG_DMA_DST,  EXDEV_REG_DMA_LEN,
	                                EXDEV_REG_IRQ_CTRL, EXDEV_REG_IRQ_VECTOR};
	uint32_t v;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		CHECK_OK(reg_write(fd, regs[i], 1));
	CHECK_OK(reg_read(fd, EXDEV_REG_SCRATCH, &v));
	CHECK(v == 1);
	CHECK(ioctl(fd, VFIO_DEVICE_RESET) == 0, "VFIO_DEVICE_RESET: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		CHECK_OK(reg_read(fd, regs[i], &v));
		CHECK(v == 0, "register 0x%02x is 0x%x after reset", regs[i], v);
	}
	CHECK_OK(reg_read(fd, EXDEV_REG_ID, &v));
	CHECK(v == EXDEV_ID_VALUE, "ID 0x%08x after reset", v);
	close(fd);
	return 0;
}

int case_enotty(struct e2e *t)
{
	struct termios tio;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK_ERRNO(ioctl(fd, _IO(VFIO_TYPE, VFIO_BASE + 60)), ENOTTY);
	CHECK_ERRNO(ioctl(fd, _IO(VFIO_TYPE, VFIO_BASE + 99), 0), ENOTTY);
	CHECK_ERRNO(ioctl(fd, TCGETS, &tio), ENOTTY);
	CHECK_ERRNO(ioctl(fd, _IOR('x', 1, int), &fd), ENOTTY);
	/* The node still answers. */
	CHECK(ioctl(fd, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
	close(fd);
	return 0;
}

static int set_irqs_raw(int fd, struct vfio_irq_set *set)
{
	return ioctl(fd, VFIO_DEVICE_SET_IRQS, set);
}

static int check_set_irqs(int fd)
{
	char buf[sizeof(struct vfio_irq_set) + 2 * sizeof(int32_t)];
	struct vfio_irq_set *set = (void *)buf;
	int32_t fds[2] = {9999, -1};

	*set = (struct vfio_irq_set){.argsz = 8,
	                             .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
	                             .index = VFIO_PCI_MSIX_IRQ_INDEX};
	CHECK_ERRNO(set_irqs_raw(fd, set), EINVAL);
	/* DATA_EVENTFD for one vector, but no room for the fd. */
	set->argsz = sizeof(*set);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->count = 1;
	CHECK_ERRNO(set_irqs_raw(fd, set), EINVAL);
	/* Two data types at once. */
	set->flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER;
	CHECK_ERRNO(set_irqs_raw(fd, set), EINVAL);
	/* No such index; vectors past the end. */
	set->flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_NUM_IRQS + 3;
	CHECK_ERRNO(set_irqs_raw(fd, set), EINVAL);
	set->index = VFIO_PCI_MSIX_IRQ_INDEX;
	set->start = EXDEV_MSIX_VECTORS - 1;
	set->count = 2;
	CHECK_ERRNO(set_irqs_raw(fd, set), EINVAL);
	/* An fd number the program does not have. */
	set->argsz = sizeof(buf);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->start = 0;
	set->count = 2;
	memcpy(set->data, fds, sizeof(fds));
	CHECK_ERRNO(set_irqs_raw(fd, set), EBADF);
	return 0;
}

int case_argsz(struct e2e *t)
{
	struct vfio_device_info info = {.argsz = 8}, *big;
	struct vfio_region_info region = {.argsz = 8, .index = VFIO_PCI_BAR0_REGION_INDEX};
	struct vfio_irq_info irq = {.argsz = 8, .index = VFIO_PCI_MSIX_IRQ_INDEX};
	struct vfio_iommu_type1_dma_map map = {.argsz = 8};
	struct vfio_iommu_type1_dma_unmap unmap = {.argsz = 8};
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK_ERRNO(ioctl(fd, VFIO_DEVICE_GET_INFO, &info), EINVAL);
	CHECK_ERRNO(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region), EINVAL);
	CHECK_ERRNO(ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &irq), EINVAL);
	CHECK(check_set_irqs(fd) == 0);
	CHECK_OK(iommu_setup(fd));
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_MAP_DMA, &map), EINVAL);
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap), EINVAL);
	/* A big argsz is not a reason to fail: only what the device has is written. */
	big = calloc(1, 1u << 20);
	CHECK(big);
	big->argsz = 1u << 20;
	CHECK(ioctl(fd, VFIO_DEVICE_GET_INFO, big) == 0, "GET_INFO with argsz 1 MiB: %s",
	      strerror(errno));
	CHECK(big->num_regions >= VFIO_PCI_CONFIG_REGION_INDEX + 1);
	free(big);
	close(fd);
	return 0;
}

int case_mmap(struct e2e *t)
{
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK_ERRNO(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	                 REGION_OFF(VFIO_PCI_BAR2_REGION_INDEX, 0)) == MAP_FAILED
	                ? -1
	                : 0,
	            ENODEV);
	CHECK_ERRNO(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd,
	                 REGION_OFF(VFIO_PCI_BAR2_REGION_INDEX, 0)) == MAP_FAILED
	                ? -1
	                : 0,
	            ENODEV);
	CHECK_ERRNO(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0, ENODEV);
	close(fd);
	return 0;
}
