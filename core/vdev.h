/* SPDX-License-Identifier: MIT */
/*
 * The translation core: one struct vdev per device node, holding the
 * connection to its vfio-user server, the device/region/IRQ info cached at
 * connect, the owner process and its DMA table. It turns VFIO ioctls and
 * region reads/writes into vfio-user requests, and answers as the kernel's
 * vfio-pci would. It knows nothing of CUSE: daemon/node.c calls it for each
 * request, and tests/core drives it directly with a fake host.
 *
 * All entry points are thread-safe; requests of one owner pipeline.
 * Every return is >= 0 on success or -errno exactly as the kernel returns it.
 * Once the server is gone every call fails with -EIO; a timeout is
 * -ETIMEDOUT and a fired cancel token -EINTR. After the server comes back,
 * files opened before stay at -EIO until closed; new opens work.
 */
#ifndef VFIO_USER_CUSE_VDEV_H
#define VFIO_USER_CUSE_VDEV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "host.h"
#include "proto/log.h"

struct vdev;
struct vfile;
struct vu_cancel;

/* The kinds of open file of a device. */
enum vfile_kind {
	VFILE_NODE,  /* /dev/vfio-user/NAME: the device and its own container in one fd */
	VFILE_CDEV,  /* the VFIO device cdev: bound to an iommufd context, then attached */
	VFILE_GROUP, /* the device's VFIO group: set to a container, then the device */
};

/* One request from a program: who made it and how to interrupt it. */
struct vreq {
	pid_t pid;                /* the process (thread group) */
	pid_t tid;                /* the thread */
	struct vu_cancel *cancel; /* fired when the program is signalled; may be NULL */
};

struct iommufd;
struct container;

struct vdev_config {
	const char *name;   /* node name, for log lines */
	const char *server; /* vfio-user server address (see vu_client_connect) */
	int timeout_ms;     /* per server request */
	struct host host;
	const struct vu_log *log;
	/*
	 * VFIO_DEVICE_BIND_IOMMUFD names an iommufd by the caller's fd: the
	 * daemon knows which of its iommufd contexts (iommufd.h) that open file
	 * is. A new reference in *out, or -EBADF when pid has no such fd,
	 * -EBADFD when it is not an iommufd. NULL: binding is refused.
	 */
	int (*iommufd_get)(void *arg, pid_t pid, int fd, struct iommufd **out);
	/* VFIO_GROUP_SET_CONTAINER likewise: the container (container.h) open
	 * as pid's fd, referenced; -EBADF, or -EINVAL when it is none. */
	int (*container_get)(void *arg, pid_t pid, int fd, struct container **out);
	void *iommufd_arg; /* for both */
};

/*
 * Create a device and connect to its server (negotiate, cache info). If the
 * server cannot be reached the error is returned, logged in one line with
 * its diagnosis (the daemon refuses to start a node for a server it never
 * saw). After a later disconnect the device says so once, reconnects by
 * itself with backoff (each failed try logged at debug level only) and says
 * once that the server is back; a server reached through an inherited
 * socket (fd:N) stays gone.
 */
int vdev_create(const struct vdev_config *cfg, struct vdev **out);
void vdev_destroy(struct vdev *d);

/* A program opened a file of the device. A one-fd node: -EBUSY while
 * another open file of it exists, whatever the process (one open at a time,
 * as a VFIO group), while its group is open, or a device cdev file is bound
 * to an iommufd. The group: one open at a time, -EBUSY as well when the
 * one-fd node is open or the cdev bound. A device cdev opens always; its
 * VFIO_DEVICE_BIND_IOMMUFD takes the device. */
int vdev_open(struct vdev *d, const struct vreq *vr, enum vfile_kind kind, struct vfile **out);

/* The program's file was closed (its last fd: dup and fork share one file).
 * The last close of the one-fd node (for a device cdev, of the bound file)
 * unmaps its DMA, disables its interrupts, closes every fd taken from it,
 * resets the device if it can, and frees the device for the next. */
void vdev_release(struct vdev *d, struct vfile *f);

/* A VFIO ioctl; arg is the pointer (or value) as the program passed it. */
long vdev_ioctl(struct vdev *d, struct vfile *f, const struct vreq *vr, unsigned int cmd,
                uint64_t arg);

/* Read the device's PCI config space (for the daemon's sysfs-like tree):
 * 0, or -EIO without a server, -EINVAL for a device without one. */
int vdev_pci_config(struct vdev *d, uint32_t off, void *buf, size_t len);

/* Region I/O at the VFIO offset (region index << 40 | offset in region). */
ssize_t vdev_read(struct vdev *d, struct vfile *f, const struct vreq *vr, uint64_t off, void *buf,
                  size_t len);
ssize_t vdev_write(struct vdev *d, struct vfile *f, const struct vreq *vr, uint64_t off,
                   const void *buf, size_t len);

#endif
