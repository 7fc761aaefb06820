// SPDX-License-Identifier: MIT
#include "host_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "proto/log.h"

/*
 * A thread blocked in our request may still read "running" for a moment
 * (on its way to sleep); up to 194 retries were measured on 2 vCPUs. Yield
 * first, then sleep a little, and give up after about 200 ms.
 */
#define SYSCALL_YIELDS   1000
#define SYSCALL_SLEEPS   200
#define SYSCALL_SLEEP_NS 1000000

/* Read a small /proc file whole into buf (NUL-terminated). 0 or -errno. */
static int read_proc(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return ret;
}

int hp_parse_tgid(const char *status, pid_t *tgid)
{
	const char *p = status;
	char *end;
	long v;

	while (p) {
		if (!strncmp(p, "Tgid:", 5)) {
			errno = 0;
			v = strtol(p + 5, &end, 10);
			if (errno || end == p + 5 || v <= 0 || v > INT32_MAX)
				return -EINVAL;
			*tgid = (pid_t)v;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -EINVAL;
}

static pid_t tgid_from_status(pid_t tid)
{
	char path[64], buf[4096];
	pid_t tgid;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	ret = read_proc(path, buf, sizeof(buf));
	if (ret)
		return ret;
	ret = hp_parse_tgid(buf, &tgid);
	return ret ? ret : tgid;
}

/*
 * Called for every request. Most come from a process's main thread, which
 * pidfd_open accepts (it refuses other threads): that costs about half of
 * generating /proc/<tid>/status, which walks the process's memory map.
 */
static pid_t proc_tgid_of(void *ctx, pid_t tid)
{
	int fd;

	fd = (int)syscall(SYS_pidfd_open, tid, 0);
	if (fd >= 0) {
		close(fd);
		return tid;
	}
	if (errno == ESRCH)
		return -ESRCH;
	return tgid_from_status(tid);
}

int hp_parse_maps_line(char *line, struct hp_maps_entry *e)
{
	char perms[5];
	unsigned int major, minor;
	int n = -1;
	char *nl;

	nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n", &e->start,
	           &e->end, perms, &e->offset, &major, &minor, &e->inode, &n) < 7 ||
	    n < 0)
		return -EINVAL;
	if (strlen(perms) != 4 || e->end <= e->start)
		return -EINVAL;
	e->readable = perms[0] == 'r';
	e->writable = perms[1] == 'w';
	e->shared = perms[3] == 's';
	/* The path runs to the end of the line and may hold spaces. */
	e->path = line + n;
	return 0;
}

bool hp_maps_shareable(const struct hp_maps_entry *e)
{
	return e->shared && e->path[0] && e->path[0] != '[';
}

/* Open the file behind a shareable mapping; -1 when there is none worth
 * giving out (only regular files: memfd, shm, hugetlbfs, plain files). */
static int open_mapping_file(const struct vu_log *log, pid_t pid, const struct hp_maps_entry *e)
{
	char path[96];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, e->start,
	         e->end);
	fd = open(path, (e->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		vu_log(log, VU_LOG_INFO, "pid %d: cannot open %s (%s): memory goes by messages",
		       (int)pid, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int proc_mapping(void *ctx, pid_t pid, uint64_t addr, struct host_mapping *m)
{
	struct hp_maps_entry e;
	char path[64], *line = NULL;
	size_t cap = 0;
	int ret = -EFAULT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (getline(&line, &cap, f) > 0) {
		if (hp_parse_maps_line(line, &e) || addr < e.start || addr >= e.end)
			continue;
		m->start = e.start;
		m->end = e.end;
		m->readable = e.readable;
		m->writable = e.writable;
		m->shared = e.shared;
		m->file_off = e.offset;
		m->fd = hp_maps_shareable(&e) ? open_mapping_file(ctx, pid, &e) : -1;
		ret = 0;
		break;
	}
	free(line);
	fclose(f);
	return ret;
}

static int parse_args(const char *p, uint64_t *args, int nr)
{
	char *end;
	int i;

	for (i = 0; i < nr; i++) {
		errno = 0;
		args[i] = strtoull(p, &end, 16);
		if (errno || end == p)
			return -EINVAL;
		p = end;
	}
	return 0;
}

/* The syscall number of a /proc/<tid>/syscall text, its six arguments
 * after it parsed by the caller: 0, -EAGAIN while the thread runs, or
 * -EINVAL. */
static int parse_nr(const char *text, long *nr, char **args)
{
	if (!strncmp(text, "running", 7))
		return -EAGAIN;
	errno = 0;
	*nr = strtol(text, args, 10);
	if (errno || *args == text || (**args != ' ' && **args != '\n' && **args != '\0'))
		return -EINVAL;
	return 0;
}

int hp_parse_syscall(const char *text, uint64_t *off)
{
	uint64_t args[6];
	char *end;
	long nr;
	int ret = parse_nr(text, &nr, &end);

	if (ret)
		return ret;
	switch (nr) {
	case HP_NR_READ:
	case HP_NR_WRITE:
	case HP_NR_READV:
	case HP_NR_WRITEV:
		return -ESPIPE;
	case HP_NR_PREAD64:
	case HP_NR_PWRITE64:
	case HP_NR_PREADV:
	case HP_NR_PWRITEV:
	case HP_NR_PREADV2:
	case HP_NR_PWRITEV2:
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (parse_args(end, args, 6))
		return -EINVAL;
	if (nr == HP_NR_PREAD64 || nr == HP_NR_PWRITE64) {
		*off = args[3];
		return 0;
	}
	/*
	 * preadv and friends take the offset as pos_l, pos_h; a 64-bit kernel
	 * builds it as pos_l | (pos_h << 32 << 32), so pos_l holds all of it.
	 * The *v2 calls read offset -1 as "at the file position".
	 */
	if ((nr == HP_NR_PREADV2 || nr == HP_NR_PWRITEV2) && (int64_t)args[3] == -1)
		return -ESPIPE;
	*off = args[3];
	return 0;
}

static void pause_briefly(int round)
{
	struct timespec ts = {0, SYSCALL_SLEEP_NS};

	if (round < SYSCALL_YIELDS)
		sched_yield();
	else
		nanosleep(&ts, NULL);
}

int hp_parse_syscall_fd(const char *text, int *fd)
{
	uint64_t args[6];
	char *end;
	long nr;
	int ret = parse_nr(text, &nr, &end);

	if (ret)
		return ret;
	if (nr != HP_NR_IOCTL)
		return -EOPNOTSUPP;
	if (parse_args(end, args, 6) || args[0] > INT32_MAX)
		return -EINVAL;
	*fd = (int)args[0];
	return 0;
}

/* Read /proc/<tid>/syscall until parse stops saying the thread runs: it
 * can briefly read "running" as the thread enters the call. */
static int read_syscall(void *ctx, pid_t tid, int (*parse)(const char *text, void *out), void *out,
                        const char *what)
{
	char path[64], buf[512];
	int round, ret;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
	for (round = 0; round < SYSCALL_YIELDS + SYSCALL_SLEEPS; round++) {
		ret = read_proc(path, buf, sizeof(buf));
		if (ret)
			return ret;
		ret = parse(buf, out);
		if (ret != -EAGAIN)
			return ret;
		pause_briefly(round);
	}
	vu_log(ctx, VU_LOG_WARN, "thread %d never showed its syscall: cannot tell %s", (int)tid,
	       what);
	return -EAGAIN;
}

static int parse_fd(const char *text, void *out)
{
	return hp_parse_syscall_fd(text, out);
}

static int parse_offset(const char *text, void *out)
{
	return hp_parse_syscall(text, out);
}

static int proc_syscall_fd(void *ctx, pid_t tid, int *fd)
{
	return read_syscall(ctx, tid, parse_fd, fd, "its fd");
}

static int proc_syscall_offset(void *ctx, pid_t tid, uint64_t *off)
{
	return read_syscall(ctx, tid, parse_offset, off, "the offset");
}

static int vm_copy(const struct vu_log *log, pid_t pid, uint64_t addr, void *buf, size_t len,
                   bool write)
{
	size_t done = 0;
	ssize_t n = 0;

	while (done < len) {
		struct iovec local = {(char *)buf + done, len - done};
		struct iovec remote = {(void *)(uintptr_t)(addr + done), len - done};

		if (write)
			n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
		else
			n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done == len)
		return 0;
	if (n < 0 && errno != EFAULT)
		vu_log(log, VU_LOG_WARN, "pid %d: cannot %s its memory: %s", (int)pid,
		       write ? "write" : "read", strerror(errno));
	return -EFAULT;
}

static int proc_mem_read(void *ctx, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	return vm_copy(ctx, pid, addr, buf, len, false);
}

static int proc_mem_write(void *ctx, pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	return vm_copy(ctx, pid, addr, (void *)buf, len, true);
}

/*
 * A pin is an fd on /proc/<pid>/mem: opening it binds the file to the
 * process's address space (mm) of that moment, not to the pid, and once that
 * process exits (or execs) the kernel finds no users left on that mm and
 * every read or write returns 0 bytes. So no pid reuse can redirect it, with
 * no window between a check and the copy, and an access costs one pread or
 * pwrite, as process_vm_readv/writev did. Like type1's pinned pages, a write
 * still lands in memory the process made read-only after mapping it
 * (/proc/<pid>/mem writes are forced); the DMA table has checked the access
 * the device was granted.
 */
static int proc_pin(void *ctx, pid_t pid)
{
	char path[64];
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	err = errno;
	if (err == ENOENT)
		return -ESRCH;
	vu_log(ctx, VU_LOG_WARN, "pid %d: cannot open %s: %s", (int)pid, path, strerror(err));
	return -err;
}

static int pin_copy(const struct vu_log *log, int pin, uint64_t addr, void *buf, size_t len,
                    bool write)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		/* pread/pwrite refuse offsets past INT64_MAX: never user memory. */
		if (addr + done > (uint64_t)INT64_MAX)
			return -EFAULT;
		if (write)
			n = pwrite(pin, (char *)buf + done, len - done, (off_t)(addr + done));
		else
			n = pread(pin, (char *)buf + done, len - done, (off_t)(addr + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return -ESRCH; /* the address space is gone */
		if (n < 0) {
			/* EIO: nothing mapped there. */
			if (errno != EIO)
				vu_log(log, VU_LOG_WARN, "cannot %s pinned memory: %s",
				       write ? "write" : "read", strerror(errno));
			return -EFAULT;
		}
		done += (size_t)n;
	}
	return 0;
}

static int proc_pin_read(void *ctx, int pin, uint64_t addr, void *buf, size_t len)
{
	return pin_copy(ctx, pin, addr, buf, len, false);
}

static int proc_pin_write(void *ctx, int pin, uint64_t addr, const void *buf, size_t len)
{
	return pin_copy(ctx, pin, addr, (void *)buf, len, true);
}

static int open_pidfd(void *ctx, pid_t pid)
{
	pid_t tgid;
	int fd, err;

	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0)
		return fd;
	err = -errno;
	/* pidfd_open takes only a thread group leader (6.1 says EINVAL for
	 * another thread, later kernels ENOENT): go through its Tgid. */
	tgid = tgid_from_status(pid);
	if (tgid < 0 || tgid == pid)
		return err;
	fd = (int)syscall(SYS_pidfd_open, tgid, 0);
	return fd >= 0 ? fd : -errno;
}

static int proc_fd_get(void *ctx, pid_t pid, int fd)
{
	int pidfd, ret;

	if (fd < 0)
		return -EBADF;
	pidfd = open_pidfd(ctx, pid);
	if (pidfd < 0) {
		vu_log(ctx, VU_LOG_WARN, "pid %d: pidfd_open: %s", (int)pid, strerror(-pidfd));
		return pidfd;
	}
	ret = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (ret < 0) {
		ret = -errno;
		if (ret != -EBADF)
			vu_log(ctx, VU_LOG_WARN, "pid %d: cannot take its fd %d: %s", (int)pid, fd,
			       strerror(-ret));
	}
	close(pidfd);
	return ret;
}

const struct host_ops host_proc_ops = {
    .mem_read = proc_mem_read,
    .mem_write = proc_mem_write,
    .fd_get = proc_fd_get,
    .mapping = proc_mapping,
    .syscall_offset = proc_syscall_offset,
    .syscall_fd = proc_syscall_fd,
    .tgid_of = proc_tgid_of,
    .pin = proc_pin,
    .pin_read = proc_pin_read,
    .pin_write = proc_pin_write,
};
