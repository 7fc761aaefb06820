// SPDX-License-Identifier: MIT
/* Node access for the end-to-end cases: regions, DMA, interrupts, buffers. */
#include "vfio_node.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>

int node_open(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int region_read(int fd, unsigned int index, uint64_t off, void *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len, REGION_OFF(index, off));

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int region_write(int fd, unsigned int index, uint64_t off, const void *buf, size_t len)
{
	ssize_t n = pwrite(fd, buf, len, REGION_OFF(index, off));

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int reg_read(int fd, uint32_t reg, uint32_t *val)
{
	return region_read(fd, VFIO_PCI_BAR0_REGION_INDEX, reg, val, sizeof(*val));
}

int reg_write(int fd, uint32_t reg, uint32_t val)
{
	return region_write(fd, VFIO_PCI_BAR0_REGION_INDEX, reg, &val, sizeof(val));
}

int reg_write64(int fd, uint32_t reg, uint64_t val)
{
	return region_write(fd, VFIO_PCI_BAR0_REGION_INDEX, reg, &val, sizeof(val));
}

int pci_enable(int fd)
{
	uint16_t cmd = 0;
	int ret = region_read(fd, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, sizeof(cmd));

	if (ret)
		return ret;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	return region_write(fd, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, sizeof(cmd));
}

int iommu_setup(int fd)
{
	if (ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1)
		return -ENODEV;
	return ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0 ? -errno : 0;
}

int dma_map(int fd, void *vaddr, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map map = {
	    .argsz = sizeof(map),
	    .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	    .vaddr = (uintptr_t)vaddr,
	    .iova = iova,
	    .size = size,
	};

	return ioctl(fd, VFIO_IOMMU_MAP_DMA, &map) < 0 ? -errno : 0;
}

int dma_unmap(int fd, uint64_t iova, uint64_t size, uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
	    .argsz = sizeof(unmap),
	    .iova = iova,
	    .size = size,
	};

	if (ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
		return -errno;
	if (unmapped)
		*unmapped = unmap.size;
	return 0;
}

int dma_run(int fd, uint64_t src, uint64_t dst, uint32_t len, uint32_t flags, uint32_t *status)
{
	int ret;

	if ((ret = reg_write64(fd, EXDEV_REG_DMA_SRC, src)) ||
	    (ret = reg_write64(fd, EXDEV_REG_DMA_DST, dst)) ||
	    (ret = reg_write(fd, EXDEV_REG_DMA_LEN, len)) ||
	    (ret = reg_write(fd, EXDEV_REG_DMA_CMD, EXDEV_DMA_CMD_GO | flags)))
		return ret;
	return reg_read(fd, EXDEV_REG_STATUS, status);
}

int irq_eventfds(int fd, uint32_t index, uint32_t start, uint32_t count, const int32_t *fds)
{
	size_t size = sizeof(struct vfio_irq_set) + count * sizeof(int32_t);
	struct vfio_irq_set *set = calloc(1, size);
	int ret;

	if (!set)
		return -ENOMEM;
	set->argsz = size;
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = index;
	set->start = start;
	set->count = count;
	memcpy(set->data, fds, count * sizeof(int32_t));
	ret = ioctl(fd, VFIO_DEVICE_SET_IRQS, set) < 0 ? -errno : 0;
	free(set);
	return ret;
}

int irq_none(int fd, uint32_t index, uint32_t action, uint32_t start, uint32_t count)
{
	struct vfio_irq_set set = {
	    .argsz = sizeof(set),
	    .flags = VFIO_IRQ_SET_DATA_NONE | action,
	    .index = index,
	    .start = start,
	    .count = count,
	};

	return ioctl(fd, VFIO_DEVICE_SET_IRQS, &set) < 0 ? -errno : 0;
}

int efd_new(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

int efd_peek(int efd, uint64_t *count)
{
	if (read(efd, count, sizeof(*count)) == sizeof(*count))
		return 0;
	*count = 0;
	return errno == EAGAIN ? 0 : -errno;
}

int efd_wait(int efd, int ms, uint64_t *count)
{
	struct pollfd p = {.fd = efd, .events = POLLIN};
	int n;

	do {
		n = poll(&p, 1, ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	return efd_peek(efd, count);
}

void *buf_memfd(size_t size)
{
	void *p;
	int fd = memfd_create("vuc-e2e", MFD_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, size) < 0) {
		close(fd);
		return NULL;
	}
	/* The daemon finds the memory through the mapping, not through this fd. */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

void *buf_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = x;
	}
}

size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 0;

	while (i < n && a[i] == b[i])
		i++;
	return i;
}
