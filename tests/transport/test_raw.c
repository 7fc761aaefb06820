/* SPDX-License-Identifier: MIT */
/*
 * The client against a hand-written server that breaks the protocol: every
 * malformed reply fails its call with -EPROTO (logged), fds that come with
 * it are closed, and nothing crashes or hangs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/vfio.h>

#include "proto/client.h"
#include "logbuf.h"
#include "tdev.h"
#include "util.h"

struct raw;
typedef void (*raw_fn)(struct raw *r);

struct raw {
	pthread_t th;
	int fd;
	const char *json; /* our VERSION reply's JSON */
	uint16_t major;
	uint32_t version_err; /* answer VERSION with this error */
	int twin_fds;         /* fds to pass with the VERSION reply */
	raw_fn script;
	int got_error_reply; /* the client's answer to our request was an error */
	int asked;           /* the script is done asking */
	int got_reply;       /* the client's answer to our request was right */
	struct guest *guest; /* client memory for DMA requests, or NULL */
	int timeout_ms;      /* the client's; 0: the default */
	bool kernel_form;    /* answer_cut_then_full: CAPS set in the cut reply */
	struct vu_client *c;
	struct logbuf log;
};

static int raw_recv(int fd, struct vfio_user_header *h, void *buf, size_t room)
{
	size_t len;

	if (recv(fd, h, sizeof(*h), MSG_WAITALL) != sizeof(*h) || h->msg_size < sizeof(*h))
		return -1;
	len = h->msg_size - sizeof(*h);
	if (len > room)
		return -1;
	if (len && recv(fd, buf, len, MSG_WAITALL) != (ssize_t)len)
		return -1;
	return (int)len;
}

static void raw_send(int fd, const struct vfio_user_header *h, const void *p, size_t len,
                     const int *fds, size_t nr_fds)
{
	char ctl[CMSG_SPACE(8 * sizeof(int))] = {0};
	struct iovec iov[2] = {{.iov_base = (void *)h, .iov_len = sizeof(*h)},
	                       {.iov_base = (void *)p, .iov_len = len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};

	if (nr_fds) {
		struct cmsghdr *cm;

		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(nr_fds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nr_fds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nr_fds * sizeof(int));
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		return;
}

static void reply_hdr(struct vfio_user_header *h, const struct vfio_user_header *req, size_t len)
{
	*h = (struct vfio_user_header){.msg_id = req->msg_id,
	                               .cmd = req->cmd,
	                               .msg_size = (uint32_t)(sizeof(*h) + len),
	                               .flags = VFIO_USER_F_TYPE_REPLY};
}

static void *raw_main(void *arg)
{
	struct raw *r = arg;
	struct vfio_user_header h, out;
	char buf[4096];
	struct vfio_user_version *v = (void *)buf;
	int fds[2] = {-1, -1};
	size_t jl = strlen(r->json) + 1;

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0 || h.cmd != VFIO_USER_VERSION)
		return NULL;
	reply_hdr(&out, &h, r->version_err ? 0 : sizeof(*v) + jl);
	if (r->version_err) {
		out.flags |= VFIO_USER_F_ERROR;
		out.error_no = r->version_err;
		raw_send(r->fd, &out, NULL, 0, NULL, 0);
		return NULL;
	}
	v->major = r->major;
	v->minor = VFIO_USER_MINOR;
	memcpy(v->data, r->json, jl);
	if (r->twin_fds && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		return NULL;
	raw_send(r->fd, &out, v, sizeof(*v) + jl, fds, (size_t)r->twin_fds);
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	if (r->script)
		r->script(r);
	return NULL;
}

/* Start a raw server and connect to it. */
static int raw_open(struct raw *r, const char *json, raw_fn script, uint32_t max_fds)
{
	struct vu_client_opts o = {
	    .max_msg_fds = max_fds, .twin_socket = true, .timeout_ms = r->timeout_ms};
	char addr[32];
	int sv[2];

	logbuf_init(&r->log);
	o.log = &r->log.log;
	if (r->guest) {
		o.dma = guest_dma;
		o.arg = r->guest;
	}
	r->json = json;
	r->script = script;
	if (!r->major)
		r->major = VFIO_USER_MAJOR;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r->fd = sv[0];
	if (pthread_create(&r->th, NULL, raw_main, r))
		return -EAGAIN;
	snprintf(addr, sizeof(addr), "fd:%d", sv[1]);
	return vu_client_connect(addr, &o, &r->c);
}

static void raw_close(struct raw *r)
{
	vu_client_close(r->c);
	pthread_join(r->th, NULL);
	close(r->fd);
}

#define PLAIN "{\"capabilities\":{\"max_msg_fds\":4}}"

static int get_info(struct raw *r)
{
	struct vfio_user_device_info info;

	return vu_device_get_info(r->c, NULL, &info);
}

/* Answer one GET_INFO properly. */
static void answer_ok(struct raw *r)
{
	struct vfio_user_header h, out;
	struct vfio_user_device_info info = {.argsz = sizeof(info), .num_regions = 1};
	char buf[256];

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	reply_hdr(&out, &h, sizeof(info));
	raw_send(r->fd, &out, &info, sizeof(info), NULL, 0);
}

static void answer_short(struct raw *r)
{
	struct vfio_user_header h, out;
	char buf[256] = {0};

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	reply_hdr(&out, &h, 8);
	raw_send(r->fd, &out, buf, 8, NULL, 0);
	answer_ok(r);
}

static void answer_error_payload(struct raw *r)
{
	struct vfio_user_header h, out;
	char buf[256] = {0};

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	reply_hdr(&out, &h, 16);
	out.flags |= VFIO_USER_F_ERROR;
	out.error_no = ENOSPC;
	raw_send(r->fd, &out, buf, 16, NULL, 0);
	answer_ok(r);
}

static void answer_wrong_cmd(struct raw *r)
{
	struct vfio_user_header h, out;
	struct vfio_user_irq_info info = {.argsz = sizeof(info)};
	char buf[256];

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	reply_hdr(&out, &h, sizeof(info));
	out.cmd = VFIO_USER_DEVICE_GET_IRQ_INFO;
	raw_send(r->fd, &out, &info, sizeof(info), NULL, 0);
	answer_ok(r);
}

/* Three eventfds on a reply that may carry none, then a good reply. */
static void answer_with_fds(struct raw *r)
{
	struct vfio_user_header h, out;
	struct vfio_user_device_info info = {.argsz = sizeof(info)};
	int fds[5];
	char buf[256];

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	for (int i = 0; i < 5; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	reply_hdr(&out, &h, sizeof(info));
	raw_send(r->fd, &out, &info, sizeof(info), fds, 5);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	answer_ok(r);
}

static void answer_wrong_id(struct raw *r)
{
	struct vfio_user_header h, out;
	struct vfio_user_device_info info = {.argsz = sizeof(info)};
	char buf[256];

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	reply_hdr(&out, &h, sizeof(info));
	out.msg_id = (uint16_t)(h.msg_id + 1000);
	raw_send(r->fd, &out, &info, sizeof(info), NULL, 0);
}

static void answer_bad_header(struct raw *r)
{
	struct vfio_user_header h, out;
	char buf[256];

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	reply_hdr(&out, &h, 0);
	out.msg_size = 4;
	raw_send(r->fd, &out, NULL, 0, NULL, 0);
}

/* Half a reply, then the server goes away. */
static void answer_half(struct raw *r)
{
	struct vfio_user_header h, out;
	char buf[256] = {0};

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	reply_hdr(&out, &h, 16);
	raw_send(r->fd, &out, buf, 6, NULL, 0);
	shutdown(r->fd, SHUT_RDWR);
}

static void check_fatal(struct raw *r, raw_fn script, const char *logged)
{
	*r = (struct raw){0};
	assert_int_equal(raw_open(r, PLAIN, script, 0), 0);
	assert_int_equal(get_info(r), -EPROTO);
	assert_false(vu_client_connected(r->c));
	assert_int_equal(get_info(r), -ENOTCONN);
	assert_true(logbuf_has(&r->log, logged));
	raw_close(r);
}

static void check_one_bad(struct raw *r, raw_fn script, uint32_t max_fds, const char *logged)
{
	int before = count_fds(0);

	*r = (struct raw){0};
	assert_int_equal(raw_open(r, PLAIN, script, max_fds), 0);
	assert_int_equal(get_info(r), -EPROTO);
	assert_true(logbuf_has(&r->log, logged));
	/* The connection survives a bad reply: the next call works. */
	assert_int_equal(get_info(r), 0);
	assert_true(vu_client_connected(r->c));
	raw_close(r);
	assert_int_equal(count_fds(0), before);
}

static void test_truncated_reply(void **state)
{
	struct raw r;

	check_one_bad(&r, answer_short, 0, "malformed reply to DEVICE_GET_INFO");
}

/* libvfio-user answers a failed callback with an error reply that carries
 * a payload: the call gets the server's errno, the payload is noted at
 * debug level only, and the connection goes on. */
static void test_error_with_payload(void **state)
{
	struct raw r = {0};

	assert_int_equal(raw_open(&r, PLAIN, answer_error_payload, 0), 0);
	assert_int_equal(get_info(&r), -ENOSPC);
	assert_true(logbuf_has(&r.log, "debug: error reply to DEVICE_GET_INFO (message"));
	assert_true(logbuf_has(&r.log, "carries 16 bytes: ignored"));
	assert_false(logbuf_has(&r.log, "error: "));
	assert_int_equal(get_info(&r), 0);
	assert_true(vu_client_connected(r.c));
	raw_close(&r);
}

static void test_wrong_command(void **state)
{
	struct raw r;

	check_one_bad(&r, answer_wrong_cmd, 0, "reply is for DEVICE_GET_IRQ_INFO");
}

/* fds on a reply that may carry none are closed, both when they fit our
 * limit and when they overflow it (MSG_CTRUNC). */
static void test_unexpected_fds(void **state)
{
	struct raw r;

	check_one_bad(&r, answer_with_fds, 0, "carries 5 fds");
	check_one_bad(&r, answer_with_fds, 2, "more than 2 fds");
}

static void test_wrong_id(void **state)
{
	struct raw r;

	check_fatal(&r, answer_wrong_id, "which we never sent");
}

static void test_bad_header(void **state)
{
	struct raw r;

	check_fatal(&r, answer_bad_header, "message size 4");
}

static void test_half_message(void **state)
{
	struct raw r;

	check_fatal(&r, answer_half, "in the middle of a 16-byte message");
}

static void check_refused(const char *json, uint16_t major, uint32_t err, int twin_fds, int want,
                          const char *logged)
{
	struct raw r = {.major = major, .version_err = err, .twin_fds = twin_fds};

	assert_int_equal(raw_open(&r, json, NULL, 0), want);
	assert_true(logbuf_has(&r.log, logged));
	pthread_join(r.th, NULL);
	close(r.fd);
}

static void test_version_refused(void **state)
{
	check_refused(PLAIN, 0, EPERM, 0, -EPERM, "server refused our version");
	check_refused(PLAIN, VFIO_USER_MAJOR + 1, 0, 0, -EPROTO, "server speaks");
	check_refused("{\"capabilities\":{\"max_msg_fds\":\"many\"}}", 0, 0, 0, -EINVAL,
	              "max_msg_fds");
	check_refused("{\"capabilities\":{\"twin_socket\":{\"supported\":true}}}", 0, 0, 0, -EPROTO,
	              "twin socket at fd_index 0, but 0 fds came");
	check_refused(PLAIN, 0, 0, 2, -EPROTO, "carries 2 fds");
}

/* A well-formed twin-socket handshake from a raw server is accepted. */
static void test_version_twin(void **state)
{
	struct raw r = {.twin_fds = 1};

	assert_int_equal(raw_open(&r,
	                          "{\"capabilities\":{\"twin_socket\":{\"supported\":true,"
	                          "\"fd_index\":0}}}",
	                          NULL, 0),
	                 0);
	assert_true(vu_client_caps(r.c)->twin_socket);
	raw_close(&r);
}

/* The server asks things of the client that it must refuse. */
static void ask_bad(struct raw *r)
{
	struct vfio_user_header h = {.msg_id = 77, .cmd = VFIO_USER_REGION_READ};
	struct vfio_user_region_access ra = {.count = 4};
	struct vfio_user_dma_access da = {.addr = GUEST_BASE, .count = 2u << 20};
	char buf[256];

	h.msg_size = sizeof(h) + sizeof(ra);
	raw_send(r->fd, &h, &ra, sizeof(ra), NULL, 0);
	if (raw_recv(r->fd, &h, buf, sizeof(buf)) == 0 && (h.flags & VFIO_USER_F_ERROR) &&
	    h.error_no == EINVAL && h.msg_id == 77)
		r->got_error_reply++;
	h = (struct vfio_user_header){
	    .msg_id = 78, .cmd = VFIO_USER_DMA_READ, .msg_size = sizeof(h) + sizeof(da)};
	raw_send(r->fd, &h, &da, sizeof(da), NULL, 0);
	if (raw_recv(r->fd, &h, buf, sizeof(buf)) == 0 && (h.flags & VFIO_USER_F_ERROR) &&
	    h.error_no == EINVAL && h.msg_id == 78)
		r->got_error_reply++;
	__atomic_store_n(&r->asked, 1, __ATOMIC_SEQ_CST);
	answer_ok(r);
}

static void test_bad_server_requests(void **state)
{
	struct raw r = {0};

	assert_int_equal(raw_open(&r, PLAIN, ask_bad, 0), 0);
	wait_until(__atomic_load_n(&r.asked, __ATOMIC_SEQ_CST), 5000);
	assert_int_equal(get_info(&r), 0);
	assert_int_equal(r.got_error_reply, 2);
	assert_true(logbuf_has(&r.log, "which only clients send"));
	assert_true(logbuf_has(&r.log, "malformed DMA_READ request"));
	raw_close(&r);
}

/* GET_REGION_INFO answered as libvfio-user does for a region with two
 * sparse mmap areas: the region's fd passed once per area. */
static void answer_two_areas(struct raw *r)
{
	struct vfio_user_header h, out;
	struct vfio_user_region_info ri = {
	    .argsz = 80,
	    .flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP |
	             VFIO_REGION_INFO_FLAG_CAPS,
	    .cap_offset = sizeof(ri),
	    .size = 0x4000,
	};
	struct vfio_info_cap_header cap = {.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP, .version = 1};
	const uint32_t nr_areas[2] = {2, 0};
	const uint64_t areas[4] = {0, 0x1000, 0x3000, 0x1000};
	uint8_t buf[256], reply[80];
	int fd, fds[2];

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	memcpy(&ri.index, buf + offsetof(struct vfio_user_region_info, index), sizeof(ri.index));
	memcpy(reply, &ri, sizeof(ri));
	memcpy(reply + sizeof(ri), &cap, sizeof(cap));
	memcpy(reply + sizeof(ri) + sizeof(cap), nr_areas, sizeof(nr_areas));
	memcpy(reply + sizeof(ri) + sizeof(cap) + sizeof(nr_areas), areas, sizeof(areas));
	fd = eventfd(0, EFD_CLOEXEC);
	fds[0] = fds[1] = fd;
	reply_hdr(&out, &h, sizeof(reply));
	raw_send(r->fd, &out, reply, sizeof(reply), fds, 2);
	close(fd);
	answer_ok(r);
}

static void test_region_fd_per_area(void **state)
{
	struct vfio_user_region_info *ri = NULL;
	struct raw r = {0};
	int before = count_fds(0), fd = -1;
	size_t len = 0;

	assert_int_equal(raw_open(&r, PLAIN, answer_two_areas, 0), 0);
	assert_int_equal(vu_device_get_region_info(r.c, NULL, 2, &ri, &len, &fd), 0);
	assert_int_equal(len, 80);
	assert_int_equal(ri->index, 2);
	assert_true(fd >= 0);
	close(fd);
	free(ri);
	assert_int_equal(get_info(&r), 0);
	raw_close(&r);
	assert_int_equal(count_fds(0), before);
}

/* A region whose chain needs more than the client's first argsz: the cut
 * reply comes first, in the kernel's form (CAPS set, cap_offset 0) or the
 * wire's (CAPS clear), then the whole. */
#define CUT_AREAS 19
#define CUT_FULL  (32 + 16 + CUT_AREAS * 16)
static void answer_cut_then_full(struct raw *r)
{
	struct vfio_user_header h, out;
	struct vfio_user_region_info ri = {
	    .argsz = CUT_FULL,
	    .flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP,
	    .size = 0x100000,
	};
	struct vfio_info_cap_header cap = {.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP, .version = 1};
	const uint32_t nr_areas[2] = {CUT_AREAS, 0};
	uint8_t buf[256], reply[CUT_FULL] = {0};
	int fd;

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	memcpy(&ri.index, buf + offsetof(struct vfio_user_region_info, index), sizeof(ri.index));
	if (r->kernel_form)
		ri.flags |= VFIO_REGION_INFO_FLAG_CAPS;
	reply_hdr(&out, &h, sizeof(ri));
	raw_send(r->fd, &out, &ri, sizeof(ri), NULL, 0);
	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	ri.flags |= VFIO_REGION_INFO_FLAG_CAPS;
	ri.cap_offset = sizeof(ri);
	memcpy(reply, &ri, sizeof(ri));
	memcpy(reply + sizeof(ri), &cap, sizeof(cap));
	memcpy(reply + sizeof(ri) + sizeof(cap), nr_areas, sizeof(nr_areas));
	fd = eventfd(0, EFD_CLOEXEC);
	reply_hdr(&out, &h, sizeof(reply));
	raw_send(r->fd, &out, reply, sizeof(reply), &fd, 1);
	close(fd);
}

static void test_region_info_cut_forms(void **state)
{
	for (int kernel_form = 0; kernel_form < 2; kernel_form++) {
		struct vfio_user_region_info *ri = NULL;
		struct raw r = {.kernel_form = kernel_form};
		int fd = -1;
		size_t len = 0;

		assert_int_equal(raw_open(&r, PLAIN, answer_cut_then_full, 0), 0);
		assert_int_equal(vu_device_get_region_info(r.c, NULL, 2, &ri, &len, &fd), 0);
		assert_int_equal(len, CUT_FULL);
		assert_true(ri->flags & VFIO_REGION_INFO_FLAG_CAPS);
		assert_int_equal(ri->cap_offset, sizeof(*ri));
		assert_true(fd >= 0);
		close(fd);
		free(ri);
		raw_close(&r);
	}
}

/* A DMA_WRITE as libvfio-user sends the last piece of a split transfer:
 * the message as long as the first piece, count saying how much is data. */
static void ask_long_write(struct raw *r)
{
	struct vfio_user_header h = {.msg_id = 90, .cmd = VFIO_USER_DMA_WRITE};
	struct vfio_user_dma_access *a;
	uint8_t msg[sizeof(*a) + 8], buf[256];

	a = (struct vfio_user_dma_access *)msg;
	a->addr = GUEST_BASE;
	a->count = 4;
	memset(msg + sizeof(*a), 0xab, 8);
	h.msg_size = sizeof(h) + sizeof(msg);
	raw_send(r->fd, &h, msg, sizeof(msg), NULL, 0);
	if (raw_recv(r->fd, &h, buf, sizeof(buf)) == sizeof(*a) && h.msg_id == 90 &&
	    !(h.flags & VFIO_USER_F_ERROR) && ((struct vfio_user_dma_access *)buf)->count == 4)
		r->got_reply++;
	__atomic_store_n(&r->asked, 1, __ATOMIC_SEQ_CST);
	answer_ok(r);
}

static void test_dma_write_long_message(void **state)
{
	struct guest g = {.mem = calloc(1, GUEST_SIZE)};
	struct raw r = {.guest = &g};

	assert_non_null(g.mem);
	assert_int_equal(raw_open(&r, PLAIN, ask_long_write, 0), 0);
	wait_until(__atomic_load_n(&r.asked, __ATOMIC_SEQ_CST), 5000);
	assert_int_equal(get_info(&r), 0);
	assert_int_equal(r.got_reply, 1);
	assert_int_equal(g.writes, 1);
	assert_int_equal(g.mem[3], 0xab);
	assert_int_equal(g.mem[4], 0);
	raw_close(&r);
	free(g.mem);
}

/*
 * A server that floods the client with DMA_READ requests and never reads
 * the answers: the reader answers until the socket is full, then its send
 * times out and the connection is lost. The client's calls fail (not
 * hang), nothing grows, and close returns. The flood ends when the client
 * shuts the socket down.
 */
#define FLOOD_TIMEOUT_MS 300

static void flood(struct raw *r)
{
	struct vfio_user_header h = {.cmd = VFIO_USER_DMA_READ,
	                             .msg_size = sizeof(h) + sizeof(struct vfio_user_dma_access)};
	struct vfio_user_dma_access a = {.addr = GUEST_BASE, .count = 4096};
	struct iovec iov[2] = {{&h, sizeof(h)}, {&a, sizeof(a)}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

	for (;;) {
		h.msg_id++;
		if (sendmsg(r->fd, &mh, MSG_NOSIGNAL) < 0)
			break;
		__atomic_add_fetch(&r->asked, 1, __ATOMIC_SEQ_CST);
	}
}

static void test_flooding_server(void **state)
{
	struct guest g = {.mem = calloc(1, GUEST_SIZE)};
	struct raw r = {.guest = &g, .timeout_ms = FLOOD_TIMEOUT_MS};
	struct timespec t0, t1;
	long ms;
	int ret;

	assert_non_null(g.mem);
	assert_int_equal(raw_open(&r, PLAIN, flood, 0), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = get_info(&r);
	wait_until(!vu_client_connected(r.c), 5000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	print_message("%d DMA_READs sent unread: the call got %s, the connection was lost after "
	              "%ld ms\n",
	              __atomic_load_n(&r.asked, __ATOMIC_SEQ_CST), strerror(-ret), ms);
	assert_true(ret < 0);
	assert_false(vu_client_connected(r.c));
	assert_true(ms < 5000);
	raw_close(&r);
	free(g.mem);
}

/* Take SET_IRQS messages until 300 vectors came, closing their fds; note
 * the most fds one message carried. */
static void take_irqs(struct raw *r)
{
	char ctl[CMSG_SPACE(1024 * sizeof(int))];
	struct vfio_user_header h, out;
	struct vfio_user_irq_set set;
	uint32_t vectors = 0;

	while (vectors < 300) {
		struct iovec v = {.iov_base = &h, .iov_len = sizeof(h)};
		struct msghdr mh = {.msg_iov = &v,
		                    .msg_iovlen = 1,
		                    .msg_control = ctl,
		                    .msg_controllen = sizeof(ctl)};
		struct cmsghdr *cm;
		int n = 0;

		if (recvmsg(r->fd, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC) != sizeof(h) ||
		    h.msg_size != sizeof(h) + sizeof(set) ||
		    recv(r->fd, &set, sizeof(set), MSG_WAITALL) != sizeof(set))
			return;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < n; i++)
				close(((int *)CMSG_DATA(cm))[i]);
		}
		if (n > r->got_reply)
			r->got_reply = n;
		vectors += set.count;
		reply_hdr(&out, &h, 0);
		raw_send(r->fd, &out, NULL, 0, NULL, 0);
	}
}

/* A server may offer more fds a message than the kernel passes in one
 * (SCM_MAX_FD, 253): eventfds still go, in messages the kernel takes. */
static void test_irqs_past_kernel_fd_limit(void **state)
{
	struct raw r = {0};
	int fds[300];

	for (int i = 0; i < 300; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(raw_open(&r, "{\"capabilities\":{\"max_msg_fds\":1024}}", take_irqs, 0),
	                 0);
	assert_int_equal(vu_device_set_irqs(r.c, NULL,
	                                    VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	                                    2, 0, 300, NULL, fds),
	                 0);
	assert_true(vu_client_connected(r.c));
	raw_close(&r);
	assert_true(r.got_reply > 0 && r.got_reply <= 253);
	for (int i = 0; i < 300; i++)
		close(fds[i]);
}

/* A hand-written client against vu_serve: bad commands get error replies,
 * fds on them are closed, a broken stream ends the session cleanly. */
static int raw_call(int fd, uint16_t id, uint16_t cmd, const void *p, size_t len, const int *fds,
                    size_t nr_fds, struct vfio_user_header *rh)
{
	struct vfio_user_header h = {
	    .msg_id = id, .cmd = cmd, .msg_size = (uint32_t)(sizeof(h) + len)};
	char buf[512];

	raw_send(fd, &h, p, len, fds, nr_fds);
	return raw_recv(fd, rh, buf, sizeof(buf));
}

static void raw_hello(int fd)
{
	static const char json[] = "{}";
	char v[sizeof(struct vfio_user_version) + sizeof(json)] = {0};
	struct vfio_user_header rh;

	memcpy(v + sizeof(struct vfio_user_version), json, sizeof(json));
	assert_true(raw_call(fd, 0, VFIO_USER_VERSION, v, sizeof(v), NULL, 0, &rh) > 0);
	assert_int_equal(rh.flags & VFIO_USER_F_ERROR, 0);
}

static void test_serve_bad_commands(void **state)
{
	struct tdev dev;
	struct tserver srv;
	struct vu_caps sc;
	struct vfio_user_header rh;
	struct vfio_user_device_info info = {.argsz = sizeof(info)};
	struct vfio_user_irq_set set = {.argsz = sizeof(set) + 2,
	                                .flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK,
	                                .index = 1,
	                                .count = 5};
	int sv[2], efd[3], before;

	before = count_fds(0);
	tdev_init(&dev);
	vu_caps_default(&sc);
	sc.max_msg_fds = 2;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(tserver_start_fd(&srv, &dev, &sc, sv[0]), 0);
	raw_hello(sv[1]);
	/* DATA_BOOL with 5 vectors but 0 bytes of data. */
	assert_int_equal(
	    raw_call(sv[1], 1, VFIO_USER_DEVICE_SET_IRQS, &set, sizeof(set), NULL, 0, &rh), 0);
	assert_true(rh.flags & VFIO_USER_F_ERROR);
	assert_int_equal(rh.error_no, EINVAL);
	assert_int_equal(rh.msg_id, 1);
	/* Three eventfds where two are allowed: refused, and closed. */
	for (int i = 0; i < 3; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC);
	set.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set.count = 3;
	set.argsz = sizeof(set);
	assert_int_equal(
	    raw_call(sv[1], 2, VFIO_USER_DEVICE_SET_IRQS, &set, sizeof(set), efd, 3, &rh), 0);
	assert_int_equal(rh.error_no, EINVAL);
	for (int i = 0; i < 3; i++)
		close(efd[i]);
	/* An unknown command, then a good one. */
	assert_int_equal(raw_call(sv[1], 3, 99, NULL, 0, NULL, 0, &rh), 0);
	assert_true(rh.flags & VFIO_USER_F_ERROR);
	assert_int_equal(
	    raw_call(sv[1], 4, VFIO_USER_DEVICE_GET_INFO, &info, sizeof(info), NULL, 0, &rh),
	    sizeof(info));
	assert_int_equal(rh.flags, VFIO_USER_F_TYPE_REPLY);
	assert_int_equal(dev.set_irqs_calls, 0);
	/* A header that cannot be: the session ends, the device hears of it. */
	rh = (struct vfio_user_header){.msg_id = 5, .cmd = 4, .msg_size = 3};
	raw_send(sv[1], &rh, NULL, 0, NULL, 0);
	pthread_join(srv.th, NULL);
	assert_int_equal(srv.ret, -EPROTO);
	assert_int_equal(dev.gone, 1);
	close(sv[1]);
	tdev_fini(&dev);
	assert_int_equal(count_fds(0), before);
}

/* A first message that is not VERSION gets an error and ends the session. */
static void test_serve_no_version(void **state)
{
	struct tdev dev;
	struct tserver srv;
	struct vfio_user_header rh;
	struct vfio_user_device_info info = {.argsz = sizeof(info)};
	int sv[2];

	tdev_init(&dev);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(tserver_start_fd(&srv, &dev, NULL, sv[0]), 0);
	assert_int_equal(
	    raw_call(sv[1], 9, VFIO_USER_DEVICE_GET_INFO, &info, sizeof(info), NULL, 0, &rh), 0);
	assert_true(rh.flags & VFIO_USER_F_ERROR);
	pthread_join(srv.th, NULL);
	assert_int_equal(srv.ret, -EPROTO);
	assert_int_equal(dev.gone, 1);
	close(sv[1]);
	tdev_fini(&dev);
}

/* As libvfio-user's client sends them: requests padded past their fixed
 * part (GET_REGION_INFO to its argsz of 64). The server reads the fixed
 * part and answers as if the tail were not there. */
static void test_serve_padded_requests(void **state)
{
	struct tdev dev;
	struct tserver srv;
	struct vfio_user_header rh;
	uint8_t req[64] = {0};
	struct vfio_user_region_info ri = {.argsz = sizeof(req), .index = 1};
	struct vfio_user_irq_info ii = {.argsz = sizeof(ii), .index = 1};
	struct vfio_user_device_info di = {.argsz = sizeof(di)};
	struct vfio_user_region_access ra = {.offset = 8, .region = 0, .count = 4};
	int sv[2];

	tdev_init(&dev);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(tserver_start_fd(&srv, &dev, NULL, sv[0]), 0);
	raw_hello(sv[1]);
	memcpy(req, &ri, sizeof(ri));
	assert_int_equal(
	    raw_call(sv[1], 1, VFIO_USER_DEVICE_GET_REGION_INFO, req, sizeof(req), NULL, 0, &rh),
	    sizeof(ri));
	assert_int_equal(rh.flags, VFIO_USER_F_TYPE_REPLY);
	memset(req, 0, sizeof(req));
	memcpy(req, &di, sizeof(di));
	assert_int_equal(
	    raw_call(sv[1], 2, VFIO_USER_DEVICE_GET_INFO, req, sizeof(req), NULL, 0, &rh),
	    sizeof(di));
	assert_int_equal(rh.flags, VFIO_USER_F_TYPE_REPLY);
	memcpy(req, &ii, sizeof(ii));
	assert_int_equal(
	    raw_call(sv[1], 3, VFIO_USER_DEVICE_GET_IRQ_INFO, req, sizeof(req), NULL, 0, &rh),
	    sizeof(ii));
	assert_int_equal(rh.flags, VFIO_USER_F_TYPE_REPLY);
	memset(req, 0, sizeof(req));
	memcpy(req, &ra, sizeof(ra));
	assert_int_equal(raw_call(sv[1], 4, VFIO_USER_REGION_READ, req, 32, NULL, 0, &rh),
	                 sizeof(ra) + 4);
	assert_int_equal(rh.flags, VFIO_USER_F_TYPE_REPLY);
	assert_int_equal(raw_call(sv[1], 5, VFIO_USER_DEVICE_RESET, req, 8, NULL, 0, &rh), 0);
	assert_int_equal(rh.flags, VFIO_USER_F_TYPE_REPLY);
	assert_int_equal(dev.resets, 1);
	/* Data whose length a count gives must still match it. */
	ra.count = 8;
	memcpy(req, &ra, sizeof(ra));
	assert_int_equal(raw_call(sv[1], 6, VFIO_USER_REGION_WRITE, req, 28, NULL, 0, &rh), 0);
	assert_true(rh.flags & VFIO_USER_F_ERROR);
	assert_int_equal(rh.error_no, EINVAL);
	close(sv[1]);
	pthread_join(srv.th, NULL);
	assert_int_equal(srv.ret, 0);
	tdev_fini(&dev);
}

/*
 * Strict mode, as libvfio-user: without twin-socket mode, a command that
 * arrives while the server waits for the answer to its DMA request ends
 * the session with a protocol error; a permissive server queues it and
 * answers both.
 */
static void strict_collision(bool strict)
{
	struct tdev dev;
	struct tserver srv;
	struct vu_server_opts so = {.strict = strict};
	struct vfio_user_header h = {.msg_id = 1,
	                             .cmd = VFIO_USER_REGION_WRITE,
	                             .msg_size = sizeof(h) +
	                                         sizeof(struct vfio_user_region_access) +
	                                         sizeof(struct tdev_dma_cmd)};
	struct {
		struct vfio_user_region_access a;
		struct tdev_dma_cmd cmd;
	} wr = {.a = {.offset = TDEV_DMA_CMD, .region = 0, .count = sizeof(struct tdev_dma_cmd)},
	        .cmd = {.src = GUEST_BASE, .dst = GUEST_BASE, .len = 8}};
	struct vfio_user_device_info info = {.argsz = sizeof(info)};
	struct vfio_user_header rh;
	uint8_t buf[512];
	int sv[2];

	tdev_init(&dev);
	vu_caps_default(&so.caps);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(tserver_start_fd_opts(&srv, &dev, &so, sv[0]), 0);
	raw_hello(sv[1]);
	/* The write makes the device DMA: its DMA_READ comes to us. */
	raw_send(sv[1], &h, &wr, sizeof(wr), NULL, 0);
	assert_true(raw_recv(sv[1], &rh, buf, sizeof(buf)) >= 0);
	assert_int_equal(rh.cmd, VFIO_USER_DMA_READ);
	/* A command of ours crosses it. */
	h = (struct vfio_user_header){
	    .msg_id = 2, .cmd = VFIO_USER_DEVICE_GET_INFO, .msg_size = sizeof(h) + sizeof(info)};
	raw_send(sv[1], &h, &info, sizeof(info), NULL, 0);
	if (strict) {
		/* The server gives up its DMA, and the session. */
		pthread_join(srv.th, NULL);
		assert_int_equal(srv.ret, -EPROTO);
	} else {
		struct vfio_user_dma_access ack = {.addr = GUEST_BASE, .count = 8};
		uint8_t rep[sizeof(ack) + 8] = {0};

		memcpy(rep, &ack, sizeof(ack));
		reply_hdr(&h, &rh, sizeof(rep));
		raw_send(sv[1], &h, rep, sizeof(rep), NULL, 0);
		assert_true(raw_recv(sv[1], &rh, buf, sizeof(buf)) >= 0);
		assert_int_equal(rh.cmd, VFIO_USER_DMA_WRITE);
		memcpy(rep, &ack, sizeof(ack));
		reply_hdr(&h, &rh, sizeof(ack));
		raw_send(sv[1], &h, rep, sizeof(ack), NULL, 0);
		assert_true(raw_recv(sv[1], &rh, buf, sizeof(buf)) >= 0);
		assert_int_equal(rh.msg_id, 1);
		assert_int_equal(rh.flags, VFIO_USER_F_TYPE_REPLY);
		assert_int_equal(raw_recv(sv[1], &rh, buf, sizeof(buf)), sizeof(info));
		assert_int_equal(rh.msg_id, 2);
		close(sv[1]);
		pthread_join(srv.th, NULL);
		assert_int_equal(srv.ret, 0);
		sv[1] = -1;
	}
	assert_int_equal(dev.gone, 1);
	if (sv[1] >= 0)
		close(sv[1]);
	tdev_fini(&dev);
}

static void test_serve_strict_collision(void **state)
{
	strict_collision(false);
	strict_collision(true);
}

/* A client that connects and leaves before VERSION is no error. */
static void test_serve_client_leaves_early(void **state)
{
	struct tdev dev;
	struct tserver srv;
	int sv[2];

	tdev_init(&dev);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(tserver_start_fd(&srv, &dev, NULL, sv[0]), 0);
	close(sv[1]);
	pthread_join(srv.th, NULL);
	assert_int_equal(srv.ret, 0);
	assert_int_equal(dev.gone, 1);
	tdev_fini(&dev);
}

/* A small deterministic generator, so a failure can be replayed. */
static uint32_t rnd(uint64_t *st)
{
	*st = *st * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*st >> 33);
}

struct noise {
	struct raw r;
	uint64_t seed;
};

/* Answer one request with random bytes: sometimes a random request of our
 * own first, a header with random fields, and a random payload. */
static void answer_noise(struct raw *r)
{
	struct noise *n = (struct noise *)r;
	struct vfio_user_header h, out;
	uint8_t buf[256], junk[96];
	const uint32_t flags[] = {
	    VFIO_USER_F_TYPE_REPLY,       VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR,
	    VFIO_USER_F_TYPE_COMMAND,     VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_NO_REPLY,
	    VFIO_USER_F_TYPE_REPLY | 0x4, rnd(&n->seed)};

	if (raw_recv(r->fd, &h, buf, sizeof(buf)) < 0)
		return;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rnd(&n->seed);
	if (rnd(&n->seed) % 3 == 0) {
		out = (struct vfio_user_header){.msg_id = (uint16_t)rnd(&n->seed),
		                                .cmd = (uint16_t)(rnd(&n->seed) % 20),
		                                .flags = VFIO_USER_F_TYPE_COMMAND};
		out.msg_size = (uint32_t)(sizeof(out) + rnd(&n->seed) % sizeof(junk));
		raw_send(r->fd, &out, junk, out.msg_size - sizeof(out), NULL, 0);
	}
	reply_hdr(&out, &h, rnd(&n->seed) % sizeof(junk));
	if (rnd(&n->seed) % 4 == 0)
		out.msg_id = (uint16_t)rnd(&n->seed);
	if (rnd(&n->seed) % 4 == 0)
		out.cmd = (uint16_t)(rnd(&n->seed) % 20);
	out.flags = flags[rnd(&n->seed) % 6];
	out.error_no = rnd(&n->seed) % 2 ? rnd(&n->seed) : rnd(&n->seed) % 200;
	if (rnd(&n->seed) % 4 == 0)
		memcpy(junk, &(uint32_t){sizeof(struct vfio_user_device_info)}, 4);
	raw_send(r->fd, &out, junk, out.msg_size - sizeof(out), NULL, 0);
	/* Wait a little for the client to answer or leave, then leave: a
	 * "reply" that was really a request (maybe one that wants no answer)
	 * must end the call with a disconnect, not a timeout. */
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){.tv_usec = 300000},
	           sizeof(struct timeval));
	recv(r->fd, buf, sizeof(buf), 0);
	shutdown(r->fd, SHUT_RDWR);
}

/* 300 random replies: every call ends with a result, nothing crashes,
 * hangs or leaks an fd. */
static void test_random_replies(void **state)
{
	int before = count_fds(0);

	for (uint64_t i = 0; i < 300; i++) {
		struct noise *n = calloc(1, sizeof(*n));
		struct vu_call_opts o = {.timeout_ms = 2000};
		struct vfio_user_device_info info = {0};
		int err;

		assert_non_null(n);
		n->seed = i * 7919 + 1;
		assert_int_equal(raw_open(&n->r, PLAIN, answer_noise, 0), 0);
		err = vu_device_get_info(n->r.c, &o, &info);
		assert_true(err <= 0);
		assert_true(err != -ETIMEDOUT);
		raw_close(&n->r);
		free(n);
	}
	assert_int_equal(count_fds(0), before);
}

/* 300 random commands to vu_serve: each gets an answer or ends the session
 * cleanly, and the device hears the client went. */
static void test_random_commands(void **state)
{
	uint64_t st = 12345;
	int before = count_fds(0);

	for (int i = 0; i < 300; i++) {
		struct tdev dev;
		struct tserver srv;
		struct vfio_user_header h;
		uint8_t junk[128];
		int sv[2];

		tdev_init(&dev);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(tserver_start_fd(&srv, &dev, NULL, sv[0]), 0);
		raw_hello(sv[1]);
		for (size_t j = 0; j < sizeof(junk); j++)
			junk[j] = (uint8_t)rnd(&st);
		if (rnd(&st) % 2)
			memcpy(junk, &(uint32_t){rnd(&st) % 64}, 4);
		h = (struct vfio_user_header){.msg_id = 1,
		                              .cmd = (uint16_t)(rnd(&st) % 20),
		                              .flags = rnd(&st) % 4 ? 0 : rnd(&st)};
		h.msg_size = (uint32_t)(sizeof(h) + rnd(&st) % sizeof(junk));
		raw_send(sv[1], &h, junk, h.msg_size - sizeof(h), NULL, 0);
		shutdown(sv[1], SHUT_WR);
		pthread_join(srv.th, NULL);
		assert_true(srv.ret <= 0);
		assert_int_equal(dev.gone, 1);
		close(sv[1]);
		tdev_fini(&dev);
	}
	assert_int_equal(count_fds(0), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_truncated_reply),
	    cmocka_unit_test(test_error_with_payload),
	    cmocka_unit_test(test_wrong_command),
	    cmocka_unit_test(test_unexpected_fds),
	    cmocka_unit_test(test_wrong_id),
	    cmocka_unit_test(test_bad_header),
	    cmocka_unit_test(test_half_message),
	    cmocka_unit_test(test_version_refused),
	    cmocka_unit_test(test_version_twin),
	    cmocka_unit_test(test_bad_server_requests),
	    cmocka_unit_test(test_region_fd_per_area),
	    cmocka_unit_test(test_region_info_cut_forms),
	    cmocka_unit_test(test_dma_write_long_message),
	    cmocka_unit_test(test_irqs_past_kernel_fd_limit),
	    cmocka_unit_test(test_serve_bad_commands),
	    cmocka_unit_test(test_serve_no_version),
	    cmocka_unit_test(test_serve_padded_requests),
	    cmocka_unit_test(test_serve_strict_collision),
	    cmocka_unit_test(test_serve_client_leaves_early),
	    cmocka_unit_test(test_random_replies),
	    cmocka_unit_test(test_random_commands),
	    cmocka_unit_test(test_flooding_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
