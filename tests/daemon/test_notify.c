// SPDX-License-Identifier: MIT
/* sd_notify without libsystemd: the datagram reaches a NOTIFY_SOCKET made
 * here, as a path and as an abstract name, and nothing is sent without one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"

/* A datagram socket bound to name (a path or @abstract): the supervisor. */
static int supervisor(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, name, strlen(name));
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		len++;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_path(void **state)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/vuc-notify-%d.sock", (int)getpid());
	unlink(path);
	fd = supervisor(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(notify_send("READY=1\nSTATUS=serving"), 0);
	expect_datagram(fd, "READY=1\nSTATUS=serving");
	assert_int_equal(notify_send("STOPPING=1"), 0);
	expect_datagram(fd, "STOPPING=1");
	close(fd);
	unlink(path);
	/* The supervisor went away: say so, do not block or crash. */
	assert_int_equal(notify_send("STOPPING=1"), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

static void test_abstract(void **state)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@vuc-notify-%d", (int)getpid());
	fd = supervisor(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_send("READY=1"), 0);
	expect_datagram(fd, "READY=1");
	close(fd);
	assert_int_equal(notify_send("READY=1"), -ECONNREFUSED);
	unsetenv("NOTIFY_SOCKET");
}

static void test_none_or_bad(void **state)
{
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(notify_send("READY=1"), -EAFNOSUPPORT);
	setenv("NOTIFY_SOCKET",
	       "/a/path/that/is/much/too/long/for/a/unix/socket/address/because/it/goes/on/"
	       "and/on/past/one/hundred/and/eight/bytes",
	       1);
	assert_int_equal(notify_send("READY=1"), -ENAMETOOLONG);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path),
	    cmocka_unit_test(test_abstract),
	    cmocka_unit_test(test_none_or_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
