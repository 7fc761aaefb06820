/* SPDX-License-Identifier: MIT */
/*
 * A vu_log that keeps every line (all levels, each led by its level's name:
 * "debug: ...") for tests to search.
 */
#ifndef VUC_TESTS_SUPPORT_LOGBUF_H
#define VUC_TESTS_SUPPORT_LOGBUF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "proto/log.h"

struct logbuf {
	pthread_mutex_t lock;
	char text[16384];
	size_t len;
	struct vu_log log;
};

void logbuf_init(struct logbuf *lb);
bool logbuf_has(struct logbuf *lb, const char *needle);

#endif
