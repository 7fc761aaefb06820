/* SPDX-License-Identifier: MIT */
/*
 * How the daemon reaches into a client process: its memory, its fds, the
 * file behind a piece of its memory, and the arguments of the syscall it is
 * blocked in. The translation core (vdev.c and friends) uses only this
 * interface, never /proc or CUSE directly, so unit tests can drive every
 * ioctl with a fake process (tests/core/fake_host.c) and the daemon plugs in
 * the real one (host_proc.c).
 */
#ifndef VFIO_USER_CUSE_HOST_H
#define VFIO_USER_CUSE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One mapping of a process's address space, as /proc/<pid>/maps lists it. */
struct host_mapping {
	uint64_t start, end; /* [start, end) */
	bool readable, writable;
	bool shared;       /* MAP_SHARED */
	int fd;            /* an fd of the file behind it (opened for us), or -1 */
	uint64_t file_off; /* file offset of start */
};

struct host_ops {
	/* Copy len bytes from/to process pid's memory at addr. 0 or -EFAULT. */
	int (*mem_read)(void *ctx, pid_t pid, uint64_t addr, void *buf, size_t len);
	int (*mem_write)(void *ctx, pid_t pid, uint64_t addr, const void *buf, size_t len);
	/* Duplicate process pid's fd into the daemon. Returns the new fd or
	 * -EBADF (no such fd) / -errno. */
	int (*fd_get)(void *ctx, pid_t pid, int fd);
	/* The mapping containing addr. m->fd is a new fd for a mapping with a
	 * file that can be shared (memfd, shm, hugetlbfs, shared file), else -1;
	 * the caller closes it. -EFAULT when addr is not mapped. */
	int (*mapping)(void *ctx, pid_t pid, uint64_t addr, struct host_mapping *m);
	/* The file offset argument of the read/write-family syscall thread tid
	 * is blocked in (pread64, pwrite64, preadv, pwritev, preadv2, pwritev2;
	 * plain read/write give -ESPIPE). 0 or -errno. */
	int (*syscall_offset)(void *ctx, pid_t tid, uint64_t *off);
	/* The fd argument of the ioctl thread tid is blocked in (a VFIO group
	 * answers VFIO_GROUP_GET_DEVICE_FD with its own fd). 0 or -errno. */
	int (*syscall_fd)(void *ctx, pid_t tid, int *fd);
	/* The thread group (process) of thread tid. */
	pid_t (*tgid_of)(void *ctx, pid_t tid);
	/*
	 * Pin process pid's identity: a new fd (the caller closes it) bound to
	 * that very process, so that pin_read/pin_write reach it and nothing
	 * else, whatever later takes its pid. -ESRCH when pid is gone, else
	 * -errno.
	 */
	int (*pin)(void *ctx, pid_t pid);
	/* mem_read/mem_write through a pin: 0, -EFAULT (not mapped), or
	 * -ESRCH once the pinned process has exited or exec'd. */
	int (*pin_read)(void *ctx, int pin, uint64_t addr, void *buf, size_t len);
	int (*pin_write)(void *ctx, int pin, uint64_t addr, const void *buf, size_t len);
};

struct host {
	const struct host_ops *ops;
	void *ctx;
};

#endif
