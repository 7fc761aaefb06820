// SPDX-License-Identifier: MIT
/*
 * The DMA space (ioas.h): its table of mappings, validated as
 * drivers/vfio/vfio_iommu_type1.c (vfio_dma_do_map, vfio_dma_do_unmap) and
 * drivers/iommu/iommufd/io_pagetable.c (iopt_map_pages, iopt_unmap_iova)
 * validate theirs, and the devices that mirror it on their servers.
 *
 * Memory with a shareable file behind it goes to a server with that file's
 * fd, so the server touches it directly; other memory goes without an fd
 * and the server reads and writes it by message, which ioas_access answers
 * by copying from or to the process that mapped it, through the pin.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ioas.h"
#include "vdev-internal.h"

/* The pin on the process that mapped a piece (host.h: a handle, no fd),
 * shared by the pieces of one map and by their copies. */
struct pin {
	int handle;
	pid_t pid;
	struct host host;  /* the host it was taken from, to release it */
	unsigned int refs; /* atomic: pieces of several spaces share a pin */
};

/* One server mapping: memory of a process (pin, vaddr) or a file (fd). */
struct piece {
	uint64_t iova, size;
	int fd; /* the file behind it, kept for devices attached later; or -1 */
	uint64_t file_off;
	struct pin *pin; /* process memory: reached at vaddr through the pin */
	uint64_t vaddr;
};

/* One mapping, as MAP_DMA or IOAS_MAP made it. */
struct entry {
	uint64_t iova, size;
	uint32_t prot;
	bool busy; /* being mapped or unmapped: invisible to the servers */
	struct piece *pieces;
	size_t nr_pieces;
};

struct dev_link {
	struct vdev *d;
	struct dev_link *next;
};

struct ioas {
	char *name;
	struct host host;
	const struct vu_log *log;
	pthread_mutex_t ref_lock;
	unsigned int refs;

	pthread_mutex_t op_lock; /* serialises changes; held across server calls */
	struct dev_link *devs;
	uint64_t (*allowed)[2]; /* automatic IOVAs only here; NULL: anywhere */
	uint32_t nr_allowed;

	pthread_rwlock_t lock; /* the table */
	struct entry **v;      /* sorted by iova, never overlapping */
	size_t n, cap;
	size_t pieces; /* server mappings in use, reserved ones included */
};

static void ioas_log(const struct ioas *s, enum vu_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ioas_log(const struct ioas *s, enum vu_log_level lvl, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (s->log && lvl > s->log->level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vu_log(s->log, lvl, "%s: %s", s->name, line);
}

int ioas_create(const struct ioas_config *cfg, struct ioas **out)
{
	struct ioas *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->name = strdup(cfg->name ? cfg->name : "ioas");
	if (!s->name) {
		free(s);
		return -ENOMEM;
	}
	s->host = cfg->host;
	s->log = cfg->log;
	s->refs = 1;
	pthread_mutex_init(&s->ref_lock, NULL);
	pthread_mutex_init(&s->op_lock, NULL);
	pthread_rwlock_init(&s->lock, NULL);
	*out = s;
	return 0;
}

void ioas_get(struct ioas *s)
{
	pthread_mutex_lock(&s->ref_lock);
	s->refs++;
	pthread_mutex_unlock(&s->ref_lock);
}

static struct pin *pin_ref(struct pin *p)
{
	if (p)
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

static void pin_put(struct pin *p)
{
	if (p && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		p->host.ops->unpin(p->host.ctx, p->handle);
		free(p);
	}
}

static void files_release(void);

static void pieces_free(struct piece *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].fd >= 0) {
			close(v[i].fd);
			files_release();
		}
		pin_put(v[i].pin);
	}
	free(v);
}

static void entry_free(struct entry *e)
{
	pieces_free(e->pieces, e->nr_pieces);
	free(e);
}

void ioas_put(struct ioas *s)
{
	unsigned int refs;

	pthread_mutex_lock(&s->ref_lock);
	refs = --s->refs;
	pthread_mutex_unlock(&s->ref_lock);
	if (refs)
		return;
	for (size_t i = 0; i < s->n; i++)
		entry_free(s->v[i]);
	free(s->v);
	free(s->allowed);
	pthread_rwlock_destroy(&s->lock);
	pthread_mutex_destroy(&s->op_lock);
	pthread_mutex_destroy(&s->ref_lock);
	free(s->name);
	free(s);
}

static uint64_t entry_end(const struct entry *e)
{
	return e->iova + e->size; /* never wraps: map refuses that */
}

/* Index of the first entry ending after iova (s->n if none). */
static size_t table_find(const struct ioas *s, uint64_t iova)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (entry_end(s->v[mid]) <= iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct entry *table_lookup(const struct ioas *s, uint64_t iova)
{
	size_t i = table_find(s, iova);

	if (i < s->n && s->v[i]->iova <= iova)
		return s->v[i];
	return NULL;
}

/* Whether [iova, iova + size) meets any entry; size > 0. */
static bool table_overlaps(const struct ioas *s, uint64_t iova, uint64_t size)
{
	size_t i = table_find(s, iova);

	return i < s->n && s->v[i]->iova <= iova + size - 1;
}

static int table_insert(struct ioas *s, struct entry *e)
{
	size_t i;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct entry **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	i = table_find(s, e->iova);
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->v[i] = e;
	s->n++;
	return 0;
}

static void table_remove(struct ioas *s, struct entry *e)
{
	size_t i = table_find(s, e->iova);

	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

/* Devices: what their servers allow. Called with op_lock held. */

static uint64_t devs_alignment(const struct ioas *s)
{
	uint64_t align = 4096;

	for (struct dev_link *l = s->devs; l; l = l->next) {
		uint64_t p = vdev_dma_pgsize(l->d);

		if (p > align)
			align = p;
	}
	return align;
}

static uint32_t devs_room(const struct ioas *s)
{
	uint32_t room = UINT32_MAX;

	for (struct dev_link *l = s->devs; l; l = l->next) {
		uint32_t m = vdev_dma_max_maps(l->d);

		if (m < room)
			room = m;
	}
	return room;
}

uint64_t ioas_alignment(struct ioas *s)
{
	uint64_t align;

	pthread_mutex_lock(&s->op_lock);
	align = devs_alignment(s);
	pthread_mutex_unlock(&s->op_lock);
	return align;
}

uint32_t ioas_room(struct ioas *s)
{
	uint32_t room;

	pthread_mutex_lock(&s->op_lock);
	room = devs_room(s);
	pthread_mutex_unlock(&s->op_lock);
	return room;
}

uint64_t ioas_pgsizes(struct ioas *s)
{
	uint64_t sizes = UINT64_MAX;

	pthread_mutex_lock(&s->op_lock);
	for (struct dev_link *l = s->devs; l; l = l->next)
		sizes &= vdev_dma_pgsizes(l->d);
	pthread_mutex_unlock(&s->op_lock);
	return sizes == UINT64_MAX || !sizes ? 4096 : sizes;
}

size_t ioas_pieces(struct ioas *s)
{
	size_t n;

	pthread_rwlock_rdlock(&s->lock);
	n = s->pieces;
	pthread_rwlock_unlock(&s->lock);
	return n;
}

bool ioas_overlaps(struct ioas *s, uint64_t iova, uint64_t size)
{
	bool hit;

	pthread_rwlock_rdlock(&s->lock);
	hit = table_overlaps(s, iova, size);
	pthread_rwlock_unlock(&s->lock);
	return hit;
}

bool ioas_has_devices(struct ioas *s)
{
	bool any;

	pthread_mutex_lock(&s->op_lock);
	any = s->devs != NULL;
	pthread_mutex_unlock(&s->op_lock);
	return any;
}

/* Sending to the servers. */

static uint32_t server_prot(uint32_t prot)
{
	return (prot & IOAS_READ ? VFIO_USER_F_DMA_REGION_READ : 0) |
	       (prot & IOAS_WRITE ? VFIO_USER_F_DMA_REGION_WRITE : 0);
}

/* Take the first n pieces of e back from d; the first error wins. */
static int dev_unmap_pieces(struct ioas *s, struct vdev *d, const struct entry *e, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		const struct piece *p = &e->pieces[i];
		int ret = vdev_dma_unmap(d, p->iova, p->size);

		if (ret < 0 && ret != -ENOTCONN && !err)
			err = ret;
	}
	return err;
}

/*
 * Whether d's server gets the pieces' files. Never with dma_by_message, nor
 * for a write-only mapping (a file cannot be mapped write-only, and read
 * access was not granted): the daemon then answers the server's DMA
 * messages itself.
 */
static bool dev_gets_files(const struct ioas *s, struct vdev *d, const struct entry *e)
{
	return !s->host.dma_by_message && (e->prot & IOAS_READ) && vdev_dma_pass_fds(d);
}

/* Send e to d. A device whose server is gone is skipped: it forgot
 * everything, and its files fail with EIO until the device is back. */
static int dev_map_entry(struct ioas *s, struct vdev *d, const struct entry *e)
{
	bool files = dev_gets_files(s, d, e);

	for (size_t i = 0; i < e->nr_pieces; i++) {
		const struct piece *p = &e->pieces[i];
		int fd = files ? p->fd : -1;
		int ret = vdev_dma_map(d, p->iova, p->size, server_prot(e->prot), fd,
		                       fd >= 0 ? p->file_off : 0);

		if (ret == -ENOTCONN)
			return 0;
		if (ret < 0) {
			dev_unmap_pieces(s, d, e, i);
			return ret;
		}
		vdev_log(d, VU_LOG_INFO, "DMA_MAP iova 0x%llx size 0x%llx: %s",
		         (unsigned long long)p->iova, (unsigned long long)p->size,
		         fd >= 0 ? "shared by fd" : "served by message");
	}
	return 0;
}

/* Send e to every device; on a failure take it back from those done. */
static int devs_map_entry(struct ioas *s, const struct entry *e)
{
	for (struct dev_link *l = s->devs; l; l = l->next) {
		int ret = dev_map_entry(s, l->d, e);

		if (ret < 0) {
			for (struct dev_link *k = s->devs; k != l; k = k->next)
				dev_unmap_pieces(s, k->d, e, e->nr_pieces);
			return vdev_errno(l->d, ret);
		}
	}
	return 0;
}

static int devs_unmap_entry(struct ioas *s, const struct entry *e)
{
	int err = 0;

	for (struct dev_link *l = s->devs; l; l = l->next) {
		int ret = dev_unmap_pieces(s, l->d, e, e->nr_pieces);

		if (ret < 0 && !err)
			err = vdev_errno(l->d, ret);
	}
	return err;
}

/* Building the pieces of a map. */

struct pieces {
	struct piece *v;
	size_t n;
};

/*
 * The files the spaces hold (their pieces' fds, kept for devices attached
 * later), over every space of the daemon: at most half its open-file
 * limit, so that no program, node or space can take the fds the others
 * need (their eventfds, sockets, files). Past it process memory goes
 * without its file, by message (slower, but served); a file mapped as such
 * (IOAS_MAP_FILE) is refused with ENOSPC.
 */
static pthread_once_t files_once = PTHREAD_ONCE_INIT;
static unsigned int files_max, files_held;

static void files_init(void)
{
	struct rlimit rl;

	files_max = 512;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		files_max = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur / 2 > UINT32_MAX
		                ? UINT32_MAX
		                : (unsigned int)(rl.rlim_cur / 2);
}

static bool files_reserve(void)
{
	unsigned int n;

	pthread_once(&files_once, files_init);
	n = __atomic_add_fetch(&files_held, 1, __ATOMIC_RELAXED);
	if (n <= files_max)
		return true;
	__atomic_sub_fetch(&files_held, 1, __ATOMIC_RELAXED);
	return false;
}

static void files_release(void)
{
	__atomic_sub_fetch(&files_held, 1, __ATOMIC_RELAXED);
}

/*
 * Add piece x to p; its fd (counted against the files limit) and pin are
 * p's once this succeeds, x's owner's still when it fails. A piece of
 * process memory past the files limit goes without its file.
 */
static int pieces_add(struct pieces *p, const struct piece *x)
{
	struct piece y = *x, *v;
	bool counted = false;

	if (y.fd >= 0 && files_reserve())
		counted = true;
	else if (y.fd >= 0 && !y.pin)
		return -ENOSPC;
	else if (y.fd >= 0)
		y.fd = -1; /* x's fd is closed below, once this cannot fail */
	/* Neighbouring pieces of one process without a file are one piece to
	 * the server. */
	if (y.fd < 0 && p->n) {
		struct piece *last = &p->v[p->n - 1];

		if (last->fd < 0 && last->pin == y.pin && last->vaddr + last->size == y.vaddr &&
		    last->iova + last->size == y.iova) {
			last->size += y.size;
			pin_put(y.pin);
			goto added;
		}
	}
	v = realloc(p->v, (p->n + 1) * sizeof(*v));
	if (!v) {
		if (counted)
			files_release();
		return -ENOMEM;
	}
	p->v = v;
	p->v[p->n++] = y;
added:
	if (x->fd >= 0 && !counted)
		close(x->fd);
	return 0;
}

static int take_pin(struct ioas *s, const struct vreq *vr, struct pin **out)
{
	struct pin *p = calloc(1, sizeof(*p));
	int h;

	if (!p)
		return -ENOMEM;
	h = s->host.ops->pin(s->host.ctx, vr->pid);
	if (h < 0) {
		ioas_log(s, VU_LOG_INFO, "map: cannot pin pid %d: %s", (int)vr->pid, strerror(-h));
		free(p);
		return h;
	}
	p->handle = h;
	p->pid = vr->pid;
	p->host = s->host;
	p->refs = 1;
	*out = p;
	return 0;
}

/*
 * The access of the files taken for a map of process memory: what the
 * device was granted, so a READ mapping gets read-only files; none when no
 * server may get them (dev_gets_files).
 */
static enum host_fd_access files_access(const struct ioas *s, uint32_t prot)
{
	if (s->host.dma_by_message || !(prot & IOAS_READ))
		return HOST_FD_NONE;
	return prot & IOAS_WRITE ? HOST_FD_RDWR : HOST_FD_READ;
}

/*
 * Split [vaddr, vaddr + size) along the process's mappings. Every byte must
 * be mapped with the access the device was granted (type1 pins the pages
 * and fails with EFAULT otherwise). The pin is taken before the memory is
 * looked up by pid, so the mappings validated belong to the pinned process
 * or, had it died in between, the pin refuses every access.
 */
static int pieces_of_memory(struct ioas *s, const struct vreq *vr, const struct ioas_map *m,
                            struct pieces *p)
{
	enum host_fd_access access = files_access(s, m->prot);
	struct pin *pin;
	uint64_t off = 0;
	int ret = take_pin(s, vr, &pin);

	if (ret < 0)
		return ret;
	while (off < m->size) {
		struct host_mapping hm;
		struct piece x;
		uint64_t va = m->vaddr + off, len;

		ret = s->host.ops->mapping(s->host.ctx, vr->pid, va, access, &hm);
		if (ret == 0 && (hm.start > va || hm.end <= va)) {
			if (hm.fd >= 0)
				close(hm.fd);
			ret = -EFAULT;
		}
		if (ret < 0) {
			ioas_log(s, VU_LOG_INFO, "map: vaddr 0x%llx of pid %d is not mapped",
			         (unsigned long long)va, (int)vr->pid);
			break;
		}
		if (((m->prot & IOAS_READ) && !hm.readable) ||
		    ((m->prot & IOAS_WRITE) && !hm.writable)) {
			ioas_log(s, VU_LOG_INFO,
			         "map: vaddr 0x%llx of pid %d lacks the access asked (%s%s)",
			         (unsigned long long)va, (int)vr->pid,
			         m->prot & IOAS_READ ? "r" : "", m->prot & IOAS_WRITE ? "w" : "");
			if (hm.fd >= 0)
				close(hm.fd);
			ret = -EFAULT;
			break;
		}
		len = hm.end - va;
		if (len > m->size - off)
			len = m->size - off;
		x = (struct piece){.iova = m->iova + off,
		                   .size = len,
		                   .fd = hm.fd,
		                   .file_off = hm.file_off + (va - hm.start),
		                   .pin = pin_ref(pin),
		                   .vaddr = va};
		ret = pieces_add(p, &x);
		if (ret < 0) {
			pin_put(pin);
			if (hm.fd >= 0)
				close(hm.fd);
			break;
		}
		off += len;
	}
	pin_put(pin);
	return ret;
}

static int map_check(const struct ioas *s, const struct ioas_map *m)
{
	uint64_t align = devs_alignment(s);

	if (!m->size || !(m->prot & (IOAS_READ | IOAS_WRITE)))
		return -EINVAL;
	if ((m->size | m->iova) & (align - 1))
		return -EINVAL;
	if (m->fd < 0 && (m->vaddr & (align - 1)))
		return -EINVAL;
	if (m->fd >= 0 && (m->file_off & (align - 1)))
		return -EINVAL;
	if (m->iova + m->size - 1 < m->iova || (m->fd < 0 && m->vaddr + m->size - 1 < m->vaddr))
		return -EINVAL;
	return 0;
}

/*
 * Reserve the IOVA range: the entry is in the table but busy (invisible to
 * the servers) until every server has it, so a concurrent map of the same
 * range fails with EEXIST. Checked in type1's order: overlap, room, IOVA
 * range; the memory is checked after.
 */
static int map_reserve(struct ioas *s, const struct ioas_map *m, struct entry *e)
{
	int ret;

	pthread_rwlock_wrlock(&s->lock);
	if (table_overlaps(s, m->iova, m->size)) {
		ret = -EEXIST;
	} else if (s->n >= IOAS_MAX_ENTRIES) {
		ioas_log(s, VU_LOG_INFO, "map: %u mappings already, the most a space holds",
		         IOAS_MAX_ENTRIES);
		ret = -ENOSPC;
	} else if (s->pieces >= devs_room(s)) {
		ioas_log(s, VU_LOG_INFO, "map: the servers allow %u mappings, all in use",
		         devs_room(s));
		ret = -ENOSPC;
	} else if (m->iova + m->size - 1 > IOAS_IOVA_LAST) {
		ioas_log(s, VU_LOG_INFO, "map: iova 0x%llx size 0x%llx: past the IOVA range",
		         (unsigned long long)m->iova, (unsigned long long)m->size);
		ret = -EINVAL;
	} else {
		ret = table_insert(s, e);
	}
	pthread_rwlock_unlock(&s->lock);
	return ret;
}

/* Count e's pieces against the servers' limits. */
static int map_account(struct ioas *s, struct entry *e)
{
	int ret = 0;

	pthread_rwlock_wrlock(&s->lock);
	if (s->pieces + e->nr_pieces > devs_room(s)) {
		ioas_log(s, VU_LOG_INFO,
		         "map: %zu pieces do not fit: the servers allow %u mappings, %zu in use",
		         e->nr_pieces, devs_room(s), s->pieces);
		ret = -ENOSPC;
	} else {
		s->pieces += e->nr_pieces;
	}
	pthread_rwlock_unlock(&s->lock);
	return ret;
}

/* Publish a reserved entry, or drop it. */
static int map_finish(struct ioas *s, struct entry *e, int ret, bool counted)
{
	pthread_rwlock_wrlock(&s->lock);
	if (ret < 0) {
		if (counted)
			s->pieces -= e->nr_pieces;
		table_remove(s, e);
	} else {
		e->busy = false;
	}
	pthread_rwlock_unlock(&s->lock);
	return ret;
}

int ioas_map(struct ioas *s, const struct vreq *vr, const struct ioas_map *m)
{
	struct pieces p = {0};
	struct entry *e;
	bool counted = false;
	int ret;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*e = (struct entry){.iova = m->iova, .size = m->size, .prot = m->prot, .busy = true};
	pthread_mutex_lock(&s->op_lock);
	ret = map_check(s, m);
	if (ret == 0)
		ret = map_reserve(s, m, e);
	if (ret < 0)
		goto out_free;
	if (m->fd >= 0) {
		struct piece x = {
		    .iova = m->iova, .size = m->size, .fd = m->fd, .file_off = m->file_off};

		ret = pieces_add(&p, &x);
	} else {
		ret = pieces_of_memory(s, vr, m, &p);
	}
	e->pieces = p.v;
	e->nr_pieces = p.n;
	if (ret == 0)
		ret = map_account(s, e);
	counted = ret == 0;
	if (ret == 0)
		ret = devs_map_entry(s, e);
	map_finish(s, e, ret, counted);
	if (ret == 0) {
		pthread_mutex_unlock(&s->op_lock);
		return 0;
	}
	if (m->fd >= 0 && e->nr_pieces && e->pieces[0].fd >= 0) {
		e->pieces[0].fd = -1; /* the caller's still */
		files_release();
	}
	entry_free(e);
	pthread_mutex_unlock(&s->op_lock);
	return ret;
out_free:
	free(e);
	pthread_mutex_unlock(&s->op_lock);
	return ret;
}

/*
 * Pick the entries [iova, iova + size) removes and mark them busy, as
 * vfio_dma_do_unmap (type1) or iopt_unmap_iova_range (iommufd) pick them.
 */
static int unmap_pick(struct ioas *s, uint64_t iova, uint64_t size, enum ioas_unmap_rule rule,
                      struct entry ***out, size_t *nr, uint64_t *bytes)
{
	bool all = iova == 0 && size == UINT64_MAX;
	uint64_t last = all ? UINT64_MAX : iova + size - 1;
	struct entry *e, **v = NULL;
	size_t i, n = 0;

	*bytes = 0;
	if (rule == IOAS_UNMAP_TYPE1V2 && !all) {
		e = table_lookup(s, iova);
		if (e && e->iova != iova)
			return -EINVAL;
		e = table_lookup(s, last);
		if (e && entry_end(e) - 1 != last)
			return -EINVAL;
	}
	for (i = table_find(s, iova); i < s->n; i++) {
		e = s->v[i];
		if (e->iova > last || (rule == IOAS_UNMAP_TYPE1 && iova > e->iova))
			break;
		if (rule == IOAS_UNMAP_IOMMUFD) {
			if (e->busy) {
				free(v);
				return -EBUSY;
			}
			if (e->iova < iova || entry_end(e) - 1 > last) {
				free(v);
				return -ENOENT;
			}
		}
		if (e->busy)
			continue;
		if (!v || (n & (n - 1)) == 0) {
			struct entry **nv = realloc(v, (n ? 2 * n : 1) * sizeof(*nv));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = e;
	}
	if (rule == IOAS_UNMAP_IOMMUFD && !n) {
		free(v);
		return -ENOENT;
	}
	for (i = 0; i < n; i++) {
		v[i]->busy = true;
		*bytes += v[i]->size;
	}
	*out = v;
	*nr = n;
	return 0;
}

int ioas_unmap(struct ioas *s, uint64_t iova, uint64_t size, enum ioas_unmap_rule rule,
               uint64_t *unmapped)
{
	struct entry **v = NULL;
	size_t n = 0;
	int ret, err = 0;

	*unmapped = 0;
	if (!size)
		return -EINVAL;
	pthread_mutex_lock(&s->op_lock);
	pthread_rwlock_wrlock(&s->lock);
	ret = unmap_pick(s, iova, size, rule, &v, &n, unmapped);
	pthread_rwlock_unlock(&s->lock);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		ret = devs_unmap_entry(s, v[i]);
		if (ret < 0 && !err)
			err = ret;
	}
	pthread_rwlock_wrlock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		table_remove(s, v[i]);
		s->pieces -= v[i]->nr_pieces;
	}
	pthread_rwlock_unlock(&s->lock);
	for (size_t i = 0; i < n; i++)
		entry_free(v[i]);
	free(v);
	ret = err;
out:
	pthread_mutex_unlock(&s->op_lock);
	return ret;
}

/* Copy the part [iova, iova + size) of src's complete entries into *p,
 * sharing pins and duplicating fds. Called with src's table locked. */
static int copy_pieces(struct ioas *src, uint64_t iova, uint64_t size, uint64_t dst_iova,
                       uint32_t prot, struct pieces *p)
{
	uint64_t pos = iova, end = iova + size;

	while (pos < end) {
		const struct entry *e = table_lookup(src, pos);

		if (!e || e->busy)
			return -ENOENT;
		if ((prot & IOAS_WRITE) && !(e->prot & IOAS_WRITE))
			return -EPERM;
		for (size_t i = 0; i < e->nr_pieces && pos < end; i++) {
			const struct piece *q = &e->pieces[i];
			uint64_t from, to, skip;
			struct piece x;
			int ret;

			if (q->iova + q->size <= pos)
				continue;
			from = pos;
			to = q->iova + q->size < end ? q->iova + q->size : end;
			skip = from - q->iova;
			x = (struct piece){.iova = dst_iova + (from - iova),
			                   .size = to - from,
			                   .fd = -1,
			                   .file_off = q->file_off + skip,
			                   .pin = q->pin,
			                   .vaddr = q->vaddr ? q->vaddr + skip : 0};
			/* A read-only copy of a writable mapping gets read-only
			 * files: the server of dst may only read them. */
			if (q->fd >= 0 && !(prot & IOAS_WRITE)) {
				x.fd = src->host.ops->reopen(src->host.ctx, q->fd, HOST_FD_READ);
				if (x.fd < 0)
					return x.fd;
			} else if (q->fd >= 0) {
				x.fd = dup(q->fd);
				if (x.fd < 0)
					return -errno;
			}
			pin_ref(x.pin);
			ret = pieces_add(p, &x);
			if (ret < 0) {
				if (x.fd >= 0)
					close(x.fd);
				pin_put(x.pin);
				return ret;
			}
			pos = to;
		}
	}
	return 0;
}

int ioas_copy(struct ioas *dst, struct ioas *src, uint64_t dst_iova, uint64_t src_iova,
              uint64_t size, uint32_t prot)
{
	struct ioas_map m = {.iova = dst_iova, .size = size, .prot = prot, .fd = -1};
	struct pieces p = {0};
	struct entry *e;
	bool counted = false;
	int ret;

	if (!size || src_iova + size - 1 < src_iova)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*e = (struct entry){.iova = dst_iova, .size = size, .prot = prot, .busy = true};
	pthread_rwlock_rdlock(&src->lock);
	ret = copy_pieces(src, src_iova, size, dst_iova, prot, &p);
	pthread_rwlock_unlock(&src->lock);
	if (ret < 0)
		goto out_pieces;
	pthread_mutex_lock(&dst->op_lock);
	ret = map_check(dst, &m);
	if (ret == 0)
		ret = map_reserve(dst, &m, e);
	if (ret < 0) {
		pthread_mutex_unlock(&dst->op_lock);
		goto out_pieces;
	}
	e->pieces = p.v;
	e->nr_pieces = p.n;
	ret = map_account(dst, e);
	counted = ret == 0;
	if (ret == 0)
		ret = devs_map_entry(dst, e);
	map_finish(dst, e, ret, counted);
	pthread_mutex_unlock(&dst->op_lock);
	if (ret < 0)
		entry_free(e);
	return ret;
out_pieces:
	pieces_free(p.v, p.n);
	free(e);
	return ret;
}

/* The lowest aligned start of size bytes in [lo, hi] (inclusive), if any. */
static bool gap_fit(uint64_t lo, uint64_t hi, uint64_t size, uint64_t align, uint64_t *out)
{
	uint64_t start = (lo + align - 1) & ~(align - 1);

	if (start < lo || start > hi || hi - start < size - 1)
		return false;
	*out = start;
	return true;
}

/* The lowest free range, at the alignment the devices need, inside the
 * allowed ranges if any were set (iopt_alloc_iova picks its own way; any
 * free aligned range is a valid answer). */
int ioas_alloc_iova(struct ioas *s, uint64_t size, uint64_t *iova)
{
	uint64_t align;
	int ret = -ENOSPC;

	if (!size)
		return -EINVAL;
	pthread_mutex_lock(&s->op_lock);
	align = devs_alignment(s);
	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; i <= s->n && ret; i++) {
		uint64_t lo = i ? entry_end(s->v[i - 1]) : 0;
		uint64_t hi;

		if (i < s->n && s->v[i]->iova == lo)
			continue;
		hi = i < s->n ? s->v[i]->iova - 1 : IOAS_IOVA_LAST;
		if (!s->nr_allowed && gap_fit(lo, hi, size, align, iova))
			ret = 0;
		for (uint32_t k = 0; k < s->nr_allowed && ret; k++) {
			uint64_t a = lo > s->allowed[k][0] ? lo : s->allowed[k][0];
			uint64_t b = hi < s->allowed[k][1] ? hi : s->allowed[k][1];

			if (a <= b && gap_fit(a, b, size, align, iova))
				ret = 0;
		}
	}
	pthread_rwlock_unlock(&s->lock);
	pthread_mutex_unlock(&s->op_lock);
	return ret;
}

int ioas_set_allowed(struct ioas *s, const uint64_t (*ranges)[2], uint32_t n)
{
	uint64_t(*copy)[2] = NULL;

	if (n) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, ranges, n * sizeof(*copy));
	}
	pthread_mutex_lock(&s->op_lock);
	free(s->allowed);
	s->allowed = copy;
	s->nr_allowed = n;
	pthread_mutex_unlock(&s->op_lock);
	return 0;
}

int ioas_attach(struct ioas *s, struct vdev *d)
{
	struct dev_link *l = calloc(1, sizeof(*l));
	size_t i;
	int ret = 0;

	if (!l)
		return -ENOMEM;
	l->d = d;
	pthread_mutex_lock(&s->op_lock);
	pthread_rwlock_rdlock(&s->lock);
	if (s->pieces > vdev_dma_max_maps(d))
		ret = -ENOSPC;
	for (i = 0; i < s->n && ret == 0; i++)
		if ((s->v[i]->iova | s->v[i]->size) & (vdev_dma_pgsize(d) - 1))
			ret = -EINVAL;
	pthread_rwlock_unlock(&s->lock);
	/* Busy entries are being mapped or unmapped under op_lock: none now. */
	for (i = 0; i < s->n && ret == 0; i++) {
		ret = dev_map_entry(s, d, s->v[i]);
		if (ret < 0) {
			while (i-- > 0)
				dev_unmap_pieces(s, d, s->v[i], s->v[i]->nr_pieces);
			ret = vdev_errno(d, ret);
		}
	}
	if (ret == 0) {
		l->next = s->devs;
		s->devs = l;
		vdev_set_ioas(d, s);
	}
	pthread_mutex_unlock(&s->op_lock);
	if (ret < 0)
		free(l);
	return ret;
}

void ioas_detach(struct ioas *s, struct vdev *d)
{
	struct dev_link **pl, *l = NULL;

	pthread_mutex_lock(&s->op_lock);
	for (pl = &s->devs; *pl; pl = &(*pl)->next) {
		if ((*pl)->d == d) {
			l = *pl;
			*pl = l->next;
			break;
		}
	}
	if (l) {
		vdev_set_ioas(d, NULL);
		for (size_t i = 0; i < s->n; i++)
			dev_unmap_pieces(s, d, s->v[i], s->v[i]->nr_pieces);
		if (s->n)
			vdev_log(d, VU_LOG_INFO, "detached: %zu DMA mappings taken back", s->n);
	}
	pthread_mutex_unlock(&s->op_lock);
	free(l);
}

/* Whether every byte of [addr, addr + count) is in complete entries with
 * access prot. */
static bool access_allowed(const struct ioas *s, uint64_t addr, uint64_t count, uint32_t prot)
{
	while (count) {
		const struct entry *e = table_lookup(s, addr);
		uint64_t n;

		if (!e || e->busy || !(e->prot & prot))
			return false;
		n = entry_end(e) - addr;
		if (n >= count)
			return true;
		addr += n;
		count -= n;
	}
	return true;
}

static const struct piece *piece_at(const struct entry *e, uint64_t addr)
{
	for (size_t i = 0; i < e->nr_pieces; i++)
		if (addr >= e->pieces[i].iova && addr - e->pieces[i].iova < e->pieces[i].size)
			return &e->pieces[i];
	return NULL;
}

/* One stretch of an access: n bytes at off of the pin's process memory, or
 * of a file (fd, ours: the piece's may be closed by an unmap meanwhile). */
struct seg {
	struct pin *pin;
	int fd;
	uint64_t off, n;
};

static void segs_free(struct seg *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pin_put(v[i].pin);
		if (v[i].fd >= 0)
			close(v[i].fd);
	}
	free(v);
}

/* The stretches of [addr, addr + count), allowed. Called with the table
 * locked; what they hold outlives any unmap. */
static int segs_take(struct ioas *s, uint64_t addr, uint64_t count, struct seg **out, size_t *nr)
{
	struct seg *v = NULL;
	size_t n = 0;

	while (count) {
		const struct piece *q = piece_at(table_lookup(s, addr), addr);
		uint64_t len = q->iova + q->size - addr, skip = addr - q->iova;
		struct seg *nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv) {
			segs_free(v, n);
			return -ENOMEM;
		}
		v = nv;
		if (len > count)
			len = count;
		v[n] = (struct seg){.pin = pin_ref(q->pin), .fd = -1, .n = len};
		if (q->pin) {
			v[n].off = q->vaddr + skip;
		} else {
			v[n].off = q->file_off + skip;
			v[n].fd = dup(q->fd);
			if (v[n].fd < 0) {
				segs_free(v, n + 1);
				return -errno;
			}
		}
		n++;
		addr += len;
		count -= len;
	}
	*out = v;
	*nr = n;
	return 0;
}

/* Move one stretch, through the host: the memory of a process through its
 * pin, a file (IOAS_MAP_FILE) by offset. */
static int seg_rw(struct ioas *s, uint16_t cmd, const struct seg *g, uint8_t *buf, uint64_t iova)
{
	const struct host_ops *ops = s->host.ops;
	bool write = cmd == VFIO_USER_DMA_WRITE;
	int ret;

	if (g->pin)
		ret = write ? ops->pin_write(s->host.ctx, g->pin->handle, g->off, buf, g->n)
		            : ops->pin_read(s->host.ctx, g->pin->handle, g->off, buf, g->n);
	else
		ret = write ? ops->file_write(s->host.ctx, g->fd, g->off, buf, g->n)
		            : ops->file_read(s->host.ctx, g->fd, g->off, buf, g->n);
	if (ret == -ESRCH && g->pin) {
		/* To the server the memory of a dead process is an unmapped
		 * IOVA: an IOMMU fault, EFAULT. */
		ioas_log(s, VU_LOG_WARN,
		         "server %s at IOVA 0x%llx: pid %d, which mapped it, has exited",
		         vu_command_name(cmd), (unsigned long long)iova, (int)g->pin->pid);
		ret = -EFAULT;
	}
	return ret;
}

/*
 * The table lock is held only to check the access and take what it needs:
 * the copy itself may take as long as the host lets it (memory whose reads
 * never come back, memhelper.h), and must hold up no map, unmap or release
 * meanwhile.
 */
int ioas_access(struct ioas *s, uint16_t cmd, uint64_t addr, void *buf, uint64_t count)
{
	bool write = cmd == VFIO_USER_DMA_WRITE;
	uint32_t prot = write ? IOAS_WRITE : IOAS_READ;
	struct seg *v = NULL;
	uint8_t *p = buf;
	size_t n = 0;
	int ret = 0;

	if (addr + count < addr)
		return -EFAULT;
	pthread_rwlock_rdlock(&s->lock);
	if (!access_allowed(s, addr, count, prot)) {
		ioas_log(s, VU_LOG_WARN, "server %s of 0x%llx bytes at IOVA 0x%llx: not mapped %s",
		         vu_command_name(cmd), (unsigned long long)count, (unsigned long long)addr,
		         write ? "writable" : "readable");
		ret = -EFAULT;
	}
	if (ret == 0)
		ret = segs_take(s, addr, count, &v, &n);
	pthread_rwlock_unlock(&s->lock);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = seg_rw(s, cmd, &v[i], p, addr);
		p += v[i].n;
		addr += v[i].n;
	}
	segs_free(v, n);
	return ret;
}
