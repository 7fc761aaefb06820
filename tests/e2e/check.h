/* SPDX-License-Identifier: MIT */
/*
 * Assertions for the end-to-end cases. A case is a function returning 0 when
 * every check held; the first failed check prints where and why and returns
 * -1 from the case (the process exits right after, so what the case opened
 * is released by exit, as it would be for any program).
 */
#ifndef VUC_E2E_CHECK_H
#define VUC_E2E_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <stdarg.h>

/* The case's own words after a failed check; FMT starts with a space. */
static inline void check_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void check_detail(const char *fmt, ...)
{
	va_list ap;

	if (fmt[1]) {
		printf(":");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		printf("FAIL %s:%d", __FILE__, __LINE__);                                          \
		check_detail(" " __VA_ARGS__);                                                     \
		return -1;                                                                         \
	} while (0)

/* COND must hold; the optional printf-style rest says why it matters. */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("FAIL %s:%d: %s", __FILE__, __LINE__, #cond);                       \
			check_detail(" " __VA_ARGS__);                                             \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

/* EXPR returns 0 or -errno (as every helper here does) and must succeed. */
#define CHECK_OK(expr)                                                                             \
	do {                                                                                       \
		int check_ret_ = (expr);                                                           \
		if (check_ret_)                                                                    \
			FAIL("%s: %s", #expr, strerror(-check_ret_));                              \
	} while (0)

/* EXPR is a system call that must fail with errno ERR. */
#define CHECK_ERRNO(expr, err)                                                                     \
	do {                                                                                       \
		errno = 0;                                                                         \
		long check_ret_ = (long)(expr);                                                    \
		int check_errno_ = errno;                                                          \
		if (check_ret_ != -1 || check_errno_ != (err))                                     \
			FAIL("%s: returned %ld (%s), expected -1 (%s)", #expr, check_ret_,         \
			     check_errno_ ? strerror(check_errno_) : "no error", strerror(err));   \
	} while (0)

/* EXPR is a helper returning -errno that must fail with ERR. */
#define CHECK_ERR(expr, err)                                                                       \
	do {                                                                                       \
		int check_ret_ = (expr);                                                           \
		if (check_ret_ != -(err))                                                          \
			FAIL("%s: returned %d (%s), expected %s", #expr, check_ret_,               \
			     check_ret_ ? strerror(-check_ret_) : "success", strerror(err));       \
	} while (0)

/* A line of context in the case's output, shown when the case fails. */
#define NOTE(...)                                                                                  \
	do {                                                                                       \
		printf("# " __VA_ARGS__);                                                          \
		printf("\n");                                                                      \
		fflush(stdout);                                                                    \
	} while (0)

#endif
