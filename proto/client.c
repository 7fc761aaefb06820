/* SPDX-License-Identifier: MIT */
/*
 * The client connection: negotiation, the reader thread, and requests
 * matched to their waiters by message id.
 *
 * Each call puts a waiter (on its own stack) on the connection's list,
 * sends, and waits for its reply until the deadline passes, its cancel
 * token fires, or the connection is found gone and every waiter fails at
 * once. Message ids in flight are marked in a bitmap; a call that gives up
 * leaves its id marked, so a late reply is recognised, dropped, and frees
 * the id, and the id is never reused while a reply to it may still come.
 *
 * Who reads the replies. Without twin-socket mode the server's own requests
 * come on the main socket between replies, at any time, so the reader
 * thread reads everything there and hands each reply to its waiter (a
 * wakeup of the reader and one of the caller per call). In twin-socket mode
 * only replies come on the main socket, so the calls read it themselves:
 * one waiting call at a time holds the read role ("leads"), reads until its
 * own reply has come, handing the others theirs, and then passes the role
 * to a call still waiting. A lone call thus sleeps in the kernel until its
 * reply arrives and reads it itself: no thread hand-off. The reader thread
 * then serves the twin socket, and watches the main socket only for its
 * end, when it takes the role to read what is left.
 *
 * Locks. c->lock guards the connection's state, its waiters and the read
 * role. A cancel token's lock guards whom the token wakes, and comes before
 * c->lock: vu_cancel_fire, from any thread, holds the token's lock while it
 * takes the registered c->lock to broadcast, so a call registers and
 * unregisters its token without c->lock held. c->send_lock keeps one
 * message at a time on the main socket; it never nests with c->lock,
 * because the calls send unlocked and the reader serves the server's
 * requests unlocked.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "client.h"
#include "client_log.h"
#include "msg.h"
#include "sock.h"

#define DEFAULT_CLIENT_MAX_FDS 16u
#define NR_IDS                 65536u
#define KERNEL_MAX_FDS         253u /* SCM_MAX_FD: fds one sendmsg passes */

/* A call's cancel token; its lock comes before the client's (see the top). */
struct vu_cancel {
	atomic_bool fired;
	pthread_mutex_t lock; /* guards the registration below */
	pthread_mutex_t *wait_lock;
	pthread_cond_t *wait_cond;
	int wake_fd; /* the connection's: wakes a call reading the socket */
};

struct waiter {
	struct waiter *next;
	uint16_t id;
	uint16_t cmd;
	bool done;
	int err;
	struct vu_msg msg;
	pthread_cond_t cond;
	void *rbuf; /* where a small reply's payload goes, or NULL */
	size_t rroom;
};

/*
 * Where the connection is. It only moves forward, and only through
 * set_state. Closing is not a state of its own: the owner may close in any
 * of them, and c->closing only says that the loss that follows is no news.
 */
enum client_state {
	CLIENT_CONNECTING, /* vu_client_connect is negotiating: no calls yet */
	CLIENT_UP,         /* calls are sent */
	CLIENT_LOSING,     /* the reader saw the loss and tells the owner: new
	                    * calls wait unsent for the waiters to fail */
	CLIENT_FAILED,     /* waiters failed: new calls fail at once */
};

struct vu_client {
	int fd;
	int twin_fd; /* our end of the twin socket, or -1 */
	bool is_unix;
	int timeout_ms;
	struct vu_client_opts opts;
	struct vu_caps ours; /* what we proposed: our receive limits */
	struct vu_caps caps; /* in force */

	pthread_mutex_t send_lock; /* one message at a time on the socket */
	pthread_mutex_t lock;      /* everything below */
	struct waiter *waiters;
	uint8_t ids[NR_IDS / 8];
	uint16_t next_id;
	enum client_state state;
	bool closing;        /* vu_client_close has begun */
	unsigned active;     /* calls in progress: close waits for them */
	pthread_cond_t idle; /* active dropped to 0 while closing */
	pthread_t reader;

	/* Twin-socket mode: the calls read the main socket (see the top). */
	bool self_read;
	bool leading;             /* the main socket's read role is held */
	bool reader_waits;        /* the reader thread waits for the role */
	int read_err;             /* what a call reading the socket met */
	int wake_fd;              /* eventfd: a fired cancel wakes the reading call */
	pthread_cond_t lead_cond; /* the role became free (for the reader thread) */

	struct vu_rx rx_main; /* for whoever holds the main socket's read role */
	struct vu_rx rx_twin; /* the reader thread's, on the twin socket */
};

static bool id_busy(const struct vu_client *c, uint16_t id)
{
	return c->ids[id / 8] & (1u << (id % 8));
}

static void id_set(struct vu_client *c, uint16_t id, bool busy)
{
	if (busy)
		c->ids[id / 8] |= (uint8_t)(1u << (id % 8));
	else
		c->ids[id / 8] &= (uint8_t) ~(1u << (id % 8));
}

static void unlink_waiter(struct vu_client *c, struct waiter *w)
{
	struct waiter **pp;

	for (pp = &c->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

static struct waiter *find_waiter(struct vu_client *c, uint16_t id)
{
	struct waiter *w;

	for (w = c->waiters; w; w = w->next) {
		if (w->id == id)
			return w;
	}
	return NULL;
}

static void finish(struct vu_client *c, struct waiter *w, int err)
{
	unlink_waiter(c, w);
	w->err = err;
	w->done = true;
	pthread_cond_signal(&w->cond);
}

/* Called with c->lock held, or before the reader thread starts. */
static void set_state(struct vu_client *c, enum client_state state)
{
	c->state = state;
}

/*
 * The connection is gone. vu_client_connected() is false from here on. The
 * owner hears of it before any call fails (calls made meanwhile wait
 * unsent), so a caller that sees -ENOTCONN finds the owner's state already
 * updated; then every waiter fails at once.
 */
static void lost(struct vu_client *c, int err)
{
	int werr = err == -EPROTO ? -EPROTO : -ENOTCONN;
	bool closing;

	pthread_mutex_lock(&c->lock);
	if (c->state != CLIENT_UP) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	set_state(c, CLIENT_LOSING);
	closing = c->closing;
	pthread_mutex_unlock(&c->lock);

	if (!closing) {
		/* A program that is told reports it in its own words. */
		vu_log(c->opts.log, c->opts.disconnected ? VU_LOG_DEBUG : VU_LOG_WARN,
		       "vfio-user server connection lost: %s", strerror(-err));
		if (c->opts.disconnected)
			c->opts.disconnected(c->opts.arg, err);
	}
	pthread_mutex_lock(&c->lock);
	set_state(c, CLIENT_FAILED);
	while (c->waiters)
		finish(c, c->waiters, werr);
	pthread_mutex_unlock(&c->lock);
	/* Wake any sender blocked on a full socket. */
	shutdown(c->fd, SHUT_RDWR);
	if (c->twin_fd >= 0)
		shutdown(c->twin_fd, SHUT_RDWR);
}

static int send_locked(struct vu_client *c, int fd, struct vfio_user_header *hdr,
                       const struct iovec *iov, int iovcnt, const int *fds, size_t nr_fds)
{
	int err;

	/* Only the reader writes to the twin socket. It must not queue behind
	 * a caller blocked on a full main socket: the server may be waiting
	 * for this very answer before it reads the main socket again. */
	if (fd == c->twin_fd)
		return vu_sock_send(fd, hdr, iov, iovcnt, fds, nr_fds);
	pthread_mutex_lock(&c->send_lock);
	err = vu_sock_send(fd, hdr, iov, iovcnt, fds, nr_fds);
	pthread_mutex_unlock(&c->send_lock);
	return err;
}

static int send_error(struct vu_client *c, int fd, const struct vfio_user_header *req, int err)
{
	struct vfio_user_header h = {
	    .msg_id = req->msg_id,
	    .cmd = req->cmd,
	    .flags = VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR,
	    .error_no = (uint32_t)-err,
	};

	if (req->flags & VFIO_USER_F_NO_REPLY)
		return 0;
	return send_locked(c, fd, &h, NULL, 0, NULL, 0);
}

/* Room for a DMA_READ's data: the owner's (vu_client_opts.dma_buf), else
 * rx's large buffer; the request (a small one) uses neither. */
static void *rx_room(struct vu_rx *rx, size_t len)
{
	void *room = rx->room ? rx->room(rx->room_arg, len) : NULL;

	if (room)
		return room;
	if (rx->big_cap < len) {
		void *p = realloc(rx->big, len ? len : 1);

		if (!p)
			return NULL;
		rx->big = p;
		rx->big_cap = len;
	}
	return rx->big;
}

/* Serve the server's DMA_READ / DMA_WRITE through the owner's callback. */
static int serve_dma(struct vu_client *c, int fd, struct vu_msg *m, struct vu_rx *rx)
{
	const struct vfio_user_dma_access *req = m->payload;
	struct vfio_user_header h = {
	    .msg_id = m->hdr.msg_id, .cmd = m->hdr.cmd, .flags = VFIO_USER_F_TYPE_REPLY};
	struct vfio_user_dma_access ack = {.addr = req->addr, .count = req->count};
	struct iovec iov[2] = {{.iov_base = &ack, .iov_len = sizeof(ack)}};
	void *buf = NULL;
	int err;

	if (m->hdr.cmd == VFIO_USER_DMA_READ) {
		buf = m->payload != (void *)rx->small ? NULL : rx_room(rx, req->count);
		if (!buf)
			return send_error(c, fd, &m->hdr, -ENOMEM);
		err = c->opts.dma(c->opts.arg, m->hdr.cmd, req->addr, buf, req->count);
		iov[1] = (struct iovec){.iov_base = buf, .iov_len = req->count};
	} else {
		err =
		    c->opts.dma(c->opts.arg, m->hdr.cmd, req->addr, (void *)req->data, req->count);
	}
	if (err)
		err = send_error(c, fd, &m->hdr, err < 0 ? err : -EIO);
	else if (!(m->hdr.flags & VFIO_USER_F_NO_REPLY))
		err = send_locked(c, fd, &h, iov, buf ? 2 : 1, NULL, 0);
	return err;
}

static int serve_request(struct vu_client *c, int fd, struct vu_msg *m, struct vu_rx *rx)
{
	char why[160];
	int err;

	err = vu_msg_check(&m->hdr, m->payload, m->len, m->nr_fds, c->ours.max_data_xfer_size, why,
	                   sizeof(why));
	if (err) {
		vu_log(c->opts.log, VU_LOG_ERR, "server sent a malformed %s request: %s",
		       vu_command_name(m->hdr.cmd), why);
		return send_error(c, fd, &m->hdr, -EINVAL);
	}
	if (m->hdr.cmd != VFIO_USER_DMA_READ && m->hdr.cmd != VFIO_USER_DMA_WRITE) {
		vu_log(c->opts.log, VU_LOG_ERR, "server sent a %s request, which only clients send",
		       vu_command_name(m->hdr.cmd));
		return send_error(c, fd, &m->hdr, -EINVAL);
	}
	if (!c->opts.dma) {
		vu_log(c->opts.log, VU_LOG_WARN, "server asked for %s but no DMA handler is set",
		       vu_command_name(m->hdr.cmd));
		return send_error(c, fd, &m->hdr, -EINVAL);
	}
	return serve_dma(c, fd, m, rx);
}

/* Give w the payload of m. One in a receive buffer is copied: into the
 * caller's buffer when it fits (the caller's memory stays valid: w is on
 * the list, and a call leaves the list only under c->lock, held here),
 * else into a block of its own. Locked. */
static int take_payload(struct waiter *w, struct vu_msg *m)
{
	void *p;

	if (!m->borrowed)
		return 0;
	if (w->rbuf && m->len <= w->rroom) {
		memcpy(w->rbuf, m->payload, m->len);
		m->payload = w->rbuf;
		return 0;
	}
	p = malloc(m->len ? m->len : 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, m->payload, m->len);
	m->payload = p;
	m->borrowed = false;
	return 0;
}

/* Hand a reply to its waiter. A reply to an id we never used means the
 * server has lost track of the conversation: that is fatal. bad and why
 * say the reply was already found unacceptable. */
static int deliver(struct vu_client *c, struct vu_msg *m, int bad, const char *why_bad)
{
	uint16_t id = m->hdr.msg_id;
	struct waiter *w;
	char why[160] = "";

	if (bad)
		snprintf(why, sizeof(why), "%s", why_bad);
	else
		bad = vu_msg_check(&m->hdr, m->payload, m->len, m->nr_fds,
		                   c->ours.max_data_xfer_size, why, sizeof(why));
	pthread_mutex_lock(&c->lock);
	w = find_waiter(c, id);
	if (!w) {
		bool late = id_busy(c, id);

		id_set(c, id, false);
		pthread_mutex_unlock(&c->lock);
		vu_msg_release(m);
		if (late) {
			vu_log(c->opts.log, VU_LOG_DEBUG,
			       "dropping late reply to message %u (timed out or cancelled)", id);
			return 0;
		}
		vu_log(c->opts.log, VU_LOG_ERR, "server replied to message %u, which we never sent",
		       id);
		return -EPROTO;
	}
	if (!bad && m->hdr.cmd != w->cmd) {
		snprintf(why, sizeof(why), "reply is for %s", vu_command_name(m->hdr.cmd));
		bad = -EPROTO;
	}
	id_set(c, id, false);
	if (bad) {
		vu_log(c->opts.log, VU_LOG_ERR, "malformed reply to %s (message %u): %s",
		       vu_command_name(w->cmd), id, why);
		vu_msg_release(m);
		finish(c, w, -EPROTO);
	} else {
		if ((m->hdr.flags & VFIO_USER_F_ERROR) && m->len)
			vu_log(c->opts.log, VU_LOG_DEBUG,
			       "error reply to %s (message %u) carries %zu bytes: ignored",
			       vu_command_name(w->cmd), id, m->len);
		int err = take_payload(w, m);

		if (err)
			vu_msg_release(m);
		else
			w->msg = *m;
		finish(c, w, err);
	}
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static int read_one(struct vu_client *c, int fd, struct vu_rx *rx)
{
	struct vu_msg m;
	char why[160] = "";
	int err;

	err = vu_sock_recv_rx(fd, c->ours.max_msg_fds, c->timeout_ms, &m, rx, why, sizeof(why));
	if (err == -EBADMSG) {
		if ((m.hdr.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY)
			return deliver(c, &m, -EPROTO, why);
		vu_log(c->opts.log, VU_LOG_ERR, "bad %s request from server: %s",
		       vu_command_name(m.hdr.cmd), why);
		return send_error(c, fd, &m.hdr, -EINVAL);
	}
	if (err) {
		if (err != -ECONNRESET)
			vu_log(c->opts.log, VU_LOG_ERR, "receive from server failed: %s",
			       *why ? why : strerror(-err));
		return err;
	}
	if ((m.hdr.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY)
		return deliver(c, &m, 0, NULL);
	err = serve_request(c, fd, &m, rx);
	vu_msg_release(&m);
	return err;
}

/*
 * Twin-socket mode: the main socket is ending (the server closed it, or a
 * call reading it met an error and shut it down). Take its read role once
 * free, read the replies still in it, and return what ended it. The role is
 * kept: nothing is read there any more.
 */
static int drain_main(struct vu_client *c)
{
	int err;

	pthread_mutex_lock(&c->lock);
	c->reader_waits = true;
	while (c->leading)
		pthread_cond_wait(&c->lead_cond, &c->lock);
	c->reader_waits = false;
	c->leading = true;
	err = c->read_err;
	pthread_mutex_unlock(&c->lock);
	while (!err)
		err = read_one(c, c->fd, &c->rx_main);
	return err;
}

static void *reader_main(void *arg)
{
	struct vu_client *c = arg;
	/* In twin-socket mode replies are the calls' to read: only the end of
	 * the main socket (POLLRDHUP, POLLHUP) wakes us. */
	struct pollfd p[2] = {{.fd = c->fd, .events = c->self_read ? POLLRDHUP : POLLIN},
	                      {.fd = c->twin_fd, .events = POLLIN}};
	nfds_t n = c->twin_fd >= 0 ? 2 : 1;
	int err = 0;

	while (!err) {
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 2 && p[1].revents)
			err = read_one(c, c->twin_fd, &c->rx_twin);
		if (!err && p[0].revents)
			err = c->self_read ? drain_main(c) : read_one(c, c->fd, &c->rx_main);
	}
	lost(c, err);
	return NULL;
}

static int version_send(struct vu_client *c)
{
	struct vfio_user_version v = {.major = c->ours.major, .minor = c->ours.minor};
	struct vfio_user_header h = {.cmd = VFIO_USER_VERSION};
	char *json = NULL;
	int err;

	err = vu_caps_encode(&c->ours, &json);
	if (err)
		return err;
	err = vu_sock_send(c->fd, &h,
	                   (struct iovec[]){{.iov_base = &v, .iov_len = sizeof(v)},
	                                    {.iov_base = json, .iov_len = strlen(json) + 1}},
	                   2, NULL, 0);
	free(json);
	return err;
}

/* In twin-socket mode the server passes its end of a socket pair with the
 * VERSION reply, as libvfio-user does; it sends its DMA requests there. */
static int take_twin(struct vu_client *c, struct vu_msg *m, char *why, size_t whylen)
{
	uint32_t i = c->caps.twin_fd_index;
	struct stat st;

	if (i >= m->nr_fds) {
		snprintf(why, whylen, "twin socket at fd_index %u, but %zu fds came", i, m->nr_fds);
		return -EPROTO;
	}
	if (fstat(m->fds[i], &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(why, whylen, "twin socket fd is not a socket");
		return -EPROTO;
	}
	c->twin_fd = m->fds[i];
	m->fds[i] = -1;
	return 0;
}

static int version_check(struct vu_client *c, struct vu_msg *m)
{
	const struct vfio_user_version *v = m->payload;
	struct vu_caps theirs;
	char why[200] = "";
	int err;

	if (m->hdr.cmd != VFIO_USER_VERSION ||
	    (m->hdr.flags & VFIO_USER_F_TYPE_MASK) != VFIO_USER_F_TYPE_REPLY) {
		snprintf(why, sizeof(why), "expected a VERSION reply, got %s",
		         vu_command_name(m->hdr.cmd));
		err = -EPROTO;
		goto fail;
	}
	err = vu_msg_check(&m->hdr, m->payload, m->len, m->nr_fds, c->ours.max_data_xfer_size, why,
	                   sizeof(why));
	if (err)
		goto fail;
	if (m->hdr.flags & VFIO_USER_F_ERROR) {
		err = errno_from_wire(m->hdr.error_no);
		snprintf(why, sizeof(why), "server refused our version: %s", strerror(-err));
		goto fail;
	}
	err = vu_caps_parse(v->data, m->len - sizeof(*v), &theirs, why, sizeof(why));
	if (err)
		goto fail;
	theirs.major = v->major;
	theirs.minor = v->minor;
	err = vu_caps_agree(&c->ours, &theirs, &c->caps, why, sizeof(why));
	/* A server may take more fds a message than the kernel passes in one;
	 * more would fail the sendmsg and lose the connection. */
	if (c->caps.max_msg_fds > KERNEL_MAX_FDS)
		c->caps.max_msg_fds = KERNEL_MAX_FDS;
	if (!err && c->caps.twin_socket)
		err = take_twin(c, m, why, sizeof(why));
	if (err)
		goto fail;
	return 0;
fail:
	vu_log(c->opts.log, VU_LOG_ERR, "version negotiation failed: %s", why);
	return err;
}

static int negotiate(struct vu_client *c)
{
	struct vu_msg m;
	char why[160] = "";
	int err;

	err = version_send(c);
	if (err) {
		vu_log(c->opts.log, VU_LOG_ERR, "send VERSION: %s", strerror(-err));
		return err;
	}
	err = vu_sock_wait(c->fd, c->timeout_ms);
	if (err <= 0) {
		err = err ? err : -ETIMEDOUT;
		vu_log(c->opts.log, VU_LOG_ERR, "no VERSION reply: %s", strerror(-err));
		return err;
	}
	err = vu_sock_recv(c->fd, c->ours.max_msg_fds, c->timeout_ms, &m, why, sizeof(why));
	if (err) {
		vu_log(c->opts.log, VU_LOG_ERR, "receive VERSION reply: %s",
		       *why ? why : strerror(-err));
		return err == -ECONNRESET ? -ENOTCONN : err;
	}
	err = version_check(c, &m);
	vu_msg_release(&m);
	return err;
}

static void set_send_timeout(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void proposal(struct vu_client *c)
{
	vu_caps_default(&c->ours);
	c->ours.max_msg_fds = c->opts.max_msg_fds ? c->opts.max_msg_fds : DEFAULT_CLIENT_MAX_FDS;
	if (c->ours.max_msg_fds > VU_MAX_MSG_FDS_LIMIT)
		c->ours.max_msg_fds = VU_MAX_MSG_FDS_LIMIT;
	if (c->opts.max_data_xfer_size)
		c->ours.max_data_xfer_size = c->opts.max_data_xfer_size;
	if (c->ours.max_data_xfer_size > VU_MAX_XFER_SIZE_LIMIT)
		c->ours.max_data_xfer_size = VU_MAX_XFER_SIZE_LIMIT;
	c->ours.write_multiple = true;
	c->ours.twin_socket = c->opts.twin_socket && c->is_unix;
	c->ours.twin_fd_index = 0;
}

static void client_free(struct vu_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->twin_fd >= 0)
		close(c->twin_fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	vu_rx_fini(&c->rx_main);
	vu_rx_fini(&c->rx_twin);
	pthread_cond_destroy(&c->lead_cond);
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->send_lock);
	free(c);
}

int vu_client_connect(const char *addr, const struct vu_client_opts *opts, struct vu_client **out)
{
	struct vu_client *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	if (opts)
		c->opts = *opts;
	c->twin_fd = -1;
	c->wake_fd = -1;
	c->timeout_ms = c->opts.timeout_ms > 0 ? c->opts.timeout_ms : VU_DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->send_lock, NULL);
	cond_init_monotonic(&c->idle);
	cond_init_monotonic(&c->lead_cond);
	c->fd = vu_sock_connect(addr, &c->is_unix, c->opts.log);
	if (c->fd < 0) {
		err = c->fd;
		goto fail;
	}
	set_send_timeout(c->fd, c->timeout_ms);
	proposal(c);
	err = negotiate(c);
	if (err)
		goto fail;
	if (c->twin_fd >= 0) {
		set_send_timeout(c->twin_fd, c->timeout_ms);
		c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		c->self_read = c->wake_fd >= 0;
	}
	/* The reader's receive buffers, where DMA requests come. */
	c->rx_twin.room = c->opts.dma_buf;
	c->rx_twin.room_arg = c->opts.arg;
	if (!c->self_read) {
		c->rx_main.room = c->opts.dma_buf;
		c->rx_main.room_arg = c->opts.arg;
	}
	c->next_id = 1;
	set_state(c, CLIENT_UP);
	err = -pthread_create(&c->reader, NULL, reader_main, c);
	if (err)
		goto fail;
	pthread_setname_np(c->reader, "vu-reader");
	*out = c;
	return 0;
fail:
	client_free(c);
	return err;
}

/* The reader has failed every waiter; let the callers it woke leave before
 * the memory goes. Returns false if one did not leave in time: then the
 * connection is left allocated rather than freed under it. */
static bool wait_idle(struct vu_client *c)
{
	struct timespec dl = deadline_in(c->timeout_ms);
	unsigned left;

	pthread_mutex_lock(&c->lock);
	while (c->active && pthread_cond_timedwait(&c->idle, &c->lock, &dl) != ETIMEDOUT)
		;
	left = c->active;
	pthread_mutex_unlock(&c->lock);
	if (left)
		vu_log(c->opts.log, VU_LOG_ERR,
		       "%u calls still running at close: connection not freed", left);
	return !left;
}

void vu_client_close(struct vu_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->closing = true;
	pthread_mutex_unlock(&c->lock);
	shutdown(c->fd, SHUT_RDWR);
	if (c->twin_fd >= 0)
		shutdown(c->twin_fd, SHUT_RDWR);
	pthread_join(c->reader, NULL);
	if (wait_idle(c))
		client_free(c);
}

const struct vu_caps *vu_client_caps(const struct vu_client *c)
{
	return &c->caps;
}

const struct vu_log *vu_client_log(const struct vu_client *c)
{
	return c->opts.log;
}

bool vu_client_can_pass_fds(const struct vu_client *c)
{
	return c->is_unix;
}

bool vu_client_connected(const struct vu_client *c)
{
	struct vu_client *mc = (struct vu_client *)c;
	bool up;

	pthread_mutex_lock(&mc->lock);
	up = mc->state == CLIENT_UP;
	pthread_mutex_unlock(&mc->lock);
	return up;
}

struct vu_cancel *vu_cancel_new(void)
{
	struct vu_cancel *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	atomic_init(&t->fired, false);
	pthread_mutex_init(&t->lock, NULL);
	t->wake_fd = -1;
	return t;
}

void vu_cancel_fire(struct vu_cancel *t)
{
	atomic_store(&t->fired, true);
	pthread_mutex_lock(&t->lock);
	if (t->wait_lock) {
		uint64_t one = 1;

		pthread_mutex_lock(t->wait_lock);
		pthread_cond_broadcast(t->wait_cond);
		pthread_mutex_unlock(t->wait_lock);
		/* The call may be reading the socket, not waiting on its cond. */
		if (t->wake_fd >= 0 && write(t->wake_fd, &one, sizeof(one)) < 0)
			vu_log(NULL, VU_LOG_DEBUG, "cancel: cannot wake the call: %s",
			       strerror(errno));
	}
	pthread_mutex_unlock(&t->lock);
}

void vu_cancel_reset(struct vu_cancel *t)
{
	atomic_store(&t->fired, false);
}

void vu_cancel_free(struct vu_cancel *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Called without c->lock: the token's lock comes first. */
static void cancel_register(struct vu_cancel *t, pthread_mutex_t *lock, pthread_cond_t *cond,
                            int wake_fd)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->wait_lock = lock;
	t->wait_cond = cond;
	t->wake_fd = wake_fd;
	pthread_mutex_unlock(&t->lock);
}

static int check_call(struct vu_client *c, uint16_t cmd, const struct iovec *iov, int iovcnt,
                      size_t nr_fds, const int *fds)
{
	uint64_t size = sizeof(struct vfio_user_header);

	if (iovcnt < 0 || (iovcnt && !iov) || (nr_fds && !fds))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++)
		size += iov[i].iov_len;
	if (size > VU_MSG_MAX_SIZE) {
		vu_log(c->opts.log, VU_LOG_ERR, "%s request of %llu bytes is too large",
		       vu_command_name(cmd), (unsigned long long)size);
		return -EMSGSIZE;
	}
	if (nr_fds && !c->is_unix) {
		vu_log(c->opts.log, VU_LOG_ERR,
		       "%s needs to pass %zu fds, but eventfds/DMA fds cannot cross TCP",
		       vu_command_name(cmd), nr_fds);
		return -EOPNOTSUPP;
	}
	if (nr_fds > c->caps.max_msg_fds) {
		vu_log(c->opts.log, VU_LOG_ERR, "%s with %zu fds, server accepts %u per message",
		       vu_command_name(cmd), nr_fds, c->caps.max_msg_fds);
		return -EINVAL;
	}
	return 0;
}

static int reserve_id(struct vu_client *c, struct waiter *w)
{
	for (unsigned i = 0; i < NR_IDS; i++) {
		uint16_t id = c->next_id++;

		if (!id_busy(c, id)) {
			id_set(c, id, true);
			w->id = id;
			w->next = c->waiters;
			c->waiters = w;
			return 0;
		}
	}
	vu_log(c->opts.log, VU_LOG_ERR, "all message ids are awaiting replies");
	return -EBUSY;
}

/* Whether a waiting call may take the main socket's read role. Locked. */
static bool may_lead(const struct vu_client *c)
{
	return c->self_read && !c->leading && !c->read_err && c->state == CLIENT_UP;
}

/* The read role is free: a call still waiting takes it (the reader thread,
 * if it waits to drain the socket, is told too). Locked. */
static void lead_handover(struct vu_client *c)
{
	struct waiter *w;

	for (w = c->waiters; w; w = w->next) {
		if (!w->done) {
			pthread_cond_signal(&w->cond);
			break;
		}
	}
	if (c->reader_waits)
		pthread_cond_signal(&c->lead_cond);
}

static void drain_wake(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		vu_log(NULL, VU_LOG_DEBUG, "read of the wake eventfd: %s", strerror(errno));
}

/*
 * Read the main socket until w's reply has come (0), the deadline passes
 * (-ETIMEDOUT) or the cancel token fires (-EINTR), handing other calls
 * their replies meanwhile. A read error is left to the reader thread,
 * which tells the owner and fails every call: 0 then, with w not done.
 * Called locked; unlocks while it reads.
 */
static int lead(struct vu_client *c, struct waiter *w, const struct timespec *dl,
                struct vu_cancel *cancel)
{
	int err = 0;

	c->leading = true;
	while (!w->done) {
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
		                      {.fd = c->wake_fd, .events = POLLIN}};
		int ms = deadline_ms_left(dl), n, rerr = 0;

		if (cancel && atomic_load(&cancel->fired)) {
			err = -EINTR;
			break;
		}
		if (!ms) {
			err = -ETIMEDOUT;
			break;
		}
		pthread_mutex_unlock(&c->lock);
		n = poll(p, 2, ms);
		if (n > 0 && p[1].revents)
			drain_wake(c->wake_fd);
		if (n > 0 && p[0].revents)
			rerr = read_one(c, c->fd, &c->rx_main);
		else if (n < 0 && errno != EINTR)
			rerr = -errno;
		pthread_mutex_lock(&c->lock);
		if (rerr) {
			c->read_err = rerr;
			shutdown(c->fd, SHUT_RDWR); /* wakes the reader thread */
			break;
		}
	}
	c->leading = false;
	lead_handover(c);
	return err;
}

/* Wait until the reply, the deadline, the cancel token or the disconnect,
 * reading the reply itself when it may. Called with c->lock held. */
static int wait_reply(struct vu_client *c, struct waiter *w, int timeout_ms,
                      struct vu_cancel *cancel)
{
	struct timespec dl = deadline_in(timeout_ms);
	int err;

	while (!w->done) {
		if (cancel && atomic_load(&cancel->fired)) {
			unlink_waiter(c, w);
			return -EINTR;
		}
		if (may_lead(c)) {
			err = lead(c, w, &dl, cancel);
			if (err == -EINTR && !w->done) {
				unlink_waiter(c, w);
				return -EINTR;
			}
			if (err == -ETIMEDOUT && !w->done)
				goto timeout;
			continue;
		}
		if (pthread_cond_timedwait(&w->cond, &c->lock, &dl) == ETIMEDOUT && !w->done)
			goto timeout;
	}
	return w->err;
timeout:
	unlink_waiter(c, w);
	vu_log(c->opts.log, VU_LOG_WARN, "%s (message %u): no reply in %d ms",
	       vu_command_name(w->cmd), w->id, timeout_ms);
	return -ETIMEDOUT;
}

static int reply_result(struct waiter *w, struct vu_msg *reply, bool *refused)
{
	struct vu_msg *m = &w->msg;

	if (m->hdr.flags & VFIO_USER_F_ERROR) {
		int err = errno_from_wire(m->hdr.error_no);

		vu_msg_release(m);
		if (refused)
			*refused = true;
		return err;
	}
	if (!reply) {
		vu_msg_release(m);
		return 0;
	}
	*reply = *m;
	return 0;
}

/* Called with c->lock held, as the last touch of c by a call. */
static void leave(struct vu_client *c)
{
	if (!--c->active && c->closing)
		pthread_cond_broadcast(&c->idle);
}

/* Register w. *send is false when the connection is being lost: then the
 * call only waits for the reader to fail it. */
static int start_call(struct vu_client *c, struct waiter *w, struct vu_cancel *cancel, bool *send)
{
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (c->state == CLIENT_FAILED)
		err = -ENOTCONN;
	else if (cancel && atomic_load(&cancel->fired))
		err = -EINTR;
	else
		err = reserve_id(c, w);
	if (!err)
		c->active++;
	*send = c->state == CLIENT_UP;
	pthread_mutex_unlock(&c->lock);
	return err;
}

int vu_callv(struct vu_client *c, uint16_t cmd, const struct iovec *iov, int iovcnt, const int *fds,
             size_t nr_fds, const struct vu_call_opts *opts, struct vu_msg *reply)
{
	struct vu_cancel *cancel = opts ? opts->cancel : NULL;
	bool *refused = opts ? opts->refused : NULL;
	int timeout = opts && opts->timeout_ms > 0 ? opts->timeout_ms : c->timeout_ms;
	struct waiter w = {.cmd = cmd,
	                   .rbuf = opts ? opts->reply_buf : NULL,
	                   .rroom = opts && opts->reply_buf ? opts->reply_room : 0};
	struct vfio_user_header h = {.cmd = cmd, .flags = VFIO_USER_F_TYPE_COMMAND};
	bool send;
	int err;

	if (reply)
		memset(reply, 0, sizeof(*reply));
	if (refused)
		*refused = false;
	err = check_call(c, cmd, iov, iovcnt, nr_fds, fds);
	if (err)
		return err;
	cond_init_monotonic(&w.cond);
	err = start_call(c, &w, cancel, &send);
	if (err)
		goto out;
	h.msg_id = w.id;
	cancel_register(cancel, &c->lock, &w.cond, c->wake_fd);
	if (send)
		err = send_locked(c, c->fd, &h, iov, iovcnt, fds, nr_fds);
	if (err && err != -ENOMEM) {
		/* Part of the message may be on the wire: the stream is lost.
		 * The reader sees the shutdown and fails this call with the
		 * others, after telling the owner. */
		vu_log(c->opts.log, VU_LOG_ERR, "send %s: %s", vu_command_name(cmd),
		       strerror(-err));
		shutdown(c->fd, SHUT_RDWR);
	}
	pthread_mutex_lock(&c->lock);
	if (err == -ENOMEM && !w.done) {
		/* Nothing was sent. */
		unlink_waiter(c, &w);
		id_set(c, w.id, false);
	} else {
		err = wait_reply(c, &w, timeout, cancel);
	}
	leave(c);
	pthread_mutex_unlock(&c->lock);
	cancel_register(cancel, NULL, NULL, -1);
	if (!err)
		err = reply_result(&w, reply, refused);
out:
	pthread_cond_destroy(&w.cond);
	return err;
}

int vu_call(struct vu_client *c, uint16_t cmd, const void *req, size_t len, const int *fds,
            size_t nr_fds, const struct vu_call_opts *opts, struct vu_msg *reply)
{
	struct iovec iov = {.iov_base = (void *)req, .iov_len = len};

	return vu_callv(c, cmd, &iov, len ? 1 : 0, fds, nr_fds, opts, reply);
}

int vu_postv(struct vu_client *c, uint16_t cmd, const struct iovec *iov, int iovcnt)
{
	struct vfio_user_header h = {.cmd = cmd,
	                             .flags = VFIO_USER_F_TYPE_COMMAND | VFIO_USER_F_NO_REPLY};
	int err;

	err = check_call(c, cmd, iov, iovcnt, 0, NULL);
	if (err)
		return err;
	pthread_mutex_lock(&c->lock);
	if (c->state != CLIENT_UP)
		err = -ENOTCONN;
	else
		c->active++;
	h.msg_id = c->next_id++;
	pthread_mutex_unlock(&c->lock);
	if (err)
		return err;
	err = send_locked(c, c->fd, &h, iov, iovcnt, NULL, 0);
	if (err) {
		vu_log(c->opts.log, VU_LOG_ERR, "send %s: %s", vu_command_name(cmd),
		       strerror(-err));
		shutdown(c->fd, SHUT_RDWR);
		err = -ENOTCONN;
	}
	pthread_mutex_lock(&c->lock);
	leave(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

int vu_post(struct vu_client *c, uint16_t cmd, const void *req, size_t len)
{
	struct iovec iov = {.iov_base = (void *)req, .iov_len = len};

	return vu_postv(c, cmd, &iov, len ? 1 : 0);
}
