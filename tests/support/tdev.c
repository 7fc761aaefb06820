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

#include "tdev.h"
#include "util.h"

/* BAR2's capability chain, after the 32-byte region info: a sparse mmap
 * with its areas, a type, MSI-X mappable. */
#define SPARSE_OFF 32u
#define SPARSE_LEN                                                                                 \
	(sizeof(struct vfio_region_info_cap_sparse_mmap) +                                         \
	 TDEV_BAR2_AREAS * sizeof(struct vfio_region_sparse_mmap_area))
#define TYPE_OFF  (SPARSE_OFF + SPARSE_LEN)
#define MSIX_OFF  (TYPE_OFF + sizeof(struct vfio_region_info_cap_type))
#define BAR2_INFO (MSIX_OFF + sizeof(struct vfio_info_cap_header))

static void lock(struct tdev *t)
{
	pthread_mutex_lock(&t->lock);
}

static void unlock(struct tdev *t)
{
	pthread_mutex_unlock(&t->lock);
}

void tdev_init(struct tdev *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->gate, NULL);
	t->reset_flag = true;
	t->listen_fd = -1;
	for (uint32_t i = 0; i < TDEV_NUM_IRQS; i++) {
		for (uint32_t v = 0; v < TDEV_MSIX_COUNT; v++)
			t->irq_fds[i][v] = -1;
	}
	t->bar1 = calloc(1, TDEV_BAR1_SIZE);
	t->bar2_fd = memfd_create("tdev-bar2", MFD_CLOEXEC);
	if (t->bar2_fd >= 0 && write(t->bar2_fd, TDEV_BAR2_TEXT, sizeof(TDEV_BAR2_TEXT)) < 0) {
		close(t->bar2_fd);
		t->bar2_fd = -1;
	}
}

static void irq_fd_set(struct tdev *t, uint32_t index, uint32_t vec, int fd)
{
	if (t->irq_fds[index][vec] >= 0)
		close(t->irq_fds[index][vec]);
	t->irq_fds[index][vec] = fd;
}

static void irq_fds_drop(struct tdev *t)
{
	for (uint32_t i = 0; i < TDEV_NUM_IRQS; i++) {
		for (uint32_t v = 0; v < TDEV_MSIX_COUNT; v++)
			irq_fd_set(t, i, v, -1);
	}
}

void tdev_fini(struct tdev *t)
{
	irq_fds_drop(t);
	free(t->bar1);
	if (t->bar2_fd >= 0)
		close(t->bar2_fd);
	pthread_cond_destroy(&t->gate);
	pthread_mutex_destroy(&t->lock);
}

static int td_device_info(void *dev, struct vfio_user_device_info *info)
{
	struct tdev *t = dev;

	info->flags = VFIO_DEVICE_FLAGS_PCI | (t->reset_flag ? VFIO_DEVICE_FLAGS_RESET : 0);
	info->num_regions = TDEV_NUM_REGIONS;
	info->num_irqs = TDEV_NUM_IRQS;
	return 0;
}

static size_t bar2_caps(uint8_t *b)
{
	struct vfio_region_info_cap_sparse_mmap sp = {
	    .header = {.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP, .version = 1, .next = TYPE_OFF},
	    .nr_areas = TDEV_BAR2_AREAS};
	struct vfio_region_info_cap_type ty = {
	    .header = {.id = VFIO_REGION_INFO_CAP_TYPE, .version = 1, .next = MSIX_OFF},
	    .type = TDEV_TYPE_CAP_TYPE,
	    .subtype = 7};
	struct vfio_info_cap_header mx = {.id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, .version = 1};

	memcpy(b + SPARSE_OFF, &sp, sizeof(sp));
	for (unsigned int i = 0; i < TDEV_BAR2_AREAS; i++) {
		struct vfio_region_sparse_mmap_area a = {.offset = i * 128, .size = 64};

		memcpy(b + SPARSE_OFF + sizeof(sp) + i * sizeof(a), &a, sizeof(a));
	}
	memcpy(b + TYPE_OFF, &ty, sizeof(ty));
	memcpy(b + MSIX_OFF, &mx, sizeof(mx));
	return BAR2_INFO;
}

/* Count an info query; sleep first if it is the one to answer late. */
static void info_asked(struct tdev *t, unsigned int *calls, size_t n, uint32_t index, bool *once,
                       uint32_t slow)
{
	int delay = 0;

	lock(t);
	if (index < n)
		calls[index]++;
	if (*once && index == slow) {
		*once = false;
		delay = t->slow_ms;
	}
	unlock(t);
	if (delay)
		sleep_ms(delay);
}

static int td_region_info(void *dev, uint32_t index, void *buf, size_t *len, int *fd)
{
	struct tdev *t = dev;
	uint8_t full[BAR2_INFO] = {0};
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
		ri->size = TDEV_BAR1_SIZE;
		break;
	case VFIO_PCI_BAR2_REGION_INDEX:
		ri->size = TDEV_BAR2_SIZE;
		ri->flags |= VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
		ri->cap_offset = SPARSE_OFF;
		need = bar2_caps(full);
		*fd = t->bar2_fd;
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

static int td_set_irqs(void *dev, const struct vfio_user_irq_set *set, const uint8_t *data,
                       int *fds, size_t nr_fds)
{
	struct tdev *t = dev;
	uint32_t n = set->index < TDEV_NUM_IRQS && set->start < TDEV_MSIX_COUNT &&
	                     set->count <= TDEV_MSIX_COUNT - set->start
	                 ? set->count
	                 : 0;
	int ret = 0;

	lock(t);
	t->last_set = (struct tdev_irq_msg){.flags = set->flags,
	                                    .index = set->index,
	                                    .start = set->start,
	                                    .count = set->count,
	                                    .nr_fds = nr_fds};
	if (t->set_irqs_calls < TDEV_MAX_SETS)
		t->sets[t->set_irqs_calls] = t->last_set;
	t->set_irqs_calls++;
	if (set->index >= TDEV_NUM_IRQS || n != set->count) {
		ret = -EINVAL;
	} else if ((set->flags & VFIO_IRQ_SET_DATA_NONE) && set->count == 0) {
		for (uint32_t v = 0; v < TDEV_MSIX_COUNT; v++)
			irq_fd_set(t, set->index, v, -1);
	} else if (set->flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		for (uint32_t i = 0; i < n; i++)
			irq_fd_set(t, set->index, set->start + i, nr_fds ? fds[i] : -1);
		nr_fds = 0;
	} else if (set->flags & VFIO_IRQ_SET_DATA_BOOL) {
		for (uint32_t i = 0; data && i < n; i++)
			t->bools[set->start + i] = data[i];
	}
	unlock(t);
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
	case VFIO_PCI_BAR1_REGION_INDEX:
		base = t->bar1, size = TDEV_BAR1_SIZE;
		break;
	case VFIO_PCI_BAR2_REGION_INDEX:
		base = t->bar2, size = TDEV_BAR2_SIZE;
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
	int slow;

	lock(t);
	slow = region == VFIO_PCI_BAR0_REGION_INDEX && offset == TDEV_SLOW_OFF ? t->slow_ms : 0;
	t->nr_reads++;
	if (count > t->max_read)
		t->max_read = count;
	unlock(t);
	if (slow)
		sleep_ms(slow);
	lock(t);
	p = region_mem(t, region, offset, count);
	if (p)
		memcpy(buf, p, count);
	unlock(t);
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

/* From inside a callback: read client memory, change it, write it back. */
static int dma_cmd(struct tdev *t, const struct tdev_dma_cmd *cmd)
{
	struct vu_server_conn *conn = vu_server_current();
	uint8_t *buf;
	int delay, err;

	if (!conn || cmd->len > (64u << 20))
		return -EINVAL;
	lock(t);
	delay = t->dma_delay_ms;
	unlock(t);
	if (delay)
		sleep_ms(delay);
	buf = malloc(cmd->len ? cmd->len : 1);
	if (!buf)
		return -ENOMEM;
	err = vu_server_dma_read(conn, cmd->src, buf, cmd->len);
	for (uint64_t i = 0; !err && i < cmd->len; i++)
		buf[i]++;
	if (!err)
		err = vu_server_dma_write(conn, cmd->dst, buf, cmd->len);
	free(buf);
	lock(t);
	t->dma_err = err;
	unlock(t);
	return err;
}

static int td_region_write(void *dev, uint32_t region, uint64_t offset, const void *buf,
                           uint32_t count)
{
	struct tdev *t = dev;
	bool bar0 = region == VFIO_PCI_BAR0_REGION_INDEX;
	struct tdev_dma_cmd cmd;
	uint8_t *p;

	if (region == VFIO_PCI_ROM_REGION_INDEX)
		return -EINVAL;
	if (bar0 && offset == TDEV_DMA_CMD && count == sizeof(cmd)) {
		memcpy(&cmd, buf, sizeof(cmd));
		return dma_cmd(t, &cmd);
	}
	lock(t);
	while (t->gate_closed)
		pthread_cond_wait(&t->gate, &t->lock);
	t->region_writes++;
	p = region_mem(t, region, offset, count);
	if (p)
		memcpy(p, buf, count);
	unlock(t);
	if (p && bar0 && offset == TDEV_DMA_DOORBELL && count == 24)
		doorbell(t);
	return p ? 0 : -EINVAL;
}

static int td_dma_map(void *dev, const struct vfio_user_dma_map *map, int fd)
{
	struct tdev *t = dev;
	struct tdev_map m = {.iova = map->addr,
	                     .size = map->size,
	                     .flags = map->flags,
	                     .fd = fd >= 0,
	                     .fd_mode = -1};
	int ret = 0;

	if (fd >= 0) {
		m.fd_mode = fcntl(fd, F_GETFL) & O_ACCMODE;
		if (pread(fd, m.peek, sizeof(m.peek) - 1, (off_t)map->offset) < 0)
			ret = -errno;
		close(fd);
	}
	lock(t);
	t->map_calls++;
	for (unsigned int i = 0; i < t->nr_maps; i++) {
		if (map->addr < t->maps[i].iova + t->maps[i].size &&
		    t->maps[i].iova < map->addr + map->size)
			ret = -EEXIST;
	}
	if (ret == 0 && t->nr_maps == TDEV_MAX_MAPS)
		ret = -ENOSPC;
	if (ret == 0)
		t->maps[t->nr_maps++] = m;
	unlock(t);
	return ret;
}

static int td_dma_unmap(void *dev, const struct vfio_user_dma_unmap *unmap)
{
	struct tdev *t = dev;
	int ret = -ENOENT;

	lock(t);
	t->unmap_calls++;
	for (unsigned int i = 0; i < t->nr_maps; i++) {
		if (t->maps[i].iova == unmap->addr && t->maps[i].size == unmap->size) {
			t->maps[i] = t->maps[--t->nr_maps];
			ret = 0;
			break;
		}
	}
	unlock(t);
	return ret;
}

static int td_reset(void *dev)
{
	struct tdev *t = dev;

	lock(t);
	t->resets++;
	memset(t->bar0, 0, sizeof(t->bar0));
	unlock(t);
	return 0;
}

static void td_client_gone(void *dev)
{
	struct tdev *t = dev;

	lock(t);
	t->gone++;
	t->nr_maps = 0;
	irq_fds_drop(t);
	unlock(t);
}

const struct vu_server_ops tdev_ops = {
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

static void *td_listen(void *arg)
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
		vu_serve(fd, &tdev_ops, t, &opts, &t->stop);
	}
	return NULL;
}

int tdev_start(struct tdev *t, bool reset_flag, uint32_t max_dma_maps)
{
	static unsigned int seq;

	if (!t->path[0])
		snprintf(t->path, sizeof(t->path), "/tmp/vuc-tdev-%d-%u.sock", (int)getpid(),
		         __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
	t->reset_flag = reset_flag;
	t->max_dma_maps = max_dma_maps;
	t->stop = 0;
	t->listen_fd = vu_server_listen(t->path);
	if (t->listen_fd < 0)
		return t->listen_fd;
	return -pthread_create(&t->thread, NULL, td_listen, t);
}

void tdev_stop(struct tdev *t)
{
	t->stop = 1;
	pthread_join(t->thread, NULL);
	close(t->listen_fd);
	t->listen_fd = -1;
	unlink(t->path);
}

void tdev_gate(struct tdev *t, bool closed)
{
	lock(t);
	t->gate_closed = closed;
	pthread_cond_broadcast(&t->gate);
	unlock(t);
}

#define TDEV_SNAPSHOT(t, expr)                                                                     \
	({                                                                                         \
		__typeof__(expr) snap_;                                                            \
                                                                                                   \
		lock(t);                                                                           \
		snap_ = (expr);                                                                    \
		unlock(t);                                                                         \
		snap_;                                                                             \
	})

unsigned int tdev_region_writes(struct tdev *t)
{
	return TDEV_SNAPSHOT(t, t->region_writes);
}

unsigned int tdev_nr_maps(struct tdev *t)
{
	return TDEV_SNAPSHOT(t, t->nr_maps);
}

unsigned int tdev_region_info_calls(struct tdev *t, uint32_t index)
{
	return TDEV_SNAPSHOT(t, t->region_info_calls[index]);
}

unsigned int tdev_irq_info_calls(struct tdev *t, uint32_t index)
{
	return TDEV_SNAPSHOT(t, t->irq_info_calls[index]);
}

int tdev_irq_fd(struct tdev *t, uint32_t index, uint32_t vector)
{
	return TDEV_SNAPSHOT(t, t->irq_fds[index][vector]);
}

static void *tserver_main(void *arg)
{
	struct tserver *s = arg;

	s->ret = vu_serve(s->fd, &tdev_ops, s->dev, &s->opts, &s->stop);
	return NULL;
}

int tserver_start_fd_opts(struct tserver *s, struct tdev *d, const struct vu_server_opts *opts,
                          int fd)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->dev = d;
	s->opts = *opts;
	return -pthread_create(&s->th, NULL, tserver_main, s);
}

static void opts_from_caps(struct vu_server_opts *o, const struct vu_caps *caps)
{
	*o = (struct vu_server_opts){0};
	if (caps)
		o->caps = *caps;
	else
		vu_caps_default(&o->caps);
}

int tserver_start_fd(struct tserver *s, struct tdev *d, const struct vu_caps *caps, int fd)
{
	struct vu_server_opts o;

	opts_from_caps(&o, caps);
	return tserver_start_fd_opts(s, d, &o, fd);
}

int tserver_start_opts(struct tserver *s, struct tdev *d, const struct vu_server_opts *opts,
                       char *addr, size_t addrlen)
{
	int sv[2], err;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	err = tserver_start_fd_opts(s, d, opts, sv[0]);
	if (err) {
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	snprintf(addr, addrlen, "fd:%d", sv[1]);
	return 0;
}

int tserver_start(struct tserver *s, struct tdev *d, const struct vu_caps *caps, char *addr,
                  size_t addrlen)
{
	struct vu_server_opts o;

	opts_from_caps(&o, caps);
	return tserver_start_opts(s, d, &o, addr, addrlen);
}

int tserver_join(struct tserver *s)
{
	s->stop = 1;
	pthread_join(s->th, NULL);
	return s->ret;
}

int guest_dma(void *arg, uint16_t cmd, uint64_t addr, void *buf, uint64_t count)
{
	struct guest *g = arg;

	if (addr < GUEST_BASE || addr - GUEST_BASE > GUEST_SIZE ||
	    count > GUEST_SIZE - (addr - GUEST_BASE))
		return -EFAULT;
	if (cmd == VFIO_USER_DMA_READ) {
		memcpy(buf, g->mem + (addr - GUEST_BASE), count);
		g->reads++;
	} else {
		memcpy(g->mem + (addr - GUEST_BASE), buf, count);
		g->writes++;
	}
	return 0;
}
