// SPDX-License-Identifier: MIT
/*
 * The iommufd context (iommufd.h) and its ioctls, answered as
 * drivers/iommu/iommufd/ answers them: the size rules of main.c
 * (iommufd_fops_ioctl: the first u32 is the size, at least the op's minimum,
 * bytes past what is understood must be zero, E2BIG otherwise; the answer
 * is cut to the caller's size), and the checks of ioas.c, device.c and
 * hw_pagetable.c in their order.
 *
 * The devices behind this node have no IOMMU of their own: GET_HW_INFO
 * answers IOMMU_HW_INFO_TYPE_NONE with no capabilities, as the kernel does
 * for a device whose IOMMU driver has no hw_info, and an HWPT is a
 * kernel-managed page table over its IOAS (no nesting, no dirty tracking),
 * which is all QEMU's vfio-pci asks of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat/vfio-uapi.h"
#include "iommufd.h"
#include "vdev-internal.h"

/* A struct past this many bytes beyond what is understood is refused
 * (E2BIG) without reading the rest: the kernel reads it all to check it is
 * zero, which no caller needs. */
#define TAIL_CHECK_MAX 4096u
/* IOMMU_IOAS_ALLOW_IOVAS reads at most this many ranges. */
#define ALLOW_IOVAS_MAX 4096u

enum iobj_type {
	IOBJ_IOAS,
	IOBJ_HWPT,
	IOBJ_DEVICE,
};

struct iobj {
	enum iobj_type type;
	uint32_t id;
	unsigned int users; /* HWPTs on it, devices attached to it */
	struct ioas *ioas;  /* IOAS, HWPT */
	uint32_t parent;    /* HWPT: its IOAS's id */
	struct vdev *d;     /* DEVICE */
	bool huge_pages;    /* IOAS: IOMMU_OPTION_HUGE_PAGES */
};

struct iommufd {
	char *name;
	struct host host;
	const struct vu_log *log;

	pthread_mutex_t lock; /* guards what follows */
	unsigned int refs;
	struct iobj **objs; /* objs[id - 1]; NULL where free */
	size_t nr_objs;
	unsigned int next_ioas; /* for names in log lines */
	bool rlimit_mm;         /* IOMMU_OPTION_RLIMIT_MODE */
};

/* One ioctl being served. */
struct ucmd {
	struct iommufd *ictx;
	const struct vreq *vr;
	uint64_t arg;
	uint32_t user_size;
	union {
		uint32_t size;
		struct iommu_destroy destroy;
		struct iommu_ioas_alloc alloc;
		struct iommu_ioas_allow_iovas allow;
		struct iommu_ioas_copy copy;
		struct iommu_ioas_iova_ranges ranges;
		struct iommu_ioas_map map;
		struct iommu_ioas_map_file map_file;
		struct iommu_ioas_unmap unmap;
		struct iommu_option option;
		struct iommu_hwpt_alloc hwpt;
		struct iommu_hw_info hw_info;
		uint8_t raw[64];
	} cmd;
};

#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

static void ictx_log(const struct iommufd *ictx, enum vu_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ictx_log(const struct iommufd *ictx, enum vu_log_level lvl, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (ictx->log && lvl > ictx->log->level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vu_log(ictx->log, lvl, "%s: %s", ictx->name, line);
}

static int user_read(const struct ucmd *u, uint64_t addr, void *buf, size_t len)
{
	return u->ictx->host.ops->mem_read(u->ictx->host.ctx, u->vr->pid, addr, buf, len);
}

static int user_write(const struct ucmd *u, uint64_t addr, const void *buf, size_t len)
{
	return u->ictx->host.ops->mem_write(u->ictx->host.ctx, u->vr->pid, addr, buf, len);
}

/* iommufd_ucmd_respond: the struct back, cut to the caller's size. */
static int respond(const struct ucmd *u, size_t len)
{
	return user_write(u, u->arg, &u->cmd, u->user_size < len ? u->user_size : len);
}

/* The answer to a map: if the caller cannot take it, the map is undone,
 * as iommufd's abort paths do. */
static int respond_mapped(const struct ucmd *u, size_t len, struct ioas *s, uint64_t iova,
                          uint64_t length)
{
	uint64_t unmapped;
	int ret = respond(u, len);

	if (ret < 0)
		ioas_unmap(s, iova, length, IOAS_UNMAP_IOMMUFD, &unmapped);
	return ret;
}

int iommufd_create(const struct iommufd_config *cfg, struct iommufd **out)
{
	struct iommufd *ictx = calloc(1, sizeof(*ictx));

	if (!ictx)
		return -ENOMEM;
	ictx->name = strdup(cfg->name ? cfg->name : "iommufd");
	if (!ictx->name) {
		free(ictx);
		return -ENOMEM;
	}
	ictx->host = cfg->host;
	ictx->log = cfg->log;
	ictx->refs = 1;
	pthread_mutex_init(&ictx->lock, NULL);
	*out = ictx;
	return 0;
}

void iommufd_get(struct iommufd *ictx)
{
	pthread_mutex_lock(&ictx->lock);
	ictx->refs++;
	pthread_mutex_unlock(&ictx->lock);
}

static void iobj_free(struct iobj *o)
{
	if (o->ioas)
		ioas_put(o->ioas);
	free(o);
}

void iommufd_put(struct iommufd *ictx)
{
	unsigned int refs;

	pthread_mutex_lock(&ictx->lock);
	refs = --ictx->refs;
	pthread_mutex_unlock(&ictx->lock);
	if (refs)
		return;
	for (size_t i = 0; i < ictx->nr_objs; i++)
		if (ictx->objs[i])
			iobj_free(ictx->objs[i]);
	free(ictx->objs);
	pthread_mutex_destroy(&ictx->lock);
	free(ictx->name);
	free(ictx);
}

/* Give o the lowest free id (xa_alloc with XA_FLAGS_ALLOC1). Locked. */
static int iobj_insert(struct iommufd *ictx, struct iobj *o)
{
	size_t i;

	for (i = 0; i < ictx->nr_objs && ictx->objs[i]; i++)
		;
	if (i == ictx->nr_objs) {
		struct iobj **v = realloc(ictx->objs, (i + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ictx->objs = v;
		ictx->nr_objs++;
	}
	ictx->objs[i] = o;
	o->id = (uint32_t)i + 1;
	return 0;
}

/* Object id of the given type, or NULL. Locked. */
static struct iobj *iobj_find(struct iommufd *ictx, uint32_t id)
{
	if (!id || id > ictx->nr_objs)
		return NULL;
	return ictx->objs[id - 1];
}

/* The space of IOAS id, referenced; -ENOENT when id is no IOAS. */
static int ioas_lookup(struct iommufd *ictx, uint32_t id, struct ioas **out, struct iobj **obj)
{
	struct iobj *o;
	int ret = -ENOENT;

	pthread_mutex_lock(&ictx->lock);
	o = iobj_find(ictx, id);
	if (o && o->type == IOBJ_IOAS) {
		ioas_get(o->ioas);
		*out = o->ioas;
		if (obj)
			*obj = o;
		ret = 0;
	}
	pthread_mutex_unlock(&ictx->lock);
	return ret;
}

static bool is_device(struct iommufd *ictx, uint32_t id)
{
	struct iobj *o;
	bool dev;

	pthread_mutex_lock(&ictx->lock);
	o = iobj_find(ictx, id);
	dev = o && o->type == IOBJ_DEVICE;
	pthread_mutex_unlock(&ictx->lock);
	return dev;
}

/* iommufd_destroy: objects still used are busy; devices go with their
 * cdev file, not by this ioctl. */
static long do_destroy(struct ucmd *u)
{
	struct iommufd *ictx = u->ictx;
	struct iobj *o, *parent;
	long ret = 0;

	pthread_mutex_lock(&ictx->lock);
	o = iobj_find(ictx, u->cmd.destroy.id);
	if (!o)
		ret = -ENOENT;
	else if (o->type == IOBJ_DEVICE || o->users)
		ret = -EBUSY;
	if (ret == 0) {
		ictx->objs[o->id - 1] = NULL;
		parent = o->type == IOBJ_HWPT ? iobj_find(ictx, o->parent) : NULL;
		if (parent)
			parent->users--;
	}
	pthread_mutex_unlock(&ictx->lock);
	if (ret == 0)
		iobj_free(o);
	return ret;
}

static long do_ioas_alloc(struct ucmd *u)
{
	struct iommufd *ictx = u->ictx;
	struct ioas_config cfg = {.host = ictx->host, .log = ictx->log};
	struct iobj *o;
	char name[96];
	int ret;

	if (u->cmd.alloc.flags)
		return -EOPNOTSUPP;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->type = IOBJ_IOAS;
	o->huge_pages = true;
	pthread_mutex_lock(&ictx->lock);
	snprintf(name, sizeof(name), "%s ioas %u", ictx->name, ++ictx->next_ioas);
	pthread_mutex_unlock(&ictx->lock);
	cfg.name = name;
	ret = ioas_create(&cfg, &o->ioas);
	if (ret < 0) {
		free(o);
		return ret;
	}
	pthread_mutex_lock(&ictx->lock);
	ret = iobj_insert(ictx, o);
	pthread_mutex_unlock(&ictx->lock);
	if (ret < 0) {
		iobj_free(o);
		return ret;
	}
	u->cmd.alloc.out_ioas_id = o->id;
	ret = respond(u, sizeof(u->cmd.alloc));
	if (ret < 0) {
		/* iommufd_object_abort_and_destroy */
		pthread_mutex_lock(&ictx->lock);
		ictx->objs[o->id - 1] = NULL;
		pthread_mutex_unlock(&ictx->lock);
		iobj_free(o);
	}
	return ret;
}

static uint32_t map_prot(uint32_t flags)
{
	return (flags & IOMMU_IOAS_MAP_READABLE ? IOAS_READ : 0) |
	       (flags & IOMMU_IOAS_MAP_WRITEABLE ? IOAS_WRITE : 0);
}

#define MAP_FLAGS (IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)

/* What IOAS_MAP, MAP_FILE and COPY check first, in their order. */
static int map_flags_check(uint32_t flags, uint64_t iova, uint64_t length)
{
	if (flags & ~MAP_FLAGS)
		return -EOPNOTSUPP;
	if (iova >= UINT64_MAX || length >= UINT64_MAX)
		return -EOVERFLOW;
	if (!(flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)))
		return -EINVAL;
	return 0;
}

/* The IOVA for a map: the caller's, or a free one. */
static int map_iova(struct ioas *s, uint32_t flags, uint64_t length, __u64 *iova)
{
	uint64_t at;
	int ret;

	if (flags & IOMMU_IOAS_MAP_FIXED_IOVA)
		return 0;
	if (!length)
		return -EINVAL;
	ret = ioas_alloc_iova(s, length, &at);
	if (ret == 0)
		*iova = at;
	return ret;
}

static long do_ioas_map(struct ucmd *u)
{
	struct iommu_ioas_map *c = &u->cmd.map;
	struct ioas_map m;
	struct ioas *s;
	int ret;

	if (c->__reserved)
		return -EOPNOTSUPP;
	ret = map_flags_check(c->flags, c->iova, c->length);
	if (ret == 0)
		ret = ioas_lookup(u->ictx, c->ioas_id, &s, NULL);
	if (ret < 0)
		return ret;
	ret = map_iova(s, c->flags, c->length, &c->iova);
	m = (struct ioas_map){.iova = c->iova,
	                      .size = c->length,
	                      .prot = map_prot(c->flags),
	                      .vaddr = c->user_va,
	                      .fd = -1};
	if (ret == 0)
		ret = ioas_map(s, u->vr, &m);
	if (ret == 0)
		ret = respond_mapped(u, sizeof(*c), s, c->iova, c->length);
	ioas_put(s);
	return ret;
}

/* The caller's fd for IOAS_MAP_FILE: a regular file holding the range,
 * open for the access asked; the server gets this very file, opened anew
 * with no more access than the mapping grants. */
static int map_file_fd(struct ucmd *u, const struct iommu_ioas_map_file *c, int *out)
{
	struct stat st;
	int fd, acc;

	fd = u->ictx->host.ops->fd_get(u->ictx->host.ctx, u->vr->pid, c->fd, HOST_FD_ANY);
	if (fd < 0)
		return fd == -EBADF ? -EBADF : fd;
	acc = fcntl(fd, F_GETFL) & O_ACCMODE;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || c->start > (uint64_t)st.st_size ||
	    c->length > (uint64_t)st.st_size - c->start) {
		ictx_log(u->ictx, VU_LOG_INFO, "IOAS_MAP_FILE: fd %d is no file holding the range",
		         c->fd);
		close(fd);
		return -EINVAL;
	}
	if (((c->flags & IOMMU_IOAS_MAP_WRITEABLE) && acc == O_RDONLY) ||
	    ((c->flags & IOMMU_IOAS_MAP_READABLE) && acc == O_WRONLY)) {
		ictx_log(u->ictx, VU_LOG_INFO, "IOAS_MAP_FILE: fd %d is not open for that access",
		         c->fd);
		close(fd);
		return -EPERM;
	}
	/* The server gets a file of its own with the access the mapping
	 * grants, never the program's open file: a read-only mapping gets a
	 * read-only file, and nothing the server does to its file (flags,
	 * offset) reaches the program's. A write-only one goes to no server
	 * (ioas.c): ours is only written by the daemon. */
	if (c->flags & IOMMU_IOAS_MAP_READABLE) {
		int own = u->ictx->host.ops->reopen(
		    u->ictx->host.ctx, fd,
		    c->flags & IOMMU_IOAS_MAP_WRITEABLE ? HOST_FD_RDWR : HOST_FD_READ);

		close(fd);
		if (own < 0)
			return own;
		fd = own;
	}
	*out = fd;
	return 0;
}

static long do_ioas_map_file(struct ucmd *u)
{
	struct iommu_ioas_map_file *c = &u->cmd.map_file;
	struct ioas_map m;
	struct ioas *s;
	int fd = -1, ret;

	ret = map_flags_check(c->flags, c->iova, c->length);
	if (ret == 0)
		ret = ioas_lookup(u->ictx, c->ioas_id, &s, NULL);
	if (ret < 0)
		return ret;
	ret = map_file_fd(u, c, &fd);
	if (ret == 0)
		ret = map_iova(s, c->flags, c->length, &c->iova);
	m = (struct ioas_map){.iova = c->iova,
	                      .size = c->length,
	                      .prot = map_prot(c->flags),
	                      .fd = fd,
	                      .file_off = c->start};
	if (ret == 0)
		ret = ioas_map(s, u->vr, &m);
	if (ret < 0 && fd >= 0)
		close(fd);
	if (ret == 0)
		ret = respond_mapped(u, sizeof(*c), s, c->iova, c->length);
	ioas_put(s);
	return ret;
}

static long do_ioas_unmap(struct ucmd *u)
{
	struct iommu_ioas_unmap *c = &u->cmd.unmap;
	uint64_t unmapped = 0;
	struct ioas *s;
	int ret = ioas_lookup(u->ictx, c->ioas_id, &s, NULL);

	if (ret < 0)
		return ret;
	if (!(c->iova == 0 && c->length == UINT64_MAX)) {
		if (c->iova >= UINT64_MAX || c->length >= UINT64_MAX)
			ret = -EOVERFLOW;
		else if (!c->length)
			ret = -EINVAL;
		else if (c->iova + (c->length - 1) < c->iova)
			ret = -EOVERFLOW;
	}
	if (ret == 0)
		ret = ioas_unmap(s, c->iova, c->length, IOAS_UNMAP_IOMMUFD, &unmapped);
	ioas_put(s);
	if (ret < 0)
		return ret;
	c->length = unmapped;
	return respond(u, sizeof(*c));
}

static long do_ioas_copy(struct ucmd *u)
{
	struct iommu_ioas_copy *c = &u->cmd.copy;
	struct ioas *src, *dst;
	int ret = map_flags_check(c->flags, c->dst_iova, c->length);

	if (ret == 0 && c->src_iova >= UINT64_MAX)
		ret = -EOVERFLOW;
	if (ret == 0)
		ret = ioas_lookup(u->ictx, c->src_ioas_id, &src, NULL);
	if (ret < 0)
		return ret;
	ret = ioas_lookup(u->ictx, c->dst_ioas_id, &dst, NULL);
	if (ret < 0) {
		ioas_put(src);
		return ret;
	}
	ret = map_iova(dst, c->flags, c->length, &c->dst_iova);
	if (ret == 0)
		ret = ioas_copy(dst, src, c->dst_iova, c->src_iova, c->length, map_prot(c->flags));
	if (ret == 0)
		ret = respond_mapped(u, sizeof(*c), dst, c->dst_iova, c->length);
	ioas_put(dst);
	ioas_put(src);
	return ret;
}

/* One range: the whole space but its last byte (see IOAS_IOVA_LAST); the
 * devices reserve nothing. */
static long do_ioas_iova_ranges(struct ucmd *u)
{
	struct iommu_ioas_iova_ranges *c = &u->cmd.ranges;
	struct iommu_iova_range all = {.start = 0, .last = IOAS_IOVA_LAST};
	uint32_t max = c->num_iovas;
	struct ioas *s;
	int ret;

	if (c->__reserved)
		return -EOPNOTSUPP;
	ret = ioas_lookup(u->ictx, c->ioas_id, &s, NULL);
	if (ret < 0)
		return ret;
	c->out_iova_alignment = ioas_alignment(s);
	ioas_put(s);
	if (max >= 1) {
		ret = user_write(u, c->allowed_iovas, &all, sizeof(all));
		if (ret < 0)
			return ret;
	}
	c->num_iovas = 1;
	ret = respond(u, sizeof(*c));
	if (ret < 0)
		return ret;
	return max < 1 ? -EMSGSIZE : 0;
}

/* iommufd_ioas_load_iovas: each range non-empty, none overlapping. */
static int allowed_load(struct ucmd *u, const struct iommu_ioas_allow_iovas *c, uint64_t (*v)[2])
{
	for (uint32_t i = 0; i < c->num_iovas; i++) {
		struct iommu_iova_range r;
		int ret = user_read(u, c->allowed_iovas + (uint64_t)i * sizeof(r), &r, sizeof(r));

		if (ret < 0)
			return ret;
		if (r.start >= r.last)
			return -EINVAL;
		for (uint32_t k = 0; k < i; k++)
			if (r.start <= v[k][1] && v[k][0] <= r.last)
				return -EINVAL;
		v[i][0] = r.start;
		v[i][1] = r.last;
	}
	return 0;
}

static long do_ioas_allow_iovas(struct ucmd *u)
{
	struct iommu_ioas_allow_iovas *c = &u->cmd.allow;
	uint64_t(*v)[2] = NULL;
	struct ioas *s;
	int ret;

	if (c->__reserved)
		return -EOPNOTSUPP;
	ret = ioas_lookup(u->ictx, c->ioas_id, &s, NULL);
	if (ret < 0)
		return ret;
	if (c->num_iovas > ALLOW_IOVAS_MAX) {
		ictx_log(u->ictx, VU_LOG_INFO, "IOAS_ALLOW_IOVAS: %u ranges, at most %u taken",
		         c->num_iovas, ALLOW_IOVAS_MAX);
		ret = -ENOMEM;
	}
	if (ret == 0 && c->num_iovas) {
		v = calloc(c->num_iovas, sizeof(*v));
		ret = v ? allowed_load(u, c, v) : -ENOMEM;
	}
	if (ret == 0)
		ret = ioas_set_allowed(s, (const uint64_t(*)[2])v, c->num_iovas);
	free(v);
	ioas_put(s);
	return ret;
}

static long option_rlimit_mode(struct ucmd *u)
{
	struct iommu_option *c = &u->cmd.option;
	struct iommufd *ictx = u->ictx;
	long ret = 0;

	if (c->object_id)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&ictx->lock);
	if (c->op == IOMMU_OPTION_OP_GET) {
		c->val64 = ictx->rlimit_mm;
	} else if (c->op == IOMMU_OPTION_OP_SET) {
		bool empty = true;

		for (size_t i = 0; i < ictx->nr_objs; i++)
			empty = empty && !ictx->objs[i];
		if (!empty)
			ret = -EBUSY;
		else if (c->val64 > 1)
			ret = -EINVAL;
		else
			ictx->rlimit_mm = c->val64;
	} else {
		ret = -EOPNOTSUPP;
	}
	pthread_mutex_unlock(&ictx->lock);
	return ret;
}

static long option_huge_pages(struct ucmd *u)
{
	struct iommu_option *c = &u->cmd.option;
	struct iommufd *ictx = u->ictx;
	struct iobj *o;
	long ret = 0;

	pthread_mutex_lock(&ictx->lock);
	o = iobj_find(ictx, c->object_id);
	if (!o || o->type != IOBJ_IOAS)
		ret = -ENOENT;
	else if (c->op == IOMMU_OPTION_OP_GET)
		c->val64 = o->huge_pages;
	else if (c->op != IOMMU_OPTION_OP_SET)
		ret = -EOPNOTSUPP;
	else if (c->val64 > 1)
		ret = -EINVAL;
	else
		o->huge_pages = c->val64;
	pthread_mutex_unlock(&ictx->lock);
	return ret;
}

static long do_option(struct ucmd *u)
{
	struct iommu_option *c = &u->cmd.option;
	long ret;

	if (c->__reserved)
		return -EOPNOTSUPP;
	if (c->option_id == IOMMU_OPTION_RLIMIT_MODE)
		ret = option_rlimit_mode(u);
	else if (c->option_id == IOMMU_OPTION_HUGE_PAGES)
		ret = option_huge_pages(u);
	else
		ret = is_device(u->ictx, c->object_id) || !c->object_id ? -EOPNOTSUPP : -ENOENT;
	if (ret < 0)
		return ret;
	return respond(u, sizeof(*c));
}

/* No IOMMU behind the device: no type, no data, no capabilities; the
 * caller's data buffer is zeroed, as iommufd_get_hw_info clears it. */
static long do_get_hw_info(struct ucmd *u)
{
	struct iommu_hw_info *c = &u->cmd.hw_info;
	static const uint8_t zero[256];
	const uint8_t *reserved = u->cmd.raw + offsetof(struct iommu_hw_info, out_data_type) + 5;
	int ret;

	if (c->flags || reserved[0] || reserved[1] || reserved[2])
		return -EOPNOTSUPP;
	if (!is_device(u->ictx, c->dev_id))
		return -ENOENT;
	for (uint32_t off = 0; off < c->data_len; off += sizeof(zero)) {
		uint32_t n = c->data_len - off < sizeof(zero) ? c->data_len - off : sizeof(zero);

		ret = user_write(u, c->data_uptr + off, zero, n);
		if (ret < 0)
			return ret;
	}
	c->data_len = 0;
	c->out_data_type = IOMMU_HW_INFO_TYPE_NONE;
	memset(u->cmd.raw + offsetof(struct iommu_hw_info, out_data_type) + 4, 0, 4);
	c->out_capabilities = 0;
	return respond(u, sizeof(*c));
}

static long do_hwpt_alloc(struct ucmd *u)
{
	struct iommu_hwpt_alloc *c = &u->cmd.hwpt;
	struct iommufd *ictx = u->ictx;
	struct iobj *o, *pt;
	long ret = 0;

	if (c->__reserved)
		return -EOPNOTSUPP;
	if ((c->data_type == IOMMU_HWPT_DATA_NONE) != !c->data_len)
		return -EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->type = IOBJ_HWPT;
	pthread_mutex_lock(&ictx->lock);
	pt = iobj_find(ictx, c->pt_id);
	if (!iobj_find(ictx, c->dev_id) || iobj_find(ictx, c->dev_id)->type != IOBJ_DEVICE || !pt)
		ret = -ENOENT;
	else if (pt->type != IOBJ_IOAS)
		ret = -EINVAL; /* a nested HWPT needs a nest parent: none here */
	else if (c->flags & ~(IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING))
		ret = -EOPNOTSUPP;
	else if (c->flags || c->data_type != IOMMU_HWPT_DATA_NONE)
		ret = -EOPNOTSUPP; /* no nesting, no dirty tracking */
	if (ret == 0) {
		o->ioas = pt->ioas;
		o->parent = pt->id;
		ret = iobj_insert(ictx, o);
	}
	if (ret == 0) {
		ioas_get(o->ioas);
		pt->users++;
	}
	pthread_mutex_unlock(&ictx->lock);
	if (ret < 0) {
		o->ioas = NULL;
		free(o);
		return ret;
	}
	c->out_hwpt_id = o->id;
	ret = respond(u, sizeof(*c));
	if (ret < 0) {
		u->cmd.destroy.id = o->id;
		do_destroy(u);
	}
	return ret;
}

struct iommufd_op {
	unsigned int cmd;
	const char *name;
	size_t size, min_size;
	long (*fn)(struct ucmd *u);
};

#define OP(cmd, fn, type, last)                                                                    \
	{                                                                                          \
		cmd, #cmd, sizeof(type), offsetofend(type, last), fn                               \
	}

static const struct iommufd_op iommufd_ops[] = {
    OP(IOMMU_DESTROY, do_destroy, struct iommu_destroy, id),
    OP(IOMMU_IOAS_ALLOC, do_ioas_alloc, struct iommu_ioas_alloc, out_ioas_id),
    OP(IOMMU_IOAS_ALLOW_IOVAS, do_ioas_allow_iovas, struct iommu_ioas_allow_iovas, allowed_iovas),
    OP(IOMMU_IOAS_COPY, do_ioas_copy, struct iommu_ioas_copy, src_iova),
    OP(IOMMU_IOAS_IOVA_RANGES, do_ioas_iova_ranges, struct iommu_ioas_iova_ranges,
       out_iova_alignment),
    OP(IOMMU_IOAS_MAP, do_ioas_map, struct iommu_ioas_map, iova),
    OP(IOMMU_IOAS_UNMAP, do_ioas_unmap, struct iommu_ioas_unmap, length),
    OP(IOMMU_OPTION, do_option, struct iommu_option, val64),
    OP(IOMMU_HWPT_ALLOC, do_hwpt_alloc, struct iommu_hwpt_alloc, __reserved),
    {IOMMU_GET_HW_INFO, "IOMMU_GET_HW_INFO", sizeof(struct iommu_hw_info),
     offsetof(struct iommu_hw_info, out_capabilities), do_get_hw_info},
    OP(IOMMU_IOAS_MAP_FILE, do_ioas_map_file, struct iommu_ioas_map_file, iova),
};

/* copy_struct_from_user: what is understood, zero-filled; anything past it
 * must be zero. */
static int ucmd_load(struct ucmd *u, const struct iommufd_op *op)
{
	uint8_t tail[256];
	uint64_t have = u->user_size < op->size ? u->user_size : op->size;
	int ret;

	memset(&u->cmd, 0, sizeof(u->cmd));
	ret = user_read(u, u->arg, &u->cmd, have);
	if (ret < 0 || u->user_size <= op->size)
		return ret;
	if (u->user_size - op->size > TAIL_CHECK_MAX)
		return -E2BIG;
	for (uint64_t off = op->size; off < u->user_size; off += sizeof(tail)) {
		uint64_t n = u->user_size - off < sizeof(tail) ? u->user_size - off : sizeof(tail);

		ret = user_read(u, u->arg + off, tail, n);
		if (ret < 0)
			return ret;
		for (uint64_t i = 0; i < n; i++)
			if (tail[i])
				return -E2BIG;
	}
	return 0;
}

long iommufd_ioctl(struct iommufd *ictx, const struct vreq *vr, unsigned int cmd, uint64_t arg)
{
	struct ucmd u = {.ictx = ictx, .vr = vr, .arg = arg};
	const struct iommufd_op *op = NULL;
	long ret;

	for (size_t i = 0; i < sizeof(iommufd_ops) / sizeof(iommufd_ops[0]); i++)
		if (iommufd_ops[i].cmd == cmd)
			op = &iommufd_ops[i];
	if (!op) {
		ictx_log(ictx, VU_LOG_DEBUG, "unknown ioctl 0x%x", cmd);
		return -ENOTTY;
	}
	ret = user_read(&u, arg, &u.user_size, sizeof(u.user_size));
	if (ret == 0 && u.user_size < op->min_size)
		ret = -EINVAL;
	if (ret == 0)
		ret = ucmd_load(&u, op);
	if (ret == 0)
		ret = op->fn(&u);
	ictx_log(ictx, VU_LOG_DEBUG, "%s(0x%llx) = %ld", op->name + 6, (unsigned long long)arg,
	         ret);
	return ret;
}

int iommufd_bind(struct iommufd *ictx, struct vdev *d, uint32_t *devid)
{
	struct iobj *o = calloc(1, sizeof(*o));
	int ret;

	if (!o)
		return -ENOMEM;
	o->type = IOBJ_DEVICE;
	o->d = d;
	pthread_mutex_lock(&ictx->lock);
	ret = iobj_insert(ictx, o);
	if (ret == 0)
		ictx->refs++;
	pthread_mutex_unlock(&ictx->lock);
	if (ret < 0) {
		free(o);
		return ret;
	}
	*devid = o->id;
	return 0;
}

void iommufd_unbind(struct iommufd *ictx, uint32_t devid)
{
	struct iobj *o;

	pthread_mutex_lock(&ictx->lock);
	o = iobj_find(ictx, devid);
	if (o && o->type == IOBJ_DEVICE)
		ictx->objs[devid - 1] = NULL;
	else
		o = NULL;
	pthread_mutex_unlock(&ictx->lock);
	free(o);
	iommufd_put(ictx);
}

int iommufd_pt_get(struct iommufd *ictx, uint32_t pt_id, struct ioas **out)
{
	struct iobj *o;
	int ret = 0;

	pthread_mutex_lock(&ictx->lock);
	o = iobj_find(ictx, pt_id);
	if (!o)
		ret = -ENOENT;
	else if (o->type != IOBJ_IOAS && o->type != IOBJ_HWPT)
		ret = -EINVAL;
	if (ret == 0) {
		o->users++;
		ioas_get(o->ioas);
		*out = o->ioas;
	}
	pthread_mutex_unlock(&ictx->lock);
	return ret;
}

void iommufd_pt_put(struct iommufd *ictx, uint32_t pt_id, struct ioas *s)
{
	struct iobj *o;

	pthread_mutex_lock(&ictx->lock);
	o = iobj_find(ictx, pt_id);
	if (o && o->ioas == s && o->users)
		o->users--;
	pthread_mutex_unlock(&ictx->lock);
	ioas_put(s);
}
