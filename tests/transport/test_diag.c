/* SPDX-License-Identifier: MIT */
/*
 * Why a connect failed, in one line (proto/diag.h), for each way it fails
 * over real sockets: what vu_connect_explain says, and that nothing the
 * library said on the way got past the connect log above debug level.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "proto/diag.h"
#include "proto/client.h"
#include "tdev.h"
#include "util.h"

#define TIMEOUT_MS 3000

struct levels {
	pthread_mutex_t lock;
	unsigned int n[VU_LOG_DEBUG + 1];
	char last[VU_LOG_DEBUG + 1][256]; /* the last line of each level */
};

static void count_line(void *arg, enum vu_log_level lvl, const char *line)
{
	struct levels *l = arg;

	pthread_mutex_lock(&l->lock);
	l->n[lvl]++;
	snprintf(l->last[lvl], sizeof(l->last[lvl]), "%s", line);
	pthread_mutex_unlock(&l->lock);
}

static unsigned int warnings(struct levels *l)
{
	unsigned int n;

	pthread_mutex_lock(&l->lock);
	n = l->n[VU_LOG_WARN];
	pthread_mutex_unlock(&l->lock);
	return n;
}

struct env {
	char dir[64];
	char path[128];
	struct levels lv;
	struct vu_log next;
	struct vu_connect_log cl;
	char why[512];
	int err;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/vuc-diag.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/s", e->dir);
	pthread_mutex_init(&e->lv.lock, NULL);
	e->next = (struct vu_log){.level = VU_LOG_DEBUG, .fn = count_line, .arg = &e->lv};
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	unlink(e->path);
	rmdir(e->dir);
	free(e);
	return 0;
}

/* Connect through the connect log; the connection must fail. */
static void try_connect(struct env *e, const char *addr)
{
	struct vu_client_opts o = {.timeout_ms = TIMEOUT_MS};
	struct vu_client *c = NULL;

	vu_connect_log_init(&e->cl, &e->next);
	o.log = &e->cl.log;
	e->err = vu_client_connect(addr, &o, &c);
	vu_connect_log_done(&e->cl);
	assert_true(e->err < 0);
	assert_null(c);
	vu_connect_explain(addr, e->err, e->cl.detail, TIMEOUT_MS, e->why, sizeof(e->why));
	print_message("%s: %s\n", addr, e->why);
	/* What the library said on the way is for -vv only. */
	assert_int_equal(e->lv.n[VU_LOG_ERR], 0);
	assert_int_equal(e->lv.n[VU_LOG_WARN], 0);
	assert_int_equal(e->lv.n[VU_LOG_INFO], 0);
}

static void expect_why(struct env *e, const char *words)
{
	if (!strstr(e->why, words))
		fail_msg("explained as '%s', want '%s'", e->why, words);
}

static void test_no_such_file(void **state)
{
	struct env *e = *state;
	char addr[160];

	snprintf(addr, sizeof(addr), "unix:%s", e->path);
	try_connect(e, addr);
	assert_int_equal(e->err, -ENOENT);
	expect_why(e, "no such file: is the server running, and is that its socket path?");
	assert_true(e->lv.n[VU_LOG_DEBUG] >= 1);
}

static void test_not_a_socket(void **state)
{
	struct env *e = *state;
	int fd = open(e->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	close(fd);
	try_connect(e, e->path);
	expect_why(e, "not a socket but a regular file");
}

static int bind_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* A server that died leaves its socket file: nothing listens on it. */
static void test_stale_socket(void **state)
{
	struct env *e = *state;

	close(bind_unix(e->path));
	try_connect(e, e->path);
	assert_int_equal(e->err, -ECONNREFUSED);
	expect_why(e, "nothing listens on it: a stale socket of a server that is gone");
}

/* The kernel queues the connection, nobody takes it: a server busy with
 * another client looks just like this. */
static void test_silent_server(void **state)
{
	struct env *e = *state;
	int lfd = bind_unix(e->path);

	assert_int_equal(listen(lfd, 4), 0);
	try_connect(e, e->path);
	assert_int_equal(e->err, -ETIMEDOUT);
	expect_why(e,
	           "no answer within 3000 ms: the server is busy with another client, or silent");
	close(lfd);
}

struct peer {
	int lfd;
	const char *say; /* NULL: close at once */
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	char buf[512];
	int fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (p->say) {
		/* Take the VERSION request first, as a real peer would. */
		if (read(fd, buf, sizeof(buf)) < 0 || write(fd, p->say, strlen(p->say)) < 0)
			buf[0] = '\0';
		/* Leave it to the client to hang up. */
		if (read(fd, buf, sizeof(buf)) < 0)
			buf[0] = '\0';
	}
	close(fd);
	return NULL;
}

static void with_peer(struct env *e, const char *say)
{
	struct peer p = {.lfd = bind_unix(e->path), .say = say};
	pthread_t th;

	assert_int_equal(listen(p.lfd, 4), 0);
	assert_int_equal(pthread_create(&th, NULL, peer_main, &p), 0);
	try_connect(e, e->path);
	pthread_join(th, NULL);
	close(p.lfd);
}

static void test_not_vfio_user(void **state)
{
	struct env *e = *state;

	with_peer(e, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(e->err, -EPROTO);
	expect_why(e, "no vfio-user server there, or one this client cannot talk to (");
	/* The library's words on what came back, for whoever debugs it. */
	assert_non_null(strstr(e->cl.detail, "VERSION"));
}

static void test_closed_at_once(void **state)
{
	struct env *e = *state;

	with_peer(e, NULL);
	expect_why(e, "the server closed the connection without answering VERSION");
}

static void test_name_does_not_resolve(void **state)
{
	struct env *e = *state;

	/* RFC 6761: .invalid never resolves. Without a resolver at all
	 * the lookup fails "for now", which is the same diagnosis. */
	try_connect(e, "tcp:no-such-host.invalid:4444");
	assert_true(e->err == -ENXIO || e->err == -EAGAIN);
	expect_why(e, "the host name 'no-such-host.invalid' ");
	assert_null(strstr(e->why, strerror(EHOSTUNREACH)));
}

static void test_tcp_refused(void **state)
{
	struct env *e = *state;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	char addr[64], want[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* A port that was free a moment ago and that nothing listens on. */
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", ntohs(sa.sin_port));
	snprintf(want, sizeof(want), "nothing listens on port %u of 127.0.0.1", ntohs(sa.sin_port));
	try_connect(e, addr);
	close(fd);
	assert_int_equal(e->err, -ECONNREFUSED);
	expect_why(e, want);
}

static void test_fd_not_a_socket(void **state)
{
	struct env *e = *state;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	char addr[32];

	snprintf(addr, sizeof(addr), "fd:%d", fd);
	try_connect(e, addr);
	close(fd);
	expect_why(e, "is not an open stream socket");
}

/* Without a connect log too, a failed connect is no error line: a caller
 * retrying quietly reports it in its own time, or never. */
static void test_failed_connect_logs_debug(void **state)
{
	struct env *e = *state;
	struct vu_client_opts o = {.timeout_ms = TIMEOUT_MS, .log = &e->next};
	struct vu_client *c = NULL;

	assert_int_equal(vu_client_connect(e->path, &o, &c), -ENOENT);
	close(bind_unix(e->path));
	assert_int_equal(vu_client_connect(e->path, &o, &c), -ECONNREFUSED);
	assert_int_equal(vu_client_connect("tcp:no-such-host.invalid:4444", &o, &c) < 0, 1);
	assert_int_equal(e->lv.n[VU_LOG_ERR] + e->lv.n[VU_LOG_WARN] + e->lv.n[VU_LOG_INFO], 0);
	assert_int_equal(e->lv.n[VU_LOG_DEBUG], 3);
}

/* Once connected, the connection's lines go on at their own level. */
static void test_connected_lines_pass(void **state)
{
	struct env *e = *state;
	struct vu_client_opts o = {.timeout_ms = TIMEOUT_MS};
	struct tdev d;
	struct tserver s;
	struct vu_client *c;
	char addr[32];

	tdev_init(&d);
	assert_int_equal(tserver_start(&s, &d, NULL, addr, sizeof(addr)), 0);
	vu_connect_log_init(&e->cl, &e->next);
	o.log = &e->cl.log;
	assert_int_equal(vu_client_connect(addr, &o, &c), 0);
	vu_connect_log_done(&e->cl);
	assert_string_equal(e->cl.detail, "");
	/* No disconnect callback: the client itself warns of the loss. */
	s.stop = 1;
	tserver_join(&s);
	/* The client marks itself disconnected, then warns: wait for both. */
	wait_until(!vu_client_connected(c) && warnings(&e->lv), 20000);
	assert_false(vu_client_connected(c));
	assert_int_equal(warnings(&e->lv), 1);
	assert_non_null(strstr(e->lv.last[VU_LOG_WARN], "connection lost"));
	vu_client_close(c);
	tdev_fini(&d);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_no_such_file),          T(test_not_a_socket),
	    T(test_stale_socket),          T(test_silent_server),
	    T(test_not_vfio_user),         T(test_closed_at_once),
	    T(test_name_does_not_resolve), T(test_tcp_refused),
	    T(test_fd_not_a_socket),       T(test_failed_connect_logs_debug),
	    T(test_connected_lines_pass),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
