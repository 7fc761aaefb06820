// SPDX-License-Identifier: MIT
/*
 * The device ioctls, one table, one small handler each, answered as the
 * kernel's vfio-pci device (vfio_pci_core.c) and device cdev
 * (drivers/vfio/device_cdev.c) answer them: same argsz rules, same
 * capability chain dance, same errno values. Which ones a file answers
 * depends on its kind:
 *
 * - The one-fd node is container and device at once (container.c answers
 *   the container's), and a few ioctl numbers mean one thing on a container
 *   and another on a device (VFIO_BASE + 12..17). The container's meaning
 *   wins for 12-14 (IOMMU_GET_INFO, MAP_DMA, UNMAP_DMA: every program needs
 *   them; the device's PCI hot reset and graphics planes are not something
 *   a vfio-user device offers) and the device's for 17 (DEVICE_FEATURE).
 * - The device cdev answers BIND_IOMMUFD, then, once bound, ATTACH and
 *   DETACH_IOMMUFD_PT and the device's ioctls; before BIND everything else
 *   is EINVAL (vfio_device_fops_unl_ioctl).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/vfio-uapi.h"
#include "container.h"
#include "iommufd.h"
#include "vdev-internal.h"

/* VFIO_GROUP_GET_DEVICE_FD reads a name of at most this (strndup_user). */
#define DEVICE_NAME_MAX 4096

#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
#endif

#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/* Enough for every feature the kernel defines; more is not read. */
#define FEATURE_MAX_DATA 4096u

struct ictx {
	struct vdev *d;
	struct vconn *conn;
	struct vfile *f;
	const struct vreq *vr;
	uint64_t arg;
};

static int arg_read(const struct ictx *x, uint64_t off, void *buf, size_t len)
{
	return vdev_read_arg(x->d, x->vr, x->arg + off, buf, len);
}

static int arg_write(const struct ictx *x, uint64_t off, const void *buf, size_t len)
{
	return vdev_write_arg(x->d, x->vr, x->arg + off, buf, len);
}

/* VFIO_GROUP_GET_STATUS, answered with FLAGS (vfio_group_fops_unl_ioctl). */
static long group_status_reply(const struct ictx *x, uint32_t flags)
{
	struct vfio_group_status s;
	size_t minsz = offsetofend(struct vfio_group_status, flags);
	int ret = arg_read(x, 0, &s, minsz);

	if (ret < 0)
		return ret;
	if (s.argsz < minsz)
		return -EINVAL;
	s.flags = flags;
	return arg_write(x, 0, &s, minsz);
}

static long group_get_status(const struct ictx *x)
{
	return group_status_reply(x, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
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
	info.flags = x->conn->dev.flags;
	info.num_regions = x->conn->dev.num_regions;
	info.num_irqs = x->conn->dev.num_irqs;
	info.cap_offset = 0;
	return arg_write(x, 0, &info, minsz);
}

/*
 * Read the fixed part (minsz bytes) of a REGION_INFO or IRQ_INFO request
 * into info: both begin with argsz, flags and index. Returns the index, or
 * -EINVAL for an argsz below minsz or an index past the device's nr, as
 * vfio_pci_ioctl_get_region_info and vfio_pci_ioctl_get_irq_info check them.
 */
static long info_request(const struct ictx *x, void *info, size_t minsz, uint32_t nr,
                         uint32_t *argsz)
{
	struct {
		uint32_t argsz, flags, index;
	} head;
	int ret = arg_read(x, 0, info, minsz);

	if (ret < 0)
		return ret;
	memcpy(&head, info, sizeof(head));
	if (head.argsz < minsz || head.index >= nr)
		return -EINVAL;
	*argsz = head.argsz;
	return head.index;
}

static long device_get_region_info(const struct ictx *x)
{
	struct vfio_region_info info;
	size_t minsz = offsetofend(struct vfio_region_info, offset);
	const struct vregion *reg;
	uint32_t argsz;
	long index = info_request(x, &info, minsz, x->conn->dev.num_regions, &argsz);
	int ret;

	if (index < 0)
		return index;
	ret = vdev_info_region(x->d, x->conn, x->vr, index, &reg);
	if (ret < 0)
		return vdev_errno(x->d, ret);
	if (reg->err)
		return reg->err;
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
	long index = info_request(x, &info, minsz, x->conn->dev.num_irqs, &argsz);
	int ret;

	if (index < 0)
		return index;
	ret = vdev_info_irq(x->d, x->conn, x->vr, index, &q);
	if (ret < 0)
		return vdev_errno(x->d, ret);
	if (q->err)
		return q->err;
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

	if (h->argsz < minsz || h->index >= x->conn->dev.num_irqs ||
	    h->count >= UINT32_MAX - h->start ||
	    (h->flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)))
		return -EINVAL;
	ret = vdev_info_irq(x->d, x->conn, x->vr, h->index, &q);
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
		fd = x->d->host.ops->fd_get(x->d->host.ctx, x->vr->pid, fds[i], HOST_FD_EVENTFD);
		if (fd < 0) {
			vdev_log(x->d, VU_LOG_INFO, "SET_IRQS: fd %d of pid %d: %s", fds[i],
			         (int)x->vr->pid, strerror(-fd));
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
	struct vu_call_opts o = vdev_call_opts(x->d, x->vr);
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
	ret = vu_device_set_irqs(x->conn->c, &o, h.flags, h.index, h.start, h.count,
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
	struct vu_call_opts o = vdev_call_opts(x->d, x->vr);

	if (!(x->conn->dev.flags & VFIO_DEVICE_FLAGS_RESET))
		return -EINVAL;
	return vdev_errno(x->d, vu_device_reset(x->conn->c, &o));
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
	struct vu_call_opts o = vdev_call_opts(x->d, x->vr);
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
		ret = vdev_errno(
		    x->d, vu_device_feature(x->conn->c, &o, buf, sizeof(h) + data, &out_len));
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

/* A device without a bus or slot reset: vfio_pci_ioctl_get_pci_hot_reset_info
 * and vfio_pci_ioctl_pci_hot_reset check argsz, then find no reset. */
static long device_pci_hot_reset(const struct ictx *x)
{
	uint32_t argsz;
	int ret;

	if (!(x->conn->dev.flags & VFIO_DEVICE_FLAGS_PCI))
		return -ENOTTY;
	ret = arg_read(x, 0, &argsz, sizeof(argsz));
	if (ret < 0)
		return ret;
	if (argsz < 3 * sizeof(uint32_t))
		return -EINVAL;
	return -ENODEV;
}

/* vfio_df_ioctl_bind_iommufd: the device is taken by this file. */
static long cdev_bind(const struct ictx *x)
{
	struct vfio_device_bind_iommufd b;
	size_t minsz = offsetofend(struct vfio_device_bind_iommufd, out_devid);
	struct vdev *d = x->d;
	struct iommufd *ictx = NULL;
	uint32_t devid;
	int ret = arg_read(x, 0, &b, minsz);

	if (ret < 0)
		return ret;
	if (b.argsz < minsz || b.flags || b.iommufd < 0)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	if (d->owner || d->group || d->releasing)
		ret = -EBUSY; /* the one-fd node or the group has it */
	else if (d->bound)
		ret = -EINVAL; /* one device cannot be bound twice */
	else
		d->bound = x->f;
	pthread_mutex_unlock(&d->lock);
	if (ret < 0)
		return ret;
	ret =
	    d->iommufd_get ? d->iommufd_get(d->iommufd_arg, x->vr->pid, b.iommufd, &ictx) : -EBADFD;
	if (ret == 0) {
		ret = iommufd_bind(ictx, d, &devid);
		iommufd_put(ictx);
	}
	if (ret == 0) {
		ret = arg_write(x, offsetof(struct vfio_device_bind_iommufd, out_devid), &devid,
		                sizeof(devid));
		if (ret < 0)
			iommufd_unbind(ictx, devid);
	}
	if (ret < 0) {
		vdev_log(d, VU_LOG_INFO, "BIND_IOMMUFD to fd %d of pid %d: %s", b.iommufd,
		         (int)x->vr->pid, strerror(-ret));
		pthread_mutex_lock(&d->lock);
		d->bound = NULL;
		pthread_mutex_unlock(&d->lock);
		return ret;
	}
	x->f->ictx = ictx;
	x->f->devid = devid;
	vdev_log(d, VU_LOG_INFO, "bound to an iommufd by pid %d: device id %u", (int)x->vr->pid,
	         devid);
	return 0;
}

/* Whether f still has its device: after a reconnect the device was taken
 * from every file of the lost connection, and may be another file's now. */
static bool vfile_current(const struct vfile *f)
{
	struct vdev *d = f->d;
	bool cur;

	pthread_mutex_lock(&d->lock);
	cur = d->bound == f || d->group == f;
	pthread_mutex_unlock(&d->lock);
	return cur;
}

static void cdev_detach(struct vfile *f)
{
	if (!f->pt_id)
		return;
	if (vfile_current(f))
		ioas_detach(f->ioas, f->d);
	iommufd_pt_put(f->ictx, f->pt_id, f->ioas);
	f->pt_id = 0;
	f->ioas = NULL;
}

void vfile_unbind(struct vfile *f)
{
	if (!f->ictx)
		return;
	cdev_detach(f);
	iommufd_unbind(f->ictx, f->devid);
	f->ictx = NULL;
}

bool vfile_has_device(const struct vfile *f)
{
	switch (f->kind) {
	case VFILE_CDEV:
		return f->ictx != NULL;
	case VFILE_GROUP:
		return f->device_opens > 0;
	default:
		return true;
	}
}

/* The group's status: always viable (one device, nothing else in it). */
static long vgroup_get_status(const struct ictx *x)
{
	return group_status_reply(x, VFIO_GROUP_FLAGS_VIABLE |
	                                 (x->f->container ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0));
}

/* vfio_group_ioctl_set_container: the argument points at the container's
 * fd number. */
static long vgroup_set_container(const struct ictx *x)
{
	struct vdev *d = x->d;
	struct container *k = NULL;
	int32_t fd;
	int ret = arg_read(x, 0, &fd, sizeof(fd));

	if (ret < 0)
		return ret;
	if (x->f->container)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	ret = d->container_get ? d->container_get(d->iommufd_arg, x->vr->pid, fd, &k) : -EINVAL;
	if (ret < 0) {
		vdev_log(d, VU_LOG_INFO, "GROUP_SET_CONTAINER fd %d of pid %d: %s", fd,
		         (int)x->vr->pid, strerror(-ret));
		return ret;
	}
	ret = container_add_group(k, d);
	if (ret == 0)
		x->f->container = k; /* container_add_group took its own reference */
	container_put(k);
	return ret;
}

void vfile_unset_container(struct vfile *f)
{
	if (!f->container)
		return;
	container_del_group(f->container, f->d, vfile_current(f));
	f->container = NULL;
}

/* vfio_group_ioctl_unset_container: not while its device is open. */
static long vgroup_unset_container(const struct ictx *x)
{
	if (!x->f->container)
		return -EINVAL;
	if (x->f->device_opens)
		return -EBUSY;
	vfile_unset_container(x->f);
	return 0;
}

/* The device name at addr, NUL-terminated within DEVICE_NAME_MAX; read a
 * page at a time so a short name near the end of a mapping is found. */
static int name_read(const struct ictx *x, char *buf)
{
	size_t got = 0;

	while (got < DEVICE_NAME_MAX) {
		uint64_t at = x->arg + got;
		size_t n = 4096 - (at & 4095);
		int ret;

		if (n > DEVICE_NAME_MAX - got)
			n = DEVICE_NAME_MAX - got;
		ret = vdev_read_arg(x->d, x->vr, at, buf + got, n);
		if (ret < 0)
			return ret;
		if (memchr(buf + got, '\0', n))
			return 0;
		got += n;
	}
	return -EINVAL;
}

/*
 * vfio_group_ioctl_get_device_fd. An ioctl through CUSE cannot give the
 * program a new fd, so the answer is the group's own fd number: the group
 * file answers the device's ioctls and reads and writes from now on (group
 * ioctls are VFIO_BASE + 3..6, the device's 7..17: no number is shared).
 */
static long vgroup_get_device_fd(const struct ictx *x)
{
	char *name = malloc(DEVICE_NAME_MAX);
	int fd, ret;

	if (!name)
		return -ENOMEM;
	ret = name_read(x, name);
	if (ret == 0 && (!x->f->container || !container_has_iommu(x->f->container)))
		ret = -EINVAL;
	if (ret == 0 && strcmp(name, x->d->name))
		ret = -ENODEV;
	if (ret == 0)
		ret = x->d->host.ops->syscall_fd(x->d->host.ctx, x->vr->tid, &fd);
	if (ret == 0) {
		x->f->device_opens++;
		ret = fd;
	}
	if (ret < 0)
		vdev_log(x->d, VU_LOG_INFO, "GROUP_GET_DEVICE_FD: %s", strerror(-ret));
	free(name);
	return ret;
}

/* vfio_df_ioctl_attach_pt: to an IOAS, or an HWPT (the IOAS behind it); a
 * device attached elsewhere moves, as iommufd_device_replace does. */
static long cdev_attach(const struct ictx *x)
{
	struct vfio_device_attach_iommufd_pt a;
	size_t minsz = offsetofend(struct vfio_device_attach_iommufd_pt, pt_id);
	struct vfile *f = x->f;
	struct ioas *s;
	int ret = arg_read(x, 0, &a, minsz);

	if (ret < 0)
		return ret;
	if (a.argsz < minsz || (a.flags & ~VUC_VFIO_DEVICE_ATTACH_PASID))
		return -EINVAL;
	if (a.flags & VUC_VFIO_DEVICE_ATTACH_PASID)
		return -EOPNOTSUPP; /* no PASIDs */
	if (f->pt_id == a.pt_id)
		return 0;
	ret = iommufd_pt_get(f->ictx, a.pt_id, &s);
	if (ret < 0)
		return ret;
	cdev_detach(f);
	ret = ioas_attach(s, x->d);
	if (ret < 0) {
		vdev_log(x->d, VU_LOG_INFO, "ATTACH_IOMMUFD_PT %u: %s", a.pt_id, strerror(-ret));
		iommufd_pt_put(f->ictx, a.pt_id, s);
		return ret;
	}
	f->pt_id = a.pt_id;
	f->ioas = s;
	return arg_write(x, offsetof(struct vfio_device_attach_iommufd_pt, pt_id), &a.pt_id,
	                 sizeof(a.pt_id));
}

static long cdev_detach_pt(const struct ictx *x)
{
	struct vfio_device_detach_iommufd_pt dt;
	size_t minsz = offsetofend(struct vfio_device_detach_iommufd_pt, flags);
	int ret = arg_read(x, 0, &dt, minsz);

	if (ret < 0)
		return ret;
	if (dt.argsz < minsz || dt.flags)
		return -EINVAL;
	cdev_detach(x->f);
	return 0;
}

struct vfio_cmd {
	unsigned int cmd;
	const char *name;
	long (*fn)(const struct ictx *x);
};

static const struct vfio_cmd device_cmds[] = {
    {VFIO_DEVICE_GET_INFO, "DEVICE_GET_INFO", device_get_info},
    {VFIO_DEVICE_GET_REGION_INFO, "DEVICE_GET_REGION_INFO", device_get_region_info},
    {VFIO_DEVICE_GET_IRQ_INFO, "DEVICE_GET_IRQ_INFO", device_get_irq_info},
    {VFIO_DEVICE_SET_IRQS, "DEVICE_SET_IRQS", device_set_irqs},
    {VFIO_DEVICE_RESET, "DEVICE_RESET", device_reset},
    {VFIO_DEVICE_FEATURE, "DEVICE_FEATURE", device_feature},
};

/* The one-fd node's own, before the container's and the device's. */
static const struct vfio_cmd node_cmds[] = {
    {VFIO_GROUP_GET_STATUS, "GROUP_GET_STATUS", group_get_status},
};

/* The device cdev's, once bound, before the device's. */
static const struct vfio_cmd cdev_cmds[] = {
    {VFIO_DEVICE_ATTACH_IOMMUFD_PT, "DEVICE_ATTACH_IOMMUFD_PT", cdev_attach},
    {VFIO_DEVICE_DETACH_IOMMUFD_PT, "DEVICE_DETACH_IOMMUFD_PT", cdev_detach_pt},
};

/* The group's own, before the device's (once opened). */
static const struct vfio_cmd group_cmds[] = {
    {VFIO_GROUP_GET_STATUS, "GROUP_GET_STATUS", vgroup_get_status},
    {VFIO_GROUP_SET_CONTAINER, "GROUP_SET_CONTAINER", vgroup_set_container},
    {VFIO_GROUP_UNSET_CONTAINER, "GROUP_UNSET_CONTAINER", vgroup_unset_container},
    {VFIO_GROUP_GET_DEVICE_FD, "GROUP_GET_DEVICE_FD", vgroup_get_device_fd},
};

/* The device's PCI reset ioctls, on files that are only the device. */
static const struct vfio_cmd reset_cmds[] = {
    {VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, "DEVICE_GET_PCI_HOT_RESET_INFO", device_pci_hot_reset},
    {VFIO_DEVICE_PCI_HOT_RESET, "DEVICE_PCI_HOT_RESET", device_pci_hot_reset},
};

#define CMDS(v) v, sizeof(v) / sizeof(v[0])

/* Run cmd from table v, or answer -ENOTTY. */
static long cmd_run(const struct ictx *x, const struct vfio_cmd *v, size_t n, unsigned int cmd)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].cmd == cmd) {
			long ret = v[i].fn(x);

			vdev_log(x->d, VU_LOG_DEBUG, "%s(0x%llx) = %ld", v[i].name,
			         (unsigned long long)x->arg, ret);
			return ret;
		}
	}
	return -ENOTTY;
}

static bool cmd_known(const struct vfio_cmd *v, size_t n, unsigned int cmd)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].cmd == cmd)
			return true;
	return false;
}

static long node_ioctl(const struct ictx *x, unsigned int cmd)
{
	long ret = cmd_run(x, CMDS(node_cmds), cmd);

	if (ret != -ENOTTY)
		return ret;
	ret = container_ioctl(&x->d->node_ct, &x->d->host, &x->d->lock, x->vr, cmd, x->arg);
	if (ret != -ENOTTY) {
		vdev_log(x->d, VU_LOG_DEBUG, "container ioctl 0x%x(0x%llx) = %ld", cmd,
		         (unsigned long long)x->arg, ret);
		return ret;
	}
	return cmd_run(x, CMDS(device_cmds), cmd);
}

static long cdev_ioctl(const struct ictx *x, unsigned int cmd)
{
	if (cmd == VFIO_DEVICE_BIND_IOMMUFD)
		return x->f->ictx ? -EINVAL : cdev_bind(x);
	if (!x->f->ictx)
		return -EINVAL;
	if (cmd_known(CMDS(cdev_cmds), cmd))
		return cmd_run(x, CMDS(cdev_cmds), cmd);
	if (cmd_known(CMDS(reset_cmds), cmd))
		return cmd_run(x, CMDS(reset_cmds), cmd);
	return cmd_run(x, CMDS(device_cmds), cmd);
}

static long group_ioctl(const struct ictx *x, unsigned int cmd)
{
	if (cmd_known(CMDS(group_cmds), cmd))
		return cmd_run(x, CMDS(group_cmds), cmd);
	if (!x->f->device_opens)
		return -ENOTTY;
	if (cmd_known(CMDS(reset_cmds), cmd))
		return cmd_run(x, CMDS(reset_cmds), cmd);
	return cmd_run(x, CMDS(device_cmds), cmd);
}

long vdev_do_ioctl(struct vdev *d, struct vconn *conn, struct vfile *f, const struct vreq *vr,
                   unsigned int cmd, uint64_t arg)
{
	const struct ictx x = {.d = d, .conn = conn, .f = f, .vr = vr, .arg = arg};
	long ret = f->kind == VFILE_NODE    ? node_ioctl(&x, cmd)
	           : f->kind == VFILE_GROUP ? group_ioctl(&x, cmd)
	                                    : cdev_ioctl(&x, cmd);

	if (ret == -ENOTTY)
		vdev_log(d, VU_LOG_DEBUG, "ioctl 0x%x: ENOTTY", cmd);
	return ret;
}
