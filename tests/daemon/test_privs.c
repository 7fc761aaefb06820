// SPDX-License-Identifier: MIT
/* What the daemon says is missing, for each capability set (the refusal of
 * the real binary is in test_cli). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <linux/capability.h>

#include "privs.h"

#define BIT(cap)               (1ull << (cap))
#define CAP_CHECKPOINT_RESTORE 40
#define NEEDED                 (BIT(CAP_SYS_PTRACE) | BIT(CAP_DAC_OVERRIDE))

static const char *missing(uint64_t eff, bool chown, int n)
{
	static char buf[256];

	assert_int_equal(privs_missing(eff, chown, buf, sizeof(buf)), n);
	return buf;
}

static void test_missing(void **state)
{
	assert_string_equal(missing(~0ull, true, 0), "");
	assert_string_equal(missing(NEEDED | BIT(CAP_SYS_ADMIN), false, 0), "");
	assert_string_equal(missing(NEEDED | BIT(CAP_CHECKPOINT_RESTORE), false, 0), "");
	assert_string_equal(missing(NEEDED | BIT(CAP_CHECKPOINT_RESTORE), true, 1),
	                    "CAP_CHOWN (for --owner/--group)");
	assert_string_equal(missing(~BIT(CAP_SYS_PTRACE), false, 1), "CAP_SYS_PTRACE");
	assert_string_equal(missing(BIT(CAP_SYS_PTRACE) | BIT(CAP_SYS_ADMIN), false, 1),
	                    "CAP_DAC_OVERRIDE");
	assert_string_equal(missing(NEEDED, false, 1), "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN");
	/* An ordinary user. */
	assert_string_equal(missing(0, true, 4),
	                    "CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_CHECKPOINT_RESTORE or "
	                    "CAP_SYS_ADMIN, CAP_CHOWN (for --owner/--group)");
}

/* This process's own set, as capget reports it: root in the tests here,
 * someone else elsewhere; either way the bits match /proc/self/status. */
static void test_effective(void **state)
{
	unsigned long long want = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &want) == 1)
			break;
	fclose(f);
	assert_int_equal(privs_effective(), want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_missing),
	    cmocka_unit_test(test_effective),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
