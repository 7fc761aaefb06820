// SPDX-License-Identifier: MIT
/* Opening a VFIO device on a vfio-user node or through kernel VFIO groups. */
#include "vfio_open.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>

#define VFIO_CONTAINER_PATH "/dev/vfio/vfio"

static int fail(struct vfio_handle *h, const char *step, int err)
{
	h->failed = step;
	return -err;
}

static int check_api(struct vfio_handle *h, int fd)
{
	int ver = ioctl(fd, VFIO_GET_API_VERSION);

	if (ver < 0)
		return fail(h, "not a VFIO node (VFIO_GET_API_VERSION)", errno);
	if (ver != VFIO_API_VERSION)
		return fail(h, "VFIO API version differs from <linux/vfio.h>", EPROTO);
	return 0;
}

/* The type to set when the caller left it to us: type1v2, else type1. */
static unsigned int best_iommu(int container)
{
	if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0)
		return VFIO_TYPE1v2_IOMMU;
	if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) > 0)
		return VFIO_TYPE1_IOMMU;
	return 0;
}

static int set_iommu(struct vfio_handle *h, unsigned int iommu)
{
	if (ioctl(h->container, VFIO_CHECK_EXTENSION, iommu) <= 0)
		return fail(h, "VFIO_CHECK_EXTENSION: IOMMU type not supported", EINVAL);
	if (ioctl(h->container, VFIO_SET_IOMMU, iommu) < 0)
		return fail(h, "VFIO_SET_IOMMU", errno);
	h->iommu = iommu;
	return 0;
}

/*
 * Without a device name the path must be a vfio-user node. A kernel group
 * answers group ioctls but not GET_API_VERSION: say so instead of ENOTTY.
 */
static int open_user(struct vfio_handle *h, const char *path, unsigned int iommu)
{
	struct vfio_group_status st = {.argsz = sizeof(st)};
	int fd, ret;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(h, "open", errno);
	h->container = h->device = fd;
	ret = check_api(h, fd);
	if (ret == -ENOTTY && ioctl(fd, VFIO_GROUP_GET_STATUS, &st) == 0)
		ret = fail(h, "this is a VFIO group: name the device too", EINVAL);
	if (ret == 0 && iommu)
		ret = set_iommu(h, iommu);
	return ret;
}

static int open_kernel(struct vfio_handle *h, const char *path, const char *device,
                       unsigned int iommu)
{
	struct vfio_group_status st = {.argsz = sizeof(st)};
	int fd, ret;

	h->container = open(VFIO_CONTAINER_PATH, O_RDWR | O_CLOEXEC);
	if (h->container < 0)
		return fail(h, "open " VFIO_CONTAINER_PATH, errno);
	ret = check_api(h, h->container);
	if (ret)
		return ret;
	h->group = open(path, O_RDWR | O_CLOEXEC);
	if (h->group < 0)
		return fail(h, "open group", errno);
	if (ioctl(h->group, VFIO_GROUP_GET_STATUS, &st) < 0)
		return fail(h, "VFIO_GROUP_GET_STATUS", errno);
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		return fail(h, "group not viable: bind all its devices to vfio-pci", EBUSY);
	if (ioctl(h->group, VFIO_GROUP_SET_CONTAINER, &h->container) < 0)
		return fail(h, "VFIO_GROUP_SET_CONTAINER", errno);
	if (!iommu)
		iommu = best_iommu(h->container);
	if (!iommu)
		return fail(h, "no TYPE1 IOMMU in this kernel", ENODEV);
	ret = set_iommu(h, iommu);
	if (ret)
		return ret;
	fd = ioctl(h->group, VFIO_GROUP_GET_DEVICE_FD, device);
	if (fd < 0)
		return fail(h, "VFIO_GROUP_GET_DEVICE_FD", errno);
	h->device = fd;
	return 0;
}

int vfio_open(const char *path, const char *device, unsigned int iommu, struct vfio_handle *h)
{
	int ret;

	*h = (struct vfio_handle){.container = -1, .group = -1, .device = -1};
	if (device) {
		h->kind = VFIO_KIND_KERNEL;
		ret = open_kernel(h, path, device, iommu);
	} else {
		h->kind = VFIO_KIND_USER;
		ret = open_user(h, path, iommu);
	}
	if (ret) {
		const char *failed = h->failed;

		vfio_close(h);
		h->failed = failed;
	}
	return ret;
}

void vfio_close(struct vfio_handle *h)
{
	if (h->device >= 0 && h->device != h->container)
		close(h->device);
	if (h->group >= 0)
		close(h->group);
	if (h->container >= 0)
		close(h->container);
	*h = (struct vfio_handle){.container = -1, .group = -1, .device = -1};
}
