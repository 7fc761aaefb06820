// SPDX-License-Identifier: MIT
/*
 * What a call costs the client, against the example server process: no
 * memory allocated per register read or write (the binary is linked with
 * --wrap for malloc, calloc and realloc, so every allocation of this
 * process is counted), and, in twin-socket mode, no wakeup of the reader
 * thread: a call reads its own reply. Counts, not timings.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/vfio.h>

#include "examples/example-device.h"
#include "harness.h"
#include "tests/common/thread_stats.h"

#define CALLS 300

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

static atomic_long allocs;

void *__wrap_malloc(size_t n)
{
	atomic_fetch_add(&allocs, 1);
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	atomic_fetch_add(&allocs, 1);
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	atomic_fetch_add(&allocs, 1);
	return __real_realloc(p, n);
}

struct fx {
	struct h_server s;
	struct vu_client *c;
};

static int setup_with(void **state, const char *const *args)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct vu_client_opts o = {.twin_socket = true};

	assert_non_null(x);
	h_server_start(&x->s, args);
	x->c = h_connect(&x->s, &o);
	*state = x;
	return 0;
}

static int setup_twin(void **state)
{
	return setup_with(state, NULL);
}

static int setup_single(void **state)
{
	static const char *const args[] = {"--no-twin-socket", NULL};

	return setup_with(state, args);
}

static int teardown(void **state)
{
	struct fx *x = *state;

	vu_client_close(x->c);
	h_server_stop(&x->s);
	free(x);
	return 0;
}

static void rw(struct fx *x)
{
	uint32_t v = 0;

	assert_int_equal(
	    vu_region_read(x->c, NULL, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_ID, &v, 4), 0);
	assert_int_equal(v, EXDEV_ID_VALUE);
	assert_int_equal(
	    vu_region_write(x->c, NULL, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_SCRATCH, &v, 4), 0);
	assert_int_equal(vu_region_read(x->c, NULL, VFIO_PCI_CONFIG_REGION_INDEX, 0, &v, 2), 0);
	assert_int_equal(v & 0xffff, EXDEV_VENDOR_ID);
}

/* Register reads and writes allocate nothing, whichever thread reads the
 * replies. */
static void test_no_allocation_per_call(void **state)
{
	struct fx *x = *state;
	long before;

	rw(x); /* buffers that are kept are made now */
	before = atomic_load(&allocs);
	for (int i = 0; i < CALLS; i++)
		rw(x);
	assert_int_equal(atomic_load(&allocs) - before, 0);
}

/* In twin-socket mode a call reads its own reply: the reader thread sleeps
 * through them all. */
static void test_reader_not_woken(void **state)
{
	struct fx *x = *state;
	long long before = thread_wakeups("vu-reader"), after;

	assert_true(before >= 0);
	for (int i = 0; i < CALLS; i++)
		rw(x);
	after = thread_wakeups("vu-reader");
	assert_true(after - before < 10);
}

struct worker {
	struct vu_client *c;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint32_t v;

	for (int i = 0; i < CALLS; i++) {
		if (vu_region_read(w->c, NULL, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_ID, &v, 4) ||
		    v != EXDEV_ID_VALUE)
			w->failures++;
	}
	return NULL;
}

/* Calls from several threads at once: one reads for the others and hands
 * the reading over; every call gets its own reply. */
static void test_threads_share_reading(void **state)
{
	struct fx *x = *state;
	struct worker w[6];
	pthread_t t[6];

	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){.c = x->c};
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_allocation_per_call, setup_twin, teardown),
	    cmocka_unit_test_setup_teardown(test_no_allocation_per_call, setup_single, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_not_woken, setup_twin, teardown),
	    cmocka_unit_test_setup_teardown(test_threads_share_reading, setup_twin, teardown),
	    cmocka_unit_test_setup_teardown(test_threads_share_reading, setup_single, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
