// SPDX-License-Identifier: MIT
/* The /proc parsers and the log line format, fed sample text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_proc.h"
#include "dlog.h"

static void test_tgid(void **state)
{
	pid_t tgid = 0;

	assert_int_equal(hp_parse_tgid("Name:\tworker\nUmask:\t0022\nState:\tS (sleeping)\n"
	                               "Tgid:\t4242\nNgid:\t0\nPid:\t4250\nPPid:\t1\n",
	                               &tgid),
	                 0);
	assert_int_equal(tgid, 4242);
	assert_int_equal(hp_parse_tgid("Tgid:\t1\n", &tgid), 0);
	assert_int_equal(tgid, 1);
	/* "Tgid" must start a line: a name holding it is not the field. */
	assert_int_equal(hp_parse_tgid("Name:\tTgid:\t7\nPid:\t9\n", &tgid), -EINVAL);
	assert_int_equal(hp_parse_tgid("Name:\tx\nPid:\t9\n", &tgid), -EINVAL);
	assert_int_equal(hp_parse_tgid("Tgid:\tabc\n", &tgid), -EINVAL);
	assert_int_equal(hp_parse_tgid("Tgid:\t0\n", &tgid), -EINVAL);
	assert_int_equal(hp_parse_tgid("Tgid:\t99999999999\n", &tgid), -EINVAL);
	assert_int_equal(hp_parse_tgid("", &tgid), -EINVAL);
}

static void parse_line(const char *text, struct hp_maps_entry *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", text);
	assert_int_equal(hp_parse_maps_line(buf, e), 0);
}

static void test_maps_memfd(void **state)
{
	struct hp_maps_entry e;
	char buf[256];

	parse_line("7f1234560000-7f1234570000 rw-s 00002000 00:01 1234                       "
	           "/memfd:dma buffer (deleted)\n",
	           &e, buf, sizeof(buf));
	assert_int_equal(e.start, 0x7f1234560000ULL);
	assert_int_equal(e.end, 0x7f1234570000ULL);
	assert_int_equal(e.offset, 0x2000);
	assert_int_equal(e.inode, 1234);
	assert_true(e.readable);
	assert_true(e.writable);
	assert_true(e.shared);
	assert_string_equal(e.path, "/memfd:dma buffer (deleted)");
	assert_true(hp_maps_shareable(&e));
}

static void test_maps_kinds(void **state)
{
	struct hp_maps_entry e;
	char buf[256];

	/* Anonymous private memory: the line ends after the inode. */
	parse_line("555c34297000-555c342a7000 rw-p 00000000 00:00 0 \n", &e, buf, sizeof(buf));
	assert_string_equal(e.path, "");
	assert_false(e.shared);
	assert_false(hp_maps_shareable(&e));
	parse_line("555c34297000-555c342a7000 rw-p 00000000 00:00 0", &e, buf, sizeof(buf));
	assert_string_equal(e.path, "");

	parse_line(
	    "555c3dc7f000-555c3dcc3000 rw-p 00000000 00:00 0                          [heap]", &e,
	    buf, sizeof(buf));
	assert_string_equal(e.path, "[heap]");
	assert_false(hp_maps_shareable(&e));

	/* A private file mapping is a copy: not shared with the server. */
	parse_line("7f2b15e00000-7f2b15e28000 r--p 00001000 fe:00 1311 "
	           "/usr/lib/x86_64-linux-gnu/libc.so.6",
	           &e, buf, sizeof(buf));
	assert_int_equal(e.offset, 0x1000);
	assert_true(e.readable);
	assert_false(e.writable);
	assert_false(hp_maps_shareable(&e));

	/* hugetlbfs file whose name has spaces, and shared anonymous memory. */
	parse_line(
	    "7f0000000000-7f0000200000 rw-s 00400000 00:10 5678    /dev/hugepages/my  dma file", &e,
	    buf, sizeof(buf));
	assert_string_equal(e.path, "/dev/hugepages/my  dma file");
	assert_int_equal(e.offset, 0x400000);
	assert_true(hp_maps_shareable(&e));
	parse_line("7f0000000000-7f0000001000 rw-s 00000000 00:01 9 /dev/zero (deleted)", &e, buf,
	           sizeof(buf));
	assert_true(hp_maps_shareable(&e));
	parse_line("7f0000000000-7f0000001000 r--s 00000000 00:05 10 /dev/shm/ro", &e, buf,
	           sizeof(buf));
	assert_false(e.writable);
	assert_true(hp_maps_shareable(&e));
	parse_line("7ffc2b7c4000-7ffc2b7c8000 r--s 00000000 00:00 0 [vvar]", &e, buf, sizeof(buf));
	assert_false(hp_maps_shareable(&e));

	parse_line("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  "
	           "[vsyscall]",
	           &e, buf, sizeof(buf));
	assert_int_equal(e.start, 0xffffffffff600000ULL);
	assert_false(e.readable);
}

static void test_maps_bad(void **state)
{
	struct hp_maps_entry e;
	char buf[128];

	strcpy(buf, "garbage");
	assert_int_equal(hp_parse_maps_line(buf, &e), -EINVAL);
	strcpy(buf, "");
	assert_int_equal(hp_parse_maps_line(buf, &e), -EINVAL);
	strcpy(buf, "2000-1000 rw-p 00000000 00:00 0");
	assert_int_equal(hp_parse_maps_line(buf, &e), -EINVAL);
	strcpy(buf, "1000-2000 rw 00000000 00:00 0");
	assert_int_equal(hp_parse_maps_line(buf, &e), -EINVAL);
	strcpy(buf, "1000-2000 rw-p 00000000 00:00");
	assert_int_equal(hp_parse_maps_line(buf, &e), -EINVAL);
}

static void test_syscall_offsets(void **state)
{
	uint64_t off = 0;

	assert_int_equal(hp_parse_syscall("17 0x3 0x7ffd2c3e4000 0x1000 0x10000000010 0x0 0x0 "
	                                  "0x7ffd2c3e3f28 0x7f3a1c2b5d3e\n",
	                                  &off),
	                 0);
	assert_int_equal(off, 0x10000000010ULL);
	assert_int_equal(hp_parse_syscall("18 0x3 0x7ffd 0x4 0x20000000004 0x0 0x0 0x1 0x2", &off),
	                 0);
	assert_int_equal(off, 0x20000000004ULL);
	/* preadv/pwritev: offset in pos_l (4th field), pos_h beside it. */
	assert_int_equal(
	    hp_parse_syscall("295 0x3 0x7ffd 0x2 0x30000000008 0x300 0x0 0x1 0x2", &off), 0);
	assert_int_equal(off, 0x30000000008ULL);
	assert_int_equal(hp_parse_syscall("296 0x3 0x7ffd 0x1 0x0 0x0 0x0 0x1 0x2", &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(
	    hp_parse_syscall("327 0x3 0x7ffd 0x1 0x10000000000 0x100 0x8 0x1 0x2", &off), 0);
	assert_int_equal(off, 0x10000000000ULL);
	assert_int_equal(hp_parse_syscall("328 0x3 0x7ffd 0x1 0x44 0x0 0x0 0x1 0x2", &off), 0);
	assert_int_equal(off, 0x44);
}

static void test_syscall_other(void **state)
{
	uint64_t off = 77;

	assert_int_equal(hp_parse_syscall("running\n", &off), -EAGAIN);
	/* Calls at the file position. */
	assert_int_equal(hp_parse_syscall("0 0x3 0x7fea 0x20000 0x0 0x0 0x0 0x1 0x2", &off),
	                 -ESPIPE);
	assert_int_equal(hp_parse_syscall("1 0x3 0x7fea 0x8 0x0 0x0 0x0 0x1 0x2", &off), -ESPIPE);
	assert_int_equal(hp_parse_syscall("19 0x3 0x7fea 0x2 0x0 0x0 0x0 0x1 0x2", &off), -ESPIPE);
	assert_int_equal(hp_parse_syscall("20 0x3 0x7fea 0x2 0x0 0x0 0x0 0x1 0x2", &off), -ESPIPE);
	assert_int_equal(hp_parse_syscall("327 0x3 0x7ffd 0x1 0xffffffffffffffff "
	                                  "0xffffffffffffffff 0x0 0x1 0x2",
	                                  &off),
	                 -ESPIPE);
	assert_int_equal(hp_parse_syscall("328 0x3 0x7ffd 0x1 0xffffffffffffffff "
	                                  "0xffffffffffffffff 0x0 0x1 0x2",
	                                  &off),
	                 -ESPIPE);
	/* Anything else: futex, sendfile, blocked outside a syscall. */
	assert_int_equal(hp_parse_syscall("202 0x7f 0x80 0x0 0x0 0x0 0x0 0x1 0x2", &off),
	                 -EOPNOTSUPP);
	assert_int_equal(hp_parse_syscall("40 0x1 0x3 0x0 0x1000 0x0 0x0 0x1 0x2", &off),
	                 -EOPNOTSUPP);
	assert_int_equal(hp_parse_syscall("-1 0x7ffd2c3e3f28 0x7f3a1c2b5d3e\n", &off), -EOPNOTSUPP);
	/* Not a syscall line at all. */
	assert_int_equal(hp_parse_syscall("", &off), -EINVAL);
	assert_int_equal(hp_parse_syscall("abc", &off), -EINVAL);
	assert_int_equal(hp_parse_syscall("17x 0x3", &off), -EINVAL);
	assert_int_equal(hp_parse_syscall("17 0x3 0x7ffd", &off), -EINVAL);
	assert_int_equal(hp_parse_syscall("17 0x3 0x7ffd 0x1 zz 0x0 0x0", &off), -EINVAL);
	assert_int_equal(off, 77);
}

static void test_log_format(void **state)
{
	struct timespec ts = {86400 + 3661, 234567891};
	char buf[128];
	size_t n;

	n = dlog_format(buf, sizeof(buf), &ts, VU_LOG_WARN, "gpu0", "server slow");
	assert_string_equal(buf, "1970-01-02T01:01:01.234Z warn [gpu0] server slow\n");
	assert_int_equal(n, strlen(buf));
	dlog_format(buf, sizeof(buf), &ts, VU_LOG_ERR, NULL, "no /dev/cuse\n\n");
	assert_string_equal(buf, "1970-01-02T01:01:01.234Z error no /dev/cuse\n");
	dlog_format(buf, sizeof(buf), &ts, VU_LOG_INFO, "n", "x");
	assert_non_null(strstr(buf, " info [n] x\n"));
	dlog_format(buf, sizeof(buf), &ts, VU_LOG_DEBUG, "n", "x");
	assert_non_null(strstr(buf, " debug [n] x\n"));
	/* Too long: cut, but still one whole line. */
	n = dlog_format(buf, 32, &ts, VU_LOG_WARN, "gpu0", "a very long line indeed");
	assert_int_equal(n, 31);
	assert_int_equal(buf[30], '\n');
	assert_int_equal(buf[31], '\0');
}

/* Through vu_log, as proto and the core use it: filtered by level, one
 * whole line per event on the logger's fd. */
static void test_log_emit(void **state)
{
	struct dlog l;
	char buf[512];
	ssize_t n, i;
	int fds[2], lines = 0;

	assert_int_equal(pipe(fds), 0);
	dlog_init(&l, "gpu0", VU_LOG_INFO, fds[1]);
	vu_log(&l.vu, VU_LOG_INFO, "connected to %s", "unix:/tmp/s");
	vu_log(&l.vu, VU_LOG_DEBUG, "dropped at info level");
	vu_log(&l.vu, VU_LOG_ERR, "gone");
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "Z info [gpu0] connected to unix:/tmp/s\n"));
	assert_non_null(strstr(buf, "Z error [gpu0] gone\n"));
	assert_null(strstr(buf, "dropped"));
	/* Two lines, each ending in its newline. */
	for (i = 0; i < n; i++)
		lines += buf[i] == '\n';
	assert_int_equal(lines, 2);
	assert_int_equal(buf[n - 1], '\n');
}

/* The fd of an ioctl (VFIO_GROUP_GET_DEVICE_FD answers with it). */
static void test_syscall_fd(void **state)
{
	int fd = -1;

	assert_int_equal(
	    hp_parse_syscall_fd("16 0x7 0x3b6a 0x7ffc10 0x0 0x0 0x0 0x7ffc 0x7f00\n", &fd), 0);
	assert_int_equal(fd, 7);
	assert_int_equal(hp_parse_syscall_fd("running\n", &fd), -EAGAIN);
	assert_int_equal(hp_parse_syscall_fd("17 0x3 0x1 0x4 0x0 0x0 0x0 0x1 0x2\n", &fd),
	                 -EOPNOTSUPP);
	assert_int_equal(hp_parse_syscall_fd("16 0x7\n", &fd), -EINVAL);
	assert_int_equal(hp_parse_syscall_fd("x\n", &fd), -EINVAL);
	assert_int_equal(hp_parse_syscall_fd("16 0x100000000 0x1 0x0 0x0 0x0 0x0 0x1 0x2\n", &fd),
	                 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tgid),
	    cmocka_unit_test(test_maps_memfd),
	    cmocka_unit_test(test_maps_kinds),
	    cmocka_unit_test(test_maps_bad),
	    cmocka_unit_test(test_syscall_offsets),
	    cmocka_unit_test(test_syscall_other),
	    cmocka_unit_test(test_syscall_fd),
	    cmocka_unit_test(test_log_format),
	    cmocka_unit_test(test_log_emit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
