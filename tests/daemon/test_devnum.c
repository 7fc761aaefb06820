// SPDX-License-Identifier: MIT
/* Who holds a device number, read from a sysfs and /proc/devices laid out
 * as the kernel lays them out (the real refusal is tested in the VM). */
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

#include "devnum.h"

struct fx {
	char dir[64], sys[96], devices[96];
};

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	char path[160];

	assert_non_null(x);
	snprintf(x->dir, sizeof(x->dir), "/tmp/vuc-devnum.XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->sys, sizeof(x->sys), "%s/char", x->dir);
	snprintf(x->devices, sizeof(x->devices), "%s/devices", x->dir);
	assert_int_equal(mkdir(x->sys, 0755), 0);
	snprintf(path, sizeof(path), "%s/120:0", x->sys);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/120:0/uevent", x->sys);
	put(path, "MAJOR=120\nMINOR=0\nDEVNAME=vfio-user/a\n");
	snprintf(path, sizeof(path), "%s/121:3", x->sys);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/121:3/uevent", x->sys);
	put(path, "MAJOR=121\nMINOR=3\n");
	/* Block majors come after the character ones and do not count. */
	put(x->devices, "Character devices:\n  1 mem\n 10 misc\n120 vfio-user/a\n"
	                "\nBlock devices:\n  7 loop\n 60 blk60\n");
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", x->dir);
	assert_int_equal(system(cmd), 0);
	free(x);
	return 0;
}

static const char *holder(struct fx *x, unsigned int maj, unsigned int min)
{
	static char buf[256];

	devnum_holder(x->sys, x->devices, maj, min, buf, sizeof(buf));
	return buf;
}

static void test_holder(void **state)
{
	struct fx *x = *state;

	assert_string_equal(holder(x, 120, 0), "taken by /dev/vfio-user/a");
	assert_string_equal(holder(x, 121, 3), "taken by a device without a node");
	/* No device 10:77, but misc holds major 10. */
	assert_string_equal(holder(x, 10, 77), "in major 10, which 'misc' holds");
	assert_string_equal(holder(x, 120, 1), "in major 120, which 'vfio-user/a' holds");
	assert_string_equal(holder(x, 60, 0), "");
	assert_string_equal(holder(x, 61, 0), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_holder, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
