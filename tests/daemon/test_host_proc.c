// SPDX-License-Identifier: MIT
/*
 * host_proc against real processes: a forked child with memfd-backed shared
 * memory, anonymous memory, an eventfd and a second thread; and children
 * with a thread blocked inside pread/pwrite/preadv... (on a userfaultfd page,
 * so it stays blocked) for the offset recovery.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_proc.h"
#include "memhelper.h"
#include "tests/e2e/hungfs.h"
#include "proto/log.h"

#define PAGE        4096
#define WAIT_MS     5000
#define ANON_TEXT   "anonymous memory of the child"
#define SHM_TEXT    "memfd memory of the child"
#define NO_SUCH_PID 0x3ffffff0

/* What the child tells the parent once it is set up. */
struct child_info {
	uint64_t shm, anon, hole;
	int efd;
	int not_efd[3]; /* a pipe, a memfd and a socket: fds, not eventfds */
	pid_t thread;
};

struct child {
	pid_t pid;
	int cmd, reply; /* pipes to and from it */
	struct child_info info;
};

static const struct host host = {.ops = &host_proc_ops};
static const struct vu_log quiet_log = {.level = VU_LOG_ERR};
static const struct host quiet_host = {.ops = &host_proc_ops, .ctx = (void *)&quiet_log};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The binary is linked with --wrap=open: every open() of the host layer
 * comes here first, so a test can count the /proc files a request reads.
 */
int __real_open(const char *path, int flags, ...);

static int opens_status, opens_syscall;

int __wrap_open(const char *path, int flags, ...)
{
	size_t n = strlen(path);
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	if (n > 7 && !strcmp(path + n - 7, "/status"))
		__atomic_add_fetch(&opens_status, 1, __ATOMIC_RELAXED);
	if (n > 8 && !strcmp(path + n - 8, "/syscall"))
		__atomic_add_fetch(&opens_syscall, 1, __ATOMIC_RELAXED);
	return __real_open(path, flags, mode);
}

/* Read exactly len bytes or fail the test; bounded. */
static void read_all(int fd, void *buf, size_t len)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
		n = read(fd, (char *)buf + got, len - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
}

static void write_all(int fd, const void *buf, size_t len)
{
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
}

struct parked {
	int tell, park; /* report our id on tell, then wait on park */
};

static void *child_thread(void *arg)
{
	const struct parked *p = arg;
	pid_t tid = gettid();
	char c;

	if (write(p->tell, &tid, sizeof(tid)) != sizeof(tid))
		_exit(2);
	/* Parked in read() until the process exits. */
	return read(p->park, &c, 1) < 0 ? NULL : arg;
}

/* The child: serve the parent's commands until it says 'q' or goes away. */
static void child_main(int cmd, int reply)
{
	struct child_info info;
	struct parked parked;
	pthread_t th;
	int park[2], tell[2];
	char *shm, *anon, c;
	uint64_t v;
	int mfd;

	mfd = memfd_create("vuc-test dma", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, 2 * PAGE))
		_exit(2);
	shm = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	anon = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED || anon == MAP_FAILED || munmap(anon + 2 * PAGE, PAGE))
		_exit(2);
	close(mfd);
	strcpy(anon, ANON_TEXT);
	strcpy(shm, SHM_TEXT);
	info.shm = (uintptr_t)shm;
	info.anon = (uintptr_t)anon;
	info.hole = (uintptr_t)anon + 2 * PAGE;
	info.efd = eventfd(0, EFD_NONBLOCK);
	info.not_efd[1] = memfd_create("vuc-test not an eventfd", 0);
	info.not_efd[2] = socket(AF_UNIX, SOCK_STREAM, 0);
	if (info.efd < 0 || pipe(park) || pipe(tell) || info.not_efd[1] < 0 || info.not_efd[2] < 0)
		_exit(2);
	info.not_efd[0] = park[1];
	parked.tell = tell[1];
	parked.park = park[0];
	if (pthread_create(&th, NULL, child_thread, &parked) ||
	    read(tell[0], &info.thread, sizeof(info.thread)) != sizeof(info.thread))
		_exit(2);
	if (write(reply, &info, sizeof(info)) != sizeof(info))
		_exit(2);
	while (read(cmd, &c, 1) == 1) {
		switch (c) {
		case 'a':
			if (write(reply, anon, 64) != 64)
				_exit(2);
			break;
		case 's':
			if (write(reply, shm + PAGE, 64) != 64)
				_exit(2);
			break;
		case 'e':
			if (read(info.efd, &v, sizeof(v)) != sizeof(v))
				v = 0;
			if (write(reply, &v, sizeof(v)) != sizeof(v))
				_exit(2);
			break;
		case 'q':
			_exit(0);
		}
	}
	_exit(0);
}

static int setup(void **state)
{
	struct child *c = calloc(1, sizeof(*c));
	int to[2], from[2];

	if (!c || pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		close(to[1]);
		close(from[0]);
		child_main(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	c->cmd = to[1];
	c->reply = from[0];
	read_all(c->reply, &c->info, sizeof(c->info));
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct child *c = *state;
	int status;

	write_all(c->cmd, "q", 1);
	close(c->cmd);
	close(c->reply);
	if (waitpid(c->pid, &status, 0) != c->pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	free(c);
	return 0;
}

static void ask(struct child *c, char cmd, void *buf, size_t len)
{
	write_all(c->cmd, &cmd, 1);
	read_all(c->reply, buf, len);
}

static void test_mem_read_write(void **state)
{
	struct child *c = *state;
	char buf[64] = {0}, back[64];

	assert_int_equal(host.ops->mem_read(host.ctx, c->pid, c->info.anon, buf, sizeof(buf)), 0);
	assert_string_equal(buf, ANON_TEXT);

	memset(buf, 0, sizeof(buf));
	strcpy(buf, "written by the daemon");
	assert_int_equal(host.ops->mem_write(host.ctx, c->pid, c->info.anon, buf, sizeof(buf)), 0);
	ask(c, 'a', back, sizeof(back));
	assert_memory_equal(back, buf, sizeof(buf));
	assert_int_equal(host.ops->mem_read(host.ctx, c->pid, c->info.anon, buf, 0), 0);
}

static void test_mem_big(void **state)
{
	struct child *c = *state;
	size_t len = 2 * PAGE;
	char *out = malloc(len), *in = malloc(len);
	size_t i;

	assert_non_null(out);
	assert_non_null(in);
	for (i = 0; i < len; i++)
		out[i] = (char)(i * 7 + 3);
	assert_int_equal(host.ops->mem_write(host.ctx, c->pid, c->info.anon, out, len), 0);
	assert_int_equal(host.ops->mem_read(host.ctx, c->pid, c->info.anon, in, len), 0);
	assert_memory_equal(in, out, len);
	free(out);
	free(in);
}

static void test_mem_fault(void **state)
{
	struct child *c = *state;
	char buf[64];

	assert_int_equal(host.ops->mem_read(host.ctx, c->pid, 8, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(host.ops->mem_write(host.ctx, c->pid, 8, buf, sizeof(buf)), -EFAULT);
	/* Partly mapped: the end runs into the hole. */
	assert_int_equal(host.ops->mem_read(host.ctx, c->pid, c->info.hole - 16, buf, sizeof(buf)),
	                 -EFAULT);
	assert_int_equal(host.ops->mem_write(host.ctx, c->pid, c->info.hole - 16, buf, sizeof(buf)),
	                 -EFAULT);
	assert_int_equal(host.ops->mem_read(host.ctx, NO_SUCH_PID, c->info.anon, buf, 8), -EFAULT);
}

/* Memory at the same address in the test and in every child it forks. */
static char pin_text[64];

/* A child that writes text into pin_text, says so, and exits when told
 * (or when the pipe closes). set_tid: the pid it must have, or 0 for any.
 * Returns its pid, or -errno when the pid cannot be chosen. */
static pid_t pin_child(const char *text, pid_t set_tid, int *cmd)
{
	struct clone_args args = {.exit_signal = SIGCHLD};
	int to[2], from[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe2(to, O_CLOEXEC), 0);
	assert_int_equal(pipe2(from, O_CLOEXEC), 0);
	if (set_tid) {
		args.set_tid = (uintptr_t)&set_tid;
		args.set_tid_size = 1;
	}
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		strcpy(pin_text, text);
		if (write(from[1], "r", 1) != 1 || read(to[0], &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	if (pid < 0)
		pid = -errno;
	close(to[0]);
	close(from[1]);
	if (pid > 0)
		read_all(from[0], &c, 1);
	close(from[0]);
	if (pid < 0)
		close(to[1]);
	else
		*cmd = to[1];
	return pid;
}

static void reap(pid_t pid, int cmd)
{
	int status;

	close(cmd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * A pin reaches its process while it lives, and nothing once it has exited
 * and been reaped, not even the process that then takes its pid (root can
 * choose a child's pid with clone3 set_tid; elsewhere that part is skipped).
 */
static void test_pin(void **state)
{
	char buf[64] = {0};
	int cmd, cmd2, pin;
	pid_t pid, again;

	assert_int_equal(host.ops->pin(host.ctx, NO_SUCH_PID), -ESRCH);
	pid = pin_child("the first process", 0, &cmd);
	assert_true(pid > 0);
	pin = host.ops->pin(host.ctx, pid);
	assert_true(pin >= 0);
	assert_int_equal(host.ops->pin_read(host.ctx, pin, (uintptr_t)pin_text, buf, sizeof(buf)),
	                 0);
	assert_string_equal(buf, "the first process");
	assert_int_equal(host.ops->pin_write(host.ctx, pin, (uintptr_t)pin_text, "!", 1), 0);
	assert_int_equal(host.ops->pin_read(host.ctx, pin, (uintptr_t)pin_text, buf, 4), 0);
	assert_memory_equal(buf, "!he ", 4);
	assert_int_equal(host.ops->pin_read(host.ctx, pin, 8, buf, 8), -EFAULT);
	assert_int_equal(host.ops->pin_write(host.ctx, pin, 8, buf, 8), -EFAULT);
	assert_int_equal(host.ops->pin_read(host.ctx, pin, UINT64_MAX - 8, buf, 8), -EFAULT);

	reap(pid, cmd);
	assert_int_equal(host.ops->pin_read(host.ctx, pin, (uintptr_t)pin_text, buf, 8), -ESRCH);
	assert_int_equal(host.ops->pin_write(host.ctx, pin, (uintptr_t)pin_text, "x", 1), -ESRCH);

	/* A fork of the same image that took the pid in the clock tick the
	 * first one started in would look the same to a pin; only root can
	 * choose a pid (as this test does), so let the tick pass. */
	usleep(20000);
	again = pin_child("the next one with that pid", pid, &cmd2);
	if (again > 0) {
		assert_int_equal(again, pid);
		assert_int_equal(host.ops->pin_read(host.ctx, pin, (uintptr_t)pin_text, buf, 8),
		                 -ESRCH);
		assert_int_equal(host.ops->pin_write(host.ctx, pin, (uintptr_t)pin_text, "x", 1),
		                 -ESRCH);
		assert_int_equal(
		    host.ops->mem_read(host.ctx, pid, (uintptr_t)pin_text, buf, sizeof(buf)), 0);
		assert_string_equal(buf, "the next one with that pid");
		reap(again, cmd2);
	}
	host.ops->unpin(host.ctx, pin);
	if (again < 0)
		skip();
}

/*
 * The room a server connection receives DMA data in (host_ops.dma_buf):
 * accesses whose buffer lies in it, anywhere, read and write the pinned
 * process's memory right; none is given past what one DMA message holds.
 */
static void test_pin_room(void **state)
{
	const size_t most = (1u << 20) + 16;
	char buf[64] = {0};
	uint8_t *room;
	int cmd, pin;
	pid_t pid;

	assert_null(host.ops->dma_buf(host.ctx, 64u << 20));
	room = host.ops->dma_buf(host.ctx, most);
	assert_non_null(room);
	pid = pin_child("memory read into the room", 0, &cmd);
	assert_true(pid > 0);
	pin = host.ops->pin(host.ctx, pid);
	assert_true(pin >= 0);
	assert_ptr_equal(host.ops->dma_buf(host.ctx, most), room);
	assert_int_equal(host.ops->pin_read(host.ctx, pin, (uintptr_t)pin_text, room + 16, 26), 0);
	assert_memory_equal(room + 16, "memory read into the room", 26);
	assert_int_equal(host.ops->pin_read(host.ctx, pin, (uintptr_t)pin_text, room + most - 6, 6),
	                 0);
	assert_memory_equal(room + most - 6, "memory", 6);
	memcpy(room + 4000, "MEMORY", 6);
	assert_int_equal(host.ops->pin_write(host.ctx, pin, (uintptr_t)pin_text, room + 4000, 6),
	                 0);
	assert_int_equal(host.ops->pin_read(host.ctx, pin, (uintptr_t)pin_text, buf, 26), 0);
	assert_string_equal(buf, "MEMORY read into the room");
	assert_int_equal(host.ops->pin_read(host.ctx, pin, 8, room + 16, 8), -EFAULT);
	reap(pid, cmd);
	assert_int_equal(host.ops->pin_read(host.ctx, pin, (uintptr_t)pin_text, room, 8), -ESRCH);
	host.ops->unpin(host.ctx, pin);
}

/*
 * Memory whose reads never come back: a private mapping of a file of a FUSE
 * filesystem that takes the READ and never answers. A read through the pin
 * must end with EFAULT after the helper's timeout, not wait with it (the
 * kernel's wait there is uninterruptible), and the next access must work.
 * Needs root and FUSE; skipped otherwise.
 */
#define HUNG_TIMEOUT_MS 300
#define HUNG_WAIT_MS    10000

struct hung_read {
	int pin, ret;
	uint64_t addr;
	atomic_bool done;
};

static void *hung_reader(void *arg)
{
	struct hung_read *r = arg;
	char buf[64];

	r->ret = quiet_host.ops->pin_read(quiet_host.ctx, r->pin, r->addr, buf, sizeof(buf));
	atomic_store(&r->done, true);
	return NULL;
}

static void test_pin_hung(void **state)
{
	char dir[] = "/tmp/vuc-hung-XXXXXX", path[PATH_MAX + 8], buf[16];
	struct hung_read r = {0};
	struct hungfs fs = {.dev = -1};
	int report[2], status, ret, i;
	long long t0, ms = -1;
	pthread_t th;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	ret = hungfs_mount(&fs, dir, 0, 0);
	if (ret) {
		print_message("cannot mount a FUSE filesystem (%s): skipped\n", strerror(-ret));
		rmdir(dir);
		skip();
	}
	assert_int_equal(hungfs_serve(&fs), 0);
	snprintf(path, sizeof(path), "%s/" HUNGFS_FILE, dir);
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Only the test may hold the filesystem's fd: its close must
		 * end every wait on it. */
		int fd = close(fs.dev) ? -1 : open(path, O_RDONLY | O_CLOEXEC);
		void *p = fd < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);

		strcpy(pin_text, "the child's own memory");
		if (p == MAP_FAILED || write(report[1], &p, sizeof(p)) != sizeof(p))
			_exit(2);
		pause();
		_exit(0);
	}
	read_all(report[0], &r.addr, sizeof(r.addr));
	r.pin = host.ops->pin(host.ctx, pid);
	assert_true(r.pin >= 0);
	memhelper_set_timeout(HUNG_TIMEOUT_MS);
	t0 = now_ms();
	assert_int_equal(pthread_create(&th, NULL, hung_reader, &r), 0);
	for (i = 0; i < HUNG_WAIT_MS / 10 && !atomic_load(&r.done); i++)
		usleep(10000);
	if (atomic_load(&r.done))
		ms = now_ms() - t0;
	/* Unstick whatever waits on the filesystem, then judge. */
	hungfs_end(&fs);
	pthread_join(th, NULL);
	print_message("read of a hung page: %s after %lld ms (%u READs never answered)\n",
	              strerror(-r.ret), ms, atomic_load(&fs.reads));
	assert_true(ms >= 0);
	assert_int_equal(r.ret, -EFAULT);
	assert_int_equal(host.ops->pin_read(host.ctx, r.pin, (uintptr_t)pin_text, buf, 6), 0);
	assert_memory_equal(buf, "the ch", 6);
	memhelper_set_timeout(0);
	host.ops->unpin(host.ctx, r.pin);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(report[0]);
	close(report[1]);
	rmdir(dir);
}

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

/* A pin holds no fd: a program's thousands of DMA mappings cost the daemon
 * none (each used to hold /proc/<pid>/mem open). */
#define MANY_PINS 2000

static void test_pin_no_fd(void **state)
{
	struct child *c = *state;
	static int pins[MANY_PINS];
	char buf[64];
	int before = count_fds();

	for (int i = 0; i < MANY_PINS; i++) {
		pins[i] = host.ops->pin(host.ctx, c->pid);
		assert_true(pins[i] >= 0);
	}
	assert_int_equal(count_fds(), before);
	assert_int_equal(host.ops->mem_write(host.ctx, c->pid, c->info.anon, "through any pin", 16),
	                 0);
	assert_int_equal(host.ops->pin_read(host.ctx, pins[MANY_PINS - 1], c->info.anon, buf, 16),
	                 0);
	assert_memory_equal(buf, "through any pin", 16);
	for (int i = 0; i < MANY_PINS; i++)
		host.ops->unpin(host.ctx, pins[i]);
	assert_int_equal(host.ops->pin_read(host.ctx, pins[0], c->info.anon, buf, 16), -ESRCH);
}

static void test_fd_get(void **state)
{
	struct child *c = *state;
	uint64_t v = 5, got = 0;
	int fd;

	fd = host.ops->fd_get(host.ctx, c->pid, c->info.efd, HOST_FD_EVENTFD);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, &v, sizeof(v)), sizeof(v));
	close(fd);
	ask(c, 'e', &got, sizeof(got));
	assert_int_equal(got, 5);

	/* Through a thread id: pidfd_open refuses those, the Tgid does not. */
	fd = host.ops->fd_get(host.ctx, c->info.thread, c->info.efd, HOST_FD_EVENTFD);
	assert_true(fd >= 0);
	v = 9;
	assert_int_equal(write(fd, &v, sizeof(v)), sizeof(v));
	close(fd);
	ask(c, 'e', &got, sizeof(got));
	assert_int_equal(got, 9);

	/* Whatever else the number names is refused, as eventfd_ctx_fdget
	 * refuses it: the server is never handed a pipe, file or socket. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    host.ops->fd_get(host.ctx, c->pid, c->info.not_efd[i], HOST_FD_EVENTFD),
		    -EINVAL);
	/* Taken as a file, the memfd comes. */
	fd = host.ops->fd_get(host.ctx, c->pid, c->info.not_efd[1], HOST_FD_ANY);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(host.ops->fd_get(host.ctx, c->pid, 999, HOST_FD_ANY), -EBADF);
	assert_int_equal(host.ops->fd_get(host.ctx, c->pid, -1, HOST_FD_EVENTFD), -EBADF);
	assert_int_equal(host.ops->fd_get(host.ctx, NO_SUCH_PID, 0, HOST_FD_ANY), -ESRCH);
}

static void test_tgid_of(void **state)
{
	struct child *c = *state;

	assert_int_equal(host.ops->tgid_of(host.ctx, c->pid), c->pid);
	assert_int_equal(host.ops->tgid_of(host.ctx, c->info.thread), c->pid);
	assert_int_equal(host.ops->tgid_of(host.ctx, NO_SUCH_PID), -ESRCH);
}

/* The process of a thread that is not the main one is read from /proc
 * once, then remembered, and checked before each use. */
static void test_tgid_of_remembered(void **state)
{
	struct child *c = *state;
	void *other;
	pid_t tid, opid;
	int before;

	assert_int_equal(host.ops->tgid_of(host.ctx, c->info.thread), c->pid);
	before = opens_status;
	for (int i = 0; i < 50; i++) {
		assert_int_equal(host.ops->tgid_of(host.ctx, c->info.thread), c->pid);
		assert_int_equal(host.ops->tgid_of(host.ctx, c->pid), c->pid);
	}
	assert_int_equal(opens_status - before, 0);

	/* A remembered thread that is gone is not taken for its process. */
	assert_int_equal(setup(&other), 0);
	tid = ((struct child *)other)->info.thread;
	opid = ((struct child *)other)->pid;
	assert_int_equal(host.ops->tgid_of(host.ctx, tid), opid);
	assert_int_equal(teardown(&other), 0);
	/* Unless another process took the number meanwhile, nothing has it. */
	assert_int_not_equal(host.ops->tgid_of(host.ctx, tid), opid);
}

static void test_mapping_memfd(void **state)
{
	struct child *c = *state;
	struct host_mapping m;
	char back[64], *p;

	assert_int_equal(
	    host.ops->mapping(host.ctx, c->pid, c->info.shm + PAGE + 5, HOST_FD_RDWR, &m), 0);
	assert_int_equal(m.start, c->info.shm);
	assert_int_equal(m.end, c->info.shm + 2 * PAGE);
	assert_true(m.readable);
	assert_true(m.writable);
	assert_true(m.shared);
	assert_int_equal(m.file_off, 0);
	assert_true(m.fd >= 0);

	/* The fd gives the very pages the child sees. */
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, (off_t)m.file_off);
	assert_true(p != MAP_FAILED);
	assert_string_equal(p, SHM_TEXT);
	strcpy(p + PAGE, "shared through map_files");
	ask(c, 's', back, sizeof(back));
	assert_string_equal(back, "shared through map_files");
	munmap(p, 2 * PAGE);
	close(m.fd);
}

/* The fd follows the access asked, not the mapping's: a read-only one of
 * writable shared memory cannot write it, nor be mapped writable. */
static void test_mapping_access(void **state)
{
	struct child *c = *state;
	struct host_mapping m;
	char back[64];

	assert_int_equal(host.ops->mapping(host.ctx, c->pid, c->info.shm, HOST_FD_READ, &m), 0);
	assert_true(m.writable);
	assert_true(m.fd >= 0);
	assert_int_equal(fcntl(m.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(pwrite(m.fd, "x", 1, PAGE), -1);
	assert_int_equal(errno, EBADF);
	assert_true(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0) == MAP_FAILED);
	assert_int_equal(errno, EACCES);
	assert_int_equal(pread(m.fd, back, sizeof(back), 0), sizeof(back));
	assert_string_equal(back, SHM_TEXT);
	close(m.fd);

	assert_int_equal(host.ops->mapping(host.ctx, c->pid, c->info.shm, HOST_FD_RDWR, &m), 0);
	assert_true(m.fd >= 0);
	assert_int_equal(fcntl(m.fd, F_GETFL) & O_ACCMODE, O_RDWR);
	close(m.fd);

	assert_int_equal(host.ops->mapping(host.ctx, c->pid, c->info.shm, HOST_FD_NONE, &m), 0);
	assert_true(m.shared);
	assert_int_equal(m.fd, -1);
}

static void test_mapping_anon(void **state)
{
	struct child *c = *state;
	struct host_mapping m;

	assert_int_equal(host.ops->mapping(host.ctx, c->pid, c->info.anon + 10, HOST_FD_RDWR, &m),
	                 0);
	assert_true(m.start <= c->info.anon);
	assert_true(m.end >= c->info.anon + 2 * PAGE);
	assert_false(m.shared);
	assert_int_equal(m.fd, -1);

	assert_int_equal(host.ops->mapping(host.ctx, c->pid, c->info.hole, HOST_FD_RDWR, &m),
	                 -EFAULT);
	assert_int_equal(host.ops->mapping(host.ctx, c->pid, 8, HOST_FD_RDWR, &m), -EFAULT);
	assert_int_equal(host.ops->mapping(host.ctx, NO_SUCH_PID, c->info.anon, HOST_FD_RDWR, &m),
	                 -ESRCH);
}

/*
 * The map_files race (a privilege escalation): an unprivileged process
 * swaps one page back and forth (MAP_FIXED) between its own file mapped
 * shared and writable and a root-owned file it may only read, mapped shared
 * read-only, while the daemon looks the page up for a read-write DMA. The
 * daemon must never come back with a writable fd of the root-owned file,
 * nor with any fd of a file the process does not map there with the access
 * asked. Needs root (map_files, a second user); skipped otherwise.
 */
#define RACE_ROUNDS 20000
#define RACE_MS     4000
#define RACE_UID    65534
#define RACE_GID    65534

static void race_child(int root_fd, int report)
{
	char *page;
	int own;

	if (setgroups(0, NULL) || setgid(RACE_GID) || setuid(RACE_UID))
		_exit(2);
	own = memfd_create("vuc-race own", MFD_CLOEXEC);
	if (own < 0 || ftruncate(own, PAGE))
		_exit(2);
	page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, own, 0);
	if (page == MAP_FAILED || write(report, &page, sizeof(page)) != sizeof(page))
		_exit(2);
	for (;;) {
		if (mmap(page, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, own, 0) ==
		        MAP_FAILED ||
		    mmap(page, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, root_fd, 0) == MAP_FAILED)
			_exit(2);
	}
}

static void test_mapping_swap_race(void **state)
{
	char dir[] = "/tmp/vuc-race-XXXXXX", path[64], buf[PAGE];
	struct stat root_st, st;
	unsigned int shared = 0, bad = 0, rounds;
	int report[2], root_fd, status;
	long long until;
	char *page;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/root-owned", dir);
	root_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(root_fd >= 0);
	memset(buf, 'R', sizeof(buf));
	assert_int_equal(write(root_fd, buf, sizeof(buf)), sizeof(buf));
	close(root_fd);
	root_fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(root_fd >= 0);
	assert_int_equal(fstat(root_fd, &root_st), 0);
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		race_child(root_fd, report[1]);
	close(report[1]);
	read_all(report[0], &page, sizeof(page));
	close(report[0]);

	/* Each swap caught is logged: keep those lines quiet. */
	until = now_ms() + RACE_MS;
	for (rounds = 0; rounds < RACE_ROUNDS && now_ms() < until; rounds++) {
		struct host_mapping m;

		if (quiet_host.ops->mapping(quiet_host.ctx, pid, (uintptr_t)page, HOST_FD_RDWR,
		                            &m) ||
		    m.fd < 0)
			continue;
		assert_int_equal(fstat(m.fd, &st), 0);
		if (st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino &&
		    (fcntl(m.fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
			bad++;
		else if (m.writable)
			shared++;
		close(m.fd);
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(root_fd);
	unlink(path);
	rmdir(dir);
	print_message("%u lookups: %u gave the process's own file, %u a writable fd of the "
	              "root-owned file\n",
	              rounds, shared, bad);
	assert_int_equal(bad, 0);
}

static void test_offset_plain_read(void **state)
{
	struct child *c = *state;
	char path[64], text[256];
	uint64_t off;
	int i;

	/* The child's second thread sits in read() on a pipe. */
	snprintf(path, sizeof(path), "/proc/%d/syscall", c->info.thread);
	for (i = 0; i < WAIT_MS; i++) {
		FILE *f = fopen(path, "r");

		assert_non_null(f);
		assert_non_null(fgets(text, sizeof(text), f));
		fclose(f);
		if (!strncmp(text, "0 ", 2))
			break;
		usleep(1000);
	}
	assert_int_equal(host.ops->syscall_offset(host.ctx, c->info.thread, &off), -ESPIPE);
	assert_int_equal(host.ops->syscall_offset(host.ctx, NO_SUCH_PID, &off), -ESRCH);
}

/* A child whose second thread makes one file syscall on a buffer that
 * userfaultfd keeps it waiting on. */
struct blocked_call {
	long nr;
	uint64_t off;
	char *page;
	int fd, report;
};

static void *make_call(void *arg)
{
	struct blocked_call *b = arg;
	struct iovec iov = {b->page, 100};
	unsigned long lo = (unsigned long)b->off, hi = (unsigned long)(b->off >> 32);
	pid_t tid = gettid();

	if (write(b->report, &tid, sizeof(tid)) != sizeof(tid))
		_exit(3);
	switch (b->nr) {
	case HP_NR_PREAD64:
	case HP_NR_PWRITE64:
		syscall(b->nr, b->fd, b->page, 100, (long)b->off);
		break;
	case HP_NR_PREADV:
	case HP_NR_PWRITEV:
		syscall(b->nr, b->fd, &iov, 1, lo, hi);
		break;
	default:
		syscall(b->nr, b->fd, &iov, 1, lo, hi, 0);
	}
	return NULL;
}

static void blocked_child(long nr, uint64_t off, int report)
{
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg;
	struct blocked_call b = {nr, off, NULL, -1, report};
	pthread_t th;
	int uffd;

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	b.fd = memfd_create("vuc-offset", MFD_CLOEXEC);
	b.page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (uffd < 0 || b.fd < 0 || b.page == MAP_FAILED || ftruncate(b.fd, 1 << 20) ||
	    ioctl(uffd, UFFDIO_API, &api))
		_exit(3);
	reg.range.start = (uintptr_t)b.page;
	reg.range.len = PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) || pthread_create(&th, NULL, make_call, &b))
		_exit(3);
	/* Nobody serves the fault: the thread waits until we are killed. */
	pause();
	_exit(0);
}

static bool uffd_works(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Run nr in a child and wait until /proc shows the thread inside it: the
 * child's pid, the thread in *tidp. */
static pid_t start_blocked(long nr, uint64_t off, pid_t *tidp)
{
	char path[64], text[256], want[16];
	int report[2], i;
	pid_t pid, tid = 0;

	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		blocked_child(nr, off, report[1]);
	close(report[1]);
	read_all(report[0], &tid, sizeof(tid));
	close(report[0]);

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
	snprintf(want, sizeof(want), "%ld ", nr);
	for (i = 0; i < WAIT_MS; i++) {
		FILE *f = fopen(path, "r");

		assert_non_null(f);
		text[0] = '\0';
		if (!fgets(text, sizeof(text), f))
			text[0] = '\0';
		fclose(f);
		if (!strncmp(text, want, strlen(want)))
			break;
		usleep(1000);
	}
	assert_true(i < WAIT_MS);
	*tidp = tid;
	return pid;
}

/* What syscall_offset says of a child's thread blocked in nr. */
static int offset_of_blocked(long nr, uint64_t off, uint64_t *got)
{
	int status, ret;
	pid_t tid, pid = start_blocked(nr, off, &tid);

	ret = host.ops->syscall_offset(host.ctx, tid, got);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return ret;
}

/* The offsets of many requests of one thread: its /proc/<tid>/syscall is
 * opened once and read again for each. */
static void test_offset_repeated(void **state)
{
	uint64_t got;
	int status, before;
	pid_t tid, pid;

	if (!uffd_works())
		skip();
	pid = start_blocked(HP_NR_PREAD64, 0x7000, &tid);
	before = opens_syscall;
	for (int i = 0; i < 50; i++) {
		got = 0;
		assert_int_equal(host.ops->syscall_offset(host.ctx, tid, &got), 0);
		assert_int_equal(got, 0x7000);
	}
	assert_true(opens_syscall - before <= 1);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* Its thread is gone: the fd kept for it reads nothing of another. */
	assert_int_equal(host.ops->syscall_offset(host.ctx, tid, &got), -ESRCH);
}

static void test_offset_blocked(void **state)
{
	static const struct {
		long nr;
		uint64_t off;
	} calls[] = {
	    {HP_NR_PREAD64, 0x12345}, {HP_NR_PWRITE64, 0x2000}, {HP_NR_PREADV, 0x3456},
	    {HP_NR_PWRITEV, 0x40000}, {HP_NR_PREADV2, 0x50001}, {HP_NR_PWRITEV2, 0x60002},
	};
	uint64_t got;
	size_t i;

	if (!uffd_works())
		skip();
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		got = 0;
		assert_int_equal(offset_of_blocked(calls[i].nr, calls[i].off, &got), 0);
		assert_int_equal(got, calls[i].off);
	}
	/* preadv2 at offset -1 reads at the file position. */
	assert_int_equal(offset_of_blocked(HP_NR_PREADV2, UINT64_MAX, &got), -ESPIPE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mem_read_write),
	    cmocka_unit_test(test_mem_big),
	    cmocka_unit_test(test_mem_fault),
	    cmocka_unit_test(test_fd_get),
	    cmocka_unit_test(test_tgid_of),
	    cmocka_unit_test(test_mapping_memfd),
	    cmocka_unit_test(test_mapping_anon),
	    cmocka_unit_test(test_offset_plain_read),
	    cmocka_unit_test(test_offset_blocked),
	    cmocka_unit_test(test_pin),
	    cmocka_unit_test(test_mapping_swap_race),
	    cmocka_unit_test(test_mapping_access),
	    cmocka_unit_test(test_pin_hung),
	    cmocka_unit_test(test_pin_no_fd),
	    cmocka_unit_test(test_tgid_of_remembered),
	    cmocka_unit_test(test_offset_repeated),
	    cmocka_unit_test(test_pin_room),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
