/* SPDX-License-Identifier: MIT */
/*
 * Small helpers every layer of the tree shares, as libvfio-user's
 * lib/common.h: monotonic deadlines and condition variables, the errno a
 * vfio-user error reply carries, and the "say why" buffers that the checks
 * fill. Header only and internal: it needs nothing beyond libc and pthreads,
 * so proto/ may use it as well as the core and the daemon; nothing here is
 * installed or exported.
 */
#ifndef VFIO_USER_CUSE_COMMON_H
#define VFIO_USER_CUSE_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Milliseconds on the monotonic clock, for deadlines kept as a number. */
static inline int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The monotonic time ms milliseconds from now, for pthread_cond_timedwait
 * on a condition made by cond_init_monotonic. */
static inline struct timespec deadline_in(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* Milliseconds left until dl, rounded up; 0 once it has passed. */
static inline int deadline_ms_left(const struct timespec *dl)
{
	struct timespec now;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (int64_t)(dl->tv_sec - now.tv_sec) * 1000000000 + (dl->tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	return ns / 1000000 >= INT32_MAX ? INT32_MAX : (int)((ns + 999999) / 1000000);
}

/* Whether the monotonic clock has reached dl. */
static inline bool deadline_passed(const struct timespec *dl)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > dl->tv_sec || (now.tv_sec == dl->tv_sec && now.tv_nsec >= dl->tv_nsec);
}

/* Timed waits use CLOCK_MONOTONIC so a clock change cannot stretch them. */
static inline void cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
}

/* The negative errno of an error reply's error_no: EIO for none or for a
 * number no errno can be. */
static inline int errno_from_wire(uint32_t error_no)
{
	return error_no && error_no < 4096 ? -(int)error_no : -EIO;
}

/* Format the reason for a failure into why (NULL or whylen 0: nowhere),
 * from byte at on, so a caller can put a prefix in front. */
static inline void why_vprintf(char *why, size_t whylen, size_t at, const char *fmt, va_list ap)
{
	if (!why || at >= whylen)
		return;
	vsnprintf(why + at, whylen - at, fmt, ap);
}

/* Say why into why and return err, for checks that fail in one line. */
static inline int why_fail(int err, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline int why_fail(int err, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	why_vprintf(why, whylen, 0, fmt, ap);
	va_end(ap);
	return err;
}

#endif
