// SPDX-License-Identifier: MIT
/*
 * The DMA table and VFIO_IOMMU_MAP_DMA / UNMAP_DMA, validated as
 * drivers/vfio/vfio_iommu_type1.c does (vfio_dma_do_map, vfio_dma_do_unmap).
 *
 * Memory with a shareable file behind it goes to the server with that file's
 * fd, so the server touches it directly; other memory goes without an fd and
 * the server reads and writes it by message, which dma_access answers by
 * copying from or to the process that mapped it. Our copy of each fd is
 * closed once the server has its own: nothing taken from the process
 * outlives the request, except the pin (host.h) each entry holds on the
 * process that mapped it: messages reach that process's memory through the
 * pin, never by pid, so a pid reused after the owner died (a forked child
 * keeps the node open, or release is still under way) never exposes another
 * process.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vdev-internal.h"

void dma_table_init(struct dma_table *t)
{
	memset(t, 0, sizeof(*t));
	pthread_rwlock_init(&t->lock, NULL);
}

static void entry_free(struct dma_entry *e)
{
	if (e->pin >= 0)
		close(e->pin);
	free(e->pieces);
	free(e);
}

void dma_table_fini(struct dma_table *t)
{
	dma_forget_all(t);
	free(t->v);
	pthread_rwlock_destroy(&t->lock);
}

size_t dma_table_pieces(struct dma_table *t)
{
	size_t n;

	pthread_rwlock_rdlock(&t->lock);
	n = t->pieces;
	pthread_rwlock_unlock(&t->lock);
	return n;
}

static uint64_t entry_end(const struct dma_entry *e)
{
	return e->iova + e->size; /* never wraps: map refuses that */
}

/* Index of the first entry ending after iova (t->n if none). */
static size_t table_find(const struct dma_table *t, uint64_t iova)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (entry_end(t->v[mid]) <= iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The entry holding iova, or NULL. */
static struct dma_entry *table_lookup(const struct dma_table *t, uint64_t iova)
{
	size_t i = table_find(t, iova);

	if (i < t->n && t->v[i]->iova <= iova)
		return t->v[i];
	return NULL;
}

/* Whether [iova, iova + size) meets any entry; size > 0. */
static bool table_overlaps(const struct dma_table *t, uint64_t iova, uint64_t size)
{
	size_t i = table_find(t, iova);

	return i < t->n && t->v[i]->iova <= iova + size - 1;
}

static int table_insert(struct dma_table *t, struct dma_entry *e)
{
	size_t i;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct dma_entry **v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	i = table_find(t, e->iova);
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(*t->v));
	t->v[i] = e;
	t->n++;
	t->pieces += e->nr_pieces;
	return 0;
}

static void table_remove(struct dma_table *t, struct dma_entry *e)
{
	size_t i = table_find(t, e->iova);

	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
	t->n--;
	t->pieces -= e->nr_pieces;
}

static uint64_t min_pgsize(const struct vconn *c)
{
	uint64_t p = c->caps.pgsizes;

	return p ? p & -p : 4096;
}

/* Pieces under construction, with the fds that go with them. */
struct pieces {
	struct dma_piece *v;
	int *fds;
	size_t n;
};

static void pieces_close(struct pieces *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->fds[i] >= 0)
			close(p->fds[i]);
	}
	free(p->fds);
	p->fds = NULL;
}

static int pieces_add(struct pieces *p, uint64_t iova, uint64_t size, int fd, uint64_t file_off)
{
	struct dma_piece *v;
	int *fds;

	/* Neighbouring pieces without a file are one piece to the server. */
	if (fd < 0 && p->n && p->fds[p->n - 1] < 0) {
		p->v[p->n - 1].size += size;
		return 0;
	}
	v = realloc(p->v, (p->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->v = v;
	fds = realloc(p->fds, (p->n + 1) * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	p->fds = fds;
	p->v[p->n] = (struct dma_piece){
	    .iova = iova, .size = size, .fd_backed = fd >= 0, .file_off = file_off};
	p->fds[p->n++] = fd;
	return 0;
}

/*
 * The access of the fd a piece goes to the server with: what the device was
 * granted, so a READ mapping gives a read-only fd. A write-only mapping goes
 * by messages: an fd cannot be mapped write-only, and read access was not
 * granted. So does everything when fds cannot cross or must not be shared.
 */
static enum host_fd_access piece_fd_access(const struct vdev *d, bool pass_fds, uint32_t prot)
{
	if (!pass_fds || d->dma_by_message || !(prot & VFIO_DMA_MAP_FLAG_READ))
		return HOST_FD_NONE;
	return prot & VFIO_DMA_MAP_FLAG_WRITE ? HOST_FD_RDWR : HOST_FD_READ;
}

/*
 * Split [vaddr, vaddr + size) along the process's mappings. Every byte must
 * be mapped with the access the device was granted (type1 pins the pages
 * and fails with EFAULT otherwise).
 */
static int pieces_build(struct vdev *d, bool pass_fds, pid_t pid, uint64_t vaddr, uint64_t iova,
                        uint64_t size, uint32_t prot, struct pieces *p)
{
	enum host_fd_access access = piece_fd_access(d, pass_fds, prot);
	uint64_t off = 0;

	while (off < size) {
		struct host_mapping m;
		uint64_t len;
		int ret = d->host.ops->mapping(d->host.ctx, pid, vaddr + off, access, &m);

		if (ret == 0 && (m.start > vaddr + off || m.end <= vaddr + off)) {
			if (m.fd >= 0)
				close(m.fd);
			ret = -EFAULT;
		}
		if (ret < 0) {
			vdev_log(d, VU_LOG_INFO, "MAP_DMA: vaddr 0x%llx of pid %d is not mapped",
			         (unsigned long long)(vaddr + off), (int)pid);
			return ret;
		}
		if (((prot & VFIO_DMA_MAP_FLAG_READ) && !m.readable) ||
		    ((prot & VFIO_DMA_MAP_FLAG_WRITE) && !m.writable)) {
			vdev_log(d, VU_LOG_INFO,
			         "MAP_DMA: vaddr 0x%llx of pid %d lacks the access asked (%s%s)",
			         (unsigned long long)(vaddr + off), (int)pid,
			         prot & VFIO_DMA_MAP_FLAG_READ ? "r" : "",
			         prot & VFIO_DMA_MAP_FLAG_WRITE ? "w" : "");
			if (m.fd >= 0)
				close(m.fd);
			return -EFAULT;
		}
		len = m.end - (vaddr + off);
		if (len > size - off)
			len = size - off;
		ret = pieces_add(p, iova + off, len, m.fd, m.file_off + (vaddr + off - m.start));
		if (ret < 0) {
			if (m.fd >= 0)
				close(m.fd);
			return ret;
		}
		off += len;
	}
	return 0;
}

static uint32_t server_prot(uint32_t prot)
{
	return (prot & VFIO_DMA_MAP_FLAG_READ ? VFIO_USER_F_DMA_REGION_READ : 0) |
	       (prot & VFIO_DMA_MAP_FLAG_WRITE ? VFIO_USER_F_DMA_REGION_WRITE : 0);
}

/* Unmap the first n pieces of e with the server; the first error wins. */
static int pieces_unmap(struct vdev *d, struct vconn *c, const struct vreq *r,
                        const struct dma_entry *e, size_t n)
{
	struct vu_call_opts o = vdev_call_opts(d, r);
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		const struct dma_piece *p = &e->pieces[i];
		int ret = vu_dma_unmap(c->c, &o, p->iova, p->size, 0);

		if (ret < 0) {
			vdev_log(d, VU_LOG_WARN, "DMA_UNMAP iova 0x%llx size 0x%llx: %s",
			         (unsigned long long)p->iova, (unsigned long long)p->size,
			         strerror(-ret));
			if (!err)
				err = vdev_errno(d, ret);
		}
	}
	return err;
}

static int pieces_map(struct vdev *d, struct vconn *c, const struct vreq *r, struct dma_entry *e,
                      const int *fds)
{
	struct vu_call_opts o = vdev_call_opts(d, r);

	for (size_t i = 0; i < e->nr_pieces; i++) {
		const struct dma_piece *p = &e->pieces[i];
		int ret = vu_dma_map(c->c, &o, p->iova, p->size, server_prot(e->prot), fds[i],
		                     fds[i] >= 0 ? p->file_off : 0);

		if (ret < 0) {
			vdev_log(d, VU_LOG_INFO, "DMA_MAP iova 0x%llx size 0x%llx: %s",
			         (unsigned long long)p->iova, (unsigned long long)p->size,
			         strerror(-ret));
			pieces_unmap(d, c, r, e, i);
			return vdev_errno(d, ret);
		}
		vdev_log(d, VU_LOG_INFO, "DMA_MAP iova 0x%llx size 0x%llx vaddr 0x%llx: %s",
		         (unsigned long long)p->iova, (unsigned long long)p->size,
		         (unsigned long long)(e->vaddr + (p->iova - e->iova)),
		         p->fd_backed ? "shared by fd" : "served by message");
	}
	return 0;
}

/* Count e's pieces against the server's limit on mappings. */
static int pieces_account(struct vdev *d, struct vconn *c, struct dma_entry *e, size_t n)
{
	struct dma_table *t = &d->dma;
	int ret = 0;

	pthread_rwlock_wrlock(&t->lock);
	if (t->pieces + n > c->caps.max_dma_maps) {
		vdev_log(
		    d, VU_LOG_INFO,
		    "MAP_DMA: %zu pieces do not fit: the server allows %u mappings, %zu in use", n,
		    c->caps.max_dma_maps, t->pieces);
		ret = -ENOSPC;
	} else {
		e->nr_pieces = n;
		t->pieces += n;
	}
	pthread_rwlock_unlock(&t->lock);
	return ret;
}

static int map_check(const struct vdev *d, const struct vconn *c,
                     const struct vfio_iommu_type1_dma_map *m)
{
	uint64_t pgsize = min_pgsize(c);
	uint32_t prot = m->flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	bool set_vaddr = m->flags & VFIO_DMA_MAP_FLAG_VADDR;

	if (!!prot == set_vaddr)
		return -EINVAL;
	if (!m->size || ((m->size | m->iova | m->vaddr) & (pgsize - 1)))
		return -EINVAL;
	if (m->iova + m->size - 1 < m->iova || m->vaddr + m->size - 1 < m->vaddr)
		return -EINVAL;
	return 0;
}

/*
 * Reserve the IOVA range (the entry is busy until the server has it), so a
 * concurrent map of the same range fails with EEXIST as type1 would. Checked
 * in type1's order: overlap, room, IOVA range, then (pieces_build) the
 * memory.
 */
static int map_reserve(struct vdev *d, struct vconn *c, const struct vfio_iommu_type1_dma_map *m,
                       struct dma_entry *e)
{
	struct dma_table *t = &d->dma;
	int ret = 0;

	pthread_rwlock_wrlock(&t->lock);
	if (m->flags & VFIO_DMA_MAP_FLAG_VADDR) {
		/* Nothing here ever has its vaddr invalidated (UNMAP_DMA with
		 * FLAG_VADDR is refused), so type1 answers as below. */
		ret = table_overlaps(t, m->iova, m->size) ? -EINVAL : -ENOENT;
	} else if (table_overlaps(t, m->iova, m->size)) {
		ret = -EEXIST;
	} else if (t->pieces >= c->caps.max_dma_maps) {
		vdev_log(d, VU_LOG_INFO, "MAP_DMA: the server allows %u mappings, all in use",
		         c->caps.max_dma_maps);
		ret = -ENOSPC;
	} else if (m->iova + m->size - 1 > DMA_IOVA_LAST) {
		vdev_log(d, VU_LOG_INFO, "MAP_DMA: iova 0x%llx size 0x%llx: past the IOVA range",
		         (unsigned long long)m->iova, (unsigned long long)m->size);
		ret = -EINVAL;
	} else {
		ret = table_insert(t, e);
	}
	pthread_rwlock_unlock(&t->lock);
	return ret;
}

/*
 * Pin the caller before its memory is looked up by pid, so the mappings
 * validated belong to the pinned process or, had it died in between, the
 * pin refuses every access. What stays open: the caller killed while
 * blocked in this request and its pid reused before the pin is taken, a
 * window every by-pid step of a request shares.
 */
static int entry_pin(struct vdev *d, const struct vreq *r, struct dma_entry *e)
{
	int pin = d->host.ops->pin(d->host.ctx, r->pid);

	if (pin < 0) {
		vdev_log(d, VU_LOG_INFO, "MAP_DMA: cannot pin pid %d: %s", (int)r->pid,
		         strerror(-pin));
		return pin;
	}
	e->pin = pin;
	return 0;
}

int dma_map(struct vdev *d, struct vconn *c, const struct vreq *r,
            const struct vfio_iommu_type1_dma_map *m)
{
	struct pieces p = {0};
	struct dma_entry *e;
	int ret = map_check(d, c, m);

	if (ret < 0)
		return ret;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*e = (struct dma_entry){.iova = m->iova,
	                        .size = m->size,
	                        .vaddr = m->vaddr,
	                        .prot =
	                            m->flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
	                        .pid = r->pid,
	                        .pin = -1,
	                        .busy = true};
	ret = map_reserve(d, c, m, e);
	if (ret < 0)
		goto out;
	ret = entry_pin(d, r, e);
	if (ret == 0)
		ret = pieces_build(d, vu_client_can_pass_fds(c->c), r->pid, m->vaddr, m->iova,
		                   m->size, e->prot, &p);
	e->pieces = p.v;
	if (ret == 0)
		ret = pieces_account(d, c, e, p.n);
	if (ret == 0)
		ret = pieces_map(d, c, r, e, p.fds);
	pthread_rwlock_wrlock(&d->dma.lock);
	if (ret < 0)
		table_remove(&d->dma, e);
	else
		e->busy = false;
	pthread_rwlock_unlock(&d->dma.lock);
	if (ret == 0)
		e = NULL;
out:
	pieces_close(&p);
	if (e)
		entry_free(e);
	return ret;
}

static int unmap_check(const struct vconn *c, struct vfio_iommu_type1_dma_unmap *u, uint64_t *size)
{
	uint64_t pgsize = min_pgsize(c);

	if (u->iova & (pgsize - 1))
		return -EINVAL;
	if (u->flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		if (u->iova || u->size)
			return -EINVAL;
		*size = UINT64_MAX;
		return 0;
	}
	if (!u->size || (u->size & (pgsize - 1)) || u->iova + u->size - 1 < u->iova)
		return -EINVAL;
	*size = u->size;
	return 0;
}

/*
 * Take the entries [iova, iova + size) removes out of the table's reach
 * (busy) into *out, as vfio_dma_do_unmap picks them: TYPE1v2 refuses a range
 * that splits a mapping; TYPE1 stops at a mapping starting before iova.
 */
static int unmap_pick(struct dma_table *t, uint64_t iova, uint64_t size, bool v2, bool all,
                      struct dma_entry ***out, size_t *nr, uint64_t *bytes)
{
	struct dma_entry *e, **v = NULL;
	size_t i, n = 0;

	*bytes = 0;
	if (v2 && !all) {
		e = table_lookup(t, iova);
		if (e && e->iova != iova)
			return -EINVAL;
		e = table_lookup(t, iova + size - 1);
		if (e && entry_end(e) != iova + size)
			return -EINVAL;
	}
	for (i = table_find(t, iova); i < t->n; i++) {
		e = t->v[i];
		if (e->iova > iova + size - 1 || (!v2 && iova > e->iova))
			break;
		if (e->busy)
			continue;
		if (!v || (n & (n - 1)) == 0) {
			struct dma_entry **nv = realloc(v, (n ? 2 * n : 1) * sizeof(*nv));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = e;
	}
	for (i = 0; i < n; i++) {
		v[i]->busy = true;
		*bytes += v[i]->size;
	}
	*out = v;
	*nr = n;
	return 0;
}

/* Unmap the picked entries with the server and drop them. */
static int unmap_entries(struct vdev *d, struct vconn *c, const struct vreq *r,
                         struct dma_entry **v, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		int ret = pieces_unmap(d, c, r, v[i], v[i]->nr_pieces);

		if (ret < 0 && !err)
			err = ret;
	}
	pthread_rwlock_wrlock(&d->dma.lock);
	for (size_t i = 0; i < n; i++)
		table_remove(&d->dma, v[i]);
	pthread_rwlock_unlock(&d->dma.lock);
	for (size_t i = 0; i < n; i++)
		entry_free(v[i]);
	free(v);
	return err;
}

int dma_unmap(struct vdev *d, struct vconn *c, const struct vreq *r,
              struct vfio_iommu_type1_dma_unmap *u, bool v2)
{
	struct dma_entry **v = NULL;
	uint64_t size, bytes = 0;
	size_t n = 0;
	int ret = unmap_check(c, u, &size);

	if (ret == 0) {
		pthread_rwlock_wrlock(&d->dma.lock);
		ret = unmap_pick(&d->dma, u->iova, size, v2, u->flags & VFIO_DMA_UNMAP_FLAG_ALL, &v,
		                 &n, &bytes);
		pthread_rwlock_unlock(&d->dma.lock);
	}
	if (ret == 0)
		ret = unmap_entries(d, c, r, v, n);
	u->size = bytes;
	return ret;
}

void dma_unmap_all(struct vdev *d, struct vconn *c)
{
	struct vreq r = {0};
	struct dma_entry **v = NULL;
	uint64_t bytes;
	size_t n = 0;
	int ret;

	pthread_rwlock_wrlock(&d->dma.lock);
	ret = unmap_pick(&d->dma, 0, UINT64_MAX, true, true, &v, &n, &bytes);
	pthread_rwlock_unlock(&d->dma.lock);
	if (ret == 0 && n) {
		vdev_log(d, VU_LOG_INFO, "release: unmapping %zu DMA mappings", n);
		unmap_entries(d, c, &r, v, n);
	}
}

void dma_forget_all(struct dma_table *t)
{
	pthread_rwlock_wrlock(&t->lock);
	for (size_t i = 0; i < t->n; i++)
		entry_free(t->v[i]);
	t->n = 0;
	t->pieces = 0;
	pthread_rwlock_unlock(&t->lock);
}

/* Whether every byte of [addr, addr + count) is mapped with access prot. */
static bool access_allowed(const struct dma_table *t, uint64_t addr, uint64_t count, uint32_t prot)
{
	while (count) {
		const struct dma_entry *e = table_lookup(t, addr);
		uint64_t n;

		if (!e || !(e->prot & prot))
			return false;
		n = entry_end(e) - addr;
		if (n >= count)
			return true;
		addr += n;
		count -= n;
	}
	return true;
}

int dma_access(struct vdev *d, uint16_t cmd, uint64_t addr, void *buf, uint64_t count)
{
	const struct host_ops *ops = d->host.ops;
	uint32_t prot =
	    cmd == VFIO_USER_DMA_READ ? VFIO_DMA_MAP_FLAG_READ : VFIO_DMA_MAP_FLAG_WRITE;
	struct dma_table *t = &d->dma;
	uint8_t *p = buf;
	int ret = 0;

	if (addr + count < addr)
		return -EFAULT;
	pthread_rwlock_rdlock(&t->lock);
	if (!access_allowed(t, addr, count, prot)) {
		vdev_log(d, VU_LOG_WARN, "server %s of 0x%llx bytes at IOVA 0x%llx: not mapped %s",
		         vu_command_name(cmd), (unsigned long long)count, (unsigned long long)addr,
		         prot == VFIO_DMA_MAP_FLAG_READ ? "readable" : "writable");
		ret = -EFAULT;
	}
	while (ret == 0 && count) {
		const struct dma_entry *e = table_lookup(t, addr);
		uint64_t vaddr = e->vaddr + (addr - e->iova);
		uint64_t n = entry_end(e) - addr;

		if (n > count)
			n = count;
		if (cmd == VFIO_USER_DMA_READ)
			ret = ops->pin_read(d->host.ctx, e->pin, vaddr, p, n);
		else
			ret = ops->pin_write(d->host.ctx, e->pin, vaddr, p, n);
		if (ret == -ESRCH) {
			/* To the server the memory of a dead process is an
			 * unmapped IOVA: an IOMMU fault, EFAULT. */
			vdev_log(d, VU_LOG_WARN,
			         "server %s at IOVA 0x%llx: pid %d, which mapped it, has exited",
			         vu_command_name(cmd), (unsigned long long)addr, (int)e->pid);
			ret = -EFAULT;
		}
		addr += n;
		p += n;
		count -= n;
	}
	pthread_rwlock_unlock(&t->lock);
	return ret;
}
