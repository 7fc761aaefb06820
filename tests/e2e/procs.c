// SPDX-License-Identifier: MIT
/* Starting, watching and stopping the processes a case needs. */
#include "procs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 10

long long procs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec ts = {.tv_nsec = POLL_MS * 1000000L};

	nanosleep(&ts, NULL);
}

int procs_init(struct procs *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/vuc-e2e.XXXXXX");
	return mkdtemp(p->dir) ? 0 : -errno;
}

static void forget(struct procs *p, pid_t pid)
{
	for (int i = 0; i < p->n; i++) {
		if (p->pid[i] == pid) {
			p->pid[i] = p->pid[--p->n];
			return;
		}
	}
}

void procs_fini(struct procs *p)
{
	char path[PATH_MAX];
	struct dirent *e;
	int status;
	DIR *d;

	while (p->n) {
		/* A child that will not die even for SIGKILL is left to init. */
		if (procs_stop(p, p->pid[0], SIGKILL, 30000, &status))
			forget(p, p->pid[0]);
	}
	if (!p->dir[0])
		return;
	/* Sockets of servers that were killed stay behind: remove them. */
	d = opendir(p->dir);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(p->dir);
}

pid_t procs_fork(struct procs *p)
{
	pid_t pid;

	if (p->n == PROCS_MAX)
		return -ENOSPC;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		p->pid[p->n++] = pid;
	return pid;
}

pid_t procs_spawn(struct procs *p, char *const argv[], void (*setup)(const void *arg),
                  const void *arg)
{
	pid_t parent = getpid(), pid = procs_fork(p);

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (setup)
			setup(arg);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

pid_t procs_start(struct procs *p, char *const argv[])
{
	return procs_spawn(p, argv, NULL, NULL);
}

/* Has WATCH exited? Peeks without reaping, so procs_stop still gets the status. */
static int exited(pid_t watch)
{
	siginfo_t si = {0};

	if (watch <= 0)
		return 0;
	if (waitid(P_PID, watch, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return 1;
	return si.si_pid == watch;
}

int procs_wait_path(const char *path, unsigned int type, int ms, pid_t watch)
{
	long long end = procs_now_ms() + ms;
	mode_t mask = S_IFMT | (type & 07777 ? 07777 : 0);
	struct stat st;

	for (;;) {
		if (stat(path, &st) == 0 && (st.st_mode & mask) == type)
			return 0;
		if (exited(watch))
			return -ECHILD;
		if (procs_now_ms() > end)
			return -ETIMEDOUT;
		nap();
	}
}

int procs_wait_gone(const char *path, int ms)
{
	long long end = procs_now_ms() + ms;
	struct stat st;

	while (stat(path, &st) == 0) {
		if (procs_now_ms() > end)
			return -ETIMEDOUT;
		nap();
	}
	return 0;
}

pid_t procs_server(struct procs *p, const char *name, const char *const opts[], char *sock)
{
	char arg[PATH_MAX + 16];
	const char *argv[16] = {"vfio-user-example-server", arg};
	int n = 2, ret;
	pid_t pid;

	snprintf(sock, PATH_MAX, "%s/%s.sock", p->dir, name);
	snprintf(arg, sizeof(arg), "--socket-path=%s", sock);
	unlink(sock);
	for (; opts && *opts && n < 15; opts++)
		argv[n++] = *opts;
	pid = procs_start(p, (char *const *)argv);
	if (pid < 0)
		return pid;
	/* A limit for a hang: a sanitized server on a loaded host starts in ~1 s. */
	ret = procs_wait_path(sock, S_IFSOCK, 30000, pid);
	return ret ? ret : pid;
}

int procs_exit_code(struct procs *p, pid_t pid, int ms)
{
	int status = 0;

	if (procs_stop(p, pid, 0, ms, &status))
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int procs_stop(struct procs *p, pid_t pid, int sig, int ms, int *status)
{
	long long end = procs_now_ms() + ms;
	pid_t r;

	if (sig && kill(pid, sig) < 0 && errno != ESRCH)
		return -errno;
	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD)) {
			forget(p, pid);
			return r == pid ? 0 : -ECHILD;
		}
		if (procs_now_ms() > end)
			return -ETIMEDOUT;
		nap();
	}
}
