// SPDX-License-Identifier: MIT
/*
 * The example server's life around its clients: a server killed while a
 * request waits, request timeouts, many threads pipelining, the next client
 * after one leaves (and what the first leaves behind), --fd, the command
 * line, signals, and vfio-user-info's report.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/vfio.h>

#include "examples/example-device.h"
#include "harness.h"

#define THREADS    8
#define PER_THREAD 1000
#define LONG_CALL  20000 /* ms: longer than anything a test waits for */

struct fixture {
	struct h_server srv;
};

static int start(void **state, const char *const *args)
{
	struct fixture *f = calloc(1, sizeof(*f));

	h_server_start(&f->srv, args);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return start(state, NULL);
}

static int setup_slow(void **state)
{
	static const char *const args[] = {"--reply-delay-ms=300", NULL};

	return start(state, args);
}

/* For a client whose timeout must hold the undelayed requests of a loaded
 * host (1000 ms) and still run out on a delayed one. */
static int setup_slower(void **state)
{
	static const char *const args[] = {"--reply-delay-ms=3000", NULL};

	return start(state, args);
}

static int setup_very_slow(void **state)
{
	static const char *const args[] = {"--reply-delay-ms=3000", NULL};

	return start(state, args);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	h_server_stop(&f->srv);
	free(f);
	return 0;
}

static int teardown_killed(void **state)
{
	free(*state);
	return 0;
}

struct pending_read {
	struct vu_client *c;
	int err;
	double done_ms;
};

static void *slow_read(void *arg)
{
	struct pending_read *p = arg;
	struct vu_call_opts o = {.timeout_ms = LONG_CALL};
	uint32_t v;

	p->err = vu_region_read(p->c, &o, 0, EXDEV_REG_ID, &v, 4);
	p->done_ms = now_ms();
	return NULL;
}

/* The waiter learns of the death from the socket, not from its timeout. */
static void test_server_killed_mid_request(void **state)
{
	struct fixture *f = *state;
	struct pending_read p = {.c = h_connect(&f->srv, NULL)};
	struct timespec pause = {.tv_nsec = 100 * 1000000L};
	pthread_t t;
	double killed;

	assert_int_equal(pthread_create(&t, NULL, slow_read, &p), 0);
	nanosleep(&pause, NULL); /* let the request reach the server */
	killed = now_ms();
	h_server_kill(&f->srv);
	pthread_join(t, NULL);
	assert_int_equal(p.err, -ENOTCONN);
	printf("  waiter failed %.2f ms after the server was killed\n", p.done_ms - killed);
	assert_false(vu_client_connected(p.c));
	assert_int_equal(vu_region_read(p.c, NULL, 0, 0, &(uint32_t){0}, 4), -ENOTCONN);
	vu_client_close(p.c);
}

static void test_request_timeout(void **state)
{
	struct fixture *f = *state;
	struct vu_client *c = h_connect(&f->srv, NULL);
	struct vu_call_opts quick = {.timeout_ms = 50}, patient = {.timeout_ms = LONG_CALL};
	uint32_t v = 0;

	assert_int_equal(vu_region_read(c, &quick, 0, EXDEV_REG_ID, &v, 4), -ETIMEDOUT);
	/* The late reply is dropped; the next call gets its own answer. */
	assert_int_equal(vu_region_read(c, &patient, 0, EXDEV_REG_VERSION, &v, 4), 0);
	assert_int_equal(v, 1);
	assert_true(vu_client_connected(c));
	vu_client_close(c);
}

struct worker {
	struct vu_client *c;
	int id;
	int failures;
};

/* Each thread owns 256 bytes of BAR2 and checks every value it reads. */
static void *pipeline(void *arg)
{
	struct worker *w = arg;
	uint64_t off = 0x1000 + w->id * 256;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		uint64_t v = (uint64_t)w->id << 32 | i, got = 0;
		uint32_t id = 0;

		if (vu_region_write(w->c, NULL, 2, off + (i % 32) * 8, &v, 8) ||
		    vu_region_read(w->c, NULL, 2, off + (i % 32) * 8, &got, 8) || got != v ||
		    vu_region_read(w->c, NULL, 0, EXDEV_REG_ID, &id, 4) || id != EXDEV_ID_VALUE)
			w->failures++;
	}
	return NULL;
}

static void test_pipelined_threads(void **state)
{
	struct fixture *f = *state;
	struct vu_client *c = h_connect(&f->srv, NULL);
	struct worker w[THREADS];
	pthread_t t[THREADS];
	double t0, ms;
	int i;

	t0 = now_ms();
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.c = c, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, pipeline, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ms = now_ms() - t0;
	for (i = 0; i < THREADS; i++)
		assert_int_equal(w[i].failures, 0);
	printf("  %d threads: %.0f region accesses/s pipelined\n", THREADS,
	       THREADS * PER_THREAD * 3 / (ms / 1e3));

	t0 = now_ms();
	for (i = 0; i < THREADS * PER_THREAD; i++)
		assert_int_equal(h_rd32(c, EXDEV_REG_ID), EXDEV_ID_VALUE);
	ms = now_ms() - t0;
	printf("  1 thread: %.0f region read round trips/s\n", THREADS * PER_THREAD / (ms / 1e3));
	vu_client_close(c);
}

/* Bounded wait for the server's fd count to come back to n. */
static void wait_fds(pid_t pid, int n)
{
	wait_until(count_fds(pid) == n, H_WAIT_MS);
	assert_int_equal(count_fds(pid), n);
}

/* The spec: a departed client's memory and fds go, the device state stays. */
static void test_second_client(void **state)
{
	struct fixture *f = *state;
	int efd[EXDEV_MSIX_VECTORS], i, idle;
	struct vu_client *c;
	uint8_t *mem;
	int memfd = h_memfd(1 << 20, &mem);

	c = h_connect(&f->srv, NULL);
	idle = count_fds(f->srv.pid) - 1; /* less our connection */
	for (i = 0; i < EXDEV_MSIX_VECTORS; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(
	    vu_device_set_irqs(c, NULL, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	                       VFIO_PCI_MSIX_IRQ_INDEX, 0, EXDEV_MSIX_VECTORS, NULL, efd),
	    0);
	assert_int_equal(
	    vu_dma_map(c, NULL, 0x100000, 1 << 20, VFIO_USER_F_DMA_REGION_READ, memfd, 0), 0);
	h_wr32(c, EXDEV_REG_SCRATCH, 0x5ca1ab1e);
	assert_true(count_fds(f->srv.pid) > idle + 1);
	vu_client_close(c);
	wait_fds(f->srv.pid, idle);

	c = h_connect(&f->srv, NULL);
	assert_int_equal(h_rd32(c, EXDEV_REG_SCRATCH), 0x5ca1ab1e);
	assert_int_equal(vu_dma_map(c, NULL, 0x100000, 1 << 20, VFIO_USER_F_DMA_REGION_READ, -1, 0),
	                 0);
	h_wr32(c, EXDEV_REG_IRQ_VECTOR, 0);
	h_wr32(c, EXDEV_REG_IRQ_RAISE, 1);
	for (i = 0; i < EXDEV_MSIX_VECTORS; i++) {
		assert_false(h_eventfd_fired(efd[i], 0));
		close(efd[i]);
	}
	vu_client_close(c);
	close(memfd);
}

/* --fd with a connected socket: serve that one client, then exit 0. */
static void test_fd_option(void **state)
{
	char opt[32], addr[32];
	const char *argv[] = {EXAMPLE_SERVER, opt, NULL};
	struct vu_client *c;
	int sv[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	snprintf(opt, sizeof(opt), "--fd=%d", sv[1]);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		fcntl(sv[1], F_SETFD, 0);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(sv[1]);
	snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
	assert_int_equal(vu_client_connect(addr, NULL, &c), 0);
	assert_int_equal(h_rd32(c, EXDEV_REG_ID), EXDEV_ID_VALUE);
	vu_client_close(c);
	assert_int_equal(h_wait_exit(pid), 0);
}

/* --fd with a listening socket: serve clients in turn until SIGTERM. */
static void test_fd_listening(void **state)
{
	struct h_server srv = {0};
	char opt[32];
	const char *argv[] = {EXAMPLE_SERVER, opt, NULL};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vu_client *c;
	int lfd, i;
	pid_t pid;

	strcpy(srv.dir, "/tmp/vu-integration-XXXXXX");
	assert_non_null(mkdtemp(srv.dir));
	snprintf(srv.path, sizeof(srv.path), "%s/sock", srv.dir);
	snprintf(srv.log, sizeof(srv.log), "%s/server.log", srv.dir);
	strcpy(sa.sun_path, srv.path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	snprintf(opt, sizeof(opt), "--fd=%d", lfd);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		fcntl(lfd, F_SETFD, 0);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(lfd);
	srv.pid = pid;
	for (i = 0; i < 2; i++) {
		c = h_connect(&srv, NULL);
		assert_int_equal(h_rd32(c, EXDEV_REG_ID), EXDEV_ID_VALUE);
		vu_client_close(c);
	}
	assert_int_equal(h_server_signal(&srv, SIGTERM), 0);
}

static void test_command_line(void **state)
{
	const char *help[] = {EXAMPLE_SERVER, "--help", NULL};
	const char *none[] = {EXAMPLE_SERVER, NULL};
	const char *both[] = {EXAMPLE_SERVER, "--socket-path=/tmp/x", "--fd=3", NULL};
	const char *bad_num[] = {EXAMPLE_SERVER, "--socket-path=/tmp/x", "--max-xfer=12k", NULL};
	const char *zero[] = {EXAMPLE_SERVER, "--socket-path=/tmp/x", "--max-xfer=0", NULL};
	const char *unknown[] = {EXAMPLE_SERVER, "--frobnicate", NULL};
	const char *not_sock[] = {EXAMPLE_SERVER, "--fd=0", NULL};
	char out[4096];

	assert_int_equal(h_run(help, -1, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "--socket-path=PATH"));
	assert_int_equal(h_run(none, -1, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "exactly one of"));
	assert_int_equal(h_run(both, -1, out, sizeof(out)), 2);
	assert_int_equal(h_run(bad_num, -1, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--max-xfer"));
	assert_int_equal(h_run(zero, -1, out, sizeof(out)), 2);
	assert_int_equal(h_run(unknown, -1, out, sizeof(out)), 2);
	assert_int_equal(h_run(not_sock, -1, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "not a socket"));
}

/* A signal while a client is connected: exit 0 all the same. */
static void test_sigint(void **state)
{
	struct fixture *f = *state;
	struct vu_client *c = h_connect(&f->srv, NULL);

	assert_int_equal(h_rd32(c, EXDEV_REG_ID), EXDEV_ID_VALUE);
	assert_int_equal(h_server_signal(&f->srv, SIGINT), 0);
	vu_client_close(c);
}

static void test_info_tool(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {INFO_TOOL, "-x", f->srv.path, NULL};
	const char *plain[] = {INFO_TOOL, f->srv.path, NULL};
	static char out[65536];

	/* The hex dump only when asked for, as lspci does. */
	assert_int_equal(h_run(plain, -1, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "vendor 0x7565 device 0x0001"));
	assert_null(strstr(out, "000: 65 75 01 00"));
	assert_int_equal(h_run(argv, -1, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "protocol: 0.2"));
	assert_non_null(strstr(out, "max_data_xfer_size: 4096"));
	assert_non_null(strstr(out, "device: flags 0x3 (RESET PCI), 9 regions, 5 IRQ indexes"));
	assert_non_null(strstr(out, "0 BAR0: size 0x1000 offset 0x0 flags 0x3 (READ WRITE)"));
	assert_non_null(strstr(out, "2 BAR2: size 0x10000 offset 0x0 flags 0xf "
	                            "(READ WRITE MMAP CAPS), fd"));
	assert_non_null(strstr(out, "sparse mmap: 1 area\n        [0x0, 0x10000) size 0x10000"));
	assert_non_null(strstr(out, "7 CONFIG: size 0x100"));
	assert_non_null(strstr(out, "2 MSI-X: count 4 flags 0x9 (EVENTFD NORESIZE)"));
	assert_non_null(strstr(out, "0 INTx: count 1 flags 0x7 (EVENTFD MASKABLE AUTOMASKED)"));
	assert_non_null(strstr(out, "000: 65 75 01 00"));
	assert_non_null(strstr(out, "vendor 0x7565 device 0x0001"));
	assert_non_null(strstr(out, "BAR0: memory at 0x0, 32-bit, size 0x1000\n"));
	assert_non_null(strstr(out, "BAR2: memory at 0x0, 32-bit, prefetchable, size 0x10000\n"));
	assert_non_null(strstr(out, "0x40 power management: version 3, state D0"));
	assert_non_null(strstr(out, "0x50 MSI-X: 4 vectors, disabled, table BAR0+0x800, "
	                            "PBA BAR0+0xc00"));
}

static void test_info_tool_errors(void **state)
{
	struct fixture *f = *state;
	const char *gone[] = {INFO_TOOL, "/nonexistent/vfio-user.sock", NULL};
	const char *usage[] = {INFO_TOOL, NULL};
	const char *slow[] = {INFO_TOOL, "--timeout-ms=1000", f->srv.path, NULL};
	const char *slow2[] = {INFO_TOOL, "--timeout=1000", f->srv.path, NULL};
	const char *version[] = {INFO_TOOL, "--version", NULL};
	static char out[65536];

	/* One line, with the diagnosis. */
	assert_int_equal(h_run(gone, -1, out, sizeof(out)), 1);
	assert_string_equal(out, "vfio-user-info: cannot connect to /nonexistent/vfio-user.sock: "
	                         "no such file: is the server running, and is that its socket "
	                         "path?\n");
	assert_int_equal(h_run(usage, -1, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "no ADDRESS given\nTry 'vfio-user-info --help'."));
	/* The server answers the info requests at once and each other request
	 * 3000 ms late: a report cut short at the first of those. (With 50 ms,
	 * a loaded host missed the limit already on VERSION.) */
	assert_int_equal(h_run(slow, -1, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "no reply in 1000 ms"));
	assert_non_null(strstr(out, strerror(ETIMEDOUT)));
	/* The server may still be busy with the last client's requests. */
	assert_int_equal(h_run(slow2, -1, out, sizeof(out)), 1);
	assert_non_null(strstr(out, " 1000 ms"));
	assert_int_equal(h_run(version, -1, out, sizeof(out)), 0);
	assert_string_equal(out, "vfio-user-info " VFIO_USER_CUSE_VERSION "\n");
}

static int setup_info(void **state)
{
	static const char *const args[] = {"--max-xfer=4096", NULL};

	return start(state, args);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_server_killed_mid_request, setup_very_slow,
	                                    teardown_killed),
	    cmocka_unit_test_setup_teardown(test_request_timeout, setup_slow, teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_second_client, setup, teardown),
	    cmocka_unit_test(test_fd_option),
	    cmocka_unit_test(test_fd_listening),
	    cmocka_unit_test(test_command_line),
	    cmocka_unit_test_setup_teardown(test_sigint, setup, teardown_killed),
	    cmocka_unit_test_setup_teardown(test_info_tool, setup_info, teardown),
	    cmocka_unit_test_setup_teardown(test_info_tool_errors, setup_slower, teardown),
	};

	return cmocka_run_group_tests_name("integration: lifecycle", tests, NULL, NULL);
}
