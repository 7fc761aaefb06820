/* SPDX-License-Identifier: MIT */
/*
 * Socket plumbing shared by the client and the server (internal to the
 * library): connecting by address, listening, and moving whole vfio-user
 * messages with their SCM_RIGHTS fds.
 */
#ifndef VFIO_USER_PROTO_SOCK_H
#define VFIO_USER_PROTO_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "log.h"
#include "msg.h"
#include "vfio-user.h"

/*
 * Where a receiver that reads many messages puts them, to allocate nothing
 * per message: a payload that fits goes into small; a larger one of a
 * request (not a reply, which is handed on) into big, grown as needed and
 * kept. Both stay valid until the next receive with the same vu_rx.
 */
#define VU_RX_SMALL (4096 + 64)

struct vu_rx {
	uint8_t small[VU_RX_SMALL];
	void *big;
	size_t big_cap;
	/* Room the owner gives a large request's payload instead of big, when
	 * it has len bytes (NULL: none); valid until the next receive. */
	void *(*room)(void *arg, size_t len);
	void *room_arg;
};

/* Free what rx holds. */
void vu_rx_fini(struct vu_rx *rx);

/*
 * Connect to addr (PATH, unix:PATH, fd:N, tcp:HOST:PORT). Returns the socket
 * (close-on-exec) or -errno; *is_unix tells whether fds can cross it. A bad
 * address is logged as an error; a failed connect only at debug level, since
 * the errno says it (-ENXIO: a host name that does not resolve, -EAGAIN: not
 * now) and the caller reports it once, retrying or not.
 */
int vu_sock_connect(const char *addr, bool *is_unix, const struct vu_log *log);

/* Listen on a unix socket at path, replacing a stale socket file. */
int vu_sock_listen_unix(const char *path);

/*
 * Send one message: hdr (its msg_size is set here from the iov lengths), the
 * payload gathered from iov, and nr_fds fds. Retries EINTR and partial
 * writes. Returns 0 or -errno (-EMSGSIZE if the message cannot fit a header).
 */
int vu_sock_send(int fd, struct vfio_user_header *hdr, const struct iovec *iov, int iovcnt,
                 const int *fds, size_t nr_fds);

/* Wait up to timeout_ms (-1: forever) for fd to become readable. Returns 1,
 * 0 on timeout, or -errno. */
int vu_sock_wait(int fd, int timeout_ms);

/*
 * Receive one message from fd, accepting at most max_fds fds; once the first
 * byte has arrived, the rest must come within timeout_ms. Returns:
 *   0            *m filled in (the header passed vu_header_check)
 *   -EBADMSG     the whole message was consumed but it carried more fds than
 *                max_fds (or they were truncated): m->hdr is valid, nothing
 *                else is kept, all fds are closed, why says what happened
 *   -ECONNRESET  the peer closed the connection between messages
 *   -EPROTO      a bad header, or the peer left mid-message (why filled in)
 *   -ETIMEDOUT   the rest of a message did not come in time
 *   other -errno an I/O error
 * Received fds are close-on-exec.
 */
int vu_sock_recv(int fd, size_t max_fds, int timeout_ms, struct vu_msg *m, char *why,
                 size_t whylen);

/* The same, with the payload in rx where it fits (m->borrowed set). */
int vu_sock_recv_rx(int fd, size_t max_fds, int timeout_ms, struct vu_msg *m, struct vu_rx *rx,
                    char *why, size_t whylen);

#endif
