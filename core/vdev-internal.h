/* SPDX-License-Identifier: MIT */
/*
 * The translation core's shared state, seen only by its own files:
 *   vdev.c    lifetime, connection and reconnect, owner, release cleanup
 *   info.c    device/region/IRQ info cached at connect
 *   ioctl.c   the VFIO ioctl table and its handlers
 *   dma.c     the DMA table and the server's DMA requests
 *   region.c  region read/write
 *
 * Locking: d->lock guards everything in struct vdev except the DMA table,
 * which has its own lock (the server's DMA requests take it on the reader
 * thread). No lock is held across a call to the server: a server may send a
 * DMA request while it answers us, and that request must find the DMA table
 * free.
 */
#ifndef VFIO_USER_CUSE_VDEV_INTERNAL_H
#define VFIO_USER_CUSE_VDEV_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vfio.h>

#include "dma.h"
#include "vdev.h"
#include "proto/client.h"
#include "proto/msg.h"

/* vfio-pci's region offsets: index in the top 24 bits of the file offset. */
#define VDEV_OFFSET_SHIFT 40
#define VDEV_OFFSET_MASK  ((1ull << VDEV_OFFSET_SHIFT) - 1)

/* More than any VFIO device has; a server claiming more is refused. */
#define VDEV_MAX_REGIONS 64
#define VDEV_MAX_IRQS    64
/* Vectors of one IRQ index: MSI-X's 2048, the most PCI allows. A larger
 * count from the server is cut here, so SET_IRQS never allocates or passes
 * on more than 2048 entries whatever the server claims. */
#define VDEV_MAX_IRQ_COUNT 2048

/* One region as a VFIO program sees it: the fixed part plus the capability
 * chain laid out as the kernel would return it (first cap at offset 32). */
struct vregion {
	int err; /* the server's answer when it refused the index, else 0 */
	struct vfio_region_info info;
	void *caps; /* caps_len bytes, "next" offsets from the start of info */
	size_t caps_len;
};

struct virq {
	int err;
	struct vfio_irq_info info;
};

/*
 * One connection to the server and what it told us at connect. Referenced by
 * every call in flight; freed by the reconnect thread once unreferenced.
 */
struct vconn {
	struct vdev *d;
	struct vu_client *c;
	uint64_t gen;
	unsigned int refs;
	struct vu_caps caps;
	struct vfio_device_info dev;
	struct vregion *regions; /* dev.num_regions */
	struct virq *irqs;       /* dev.num_irqs */
};

struct vfile {
	uint64_t gen; /* connection generation it was opened on */
};

struct vdev {
	char *name;
	char *server;
	int timeout_ms;
	bool dma_by_message;
	struct host host;
	const struct vu_log *log;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vconn *conn; /* NULL between a disconnect and the reconnect */
	uint64_t gen;
	bool lost;     /* the server went away; the reconnect thread takes over */
	bool stopping; /* vdev_destroy */
	pthread_t reconnector;

	pid_t owner;                   /* who opened it, for log lines; 0: nobody */
	unsigned int nr_open;          /* open files of this generation: 0 or 1 */
	bool releasing;                /* the owner's last close is being cleaned up */
	uint32_t iommu_type;           /* 0 until VFIO_SET_IOMMU */
	bool irq_armed[VDEV_MAX_IRQS]; /* eventfds were given to the server */

	struct dma_table dma;
};

/* Log a line prefixed with the node name. */
void vdev_log(const struct vdev *d, enum vu_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The live connection for a request on f, referenced; NULL when the server
 * is gone or f was opened on an earlier connection (the caller answers -EIO).
 * Drop with vconn_put.
 */
struct vconn *vconn_get(struct vdev *d, const struct vfile *f);
void vconn_put(struct vconn *c);

/* Call options for a request: the node's timeout and the request's cancel. */
struct vu_call_opts vdev_call_opts(const struct vdev *d, const struct vreq *r);

/* A proto error as a VFIO program should see it. */
int vdev_errno(struct vdev *d, int err);

/* Copy to and from the calling process. */
int vdev_read_arg(struct vdev *d, const struct vreq *r, uint64_t addr, void *buf, size_t len);
int vdev_write_arg(struct vdev *d, const struct vreq *r, uint64_t addr, const void *buf,
                   size_t len);

/* Note which IRQ indexes hold eventfds, so release can disarm them. */
void vdev_irq_armed(struct vdev *d, uint32_t index, bool armed);

/* info.c: fill c->dev, c->regions, c->irqs from the server; free them. */
int info_cache_fill(struct vdev *d, struct vconn *c);
void info_cache_free(struct vconn *c);

/* ioctl.c */
long vdev_do_ioctl(struct vdev *d, struct vconn *c, const struct vreq *r, unsigned int cmd,
                   uint64_t arg);

/* region.c */
ssize_t vdev_region_rw(struct vdev *d, struct vconn *c, const struct vreq *r, uint64_t off,
                       void *buf, size_t len, bool write);

#endif
