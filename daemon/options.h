/* SPDX-License-Identifier: MIT */
/*
 * The command line of vfio-user-cuse:
 *
 *   vfio-user-cuse [options] NAME=SERVER ...
 *
 * Each NAME=SERVER pair makes /dev/vfio-user/NAME, served by the vfio-user
 * server at SERVER (a unix socket path, unix:PATH, or tcp:HOST:PORT).
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

struct opt_node {
	char *name;   /* the node is /dev/vfio-user/<name> */
	char *server; /* always with its scheme: unix:PATH or tcp:HOST:PORT */
};

struct options {
	int timeout_ms;          /* per server request */
	uid_t uid;               /* (uid_t)-1: leave the node's owner alone */
	gid_t gid;               /* (gid_t)-1: leave its group alone */
	int mode;                /* -1: leave its mode (0600) alone */
	bool dma_by_message;     /* never share a file of program memory */
	enum vu_log_level level; /* from -v/-q */
	bool help, version;      /* print and exit; nodes are not checked */
	size_t nr_nodes;
	struct opt_node nodes[OPT_MAX_NODES];
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
