/* SPDX-License-Identifier: MIT */
/*
 * The command line of vfio-user-cuse:
 *
 *   vfio-user-cuse [options] NAME=SERVER ...
 *
 * Each NAME=SERVER pair makes /dev/vfio-user/NAME, served by the vfio-user
 * server at SERVER (a unix socket path, unix:PATH, tcp:HOST:PORT, or fd:N,
 * a connected socket the daemon inherits).
 */
#ifndef VFIO_USER_CUSE_OPTIONS_H
#define VFIO_USER_CUSE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "proto/log.h"

#define OPT_MAX_NODES      256 /* devices one daemon serves */
#define OPT_NAME_MAX       64  /* characters in a NAME */
#define OPT_TIMEOUT_MAX_MS 3600000
#define OPT_MAJOR_MAX      511     /* the kernel's char majors end at 511 */
#define OPT_MINOR_MAX      1048575 /* 20 bits */

struct opt_node {
	char *name;                /* the node is /dev/vfio-user/<name> */
	char *server;              /* always with its scheme: unix:PATH, tcp:HOST:PORT or fd:N */
	unsigned int major, minor; /* --devnum; major 0: the kernel picks */
	unsigned int cdev_major, cdev_minor; /* the same for devices/<name> */
};

/* A --devnum=NODE=MAJOR:MINOR as given (NODE: NAME, devices/NAME or the
 * iommufd node's name), matched to its node at the end. */
struct opt_devnum {
	char name[sizeof("devices/") + OPT_NAME_MAX];
	unsigned int major, minor;
};

/* The device models served (--models): the one-fd node, the kernel's
 * iommufd + device cdev, the kernel's container + group. */
#define OPT_MODEL_NODE    1u
#define OPT_MODEL_IOMMUFD 2u
#define OPT_MODEL_LEGACY  4u

struct options {
	int timeout_ms;                      /* per server request */
	uid_t uid;                           /* (uid_t)-1: leave the node's owner alone */
	gid_t gid;                           /* (gid_t)-1: leave its group alone */
	int mode;                            /* -1: leave its mode (0600) alone */
	bool dma_by_message;                 /* never share a file of program memory */
	enum vu_log_level level;             /* from -v/-q */
	bool help, version;                  /* print and exit; nodes are not checked */
	char iommufd[OPT_NAME_MAX + 1];      /* the iommufd node is /dev/vfio-user/<iommufd> */
	char container[OPT_NAME_MAX + 1];    /* the container node, likewise */
	bool iommufd_given, container_given; /* by the options, not the defaults */
	unsigned int group_base;             /* device i's group is group_base + i */
	char *sysfs;                         /* the sysfs-like tree's top, or NULL */
	unsigned int models;                 /* OPT_MODEL_* to serve */
	size_t nr_nodes;
	struct opt_node nodes[OPT_MAX_NODES];
	size_t nr_devnums;
	struct opt_devnum devnums[OPT_MAX_NODES];
	/* The iommufd node's --devnum; major 0: the kernel picks. */
	unsigned int iommu_major, iommu_minor;
};

/*
 * Parse argv into *o. Returns 0, or -EINVAL with a one-line reason in err
 * (what was wrong and with which argument). *o must be freed with
 * options_free either way.
 */
int options_parse(struct options *o, int argc, char **argv, char *err, size_t errlen);
void options_free(struct options *o);

void options_usage(FILE *f, const char *prog);

#endif
