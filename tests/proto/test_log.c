/* SPDX-License-Identifier: MIT */
/* vu_log: lines reach the program's hook at or below its level, or stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/log.h"

struct seen {
	int lines;
	enum vu_log_level lvl;
	char line[1024];
};

static void hook(void *arg, enum vu_log_level lvl, const char *line)
{
	struct seen *s = arg;

	s->lines++;
	s->lvl = lvl;
	snprintf(s->line, sizeof(s->line), "%s", line);
}

static void hook_gets_formatted_lines(void **state)
{
	struct seen s = {0};
	struct vu_log log = {.level = VU_LOG_INFO, .fn = hook, .arg = &s};

	vu_log(&log, VU_LOG_ERR, "region %u: %s", 3, "gone");
	assert_int_equal(s.lines, 1);
	assert_int_equal(s.lvl, VU_LOG_ERR);
	assert_string_equal(s.line, "region 3: gone");
	vu_log(&log, VU_LOG_INFO, "info");
	assert_int_equal(s.lines, 2);
	vu_log(&log, VU_LOG_DEBUG, "debug");
	assert_int_equal(s.lines, 2);
	assert_string_equal(s.line, "info");
}

static void long_lines_are_cut(void **state)
{
	struct seen s = {0};
	struct vu_log log = {.level = VU_LOG_DEBUG, .fn = hook, .arg = &s};
	char big[2000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	vu_log(&log, VU_LOG_DEBUG, "%s", big);
	assert_int_equal(s.lines, 1);
	assert_true(strlen(s.line) > 100 && strlen(s.line) < sizeof(big) - 1);
}

/* Without a hook, warnings and worse go to stderr, one line each. */
static void stderr_by_default(void **state)
{
	FILE *tmp = tmpfile();
	char out[256] = "";
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	vu_log(NULL, VU_LOG_WARN, "peer sent %d fds", 9);
	vu_log(NULL, VU_LOG_INFO, "not shown");
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	fclose(tmp);
	out[n] = '\0';
	assert_string_equal(out, "vfio-user: warn: peer sent 9 fds\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hook_gets_formatted_lines),
	    cmocka_unit_test(long_lines_are_cut),
	    cmocka_unit_test(stderr_by_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
