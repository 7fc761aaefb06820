// SPDX-License-Identifier: MIT
/* The daemon's log lines when stderr is the systemd journal's stream:
 * <N> priorities, no timestamp; and how that stream is recognised. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dlog.h"

static void test_format(void **state)
{
	char buf[64];
	size_t n;

	n = dlog_format_journal(buf, sizeof(buf), VU_LOG_ERR, NULL, "no /dev/cuse\n");
	assert_string_equal(buf, "<3>no /dev/cuse\n");
	assert_int_equal(n, strlen(buf));
	dlog_format_journal(buf, sizeof(buf), VU_LOG_WARN, "gpu0", "server gone");
	assert_string_equal(buf, "<4>[gpu0] server gone\n");
	dlog_format_journal(buf, sizeof(buf), VU_LOG_INFO, "n", "x");
	assert_string_equal(buf, "<6>[n] x\n");
	dlog_format_journal(buf, sizeof(buf), VU_LOG_DEBUG, "n", "x");
	assert_string_equal(buf, "<7>[n] x\n");
	n = dlog_format_journal(buf, 16, VU_LOG_WARN, "gpu0", "a very long line indeed");
	assert_int_equal(n, 15);
	assert_string_equal(buf, "<4>[gpu0] a ve\n");
}

static void test_is_journal(void **state)
{
	struct stat st;
	char env[64];
	int fds[2], null;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fstat(fds[1], &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	assert_true(dlog_is_journal(env, fds[1]));
	/* The other end of the same pipe is the same file. */
	assert_true(dlog_is_journal(env, fds[0]));
	/* stderr redirected elsewhere by whoever started the daemon. */
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_false(dlog_is_journal(env, null));
	close(null);
	assert_false(dlog_is_journal(NULL, fds[1]));
	assert_false(dlog_is_journal("", fds[1]));
	assert_false(dlog_is_journal("12", fds[1]));
	assert_false(dlog_is_journal("1:2:3", fds[1]));
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + 1);
	assert_false(dlog_is_journal(env, fds[1]));
	close(fds[0]);
	close(fds[1]);
}

/* Read what fn wrote on stderr. */
static void on_stderr(void (*fn)(void), char *buf, size_t len)
{
	int fds[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fds[0]);
}

static void early_lines(void)
{
	dlog_early(VU_LOG_ERR, "cannot open %s", "/dev/cuse");
	dlog_early(VU_LOG_INFO, "Try --help.");
}

static void emit_lines(void)
{
	struct dlog l;

	dlog_init(&l, "gpu0", VU_LOG_INFO, STDERR_FILENO);
	vu_log(&l.vu, VU_LOG_WARN, "server %s gone", "unix:/s");
	vu_log(&l.vu, VU_LOG_DEBUG, "dropped");
}

static void test_lines(void **state)
{
	char buf[512];

	on_stderr(early_lines, buf, sizeof(buf));
	assert_string_equal(buf,
	                    "vfio-user-cuse: cannot open /dev/cuse\nvfio-user-cuse: Try --help.\n");
	on_stderr(emit_lines, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Z warn [gpu0] server unix:/s gone\n"));

	dlog_use_journal(true);
	on_stderr(early_lines, buf, sizeof(buf));
	assert_string_equal(buf, "<3>cannot open /dev/cuse\n<6>Try --help.\n");
	on_stderr(emit_lines, buf, sizeof(buf));
	assert_string_equal(buf, "<4>[gpu0] server unix:/s gone\n");
	dlog_use_journal(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_is_journal),
	    cmocka_unit_test(test_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
