/* SPDX-License-Identifier: MIT */
/*
 * Fixed device numbers (--devnum): when the kernel refuses one, say who
 * holds it, from what sysfs and /proc/devices show.
 */
#ifndef VFIO_USER_CUSE_DEVNUM_H
#define VFIO_USER_CUSE_DEVNUM_H

#include <stddef.h>

#include "proto/log.h"

/*
 * Describe in buf who holds char device number major:minor: "taken by
 * /dev/NAME" for a device with that very number, "in major M, which 'NAME'
 * holds" for a driver registered in that major, or "" when neither says.
 * The places are parameters for the tests: /sys/dev/char and /proc/devices
 * on a real system.
 */
void devnum_holder(const char *sys_char, const char *proc_devices, unsigned int major,
                   unsigned int minor, char *buf, size_t len);

/* Log why the kernel refused the node at path with number major:minor. */
void devnum_log_refusal(const struct vu_log *log, const char *path, unsigned int major,
                        unsigned int minor);

#endif
