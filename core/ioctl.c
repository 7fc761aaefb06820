// SPDX-License-Identifier: MIT
/*
 * The VFIO ioctls, one table, one small handler each, answered as the
 * kernel's container (drivers/vfio/container.c), TYPE1 IOMMU
 * (vfio_iommu_type1.c) and vfio-pci device (vfio_pci_core.c) answer them:
 * same argsz rules, same capability chain dance, same errno values.
 *
 * One node is container and device at once, and a few ioctl numbers mean
 * one thing on a container and another on a device (VFIO_BASE + 12..17).
 * The container's meaning wins for 12-14 (IOMMU_GET_INFO, MAP_DMA,
 * UNMAP_DMA: every program needs them; the device's PCI hot reset and
 * graphics planes are not something a vfio-user device offers) and the
 * device's for 17 (DEVICE_FEATURE; dirty page tracking is not offered).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vdev-internal.h"

#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
#endif

#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/* Enough for every feature the kernel defines; more is not read. */
#define FEATURE_MAX_DATA 4096u

struct ictx {
	struct vdev *d;
	struct vconn *c;
	const struct vreq *r;
	uint64_t arg;
};

static int arg_read(const struct ictx *x, uint64_t off, void *buf, size_t len)
{
	return vdev_read_arg(x->d, x->r, x->arg + off, buf, len);
}

static int arg_write(const struct ictx *x, uint64_t off, const void *buf, size_t len)
{
	return vdev_write_arg(x->d, x->r, x->arg + off, buf, len);
}

static long get_api_version(const struct ictx *x)
{
	return VFIO_API_VERSION;
}

/* As the TYPE1 driver answers; no nesting, no vaddr update (refused for
 * emulated devices), no enforced cache coherency. */
static long check_extension(const struct ictx *x)
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

static long set_iommu(const struct ictx *x)
{
	struct vdev *d = x->d;
	long ret = 0;

	pthread_mutex_lock(&d->lock);
	if (d->iommu_type)
		ret = -EINVAL; /* the container already has its IOMMU */
	else if (x->arg != VFIO_TYPE1_IOMMU && x->arg != VFIO_TYPE1v2_IOMMU)
		ret = -ENODEV; /* no IOMMU driver of that type */
	else
		d->iommu_type = x->arg;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static uint32_t iommu_type(const struct ictx *x)
{
	uint32_t t;

	pthread_mutex_lock(&x->d->lock);
	t = x->d->iommu_type;
	pthread_mutex_unlock(&x->d->lock);
	return t;
}

/* The node is group, container and device at once: always viable, always
 * in its container. */
static long group_get_status(const struct ictx *x)
{
	struct vfio_group_status s;
	size_t minsz = offsetofend(struct vfio_group_status, flags);
	int ret = arg_read(x, 0, &s, minsz);

	if (ret < 0)
		return ret;
	if (s.argsz < minsz)
		return -EINVAL;
	s.flags = VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET;
	return arg_write(x, 0, &s, minsz);
}

/* DMA_AVAIL then IOVA_RANGE, each 8-byte aligned, as type1 chains them. */
#define CAP_AVAIL_SIZE 16u
#define CAP_RANGE_SIZE                                                                             \
	(sizeof(struct vfio_iommu_type1_info_cap_iova_range) + sizeof(struct vfio_iova_range))
#define IOMMU_CAPS_SIZE (CAP_AVAIL_SIZE + CAP_RANGE_SIZE)

static void iommu_caps_fill(const struct ictx *x, uint8_t *buf)
{
	struct vfio_iommu_type1_info_dma_avail avail = {
	    .header = {.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
	               .version = 1,
	               .next = sizeof(struct vfio_iommu_type1_info) + CAP_AVAIL_SIZE}};
	struct vfio_iommu_type1_info_cap_iova_range range = {
	    .header = {.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, .version = 1}, .nr_iovas = 1};
	struct vfio_iova_range all = {.start = 0, .end = DMA_IOVA_LAST};
	size_t used = dma_table_pieces(&x->d->dma);
	uint32_t max = x->c->caps.max_dma_maps;

	avail.avail = used < max ? max - used : 0;
	memset(buf, 0, IOMMU_CAPS_SIZE);
	memcpy(buf, &avail, sizeof(avail));
	memcpy(buf + CAP_AVAIL_SIZE, &range, sizeof(range));
	memcpy(buf + CAP_AVAIL_SIZE + sizeof(range), &all, sizeof(all));
}

static long iommu_get_info(const struct ictx *x)
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
	info.iova_pgsizes = x->c->caps.pgsizes;
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

static long iommu_map_dma(const struct ictx *x)
{
	struct vfio_iommu_type1_dma_map m;
	size_t minsz = offsetofend(struct vfio_iommu_type1_dma_map, size);
	uint32_t mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR;
	int ret;

	if (!iommu_type(x))
		return -EINVAL;
	ret = arg_read(x, 0, &m, minsz);
	if (ret < 0)
		return ret;
	if (m.argsz < minsz || (m.flags & ~mask))
		return -EINVAL;
	return dma_map(x->d, x->c, x->r, &m);
}

static long iommu_unmap_dma(const struct ictx *x)
{
	struct vfio_iommu_type1_dma_unmap u;
	size_t minsz = offsetofend(struct vfio_iommu_type1_dma_unmap, size);
	uint32_t mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL |
	                VFIO_DMA_UNMAP_FLAG_VADDR;
	uint32_t type = iommu_type(x);
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
	ret = dma_unmap(x->d, x->c, x->r, &u, type == VFIO_TYPE1v2_IOMMU);
	if (ret < 0)
		return ret;
	return arg_write(x, 0, &u, minsz);
}

static long device_get_info(const struct ictx *x)
{
	struct vfio_device_info info;
	size_t minsz = offsetofend(struct vfio_device_info, num_irqs);
	int ret = arg_read(x, 0, &info, minsz);

	if (ret < 0)
		return ret;
	if (info.argsz < minsz)
		return -EINVAL;
	minsz = info.argsz < sizeof(info) ? info.argsz : sizeof(info);
	info.flags = x->c->dev.flags;
	info.num_regions = x->c->dev.num_regions;
	info.num_irqs = x->c->dev.num_irqs;
	info.cap_offset = 0;
	return arg_write(x, 0, &info, minsz);
}

static long device_get_region_info(const struct ictx *x)
{
	struct vfio_region_info info;
	size_t minsz = offsetofend(struct vfio_region_info, offset);
	const struct vregion *reg;
	uint32_t argsz;
	int ret = arg_read(x, 0, &info, minsz);

	if (ret < 0)
		return ret;
	if (info.argsz < minsz || info.index >= x->c->dev.num_regions)
		return -EINVAL;
	ret = info_region(x->d, x->c, x->r, info.index, &reg);
	if (ret < 0)
		return vdev_errno(x->d, ret);
	if (reg->err)
		return reg->err;
	argsz = info.argsz;
	info = reg->info;
	info.argsz = argsz;
	if (reg->caps_len) {
		if (argsz < sizeof(info) + reg->caps_len) {
			info.argsz = sizeof(info) + reg->caps_len;
			info.cap_offset = 0;
		} else {
			ret = arg_write(x, sizeof(info), reg->caps, reg->caps_len);
			if (ret < 0)
				return ret;
			info.cap_offset = sizeof(info);
		}
	}
	return arg_write(x, 0, &info, minsz);
}

static long device_get_irq_info(const struct ictx *x)
{
	struct vfio_irq_info info;
	size_t minsz = offsetofend(struct vfio_irq_info, count);
	const struct virq *q;
	uint32_t argsz;
	int ret = arg_read(x, 0, &info, minsz);

	if (ret < 0)
		return ret;
	if (info.argsz < minsz || info.index >= x->c->dev.num_irqs)
		return -EINVAL;
	ret = info_irq(x->d, x->c, x->r, info.index, &q);
	if (ret < 0)
		return vdev_errno(x->d, ret);
	if (q->err)
		return q->err;
	argsz = info.argsz;
	info = q->info;
	info.argsz = argsz;
	return arg_write(x, 0, &info, minsz);
}

/* As vfio_set_irqs_validate_and_prepare: 0 with the size of the data that
 * follows the header, or -EINVAL (or the error of asking the server for the
 * index's info, when connect could not). */
static int irq_set_validate(const struct ictx *x, const struct vfio_irq_set *h, size_t *size)
{
	size_t minsz = offsetofend(struct vfio_irq_set, count);
	const struct virq *q;
	uint32_t max, each;
	int ret;

	if (h->argsz < minsz || h->index >= x->c->dev.num_irqs ||
	    h->count >= UINT32_MAX - h->start ||
	    (h->flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)))
		return -EINVAL;
	ret = info_irq(x->d, x->c, x->r, h->index, &q);
	if (ret < 0)
		return vdev_errno(x->d, ret);
	max = q->err ? 0 : q->info.count;
	if (h->start >= max || h->start + h->count > max)
		return -EINVAL;
	switch (h->flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
	case VFIO_IRQ_SET_DATA_NONE:
		each = 0;
		break;
	case VFIO_IRQ_SET_DATA_BOOL:
		each = sizeof(uint8_t);
		break;
	case VFIO_IRQ_SET_DATA_EVENTFD:
		each = sizeof(int32_t);
		break;
	default:
		return -EINVAL;
	}
	if (each && h->argsz - minsz < (uint64_t)h->count * each)
		return -EINVAL;
	*size = (size_t)h->count * each;
	return 0;
}

/* Exactly one action, as vfio_pci_set_irqs_ioctl finds a handler for. */
static bool irq_action_valid(uint32_t flags)
{
	uint32_t a = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;

	return a && !(a & (a - 1));
}

static void fds_close(int *fds, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
}

/*
 * Duplicate the caller's eventfds in place. -1 de-assigns a vector; other
 * negative values de-assign too on INTx/MSI/MSI-X, as vfio-pci treats them,
 * and are refused elsewhere (ERR/REQ), as vfio-pci does.
 */
static int irq_fds_take(const struct ictx *x, uint32_t index, int32_t *fds, uint32_t n, bool *armed)
{
	for (uint32_t i = 0; i < n; i++) {
		int fd;

		if (fds[i] < -1 && index > VFIO_PCI_MSIX_IRQ_INDEX) {
			fds_close(fds, i);
			return -EINVAL;
		}
		if (fds[i] < 0) {
			fds[i] = -1;
			continue;
		}
		fd = x->d->host.ops->fd_get(x->d->host.ctx, x->r->pid, fds[i]);
		if (fd < 0) {
			vdev_log(x->d, VU_LOG_INFO, "SET_IRQS: fd %d of pid %d: %s", fds[i],
			         (int)x->r->pid, strerror(-fd));
			fds_close(fds, i);
			return fd;
		}
		fds[i] = fd;
		*armed = true;
	}
	return 0;
}

static long device_set_irqs(const struct ictx *x)
{
	struct vfio_irq_set h;
	struct vu_call_opts o = vdev_call_opts(x->d, x->r);
	bool eventfd, armed = false;
	size_t size = 0;
	uint8_t *data = NULL;
	int ret = arg_read(x, 0, &h, offsetofend(struct vfio_irq_set, count));

	if (ret < 0)
		return ret;
	ret = irq_set_validate(x, &h, &size);
	if (ret < 0)
		return ret;
	if (size) {
		data = malloc(size);
		if (!data)
			return -ENOMEM;
		ret = arg_read(x, offsetofend(struct vfio_irq_set, count), data, size);
		if (ret < 0)
			goto out;
	}
	if (!irq_action_valid(h.flags)) {
		ret = -ENOTTY;
		goto out;
	}
	eventfd = h.flags & VFIO_IRQ_SET_DATA_EVENTFD;
	if (eventfd) {
		ret = irq_fds_take(x, h.index, (int32_t *)data, h.count, &armed);
		if (ret < 0)
			goto out;
	}
	ret = vu_device_set_irqs(x->c->c, &o, h.flags, h.index, h.start, h.count,
	                         eventfd ? NULL : data, eventfd ? (int *)data : NULL);
	if (eventfd)
		fds_close((int *)data, h.count); /* the server holds its own */
	/* A batch may have gone through before one failed: disarm at release
	 * whatever the outcome. */
	if (armed)
		vdev_irq_armed(x->d, h.index, true);
	if (ret < 0) {
		ret = vdev_errno(x->d, ret);
		goto out;
	}
	if ((h.flags & VFIO_IRQ_SET_DATA_NONE) && (h.flags & VFIO_IRQ_SET_ACTION_TRIGGER) &&
	    h.count == 0)
		vdev_irq_armed(x->d, h.index, false);
out:
	free(data);
	return ret;
}

static long device_reset(const struct ictx *x)
{
	struct vu_call_opts o = vdev_call_opts(x->d, x->r);

	if (!(x->c->dev.flags & VFIO_DEVICE_FLAGS_RESET))
		return -EINVAL;
	return vdev_errno(x->d, vu_device_reset(x->c->c, &o));
}

/*
 * Features that cannot cross this node: migration hands the program a data
 * fd, which an ioctl through CUSE cannot create; dirty logging passes
 * pointers into the program and wakeup an eventfd inside the data. For them
 * the node answers as a device without them.
 */
static bool feature_crosses(uint32_t feature)
{
	switch (feature) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
	case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
	case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
		return false;
	default:
		return true;
	}
}

static int feature_check(const struct ictx *x, const struct vfio_device_feature *h)
{
	uint32_t rw = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;

	if (h->argsz < sizeof(*h))
		return -EINVAL;
	if (h->flags & ~(VFIO_DEVICE_FEATURE_MASK | rw | VFIO_DEVICE_FEATURE_PROBE))
		return -EINVAL;
	if (!(h->flags & VFIO_DEVICE_FEATURE_PROBE) && (h->flags & rw) == rw)
		return -EINVAL;
	if (!feature_crosses(h->flags & VFIO_DEVICE_FEATURE_MASK)) {
		vdev_log(x->d, VU_LOG_INFO, "DEVICE_FEATURE %u cannot be offered through CUSE",
		         h->flags & VFIO_DEVICE_FEATURE_MASK);
		return -ENOTTY;
	}
	return 0;
}

static long device_feature(const struct ictx *x)
{
	struct vu_call_opts o = vdev_call_opts(x->d, x->r);
	struct vfio_device_feature h, *buf;
	size_t data = 0, out_len = 0;
	int ret = arg_read(x, 0, &h, sizeof(h));

	if (ret < 0)
		return ret;
	ret = feature_check(x, &h);
	if (ret < 0)
		return ret;
	if (!(h.flags & VFIO_DEVICE_FEATURE_PROBE) &&
	    (h.flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)))
		data =
		    h.argsz - sizeof(h) < FEATURE_MAX_DATA ? h.argsz - sizeof(h) : FEATURE_MAX_DATA;
	buf = calloc(1, sizeof(h) + data);
	if (!buf)
		return -ENOMEM;
	buf->argsz = sizeof(h) + data;
	buf->flags = h.flags;
	if (data && (h.flags & VFIO_DEVICE_FEATURE_SET))
		ret = arg_read(x, sizeof(h), buf->data, data);
	if (ret == 0)
		ret = vdev_errno(x->d,
		                 vu_device_feature(x->c->c, &o, buf, sizeof(h) + data, &out_len));
	/* A server without DEVICE_FEATURE has no features: ENOTTY, as the
	 * kernel answers for a feature the device lacks. */
	if (ret == -EOPNOTSUPP)
		ret = -ENOTTY;
	if (ret == 0 && data && (h.flags & VFIO_DEVICE_FEATURE_GET) && out_len > sizeof(h))
		ret = arg_write(x, sizeof(h), buf->data,
		                out_len - sizeof(h) < data ? out_len - sizeof(h) : data);
	free(buf);
	return ret;
}

struct vfio_cmd {
	unsigned int cmd;
	const char *name;
	long (*fn)(const struct ictx *x);
};

static const struct vfio_cmd vfio_cmds[] = {
    {VFIO_GET_API_VERSION, "GET_API_VERSION", get_api_version},
    {VFIO_CHECK_EXTENSION, "CHECK_EXTENSION", check_extension},
    {VFIO_SET_IOMMU, "SET_IOMMU", set_iommu},
    {VFIO_GROUP_GET_STATUS, "GROUP_GET_STATUS", group_get_status},
    {VFIO_DEVICE_GET_INFO, "DEVICE_GET_INFO", device_get_info},
    {VFIO_DEVICE_GET_REGION_INFO, "DEVICE_GET_REGION_INFO", device_get_region_info},
    {VFIO_DEVICE_GET_IRQ_INFO, "DEVICE_GET_IRQ_INFO", device_get_irq_info},
    {VFIO_DEVICE_SET_IRQS, "DEVICE_SET_IRQS", device_set_irqs},
    {VFIO_DEVICE_RESET, "DEVICE_RESET", device_reset},
    {VFIO_IOMMU_GET_INFO, "IOMMU_GET_INFO", iommu_get_info},
    {VFIO_IOMMU_MAP_DMA, "IOMMU_MAP_DMA", iommu_map_dma},
    {VFIO_IOMMU_UNMAP_DMA, "IOMMU_UNMAP_DMA", iommu_unmap_dma},
    {VFIO_DEVICE_FEATURE, "DEVICE_FEATURE", device_feature},
};

long vdev_do_ioctl(struct vdev *d, struct vconn *c, const struct vreq *r, unsigned int cmd,
                   uint64_t arg)
{
	const struct ictx x = {.d = d, .c = c, .r = r, .arg = arg};

	for (size_t i = 0; i < sizeof(vfio_cmds) / sizeof(vfio_cmds[0]); i++) {
		if (vfio_cmds[i].cmd == cmd) {
			long ret = vfio_cmds[i].fn(&x);

			vdev_log(d, VU_LOG_DEBUG, "%s(0x%llx) = %ld", vfio_cmds[i].name,
			         (unsigned long long)arg, ret);
			return ret;
		}
	}
	vdev_log(d, VU_LOG_DEBUG, "unknown ioctl 0x%x", cmd);
	return -ENOTTY;
}
