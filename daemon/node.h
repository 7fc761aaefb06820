/* SPDX-License-Identifier: MIT */
/*
 * One node: its own CUSE session on its own /dev/cuse fd, served by its own
 * libfuse multi-threaded loop, so a slow request on one node never holds up
 * another and the threads of a program pipeline their requests. Each
 * request is handed to the translation core with a cancel token that fires
 * when the caller is signalled, so it gets EINTR at once. Every request is
 * answered. The kinds of node:
 *
 *   NODE_DEVICE  /dev/vfio-user/NAME          the one-fd node (vdev.h VFILE_NODE)
 *   NODE_CDEV    /dev/vfio-user/devices/NAME  the VFIO device cdev (VFILE_CDEV)
 *   NODE_IOMMU   /dev/vfio-user/iommu         the iommufd node (iommufd.h)
 *   NODE_CONTAINER /dev/vfio-user/vfio        the container node (container.h)
 *   NODE_GROUP   /dev/vfio-user/groups/N      the device's VFIO group (VFILE_GROUP)
 */
#ifndef VFIO_USER_CUSE_NODE_H
#define VFIO_USER_CUSE_NODE_H

#include <signal.h>
#include <sys/types.h>

#include "core/host.h"
#include "proto/log.h"
#include "core/container.h"
#include "core/iommufd.h"
#include "core/vdev.h"

/* Sent to a node's loop thread to make it notice that it must exit. The
 * daemon blocks it everywhere else (see node_install_wake_handler). */
#define NODE_WAKE_SIGNAL SIGUSR1

#define NODE_DIR "/dev/vfio-user"

struct node;

enum node_kind {
	NODE_DEVICE,
	NODE_CDEV,
	NODE_IOMMU,
	NODE_CONTAINER,
	NODE_GROUP,
};

struct node_config {
	enum node_kind kind;
	bool quiet_exists;        /* a node already there is -EEXIST, not logged */
	const char *name;         /* the node is NODE_DIR/<name> */
	uid_t uid;                /* (uid_t)-1: keep root */
	gid_t gid;                /* (gid_t)-1: keep root */
	int mode;                 /* -1: keep 0600 */
	unsigned int dev_major;   /* fixed device number; 0: the kernel picks */
	unsigned int dev_minor;   /* its minor, with a dev_major */
	int max_threads;          /* request threads of this node */
	int idle_threads;         /* of which at most this many stay idle */
	int ready_timeout_ms;     /* for the node to appear */
	int stop_timeout_ms;      /* for running requests to end at stop */
	struct host host;         /* to know who is calling (tid -> pid, offsets) */
	const struct vu_log *log; /* the node's log */
	int ended_fd;             /* eventfd bumped when the session ends by itself; -1: none */
};

/* Install the (empty) handler of NODE_WAKE_SIGNAL. Call once, before any
 * node starts, with NODE_WAKE_SIGNAL blocked in the calling thread. */
int node_install_wake_handler(void);

/*
 * Create the node for device d: open /dev/cuse, start the session and its
 * loop, wait (bounded) for the node to appear and give it its owner, group
 * and mode. Returns 0 with *out set, or -errno with the reason logged.
 */
int node_start(const struct node_config *cfg, struct vdev *d, struct node **out);

/*
 * node_start in two halves, so that many nodes come up at once rather than
 * one after the other (each waits for the kernel's CUSE_INIT and for
 * devtmpfs): node_begin opens /dev/cuse and starts the session's loop,
 * node_finish waits for the node and gives it its owner, group and mode.
 * Each returns 0 or -errno with the reason logged; a node that failed is
 * stopped and freed (*out is left alone by node_begin's failure).
 */
int node_begin(const struct node_config *cfg, struct vdev *d, struct node **out);
int node_finish(struct node *n);

/*
 * Which iommufd context fd is, an fd of the daemon's own (taken from a
 * program): a new reference in *out if fd is an open file of the iommufd
 * node n, else -EBADFD. It asks n's own session, which alone knows which
 * open a file is: the daemon's ioctl on the file reaches it as a request of
 * that very open.
 */
int node_iommufd_of(struct node *n, int fd, struct iommufd **out);
/* The same for the container node n: the container fd is an open of. */
int node_container_of(struct node *n, int fd, struct container **out);

/* The node's device number, once started. */
dev_t node_rdev(const struct node *n);

/*
 * Stop the node: answer every running request (the callers get
 * ECONNABORTED), end the session (the node disappears; later calls on open
 * fds get ENOTCONN from the kernel), release what programs left open (the
 * core unmaps their DMA and frees the device), free n. The vdev stays the
 * caller's. Returns 0, or -ETIMEDOUT if requests were still running after
 * stop_timeout_ms (then the node is left as it is, for the process to exit).
 */
int node_stop(struct node *n);

#endif
