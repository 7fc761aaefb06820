/* SPDX-License-Identifier: MIT */
/*
 * What every native test program needs besides cmocka: whole sleeps, the
 * monotonic clock, this (or another) process's fd count, and waits for a
 * condition that are bounded in time.
 */
#ifndef VUC_TESTS_SUPPORT_UTIL_H
#define VUC_TESTS_SUPPORT_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* Sleep MS milliseconds; a signal does not cut the sleep short. */
void sleep_ms(int ms);

/* Milliseconds on the monotonic clock (fractions kept, for rates). */
double now_ms(void);

/* The fds PID holds (0: this process), from /proc/PID/fd. */
int count_fds(pid_t pid);

#define WAIT_STEP_MS 10

/*
 * Evaluate COND until it holds or MS milliseconds have passed, sleeping
 * WAIT_STEP_MS between tries; gives COND's last value. MS is a bound for a
 * hang, never an expectation: the caller asserts what COND found.
 */
#define wait_until(cond, ms)                                                                       \
	({                                                                                         \
		double wait_end_ = now_ms() + (ms);                                                \
		bool wait_ok_;                                                                     \
                                                                                                   \
		while (!(wait_ok_ = (cond)) && now_ms() < wait_end_)                               \
			sleep_ms(WAIT_STEP_MS);                                                    \
		wait_ok_;                                                                          \
	})

#endif
