/* SPDX-License-Identifier: MIT */
/*
 * Open a VFIO device the way a program does on either kind of system:
 *
 *   - a vfio-user node (/dev/vfio-user/NAME, served by vfio-user-cuse): one fd
 *     answers both the container ioctls and the device ioctls;
 *   - kernel VFIO (/dev/vfio/GROUP plus a device name such as 0000:00:04.0):
 *     open the container, check the group is viable, attach it, set an IOMMU
 *     type and ask the group for the device fd.
 *
 * Programs then use only <linux/vfio.h>: container ioctls on h->container,
 * device ioctls and pread/pwrite on h->device.
 */
#ifndef VFIO_USER_CUSE_COMPAT_VFIO_OPEN_H
#define VFIO_USER_CUSE_COMPAT_VFIO_OPEN_H

enum vfio_kind {
	VFIO_KIND_USER,   /* one fd is container and device */
	VFIO_KIND_KERNEL, /* container, group and device fds */
};

struct vfio_handle {
	enum vfio_kind kind;
	int container;      /* VFIO_GET_API_VERSION, VFIO_SET_IOMMU, MAP_DMA... */
	int group;          /* -1 on a vfio-user node */
	int device;         /* VFIO_DEVICE_* ioctls and region pread/pwrite */
	unsigned int iommu; /* IOMMU type set on the container, 0 if none yet */
	const char *failed; /* on error: the step that failed, for the message */
};

/*
 * Open PATH. DEVICE names the device inside a kernel VFIO group and must be
 * NULL for a vfio-user node. IOMMU is the type to set on the container
 * (VFIO_TYPE1v2_IOMMU...), or 0: a vfio-user node is then left without one
 * (the program sets it when it needs DMA), while kernel VFIO, which hands out
 * no device fd before the container has an IOMMU, gets the best TYPE1 the
 * kernel offers. Returns 0, or -errno with h->failed naming the step.
 */
int vfio_open(const char *path, const char *device, unsigned int iommu, struct vfio_handle *h);

/* Close every fd of H once (on a vfio-user node container == device). */
void vfio_close(struct vfio_handle *h);

#endif
