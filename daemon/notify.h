/* SPDX-License-Identifier: MIT */
/*
 * Telling a supervisor how the daemon is doing: the sd_notify(3) protocol,
 * one datagram of "KEY=VALUE" lines to the unix socket NOTIFY_SOCKET names
 * (a path, or @NAME for an abstract socket). systemd sets it for
 * Type=notify services; without it nothing is sent.
 */
#ifndef VFIO_USER_CUSE_NOTIFY_H
#define VFIO_USER_CUSE_NOTIFY_H

/* Send state ("READY=1\nSTATUS=..."). Returns 0 when sent or when there is
 * no NOTIFY_SOCKET, -errno when it could not be sent. */
int notify_send(const char *state);

#endif
