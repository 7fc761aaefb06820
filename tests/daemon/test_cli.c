// SPDX-License-Identifier: MIT
/* The vfio-user-cuse binary itself: exit codes and messages. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/capability.h>

#include "privs.h"

#define WAIT_MS  10000
#define OUT_SIZE 16384

struct result {
	int status; /* exit code, or -1 if it did not exit by itself */
	char out[OUT_SIZE], err[OUT_SIZE];
};

static void slurp(int fd, char *buf)
{
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, OUT_SIZE - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Run the daemon with argv (argv[0] is set here), after pre (may be NULL)
 * in the child; bounded. */
static struct result *run_after(char **argv, void (*pre)(void))
{
	struct result *r = calloc(1, sizeof(*r));
	int out, err, status, ms;
	pid_t pid, got = 0;

	assert_non_null(r);
	out = memfd_create("out", MFD_CLOEXEC);
	err = memfd_create("err", MFD_CLOEXEC);
	assert_true(out >= 0 && err >= 0);
	argv[0] = VFIO_USER_CUSE_BIN;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Opened before pre() may become nobody: a build tree in a
		 * directory nobody cannot enter (a clone in /root) still runs. */
		int bin = open(argv[0], O_RDONLY | O_CLOEXEC);

		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		if (pre)
			pre();
		fexecve(bin, argv, environ);
		_exit(127);
	}
	for (ms = 0; ms < WAIT_MS && got == 0; ms++) {
		got = waitpid(pid, &status, WNOHANG);
		if (got == 0)
			usleep(1000);
	}
	if (got == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		r->status = -1;
	} else {
		r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	}
	slurp(out, r->out);
	slurp(err, r->err);
	return r;
}

static struct result *run(char **argv)
{
	return run_after(argv, NULL);
}

static struct result *run_vargs(void (*pre)(void), const char *first, va_list ap)
{
	char *argv[16];
	const char *a;
	int argc = 1;

	for (a = first; a && argc < 15; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	argv[argc] = NULL;
	return run_after(argv, pre);
}

static struct result *run_args(const char *first, ...)
{
	struct result *r;
	va_list ap;

	va_start(ap, first);
	r = run_vargs(NULL, first, ap);
	va_end(ap);
	return r;
}

static struct result *run_args_after(void (*pre)(void), const char *first, ...)
{
	struct result *r;
	va_list ap;

	va_start(ap, first);
	r = run_vargs(pre, first, ap);
	va_end(ap);
	return r;
}

/* Whether this process holds what the daemon needs (tests run as root
 * here; elsewhere the daemon refuses first). */
static bool privileged(void)
{
	char missing[256];

	return !privs_missing(privs_effective(), true, missing, sizeof(missing));
}

static void expect(struct result *r, int status, const char *in_err)
{
	if (r->status != status || !strstr(r->err, in_err))
		fail_msg("exit %d (want %d), stderr:\n%s(want '%s')", r->status, status, r->err,
		         in_err);
	free(r);
}

static void test_help(void **state)
{
	struct result *r = run_args("--help", NULL);

	assert_int_equal(r->status, 0);
	assert_non_null(strstr(r->out, "Usage: vfio-user-cuse [options] NAME=SERVER ..."));
	assert_non_null(strstr(r->out, "modprobe cuse"));
	assert_string_equal(r->err, "");
	free(r);
}

static void test_version(void **state)
{
	struct result *r = run_args("--version", NULL);

	assert_int_equal(r->status, 0);
	assert_string_equal(r->out, "vfio-user-cuse " VFIO_USER_CUSE_VERSION "\n");
	free(r);
}

static void test_bad_args(void **state)
{
	expect(run_args(NULL), 2,
	       "vfio-user-cuse: no device given: expected NAME=SERVER\n"
	       "Try 'vfio-user-cuse --help'.\n");
	expect(run_args("gpu", NULL), 2, "'gpu' is not NAME=SERVER");
	expect(run_args("a/b=/tmp/s", NULL), 2, "device name 'a/b' contains '/'");
	expect(run_args("a=/x", "a=/y", NULL), 2, "device name 'a' is given twice");
	expect(run_args("--timeout=0", "a=/x", NULL), 2, "--timeout: '0'");
	expect(run_args("--mode=999", "a=/x", NULL), 2, "--mode: '999'");
	expect(run_args("--owner=no-such-user-vuc", "a=/x", NULL), 2, "no such user");
	expect(run_args("--frobnicate", "a=/x", NULL), 2, "unknown option '--frobnicate'");
	expect(run_args("a=tcp:host", NULL), 2, "is not tcp:HOST:PORT");
}

static void test_too_many(void **state)
{
	static char names[258][24];
	char *argv[260];
	int i;

	for (i = 0; i < 257; i++) {
		snprintf(names[i], sizeof(names[i]), "d%d=/tmp/s%d", i, i);
		argv[i + 1] = names[i];
	}
	argv[258] = NULL;
	expect(run(argv), 2, "too many devices: at most 256");
}

/* Without /dev/cuse (this build machine) the daemon says how to get it;
 * with it (a VM), it gets as far as the server, which is not there. */
static void test_no_cuse_or_no_server(void **state)
{
	if (!privileged())
		expect(run_args("gpu0=/tmp/vuc-no-such.sock", NULL), 2, "vfio-user-cuse: missing ");
	else if (access("/dev/cuse", F_OK))
		expect(run_args("gpu0=/tmp/vuc-no-such.sock", NULL), 2,
		       "vfio-user-cuse: /dev/cuse: No such file or directory: the cuse kernel "
		       "module is not loaded (try 'modprobe cuse' as root)");
	else
		expect(run_args("gpu0=/tmp/vuc-no-such.sock", NULL), 1,
		       "gpu0: cannot connect to unix:/tmp/vuc-no-such.sock: no such file");
}

/* In the child: keep root's uid but lose CAP_SYS_PTRACE across the exec. */
static void drop_ptrace(void)
{
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0))
		_exit(77);
}

static void become_nobody(void)
{
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		_exit(77);
}

/* Without root's reach into other programs the daemon does not start, and
 * says what is missing. */
static void test_privileges(void **state)
{
	struct result *r;

	if (!privileged()) {
		expect(run_args("a=/s", NULL), 2, "vfio-user-cuse: missing CAP_");
		return;
	}
	r = run_args_after(drop_ptrace, "a=/s", NULL);
	expect(r, 2,
	       "vfio-user-cuse: missing CAP_SYS_PTRACE: run as root (the daemon reaches into the "
	       "memory of the programs that use its nodes)\n");
	expect(run_args_after(become_nobody, "--owner=0", "a=/s", NULL), 2,
	       "vfio-user-cuse: missing CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_CHECKPOINT_RESTORE "
	       "or CAP_SYS_ADMIN, CAP_CHOWN (for --owner/--group): run as root");
	/* --help and --version need nothing. */
	r = run_args_after(become_nobody, "--version", NULL);
	assert_int_equal(r->status, 0);
	free(r);
}

/* stderr is the journal's stream: JOURNAL_STREAM names it. */
static void journal_stderr(void)
{
	struct stat st;
	char env[64];

	if (fstat(STDERR_FILENO, &st))
		_exit(77);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
}

/* A JOURNAL_STREAM that is not its stderr (the daemon's caller redirected it). */
static void journal_elsewhere(void)
{
	setenv("JOURNAL_STREAM", "1:1", 1);
}

static void test_journal(void **state)
{
	struct result *r = run_args_after(journal_stderr, NULL);

	assert_int_equal(r->status, 2);
	assert_string_equal(r->err, "<3>no device given: expected NAME=SERVER\n");
	free(r);
	r = run_args_after(journal_stderr, "gpu0=/tmp/vuc-no-such.sock", NULL);
	assert_true(r->status == 1 || r->status == 2);
	assert_int_equal(strncmp(r->err, "<3>", 3), 0);
	assert_null(strstr(r->err, "vfio-user-cuse:"));
	free(r);
	expect(run_args_after(journal_elsewhere, NULL), 2,
	       "vfio-user-cuse: no device given: expected NAME=SERVER\nTry");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_help),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_bad_args),
	    cmocka_unit_test(test_too_many),
	    cmocka_unit_test(test_no_cuse_or_no_server),
	    cmocka_unit_test(test_privileges),
	    cmocka_unit_test(test_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
