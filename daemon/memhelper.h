/* SPDX-License-Identifier: MIT */
/*
 * Reads and writes of a program's memory (through a pin, host.h) or of a
 * file mapped for DMA, made in a helper process of the calling thread's
 * own, never by the daemon itself.
 *
 * Such an access may never return: the memory may be a file whose
 * filesystem never answers (a FUSE server of the program's user that takes
 * the READ and sits on it). The kernel then waits uninterruptibly, not even
 * SIGKILL ends the wait, and a daemon thread caught there would hold what
 * it holds for good and keep the daemon from exiting. A helper caught there
 * is given up after the timeout (the access fails with EFAULT, an IOMMU
 * fault to the device), killed, and replaced by a new one; it holds no fd
 * of the daemon's, and dies once the wait ends.
 */
#ifndef VFIO_USER_CUSE_MEMHELPER_H
#define VFIO_USER_CUSE_MEMHELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/log.h"

/* Most helpers given up and not yet gone; past it accesses fail at once. */
#define MEMHELPER_MAX_STUCK 16

/* How long one access may take (default VU_DEFAULT_TIMEOUT_MS; the
 * daemon sets half its request timeout). */
void memhelper_set_timeout(int ms);

/*
 * The identity of a pinned address space: the 16 bytes the kernel put at
 * AT_RANDOM (auxv) when the process exec'd, and where, and the process's
 * start time. The bytes are random per exec: another process with the pid,
 * or the process after an exec, has other bytes there, or nothing; a
 * process forked from it without an exec has the same bytes, but started
 * later.
 */
struct memhelper_pin {
	pid_t pid;
	uint64_t start; /* /proc/<pid>/stat starttime, clock ticks since boot */
	uint64_t token_addr;
	uint8_t token[16];
};

/* The starttime field of a /proc/<pid>/stat text. 0 or -EINVAL.
 * Async-signal-safe. */
int memhelper_parse_start(const char *stat, size_t len, uint64_t *start);

/*
 * pread (write false: fill buf) or pwrite len bytes of fd at off, all of
 * them. 0; -ESRCH when fd gave 0 bytes (the end of a file, or the address
 * space of a /proc/<pid>/mem fd gone); -EFAULT when nothing is there (EIO),
 * when the access did not end in time, or when no helper could be had;
 * -errno else.
 */
int memhelper_rw(const struct vu_log *log, int fd, uint64_t off, void *buf, size_t len, bool write);

/*
 * The calling thread's buffer shared with its helper, if it has len bytes
 * (a little more than one access's most), else NULL: data placed there
 * and accesses asked to fill it make no copy between the daemon and the
 * helper. Valid until the thread's next memhelper call: a helper given up
 * takes its buffer with it.
 */
void *memhelper_buf(const struct vu_log *log, size_t len);

/* The same on the memory of the pinned process, at address off: its
 * /proc/<pid>/mem opened by the helper for that access, and used only
 * once the token is found in place; -ESRCH when it is not. */
int memhelper_pin_rw(const struct vu_log *log, const struct memhelper_pin *pin, uint64_t off,
                     void *buf, size_t len, bool write);

#endif
