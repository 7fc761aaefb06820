/* SPDX-License-Identifier: MIT */
/*
 * The privileges the daemon needs, checked at start: without them it would
 * come up and the programs using its nodes would fail later with EFAULT or
 * EACCES, far from the cause.
 *
 *   CAP_SYS_PTRACE      ptrace access to every program using a node: its
 *                       ioctl arguments (process_vm_readv/writev), its
 *                       eventfds (pidfd_getfd), its memory (/proc/PID/mem)
 *   CAP_DAC_OVERRIDE    /proc/PID/mem, /syscall and /map_files of a program
 *                       belong to that program's user, mode 0600/0400/0500
 *   CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN
 *                       /proc/PID/map_files, to share a program's memory
 *                       with a file behind it with the server
 *   CAP_CHOWN           only with --owner or --group
 */
#ifndef VFIO_USER_CUSE_PRIVS_H
#define VFIO_USER_CUSE_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The effective capability set of this process (bit N: capability N), or
 * 0 if it cannot be read. */
uint64_t privs_effective(void);

/* Name in buf what the set eff lacks ("" when nothing); chown: the nodes
 * get an owner or group. Returns the number of missing items. */
int privs_missing(uint64_t eff, bool chown, char *buf, size_t len);

#endif
