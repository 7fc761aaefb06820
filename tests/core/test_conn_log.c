// SPDX-License-Identifier: MIT
/*
 * What the core says about its server, as a service's log should: one line
 * when it cannot reach it at the start, one when it goes, one when it is
 * back, and the retries in between at debug level only. A server reached
 * through an inherited socket (fd:N) is never looked for again.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/vdev.h"
#include "fake_host.h"
#include "tdev.h"
#include "util.h"

#define LINES 256

struct logrec {
	pthread_mutex_t lock;
	unsigned int n;
	enum vu_log_level lvl[LINES];
	char line[LINES][256];
};

static void record(void *arg, enum vu_log_level lvl, const char *line)
{
	struct logrec *r = arg;

	pthread_mutex_lock(&r->lock);
	if (r->n < LINES) {
		r->lvl[r->n] = lvl;
		snprintf(r->line[r->n], sizeof(r->line[0]), "%s", line);
		r->n++;
	}
	pthread_mutex_unlock(&r->lock);
	if (getenv("VUC_TEST_VERBOSE"))
		fprintf(stderr, "log %d: %s\n", (int)lvl, line);
}

/* Lines from index from on at levels up to max (VU_LOG_DEBUG: all) that
 * contain text (NULL: any). */
static unsigned int count(struct logrec *r, unsigned int from, enum vu_log_level max,
                          const char *text)
{
	unsigned int n = 0;

	pthread_mutex_lock(&r->lock);
	for (unsigned int i = from; i < r->n; i++)
		n += r->lvl[i] <= max && (!text || strstr(r->line[i], text));
	pthread_mutex_unlock(&r->lock);
	return n;
}

static unsigned int mark(struct logrec *r)
{
	unsigned int n;

	pthread_mutex_lock(&r->lock);
	n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

struct fx {
	struct tdev t;
	struct fake_host h;
	struct logrec rec;
	struct vu_log log;
	struct vdev_config cfg;
};

static struct fx *fx_new(void)
{
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	pthread_mutex_init(&x->rec.lock, NULL);
	tdev_init(&x->t);
	x->log = (struct vu_log){.level = VU_LOG_DEBUG, .fn = record, .arg = &x->rec};
	fake_host_init(&x->h);
	x->cfg = (struct vdev_config){.name = "t", .timeout_ms = 1000, .log = &x->log};
	x->cfg.host = fake_host_ops(&x->h);
	return x;
}

static void fx_free(struct fx *x)
{
	tdev_fini(&x->t);
	fake_host_fini(&x->h);
	pthread_mutex_destroy(&x->rec.lock);
	free(x);
}

/* Until the device takes opens again (the server is back): 0 or -errno. */
static int wait_back(struct vdev *d, int ms)
{
	struct vreq r = {.pid = 1000, .tid = 1000};
	struct vfile *f;
	int ret = -EIO;

	wait_until((ret = vdev_open(d, &r, VFILE_NODE, &f)) == 0, ms);
	if (!ret)
		vdev_release(d, f);
	return ret;
}

static void test_unreachable_one_line(void **state)
{
	struct fx *x = fx_new();
	struct vdev *d = NULL;

	x->cfg.server = "unix:/nonexistent/vuc.sock";
	assert_int_equal(vdev_create(&x->cfg, &d), -ENOENT);
	assert_null(d);
	assert_int_equal(count(&x->rec, 0, VU_LOG_INFO, NULL), 1);
	assert_int_equal(count(&x->rec, 0, VU_LOG_ERR,
	                       "t: cannot connect to unix:/nonexistent/vuc.sock: no such file: is "
	                       "the server running, and is that its socket path?"),
	                 1);
	fx_free(x);
}

static void stale_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

/* Away for a while, first with no socket file, then with a stale one: the
 * retries hit both, and none of them is more than a debug line. */
static void test_gone_and_back_once(void **state)
{
	struct fx *x = fx_new();
	struct vdev *d;
	unsigned int from;

	assert_int_equal(tdev_start(&x->t, true, 16), 0);
	x->cfg.server = x->t.path;
	assert_int_equal(vdev_create(&x->cfg, &d), 0);
	from = mark(&x->rec);
	tdev_stop(&x->t);
	sleep_ms(400);
	stale_socket(x->t.path);
	sleep_ms(1200);
	unlink(x->t.path);
	assert_int_equal(tdev_start(&x->t, true, 16), 0);
	assert_int_equal(wait_back(d, 10000), 0);

	assert_int_equal(count(&x->rec, from, VU_LOG_WARN, "gone"), 1);
	assert_int_equal(count(&x->rec, from, VU_LOG_WARN, "calls fail with EIO until it is back"),
	                 1);
	assert_int_equal(count(&x->rec, from, VU_LOG_WARN, ".sock is back"), 1);
	assert_int_equal(count(&x->rec, from, VU_LOG_WARN, NULL), 2);
	/* And the info cache refilled: the device's region 8 is absent. */
	assert_int_equal(count(&x->rec, from, VU_LOG_INFO, NULL), 3);
	/* The tries in between, each one line with its diagnosis. */
	assert_true(count(&x->rec, from, VU_LOG_DEBUG, "cannot connect to") >= 3);
	assert_true(count(&x->rec, from, VU_LOG_DEBUG, "no such file") >= 1);
	assert_true(count(&x->rec, from, VU_LOG_DEBUG, "a stale socket") >= 1);
	vdev_destroy(d);
	tdev_stop(&x->t);
	fx_free(x);
}

/* fd:N: when that server goes, the number may soon name another file (the
 * next connection's socket, say): never connect to it again. */
static void test_inherited_socket_stays_gone(void **state)
{
	struct fx *x = fx_new();
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vdev *d;
	char addr[32];
	unsigned int from;
	int fd;

	assert_int_equal(tdev_start(&x->t, true, 16), 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", x->t.path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(addr, sizeof(addr), "fd:%d", fd);
	x->cfg.server = addr;
	assert_int_equal(vdev_create(&x->cfg, &d), 0);
	from = mark(&x->rec);
	tdev_stop(&x->t);
	/* The same listener again: a reconnect would find it. */
	assert_int_equal(tdev_start(&x->t, true, 16), 0);
	sleep_ms(1000);
	assert_int_equal(wait_back(d, 100), -EIO);
	assert_int_equal(count(&x->rec, from, VU_LOG_WARN, "until the daemon restarts"), 1);
	assert_int_equal(count(&x->rec, from, VU_LOG_DEBUG, "cannot connect"), 0);
	vdev_destroy(d);
	tdev_stop(&x->t);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unreachable_one_line),
	    cmocka_unit_test(test_gone_and_back_once),
	    cmocka_unit_test(test_inherited_socket_stays_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
