/* SPDX-License-Identifier: MIT */
/*
 * What the example programs ask a VFIO device, with the argsz dance of
 * <linux/vfio.h> done once: info structs that may carry a capability chain
 * are fetched twice when the first answer says it needs more room.
 */
#ifndef VFIO_USER_CUSE_EXAMPLES_VFIO_QUERY_H
#define VFIO_USER_CUSE_EXAMPLES_VFIO_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include <linux/vfio.h>

/* Device info with its capabilities; free() the result. 0 or -errno. */
int vq_device_info(int dev, struct vfio_device_info **out);

/* Region info with its capabilities; free() the result. 0 or -errno. */
int vq_region_info(int dev, uint32_t index, struct vfio_region_info **out);

int vq_irq_info(int dev, uint32_t index, struct vfio_irq_info *out);

/*
 * The capability after PREV (NULL: the first, at FIRST) in an info struct of
 * SIZE bytes, or NULL at the end of the chain. A chain that leaves the struct,
 * is misaligned or points backwards ends with *bad set, so a broken answer
 * can never loop.
 */
const struct vfio_info_cap_header *vq_cap_next(const void *info, size_t size, uint32_t first,
                                               const struct vfio_info_cap_header *prev, int *bad);

/* Whole-length region access at OFF inside region R: 0, -errno, or -EIO when short. */
int vq_read(int dev, const struct vfio_region_info *r, uint64_t off, void *buf, size_t len);
int vq_write(int dev, const struct vfio_region_info *r, uint64_t off, const void *buf, size_t len);

#endif
