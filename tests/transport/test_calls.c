/* SPDX-License-Identifier: MIT */
/*
 * The client's call machinery against vu_serve: pipelining from many
 * threads, timeouts, cancel tokens, a server killed mid-request, and DMA
 * requests the server makes from inside a callback while the client waits.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/vfio.h>

#include "logbuf.h"
#include "proto/client.h"
#include "tdev.h"
#include "util.h"

#define THREADS 8
#define CALLS   1000

struct env {
	struct tdev dev;
	struct tserver srv;
	struct vu_client *c;
	struct logbuf log;
	struct guest guest;
	int disconnects;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_disconnect(void *arg, int err)
{
	struct env *e = arg;

	__atomic_add_fetch(&e->disconnects, 1, __ATOMIC_SEQ_CST);
}

static int env_dma(void *arg, uint16_t cmd, uint64_t addr, void *buf, uint64_t count)
{
	struct env *e = arg;

	return guest_dma(&e->guest, cmd, addr, buf, count);
}

/* xfer, sxfer: the client's and the server's max_data_xfer_size (0: the
 * default); strict: the server refuses commands during its DMA waits, as
 * libvfio-user does. */
static int env_open_strict(struct env *e, bool twin, uint32_t xfer, uint32_t sxfer, bool strict)
{
	struct vu_client_opts o = {.twin_socket = twin,
	                           .max_data_xfer_size = xfer,
	                           .dma = env_dma,
	                           .disconnected = on_disconnect,
	                           .arg = e};
	struct vu_server_opts so = {.strict = strict};
	char addr[32];
	int err;

	memset(e, 0, sizeof(*e));
	logbuf_init(&e->log);
	tdev_init(&e->dev);
	o.log = &e->log.log;
	e->guest.mem = calloc(1, GUEST_SIZE);
	for (size_t i = 0; i < TDEV_BAR1_SIZE; i++)
		e->dev.bar1[i] = (uint8_t)(i ^ (i >> 8) ^ (i >> 16));
	vu_caps_default(&so.caps);
	so.caps.twin_socket = twin;
	if (sxfer)
		so.caps.max_data_xfer_size = sxfer;
	err = tserver_start_opts(&e->srv, &e->dev, &so, addr, sizeof(addr));
	if (!err)
		err = vu_client_connect(addr, &o, &e->c);
	return err;
}

static int env_open(struct env *e, bool twin, uint32_t xfer, uint32_t sxfer)
{
	return env_open_strict(e, twin, xfer, sxfer, false);
}

static void env_close(struct env *e)
{
	vu_client_close(e->c);
	tserver_join(&e->srv);
	tdev_fini(&e->dev);
	free(e->guest.mem);
}

static int setup(void **state)
{
	struct env *e = malloc(sizeof(*e));

	if (!e || env_open(e, false, 0, 0))
		return -1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	env_close(e);
	free(e);
	return 0;
}

struct worker {
	struct env *e;
	unsigned id;
	unsigned calls;
	unsigned bad;
	int err;
};

static void *reader(void *arg)
{
	struct worker *w = arg;

	for (unsigned i = 0; i < w->calls; i++) {
		uint64_t off = ((uint64_t)w->id * CALLS + i) * 64 % (TDEV_BAR1_SIZE - 64);
		uint8_t buf[64];
		int err = vu_region_read(w->e->c, NULL, 1, off, buf, sizeof(buf));

		if (err) {
			w->err = err;
			return NULL;
		}
		if (memcmp(buf, w->e->dev.bar1 + off, sizeof(buf)))
			w->bad++;
	}
	return NULL;
}

static double run_readers(struct env *e, unsigned nthreads, unsigned calls)
{
	pthread_t th[THREADS];
	struct worker w[THREADS];
	double t0 = now_s();

	for (unsigned t = 0; t < nthreads; t++) {
		w[t] = (struct worker){.e = e, .id = t, .calls = calls};
		assert_int_equal(pthread_create(&th[t], NULL, reader, &w[t]), 0);
	}
	for (unsigned t = 0; t < nthreads; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(w[t].err, 0);
		assert_int_equal(w[t].bad, 0);
	}
	return now_s() - t0;
}

static void test_pipelined(void **state)
{
	struct env *e = *state;
	double serial, piped;

	serial = run_readers(e, 1, THREADS * CALLS);
	piped = run_readers(e, THREADS, CALLS);
	assert_int_equal(e->dev.nr_reads, 2 * THREADS * CALLS);
	print_message("serial: %.0f calls/s; %d threads pipelined: %.0f calls/s\n",
	              THREADS * CALLS / serial, THREADS, THREADS * CALLS / piped);
}

static bool wait_log(struct env *e, const char *needle)
{
	return wait_until(logbuf_has(&e->log, needle), 5000);
}

/* The slow read times out; the next call works; the late reply is dropped
 * and logged. */
static void test_timeout(void **state)
{
	struct env *e = *state;
	struct vu_call_opts o = {.timeout_ms = 100};
	uint8_t b[4];

	e->dev.slow_ms = 500;
	assert_int_equal(vu_region_read(e->c, &o, 0, TDEV_SLOW_OFF, b, 4), -ETIMEDOUT);
	e->dev.slow_ms = 0;
	assert_int_equal(vu_region_read(e->c, NULL, 0, 0, b, 4), 0);
	assert_true(wait_log(e, "dropping late reply"));
	assert_true(vu_client_connected(e->c));
}

struct firer {
	struct vu_cancel *t;
	int delay_ms;
};

static void *fire_later(void *arg)
{
	struct firer *f = arg;

	usleep((useconds_t)f->delay_ms * 1000);
	vu_cancel_fire(f->t);
	return NULL;
}

static void test_cancel(void **state)
{
	struct env *e = *state;
	struct firer f = {.t = vu_cancel_new(), .delay_ms = 100};
	struct vu_call_opts o = {.timeout_ms = 20000, .cancel = f.t};
	pthread_t th;
	unsigned reads;
	uint8_t b[4];
	double t0;

	assert_non_null(f.t);
	e->dev.slow_ms = 1500;
	assert_int_equal(pthread_create(&th, NULL, fire_later, &f), 0);
	t0 = now_s();
	assert_int_equal(vu_region_read(e->c, &o, 0, TDEV_SLOW_OFF, b, 4), -EINTR);
	print_message("cancelled after %.0f ms\n", (now_s() - t0) * 1000);
	pthread_join(th, NULL);
	/* A token already fired stops the call before it is sent. */
	reads = e->dev.nr_reads;
	assert_int_equal(vu_region_read(e->c, &o, 0, 0, b, 4), -EINTR);
	vu_cancel_free(f.t);
	e->dev.slow_ms = 0;
	assert_int_equal(vu_region_read(e->c, NULL, 0, 0, b, 4), 0);
	assert_int_equal(e->dev.nr_reads, reads + 1);
	assert_true(wait_log(e, "dropping late reply"));
}

static void fill_guest(struct env *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		e->guest.mem[i] = (uint8_t)(i * 13 + 5);
}

static int dma_trigger(struct env *e, uint64_t src, uint64_t dst, uint64_t len)
{
	struct tdev_dma_cmd cmd = {.src = src, .dst = dst, .len = len};

	return vu_region_write(e->c, NULL, 0, TDEV_DMA_CMD, &cmd, sizeof(cmd));
}

static void check_dma(struct env *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(e->guest.mem[512 * 1024 + i], (uint8_t)(e->guest.mem[i] + 1));
}

/* 200000 bytes at a 64 KiB limit (the client's or the server's): 4 reads
 * and 4 writes by message. */
static void dma_case(bool twin, bool server_limit)
{
	struct env e;
	size_t n = 200000;

	assert_int_equal(env_open(&e, twin, server_limit ? 0 : 65536, server_limit ? 65536 : 0), 0);
	assert_int_equal(vu_client_caps(e.c)->max_data_xfer_size, 65536);
	assert_int_equal(vu_client_caps(e.c)->twin_socket, twin);
	fill_guest(&e, n);
	assert_int_equal(dma_trigger(&e, GUEST_BASE, GUEST_BASE + 512 * 1024, n), 0);
	check_dma(&e, n);
	assert_int_equal(e.guest.reads, 4);
	assert_int_equal(e.guest.writes, 4);
	/* Client memory the callback does not have: its errno comes back. */
	assert_int_equal(dma_trigger(&e, 0x10, GUEST_BASE, 16), -EFAULT);
	assert_int_equal(e.dev.dma_err, -EFAULT);
	env_close(&e);
}

static void test_dma_single_socket(void **state)
{
	dma_case(false, false);
	dma_case(false, true);
}

static void test_dma_twin_socket(void **state)
{
	dma_case(true, false);
	dma_case(true, true);
}

struct dma_job {
	struct env *e;
	int err;
};

static void *dma_job(void *arg)
{
	struct dma_job *j = arg;

	for (int i = 0; i < 20 && !j->err; i++)
		j->err = dma_trigger(j->e, GUEST_BASE, GUEST_BASE + 512 * 1024, 100000);
	return NULL;
}

struct big_writer {
	struct env *e;
	uint8_t *buf;
	int err;
};

/* Writes large enough to fill the socket while the server is busy. */
static void *big_writes(void *arg)
{
	struct big_writer *w = arg;

	for (int i = 0; i < 10 && !w->err; i++)
		w->err = vu_region_write(w->e->c, NULL, 1, 0, w->buf, 512 * 1024);
	return NULL;
}

/* Commands from other threads arrive while the server waits for DMA: in
 * single-socket mode it queues them, in twin-socket mode it leaves them
 * unread; either way all get the right answers and nothing deadlocks. */
static void dma_with_traffic(bool twin, bool strict)
{
	struct env e;
	struct dma_job j;
	struct big_writer bw;
	pthread_t th, wth;

	assert_int_equal(env_open_strict(&e, twin, 16384, 0, strict), 0);
	assert_int_equal(vu_client_caps(e.c)->twin_socket, twin);
	j = (struct dma_job){.e = &e};
	bw = (struct big_writer){.e = &e, .buf = malloc(512 * 1024)};
	assert_non_null(bw.buf);
	memcpy(bw.buf, e.dev.bar1, 512 * 1024);
	fill_guest(&e, 100000);
	assert_int_equal(pthread_create(&th, NULL, dma_job, &j), 0);
	assert_int_equal(pthread_create(&wth, NULL, big_writes, &bw), 0);
	run_readers(&e, 4, 300);
	pthread_join(th, NULL);
	pthread_join(wth, NULL);
	assert_int_equal(j.err, 0);
	assert_int_equal(bw.err, 0);
	check_dma(&e, 100000);
	free(bw.buf);
	env_close(&e);
}

static void test_dma_while_calls_wait(void **state)
{
	dma_with_traffic(false, false);
	dma_with_traffic(true, false);
}

/* A server as strict as libvfio-user's: with the twin socket it never sees
 * a command while it waits for DMA, so all of the above still holds. */
static void test_dma_while_calls_wait_strict(void **state)
{
	dma_with_traffic(true, true);
}

static void *dma_once(void *arg)
{
	struct dma_job *j = arg;

	j->err = dma_trigger(j->e, GUEST_BASE, GUEST_BASE + 512 * 1024, 4096);
	return NULL;
}

/*
 * A caller is blocked sending a large write (the server is busy in a
 * callback and does not read) when the server's DMA request arrives. With
 * a twin socket the reader answers there without waiting for that caller;
 * without one the server reads and queues the write while it waits. Either
 * way neither side is stuck.
 */
static void dma_while_send_blocked(bool twin)
{
	struct env e;
	struct dma_job j;
	uint8_t *big = calloc(1, 2u << 20);
	pthread_t th;

	assert_non_null(big);
	assert_int_equal(env_open(&e, twin, 0, 0), 0);
	assert_int_equal(vu_client_caps(e.c)->twin_socket, twin);
	fill_guest(&e, 4096);
	e.dev.dma_delay_ms = 300;
	j = (struct dma_job){.e = &e};
	assert_int_equal(pthread_create(&th, NULL, dma_once, &j), 0);
	usleep(100000);
	assert_int_equal(vu_region_write(e.c, NULL, 1, 0, big, 2u << 20), 0);
	pthread_join(th, NULL);
	assert_int_equal(j.err, 0);
	check_dma(&e, 4096);
	free(big);
	env_close(&e);
}

static void test_dma_while_send_blocked(void **state)
{
	dma_while_send_blocked(false);
	dma_while_send_blocked(true);
}

/* Without a DMA callback the client answers EINVAL. */
static void test_dma_no_handler(void **state)
{
	struct tdev dev;
	struct tserver srv;
	struct vu_client *c;
	struct vu_client_opts o = {0};
	struct logbuf lb;
	struct tdev_dma_cmd cmd = {.src = GUEST_BASE, .dst = GUEST_BASE, .len = 8};
	char addr[32];

	logbuf_init(&lb);
	o.log = &lb.log;
	tdev_init(&dev);
	assert_int_equal(tserver_start(&srv, &dev, NULL, addr, sizeof(addr)), 0);
	assert_int_equal(vu_client_connect(addr, &o, &c), 0);
	assert_int_equal(vu_region_write(c, NULL, 0, TDEV_DMA_CMD, &cmd, sizeof(cmd)), -EINVAL);
	assert_true(logbuf_has(&lb, "no DMA handler"));
	vu_client_close(c);
	tserver_join(&srv);
	tdev_fini(&dev);
}

struct slow_call {
	struct env *e;
	int err;
	double done;
};

static void *slow_call(void *arg)
{
	struct slow_call *s = arg;
	struct vu_call_opts o = {.timeout_ms = 30000};
	uint8_t b[4];

	s->err = vu_region_read(s->e->c, &o, 0, TDEV_SLOW_OFF, b, 4);
	s->done = now_s();
	return NULL;
}

/* The server process dies while four calls wait: all fail with -ENOTCONN
 * at once, the callback runs once, later calls fail too. */
static void test_server_killed(void **state)
{
	struct env e = {0};
	struct vu_client_opts o = {.disconnected = on_disconnect, .arg = &e};
	struct slow_call calls[4];
	pthread_t th[4];
	char addr[32];
	double t0, worst = 0;
	uint8_t b[4];
	pid_t pid;
	int sv[2];

	logbuf_init(&e.log);
	o.log = &e.log.log;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vu_server_opts so = {0};

		close(sv[1]);
		tdev_init(&e.dev);
		e.dev.slow_ms = 20000;
		vu_caps_default(&so.caps);
		so.log = NULL;
		_exit(vu_serve(sv[0], &tdev_ops, &e.dev, &so, NULL) ? 1 : 0);
	}
	close(sv[0]);
	snprintf(addr, sizeof(addr), "fd:%d", sv[1]);
	assert_int_equal(vu_client_connect(addr, &o, &e.c), 0);
	for (int i = 0; i < 4; i++) {
		calls[i] = (struct slow_call){.e = &e};
		assert_int_equal(pthread_create(&th[i], NULL, slow_call, &calls[i]), 0);
	}
	usleep(200000);
	t0 = now_s();
	kill(pid, SIGKILL);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(calls[i].err, -ENOTCONN);
		if (calls[i].done - t0 > worst)
			worst = calls[i].done - t0;
	}
	print_message("4 waiters failed %.3f ms after the server was killed\n", worst * 1000);
	waitpid(pid, NULL, 0);
	/* The owner was told before any call failed. */
	assert_int_equal(e.disconnects, 1);
	assert_false(vu_client_connected(e.c));
	assert_int_equal(vu_region_read(e.c, NULL, 0, 0, b, 4), -ENOTCONN);
	assert_true(logbuf_has(&e.log, "connection lost"));
	vu_client_close(e.c);
	assert_int_equal(e.disconnects, 1);
}

/* Closing the connection fails the calls in flight, and frees nothing
 * under them. */
static void test_close_with_calls_in_flight(void **state)
{
	struct env e;
	struct slow_call calls[3];
	pthread_t th[3];

	assert_int_equal(env_open(&e, false, 0, 0), 0);
	e.dev.slow_ms = 300;
	for (int i = 0; i < 3; i++) {
		calls[i] = (struct slow_call){.e = &e};
		assert_int_equal(pthread_create(&th[i], NULL, slow_call, &calls[i]), 0);
	}
	usleep(100000);
	vu_client_close(e.c);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(calls[i].err, -ENOTCONN);
	}
	/* Our own close is not a lost connection. */
	assert_int_equal(e.disconnects, 0);
	tserver_join(&e.srv);
	tdev_fini(&e.dev);
	free(e.guest.mem);
}

static int slow_told;

static void slow_disconnect(void *arg, int err)
{
	usleep(200000);
	__atomic_store_n(&slow_told, 1, __ATOMIC_SEQ_CST);
}

/* vu_client_connected() turns false before the owner is told; a call made
 * in between fails only after the owner's callback returned. */
static void test_owner_told_first(void **state)
{
	struct tdev dev;
	struct tserver srv;
	struct vu_client *c;
	struct vu_client_opts o = {.disconnected = slow_disconnect};
	char addr[32];
	uint8_t b[4];

	tdev_init(&dev);
	assert_int_equal(tserver_start(&srv, &dev, NULL, addr, sizeof(addr)), 0);
	assert_int_equal(vu_client_connect(addr, &o, &c), 0);
	tserver_join(&srv);
	wait_until(!vu_client_connected(c), 5000);
	assert_false(vu_client_connected(c));
	assert_int_equal(vu_region_read(c, NULL, 0, 0, b, 4), -ENOTCONN);
	assert_int_equal(__atomic_load_n(&slow_told, __ATOMIC_SEQ_CST), 1);
	vu_client_close(c);
	tdev_fini(&dev);
}

/* The server stopping is a disconnect too; closing ourselves is not. */
static void test_server_stops(void **state)
{
	struct env e;
	uint8_t b[4];

	assert_int_equal(env_open(&e, false, 0, 0), 0);
	assert_int_equal(tserver_join(&e.srv), 0);
	assert_int_equal(e.dev.gone, 1);
	wait_until(__atomic_load_n(&e.disconnects, __ATOMIC_SEQ_CST), 5000);
	assert_int_equal(e.disconnects, 1);
	assert_int_equal(vu_region_read(e.c, NULL, 0, 0, b, 4), -ENOTCONN);
	vu_client_close(e.c);
	tdev_fini(&e.dev);
	free(e.guest.mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	    cmocka_unit_test(test_dma_single_socket),
	    cmocka_unit_test(test_dma_twin_socket),
	    cmocka_unit_test(test_dma_while_calls_wait),
	    cmocka_unit_test(test_dma_while_calls_wait_strict),
	    cmocka_unit_test(test_dma_while_send_blocked),
	    cmocka_unit_test(test_dma_no_handler),
	    cmocka_unit_test(test_server_killed),
	    cmocka_unit_test(test_close_with_calls_in_flight),
	    cmocka_unit_test(test_owner_told_first),
	    cmocka_unit_test(test_server_stops),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
