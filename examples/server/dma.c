// SPDX-License-Identifier: MIT
/*
 * Client memory and the DMA engine. A DMA_MAP with an fd is mmap'd here and
 * reached by memcpy; one without an fd is reached by DMA_READ/DMA_WRITE
 * messages. A client may shrink a shared file under us: touching the lost
 * pages raises SIGBUS, which the copy catches and turns into an error rather
 * than dying.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device.h"

/* volatile: the stores around memcpy must happen, though nothing in this
 * function reads them back. */
static __thread sigjmp_buf *volatile bus_jmp;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (bus_jmp)
		siglongjmp(*bus_jmp, 1);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

static int guarded_copy(void *dst, const void *src, size_t len)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 1)) {
		bus_jmp = NULL;
		return -EFAULT;
	}
	bus_jmp = &jb;
	memcpy(dst, src, len);
	bus_jmp = NULL;
	return 0;
}

void exdev_dma_init(struct exdev_dma *dma, size_t max)
{
	struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};

	memset(dma, 0, sizeof(*dma));
	dma->max = max;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/* Last bytes, not ends: a mapping may end at the last IOVA byte, where
 * iova + size is 0. Sizes are never 0. */
static bool overlaps(const struct exdev_dma_map *m, uint64_t iova, uint64_t size)
{
	return iova <= m->iova + (m->size - 1) && m->iova <= iova + (size - 1);
}

static int map_fd(struct exdev *d, struct exdev_dma_map *m, int fd, uint64_t offset)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t delta = offset % pg;
	int prot = 0;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < offset ||
	    (uint64_t)st.st_size - offset < m->size) {
		vu_log(d->log, VU_LOG_WARN,
		       "DMA map: fd is not a file holding 0x%llx bytes at offset 0x%llx",
		       (unsigned long long)m->size, (unsigned long long)offset);
		return -EINVAL;
	}
	if (m->flags & VFIO_USER_F_DMA_REGION_READ)
		prot |= PROT_READ;
	if (m->flags & VFIO_USER_F_DMA_REGION_WRITE)
		prot |= PROT_WRITE;
	m->mem_len = m->size + delta;
	m->mem = mmap(NULL, m->mem_len, prot, MAP_SHARED, fd, offset - delta);
	if (m->mem == MAP_FAILED) {
		int err = -errno;

		vu_log(d->log, VU_LOG_WARN, "DMA map: mmap of the client's fd: %s", strerror(-err));
		m->mem = NULL;
		return err;
	}
	m->base = (uint8_t *)m->mem + delta;
	return 0;
}

static int check_map(struct exdev *d, const struct vfio_user_dma_map *map)
{
	const uint32_t rw = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	size_t i;

	/* As VFIO type1: some access, no unknown flag, a range that fits. */
	if (!(map->flags & rw) || (map->flags & ~rw) || !map->size ||
	    map->addr + (map->size - 1) < map->addr) {
		vu_log(d->log, VU_LOG_WARN, "DMA map: bad flags 0x%x or range 0x%llx+0x%llx",
		       map->flags, (unsigned long long)map->addr, (unsigned long long)map->size);
		return -EINVAL;
	}
	for (i = 0; i < d->dma.nr; i++) {
		if (overlaps(&d->dma.maps[i], map->addr, map->size)) {
			vu_log(d->log, VU_LOG_WARN, "DMA map: 0x%llx+0x%llx overlaps a mapping",
			       (unsigned long long)map->addr, (unsigned long long)map->size);
			return -EEXIST;
		}
	}
	if (d->dma.nr >= d->dma.max) {
		vu_log(d->log, VU_LOG_WARN, "DMA map: already %zu mappings", d->dma.nr);
		return -ENOSPC;
	}
	return 0;
}

static int grow(struct exdev_dma *dma)
{
	size_t cap = dma->cap ? dma->cap * 2 : 16;
	struct exdev_dma_map *maps;

	if (dma->nr < dma->cap)
		return 0;
	maps = realloc(dma->maps, cap * sizeof(*maps));
	if (!maps)
		return -ENOMEM;
	dma->maps = maps;
	dma->cap = cap;
	return 0;
}

int exdev_dma_map(void *dev, const struct vfio_user_dma_map *map, int fd)
{
	struct exdev *d = dev;
	struct exdev_dma_map m = {.iova = map->addr, .size = map->size, .flags = map->flags};
	int err;

	err = check_map(d, map);
	if (!err)
		err = grow(&d->dma);
	if (!err && fd >= 0)
		err = map_fd(d, &m, fd, map->offset);
	if (fd >= 0)
		close(fd); /* our mapping, if any, keeps the memory */
	if (err)
		return err;
	d->dma.maps[d->dma.nr++] = m;
	vu_log(d->log, VU_LOG_DEBUG, "DMA map 0x%llx+0x%llx %s", (unsigned long long)m.iova,
	       (unsigned long long)m.size, m.base ? "by fd" : "by message");
	return 0;
}

static void drop(struct exdev_dma *dma, size_t i)
{
	if (dma->maps[i].mem)
		munmap(dma->maps[i].mem, dma->maps[i].mem_len);
	dma->maps[i] = dma->maps[--dma->nr];
}

void exdev_dma_unmap_all(struct exdev *d)
{
	while (d->dma.nr)
		drop(&d->dma, d->dma.nr - 1);
}

int exdev_dma_unmap(void *dev, const struct vfio_user_dma_unmap *unmap)
{
	struct exdev *d = dev;
	size_t i;

	if (unmap->flags & VFIO_USER_F_DMA_UNMAP_GET_DIRTY_BITMAP) {
		vu_log(d->log, VU_LOG_WARN, "DMA unmap: no dirty page tracking here");
		return -ENOTSUP;
	}
	if (unmap->flags & ~VFIO_USER_F_DMA_UNMAP_ALL) {
		vu_log(d->log, VU_LOG_WARN, "DMA unmap: unknown flags 0x%x", unmap->flags);
		return -EINVAL;
	}
	if (unmap->flags & VFIO_USER_F_DMA_UNMAP_ALL) {
		if (unmap->addr || unmap->size) {
			vu_log(d->log, VU_LOG_WARN, "DMA unmap all: address and size must be 0");
			return -EINVAL;
		}
		exdev_dma_unmap_all(d);
		return 0;
	}
	for (i = 0; i < d->dma.nr; i++) {
		if (d->dma.maps[i].iova == unmap->addr && d->dma.maps[i].size == unmap->size) {
			drop(&d->dma, i);
			return 0;
		}
	}
	vu_log(d->log, VU_LOG_WARN, "DMA unmap: no mapping 0x%llx+0x%llx",
	       (unsigned long long)unmap->addr, (unsigned long long)unmap->size);
	return -ENOENT;
}

/* The mapping holding iova with the access we need, and how much of it is left. */
static const struct exdev_dma_map *find(const struct exdev *d, uint64_t iova, uint32_t need,
                                        uint64_t *avail)
{
	size_t i;

	for (i = 0; i < d->dma.nr; i++) {
		const struct exdev_dma_map *m = &d->dma.maps[i];

		if (iova >= m->iova && iova - m->iova < m->size) {
			if ((m->flags & need) != need)
				return NULL;
			*avail = m->size - (iova - m->iova);
			return m;
		}
	}
	return NULL;
}

/* One direction of client memory access, piece by piece across mappings. */
static int dma_access(struct exdev *d, uint64_t iova, uint8_t *buf, size_t len, bool write)
{
	uint32_t need = write ? VFIO_USER_F_DMA_REGION_WRITE : VFIO_USER_F_DMA_REGION_READ;

	/* Like a real device, no access to client memory unless the driver
	 * turned bus mastering on (copies within BAR2 need none). */
	if (len && !exdev_config_bus_master(d)) {
		vu_log(d->log, VU_LOG_WARN, "DMA: bus master is off in the command register");
		return -EACCES;
	}
	/* Past the last IOVA byte there is nothing, not IOVA 0. */
	if (len && iova + (len - 1) < iova) {
		vu_log(d->log, VU_LOG_WARN, "DMA: 0x%llx+0x%zx runs past the last IOVA",
		       (unsigned long long)iova, len);
		return -EFAULT;
	}
	while (len) {
		uint64_t avail = 0;
		const struct exdev_dma_map *m = find(d, iova, need, &avail);
		size_t n = len < avail ? len : avail;
		int err;

		if (!m) {
			vu_log(d->log, VU_LOG_WARN, "DMA: IOVA 0x%llx not mapped for %s",
			       (unsigned long long)iova, write ? "write" : "read");
			return -EFAULT;
		}
		if (m->base && write)
			err = guarded_copy(m->base + (iova - m->iova), buf, n);
		else if (m->base)
			err = guarded_copy(buf, m->base + (iova - m->iova), n);
		else if (!vu_server_current())
			err = -ENOTCONN;
		else if (write)
			err = vu_server_dma_write(vu_server_current(), iova, buf, n);
		else
			err = vu_server_dma_read(vu_server_current(), iova, buf, n);
		if (err) {
			vu_log(d->log, VU_LOG_WARN, "DMA: %s of %zu bytes at IOVA 0x%llx: %s",
			       write ? "write" : "read", n, (unsigned long long)iova,
			       strerror(-err));
			return err;
		}
		iova += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int exdev_dma_read(struct exdev *d, uint64_t iova, void *buf, size_t len)
{
	return dma_access(d, iova, buf, len, false);
}

int exdev_dma_write(struct exdev *d, uint64_t iova, const void *buf, size_t len)
{
	return dma_access(d, iova, (uint8_t *)buf, len, true);
}

static int bar2_range(struct exdev *d, uint64_t off, uint32_t len)
{
	if (off > EXDEV_BAR2_SIZE || len > EXDEV_BAR2_SIZE - off) {
		vu_log(d->log, VU_LOG_WARN, "DMA: BAR2 offset 0x%llx + %u out of range",
		       (unsigned long long)off, len);
		return -EINVAL;
	}
	return 0;
}

static int dma_copy(struct exdev *d, uint32_t cmd, uint8_t *buf)
{
	const struct exdev_regs *r = &d->regs;
	int err;

	if (cmd & EXDEV_DMA_CMD_SRC_BAR2) {
		err = bar2_range(d, r->dma_src, r->dma_len);
		if (!err)
			memcpy(buf, d->bar2 + r->dma_src, r->dma_len);
	} else {
		err = exdev_dma_read(d, r->dma_src, buf, r->dma_len);
	}
	if (err)
		return err;
	if (cmd & EXDEV_DMA_CMD_DST_BAR2) {
		err = bar2_range(d, r->dma_dst, r->dma_len);
		if (!err)
			memcpy(d->bar2 + r->dma_dst, buf, r->dma_len);
		return err;
	}
	return exdev_dma_write(d, r->dma_dst, buf, r->dma_len);
}

/* The doorbell: copy, report in STATUS and DMA_COUNT, then interrupt. */
void exdev_dma_run(struct exdev *d, uint32_t cmd)
{
	const uint32_t known = EXDEV_DMA_CMD_GO | EXDEV_DMA_CMD_SRC_BAR2 | EXDEV_DMA_CMD_DST_BAR2;
	struct exdev_regs *r = &d->regs;
	uint8_t *buf = NULL;
	int err = -EINVAL;

	r->status &= ~(EXDEV_STATUS_DMA_DONE | EXDEV_STATUS_DMA_ERROR);
	if ((cmd & ~known) || !r->dma_len || r->dma_len > EXDEV_DMA_MAX_LEN)
		vu_log(d->log, VU_LOG_WARN, "DMA: bad command 0x%x or length %u", cmd, r->dma_len);
	else if (!(buf = malloc(r->dma_len)))
		err = -ENOMEM;
	else
		err = dma_copy(d, cmd, buf);
	free(buf);
	if (err) {
		r->status |= EXDEV_STATUS_DMA_ERROR;
	} else {
		r->status |= EXDEV_STATUS_DMA_DONE;
		r->dma_count++;
	}
	if (r->irq_ctrl & EXDEV_IRQ_CTRL_ON_DMA)
		exdev_irq_raise(d, r->irq_vector);
}
