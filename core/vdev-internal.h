/* SPDX-License-Identifier: MIT */
/*
 * The translation core's shared state, seen only by its own files:
 *   vdev.c      lifetime, connection and reconnect, files, release cleanup
 *   info.c      device/region/IRQ info cached at connect
 *   ioctl.c     the ioctl tables of the device, of the one-fd node and of
 *               the device cdev, and the device's handlers
 *   container.c the TYPE1 container interface over a DMA space
 *   ioas.c      the DMA space (ioas.h)
 *   iommufd.c   the iommufd context (iommufd.h)
 *   region.c    region read/write
 *
 * Locking: d->lock guards everything in struct vdev. No lock of the device
 * is held across a call to the server: a server may send a DMA request
 * while it answers us, and that request must find the device and its DMA
 * space free. A DMA space's op_lock comes before d->lock.
 */
#ifndef VFIO_USER_CUSE_VDEV_INTERNAL_H
#define VFIO_USER_CUSE_VDEV_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vfio.h>

#include "ioas.h"
#include "vdev.h"
#include "proto/client.h"
#include "proto/diag.h"
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
 * chain laid out as the kernel would return it (first cap at offset 32).
 * Unchanging once cached (under d->lock); until then nothing is known. */
struct vregion {
	bool cached; /* the server answered: info, or its refusal in err */
	int err;     /* the server's answer when it refused the index, else 0 */
	struct vfio_region_info info;
	void *caps; /* caps_len bytes, "next" offsets from the start of info */
	size_t caps_len;
};

struct virq {
	bool cached;
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
	struct vu_connect_log log; /* the client's log: quiet while connecting */
	uint64_t gen;
	unsigned int refs;
	struct vu_caps caps;
	struct vfio_device_info dev;
	struct vregion *regions; /* dev.num_regions */
	struct virq *irqs;       /* dev.num_irqs */
};

/* The TYPE1 interface (drivers/vfio/container.c) over a DMA space. */
struct vcontainer {
	uint32_t iommu_type; /* 0 until VFIO_SET_IOMMU */
	struct ioas *ioas;
};

/* An open file of a device: the one-fd node (device and its own
 * container) or the device cdev (bound to an iommufd context, attached to
 * one of its IOAS or HWPT). */
struct vfile {
	struct vdev *d;
	enum vfile_kind kind;
	uint64_t gen; /* connection generation it was opened on */
	/* VFILE_CDEV */
	struct iommufd *ictx; /* bound, or NULL */
	uint32_t devid;       /* its device object in ictx */
	uint32_t pt_id;       /* attached IOAS or HWPT, or 0 */
	struct ioas *ioas;    /* the space behind pt_id */
	/* VFILE_GROUP */
	struct container *container; /* set to, or NULL */
	unsigned int device_opens;   /* VFIO_GROUP_GET_DEVICE_FD calls */
};

/*
 * Where the device's connection is. UP -> LOST when the server goes away
 * (or already was when the connection was published); the reconnect thread
 * then retires it (LOST -> DOWN) and publishes the next one (DOWN -> UP).
 */
enum vdev_state {
	VDEV_DOWN, /* no connection: before the first, between two */
	VDEV_UP,   /* calls go to the server */
	VDEV_LOST, /* the server went away; the reconnect thread takes over */
};

struct vdev {
	char *name;
	char *server;
	int timeout_ms;
	struct host host;
	const struct vu_log *log;
	int (*iommufd_get)(void *arg, pid_t pid, int fd, struct iommufd **out);
	int (*container_get)(void *arg, pid_t pid, int fd, struct container **out);
	void *iommufd_arg;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* The connection and its state, set together by conn_set. */
	struct vconn *conn; /* NULL exactly when state is VDEV_DOWN */
	enum vdev_state state;
	uint64_t gen;
	bool stopping; /* vdev_destroy; ends the reconnect thread in any state */
	pthread_t reconnector;

	pid_t owner;                   /* of the one-fd node, for log lines; 0: nobody */
	unsigned int nr_open;          /* its open files of this generation: 0 or 1 */
	bool releasing;                /* the owner's last close is being cleaned up */
	struct vfile *bound;           /* the device cdev file bound to an iommufd */
	struct vfile *group;           /* the group's one open file */
	struct vcontainer node_ct;     /* the one-fd node's own container */
	struct ioas *ioas;             /* the space the server mirrors, or NULL */
	bool irq_armed[VDEV_MAX_IRQS]; /* eventfds were given to the server */
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
void vconn_put(struct vconn *conn);

/* Call options for a request: the node's timeout and the request's cancel. */
struct vu_call_opts vdev_call_opts(const struct vdev *d, const struct vreq *vr);

/* A proto error as a VFIO program should see it. */
int vdev_errno(struct vdev *d, int err);

/* Copy to and from the calling process. */
int vdev_read_arg(struct vdev *d, const struct vreq *vr, uint64_t addr, void *buf, size_t len);
int vdev_write_arg(struct vdev *d, const struct vreq *vr, uint64_t addr, const void *buf,
                   size_t len);

/* What a DMA space asks of a device it holds: map and unmap on its server
 * (-ENOTCONN when the server is gone), the server's limits, and where the
 * server's DMA requests go. */
int vdev_dma_map(struct vdev *d, uint64_t iova, uint64_t size, uint32_t prot, int fd, uint64_t off);
int vdev_dma_unmap(struct vdev *d, uint64_t iova, uint64_t size);
uint64_t vdev_dma_pgsizes(struct vdev *d);
uint64_t vdev_dma_pgsize(struct vdev *d);
uint32_t vdev_dma_max_maps(struct vdev *d);
bool vdev_dma_pass_fds(struct vdev *d);
void vdev_set_ioas(struct vdev *d, struct ioas *s);

/* Note which IRQ indexes hold eventfds, so release can disarm them. */
void vdev_irq_armed(struct vdev *d, uint32_t index, bool armed);

/*
 * info.c: fill conn->dev, conn->regions, conn->irqs from the server; free them. An
 * index whose query failed on this side (a timeout, no memory...) is left
 * uncached; vdev_info_cache_fill fails only when the connection is lost or the
 * server's answers are malformed.
 */
int vdev_info_cache_fill(struct vdev *d, struct vconn *conn);
void vdev_info_cache_free(struct vconn *conn);

/*
 * The cached info of region (IRQ) index < num_regions (num_irqs), asked of
 * the server now if it is not cached yet. 0 with *out set (its err is the
 * server's refusal of the index, kept for the connection's life), or this
 * side's -errno (then nothing is cached and the next call asks again).
 */
int vdev_info_region(struct vdev *d, struct vconn *conn, const struct vreq *vr, uint32_t index,
                     const struct vregion **out);
int vdev_info_irq(struct vdev *d, struct vconn *conn, const struct vreq *vr, uint32_t index,
                  const struct virq **out);

/* ioctl.c: the ioctls of a file of d. */
long vdev_do_ioctl(struct vdev *d, struct vconn *conn, struct vfile *f, const struct vreq *vr,
                   unsigned int cmd, uint64_t arg);

/* ioctl.c: a device cdev file leaves its iommufd (detached first); a group
 * file leaves its container; whether a file has the device (a cdev bound, a
 * group whose device was opened, the one-fd node). */
void vfile_unbind(struct vfile *f);
void vfile_unset_container(struct vfile *f);
bool vfile_has_device(const struct vfile *f);

/* container.c: a group set to container k (its device attached at once if
 * the container has its IOMMU), a group leaving it (the last one returns
 * the container to unset; detach false for a group whose device a
 * reconnect took already), whether it has its IOMMU. */
int container_add_group(struct container *k, struct vdev *d);
void container_del_group(struct container *k, struct vdev *d, bool detach);
bool container_has_iommu(struct container *k);

/* container.c: a TYPE1 container ioctl, or -ENOTTY for others. pgsizes is
 * what the devices behind it take. */
long container_ioctl(struct vcontainer *ct, const struct host *host, pthread_mutex_t *lock,
                     const struct vreq *vr, unsigned int cmd, uint64_t arg);

/* region.c */
ssize_t vdev_region_rw(struct vdev *d, struct vconn *conn, const struct vreq *vr, uint64_t off,
                       void *buf, size_t len, bool write);

#endif
