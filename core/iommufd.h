/* SPDX-License-Identifier: MIT */
/*
 * The iommufd context: what one open of the kernel's /dev/iommu is, served
 * by the daemon's iommufd node. It holds objects by id, as
 * drivers/iommu/iommufd/main.c does: IO address spaces (IOAS, a DMA space
 * of ioas.h each), page tables allocated on them (HWPT: the devices here
 * have no IOMMU of their own, so an HWPT is the IOAS behind it) and the
 * devices bound to it (their device cdev's VFIO_DEVICE_BIND_IOMMUFD).
 *
 * The context lives while its file is open or a device is bound to it, as
 * a bound device holds the kernel's context too. Every entry point is
 * thread-safe and returns >= 0 or -errno as the kernel returns it.
 */
#ifndef VFIO_USER_CUSE_IOMMUFD_H
#define VFIO_USER_CUSE_IOMMUFD_H

#include <stdint.h>

#include "host.h"
#include "proto/log.h"

struct iommufd;
struct ioas;
struct vdev;
struct vreq;

struct iommufd_config {
	const char *name; /* for log lines */
	struct host host;
	const struct vu_log *log;
};

/* An open of the iommufd node; its close is iommufd_put. */
int iommufd_create(const struct iommufd_config *cfg, struct iommufd **out);
void iommufd_get(struct iommufd *ictx);
/* The last reference destroys every object (each IOAS and its mappings). */
void iommufd_put(struct iommufd *ictx);

/* An IOMMU_* ioctl on the node; others get -ENOTTY. */
long iommufd_ioctl(struct iommufd *ictx, const struct vreq *vr, unsigned int cmd, uint64_t arg);

/* VFIO_DEVICE_BIND_IOMMUFD: a device object for d; it holds a reference
 * on the context until iommufd_unbind. */
int iommufd_bind(struct iommufd *ictx, struct vdev *d, uint32_t *devid);
void iommufd_unbind(struct iommufd *ictx, uint32_t devid);

/* The space behind an IOAS or HWPT id, referenced, its object held busy
 * (IOMMU_DESTROY gets EBUSY) until iommufd_pt_put. -ENOENT for no such
 * object, -EINVAL for an object of another kind. */
int iommufd_pt_get(struct iommufd *ictx, uint32_t pt_id, struct ioas **out);
void iommufd_pt_put(struct iommufd *ictx, uint32_t pt_id, struct ioas *s);

#endif
