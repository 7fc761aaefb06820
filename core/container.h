/* SPDX-License-Identifier: MIT */
/*
 * The container: what one open of the kernel's /dev/vfio/vfio is, served by
 * the daemon's container node. It holds the groups set to it (a group node
 * per device) and, once VFIO_SET_IOMMU has chosen TYPE1, the DMA space of
 * ioas.h that every group's device is attached to: a mapping reaches every
 * device's server. Removing the last group returns the container to its
 * unset state (its mappings go), as drivers/vfio/container.c does.
 *
 * The container lives while its file is open or a group is set to it.
 */
#ifndef VFIO_USER_CUSE_CONTAINER_H
#define VFIO_USER_CUSE_CONTAINER_H

#include <stdint.h>

#include "host.h"
#include "proto/log.h"

struct container;
struct vreq;

struct container_config {
	const char *name; /* for log lines */
	struct host host;
	const struct vu_log *log;
};

/* An open of the container node; its close is container_put. */
int container_create(const struct container_config *cfg, struct container **out);
void container_get(struct container *k);
void container_put(struct container *k);

/* An ioctl on the container node, answered as vfio_fops_unl_ioctl. */
long container_file_ioctl(struct container *k, const struct vreq *vr, unsigned int cmd,
                          uint64_t arg);

#endif
