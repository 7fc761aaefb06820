// SPDX-License-Identifier: MIT
/* The never-answering FUSE filesystem of hungfs.h, spoken raw
 * (<linux/fuse.h>): no libfuse, no fusermount. */
#include "hungfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define HUNGFS_BUF (FUSE_MIN_READ_BUFFER + (128u << 10))

static void fuse_answer(int dev, uint64_t unique, int err, const void *out, size_t len)
{
	struct fuse_out_header h = {.unique = unique, .error = err};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)out, err ? 0 : len}};

	h.len = sizeof(h) + iov[1].iov_len;
	if (writev(dev, iov, 2) < 0 && errno != ENOENT)
		perror("fuse reply");
}

static void fuse_attr_of(struct fuse_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0644;
	a->nlink = 1;
	a->size = ino == FUSE_ROOT_ID ? 0 : HUNGFS_SIZE;
	a->blocks = a->size / 512;
	a->blksize = 4096;
}

static void fuse_init(struct hungfs *h, const struct fuse_in_header *in)
{
	const struct fuse_init_in *ii = (const void *)(in + 1);
	struct fuse_init_out o = {
	    .major = FUSE_KERNEL_VERSION,
	    .minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ? ii->minor : FUSE_KERNEL_MINOR_VERSION,
	    .max_readahead = ii->max_readahead,
	    .max_background = 16,
	    .congestion_threshold = 12,
	    .max_write = 4096,
	    .time_gran = 1};

	fuse_answer(h->dev, in->unique, 0, &o, sizeof(o));
}

static void fuse_one(struct hungfs *h, const struct fuse_in_header *in)
{
	union {
		struct fuse_entry_out entry;
		struct fuse_attr_out attr;
		struct fuse_open_out open;
	} o;

	memset(&o, 0, sizeof(o));
	switch (in->opcode) {
	case FUSE_INIT:
		fuse_init(h, in);
		break;
	case FUSE_LOOKUP:
		if (in->nodeid != FUSE_ROOT_ID || strcmp((const char *)(in + 1), HUNGFS_FILE)) {
			fuse_answer(h->dev, in->unique, -ENOENT, NULL, 0);
			break;
		}
		o.entry.nodeid = 2;
		o.entry.generation = 1;
		o.entry.entry_valid = o.entry.attr_valid = 3600;
		fuse_attr_of(&o.entry.attr, 2);
		fuse_answer(h->dev, in->unique, 0, &o.entry, sizeof(o.entry));
		break;
	case FUSE_GETATTR:
		o.attr.attr_valid = 3600;
		fuse_attr_of(&o.attr.attr, in->nodeid);
		fuse_answer(h->dev, in->unique, 0, &o.attr, sizeof(o.attr));
		break;
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		o.open.fh = 1;
		fuse_answer(h->dev, in->unique, 0, &o.open, sizeof(o.open));
		break;
	case FUSE_READ:
		/* Taken off the queue, so the reader waits for good. */
		atomic_fetch_add(&h->reads, 1);
		break;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		break;
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		fuse_answer(h->dev, in->unique, 0, NULL, 0);
		break;
	default:
		fuse_answer(h->dev, in->unique, -ENOSYS, NULL, 0);
	}
}

/* Polls, so that hungfs_end never closes the fd under a read: the file
 * would outlive the close, and the waits on it with it. */
static void *serve(void *arg)
{
	struct hungfs *h = arg;
	char *buf = malloc(HUNGFS_BUF);
	struct pollfd p = {.fd = h->dev, .events = POLLIN};

	while (buf && !atomic_load(&h->stop)) {
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = read(h->dev, buf, HUNGFS_BUF);
		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(struct fuse_in_header))
			break;
		fuse_one(h, (const struct fuse_in_header *)buf);
	}
	free(buf);
	return NULL;
}

int hungfs_mount(struct hungfs *h, const char *dir, uid_t uid, gid_t gid)
{
	char opts[128];

	snprintf(h->dir, sizeof(h->dir), "%s", dir);
	atomic_init(&h->reads, 0);
	h->serving = false;
	h->dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (h->dev < 0)
		return -errno;
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=%u,group_id=%u", h->dev,
	         (unsigned)uid, (unsigned)gid);
	if (mount("vuc-hungfs", dir, "fuse", MS_NOSUID | MS_NODEV, opts)) {
		int err = -errno;

		close(h->dev);
		h->dev = -1;
		return err;
	}
	return 0;
}

int hungfs_serve(struct hungfs *h)
{
	int ret;

	atomic_store(&h->stop, false);
	ret = pthread_create(&h->server, NULL, serve, h);
	if (ret)
		return -ret;
	h->serving = true;
	return 0;
}

void hungfs_end(struct hungfs *h)
{
	atomic_store(&h->stop, true);
	if (h->serving)
		pthread_join(h->server, NULL);
	h->serving = false;
	if (h->dev >= 0)
		close(h->dev);
	h->dev = -1;
	umount2(h->dir, MNT_DETACH);
}
