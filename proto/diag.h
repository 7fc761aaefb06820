/* SPDX-License-Identifier: MIT */
/*
 * Why a connection to a server failed, in one line, for the programs that
 * connect to an address a user gave them (vfio-user-info, the daemon).
 *
 * On its way through vu_client_connect the library logs what it met (the
 * connect, the VERSION exchange). A struct vu_connect_log between the client
 * and the program's log holds those lines back while the connection is being
 * made: it passes them on at debug level and keeps the first warning or
 * error as the detail, so that the program can say once, with
 * vu_connect_explain, what went wrong. Once the connection is up it passes
 * every line on as it came.
 */
#ifndef VFIO_USER_PROTO_DIAG_H
#define VFIO_USER_PROTO_DIAG_H

#include <stdatomic.h>
#include <stddef.h>

#include "log.h"

struct vu_connect_log {
	struct vu_log log;         /* give &log as vu_client_opts.log */
	const struct vu_log *next; /* the program's log (NULL: stderr, warnings) */
	atomic_bool connecting;
	char detail[256]; /* the first warning or error met while connecting */
};

/* Start holding lines back for next. cl must outlive the connection. */
void vu_connect_log_init(struct vu_connect_log *cl, const struct vu_log *next);

/* vu_client_connect has returned: pass lines on as they come from now on. */
void vu_connect_log_done(struct vu_connect_log *cl);

/*
 * Say in buf (one line, no newline) why connecting to addr (as given to
 * vu_client_connect) failed with err: no such file, not a socket, a stale
 * socket, a busy or silent server, a peer that does not speak vfio-user, a
 * host name that does not resolve... detail (may be NULL or empty) is what
 * the library said, added where the errno alone does not tell; timeout_ms is
 * the connection's timeout, for the words about a silent server.
 */
void vu_connect_explain(const char *addr, int err, const char *detail, int timeout_ms, char *buf,
                        size_t len);

#endif
