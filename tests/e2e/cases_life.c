// SPDX-License-Identifier: MIT
/*
 * Life cycle: each case starts its own example server(s) and daemon, so it
 * can slow them down, kill them and restart them. Server options follow
 * vfio-user-example-server --help; the daemon is started as the README says.
 */
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "vfio_node.h"

/*
 * The waits are limits for a hang, not expectations: they hold on a loaded
 * host running the sanitized build under TCG, where starting 64 servers and
 * a daemon's exit (its leak check included) take tens of seconds. Only
 * SLOW_MS is a margin: the slow server answers after it, and what a case
 * checks happens within a few hundred ms of VM time.
 */
#define NODE_DIR        "/dev/vfio-user"
#define NODE_WAIT_MS    120000
#define EXIT_WAIT_MS    180000
#define STOP_WAIT_MS    60000
#define RESTART_WAIT_MS 60000
#define REQ_TIMEOUT     "--timeout=60000"
#define SLOW_MS         3000
#define NODES           64

struct pair {
	char name[32];
	char sock[PATH_MAX];
	char node[PATH_MAX];
	pid_t server, daemon;
};

static int start_daemon(struct e2e *t, const char *const opts[], struct pair *p, int n)
{
	char **argv = calloc(n + 16, sizeof(char *)), *arg;
	int argc = 0, first, ret, timed = 0;

	CHECK(argv);
	argv[argc++] = "vfio-user-cuse";
	for (; opts && *opts; opts++) {
		timed |= !strncmp(*opts, "--timeout=", 10);
		argv[argc++] = (char *)*opts;
	}
	/* Unless the case is about timeouts: a limit for a hang, as a request
	 * (or a connect's VERSION exchange) on a loaded host can take more
	 * than the default 5 s. */
	if (!timed)
		argv[argc++] = REQ_TIMEOUT;
	first = argc;
	/* Beside the suite's own daemon: an iommufd node of its own. */
	CHECK(asprintf(&arg, "--iommufd=iommu-%s", p[0].name) > 0);
	argv[argc++] = arg;
	for (int i = 0; i < n; i++) {
		CHECK(asprintf(&arg, "%s=%s", p[i].name, p[i].sock) > 0);
		argv[argc++] = arg;
	}
	p[0].daemon = procs_start(&t->procs, argv);
	while (argc > first)
		free(argv[--argc]);
	free(argv);
	CHECK(p[0].daemon > 0, "start vfio-user-cuse: %s", strerror(-p[0].daemon));
	for (int i = 0; i < n; i++) {
		p[i].daemon = p[0].daemon;
		snprintf(p[i].node, sizeof(p[i].node), NODE_DIR "/%s", p[i].name);
		ret = procs_wait_path(p[i].node, S_IFCHR, NODE_WAIT_MS, p[0].daemon);
		CHECK(ret == 0, "%s did not appear: %s", p[i].node,
		      ret == -ECHILD ? "the daemon exited" : strerror(-ret));
	}
	return 0;
}

/* One server with SOPTS, one daemon with DOPTS serving it as e2e-NAME. */
static int start_pair(struct e2e *t, const char *name, const char *const sopts[],
                      const char *const dopts[], struct pair *p)
{
	snprintf(p->name, sizeof(p->name), "e2e-%s", name);
	p->server = procs_server(&t->procs, p->name, sopts, p->sock);
	CHECK(p->server > 0, "start server: %s", strerror(-p->server));
	return start_daemon(t, dopts, p, 1);
}

static int stop_daemon(struct e2e *t, struct pair *p)
{
	long long t0 = procs_now_ms();
	int status = 0, ret = procs_stop(&t->procs, p->daemon, SIGTERM, EXIT_WAIT_MS, &status);

	CHECK(ret == 0, "daemon still running %d ms after SIGTERM", EXIT_WAIT_MS);
	NOTE("daemon exited %lld ms after SIGTERM", procs_now_ms() - t0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "daemon wait status 0x%x", status);
	return 0;
}

/* One register read, timed: 0 or -errno, and how long it took in *ms. */
static int timed_read(int fd, long long *ms)
{
	long long t0 = procs_now_ms();
	uint32_t v;
	int ret = reg_read(fd, EXDEV_REG_ID, &v);

	*ms = procs_now_ms() - t0;
	return ret;
}

static void on_alarm(int sig)
{
}

int case_eintr(struct e2e *t)
{
	static const char *const sopts[] = {"--reply-delay-ms=3000", NULL};
	static const char *const dopts[] = {"--timeout=20000", NULL};
	struct sigaction sa = {.sa_handler = on_alarm};
	/* Every 300 ms: one that comes before the pread starts (a slow host)
	 * is handled in user space, and the next one interrupts the pread. */
	struct itimerval it = {.it_value = {.tv_usec = 300000}, .it_interval = {.tv_usec = 300000}};
	const struct itimerval off = {0};
	struct pair p;
	long long ms;
	uint32_t v;
	int fd, ret;

	CHECK(start_pair(t, "eintr", sopts, dopts, &p) == 0);
	fd = node_open(p.node);
	CHECK(fd >= 0, "open: %s", strerror(-fd));
	/* No SA_RESTART: the interrupted pread must come back with EINTR. */
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	ret = timed_read(fd, &ms);
	CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);
	NOTE("pread interrupted after %lld ms (server answers after %d ms): %s", ms, SLOW_MS,
	     ret ? strerror(-ret) : "success");
	CHECK(ret == -EINTR);
	CHECK(ms < SLOW_MS, "EINTR came only when the server answered");
	/* The late answer is dropped; the next request gets its own. */
	CHECK_OK(reg_read(fd, EXDEV_REG_ID, &v));
	CHECK(v == EXDEV_ID_VALUE, "ID 0x%08x after EINTR", v);
	close(fd);
	return stop_daemon(t, &p);
}

int case_timeout(struct e2e *t)
{
	static const char *const sopts[] = {"--reply-delay-ms=3000", NULL};
	static const char *const dopts[] = {"--timeout=1000", NULL};
	struct pair p;
	long long ms;
	int fd, ret;

	CHECK(start_pair(t, "timeout", sopts, dopts, &p) == 0);
	fd = node_open(p.node);
	CHECK(fd >= 0, "open: %s", strerror(-fd));
	ret = timed_read(fd, &ms);
	NOTE("pread with --timeout=1000 on a server taking %d ms: %s after %lld ms", SLOW_MS,
	     ret ? strerror(-ret) : "success", ms);
	CHECK(ret == -ETIMEDOUT);
	close(fd);
	return stop_daemon(t, &p);
}

struct killer {
	pid_t pid;
	int delay_ms;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;

	usleep(k->delay_ms * 1000);
	kill(k->pid, SIGKILL);
	return NULL;
}

/* A request pending when the server dies fails at once; so does every later one. */
int case_server_kill(struct e2e *t)
{
	static const char *const sopts[] = {"--reply-delay-ms=3000", NULL};
	static const char *const dopts[] = {"--timeout=20000", NULL};
	struct pair p;
	struct killer k = {.delay_ms = 300};
	pthread_t th;
	long long ms;
	int fd, status, ret;
	uint32_t v;

	CHECK(start_pair(t, "kill", sopts, dopts, &p) == 0);
	fd = node_open(p.node);
	CHECK(fd >= 0, "open: %s", strerror(-fd));
	k.pid = p.server;
	CHECK(pthread_create(&th, NULL, kill_later, &k) == 0);
	ret = timed_read(fd, &ms);
	pthread_join(th, NULL);
	NOTE("pread pending while the server was killed: %s after %lld ms",
	     ret ? strerror(-ret) : "success", ms);
	CHECK(ret == -EIO);
	CHECK(ms < SLOW_MS, "the pending pread waited for an answer that could not come");
	CHECK_OK(procs_stop(&t->procs, p.server, 0, EXIT_WAIT_MS, &status));
	CHECK_ERRNO(pread(fd, &v, 4, REGION_OFF(VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_ID)), EIO);
	CHECK_ERRNO(ioctl(fd, VFIO_DEVICE_RESET), EIO);
	close(fd);
	return stop_daemon(t, &p);
}

/* After the server comes back, the daemon reconnects and the next open works. */
int case_server_restart(struct e2e *t)
{
	static const char *const dopts[] = {"--timeout=5000", NULL};
	long long t0 = 0, end;
	struct pair p;
	int fd, status;
	uint32_t v = 0;

	CHECK(start_pair(t, "restart", NULL, dopts, &p) == 0);
	fd = node_open(p.node);
	CHECK(fd >= 0, "open: %s", strerror(-fd));
	CHECK_OK(procs_stop(&t->procs, p.server, SIGKILL, EXIT_WAIT_MS, &status));
	CHECK_ERR(reg_read(fd, EXDEV_REG_ID, &v), EIO);
	close(fd);
	p.server = procs_server(&t->procs, p.name, NULL, p.sock);
	CHECK(p.server > 0, "restart server: %s", strerror(-p.server));
	/* The daemon retries with backoff (at most 5 s apart): poll for it. */
	t0 = procs_now_ms();
	end = t0 + RESTART_WAIT_MS;
	for (;;) {
		fd = node_open(p.node);
		if (fd >= 0 && reg_read(fd, EXDEV_REG_ID, &v) == 0)
			break;
		if (fd >= 0)
			close(fd);
		CHECK(procs_now_ms() < end,
		      "no working open within %d ms of the restart (last: %s)", RESTART_WAIT_MS,
		      fd < 0 ? strerror(-fd) : "register read failed");
		usleep(100000);
	}
	NOTE("node usable again %lld ms after the server restarted", procs_now_ms() - t0);
	CHECK(v == EXDEV_ID_VALUE, "ID 0x%08x", v);
	close(fd);
	return stop_daemon(t, &p);
}

/*
 * The program's side of caller_killed: open, leave the open file with a
 * child that only sleeps (so dying does not release the node: what is
 * measured is the interrupted request alone), say so, then block in pread.
 */
static void killed_program(const char *node, int report)
{
	uint32_t v;
	pid_t holder;
	int fd = node_open(node);

	if (fd < 0)
		_exit(1);
	holder = fork();
	if (holder == 0) {
		sleep(60);
		_exit(0);
	}
	if (holder < 0 || write(report, &holder, sizeof(holder)) != sizeof(holder))
		_exit(1);
	reg_read(fd, EXDEV_REG_ID, &v);
	_exit(0);
}

/* A program killed while its request waits on a slow server dies at once;
 * once the last holder of its open file is gone, the node is free again. */
int case_caller_killed(struct e2e *t)
{
	static const char *const sopts[] = {"--reply-delay-ms=3000", NULL};
	static const char *const dopts[] = {"--timeout=20000", NULL};
	struct pollfd pfd = {.events = POLLIN};
	int fd, status, report[2];
	pid_t pid, holder;
	long long t0, ms;
	struct pair p;
	uint32_t v;

	CHECK(start_pair(t, "killed", sopts, dopts, &p) == 0);
	/* The holder outlives its parent: adopt it so it can be reaped. */
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	CHECK(pipe(report) == 0);
	pid = procs_fork(&t->procs);
	CHECK(pid >= 0);
	if (pid == 0)
		killed_program(p.node, report[1]);
	pfd.fd = report[0];
	CHECK(poll(&pfd, 1, STOP_WAIT_MS) == 1, "the program did not open the node");
	CHECK(read(report[0], &holder, sizeof(holder)) == sizeof(holder));
	t->procs.pid[t->procs.n++] = holder;
	/* Long enough for the pread to reach the server, well short of its answer. */
	usleep(300000);
	t0 = procs_now_ms();
	CHECK_OK(procs_stop(&t->procs, pid, SIGKILL, STOP_WAIT_MS, &status));
	ms = procs_now_ms() - t0;
	NOTE("a program blocked on a %d ms server died %lld ms after SIGKILL", SLOW_MS, ms);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "wait status 0x%x", status);
	CHECK(ms < SLOW_MS, "the killed program waited for the server's answer");
	/* The holder's death is the last close: its release runs (a reset, slow here). */
	CHECK_OK(procs_stop(&t->procs, holder, SIGKILL, STOP_WAIT_MS, &status));
	fd = node_open(p.node);
	CHECK(fd >= 0, "open after the owner was killed: %s", strerror(-fd));
	CHECK_OK(reg_read(fd, EXDEV_REG_ID, &v));
	CHECK(v == EXDEV_ID_VALUE, "ID 0x%08x", v);
	close(fd);
	return stop_daemon(t, &p);
}

int case_sigterm(struct e2e *t)
{
	struct pair p;
	uint32_t v;
	ssize_t n;
	int fd;

	CHECK(start_pair(t, "sigterm", NULL, NULL, &p) == 0);
	fd = node_open(p.node);
	CHECK(fd >= 0, "open: %s", strerror(-fd));
	CHECK_OK(reg_read(fd, EXDEV_REG_ID, &v));
	/* A program still holds the node open: the daemon must exit anyway. */
	CHECK(stop_daemon(t, &p) == 0);
	CHECK_OK(procs_wait_gone(p.node, EXIT_WAIT_MS));
	errno = 0;
	n = pread(fd, &v, 4, REGION_OFF(VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_ID));
	NOTE("pread on the open fd after the daemon exited: %zd, %s", n, strerror(errno));
	CHECK(n == -1);
	close(fd);
	return 0;
}

int case_nodes64(struct e2e *t)
{
	struct pair *p = calloc(NODES, sizeof(*p));
	struct vfio_device_info info = {.argsz = sizeof(info)};
	long long t0;
	uint32_t v;
	int fd;

	CHECK(p);
	for (int i = 0; i < NODES; i++) {
		snprintf(p[i].name, sizeof(p[i].name), "e2e-n%02d", i);
		p[i].server = procs_server(&t->procs, p[i].name, NULL, p[i].sock);
		CHECK(p[i].server > 0, "server %d: %s", i, strerror(-p[i].server));
	}
	t0 = procs_now_ms();
	/* One node each: three would take more of the kernel's dynamic char
	 * majors (about 140) than there are. */
	CHECK(start_daemon(t, (const char *const[]){"--models=node", NULL}, p, NODES) == 0);
	NOTE("%d nodes up %lld ms after the daemon started", NODES, procs_now_ms() - t0);
	for (int i = 0; i < NODES; i++) {
		fd = node_open(p[i].node);
		CHECK(fd >= 0, "open %s: %s", p[i].node, strerror(-fd));
		CHECK(ioctl(fd, VFIO_DEVICE_GET_INFO, &info) == 0, "%s: %s", p[i].node,
		      strerror(errno));
		CHECK_OK(reg_write(fd, EXDEV_REG_SCRATCH, i));
		CHECK_OK(reg_read(fd, EXDEV_REG_ID, &v));
		CHECK(v == EXDEV_ID_VALUE, "%s: ID 0x%08x", p[i].node, v);
		close(fd);
	}
	CHECK(stop_daemon(t, &p[0]) == 0);
	for (int i = 0; i < NODES; i++)
		CHECK_OK(procs_wait_gone(p[i].node, EXIT_WAIT_MS));
	free(p);
	return 0;
}
