// SPDX-License-Identifier: MIT
/*
 * The daemon as a service: fixed device numbers and a container's copy of
 * the node across a daemon restart, readiness to a NOTIFY_SOCKET, journal
 * lines, SIGHUP, the privileges it needs and checks, one line for a failure,
 * a quiet log while a server is away, a server socket passed as fd:N, and
 * programs in pid and user namespaces. Each case starts its own servers and
 * daemons, the daemons' stderr going to files it reads.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "check.h"
#include "e2e.h"
#include "vfio_node.h"

/* The waits: limits for a hang, far above what a loaded host needs. */
#define NODE_DIR     "/dev/vfio-user"
#define NODE_WAIT_MS 60000
#define EXIT_WAIT_MS 60000
/* A major the kernel never hands out by itself (devices.txt: local use). */
#define DN_MAJOR 120
/* A user that is neither root nor the owner of anything here. */
#define OTHER_UID 1000

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif
#define CAPBIT(c) (1ull << (c))
/* What daemon/vfio-user-cuse@.service.in leaves the daemon. */
#define UNIT_CAPS                                                                                  \
	(CAPBIT(CAP_SYS_PTRACE) | CAPBIT(CAP_DAC_OVERRIDE) | CAPBIT(CAP_CHECKPOINT_RESTORE) |      \
	 CAPBIT(CAP_CHOWN))

struct spawn {
	const char *log; /* stderr (and stdout) to this file; NULL: inherit */
	const char *env; /* one NAME=VALUE to add, or NULL */
	bool journal;    /* set JOURNAL_STREAM to the log file */
	uint64_t caps;   /* non-zero: the only capabilities kept (bounding set) */
	uid_t uid;       /* non-zero: run as this user and group */
	int fd, as_fd;   /* fd >= 0: hand it over as as_fd */
	bool new_userns; /* in a new user and pid namespace (its pid 1) */
};

static void child_setup(const void *arg)
{
	const struct spawn *s = arg;
	struct stat st;
	char env[64];
	int fd;

	if (s->log) {
		fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(126);
		if (s->journal && !fstat(fd, &st)) {
			snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
			         (unsigned long long)st.st_ino);
			setenv("JOURNAL_STREAM", env, 1);
		}
	}
	if (s->env)
		putenv((char *)s->env);
	/* dup2 onto itself would leave close-on-exec set. */
	if (s->fd >= 0 &&
	    (s->fd == s->as_fd ? fcntl(s->fd, F_SETFD, 0) : dup2(s->fd, s->as_fd)) < 0)
		_exit(126);
	/* Root keeps its uid; exec then gives it what the bounding set allows. */
	for (int c = 0; s->caps && c <= CAP_LAST_CAP; c++)
		if (!(s->caps & CAPBIT(c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0))
			_exit(126);
	if (s->uid && (setgid(s->uid) || setuid(s->uid)))
		_exit(126);
	if (s->new_userns) {
		pid_t pid;
		int status;

		if (unshare(CLONE_NEWUSER | CLONE_NEWPID))
			_exit(126);
		/* The first child in the new pid namespace is its init. */
		pid = fork();
		if (pid < 0)
			_exit(126);
		if (pid > 0) {
			if (waitpid(pid, &status, 0) != pid)
				_exit(126);
			_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
		}
	}
}

/* Start argv (argv[0] looked up in PATH) as s says; -errno or its pid. */
static pid_t spawn(struct e2e *t, const struct spawn *s, char *const argv[])
{
	return procs_spawn(&t->procs, argv, child_setup, s);
}

/* Beside the suite's own daemon (and each other), every daemon here has an
 * iommufd node of its own. */
#define IOMMUFD(tag) "--iommufd=iommu-" tag

/* The case's own file name in its directory. */
static void case_file(struct e2e *t, const char *name, char *path)
{
	snprintf(path, PATH_MAX, "%s/%s", t->procs.dir, name);
}

/* Whole text of a log file (empty if none), in a static buffer. */
static const char *slurp(const char *path)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

static int count_of(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

static int count_lines(const char *text)
{
	return count_of(text, "\n");
}

/* Wait until the log at PATH has WHAT N times: 0, or -ETIMEDOUT after
 * NODE_WAIT_MS (a limit for a loaded host). */
static int wait_count(const char *path, const char *what, int n)
{
	long long end = procs_now_ms() + NODE_WAIT_MS;

	while (count_of(slurp(path), what) < n) {
		if (procs_now_ms() > end)
			return -ETIMEDOUT;
		usleep(20000);
	}
	return 0;
}

/* Print the daemon's log into the case's output (shown when it fails). */
static void show_log(const char *path)
{
	const char *text = slurp(path);

	printf("--- %s:\n%s---\n", path, text);
}

/* The example server on DIR/NAME.sock. */
static pid_t server(struct e2e *t, const char *name, char *sock)
{
	return procs_server(&t->procs, name, NULL, sock);
}

/* Wait for node (a char device) while pid runs: 0 or -errno. */
static int wait_node(const char *node, pid_t pid)
{
	return procs_wait_path(node, S_IFCHR, NODE_WAIT_MS, pid);
}

/* The same for a daemon with --mode=0666, until it has given the node that
 * mode: other users open it. */
static int wait_node_0666(const char *node, pid_t pid)
{
	return procs_wait_path(node, S_IFCHR | 0666, NODE_WAIT_MS, pid);
}

static int stop_clean(struct e2e *t, pid_t pid)
{
	int status = 0, ret = procs_stop(&t->procs, pid, SIGTERM, EXIT_WAIT_MS, &status);

	CHECK(ret == 0, "daemon still running %d ms after SIGTERM", EXIT_WAIT_MS);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "daemon wait status 0x%x", status);
	return 0;
}

/* Whether pid has not exited yet (peeks: it can still be reaped). */
static bool running(pid_t pid)
{
	siginfo_t si = {0};

	return waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
}

/* Wait for pid to exit by itself: its exit code, or -1. */
static int exit_code(struct e2e *t, pid_t pid)
{
	return procs_exit_code(&t->procs, pid, EXIT_WAIT_MS);
}

static int read_id(const char *node)
{
	uint32_t v = 0;
	int fd = node_open(node), ret;

	if (fd < 0)
		return fd;
	ret = reg_read(fd, EXDEV_REG_ID, &v);
	close(fd);
	if (!ret && v != EXDEV_ID_VALUE)
		ret = -EIO;
	return ret;
}

/* The node, its cdev and the iommufd node have the fixed numbers; a second
 * daemon asking for a taken one is refused with who holds it. */
int case_devnum(struct e2e *t)
{
	char sock[PATH_MAX], sock2[PATH_MAX], log[PATH_MAX], log2[PATH_MAX], dn[32];
	char io[32] = IOMMUFD("dn");
	char *argv[] = {"vfio-user-cuse", "-v", io, dn, NULL, NULL, NULL, NULL};
	char arg[PATH_MAX + 16], arg2[PATH_MAX + 16];
	struct spawn s = {.log = log, .fd = -1}, s2 = {.log = log2, .fd = -1};
	const char *node = NODE_DIR "/e2e-dn";
	struct stat st;
	pid_t d, d2;

	CHECK(server(t, "e2e-dn", sock) > 0);
	CHECK(server(t, "e2e-dn2", sock2) > 0);
	case_file(t, "daemon.log", log);
	case_file(t, "daemon2.log", log2);
	snprintf(dn, sizeof(dn), "--devnum=e2e-dn=%d:0", DN_MAJOR);
	snprintf(arg, sizeof(arg), "e2e-dn=%s", sock);
	argv[4] = "--devnum=devices/e2e-dn=120:3";
	argv[5] = "--devnum=iommu-dn=120:4";
	argv[6] = arg;
	d = spawn(t, &s, argv);
	CHECK(d > 0);
	CHECK_OK(wait_node(node, d));
	CHECK(stat(node, &st) == 0);
	NOTE("%s is %u:%u", node, major(st.st_rdev), minor(st.st_rdev));
	CHECK(st.st_rdev == makedev(DN_MAJOR, 0));
	/* The cdev comes after the node. */
	CHECK_OK(wait_node(NODE_DIR "/devices/e2e-dn", d));
	CHECK(stat(NODE_DIR "/devices/e2e-dn", &st) == 0 && st.st_rdev == makedev(DN_MAJOR, 3));
	CHECK(stat(NODE_DIR "/iommu-dn", &st) == 0 && st.st_rdev == makedev(DN_MAJOR, 4));
	CHECK_OK(read_id(node));
	CHECK(strstr(slurp(log), "e2e-dn is ready (char 120:0)"),
	      "the ready line names the number");

	snprintf(dn, sizeof(dn), "--devnum=e2e-dn2=%d:0", DN_MAJOR);
	snprintf(arg2, sizeof(arg2), "e2e-dn2=%s", sock2);
	argv[4] = arg2;
	argv[5] = NULL;
	snprintf(io, sizeof(io), IOMMUFD("dn2"));
	d2 = spawn(t, &s2, argv);
	CHECK(d2 > 0);
	CHECK(exit_code(t, d2) == 1, "a second daemon on a taken number must fail");
	NOTE("second daemon: %s", strstr(slurp(log2), "device number") ?: slurp(log2));
	CHECK(strstr(slurp(log2), NODE_DIR "/e2e-dn2: device number 120:0 is taken by " NODE_DIR
	                                   "/e2e-dn: give --devnum another number"));
	CHECK(access(NODE_DIR "/e2e-dn2", F_OK) != 0);
	/* The first daemon is untouched. */
	CHECK_OK(read_id(node));
	return stop_clean(t, d);
}

/* Region 2 (the example device's RAM) survives the daemon and the owner's
 * reset: it tells which server a node reached. */
static int mark(const char *path, const char *text)
{
	int fd = node_open(path), ret;

	if (fd < 0)
		return fd;
	ret = region_write(fd, VFIO_PCI_BAR2_REGION_INDEX, 0, text, strlen(text) + 1);
	close(fd);
	return ret;
}

static int read_mark(const char *path, char *buf, size_t len)
{
	int fd = node_open(path), ret;

	if (fd < 0)
		return fd;
	ret = region_read(fd, VFIO_PCI_BAR2_REGION_INDEX, 0, buf, len);
	buf[len - 1] = '\0';
	close(fd);
	return ret;
}

/*
 * What `docker run --device` makes: a node of its own with the same
 * major:minor. With a fixed number it reaches the same device again after
 * the daemon restarts, while another daemon (dynamic numbers) came and
 * took a number meanwhile; while the daemon is down it reaches nothing.
 */
int case_container_alias(struct e2e *t)
{
	char sock_a[PATH_MAX], sock_b[PATH_MAX], alias[PATH_MAX], dn[32], got[32];
	char arg_a[PATH_MAX + 16], arg_b[PATH_MAX + 16];
	char *argv_a[] = {"vfio-user-cuse", IOMMUFD("ca"), dn, arg_a, NULL};
	char *argv_b[] = {"vfio-user-cuse", IOMMUFD("cb"), arg_b, NULL};
	struct spawn s = {.fd = -1};
	const char *node_a = NODE_DIR "/e2e-ca", *node_b = NODE_DIR "/e2e-cb";
	struct stat st;
	pid_t da, db;
	int fd;

	CHECK(server(t, "e2e-ca", sock_a) > 0);
	CHECK(server(t, "e2e-cb", sock_b) > 0);
	snprintf(dn, sizeof(dn), "--devnum=e2e-ca=%d:1", DN_MAJOR);
	snprintf(arg_a, sizeof(arg_a), "e2e-ca=%s", sock_a);
	snprintf(arg_b, sizeof(arg_b), "e2e-cb=%s", sock_b);
	case_file(t, "alias", alias);
	CHECK(mknod(alias, S_IFCHR | 0600, makedev(DN_MAJOR, 1)) == 0, "mknod: %s",
	      strerror(errno));

	da = spawn(t, &s, argv_a);
	CHECK(da > 0);
	CHECK_OK(wait_node(node_a, da));
	CHECK_OK(mark(alias, "server A"));
	CHECK_OK(read_mark(node_a, got, sizeof(got)));
	CHECK(!strcmp(got, "server A"), "the alias and the node are one device ('%s')", got);
	CHECK(stop_clean(t, da) == 0);

	/* Down: the alias reaches no device. */
	fd = open(alias, O_RDWR | O_CLOEXEC);
	NOTE("alias opened while the daemon is down: %s", fd < 0 ? strerror(errno) : "opened");
	CHECK(fd < 0 && errno == ENXIO);

	db = spawn(t, &s, argv_b);
	CHECK(db > 0);
	CHECK_OK(wait_node(node_b, db));
	CHECK(stat(node_b, &st) == 0);
	NOTE("meanwhile %s came up as %u:%u", node_b, major(st.st_rdev), minor(st.st_rdev));
	CHECK_OK(mark(node_b, "server B"));

	da = spawn(t, &s, argv_a);
	CHECK(da > 0);
	CHECK_OK(wait_node(node_a, da));
	CHECK(stat(node_a, &st) == 0 && st.st_rdev == makedev(DN_MAJOR, 1));
	CHECK_OK(read_mark(alias, got, sizeof(got)));
	NOTE("after the restart the alias reads '%s'", got);
	CHECK(!strcmp(got, "server A"));
	CHECK(stop_clean(t, db) == 0);
	return stop_clean(t, da);
}

/* A supervisor's socket: a datagram socket the daemon's READY=1 comes to. */
static int supervisor_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Its lines as one, for a NOTE. */
static const char *one_line(const char *msg)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s", msg);
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return buf;
}

/* The next datagram within ms, into buf; "" if none came. */
static void next_datagram(int fd, int ms, char *buf, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n = 0;

	if (poll(&p, 1, ms) == 1)
		n = recv(fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
}

/*
 * READY=1 comes once the node is usable, exactly as the daemon was asked to
 * make it (mode 0666): a supervisor that starts a program on READY=1 finds
 * it working without polling. STOPPING=1 comes at SIGTERM. A daemon that
 * fails never says READY=1.
 */
int case_notify(struct e2e *t)
{
	char sock[PATH_MAX], nsock[PATH_MAX], env[PATH_MAX + 16], msg[256], arg[PATH_MAX + 16];
	char *argv[] = {"vfio-user-cuse", IOMMUFD("nt"), "--mode=0666", arg, NULL};
	struct spawn s = {.env = env, .fd = -1};
	const char *node = NODE_DIR "/e2e-nt";
	long long t0 = procs_now_ms();
	struct stat st;
	pid_t d;
	int nfd;

	CHECK(server(t, "e2e-nt", sock) > 0);
	case_file(t, "notify.sock", nsock);
	nfd = supervisor_socket(nsock);
	CHECK(nfd >= 0, "bind %s: %s", nsock, strerror(-nfd));
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", nsock);
	snprintf(arg, sizeof(arg), "e2e-nt=%s", sock);
	d = spawn(t, &s, argv);
	CHECK(d > 0);
	next_datagram(nfd, NODE_WAIT_MS, msg, sizeof(msg));
	NOTE("'%s' after %lld ms", one_line(msg), procs_now_ms() - t0);
	CHECK(!strncmp(msg, "READY=1\n", 8));
	/* No poll for the node: it is there and usable now. */
	CHECK(stat(node, &st) == 0 && S_ISCHR(st.st_mode));
	CHECK((st.st_mode & 07777) == 0666, "mode %o at READY=1", st.st_mode & 07777);
	CHECK_OK(read_id(node));
	next_datagram(nfd, 300, msg, sizeof(msg));
	CHECK(!msg[0], "one READY=1 only, then '%s'", msg);
	CHECK(kill(d, SIGTERM) == 0);
	next_datagram(nfd, EXIT_WAIT_MS, msg, sizeof(msg));
	NOTE("at SIGTERM: '%s'", one_line(msg));
	CHECK(!strncmp(msg, "STOPPING=1", 10));
	CHECK(exit_code(t, d) == 0);

	/* A server that is not there: exit 1, and nothing to the supervisor. */
	snprintf(arg, sizeof(arg), "e2e-nt=%s.none", sock);
	d = spawn(t, &s, argv);
	CHECK(d > 0);
	CHECK(exit_code(t, d) == 1);
	next_datagram(nfd, 0, msg, sizeof(msg));
	CHECK(!msg[0], "a daemon that failed said '%s'", msg);
	close(nfd);
	return 0;
}

/* SIGHUP (a closed terminal, a reload by habit) neither stops the daemon
 * nor disturbs a program using the node. */
int case_sighup(struct e2e *t)
{
	char sock[PATH_MAX], log[PATH_MAX], arg[PATH_MAX + 16];
	char *argv[] = {"vfio-user-cuse", IOMMUFD("hup"), "-v", arg, NULL};
	struct spawn s = {.log = log, .fd = -1};
	const char *node = NODE_DIR "/e2e-hup";
	uint32_t v;
	pid_t d;
	int fd;

	CHECK(server(t, "e2e-hup", sock) > 0);
	case_file(t, "daemon.log", log);
	snprintf(arg, sizeof(arg), "e2e-hup=%s", sock);
	d = spawn(t, &s, argv);
	CHECK(d > 0);
	CHECK_OK(wait_node(node, d));
	fd = node_open(node);
	CHECK(fd >= 0);
	/* Two, the second once the first is handled: a signal still pending
	 * would swallow it. */
	for (int i = 1; i <= 2; i++) {
		CHECK(kill(d, SIGHUP) == 0);
		CHECK(wait_count(log, "SIGHUP ignored: nothing to reload", i) == 0,
		      "SIGHUP %d not logged", i);
	}
	CHECK(running(d), "the daemon died of SIGHUP");
	CHECK_OK(reg_read(fd, EXDEV_REG_ID, &v));
	close(fd);
	CHECK(stop_clean(t, d) == 0);
	CHECK(count_of(slurp(log), "SIGHUP ignored: nothing to reload") == 2);
	return 0;
}

/* stderr is the journal's stream: every line a <N> priority, no timestamp. */
int case_journal(struct e2e *t)
{
	char sock[PATH_MAX], log[PATH_MAX], arg[PATH_MAX + 16];
	char *argv[] = {"vfio-user-cuse", IOMMUFD("jn"), "-v", arg, NULL};
	struct spawn s = {.log = log, .journal = true, .fd = -1};
	const char *text, *line;
	pid_t d;

	CHECK(server(t, "e2e-jn", sock) > 0);
	case_file(t, "daemon.log", log);
	snprintf(arg, sizeof(arg), "e2e-jn=%s", sock);
	d = spawn(t, &s, argv);
	CHECK(d > 0);
	CHECK_OK(wait_node(NODE_DIR "/e2e-jn", d));
	CHECK(stop_clean(t, d) == 0);
	text = slurp(log);
	show_log(log);
	CHECK(count_lines(text) >= 3);
	for (line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		CHECK(line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>',
		      "a line without a priority");
	CHECK(!strstr(text, "Z info ") && !strstr(text, "Z warn "), "a timestamp");
	CHECK(strstr(text, "<6>[e2e-jn] " NODE_DIR "/e2e-jn is ready (char "));
	CHECK(strstr(text, "<6>serving 1 device(s)\n"));
	return 0;
}

/* Run prog --MODE NODE (vfio-dma-demo) as s says: its exit code. */
static int run_demo(struct e2e *t, const struct spawn *s, const char *mode, const char *node)
{
	char *argv[] = {"vfio-dma-demo", (char *)mode, (char *)node, NULL};
	pid_t pid = spawn(t, s, argv);

	return pid > 0 ? exit_code(t, pid) : -1;
}

/* vfio-dma-demo --memfd, then --anon, on node as s says: 0, or -1 with the
 * program's and the daemon's logs shown. */
static int run_demos(struct e2e *t, const struct spawn *s, const char *node, const char *log)
{
	if (run_demo(t, s, "--memfd", node) == 0 && run_demo(t, s, "--anon", node) == 0)
		return 0;
	show_log(s->log);
	show_log(log);
	return -1;
}

/*
 * With only the capabilities the systemd unit leaves it, the daemon serves
 * a program of another user: its ioctl arguments and offsets (ptrace,
 * /proc/PID/syscall), its memfd memory (map_files), its private memory
 * (/proc/PID/mem), its eventfds (pidfd_getfd). Without CAP_DAC_OVERRIDE or
 * CAP_SYS_PTRACE it refuses to start.
 */
int case_capabilities(struct e2e *t)
{
	char sock[PATH_MAX], log[PATH_MAX], plog[PATH_MAX], arg[PATH_MAX + 16];
	char *argv[] = {"vfio-user-cuse", IOMMUFD("cap"), "--mode=0666", "--owner=0", arg, NULL};
	struct spawn s = {.log = log, .caps = UNIT_CAPS, .fd = -1};
	struct spawn prog = {.log = plog, .uid = OTHER_UID, .fd = -1};
	const char *node = NODE_DIR "/e2e-cap";
	pid_t d;

	CHECK(server(t, "e2e-cap", sock) > 0);
	case_file(t, "daemon.log", log);
	case_file(t, "program.log", plog);
	snprintf(arg, sizeof(arg), "e2e-cap=%s", sock);
	d = spawn(t, &s, argv);
	CHECK(d > 0);
	CHECK_OK(wait_node_0666(node, d));
	CHECK(run_demos(t, &prog, node, log) == 0, "vfio-dma-demo as uid %d failed", OTHER_UID);
	NOTE("vfio-dma-demo --memfd and --anon as uid %d: OK", OTHER_UID);
	CHECK(stop_clean(t, d) == 0);

	s.caps = UNIT_CAPS & ~CAPBIT(CAP_DAC_OVERRIDE);
	d = spawn(t, &s, argv);
	CHECK(d > 0);
	CHECK(exit_code(t, d) == 2);
	CHECK(strstr(slurp(log), "vfio-user-cuse: missing CAP_DAC_OVERRIDE: run as root"));
	s.caps = UNIT_CAPS & ~CAPBIT(CAP_SYS_PTRACE) & ~CAPBIT(CAP_CHOWN);
	d = spawn(t, &s, argv);
	CHECK(d > 0);
	CHECK(exit_code(t, d) == 2);
	CHECK(strstr(slurp(log), "missing CAP_SYS_PTRACE, CAP_CHOWN (for --owner/--group)"));
	return 0;
}

/* A server that cannot be reached: one line, saying why, and exit 1. */
int case_one_line(struct e2e *t)
{
	char sock[PATH_MAX], log[PATH_MAX], arg[PATH_MAX + 16], want[PATH_MAX + 64];
	char *argv[] = {"vfio-user-cuse", IOMMUFD("ol"), arg, NULL};
	struct spawn s = {.log = log, .fd = -1};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *text;
	pid_t d;
	int fd;

	case_file(t, "daemon.log", log);
	case_file(t, "none.sock", sock);
	snprintf(arg, sizeof(arg), "e2e-ol=%s", sock);
	d = spawn(t, &s, argv);
	CHECK(d > 0 && exit_code(t, d) == 1);
	text = slurp(log);
	NOTE("%s", text);
	snprintf(want, sizeof(want), "[e2e-ol] e2e-ol: cannot connect to unix:%s: no such file",
	         sock);
	CHECK(count_lines(text) == 1 && strstr(text, want), "one line with the diagnosis");

	/* A server that died and left its socket behind. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", sock);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);
	unlink(log);
	d = spawn(t, &s, argv);
	CHECK(d > 0 && exit_code(t, d) == 1);
	text = slurp(log);
	NOTE("%s", text);
	CHECK(count_lines(text) == 1 && strstr(text, "a stale socket of a server that is gone"));
	return 0;
}

/* A server away for a few seconds: "gone" once, "back" once, nothing for
 * the retries in between. */
int case_away_log(struct e2e *t)
{
	char sock[PATH_MAX], log[PATH_MAX], arg[PATH_MAX + 16];
	char *argv[] = {"vfio-user-cuse", IOMMUFD("away"), arg, NULL};
	struct spawn s = {.log = log, .fd = -1};
	const char *node = NODE_DIR "/e2e-away", *text;
	long long end;
	pid_t srv, d;
	int status;

	srv = server(t, "e2e-away", sock);
	CHECK(srv > 0);
	case_file(t, "daemon.log", log);
	snprintf(arg, sizeof(arg), "e2e-away=%s", sock);
	d = spawn(t, &s, argv);
	CHECK(d > 0);
	CHECK_OK(wait_node(node, d));
	/* SIGKILL leaves a stale socket behind; the retries meet it, then
	 * nothing at all. */
	CHECK_OK(procs_stop(&t->procs, srv, SIGKILL, EXIT_WAIT_MS, &status));
	usleep(1500000);
	unlink(sock);
	usleep(2000000);
	CHECK(server(t, "e2e-away", sock) > 0);
	for (end = procs_now_ms() + 30000; read_id(node); usleep(100000))
		CHECK(procs_now_ms() < end, "the node did not come back");
	CHECK(stop_clean(t, d) == 0);
	text = slurp(log);
	show_log(log);
	CHECK(count_lines(text) == 2, "two lines for the whole absence");
	CHECK(count_of(text, ".sock gone (") == 1 && count_of(text, ".sock is back\n") == 1);
	CHECK(!strstr(text, " error "));
	return 0;
}

/* A connected socket handed over as fd:N: served, and once that server is
 * gone, never reopened (the number is not the daemon's to guess at). */
int case_fd_server(struct e2e *t)
{
	char log[PATH_MAX], slog[PATH_MAX];
	char *sargv[] = {"vfio-user-example-server", "--fd=3", NULL};
	char *dargv[] = {"vfio-user-cuse", IOMMUFD("fd"), "e2e-fd=fd:4", NULL};
	struct spawn ss = {.log = slog, .as_fd = 3}, ds = {.log = log, .as_fd = 4};
	const char *node = NODE_DIR "/e2e-fd";
	pid_t srv, d;
	int sv[2], status;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	case_file(t, "daemon.log", log);
	case_file(t, "server.log", slog);
	ss.fd = sv[0];
	ds.fd = sv[1];
	srv = spawn(t, &ss, sargv);
	CHECK(srv > 0);
	d = spawn(t, &ds, dargv);
	CHECK(d > 0);
	close(sv[0]);
	close(sv[1]);
	if (wait_node(node, d)) {
		show_log(log);
		FAIL("no node for fd:4");
	}
	CHECK_OK(read_id(node));
	CHECK_OK(procs_stop(&t->procs, srv, SIGKILL, EXIT_WAIT_MS, &status));
	usleep(500000);
	CHECK(read_id(node) == -EIO);
	CHECK(stop_clean(t, d) == 0);
	CHECK(strstr(slurp(log), "until the daemon restarts"));
	return 0;
}

/* Programs in their own user and pid namespaces (a container's) use the
 * node as any other: CUSE hands the daemon their ids in its own namespace. */
int case_namespaces(struct e2e *t)
{
	char sock[PATH_MAX], log[PATH_MAX], plog[PATH_MAX], arg[PATH_MAX + 16];
	char *argv[] = {"vfio-user-cuse", IOMMUFD("ns"), "--mode=0666", arg, NULL};
	struct spawn s = {.log = log, .fd = -1};
	struct spawn prog = {.log = plog, .new_userns = true, .fd = -1};
	const char *node = NODE_DIR "/e2e-ns";
	pid_t d;

	CHECK(server(t, "e2e-ns", sock) > 0);
	case_file(t, "daemon.log", log);
	case_file(t, "program.log", plog);
	snprintf(arg, sizeof(arg), "e2e-ns=%s", sock);
	d = spawn(t, &s, argv);
	CHECK(d > 0);
	CHECK_OK(wait_node_0666(node, d));
	CHECK(run_demos(t, &prog, node, log) == 0,
	      "vfio-dma-demo in new user and pid namespaces failed");
	NOTE("vfio-dma-demo --memfd and --anon in new user and pid namespaces: OK");
	return stop_clean(t, d);
}
