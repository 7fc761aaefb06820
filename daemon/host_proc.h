/* SPDX-License-Identifier: MIT */
/*
 * The real struct host_ops (core/host.h): a client process reached through
 * process_vm_readv/writev, pidfd_getfd and /proc. ctx is a const struct
 * vu_log * (or NULL) for the lines that say why a process could not be
 * reached. Needs ptrace-read rights over the callers (the daemon runs as
 * root).
 *
 * The /proc parsing is done by small pure functions so tests can feed them
 * text.
 */
#ifndef VFIO_USER_CUSE_HOST_PROC_H
#define VFIO_USER_CUSE_HOST_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/host.h"

extern const struct host_ops host_proc_ops;

/* x86_64 syscall numbers as /proc/<tid>/syscall shows them. */
enum {
	HP_NR_READ = 0,
	HP_NR_WRITE = 1,
	HP_NR_IOCTL = 16,
	HP_NR_PREAD64 = 17,
	HP_NR_PWRITE64 = 18,
	HP_NR_READV = 19,
	HP_NR_WRITEV = 20,
	HP_NR_PREADV = 295,
	HP_NR_PWRITEV = 296,
	HP_NR_PREADV2 = 327,
	HP_NR_PWRITEV2 = 328,
};

/* One line of /proc/<pid>/maps. */
struct hp_maps_entry {
	uint64_t start, end, offset, inode;
	unsigned int dev_major, dev_minor; /* of the file's device */
	bool readable, writable, shared;
	const char *path; /* into the parsed line; "" for anonymous memory */
};

/* The Tgid of a /proc/<tid>/status text. 0 or -EINVAL. */
int hp_parse_tgid(const char *status, pid_t *tgid);

/* Parse one maps line in place (its newline is cut). 0 or -EINVAL. */
int hp_parse_maps_line(char *line, struct hp_maps_entry *e);

/* Whether a mapping may have a file worth sharing: MAP_SHARED with a file
 * behind it (memfd, shm, hugetlbfs, a shared file, shared anonymous memory),
 * not a private copy-on-write mapping nor a [special] one. */
bool hp_maps_shareable(const struct hp_maps_entry *e);

/*
 * The file offset from a /proc/<tid>/syscall text: 0 with *off set for
 * pread64/pwrite64/preadv/pwritev/preadv2/pwritev2; -ESPIPE for the calls
 * that use the file position (read, write, readv, writev, and the *v2 calls
 * with offset -1); -EAGAIN when the thread is running; -EOPNOTSUPP for any
 * other syscall; -EINVAL for text that is not a syscall line.
 */
int hp_parse_syscall(const char *text, uint64_t *off);

/* The fd (first argument) of an ioctl in a /proc/<tid>/syscall text: 0 with
 * *fd set; -EAGAIN when the thread is running; -EOPNOTSUPP for another
 * syscall; -EINVAL for text that is not a syscall line. */
int hp_parse_syscall_fd(const char *text, int *fd);

#endif
