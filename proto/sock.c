/* SPDX-License-Identifier: MIT */
/*
 * Moving whole vfio-user messages over stream sockets, with SCM_RIGHTS fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "msg.h"
#include "sock.h"

#define CONNECT_TIMEOUT_MS 5000

/* Accumulates the fds that arrive while one message is read. */
struct fd_acc {
	int *fds;
	size_t nr;
	size_t max;
	bool overflow;
};

void vu_msg_release(struct vu_msg *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nr_fds; i++) {
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	}
	free(m->fds);
	if (!m->borrowed)
		free(m->payload);
	m->fds = NULL;
	m->nr_fds = 0;
	m->payload = NULL;
	m->len = 0;
	m->borrowed = false;
}

void vu_rx_fini(struct vu_rx *rx)
{
	free(rx->big);
	rx->big = NULL;
	rx->big_cap = 0;
}

int vu_sock_wait(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	for (;;) {
		int left = deadline < 0 ? -1 : (int)(deadline - now_ms());
		int n;

		if (deadline >= 0 && left < 0)
			left = 0;
		n = poll(&p, 1, left);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static int connect_unix(const char *path, const struct vu_log *log)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		vu_log(log, VU_LOG_ERR, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		if (err == EINTR)
			continue;
		close(fd);
		/* The caller reports the errno (vu_connect_explain), once: a
		 * retry loop must not log an error each round. */
		vu_log(log, VU_LOG_DEBUG, "connect to %s: %s", path, strerror(err));
		return -err;
	}
	return fd;
}

static int take_fd(const char *num, bool *is_unix, const struct vu_log *log)
{
	int domain = 0, type = 0;
	socklen_t sl = sizeof(int);
	char *end;
	long n;

	errno = 0;
	n = strtol(num, &end, 10);
	if (errno || end == num || *end || n < 0 || n > INT_MAX) {
		vu_log(log, VU_LOG_ERR, "bad fd number in address: fd:%s", num);
		return -EINVAL;
	}
	if (getsockopt((int)n, SOL_SOCKET, SO_TYPE, &type, &sl) < 0 || type != SOCK_STREAM) {
		vu_log(log, VU_LOG_ERR, "fd %ld is not a stream socket", n);
		return -ENOTSOCK;
	}
	sl = sizeof(int);
	if (getsockopt((int)n, SOL_SOCKET, SO_DOMAIN, &domain, &sl) < 0)
		return -errno;
	if (fcntl((int)n, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	*is_unix = domain == AF_UNIX;
	return (int)n;
}

/* Connect with a bound wait: TCP to an unreachable host would otherwise
 * block for minutes. */
static int connect_bounded(const struct addrinfo *ai)
{
	int fd, err = 0, flags;
	socklen_t sl = sizeof(err);
	struct pollfd p;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto fail;
		}
		p = (struct pollfd){.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, CONNECT_TIMEOUT_MS) <= 0) {
			err = -ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err) {
			err = err ? -err : -errno;
			goto fail;
		}
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		err = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

static int connect_tcp(const char *hostport, const struct vu_log *log)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL, *ai;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t hl;
	int fd = -EINVAL, one = 1, rc;

	if (!colon || colon == hostport || !colon[1]) {
		vu_log(log, VU_LOG_ERR, "bad TCP address, want tcp:HOST:PORT: tcp:%s", hostport);
		return -EINVAL;
	}
	hl = (size_t)(colon - hostport);
	if (hostport[0] == '[' && hl >= 2 && hostport[hl - 1] == ']') {
		hostport++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		vu_log(log, VU_LOG_ERR, "TCP host name too long");
		return -EINVAL;
	}
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc) {
		vu_log(log, VU_LOG_DEBUG, "resolve %s port %s: %s", host, colon + 1,
		       gai_strerror(rc));
		/* No such name (ENXIO) is not a failure to reach an address. */
		if (rc == EAI_SYSTEM)
			return -errno;
		return rc == EAI_AGAIN ? -EAGAIN : -ENXIO;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = connect_bounded(ai);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		vu_log(log, VU_LOG_DEBUG, "connect to %s port %s: %s", host, colon + 1,
		       strerror(-fd));
		return fd;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int vu_sock_connect(const char *addr, bool *is_unix, const struct vu_log *log)
{
	*is_unix = true;
	if (!strncmp(addr, "fd:", 3))
		return take_fd(addr + 3, is_unix, log);
	if (!strncmp(addr, "tcp:", 4)) {
		*is_unix = false;
		return connect_tcp(addr + 4, log);
	}
	if (!strncmp(addr, "unix:", 5))
		addr += 5;
	if (!*addr) {
		vu_log(log, VU_LOG_ERR, "empty socket address");
		return -EINVAL;
	}
	return connect_unix(addr, log);
}

int vu_sock_listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	/* Replace a stale socket, never some other kind of file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(path) < 0)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void put_fds(struct msghdr *mh, void *ctl, const int *fds, size_t nr_fds)
{
	struct cmsghdr *cm;

	mh->msg_control = ctl;
	mh->msg_controllen = CMSG_SPACE(nr_fds * sizeof(int));
	cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nr_fds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, nr_fds * sizeof(int));
}

/* What one sendmsg can pass (SCM_MAX_FD); more fds need a heap buffer. */
#define STACK_FDS 253
/* Header and payload pieces that fit on the stack. */
#define STACK_IOVS 8

static int send_all(int fd, struct iovec *v, int n, const int *fds, size_t nr_fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(STACK_FDS * sizeof(int))];
	} stack_ctl;
	void *ctl = NULL, *heap = NULL;
	int err = 0;

	if (nr_fds > STACK_FDS) {
		ctl = heap = calloc(1, CMSG_SPACE(nr_fds * sizeof(int)));
		if (!ctl)
			return -ENOMEM;
	} else if (nr_fds) {
		ctl = &stack_ctl;
		memset(ctl, 0, CMSG_SPACE(nr_fds * sizeof(int)));
	}
	while (n > 0) {
		struct msghdr mh = {.msg_iov = v, .msg_iovlen = (size_t)n};
		ssize_t sent;

		/* The fds ride on the first byte; once sent they are gone. */
		if (ctl)
			put_fds(&mh, ctl, fds, nr_fds);
		sent = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (sent < 0) {
			if (errno == EINTR)
				continue;
			err = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			break;
		}
		ctl = NULL;
		while (n > 0 && (size_t)sent >= v->iov_len) {
			sent -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + sent;
			v->iov_len -= (size_t)sent;
		}
	}
	free(heap);
	return err;
}

int vu_sock_send(int fd, struct vfio_user_header *hdr, const struct iovec *iov, int iovcnt,
                 const int *fds, size_t nr_fds)
{
	struct iovec stack_v[STACK_IOVS], *v = stack_v;
	uint64_t size = sizeof(*hdr);
	int n = 1, err;

	if (iovcnt < 0 || iovcnt > IOV_MAX - 1)
		return -EINVAL;
	if (iovcnt + 1 > STACK_IOVS) {
		v = calloc((size_t)iovcnt + 1, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	v[0] = (struct iovec){.iov_base = hdr, .iov_len = sizeof(*hdr)};
	for (int i = 0; i < iovcnt; i++) {
		if (!iov[i].iov_len)
			continue;
		v[n++] = iov[i];
		size += iov[i].iov_len;
	}
	if (size > VU_MSG_MAX_SIZE) {
		err = -EMSGSIZE;
		goto out;
	}
	hdr->msg_size = (uint32_t)size;
	err = send_all(fd, v, n, fds, nr_fds);
out:
	if (v != stack_v)
		free(v);
	return err;
}

/* fds are kept in an array made when the first one arrives. */
static void take_cmsgs(struct msghdr *mh, struct fd_acc *acc)
{
	struct cmsghdr *cm;

	if (mh->msg_flags & MSG_CTRUNC)
		acc->overflow = true;
	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int *p;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		p = (int *)CMSG_DATA(cm);
		if (n && !acc->fds && acc->max)
			acc->fds = calloc(acc->max, sizeof(int));
		for (size_t i = 0; i < n; i++) {
			int f;

			memcpy(&f, p + i, sizeof(f));
			if (acc->fds && acc->nr < acc->max) {
				acc->fds[acc->nr++] = f;
			} else {
				close(f);
				acc->overflow = true;
			}
		}
	}
}

/* The control buffer of a receive: room for every fd we may accept. */
#define CTL_FDS_MAX 1024

/* Read exactly len bytes. Returns len, the bytes read before EOF (< len), or
 * -errno. */
static ssize_t read_full(int fd, void *buf, size_t len, struct fd_acc *acc, int64_t deadline)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(CTL_FDS_MAX * sizeof(int))];
	} stack_ctl;
	size_t done = 0, max = acc->max ? acc->max : 1;
	size_t ctlsz = CMSG_SPACE(max * sizeof(int));
	char *ctl = max <= CTL_FDS_MAX ? stack_ctl.buf : malloc(ctlsz);
	ssize_t ret;

	if (!ctl)
		return -ENOMEM;
	while (done < len) {
		struct iovec v = {.iov_base = (char *)buf + done, .iov_len = len - done};
		struct msghdr mh = {
		    .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = ctlsz};
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

		if (n < 0) {
			int w;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				ret = -errno;
				goto out;
			}
			w = vu_sock_wait(fd,
			                 (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0));
			if (w <= 0) {
				ret = w ? w : -ETIMEDOUT;
				goto out;
			}
			continue;
		}
		take_cmsgs(&mh, acc);
		if (n == 0)
			break;
		done += (size_t)n;
	}
	ret = (ssize_t)done;
out:
	if (ctl != stack_ctl.buf)
		free(ctl);
	return ret;
}

static void close_acc(struct fd_acc *acc)
{
	for (size_t i = 0; i < acc->nr; i++)
		close(acc->fds[i]);
	free(acc->fds);
	acc->fds = NULL;
	acc->nr = 0;
}

/* Where the payload of the message whose header is m->hdr goes. */
static int place_payload(struct vu_msg *m, struct vu_rx *rx)
{
	bool reply = (m->hdr.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY;

	if (rx && m->len <= sizeof(rx->small)) {
		m->payload = rx->small;
		m->borrowed = true;
		return 0;
	}
	if (rx && !reply) {
		void *room = rx->room ? rx->room(rx->room_arg, m->len) : NULL;

		if (room) {
			m->payload = room;
			m->borrowed = true;
			return 0;
		}
		if (rx->big_cap < m->len) {
			void *p = realloc(rx->big, m->len);

			if (!p)
				return -ENOMEM;
			rx->big = p;
			rx->big_cap = m->len;
		}
		m->payload = rx->big;
		m->borrowed = true;
		return 0;
	}
	m->payload = malloc(m->len ? m->len : 1);
	return m->payload ? 0 : -ENOMEM;
}

/* Read the whole header (header) or payload of a message. A peer that left
 * before a header began has reset the connection; one that left in the
 * middle of either broke the protocol (-EPROTO, why says where). */
static int read_part(int fd, void *buf, size_t len, bool header, struct fd_acc *acc,
                     int64_t deadline, char *why, size_t whylen)
{
	ssize_t n = read_full(fd, buf, len, acc, deadline);

	if (n < 0)
		return (int)n;
	if ((size_t)n == len)
		return 0;
	if (header && n == 0)
		return -ECONNRESET;
	if (header)
		snprintf(why, whylen, "peer left in the middle of a header");
	else
		snprintf(why, whylen, "peer left in the middle of a %zu-byte message", len);
	return -EPROTO;
}

int vu_sock_recv_rx(int fd, size_t max_fds, int timeout_ms, struct vu_msg *m, struct vu_rx *rx,
                    char *why, size_t whylen)
{
	struct fd_acc acc = {.max = max_fds};
	int64_t deadline = now_ms() + timeout_ms;
	int err;

	memset(m, 0, sizeof(*m));
	err = read_part(fd, &m->hdr, sizeof(m->hdr), true, &acc, deadline, why, whylen);
	if (err)
		goto fail;
	err = vu_header_check(&m->hdr, why, whylen);
	if (err)
		goto fail;
	m->len = m->hdr.msg_size - sizeof(m->hdr);
	err = place_payload(m, rx);
	if (err)
		goto fail;
	err = read_part(fd, m->payload, m->len, false, &acc, deadline, why, whylen);
	if (err)
		goto fail;
	if (acc.overflow) {
		snprintf(why, whylen, "message carried more than %zu fds", max_fds);
		err = -EBADMSG;
		goto fail;
	}
	m->fds = acc.fds;
	m->nr_fds = acc.nr;
	return 0;
fail:
	if (err == -ECONNRESET || err == -EPIPE)
		err = -ECONNRESET;
	close_acc(&acc);
	if (!m->borrowed)
		free(m->payload);
	m->payload = NULL;
	m->borrowed = false;
	m->len = 0;
	return err;
}

int vu_sock_recv(int fd, size_t max_fds, int timeout_ms, struct vu_msg *m, char *why, size_t whylen)
{
	return vu_sock_recv_rx(fd, max_fds, timeout_ms, m, NULL, why, whylen);
}
