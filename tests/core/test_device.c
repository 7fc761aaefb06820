// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_device.h"

static uint8_t bar2[TDEV_BAR2_SIZE];

static int td_device_info(void *dev, struct vfio_user_device_info *info)
{
	struct tdev *t = dev;

	info->flags = VFIO_DEVICE_FLAGS_PCI | (t->reset_flag ? VFIO_DEVICE_FLAGS_RESET : 0);
	info->num_regions = TDEV_NUM_REGIONS;
	info->num_irqs = TDEV_NUM_IRQS;
	return 0;
}

/* BAR2's capability chain: sparse mmap, type, MSI-X mappable. */
static size_t bar2_caps(uint8_t *b)
{
	struct vfio_region_info_cap_sparse_mmap sp = {
	    .header = {.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP, .version = 1, .next = 64},
	    .nr_areas = 1};
	struct vfio_region_sparse_mmap_area area = {.offset = 0, .size = TDEV_BAR2_SIZE};
	struct vfio_region_info_cap_type ty = {
	    .header = {.id = VFIO_REGION_INFO_CAP_TYPE, .version = 1, .next = 80},
	    .type = TDEV_TYPE_CAP_TYPE,
	    .subtype = 7};
	struct vfio_info_cap_header mx = {.id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, .version = 1};

	memcpy(b + 32, &sp, sizeof(sp));
	memcpy(b + 48, &area, sizeof(area));
	memcpy(b + 64, &ty, sizeof(ty));
	memcpy(b + 80, &mx, sizeof(mx));
	return 88;
}

/* The fd offered with BAR2's info; it stays the device's. */
static int bar2_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("tdev-bar2", MFD_CLOEXEC);
	return fd;
}

/* Count an info query; sleep first if it is the one to answer late. */
static void info_asked(struct tdev *t, unsigned int *calls, size_t n, uint32_t index, bool *once,
                       uint32_t slow)
{
	unsigned int delay = 0;

	pthread_mutex_lock(&t->lock);
	if (index < n)
		calls[index]++;
	if (*once && index == slow) {
		*once = false;
		delay = t->slow_ms;
	}
	pthread_mutex_unlock(&t->lock);
	if (delay)
		poll(NULL, 0, (int)delay);
}

static int td_region_info(void *dev, uint32_t index, void *buf, size_t *len, int *fd)
{
	struct tdev *t = dev;
	uint8_t full[128] = {0};
	struct vfio_user_region_info *ri = (void *)full;
	size_t need = sizeof(*ri);

	info_asked(t, t->region_info_calls, TDEV_NUM_REGIONS, index, &t->slow_region_once,
	           t->slow_region);
	*ri = (struct vfio_user_region_info){
	    .index = index, .flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE};
	switch (index) {
	case VFIO_PCI_BAR0_REGION_INDEX:
		ri->size = TDEV_BAR0_SIZE;
		break;
	case VFIO_PCI_BAR1_REGION_INDEX:
		ri->flags = 0;
		break;
	case VFIO_PCI_BAR2_REGION_INDEX:
		ri->size = TDEV_BAR2_SIZE;
		ri->flags |= VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
		ri->cap_offset = 32;
		need = bar2_caps(full);
		*fd = bar2_fd();
		break;
	case VFIO_PCI_ROM_REGION_INDEX:
		ri->size = TDEV_ROM_SIZE;
		ri->flags = VFIO_REGION_INFO_FLAG_READ;
		break;
	case VFIO_PCI_CONFIG_REGION_INDEX:
		ri->size = TDEV_CFG_SIZE;
		break;
	case VFIO_PCI_BAR3_REGION_INDEX:
	case VFIO_PCI_BAR4_REGION_INDEX:
	case VFIO_PCI_BAR5_REGION_INDEX:
		ri->flags = 0;
		break;
	default:
		return -EINVAL;
	}
	ri->argsz = need;
	memcpy(buf, full, *len < need ? *len : need);
	*len = need;
	return 0;
}

static int td_irq_info(void *dev, uint32_t index, struct vfio_user_irq_info *info)
{
	struct tdev *t = dev;
	const uint32_t count[TDEV_NUM_IRQS] = {1, t->msi_count, TDEV_MSIX_COUNT, 1, 1};

	info_asked(t, t->irq_info_calls, TDEV_NUM_IRQS, index, &t->slow_irq_once, t->slow_irq);
	if (index >= TDEV_NUM_IRQS)
		return -EINVAL;
	info->index = index;
	info->count = count[index];
	info->flags =
	    VFIO_IRQ_INFO_EVENTFD | (index == 0 ? VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED
	                                        : VFIO_IRQ_INFO_NORESIZE);
	return 0;
}

static void irq_fd_set(struct tdev *t, uint32_t index, uint32_t vec, int fd)
{
	if (t->irq_fds[index][vec] >= 0)
		close(t->irq_fds[index][vec]);
	t->irq_fds[index][vec] = fd;
}

static int td_set_irqs(void *dev, const struct vfio_user_irq_set *set, const uint8_t *data,
                       int *fds, size_t nr_fds)
{
	struct tdev *t = dev;
	uint32_t n = set->index < TDEV_NUM_IRQS && set->start < TDEV_MSIX_COUNT &&
	                     set->count <= TDEV_MSIX_COUNT - set->start
	                 ? set->count
	                 : 0;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	t->set_irqs_calls++;
	t->last_set.flags = set->flags;
	t->last_set.index = set->index;
	t->last_set.start = set->start;
	t->last_set.count = set->count;
	t->last_nr_fds = nr_fds;
	if (set->index >= TDEV_NUM_IRQS || n != set->count) {
		ret = -EINVAL;
	} else if ((set->flags & VFIO_IRQ_SET_DATA_NONE) && set->count == 0) {
		for (uint32_t v = 0; v < TDEV_MSIX_COUNT; v++)
			irq_fd_set(t, set->index, v, -1);
	} else if (set->flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		for (uint32_t i = 0; i < n; i++)
			irq_fd_set(t, set->index, set->start + i, nr_fds ? fds[i] : -1);
		nr_fds = 0;
	}
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < nr_fds; i++)
		close(fds[i]);
	return ret;
}

static uint8_t *region_mem(struct tdev *t, uint32_t region, uint64_t offset, uint32_t count)
{
	static uint8_t rom[TDEV_ROM_SIZE];
	uint8_t *base;
	uint64_t size;

	switch (region) {
	case VFIO_PCI_BAR0_REGION_INDEX:
		base = t->bar0, size = TDEV_BAR0_SIZE;
		break;
	case VFIO_PCI_BAR2_REGION_INDEX:
		base = bar2, size = TDEV_BAR2_SIZE;
		break;
	case VFIO_PCI_ROM_REGION_INDEX:
		for (size_t i = 0; i < sizeof(rom); i++)
			rom[i] = (uint8_t)(i * 7);
		base = rom, size = TDEV_ROM_SIZE;
		break;
	case VFIO_PCI_CONFIG_REGION_INDEX:
		base = t->cfg, size = TDEV_CFG_SIZE;
		break;
	default:
		return NULL;
	}
	if (offset > size || count > size - offset)
		return NULL;
	return base + offset;
}

static int td_region_read(void *dev, uint32_t region, uint64_t offset, void *buf, uint32_t count)
{
	struct tdev *t = dev;
	uint8_t *p;

	pthread_mutex_lock(&t->lock);
	p = region_mem(t, region, offset, count);
	if (p)
		memcpy(buf, p, count);
	pthread_mutex_unlock(&t->lock);
	return p ? 0 : -EINVAL;
}

/* The doorbell: DMA by message, from the dispatch thread, as servers do. */
static void doorbell(struct tdev *t)
{
	uint64_t a[3];
	int32_t res;

	memcpy(a, t->bar0 + TDEV_DMA_DOORBELL, sizeof(a));
	if (a[1] > TDEV_DMA_BUF_SIZE)
		res = -EINVAL;
	else if (a[2] == 0)
		res = vu_server_dma_read(vu_server_current(), a[0], t->bar0 + TDEV_DMA_BUF, a[1]);
	else
		res = vu_server_dma_write(vu_server_current(), a[0], t->bar0 + TDEV_DMA_BUF, a[1]);
	memcpy(t->bar0 + TDEV_DMA_RESULT, &res, sizeof(res));
}

static int td_region_write(void *dev, uint32_t region, uint64_t offset, const void *buf,
                           uint32_t count)
{
	struct tdev *t = dev;
	uint8_t *p;

	if (region == VFIO_PCI_ROM_REGION_INDEX)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	while (t->gate_closed)
		pthread_cond_wait(&t->gate, &t->lock);
	t->region_writes++;
	p = region_mem(t, region, offset, count);
	if (p)
		memcpy(p, buf, count);
	pthread_mutex_unlock(&t->lock);
	if (p && region == VFIO_PCI_BAR0_REGION_INDEX && offset == TDEV_DMA_DOORBELL && count == 24)
		doorbell(t);
	return p ? 0 : -EINVAL;
}

static int td_dma_map(void *dev, const struct vfio_user_dma_map *map, int fd)
{
	struct tdev *t = dev;
	int ret = 0, mode = -1;

	if (fd >= 0) {
		mode = fcntl(fd, F_GETFL) & O_ACCMODE;
		close(fd);
	}
	pthread_mutex_lock(&t->lock);
	t->map_calls++;
	for (unsigned int i = 0; i < t->nr_maps; i++) {
		if (map->addr < t->maps[i].iova + t->maps[i].size &&
		    t->maps[i].iova < map->addr + map->size)
			ret = -EEXIST;
	}
	if (ret == 0 && t->nr_maps == TDEV_MAX_MAPS)
		ret = -ENOSPC;
	if (ret == 0)
		t->maps[t->nr_maps++] = (struct tdev_map){.iova = map->addr,
		                                          .size = map->size,
		                                          .flags = map->flags,
		                                          .fd = fd >= 0,
		                                          .fd_mode = mode};
	pthread_mutex_unlock(&t->lock);
	return ret;
}

static int td_dma_unmap(void *dev, const struct vfio_user_dma_unmap *unmap)
{
	struct tdev *t = dev;
	int ret = -EINVAL;

	pthread_mutex_lock(&t->lock);
	t->unmap_calls++;
	for (unsigned int i = 0; i < t->nr_maps; i++) {
		if (t->maps[i].iova == unmap->addr && t->maps[i].size == unmap->size) {
			t->maps[i] = t->maps[--t->nr_maps];
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

static int td_reset(void *dev)
{
	struct tdev *t = dev;

	pthread_mutex_lock(&t->lock);
	t->resets++;
	memset(t->bar0, 0, sizeof(t->bar0));
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static void td_client_gone(void *dev)
{
	struct tdev *t = dev;

	pthread_mutex_lock(&t->lock);
	t->nr_maps = 0;
	for (uint32_t i = 0; i < TDEV_NUM_IRQS; i++) {
		for (uint32_t v = 0; v < TDEV_MSIX_COUNT; v++)
			irq_fd_set(t, i, v, -1);
	}
	pthread_mutex_unlock(&t->lock);
}

static const struct vu_server_ops td_ops = {
    .device_info = td_device_info,
    .region_info = td_region_info,
    .irq_info = td_irq_info,
    .set_irqs = td_set_irqs,
    .region_read = td_region_read,
    .region_write = td_region_write,
    .dma_map = td_dma_map,
    .dma_unmap = td_dma_unmap,
    .reset = td_reset,
    .client_gone = td_client_gone,
};

static void *td_serve(void *arg)
{
	struct tdev *t = arg;
	struct vu_server_opts opts = {0};

	vu_caps_default(&opts.caps);
	opts.caps.max_dma_maps = t->max_dma_maps;
	opts.caps.max_msg_fds = 2;
	while (!t->stop) {
		struct pollfd p = {.fd = t->listen_fd, .events = POLLIN};
		int fd;

		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			opts.caps.twin_socket = t->twin;
		vu_serve(fd, &td_ops, t, &opts, &t->stop);
	}
	return NULL;
}

int tdev_start(struct tdev *t, bool reset_flag, uint32_t max_dma_maps)
{
	static unsigned int seq;

	if (!t->path[0]) {
		memset(t, 0, sizeof(*t));
		snprintf(t->path, sizeof(t->path), "/tmp/vuc-core-test-%d-%u.sock", (int)getpid(),
		         __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
		pthread_mutex_init(&t->lock, NULL);
		pthread_cond_init(&t->gate, NULL);
		for (uint32_t i = 0; i < TDEV_NUM_IRQS; i++) {
			for (uint32_t v = 0; v < TDEV_MSIX_COUNT; v++)
				t->irq_fds[i][v] = -1;
		}
	}
	t->reset_flag = reset_flag;
	t->max_dma_maps = max_dma_maps;
	t->stop = 0;
	t->listen_fd = vu_server_listen(t->path);
	if (t->listen_fd < 0)
		return t->listen_fd;
	return -pthread_create(&t->thread, NULL, td_serve, t);
}

void tdev_stop(struct tdev *t)
{
	t->stop = 1;
	pthread_join(t->thread, NULL);
	close(t->listen_fd);
	unlink(t->path);
}

void tdev_gate(struct tdev *t, bool closed)
{
	pthread_mutex_lock(&t->lock);
	t->gate_closed = closed;
	pthread_cond_broadcast(&t->gate);
	pthread_mutex_unlock(&t->lock);
}

unsigned int tdev_region_writes(struct tdev *t)
{
	unsigned int n;

	pthread_mutex_lock(&t->lock);
	n = t->region_writes;
	pthread_mutex_unlock(&t->lock);
	return n;
}

unsigned int tdev_nr_maps(struct tdev *t)
{
	unsigned int n;

	pthread_mutex_lock(&t->lock);
	n = t->nr_maps;
	pthread_mutex_unlock(&t->lock);
	return n;
}

unsigned int tdev_region_info_calls(struct tdev *t, uint32_t index)
{
	unsigned int n;

	pthread_mutex_lock(&t->lock);
	n = t->region_info_calls[index];
	pthread_mutex_unlock(&t->lock);
	return n;
}

unsigned int tdev_irq_info_calls(struct tdev *t, uint32_t index)
{
	unsigned int n;

	pthread_mutex_lock(&t->lock);
	n = t->irq_info_calls[index];
	pthread_mutex_unlock(&t->lock);
	return n;
}

int tdev_irq_fd(struct tdev *t, uint32_t index, uint32_t vector)
{
	int fd;

	pthread_mutex_lock(&t->lock);
	fd = t->irq_fds[index][vector];
	pthread_mutex_unlock(&t->lock);
	return fd;
}
