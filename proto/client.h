/* SPDX-License-Identifier: MIT */
/*
 * A vfio-user client connection.
 *
 * One struct vu_client per server. Any number of threads may issue requests
 * at once: each gets a message id, the requests are pipelined on the socket,
 * and a reader thread matches replies to their waiters by id. The same reader
 * serves the server's own requests (DMA_READ/DMA_WRITE) through a callback,
 * also while our requests wait, so a server that reads client memory in the
 * middle of answering us cannot deadlock (without twin-socket mode those
 * requests arrive on the main socket).
 *
 * Every wait is bounded: a per-request timeout (a late reply is dropped), a
 * cancel token another thread can fire, and a disconnect that fails every
 * waiter at once. No call blocks forever.
 *
 * Errors are negative errno values:
 *   -EXXX       the server's error reply (an error reply with errno 0 is -EIO);
 *               vu_call_opts.refused tells it from the same errno of ours
 *   -ETIMEDOUT  no reply within the timeout
 *   -EINTR      the call's cancel token fired
 *   -ENOTCONN   the connection is gone (before or during the call)
 *   -EPROTO     the server's reply was malformed (logged with the reason)
 *   -EOPNOTSUPP fds were to be passed over a transport that cannot (TCP)
 */
#ifndef VFIO_USER_PROTO_CLIENT_H
#define VFIO_USER_PROTO_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "caps.h"
#include "log.h"
#include "msg.h"
#include "vfio-user.h"

struct vu_client;
struct vu_cancel;

#define VU_DEFAULT_TIMEOUT_MS 5000

/*
 * Server-to-client DMA: read (cmd VFIO_USER_DMA_READ: fill buf) or write
 * (VFIO_USER_DMA_WRITE: take buf) count bytes of client memory at IOVA addr.
 * Called on the reader thread. Returns 0 or -errno (sent as an error reply).
 */
typedef int (*vu_dma_fn)(void *arg, uint16_t cmd, uint64_t addr, void *buf, uint64_t count);

/* Called once, on the reader thread, when the connection is lost. */
typedef void (*vu_disconnect_fn)(void *arg, int err);

/*
 * Where the reader thread receives a DMA_WRITE's data and builds a
 * DMA_READ's reply, if it has len bytes: memory the dma handler reaches
 * without a copy of its own (the daemon's memory helper's buffer). NULL:
 * the client's own buffer. Called on the reader thread; the room must stay
 * valid until the next call.
 */
typedef void *(*vu_dma_buf_fn)(void *arg, size_t len);

struct vu_client_opts {
	int timeout_ms;              /* per request; 0 = VU_DEFAULT_TIMEOUT_MS */
	uint32_t max_msg_fds;        /* what we accept; 0 = a sensible default */
	uint32_t max_data_xfer_size; /* what we accept; 0 = the default */
	bool twin_socket;            /* offer twin-socket mode */
	vu_dma_fn dma;               /* NULL: DMA requests get EINVAL */
	vu_dma_buf_fn dma_buf;       /* NULL: the client's own buffer */
	vu_disconnect_fn disconnected;
	void *arg;                /* passed to dma, dma_buf and disconnected */
	const struct vu_log *log; /* NULL: log to stderr at warning level */
};

/*
 * Connect and negotiate. addr is one of:
 *   PATH or unix:PATH   a unix socket
 *   fd:N                an already connected unix socket we take over
 *   tcp:HOST:PORT       TCP (no fds cross: DMA goes by messages, no eventfds)
 * Returns 0 with *out set, or -errno: a failed negotiation is logged, a
 * failed connect only at debug level; vu_connect_explain (diag.h) says why.
 */
int vu_client_connect(const char *addr, const struct vu_client_opts *opts, struct vu_client **out);

/* Close the socket, fail every waiter with -ENOTCONN, join the reader, free. */
void vu_client_close(struct vu_client *c);

/* The capabilities in force for this connection. */
const struct vu_caps *vu_client_caps(const struct vu_client *c);

/* Whether fds can cross this connection (false for TCP). */
bool vu_client_can_pass_fds(const struct vu_client *c);

/* Whether the connection is still up. */
bool vu_client_connected(const struct vu_client *c);

/* Cancel tokens: fire one from any thread to make the call using it return
 * -EINTR at once. A token fired before the call starts cancels it too. */
struct vu_cancel *vu_cancel_new(void);
void vu_cancel_fire(struct vu_cancel *t);
void vu_cancel_free(struct vu_cancel *t);
/* Unfire a token for its next call (not while a call uses it). */
void vu_cancel_reset(struct vu_cancel *t);

struct vu_call_opts {
	int timeout_ms;           /* 0 = the connection's default */
	struct vu_cancel *cancel; /* may be NULL */
	/* May be NULL. Where an error came from: every call sets it, true when
	 * it failed with the server's error reply (the server's answer to the
	 * request, which asking again would get), false for anything else (a
	 * timeout, cancel, lost connection, malformed reply, no memory or no
	 * free message id: this side's failures, worth asking again later).
	 * A helper that fails before sending anything leaves it alone, so
	 * start it at false. */
	bool *refused;
	/* May be NULL. A reply payload of at most reply_room bytes is put
	 * here (the reply's payload then points here) instead of in memory
	 * allocated for it: no allocation for the small replies of a hot
	 * path. */
	void *reply_buf;
	size_t reply_room;
};

/*
 * Send one request (payload gathered from iov) with nr_fds fds (at most the
 * server's max_msg_fds) and wait for its reply. reply may be NULL. The reply
 * has been checked with vu_msg_check before it is returned. opts may be NULL.
 */
int vu_callv(struct vu_client *c, uint16_t cmd, const struct iovec *iov, int iovcnt, const int *fds,
             size_t nr_fds, const struct vu_call_opts *opts, struct vu_msg *reply);
int vu_call(struct vu_client *c, uint16_t cmd, const void *req, size_t len, const int *fds,
            size_t nr_fds, const struct vu_call_opts *opts, struct vu_msg *reply);

/*
 * Send a request with VFIO_USER_F_NO_REPLY and return once it is sent. The
 * server answers nothing, not even an error; it handles requests in order,
 * so every later request is answered after this one was done. A failure to
 * send (the connection is then lost: later calls fail too) is -ENOTCONN.
 */
int vu_post(struct vu_client *c, uint16_t cmd, const void *req, size_t len);
int vu_postv(struct vu_client *c, uint16_t cmd, const struct iovec *iov, int iovcnt);

/*
 * The commands, one helper each. They fill the fixed fields, check the
 * reply, and return 0 or -errno as above.
 */
int vu_device_get_info(struct vu_client *c, const struct vu_call_opts *o,
                       struct vfio_user_device_info *info);

/*
 * Region info with its capability chain. Asks again with the argsz the server
 * says it needs. On success *info is malloc'd (fixed part + caps, *len bytes,
 * chain validated) and *fd is the region's fd or -1; the caller frees/closes.
 */
int vu_device_get_region_info(struct vu_client *c, const struct vu_call_opts *o, uint32_t index,
                              struct vfio_user_region_info **info, size_t *len, int *fd);

int vu_device_get_irq_info(struct vu_client *c, const struct vu_call_opts *o, uint32_t index,
                           struct vfio_user_irq_info *info);

/*
 * SET_IRQS. For DATA_BOOL, data holds count bytes. For DATA_EVENTFD, fds holds
 * count entries (-1 = de-assign that vector); the request is split into
 * several messages so none carries more than the server's max_msg_fds fds,
 * runs of -1 going as messages without fds. The fds stay the caller's.
 */
int vu_device_set_irqs(struct vu_client *c, const struct vu_call_opts *o, uint32_t flags,
                       uint32_t index, uint32_t start, uint32_t count, const uint8_t *data,
                       const int *fds);

/* Region I/O, split into pieces of at most max_data_xfer_size. Returns 0 or
 * -errno (a short transfer from the server is -EIO). */
int vu_region_read(struct vu_client *c, const struct vu_call_opts *o, uint32_t region,
                   uint64_t offset, void *buf, size_t count);
int vu_region_write(struct vu_client *c, const struct vu_call_opts *o, uint32_t region,
                    uint64_t offset, const void *buf, size_t count);

/* A posted write (as a PCI memory write is posted): each piece goes with
 * VFIO_USER_F_NO_REPLY, and the call returns once it is sent. The server
 * does it before it answers any later request. */
int vu_region_post(struct vu_client *c, uint32_t region, uint64_t offset, const void *buf,
                   size_t count);

/* Coalesce up to VFIO_USER_MULTI_MAX small writes (<= 8 bytes each) into one
 * REGION_WRITE_MULTI when the server offered write_multiple; otherwise they go
 * as single REGION_WRITEs. */
int vu_region_write_multi(struct vu_client *c, const struct vu_call_opts *o,
                          const struct vfio_user_write_multi_entry *wrs, size_t n);

/* DMA_MAP with fd (offset into it) or fd = -1 for message-based access. */
int vu_dma_map(struct vu_client *c, const struct vu_call_opts *o, uint64_t iova, uint64_t size,
               uint32_t flags, int fd, uint64_t offset);
int vu_dma_unmap(struct vu_client *c, const struct vu_call_opts *o, uint64_t iova, uint64_t size,
                 uint32_t flags);

int vu_device_reset(struct vu_client *c, const struct vu_call_opts *o);

/* DEVICE_FEATURE: in/out buffer holding struct vfio_user_device_feature + data. */
int vu_device_feature(struct vu_client *c, const struct vu_call_opts *o, void *buf, size_t len,
                      size_t *out_len);

#endif
