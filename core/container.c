// SPDX-License-Identifier: MIT
/*
 * The TYPE1 container interface over a DMA space, answered as the kernel's
 * container (drivers/vfio/container.c) and TYPE1 IOMMU
 * (drivers/vfio/vfio_iommu_type1.c) answer it: same argsz rules, same
 * capability chain, same errno values. The one-fd node has one of these of
 * its own; the container node (container.h) holds one per open, with the
 * groups set to it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"
#include "vdev-internal.h"

#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

struct cctx {
	struct vcontainer *ct;
	const struct host *host;
	pthread_mutex_t *lock; /* guards ct */
	const struct vreq *vr;
	uint64_t arg;
	struct ioas *ioas; /* ct->ioas when the ioctl began, referenced */
};

static int arg_read(const struct cctx *x, uint64_t off, void *buf, size_t len)
{
	return x->host->ops->mem_read(x->host->ctx, x->vr->pid, x->arg + off, buf, len);
}

static int arg_write(const struct cctx *x, uint64_t off, const void *buf, size_t len)
{
	return x->host->ops->mem_write(x->host->ctx, x->vr->pid, x->arg + off, buf, len);
}

static long get_api_version(const struct cctx *x)
{
	return VFIO_API_VERSION;
}

/* As the TYPE1 driver answers; no nesting, no vaddr update (refused for
 * emulated devices), no enforced cache coherency. */
static long check_extension(const struct cctx *x)
{
	switch (x->arg) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_UNMAP_ALL:
		return 1;
	default:
		return 0;
	}
}

static long set_iommu(const struct cctx *x)
{
	long ret = 0;

	pthread_mutex_lock(x->lock);
	if (x->ct->iommu_type)
		ret = -EINVAL; /* the container already has its IOMMU */
	else if (x->arg != VFIO_TYPE1_IOMMU && x->arg != VFIO_TYPE1v2_IOMMU)
		ret = -ENODEV; /* no IOMMU driver of that type */
	else
		x->ct->iommu_type = x->arg;
	pthread_mutex_unlock(x->lock);
	return ret;
}

static uint32_t iommu_type(const struct cctx *x)
{
	uint32_t t;

	pthread_mutex_lock(x->lock);
	t = x->ioas && x->ct->ioas == x->ioas ? x->ct->iommu_type : 0;
	pthread_mutex_unlock(x->lock);
	return t;
}

/* DMA_AVAIL then IOVA_RANGE, each 8-byte aligned, as type1 chains them. */
#define CAP_AVAIL_SIZE 16u
#define CAP_RANGE_SIZE                                                                             \
	(sizeof(struct vfio_iommu_type1_info_cap_iova_range) + sizeof(struct vfio_iova_range))
#define IOMMU_CAPS_SIZE (CAP_AVAIL_SIZE + CAP_RANGE_SIZE)

static void iommu_caps_fill(const struct cctx *x, uint8_t *buf)
{
	struct vfio_iommu_type1_info_dma_avail avail = {
	    .header = {.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
	               .version = 1,
	               .next = sizeof(struct vfio_iommu_type1_info) + CAP_AVAIL_SIZE}};
	struct vfio_iommu_type1_info_cap_iova_range range = {
	    .header = {.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, .version = 1}, .nr_iovas = 1};
	struct vfio_iova_range all = {.start = 0, .end = IOAS_IOVA_LAST};
	size_t used = ioas_pieces(x->ioas);
	uint32_t max = ioas_room(x->ioas);

	avail.avail = used < max ? max - used : 0;
	memset(buf, 0, IOMMU_CAPS_SIZE);
	memcpy(buf, &avail, sizeof(avail));
	memcpy(buf + CAP_AVAIL_SIZE, &range, sizeof(range));
	memcpy(buf + CAP_AVAIL_SIZE + sizeof(range), &all, sizeof(all));
}

static long iommu_get_info(const struct cctx *x)
{
	struct vfio_iommu_type1_info info = {0};
	size_t minsz = offsetofend(struct vfio_iommu_type1_info, iova_pgsizes);
	uint8_t caps[IOMMU_CAPS_SIZE];
	int ret;

	if (!iommu_type(x))
		return -EINVAL;
	ret = arg_read(x, 0, &info, minsz);
	if (ret < 0)
		return ret;
	if (info.argsz < minsz)
		return -EINVAL;
	minsz = info.argsz < sizeof(info) ? info.argsz : sizeof(info);
	info.flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
	info.iova_pgsizes = ioas_pgsizes(x->ioas);
	info.cap_offset = 0;
	iommu_caps_fill(x, caps);
	if (info.argsz < sizeof(info) + sizeof(caps)) {
		info.argsz = sizeof(info) + sizeof(caps);
	} else {
		ret = arg_write(x, sizeof(info), caps, sizeof(caps));
		if (ret < 0)
			return ret;
		info.cap_offset = sizeof(info);
	}
	return arg_write(x, 0, &info, minsz);
}

static uint32_t ioas_prot(uint32_t flags)
{
	return (flags & VFIO_DMA_MAP_FLAG_READ ? IOAS_READ : 0) |
	       (flags & VFIO_DMA_MAP_FLAG_WRITE ? IOAS_WRITE : 0);
}

/* vfio_dma_do_map's checks before the space's own. */
static int map_dma_check(const struct cctx *x, const struct vfio_iommu_type1_dma_map *m)
{
	uint64_t pgsize = ioas_alignment(x->ioas);
	uint32_t prot = m->flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	bool set_vaddr = m->flags & VFIO_DMA_MAP_FLAG_VADDR;

	if (!!prot == set_vaddr)
		return -EINVAL;
	if (!m->size || ((m->size | m->iova | m->vaddr) & (pgsize - 1)))
		return -EINVAL;
	if (m->iova + m->size - 1 < m->iova || m->vaddr + m->size - 1 < m->vaddr)
		return -EINVAL;
	/* Nothing here ever has its vaddr invalidated (UNMAP_DMA with
	 * FLAG_VADDR is refused), so type1 answers as below. */
	if (set_vaddr)
		return ioas_overlaps(x->ioas, m->iova, m->size) ? -EINVAL : -ENOENT;
	return 0;
}

static long iommu_map_dma(const struct cctx *x)
{
	struct vfio_iommu_type1_dma_map m;
	size_t minsz = offsetofend(struct vfio_iommu_type1_dma_map, size);
	uint32_t mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR;
	struct ioas_map im;
	int ret;

	if (!iommu_type(x))
		return -EINVAL;
	ret = arg_read(x, 0, &m, minsz);
	if (ret < 0)
		return ret;
	if (m.argsz < minsz || (m.flags & ~mask))
		return -EINVAL;
	ret = map_dma_check(x, &m);
	if (ret < 0)
		return ret;
	im = (struct ioas_map){
	    .iova = m.iova, .size = m.size, .prot = ioas_prot(m.flags), .vaddr = m.vaddr, .fd = -1};
	return ioas_map(x->ioas, x->vr, &im);
}

static int unmap_dma_check(const struct cctx *x, struct vfio_iommu_type1_dma_unmap *u,
                           uint64_t *size)
{
	uint64_t pgsize = ioas_alignment(x->ioas);

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

static long iommu_unmap_dma(const struct cctx *x)
{
	struct vfio_iommu_type1_dma_unmap u;
	size_t minsz = offsetofend(struct vfio_iommu_type1_dma_unmap, size);
	uint32_t mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL |
	                VFIO_DMA_UNMAP_FLAG_VADDR;
	uint32_t type = iommu_type(x);
	uint64_t size, unmapped = 0;
	int ret;

	if (!type)
		return -EINVAL;
	ret = arg_read(x, 0, &u, minsz);
	if (ret < 0)
		return ret;
	if (u.argsz < minsz || (u.flags & ~mask))
		return -EINVAL;
	/* Dirty tracking is never on, so type1 refuses the bitmap. */
	if (u.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)
		return -EINVAL;
	/* type1 refuses vaddr invalidation when an emulated device is present. */
	if (u.flags & VFIO_DMA_UNMAP_FLAG_VADDR)
		return -EBUSY;
	ret = unmap_dma_check(x, &u, &size);
	if (ret == 0)
		ret = ioas_unmap(x->ioas, u.iova, size,
		                 type == VFIO_TYPE1v2_IOMMU ? IOAS_UNMAP_TYPE1V2 : IOAS_UNMAP_TYPE1,
		                 &unmapped);
	u.size = unmapped;
	if (ret < 0)
		return ret;
	return arg_write(x, 0, &u, minsz);
}

struct container_cmd {
	unsigned int cmd;
	long (*fn)(const struct cctx *x);
};

static const struct container_cmd container_cmds[] = {
    {VFIO_GET_API_VERSION, get_api_version},
    {VFIO_CHECK_EXTENSION, check_extension},
    {VFIO_SET_IOMMU, set_iommu},
    {VFIO_IOMMU_GET_INFO, iommu_get_info},
    {VFIO_IOMMU_MAP_DMA, iommu_map_dma},
    {VFIO_IOMMU_UNMAP_DMA, iommu_unmap_dma},
};

long container_ioctl(struct vcontainer *ct, const struct host *host, pthread_mutex_t *lock,
                     const struct vreq *vr, unsigned int cmd, uint64_t arg)
{
	struct cctx x = {.ct = ct, .host = host, .lock = lock, .vr = vr, .arg = arg};
	long ret = -ENOTTY;

	pthread_mutex_lock(lock);
	x.ioas = ct->ioas;
	if (x.ioas)
		ioas_get(x.ioas);
	pthread_mutex_unlock(lock);
	for (size_t i = 0; i < sizeof(container_cmds) / sizeof(container_cmds[0]); i++)
		if (container_cmds[i].cmd == cmd)
			ret = container_cmds[i].fn(&x);
	if (x.ioas)
		ioas_put(x.ioas);
	return ret;
}

/* The container node's containers. */

struct container {
	char *name;
	struct host host;
	const struct vu_log *log;
	pthread_mutex_t lock; /* guards what follows; held across attaches */
	unsigned int refs;
	struct vcontainer ct;
	struct vdev **groups; /* the devices of the groups set to it */
	size_t nr_groups;
};

static void k_log(const struct container *k, enum vu_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void k_log(const struct container *k, enum vu_log_level lvl, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (k->log && lvl > k->log->level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vu_log(k->log, lvl, "%s: %s", k->name, line);
}

int container_create(const struct container_config *cfg, struct container **out)
{
	struct container *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->name = strdup(cfg->name ? cfg->name : "container");
	if (!k->name) {
		free(k);
		return -ENOMEM;
	}
	k->host = cfg->host;
	k->log = cfg->log;
	k->refs = 1;
	pthread_mutex_init(&k->lock, NULL);
	*out = k;
	return 0;
}

void container_get(struct container *k)
{
	pthread_mutex_lock(&k->lock);
	k->refs++;
	pthread_mutex_unlock(&k->lock);
}

void container_put(struct container *k)
{
	unsigned int refs;

	pthread_mutex_lock(&k->lock);
	refs = --k->refs;
	pthread_mutex_unlock(&k->lock);
	if (refs)
		return;
	if (k->ct.ioas)
		ioas_put(k->ct.ioas);
	free(k->groups);
	pthread_mutex_destroy(&k->lock);
	free(k->name);
	free(k);
}

/* vfio_ioctl_set_iommu: only a container holding groups may choose its
 * IOMMU; every group's device is then attached to the new space. */
static long k_set_iommu(struct container *k, uint64_t type)
{
	struct ioas_config cfg = {.name = k->name, .host = k->host, .log = k->log};
	struct ioas *s;
	size_t i;
	int ret;

	pthread_mutex_lock(&k->lock);
	if (!k->nr_groups || k->ct.iommu_type) {
		ret = -EINVAL;
		goto out;
	}
	if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU) {
		ret = -ENODEV;
		goto out;
	}
	ret = ioas_create(&cfg, &s);
	if (ret < 0)
		goto out;
	for (i = 0; i < k->nr_groups && ret == 0; i++)
		ret = ioas_attach(s, k->groups[i]);
	if (ret < 0) {
		k_log(k, VU_LOG_INFO, "SET_IOMMU: attaching group %zu: %s", i - 1, strerror(-ret));
		while (--i > 0)
			ioas_detach(s, k->groups[i - 1]);
		ioas_put(s);
		goto out;
	}
	k->ct = (struct vcontainer){.iommu_type = (uint32_t)type, .ioas = s};
out:
	pthread_mutex_unlock(&k->lock);
	return ret;
}

long container_file_ioctl(struct container *k, const struct vreq *vr, unsigned int cmd,
                          uint64_t arg)
{
	bool driver;
	long ret;

	if (cmd == VFIO_SET_IOMMU)
		return k_set_iommu(k, arg);
	ret = container_ioctl(&k->ct, &k->host, &k->lock, vr, cmd, arg);
	if (ret != -ENOTTY)
		return ret;
	/* Without an IOMMU driver nothing else is known (EINVAL); type1 says
	 * ENOTTY to what it does not know. */
	pthread_mutex_lock(&k->lock);
	driver = k->ct.iommu_type;
	pthread_mutex_unlock(&k->lock);
	return driver ? -ENOTTY : -EINVAL;
}

int container_add_group(struct container *k, struct vdev *d)
{
	struct vdev **v;
	int ret = 0;

	pthread_mutex_lock(&k->lock);
	v = realloc(k->groups, (k->nr_groups + 1) * sizeof(*v));
	if (!v)
		ret = -ENOMEM;
	else
		k->groups = v;
	if (ret == 0 && k->ct.ioas)
		ret = ioas_attach(k->ct.ioas, d);
	if (ret == 0) {
		k->groups[k->nr_groups++] = d;
		k->refs++;
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

void container_del_group(struct container *k, struct vdev *d, bool detach)
{
	struct ioas *gone = NULL;

	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < k->nr_groups; i++) {
		if (k->groups[i] != d)
			continue;
		k->groups[i] = k->groups[--k->nr_groups];
		if (k->ct.ioas && detach)
			ioas_detach(k->ct.ioas, d);
		break;
	}
	/* __vfio_group_unset_container: the last group takes the IOMMU. */
	if (!k->nr_groups && k->ct.ioas) {
		gone = k->ct.ioas;
		k->ct = (struct vcontainer){0};
	}
	pthread_mutex_unlock(&k->lock);
	if (gone)
		ioas_put(gone);
	container_put(k);
}

bool container_has_iommu(struct container *k)
{
	bool set;

	pthread_mutex_lock(&k->lock);
	set = k->ct.iommu_type != 0;
	pthread_mutex_unlock(&k->lock);
	return set;
}
