/* SPDX-License-Identifier: MIT */
/*
 * The server side: negotiate with one client, then read, check and dispatch
 * its commands in order. While a device callback waits for the client's
 * answer to a DMA request, client commands that arrive on the main socket
 * are queued and dispatched after the callback returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "common/common.h"
#include "msg.h"
#include "server.h"
#include "sock.h"

#define STOP_POLL_MS  100
#define IO_TIMEOUT_MS 5000 /* the rest of a started message; a send */
/* The client's VERSION. Long: on a loaded host (load average 14, under TCG)
 * a daemon took more than 5 s from its connect to its VERSION. */
#define HELLO_TIMEOUT_MS 30000
#define DMA_TIMEOUT_MS   5000 /* the client's answer to a DMA request */
#define QUEUE_MAX        4096 /* commands held while a DMA request waits */

struct queued {
	struct queued *next;
	struct vu_msg m;
	int err; /* non-zero: the message was bad on receipt; answer with this */
};

struct vu_server_conn {
	int fd;
	int twin_fd; /* the client's twin socket for our DMA requests, or -1 */
	const struct vu_server_ops *ops;
	void *dev;
	const struct vu_log *log;
	bool strict;         /* a command during our DMA wait is fatal, as in libvfio-user */
	struct vu_caps ours; /* what we offered: our receive limits */
	struct vu_caps caps; /* in force, as sent in our VERSION reply */
	struct queued *qhead;
	struct queued **qtail;
	size_t qlen;
	uint16_t next_id;
	int dead; /* a fatal error met inside a callback */
};

/* A reply under construction: data is malloc'd, fd stays the device's. */
struct reply {
	void *data;
	size_t len;
	int fd;
};

static _Thread_local struct vu_server_conn *current_conn;

struct vu_server_conn *vu_server_current(void)
{
	return current_conn;
}

const struct vu_caps *vu_server_caps(const struct vu_server_conn *conn)
{
	return &conn->caps;
}

int vu_server_listen(const char *path)
{
	return vu_sock_listen_unix(path);
}

static int reply_alloc(struct reply *rep, const void *src, size_t len)
{
	rep->data = malloc(len ? len : 1);
	if (!rep->data)
		return -ENOMEM;
	if (src)
		memcpy(rep->data, src, len);
	rep->len = len;
	return 0;
}

static int send_reply(struct vu_server_conn *s, const struct vfio_user_header *req, int err,
                      const struct reply *rep)
{
	struct vfio_user_header h = {
	    .msg_id = req->msg_id, .cmd = req->cmd, .flags = VFIO_USER_F_TYPE_REPLY};
	struct iovec iov = {0};
	int fd = -1;

	if (req->flags & VFIO_USER_F_NO_REPLY)
		return 0;
	if (err) {
		h.flags |= VFIO_USER_F_ERROR;
		h.error_no = (uint32_t)-err;
	} else if (rep) {
		iov = (struct iovec){.iov_base = rep->data, .iov_len = rep->len};
		fd = rep->fd;
	}
	return vu_sock_send(s->fd, &h, &iov, iov.iov_len ? 1 : 0, &fd, fd >= 0 ? 1 : 0);
}

/* Take fd i out of a message so releasing the message does not close it. */
static int take_fd(struct vu_msg *m, size_t i)
{
	int fd;

	if (i >= m->nr_fds)
		return -1;
	fd = m->fds[i];
	m->fds[i] = -1;
	return fd;
}

static int do_dma_map(struct vu_server_conn *s, struct vu_msg *m, struct reply *rep)
{
	int fd = take_fd(m, 0);

	if (!s->ops->dma_map) {
		if (fd >= 0)
			close(fd);
		return -ENOTSUP;
	}
	return s->ops->dma_map(s->dev, m->payload, fd);
}

static int do_dma_unmap(struct vu_server_conn *s, struct vu_msg *m, struct reply *rep)
{
	int err;

	if (!s->ops->dma_unmap)
		return -ENOTSUP;
	err = s->ops->dma_unmap(s->dev, m->payload);
	return err ? err : reply_alloc(rep, m->payload, sizeof(struct vfio_user_dma_unmap));
}

static int do_device_info(struct vu_server_conn *s, struct vu_msg *m, struct reply *rep)
{
	struct vfio_user_device_info info = {.argsz = sizeof(info)};
	int err;

	if (!s->ops->device_info)
		return -ENOTSUP;
	err = s->ops->device_info(s->dev, &info);
	info.argsz = sizeof(info);
	return err ? err : reply_alloc(rep, &info, sizeof(info));
}

static int do_region_info(struct vu_server_conn *s, struct vu_msg *m, struct reply *rep)
{
	const struct vfio_user_region_info *req = m->payload;
	struct vfio_user_region_info *info;
	size_t room, len;
	int err;

	if (!s->ops->region_info)
		return -ENOTSUP;
	room = req->argsz < sizeof(*info) ? sizeof(*info) : req->argsz;
	if (room > VU_REGION_INFO_MAX)
		room = VU_REGION_INFO_MAX;
	err = reply_alloc(rep, NULL, room);
	if (err)
		return err;
	memset(rep->data, 0, room);
	info = rep->data;
	info->argsz = (uint32_t)room;
	info->index = req->index;
	len = room;
	err = s->ops->region_info(s->dev, req->index, rep->data, &len, &rep->fd);
	if (err)
		return err;
	if (len < sizeof(*info) || len > UINT32_MAX) {
		vu_log(s->log, VU_LOG_ERR, "device gave a region info of %zu bytes", len);
		return -EINVAL;
	}
	info->argsz = (uint32_t)len;
	info->index = req->index;
	if (len > room || len > req->argsz) {
		/* Too small a buffer: say how much is needed, send no chain.
		 * The kernel would still set CAPS, with cap_offset 0; on the
		 * wire the spec and libvfio-user set it only when the chain
		 * is in the reply, and QEMU's client refuses the other form. */
		info->flags &= ~VFIO_REGION_INFO_FLAG_CAPS;
		info->cap_offset = 0;
		rep->len = sizeof(*info);
		rep->fd = -1;
	} else {
		rep->len = len;
	}
	return 0;
}

static int do_irq_info(struct vu_server_conn *s, struct vu_msg *m, struct reply *rep)
{
	const struct vfio_user_irq_info *req = m->payload;
	struct vfio_user_irq_info info = {.argsz = sizeof(info), .index = req->index};
	int err;

	if (!s->ops->irq_info)
		return -ENOTSUP;
	err = s->ops->irq_info(s->dev, req->index, &info);
	info.argsz = sizeof(info);
	info.index = req->index;
	return err ? err : reply_alloc(rep, &info, sizeof(info));
}

static int do_set_irqs(struct vu_server_conn *s, struct vu_msg *m, struct reply *rep)
{
	const struct vfio_user_irq_set *set = m->payload;
	const uint8_t *data = (set->flags & VFIO_IRQ_SET_DATA_BOOL) ? set->data : NULL;
	size_t n = m->nr_fds;
	int *fds = m->fds;
	int err;

	if (!s->ops->set_irqs)
		return -ENOTSUP;
	/* The device owns the fds from here on, even on error; the array
	 * holding them stays ours. */
	m->fds = NULL;
	m->nr_fds = 0;
	err = s->ops->set_irqs(s->dev, set, data, fds, n);
	free(fds);
	return err;
}

static int do_region_read(struct vu_server_conn *s, struct vu_msg *m, struct reply *rep)
{
	const struct vfio_user_region_access *req = m->payload;
	struct vfio_user_region_access *out;
	int err;

	if (!s->ops->region_read)
		return -ENOTSUP;
	err = reply_alloc(rep, NULL, sizeof(*req) + req->count);
	if (err)
		return err;
	out = rep->data;
	memcpy(out, req, sizeof(*req));
	return s->ops->region_read(s->dev, req->region, req->offset, out->data, req->count);
}

static int do_region_write(struct vu_server_conn *s, struct vu_msg *m, struct reply *rep)
{
	const struct vfio_user_region_access *req = m->payload;
	int err;

	if (!s->ops->region_write)
		return -ENOTSUP;
	err = s->ops->region_write(s->dev, req->region, req->offset, req->data, req->count);
	return err ? err : reply_alloc(rep, req, sizeof(*req));
}

static int do_write_multi(struct vu_server_conn *s, struct vu_msg *m, struct reply *rep)
{
	const struct vfio_user_write_multi *req = m->payload;
	int err;

	if (!s->ops->region_write || !s->caps.write_multiple)
		return -ENOTSUP;
	for (uint64_t i = 0; i < req->wr_cnt; i++) {
		const struct vfio_user_write_multi_entry *e = &req->wrs[i];

		err = s->ops->region_write(s->dev, e->region, e->offset, e->data, e->count);
		if (err)
			return err;
	}
	return reply_alloc(rep, &req->wr_cnt, sizeof(req->wr_cnt));
}

static int do_reset(struct vu_server_conn *s, struct vu_msg *m, struct reply *rep)
{
	return s->ops->reset ? s->ops->reset(s->dev) : -ENOTSUP;
}

typedef int (*handler_fn)(struct vu_server_conn *, struct vu_msg *, struct reply *);

static handler_fn handler(uint16_t cmd)
{
	switch (cmd) {
	case VFIO_USER_DMA_MAP:
		return do_dma_map;
	case VFIO_USER_DMA_UNMAP:
		return do_dma_unmap;
	case VFIO_USER_DEVICE_GET_INFO:
		return do_device_info;
	case VFIO_USER_DEVICE_GET_REGION_INFO:
		return do_region_info;
	case VFIO_USER_DEVICE_GET_IRQ_INFO:
		return do_irq_info;
	case VFIO_USER_DEVICE_SET_IRQS:
		return do_set_irqs;
	case VFIO_USER_REGION_READ:
		return do_region_read;
	case VFIO_USER_REGION_WRITE:
		return do_region_write;
	case VFIO_USER_REGION_WRITE_MULTI:
		return do_write_multi;
	case VFIO_USER_DEVICE_RESET:
		return do_reset;
	default:
		return NULL;
	}
}

/* Check and run one client command, then answer it. Returns 0 or a fatal
 * -errno (the reply could not be sent). */
static int dispatch(struct vu_server_conn *s, struct vu_msg *m, int bad)
{
	struct reply rep = {.fd = -1};
	char why[160];
	handler_fn fn;
	int err = bad;

	if ((m->hdr.flags & VFIO_USER_F_TYPE_MASK) != VFIO_USER_F_TYPE_COMMAND) {
		vu_log(s->log, VU_LOG_DEBUG, "dropping unexpected %s reply (message %u)",
		       vu_command_name(m->hdr.cmd), m->hdr.msg_id);
		return 0;
	}
	if (!err && vu_msg_check(&m->hdr, m->payload, m->len, m->nr_fds, s->ours.max_data_xfer_size,
	                         why, sizeof(why))) {
		vu_log(s->log, VU_LOG_ERR, "malformed %s command (message %u): %s",
		       vu_command_name(m->hdr.cmd), m->hdr.msg_id, why);
		err = -EINVAL;
	}
	if (!err) {
		fn = handler(m->hdr.cmd);
		if (m->hdr.cmd == VFIO_USER_VERSION) {
			vu_log(s->log, VU_LOG_ERR, "client sent VERSION twice");
			err = -EINVAL;
		} else if (!fn) {
			err = -ENOTSUP;
		} else {
			current_conn = s;
			err = fn(s, m, &rep);
			current_conn = NULL;
		}
	}
	if (err > 0)
		err = -EIO;
	if (err && (m->hdr.flags & VFIO_USER_F_NO_REPLY))
		vu_log(s->log, VU_LOG_WARN, "posted %s (message %u) failed: %s",
		       vu_command_name(m->hdr.cmd), m->hdr.msg_id, strerror(-err));
	err = s->dead ? s->dead : send_reply(s, &m->hdr, err, &rep);
	free(rep.data);
	return err;
}

static bool is_unix(int fd)
{
	int domain = 0;
	socklen_t sl = sizeof(domain);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &sl) == 0 && domain == AF_UNIX;
}

/*
 * Twin-socket mode as libvfio-user does it: we make a socket pair, pass one
 * end with our VERSION reply (fd_index 0) and send our DMA requests on the
 * other, so they never mix with the client's commands.
 */
static int twin_open(struct vu_server_conn *s, const struct vu_caps *theirs, int *client_end)
{
	int sv[2];

	*client_end = -1;
	if (!s->ours.twin_socket || !theirs->twin_socket || !is_unix(s->fd))
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	s->twin_fd = sv[0];
	*client_end = sv[1];
	return 0;
}

static int negotiate_reply(struct vu_server_conn *s, const struct vu_msg *m,
                           const struct vu_caps *theirs)
{
	const struct vfio_user_version *cv = m->payload;
	struct vfio_user_version v = {.major = s->ours.major, .minor = s->ours.minor};
	struct vfio_user_header h = {
	    .msg_id = m->hdr.msg_id, .cmd = VFIO_USER_VERSION, .flags = VFIO_USER_F_TYPE_REPLY};
	struct vu_caps *c = &s->caps;
	char *json = NULL;
	int twin = -1, err;

	if (cv->minor < v.minor)
		v.minor = cv->minor;
	err = twin_open(s, theirs, &twin);
	if (err)
		return err;
	*c = s->ours;
	c->major = v.major;
	c->minor = v.minor;
	if (theirs->max_data_xfer_size < c->max_data_xfer_size)
		c->max_data_xfer_size = theirs->max_data_xfer_size;
	c->write_multiple = s->ours.write_multiple && theirs->write_multiple;
	c->twin_socket = twin >= 0;
	c->twin_fd_index = 0;
	c->migration = false;
	err = vu_caps_encode(c, &json);
	if (!err)
		err =
		    vu_sock_send(s->fd, &h,
		                 (struct iovec[]){{.iov_base = &v, .iov_len = sizeof(v)},
		                                  {.iov_base = json, .iov_len = strlen(json) + 1}},
		                 2, &twin, twin >= 0 ? 1 : 0);
	if (twin >= 0)
		close(twin);
	free(json);
	return err;
}

static int wait_readable(struct vu_server_conn *s, int fd, int timeout_ms,
                         volatile sig_atomic_t *stop)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		int64_t left = deadline - now_ms();
		int n;

		if (stop && *stop)
			return -ECANCELED;
		if (left <= 0)
			return -ETIMEDOUT;
		n = vu_sock_wait(fd, left < STOP_POLL_MS ? (int)left : STOP_POLL_MS);
		if (n)
			return n < 0 ? n : 0;
	}
}

static int negotiate(struct vu_server_conn *s, volatile sig_atomic_t *stop)
{
	struct vu_caps theirs;
	struct vu_msg m;
	char why[200] = "";
	int err;

	err = wait_readable(s, s->fd, HELLO_TIMEOUT_MS, stop);
	if (err)
		return err == -ECANCELED ? 0 : err;
	err = vu_sock_recv(s->fd, s->ours.max_msg_fds ? s->ours.max_msg_fds : 1, IO_TIMEOUT_MS, &m,
	                   why, sizeof(why));
	if (err == -ECONNRESET) {
		vu_log(s->log, VU_LOG_INFO, "client left before VERSION");
		return 0;
	}
	if (err)
		goto fail_log;
	err = -EPROTO;
	if (m.hdr.cmd != VFIO_USER_VERSION ||
	    (m.hdr.flags & VFIO_USER_F_TYPE_MASK) != VFIO_USER_F_TYPE_COMMAND) {
		snprintf(why, sizeof(why), "first message is %s, not VERSION",
		         vu_command_name(m.hdr.cmd));
		goto fail;
	}
	err = vu_msg_check(&m.hdr, m.payload, m.len, m.nr_fds, 0, why, sizeof(why));
	if (!err)
		err = vu_caps_parse(((struct vfio_user_version *)m.payload)->data,
		                    m.len - sizeof(struct vfio_user_version), &theirs, why,
		                    sizeof(why));
	if (!err && ((struct vfio_user_version *)m.payload)->major != s->ours.major) {
		snprintf(why, sizeof(why), "client speaks major version %u, we speak %u",
		         ((struct vfio_user_version *)m.payload)->major, s->ours.major);
		err = -EINVAL;
	}
	if (err)
		goto fail;
	err = negotiate_reply(s, &m, &theirs);
	vu_msg_release(&m);
	return err;
fail:
	send_reply(s, &m.hdr, err == -EPROTO ? -EINVAL : err, NULL);
	vu_msg_release(&m);
fail_log:
	vu_log(s->log, VU_LOG_ERR, "version negotiation failed: %s", *why ? why : strerror(-err));
	return err;
}

static void queue_push(struct vu_server_conn *s, struct queued *q)
{
	q->next = NULL;
	*s->qtail = q;
	s->qtail = &q->next;
	s->qlen++;
}

static struct queued *queue_pop(struct vu_server_conn *s)
{
	struct queued *q = s->qhead;

	if (q) {
		s->qhead = q->next;
		if (!s->qhead)
			s->qtail = &s->qhead;
		s->qlen--;
	}
	return q;
}

/* Receive one message from the main socket. A message consumed whole but
 * unacceptable (too many fds) comes back with q->err set. */
static int receive(struct vu_server_conn *s, int fd, struct queued *q)
{
	char why[160] = "";
	int err;

	q->err = 0;
	err = vu_sock_recv(fd, s->ours.max_msg_fds, IO_TIMEOUT_MS, &q->m, why, sizeof(why));
	if (err == -EBADMSG) {
		vu_log(s->log, VU_LOG_ERR, "bad %s message: %s", vu_command_name(q->m.hdr.cmd),
		       why);
		q->err = -EINVAL;
		return 0;
	}
	if (err && err != -ECONNRESET)
		vu_log(s->log, VU_LOG_ERR, "receive from client: %s", *why ? why : strerror(-err));
	return err;
}

static int serve_loop(struct vu_server_conn *s, volatile sig_atomic_t *stop)
{
	struct queued q;
	int err = 0;

	while (!err && !(stop && *stop)) {
		struct queued *held = queue_pop(s);

		if (held) {
			q = *held;
			free(held);
		} else {
			err = vu_sock_wait(s->fd, STOP_POLL_MS);
			if (err <= 0)
				continue;
			err = receive(s, s->fd, &q);
			if (err)
				break;
		}
		err = dispatch(s, &q.m, q.err);
		vu_msg_release(&q.m);
	}
	return err == -ECONNRESET ? 0 : err;
}

static void set_send_timeout(int fd)
{
	struct timeval tv = {.tv_sec = IO_TIMEOUT_MS / 1000};

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int vu_serve(int fd, const struct vu_server_ops *ops, void *dev, const struct vu_server_opts *opts,
             volatile sig_atomic_t *stop)
{
	struct vu_server_conn s = {.fd = fd, .twin_fd = -1, .ops = ops, .dev = dev};
	struct queued *q;
	int err;

	s.qtail = &s.qhead;
	s.log = opts ? opts->log : NULL;
	s.strict = opts && opts->strict;
	if (opts)
		s.ours = opts->caps;
	else
		vu_caps_default(&s.ours);
	set_send_timeout(fd);
	err = negotiate(&s, stop);
	if (!err && s.twin_fd >= 0)
		set_send_timeout(s.twin_fd);
	if (!err)
		err = serve_loop(&s, stop);
	if (ops->client_gone)
		ops->client_gone(dev);
	while ((q = queue_pop(&s))) {
		vu_msg_release(&q->m);
		free(q);
	}
	if (s.twin_fd >= 0)
		close(s.twin_fd);
	close(fd);
	return err;
}

/* Wait for the reply to our DMA request id on fd, queueing client commands
 * that arrive on the main socket meanwhile (unless strict). */
static int dma_wait(struct vu_server_conn *s, int fd, uint16_t id, uint16_t cmd, struct vu_msg *out)
{
	int64_t deadline = now_ms() + DMA_TIMEOUT_MS;
	struct queued *q;
	int err;

	for (;;) {
		int64_t left = deadline - now_ms();

		err = vu_sock_wait(fd, left > 0 ? (int)left : 0);
		if (err <= 0)
			return err ? err : -ETIMEDOUT;
		q = calloc(1, sizeof(*q));
		if (!q)
			return -ENOMEM;
		err = receive(s, fd, q);
		if (err) {
			free(q);
			return err;
		}
		if ((q->m.hdr.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY) {
			if (q->m.hdr.msg_id == id && q->m.hdr.cmd == cmd && !q->err) {
				*out = q->m;
				free(q);
				return 0;
			}
			vu_log(s->log, VU_LOG_DEBUG, "dropping stray %s reply (message %u)",
			       vu_command_name(q->m.hdr.cmd), q->m.hdr.msg_id);
			vu_msg_release(&q->m);
			free(q);
			continue;
		}
		if (fd != s->fd || s->strict || s->qlen >= QUEUE_MAX) {
			vu_log(s->log, VU_LOG_ERR, "client sent %s while we waited for DMA%s",
			       vu_command_name(q->m.hdr.cmd),
			       fd != s->fd ? " on the twin socket"
			       : s->strict ? " (strict: without twin-socket mode)"
			                   : ", and too many");
			vu_msg_release(&q->m);
			free(q);
			return -EPROTO;
		}
		queue_push(s, q);
	}
}

static int dma_one(struct vu_server_conn *s, uint16_t cmd, uint64_t addr, void *buf, uint64_t count)
{
	int fd = s->twin_fd >= 0 ? s->twin_fd : s->fd;
	struct vfio_user_dma_access req = {.addr = addr, .count = count};
	struct vfio_user_header h = {.msg_id = s->next_id++, .cmd = cmd};
	struct iovec iov[2] = {{.iov_base = &req, .iov_len = sizeof(req)},
	                       {.iov_base = buf, .iov_len = count}};
	const struct vfio_user_dma_access *ack;
	struct vu_msg m;
	char why[160];
	int err;

	if (s->dead)
		return -ENOTCONN;
	err = vu_sock_send(fd, &h, iov, cmd == VFIO_USER_DMA_WRITE ? 2 : 1, NULL, 0);
	if (!err)
		err = dma_wait(s, fd, h.msg_id, cmd, &m);
	if (err) {
		vu_log(s->log, VU_LOG_ERR, "%s of %llu bytes at %#llx: %s", vu_command_name(cmd),
		       (unsigned long long)count, (unsigned long long)addr, strerror(-err));
		s->dead = err == -ECONNRESET ? -ENOTCONN : err;
		return s->dead;
	}
	err = vu_msg_check(&m.hdr, m.payload, m.len, m.nr_fds, s->ours.max_data_xfer_size, why,
	                   sizeof(why));
	if (err) {
		vu_log(s->log, VU_LOG_ERR, "malformed %s reply: %s", vu_command_name(cmd), why);
	} else if (m.hdr.flags & VFIO_USER_F_ERROR) {
		err = errno_from_wire(m.hdr.error_no);
	} else if (cmd == VFIO_USER_DMA_READ) {
		ack = m.payload;
		if (ack->count != count)
			err = -EIO;
		else
			memcpy(buf, ack->data, count);
	}
	vu_msg_release(&m);
	return err;
}

static int dma_split(struct vu_server_conn *conn, uint16_t cmd, uint64_t addr, void *buf,
                     size_t count)
{
	size_t chunk, done = 0;
	int err = 0;

	if (!conn)
		return -EINVAL;
	/* A DMA_READ reply must fit our receive limit as well as the request
	 * the client's: the agreed size (the smaller of the two) fits both. */
	chunk = conn->caps.max_data_xfer_size ? conn->caps.max_data_xfer_size
	                                      : VU_DEFAULT_MAX_DATA_XFER_SIZE;
	while (!err && done < count) {
		size_t n = count - done < chunk ? count - done : chunk;

		err = dma_one(conn, cmd, addr + done, (char *)buf + done, n);
		done += n;
	}
	return err;
}

int vu_server_dma_read(struct vu_server_conn *conn, uint64_t addr, void *buf, size_t count)
{
	return dma_split(conn, VFIO_USER_DMA_READ, addr, buf, count);
}

int vu_server_dma_write(struct vu_server_conn *conn, uint64_t addr, const void *buf, size_t count)
{
	return dma_split(conn, VFIO_USER_DMA_WRITE, addr, (void *)buf, count);
}
