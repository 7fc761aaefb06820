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

/* The access the fd of a mapping's file is asked with (host_ops.mapping). */
enum host_fd_access {
	HOST_FD_NONE, /* no fd */
	HOST_FD_READ, /* read-only */
	HOST_FD_RDWR, /* read and write */
};

/* What fd_get takes. */
enum host_fd_kind {
	HOST_FD_ANY,     /* whatever the number names */
	HOST_FD_EVENTFD, /* an eventfd, and nothing else */
};

struct host_ops {
	/* Copy len bytes from/to process pid's memory at addr. 0 or -EFAULT. */
	int (*mem_read)(void *ctx, pid_t pid, uint64_t addr, void *buf, size_t len);
	int (*mem_write)(void *ctx, pid_t pid, uint64_t addr, const void *buf, size_t len);
	/* Duplicate process pid's fd into the daemon. Returns the new fd,
	 * -EBADF (no such fd), -EINVAL (HOST_FD_EVENTFD asked and fd is not an
	 * eventfd, as the kernel's eventfd_ctx_fdget says) or -errno. */
	int (*fd_get)(void *ctx, pid_t pid, int fd, enum host_fd_kind kind);
	/* A new open, with exactly that access, of the file fd (the daemon's)
	 * is open on: to hand a server less than the program's own open file
	 * allows. The new fd or -errno. */
	int (*reopen)(void *ctx, int fd, enum host_fd_access access);
	/*
	 * The mapping containing addr. With access HOST_FD_READ or HOST_FD_RDWR,
	 * m->fd is a new fd, opened with exactly that access, of the file
	 * behind a mapping that can be shared (memfd, shm, hugetlbfs, shared
	 * file), provided it is the very file the process maps there with at
	 * least that access (whatever the process maps there meanwhile);
	 * otherwise, and with HOST_FD_NONE, -1. The caller closes it. -EFAULT
	 * when addr is not mapped.
	 */
	int (*mapping)(void *ctx, pid_t pid, uint64_t addr, enum host_fd_access access,
	               struct host_mapping *m);
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
	 * Pin process pid's identity: a handle (>= 0, released with unpin)
	 * that pin_read/pin_write resolve to that very address space and
	 * nothing else, whatever later takes its pid. It holds no fd, so a
	 * program's mappings cost the daemon none. -ESRCH when pid is gone,
	 * else -errno.
	 */
	int (*pin)(void *ctx, pid_t pid);
	void (*unpin)(void *ctx, int pin);
	/*
	 * mem_read/mem_write through a pin: 0, -EFAULT (not mapped), or
	 * -ESRCH once the pinned process has exited or exec'd. The memory may
	 * be memory whose reads never come back: the host bounds the wait
	 * (-EFAULT after it); the caller must hold no lock across it.
	 */
	int (*pin_read)(void *ctx, int pin, uint64_t addr, void *buf, size_t len);
	int (*pin_write)(void *ctx, int pin, uint64_t addr, const void *buf, size_t len);
	/* The same for a file of the daemon's mapped for DMA, at file offset
	 * off: 0, -EFAULT (past its end, or the wait bounded), or -errno. */
	int (*file_read)(void *ctx, int fd, uint64_t off, void *buf, size_t len);
	int (*file_write)(void *ctx, int fd, uint64_t off, const void *buf, size_t len);
	/*
	 * Optional (NULL: none): room for len bytes, the calling thread's,
	 * that the four calls above fill or take without a copy of their own
	 * when their buf lies in it. A server connection receives its DMA
	 * data and builds its DMA_READ replies there. NULL when it has not
	 * len bytes. Valid until the thread's next call to the host.
	 */
	void *(*dma_buf)(void *ctx, size_t len);
};

struct host {
	const struct host_ops *ops;
	void *ctx;
	/* Never hand a server a file of a program's: every DMA goes by
	 * message (for servers not trusted with whole files). */
	bool dma_by_message;
};

#endif
