// SPDX-License-Identifier: MIT
#include "two_devs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void quiet(void *arg, enum vu_log_level lvl, const char *line)
{
}

void two_devs_start(struct two_devs *w, void (*hook)(struct vdev_config *cfg, void *arg), void *arg)
{
	bool verbose = getenv("VUC_TEST_VERBOSE") != NULL;

	fake_host_init(&w->h);
	w->arena = aligned_alloc(TWO_DEVS_PAGE, TWO_DEVS_ARENA);
	w->dma = aligned_alloc(TWO_DEVS_PAGE, 4 * TWO_DEVS_PAGE);
	assert_non_null(w->arena);
	assert_non_null(w->dma);
	memset(w->arena, 0, TWO_DEVS_ARENA);
	memset(w->dma, 0, 4 * TWO_DEVS_PAGE);
	fake_host_add_mem(&w->h, w->arena, TWO_DEVS_ARENA);
	fake_host_add_mem(&w->h, w->dma, 4 * TWO_DEVS_PAGE);
	fake_host_add_map(&w->h, w->dma, 4 * TWO_DEVS_PAGE, true, true, -1, 0);
	w->log = (struct vu_log){.level = verbose ? VU_LOG_DEBUG : VU_LOG_ERR,
	                         .fn = verbose ? NULL : quiet};
	w->r = (struct vreq){.pid = TWO_DEVS_PID, .tid = TWO_DEVS_PID};
	for (int i = 0; i < 2; i++) {
		struct vdev_config cfg = {.name = i ? "b" : "a",
		                          .timeout_ms = 2000,
		                          .host = fake_host_ops(&w->h),
		                          .log = &w->log};

		tdev_init(&w->t[i]);
		assert_int_equal(tdev_start(&w->t[i], true, 16), 0);
		cfg.server = w->t[i].path;
		if (hook)
			hook(&cfg, arg);
		assert_int_equal(vdev_create(&cfg, &w->d[i]), 0);
	}
}

void two_devs_stop(struct two_devs *w)
{
	for (int i = 0; i < 2; i++) {
		vdev_destroy(w->d[i]);
		tdev_stop(&w->t[i]);
		tdev_fini(&w->t[i]);
	}
	fake_host_fini(&w->h);
	free(w->dma);
	free(w->arena);
}

void *two_devs_arg(struct two_devs *w, size_t len)
{
	void *p = w->arena + w->used;

	w->used += (len + 15) & ~(size_t)15;
	assert_true(w->used <= TWO_DEVS_ARENA);
	memset(p, 0, len);
	return p;
}
