/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "testdev.h"

static void lock(struct tdev *d)
{
	pthread_mutex_lock(&d->lock);
}

static void unlock(struct tdev *d)
{
	pthread_mutex_unlock(&d->lock);
}

void tdev_init(struct tdev *d)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->reg1 = calloc(1, TDEV_REG1_SIZE);
	d->reg2_fd = memfd_create("tdev-region2", MFD_CLOEXEC);
	if (d->reg2_fd >= 0 && write(d->reg2_fd, TDEV_REG2_TEXT, sizeof(TDEV_REG2_TEXT)) < 0) {
		close(d->reg2_fd);
		d->reg2_fd = -1;
	}
}

void tdev_fini(struct tdev *d)
{
	free(d->reg1);
	if (d->reg2_fd >= 0)
		close(d->reg2_fd);
	pthread_mutex_destroy(&d->lock);
}

static int dev_info(void *dev, struct vfio_user_device_info *info)
{
	info->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info->num_regions = 3;
	info->num_irqs = 2;
	return 0;
}

static size_t sparse_size(void)
{
	return sizeof(struct vfio_region_info_cap_sparse_mmap) +
	       TDEV_REG2_AREAS * sizeof(struct vfio_region_sparse_mmap_area);
}

static int region_info(void *dev, uint32_t index, void *buf, size_t *len, int *fd)
{
	struct tdev *d = dev;
	struct vfio_user_region_info *ri = buf;
	struct vfio_region_info_cap_sparse_mmap *sp;
	size_t need = sizeof(*ri);
	size_t room = *len;

	if (index > 2)
		return -EINVAL;
	ri->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	ri->size = index == 0 ? TDEV_REG0_SIZE : index == 1 ? TDEV_REG1_SIZE : 4096;
	ri->offset = (uint64_t)index << 40;
	if (index == 2) {
		need += sparse_size();
		*fd = d->reg2_fd;
	}
	*len = need;
	if (index != 2 || need > room)
		return 0;
	ri->flags |= VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
	ri->cap_offset = sizeof(*ri);
	sp = (void *)(ri + 1);
	sp->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
	sp->header.version = 1;
	sp->header.next = 0;
	sp->nr_areas = TDEV_REG2_AREAS;
	for (unsigned i = 0; i < TDEV_REG2_AREAS; i++) {
		sp->areas[i].offset = i * 128;
		sp->areas[i].size = 64;
	}
	return 0;
}

static int irq_info(void *dev, uint32_t index, struct vfio_user_irq_info *info)
{
	if (index > 1)
		return -EINVAL;
	info->flags = VFIO_IRQ_INFO_EVENTFD;
	info->count = index == 0 ? 1 : TDEV_NR_IRQS;
	return 0;
}

static int set_irqs(void *dev, const struct vfio_user_irq_set *set, const uint8_t *data, int *fds,
                    size_t nr_fds)
{
	struct tdev *d = dev;

	lock(d);
	if (d->nr_irqs < sizeof(d->irqs) / sizeof(d->irqs[0]))
		d->irqs[d->nr_irqs++] = (struct tdev_irq_msg){
		    .flags = set->flags,
		    .start = set->start,
		    .count = set->count,
		    .nr_fds = nr_fds,
		};
	for (uint32_t i = 0; data && i < set->count && set->start + i < TDEV_NR_IRQS; i++)
		d->bools[set->start + i] = data[i];
	unlock(d);
	/* Tell each eventfd which vector it was given to. */
	for (size_t i = 0; i < nr_fds; i++) {
		if (eventfd_write(fds[i], set->start + i + 1) < 0)
			break;
	}
	for (size_t i = 0; i < nr_fds; i++)
		close(fds[i]);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int region_read(void *dev, uint32_t region, uint64_t offset, void *buf, uint32_t count)
{
	struct tdev *d = dev;
	uint64_t size = region == 0 ? TDEV_REG0_SIZE : TDEV_REG1_SIZE;
	int slow;

	if (region > 1 || offset > size || count > size - offset)
		return -EINVAL;
	lock(d);
	slow = region == 0 && offset == TDEV_SLOW_OFF ? d->slow_ms : 0;
	d->nr_reads++;
	if (count > d->max_read)
		d->max_read = count;
	unlock(d);
	if (slow)
		sleep_ms(slow);
	lock(d);
	memcpy(buf, (region == 0 ? d->reg0 : d->reg1) + offset, count);
	unlock(d);
	return 0;
}

/* From inside a callback: read client memory, change it, write it back. */
static int dma_cmd(struct tdev *d, const struct tdev_dma_cmd *cmd)
{
	struct vu_server_conn *conn = vu_server_current();
	uint8_t *buf;
	int delay, err;

	if (!conn || cmd->len > (64u << 20))
		return -EINVAL;
	lock(d);
	delay = d->dma_delay_ms;
	unlock(d);
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
	lock(d);
	d->dma_err = err;
	unlock(d);
	return err;
}

static int region_write(void *dev, uint32_t region, uint64_t offset, const void *buf,
                        uint32_t count)
{
	struct tdev *d = dev;
	uint64_t size = region == 0 ? TDEV_REG0_SIZE : TDEV_REG1_SIZE;
	struct tdev_dma_cmd cmd;

	if (region > 1 || offset > size || count > size - offset)
		return -EINVAL;
	if (region == 0 && offset == TDEV_DMA_OFF && count == sizeof(cmd)) {
		memcpy(&cmd, buf, sizeof(cmd));
		return dma_cmd(d, &cmd);
	}
	lock(d);
	memcpy((region == 0 ? d->reg0 : d->reg1) + offset, buf, count);
	unlock(d);
	return 0;
}

static int dma_map(void *dev, const struct vfio_user_dma_map *map, int fd)
{
	struct tdev *d = dev;
	ssize_t n = 0;

	lock(d);
	d->maps++;
	d->map_iova = map->addr;
	d->map_size = map->size;
	memset(d->map_peek, 0, sizeof(d->map_peek));
	if (fd >= 0)
		n = pread(fd, d->map_peek, sizeof(d->map_peek) - 1, (off_t)map->offset);
	unlock(d);
	if (fd >= 0)
		close(fd);
	return n < 0 ? -errno : 0;
}

static int dma_unmap(void *dev, const struct vfio_user_dma_unmap *unmap)
{
	struct tdev *d = dev;

	lock(d);
	d->unmaps++;
	unlock(d);
	return unmap->addr == d->map_iova ? 0 : -ENOENT;
}

static int reset(void *dev)
{
	struct tdev *d = dev;

	lock(d);
	d->resets++;
	unlock(d);
	return 0;
}

static void client_gone(void *dev)
{
	struct tdev *d = dev;

	lock(d);
	d->gone++;
	unlock(d);
}

const struct vu_server_ops tdev_ops = {
    .device_info = dev_info,
    .region_info = region_info,
    .irq_info = irq_info,
    .set_irqs = set_irqs,
    .region_read = region_read,
    .region_write = region_write,
    .dma_map = dma_map,
    .dma_unmap = dma_unmap,
    .reset = reset,
    .client_gone = client_gone,
};

static void *serve_main(void *arg)
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
	return -pthread_create(&s->th, NULL, serve_main, s);
}

int tserver_start_fd(struct tserver *s, struct tdev *d, const struct vu_caps *caps, int fd)
{
	struct vu_server_opts o = {0};

	if (caps)
		o.caps = *caps;
	else
		vu_caps_default(&o.caps);
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
	struct vu_server_opts o = {0};

	if (caps)
		o.caps = *caps;
	else
		vu_caps_default(&o.caps);
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

static void logbuf_fn(void *arg, enum vu_log_level lvl, const char *line)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	struct logbuf *lb = arg;
	size_t room;
	int n;

	pthread_mutex_lock(&lb->lock);
	room = sizeof(lb->text) - lb->len;
	n = snprintf(lb->text + lb->len, room, "%s: %s\n", names[lvl], line);
	if (n > 0 && (size_t)n < room)
		lb->len += (size_t)n;
	else
		lb->text[lb->len] = '\0';
	pthread_mutex_unlock(&lb->lock);
}

void logbuf_init(struct logbuf *lb)
{
	memset(lb, 0, sizeof(*lb));
	pthread_mutex_init(&lb->lock, NULL);
	lb->log = (struct vu_log){.level = VU_LOG_DEBUG, .fn = logbuf_fn, .arg = lb};
}

bool logbuf_has(struct logbuf *lb, const char *needle)
{
	bool found;

	pthread_mutex_lock(&lb->lock);
	found = strstr(lb->text, needle) != NULL;
	pthread_mutex_unlock(&lb->lock);
	return found;
}
