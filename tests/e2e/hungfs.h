/* SPDX-License-Identifier: MIT */
/*
 * A FUSE filesystem whose reads never come back, for the tests of memory a
 * daemon must not wait on. One file, HUNGFS_FILE, of HUNGFS_SIZE bytes; the
 * server answers every request but READ, which it takes off the queue and
 * sits on, so the kernel waits for its answer uninterruptibly (not even
 * SIGKILL ends the wait) until the filesystem's /dev/fuse fd closes.
 *
 * Root mounts it for a user (as fusermount3 does for any user on a system
 * with fuse3); whoever holds the fd serves it.
 */
#ifndef VUC_TESTS_HUNGFS_H
#define VUC_TESTS_HUNGFS_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#define HUNGFS_FILE "f"
#define HUNGFS_SIZE (1u << 20)

struct hungfs {
	char dir[PATH_MAX];
	int dev;           /* /dev/fuse, -1 once closed */
	atomic_uint reads; /* READs taken, never answered */
	atomic_bool stop;
	bool serving;
	pthread_t server;
};

/* Mount at dir (which exists) for uid/gid. 0 or -errno. */
int hungfs_mount(struct hungfs *h, const char *dir, uid_t uid, gid_t gid);
/* Serve it from a new thread of the caller. 0 or -errno. */
int hungfs_serve(struct hungfs *h);
/* Stop serving, close our fd (the last one ends every wait on the
 * filesystem) and detach the mount. */
void hungfs_end(struct hungfs *h);

#endif
