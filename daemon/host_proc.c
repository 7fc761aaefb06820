// SPDX-License-Identifier: MIT
#include "host_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "memhelper.h"
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
 * Thread -> process, remembered: one direct-mapped slot per tid hash, each
 * a tid and its tgid packed in one word, so readers and writers need no
 * lock. An entry is only a guess: tgid_check proves it before use.
 */
#define TGID_SLOTS 256

static _Atomic uint64_t tgid_cache[TGID_SLOTS];

static uint64_t tgid_pack(pid_t tid, pid_t tgid)
{
	return (uint64_t)(uint32_t)tid << 32 | (uint32_t)tgid;
}

/*
 * Whether thread tid is in thread group tgid right now: tgkill with signal
 * 0 sends nothing and fails (ESRCH) unless both match. For the thread of a
 * request the answer stays true until we reply: the kernel keeps a caller
 * whose request we are serving from exiting (it waits for our answer, even
 * when killed), so its tid cannot go to another thread meanwhile.
 */
static bool tgid_check(pid_t tgid, pid_t tid)
{
	return syscall(SYS_tgkill, tgid, tid, 0) == 0;
}

/*
 * Called for every request. A main thread is its own process (one tgkill);
 * another thread's process is read once from /proc/<tid>/status (which
 * walks the process's memory map: slow) and then remembered. Where tgkill
 * is not allowed (EPERM) /proc is asked every time.
 */
static pid_t proc_tgid_of(void *ctx, pid_t tid)
{
	_Atomic uint64_t *slot = &tgid_cache[(uint32_t)tid % TGID_SLOTS];
	uint64_t e = atomic_load_explicit(slot, memory_order_relaxed);
	pid_t tgid;

	if (tgid_check(tid, tid))
		return tid;
	if (errno == ESRCH && e >> 32 == (uint32_t)tid && tgid_check((pid_t)(uint32_t)e, tid))
		return (pid_t)(uint32_t)e;
	tgid = tgid_from_status(tid);
	if (tgid > 0)
		atomic_store_explicit(slot, tgid_pack(tid, tgid), memory_order_relaxed);
	return tgid;
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
	e->dev_major = major;
	e->dev_minor = minor;
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

/*
 * The maps line of the mapping of pid holding addr, parsed into *e (its
 * path points into *line). 0, -EFAULT (not mapped), -ESRCH or -errno.
 */
static int maps_lookup(pid_t pid, uint64_t addr, char **line, size_t *cap, struct hp_maps_entry *e)
{
	char path[64];
	int ret = -EFAULT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (getline(line, cap, f) > 0) {
		if (hp_parse_maps_line(*line, e) == 0 && addr >= e->start && addr < e->end) {
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static bool maps_grants(const struct hp_maps_entry *e, enum host_fd_access access)
{
	return e->shared && e->readable && (access != HOST_FD_RDWR || e->writable);
}

/*
 * Whether the mapping e, as read again after the open, is still the one
 * first read (same range, same file offset), shared with at least the
 * access asked, and of the file st.
 */
static bool maps_confirms(const struct hp_maps_entry *first, const struct hp_maps_entry *e,
                          enum host_fd_access access, const struct stat *st)
{
	return e->start == first->start && e->end == first->end && e->offset == first->offset &&
	       maps_grants(e, access) && e->inode == (uint64_t)st->st_ino &&
	       e->dev_major == major(st->st_dev) && e->dev_minor == minor(st->st_dev);
}

/*
 * Open, with exactly the access asked, the file behind the shareable
 * mapping first of pid, provided the process maps that very file there with
 * at least that access. -1 when not (the memory then goes by messages).
 *
 * The daemon opens as root, so the open itself checks nothing, and
 * map_files/<range> names whatever is mapped at that range at the moment of
 * the open, not what the maps line said: a process that swaps the range
 * (mmap MAP_FIXED) between its own file, mapped shared and writable, and a
 * file it may only read, mapped shared read-only, would get the latter
 * opened read-write and written by the server. So:
 *  1. open map_files/<range> with O_PATH: it resolves to the file mapped
 *     there now, without opening it (no open of a device, no side effect);
 *  2. fstat it: it must be a regular file; note its device and inode;
 *  3. reopen that very inode (through /proc/self/fd) with the access asked:
 *     the O_PATH fd holds it, whatever the process maps meanwhile;
 *  4. read the maps line again, after the open: it must be the same range
 *     at the same file offset, still shared with at least the access asked,
 *     and of the inode of step 2.
 * When 4 holds, the process mapped that inode there with that access at a
 * moment after the open, and the kernel lets a process map a file shared
 * only if it opened it for reading, and writable only if it opened it for
 * writing (VM_MAYWRITE): the fd reaches no file, and gives no access, that
 * the process did not have itself. What it mapped before does not matter,
 * nor what it maps after step 4 (as with type1's pins, the device keeps
 * what it was given). A swap at any point makes step 4 fail.
 *
 * A file is known by its device and inode numbers. Filesystems whose stat
 * disagrees with maps on them (btrfs subvolumes) are refused; a FUSE
 * filesystem chooses its inode numbers, so two of its files may look alike,
 * but then both are that filesystem's server's to serve.
 */
static int open_mapping_file(const struct vu_log *log, pid_t pid, const struct hp_maps_entry *first,
                             enum host_fd_access access)
{
	struct hp_maps_entry again;
	char path[96], *line = NULL;
	size_t cap = 0;
	struct stat st;
	int opath, fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid,
	         first->start, first->end);
	opath = open(path, O_PATH | O_CLOEXEC);
	if (opath < 0) {
		vu_log(log, VU_LOG_INFO, "pid %d: cannot open %s (%s): memory goes by messages",
		       (int)pid, path, strerror(errno));
		return -1;
	}
	if (fstat(opath, &st) || !S_ISREG(st.st_mode))
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", opath);
	fd = open(path, (access == HOST_FD_RDWR ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		vu_log(log, VU_LOG_INFO,
		       "pid %d: cannot reopen the file at 0x%" PRIx64 " (%s): "
		       "memory goes by messages",
		       (int)pid, first->start, strerror(errno));
		goto out;
	}
	if (maps_lookup(pid, first->start, &line, &cap, &again) ||
	    !maps_confirms(first, &again, access, &st)) {
		vu_log(log, VU_LOG_WARN,
		       "pid %d: the mapping at 0x%" PRIx64 " changed while its file was opened, "
		       "or is not the file opened: memory goes by messages",
		       (int)pid, first->start);
		close(fd);
		fd = -1;
	}
out:
	free(line);
	close(opath);
	return fd;
}

static int proc_mapping(void *ctx, pid_t pid, uint64_t addr, enum host_fd_access access,
                        struct host_mapping *m)
{
	struct hp_maps_entry e;
	char *line = NULL;
	size_t cap = 0;
	int ret = maps_lookup(pid, addr, &line, &cap, &e);

	if (ret == 0) {
		m->start = e.start;
		m->end = e.end;
		m->readable = e.readable;
		m->writable = e.writable;
		m->shared = e.shared;
		m->file_off = e.offset;
		m->fd = -1;
		if (access != HOST_FD_NONE && hp_maps_shareable(&e) && maps_grants(&e, access))
			m->fd = open_mapping_file(ctx, pid, &e, access);
	}
	free(line);
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

/*
 * Open /proc/<tid>/syscall files, kept per thread: read again at offset 0
 * such a file shows the thread's syscall anew, so a pread or pwrite of a
 * program costs one read of it rather than an open, a read and a close.
 * The fd is bound to that very thread, not to its number: once the thread
 * is gone it reads nothing (ESRCH), whatever later takes the number.
 * Direct-mapped slots, each a tid and an fd packed in one word; a slot is
 * taken out while in use, so two threads never share an fd's position.
 */
#define SYSCALL_SLOTS 64

static _Atomic uint64_t syscall_fds[SYSCALL_SLOTS];

static _Atomic uint64_t *syscall_slot(pid_t tid)
{
	return &syscall_fds[(uint32_t)tid % SYSCALL_SLOTS];
}

/* The kept fd of tid, taken out of its slot, or -1. */
static int syscall_fd_take(pid_t tid)
{
	uint64_t e = atomic_exchange(syscall_slot(tid), 0);

	if (!e)
		return -1;
	if (e >> 32 == (uint32_t)tid)
		return (int)(uint32_t)e;
	close((int)(uint32_t)e); /* another thread's: evicted */
	return -1;
}

static void syscall_fd_keep(pid_t tid, int fd)
{
	uint64_t e =
	    atomic_exchange(syscall_slot(tid), (uint64_t)(uint32_t)tid << 32 | (uint32_t)fd);

	if (e)
		close((int)(uint32_t)e);
}

static int syscall_open(pid_t tid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd >= 0 ? fd : errno == ENOENT ? -ESRCH : -errno;
}

/* /proc/<tid>/syscall into buf, NUL-terminated: 0 or -errno. A kept fd
 * that fails is of an earlier thread of that number: open anew. */
static int syscall_text(pid_t tid, char *buf, size_t len)
{
	int fd = syscall_fd_take(tid), tries = fd >= 0 ? 2 : 1;
	ssize_t n = -1;

	while (tries--) {
		if (fd < 0)
			fd = syscall_open(tid);
		if (fd < 0)
			return fd;
		do {
			n = pread(fd, buf, len - 1, 0);
		} while (n < 0 && errno == EINTR);
		if (n >= 0)
			break;
		n = -errno;
		close(fd);
		fd = -1;
	}
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	buf[n] = '\0';
	syscall_fd_keep(tid, fd);
	return 0;
}

/* Read /proc/<tid>/syscall until parse stops saying the thread runs: it
 * can briefly read "running" as the thread enters the call. */
static int read_syscall(void *ctx, pid_t tid, int (*parse)(const char *text, void *out), void *out,
                        const char *what)
{
	char buf[512];
	int round, ret;

	for (round = 0; round < SYSCALL_YIELDS + SYSCALL_SLEEPS; round++) {
		ret = syscall_text(tid, buf, sizeof(buf));
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
 * A pin names an address space, not a pid: /proc/<pid>/mem opened binds to
 * the process's address space (mm) of that moment, and the 16 bytes the
 * kernel put at AT_RANDOM when the process exec'd tell that address space
 * from any other (they are random per exec). So a pin keeps those bytes and
 * where they are, not an fd: a memory helper (memhelper.h) opens
 * /proc/<pid>/mem, checks the bytes through that very fd, and only then
 * reads or writes through it (and keeps it, its own, for what follows).
 * Another process that took the pid, or the process after an exec, has
 * other bytes there: the access gets -ESRCH, with no window between the
 * check and the copy. A program costs the daemon no fd however many
 * mappings it makes.
 *
 * Like type1's pinned pages, a write still lands in private memory the
 * process made read-only after mapping it (/proc/<pid>/mem writes are
 * forced, into the process's own copy); a forced write to a shared mapping
 * not writable is refused by the kernel, so it never reaches a file. The
 * DMA table has checked the access the device was granted.
 *
 * A process forked without an exec has the same bytes at the same place:
 * the start time (/proc/<pid>/stat) tells it apart, as no process can take
 * a pid in the clock tick the pinned one started in (pids are reused only
 * after the whole range went round; only root chooses one).
 */
#ifndef AT_RANDOM
#define AT_RANDOM 25
#endif

static pthread_mutex_t pins_lock = PTHREAD_MUTEX_INITIALIZER;
static struct memhelper_pin *pins; /* pid 0: free */
static size_t nr_pins;

/* Where AT_RANDOM is in pid's auxv. */
static int auxv_random(pid_t pid, uint64_t *addr)
{
	uint64_t v[2 * 64];
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, v, sizeof(v));
	close(fd);
	for (ssize_t i = 0; n > 0 && i + 1 < n / (ssize_t)sizeof(v[0]); i += 2) {
		if (v[i] == AT_RANDOM) {
			*addr = v[i + 1];
			return 0;
		}
	}
	return -ESRCH;
}

static int read_start(pid_t pid, uint64_t *start)
{
	char path[64], buf[512];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ret = read_proc(path, buf, sizeof(buf));
	if (ret == 0)
		ret = memhelper_parse_start(buf, strlen(buf), start);
	return ret;
}

/* The token of pid's address space, read through a /proc/<pid>/mem of its
 * own; an exec meanwhile (auxv changed) is -ESRCH. */
static int read_token(const struct vu_log *log, pid_t pid, struct memhelper_pin *p)
{
	char path[64];
	uint64_t again;
	int fd, ret;

	ret = read_start(pid, &p->start);
	if (ret < 0)
		return ret == -EINVAL ? -ESRCH : ret;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			return -ESRCH;
		vu_log(log, VU_LOG_WARN, "pid %d: cannot open %s: %s", (int)pid, path,
		       strerror(-ret));
		return ret;
	}
	ret = auxv_random(pid, &p->token_addr);
	if (ret == 0)
		ret = memhelper_rw(log, fd, p->token_addr, p->token, sizeof(p->token), false);
	if (ret == 0)
		ret = auxv_random(pid, &again);
	if (ret == 0 && again != p->token_addr)
		ret = -ESRCH;
	close(fd);
	p->pid = pid;
	return ret == -EFAULT ? -ESRCH : ret;
}

static int proc_pin(void *ctx, pid_t pid)
{
	struct memhelper_pin p;
	size_t i;
	int ret = read_token(ctx, pid, &p);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&pins_lock);
	for (i = 0; i < nr_pins && pins[i].pid; i++)
		;
	if (i == nr_pins) {
		struct memhelper_pin *v = realloc(pins, (nr_pins ? 2 * nr_pins : 64) * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&pins_lock);
			return -ENOMEM;
		}
		memset(v + nr_pins, 0, (nr_pins ? nr_pins : 64) * sizeof(*v));
		pins = v;
		nr_pins = nr_pins ? 2 * nr_pins : 64;
	}
	pins[i] = p;
	pthread_mutex_unlock(&pins_lock);
	return (int)i;
}

static void proc_unpin(void *ctx, int pin)
{
	pthread_mutex_lock(&pins_lock);
	if (pin >= 0 && (size_t)pin < nr_pins)
		pins[pin].pid = 0;
	pthread_mutex_unlock(&pins_lock);
}

/* A memory helper's answer as host.h says it. */
static int copy_result(const struct vu_log *log, int ret, bool write, const char *what)
{
	if (ret == 0 || ret == -ESRCH || ret == -EFAULT)
		return ret;
	/* EIO: nothing mapped there. */
	if (ret != -EIO)
		vu_log(log, VU_LOG_WARN, "cannot %s %s: %s", write ? "write" : "read", what,
		       strerror(-ret));
	return -EFAULT;
}

/* Through a memory helper (memhelper.h), never in this thread: the memory
 * may be a file whose reads never come back, and such a wait cannot be
 * broken, not even by SIGKILL. */
static int pin_copy(const struct vu_log *log, int pin, uint64_t addr, void *buf, size_t len,
                    bool write)
{
	struct memhelper_pin p = {0};

	pthread_mutex_lock(&pins_lock);
	if (pin >= 0 && (size_t)pin < nr_pins)
		p = pins[pin];
	pthread_mutex_unlock(&pins_lock);
	if (!p.pid)
		return -ESRCH;
	return copy_result(log, memhelper_pin_rw(log, &p, addr, buf, len, write), write,
	                   "pinned memory");
}

static int proc_pin_read(void *ctx, int pin, uint64_t addr, void *buf, size_t len)
{
	return pin_copy(ctx, pin, addr, buf, len, false);
}

static int proc_pin_write(void *ctx, int pin, uint64_t addr, const void *buf, size_t len)
{
	return pin_copy(ctx, pin, addr, (void *)buf, len, true);
}

static int file_copy(const struct vu_log *log, int fd, uint64_t off, void *buf, size_t len,
                     bool write)
{
	int ret = copy_result(log, memhelper_rw(log, fd, off, buf, len, write), write,
	                      "a file mapped for DMA");

	return ret == -ESRCH ? -EFAULT : ret; /* past its end */
}

static int proc_file_read(void *ctx, int fd, uint64_t off, void *buf, size_t len)
{
	return file_copy(ctx, fd, off, buf, len, false);
}

static int proc_file_write(void *ctx, int fd, uint64_t off, const void *buf, size_t len)
{
	return file_copy(ctx, fd, off, (void *)buf, len, true);
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

/*
 * Whether fd is an eventfd. Its /proc/self/fd link reads
 * "anon_inode:[eventfd]", a name only the kernel gives (a path is always
 * absolute, other pseudo files name their own kind).
 */
static bool is_eventfd(int fd)
{
	static const char want[] = "anon_inode:[eventfd]";
	char path[64], link[sizeof(want) + 1];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link));
	return n == (ssize_t)sizeof(want) - 1 && !memcmp(link, want, sizeof(want) - 1);
}

static int proc_fd_get(void *ctx, pid_t pid, int fd, enum host_fd_kind kind)
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
	} else if (kind == HOST_FD_EVENTFD && !is_eventfd(ret)) {
		/* Only an eventfd goes to the server, as the kernel's
		 * eventfd_ctx_fdget takes nothing else. */
		vu_log(ctx, VU_LOG_INFO, "pid %d: its fd %d is not an eventfd", (int)pid, fd);
		close(ret);
		ret = -EINVAL;
	}
	close(pidfd);
	return ret;
}

/* The file behind fd opened anew: /proc/self/fd/N is the file itself,
 * whatever path it had, and the access is the one asked. */
static int proc_reopen(void *ctx, int fd, enum host_fd_access access)
{
	char path[64];
	int n;

	if (access == HOST_FD_NONE)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = open(path, (access == HOST_FD_RDWR ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (n < 0) {
		n = -errno;
		vu_log(ctx, VU_LOG_WARN, "cannot reopen a file %s: %s",
		       access == HOST_FD_RDWR ? "read-write" : "read-only", strerror(-n));
	}
	return n;
}

static void *proc_dma_buf(void *ctx, size_t len)
{
	return memhelper_buf(ctx, len);
}

const struct host_ops host_proc_ops = {
    .mem_read = proc_mem_read,
    .mem_write = proc_mem_write,
    .fd_get = proc_fd_get,
    .reopen = proc_reopen,
    .mapping = proc_mapping,
    .syscall_offset = proc_syscall_offset,
    .syscall_fd = proc_syscall_fd,
    .tgid_of = proc_tgid_of,
    .pin = proc_pin,
    .unpin = proc_unpin,
    .pin_read = proc_pin_read,
    .pin_write = proc_pin_write,
    .file_read = proc_file_read,
    .file_write = proc_file_write,
    .dma_buf = proc_dma_buf,
};
