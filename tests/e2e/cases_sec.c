// SPDX-License-Identifier: MIT
/*
 * Security: a user allowed to open a node attacks through it. The daemon
 * runs as root and acts inside the programs that call it; whatever such a
 * program does, it must reach no more than the kernel's VFIO would let it
 * (docs/security.md). Each case runs the attacker as an unprivileged user
 * (the fixture's nodes are 0666) and checks, as root, what it reached.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "hungfs.h"
#include "vfio_node.h"

#define PAGE       4096u
#define IOVA       0x100000000ull
#define USER_A     65534
#define USER_B     65533
#define CHILD_MS   180000
#define RACE_MS    30000
#define RACE_ROUND 3000

/* Become an unprivileged user, for good. */
static int drop_to(uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return -errno;
	return 0;
}

/* Run FN as user UID in a child; its exit code, or -1 if it did not end. */
static int as_user(struct e2e *t, uid_t uid, int (*fn)(struct e2e *t, void *arg), void *arg)
{
	pid_t pid = procs_fork(&t->procs);

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (drop_to(uid)) {
			printf("FAIL: cannot become uid %u\n", (unsigned)uid);
			_exit(1);
		}
		_exit(fn(t, arg) ? 1 : 0);
	}
	return procs_exit_code(&t->procs, pid, CHILD_MS);
}

/* A page-sized root-owned file others may only read, full of C. */
static int make_root_file(struct e2e *t, const char *name, char c, char *path, size_t len)
{
	char buf[PAGE];
	int fd;

	snprintf(path, len, "%s/%s", t->procs.dir, name);
	CHECK(chmod(t->procs.dir, 0755) == 0);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0, "create %s: %s", path, strerror(errno));
	memset(buf, c, sizeof(buf));
	CHECK(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	close(fd);
	return 0;
}

/* Bytes of PATH that are not C. */
static size_t count_not(const char *path, char c)
{
	char buf[PAGE];
	size_t bad = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		bad = sizeof(buf);
	else
		for (size_t i = 0; i < sizeof(buf); i++)
			bad += buf[i] != c;
	if (fd >= 0)
		close(fd);
	return bad;
}

/* Wait up to MS for one int on FD. */
static int read_step(int fd, int ms, int *step)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, ms) != 1)
		return -ETIMEDOUT;
	return read(fd, step, sizeof(*step)) == sizeof(*step) ? 0 : -EIO;
}

/*
 * Item 1: the map_files race. One page swaps (MAP_FIXED) between the user's
 * own memfd, shared and writable, and the root-owned file mapped shared
 * read-only, while the user maps it for DMA READ|WRITE and has the device
 * write it. The root-owned file must never change.
 */
struct race {
	const char *victim;
	char *page;
	int own, root_fd;
	atomic_bool stop;
	unsigned long swaps;
};

static void *swapper(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		if (mmap(r->page, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, r->own,
		         0) == MAP_FAILED ||
		    mmap(r->page, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, r->root_fd, 0) ==
		        MAP_FAILED)
			break;
		r->swaps++;
	}
	return NULL;
}

static int race_attacker(struct e2e *t, void *arg)
{
	struct race *r = arg;
	uint8_t bar2[PAGE];
	unsigned int rounds, mapped = 0, landed = 0;
	long long until = procs_now_ms() + RACE_MS;
	uint32_t status;
	pthread_t th;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(pci_enable(fd));
	r->own = memfd_create("attacker", MFD_CLOEXEC);
	CHECK(r->own >= 0 && ftruncate(r->own, PAGE) == 0);
	r->root_fd = open(r->victim, O_RDONLY | O_CLOEXEC);
	CHECK(r->root_fd >= 0, "open %s: %s", r->victim, strerror(errno));
	CHECK(open(r->victim, O_RDWR | O_CLOEXEC) < 0, "the user may write the file itself");
	r->page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, r->own, 0);
	CHECK(r->page != MAP_FAILED);
	memset(bar2, 'X', sizeof(bar2));
	CHECK_OK(region_write(fd, VFIO_PCI_BAR2_REGION_INDEX, 0, bar2, sizeof(bar2)));
	CHECK(pthread_create(&th, NULL, swapper, r) == 0);
	for (rounds = 0; rounds < RACE_ROUND && procs_now_ms() < until;) {
		rounds++;
		if (dma_map(fd, r->page, IOVA, PAGE))
			continue;
		mapped++;
		if (dma_run(fd, 0, IOVA, PAGE, EXDEV_DMA_CMD_SRC_BAR2, &status) == 0 &&
		    (status & EXDEV_STATUS_DMA_DONE))
			landed++;
		CHECK_OK(dma_unmap(fd, IOVA, PAGE, NULL));
		if (count_not(r->victim, 'R'))
			break;
	}
	atomic_store(&r->stop, true);
	pthread_join(th, NULL);
	NOTE("%u MAP_DMA rounds, %lu swaps: %u mapped, %u device writes landed", rounds, r->swaps,
	     mapped, landed);
	close(fd);
	return 0;
}

int case_sec_map_race(struct e2e *t)
{
	struct race r = {0};
	char victim[PATH_MAX];
	size_t bad;

	CHECK(make_root_file(t, "victim", 'R', victim, sizeof(victim)) == 0);
	r.victim = victim;
	CHECK(as_user(t, USER_A, race_attacker, &r) == 0, "the attacker failed");
	bad = count_not(victim, 'R');
	CHECK(bad == 0, "the device wrote %zu bytes of a root-owned file the user may only read",
	      bad);
	return 0;
}

/*
 * Item 2: ownership must not be a pid. User A opens, maps a secret for DMA,
 * forks a child that keeps the fd, and exits; user B, in a new process that
 * got A's pid, must get EBUSY and never reach A's memory.
 */
struct reuse {
	int report;     /* A tells its pid and its holder's */
	int hold, done; /* the holder exits when done, the other end, closes */
};

#define SECRET "the first user's DMA memory"

static int first_user(struct e2e *t, void *arg)
{
	struct reuse *r = arg;
	uint8_t *buf = buf_memfd(PAGE);
	pid_t ids[2] = {getpid(), 0};
	int fd = node_open(t->node);
	char c;

	CHECK(fd >= 0, "A: open: %s", strerror(-fd));
	CHECK(buf);
	strcpy((char *)buf, SECRET);
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(pci_enable(fd));
	CHECK_OK(dma_map(fd, buf, IOVA, PAGE));
	ids[1] = fork();
	CHECK(ids[1] >= 0);
	if (ids[1] == 0) {
		/* The holder: keeps the open file until told. */
		close(r->done);
		if (read(r->hold, &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	CHECK(write(r->report, ids, sizeof(ids)) == sizeof(ids));
	return 0;
}

/* Run in the process that took A's pid, as user B. */
static void second_user(const char *node, int report)
{
	uint8_t bar2[PAGE] = {0};
	uint32_t status;
	int fd, ret = 0;

	if (drop_to(USER_B))
		_exit(3);
	fd = node_open(node);
	if (fd >= 0) {
		ret = 1;
		/* In: read A's memory through the device. */
		if (pci_enable(fd) == 0 &&
		    dma_run(fd, IOVA, 0, PAGE, EXDEV_DMA_CMD_DST_BAR2, &status) == 0 &&
		    region_read(fd, VFIO_PCI_BAR2_REGION_INDEX, 0, bar2, sizeof(bar2)) == 0 &&
		    !memcmp(bar2, SECRET, sizeof(SECRET)))
			ret = 2;
	} else {
		ret = -fd;
	}
	if (write(report, &ret, sizeof(ret)) != sizeof(ret))
		_exit(3);
	_exit(0);
}

int case_sec_pid_reuse(struct e2e *t)
{
	struct clone_args args = {.exit_signal = SIGCHLD};
	int report[2], hold[2], status, got = -1;
	struct reuse r;
	pid_t ids[2], b;

	/* A's child, the holder, is reparented to us when A exits. */
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	CHECK(pipe2(report, O_CLOEXEC) == 0 && pipe2(hold, O_CLOEXEC) == 0);
	r.report = report[1];
	r.hold = hold[0];
	r.done = hold[1];
	CHECK(as_user(t, USER_A, first_user, &r) == 0, "the first user failed");
	CHECK(read(report[0], ids, sizeof(ids)) == sizeof(ids));
	t->procs.pid[t->procs.n++] = ids[1];
	close(hold[0]);
	/* A is gone and reaped; its pid is free. Take it (root may choose). */
	args.set_tid = (uintptr_t)&ids[0];
	args.set_tid_size = 1;
	fflush(NULL);
	b = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (b == 0)
		second_user(t->node, report[1]);
	CHECK(b > 0, "clone3 with A's pid %d: %s", (int)ids[0], strerror(errno));
	CHECK(b == ids[0]);
	t->procs.pid[t->procs.n++] = b;
	CHECK_OK(procs_stop(&t->procs, b, 0, CHILD_MS, &status));
	CHECK(read(report[0], &got, sizeof(got)) == sizeof(got));
	NOTE("user B in pid %d (user A's, whose child holds the node): %s", (int)b,
	     got == 2   ? "opened it and read A's memory"
	     : got == 1 ? "opened it"
	                : strerror(got));
	CHECK(got == EBUSY, "user B was let in with A's pid");
	close(hold[1]);
	CHECK_OK(procs_stop(&t->procs, ids[1], 0, CHILD_MS, &status));
	close(report[0]);
	close(report[1]);
	return 0;
}

/*
 * Item 7: SET_IRQS with an fd that is not an eventfd (a pipe, a regular
 * file, a socket, a memfd, the node itself) is EINVAL before anything
 * happens: a vector assigned before keeps its eventfd.
 */
static int not_eventfd_user(struct e2e *t, void *arg)
{
	int32_t e0 = efd_new(), e1 = efd_new(), two[2], others[5];
	int fd = node_open(t->node), pipefd[2], sv[2];
	char path[] = "/tmp/vuc-sec-notefd-XXXXXX";
	uint64_t n;

	CHECK(fd >= 0, "open: %s", strerror(-fd));
	CHECK_OK(pci_enable(fd));
	CHECK(e0 >= 0 && e1 >= 0);
	CHECK(pipe2(pipefd, O_CLOEXEC) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	others[0] = pipefd[0];
	others[1] = mkstemp(path);
	others[2] = sv[0];
	others[3] = memfd_create("not an eventfd", MFD_CLOEXEC);
	others[4] = fd;
	CHECK(others[1] >= 0 && others[3] >= 0);
	unlink(path);
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &e0));
	for (int i = 0; i < 5; i++) {
		CHECK_ERR(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &others[i]), EINVAL);
		two[0] = e1;
		two[1] = others[i];
		CHECK_ERR(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, two), EINVAL);
		CHECK_ERR(irq_eventfds(fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &others[i]), EINVAL);
	}
	CHECK_OK(reg_write(fd, EXDEV_REG_IRQ_VECTOR, 0));
	CHECK_OK(reg_write(fd, EXDEV_REG_IRQ_RAISE, 1));
	CHECK_OK(efd_wait(e0, WAIT_MS, &n));
	CHECK_OK(efd_peek(e1, &n));
	CHECK(n == 0, "a refused SET_IRQS assigned its eventfd");
	close(fd);
	return 0;
}

int case_sec_not_eventfd(struct e2e *t)
{
	CHECK(as_user(t, USER_A, not_eventfd_user, NULL) == 0, "the user's checks failed");
	return 0;
}

/*
 * Item 9: RLIMIT_MEMLOCK. type1 charges pinned pages to it; the daemon pins
 * and locks nothing (memory stays pageable), so nothing is charged: a user
 * with a 64 KiB limit maps 8 MiB for DMA, and the pages it maps stay
 * unpinned and unlocked (VmPin, VmLck 0).
 */
#define MEMLOCK_LIMIT (64u << 10)
#define MEMLOCK_MAP   (8u << 20)

static long status_kb(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, strlen(field)))
			v = strtol(line + strlen(field), NULL, 10);
	}
	if (f)
		fclose(f);
	return v;
}

static int memlock_user(struct e2e *t, void *arg)
{
	struct rlimit rl = {MEMLOCK_LIMIT, MEMLOCK_LIMIT};
	uint8_t *anon = buf_anon(MEMLOCK_MAP), *shm = buf_memfd(MEMLOCK_MAP);
	uint32_t status;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open: %s", strerror(-fd));
	CHECK(anon && shm);
	CHECK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
	memset(anon, 1, MEMLOCK_MAP);
	memset(shm, 2, MEMLOCK_MAP);
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(pci_enable(fd));
	CHECK_OK(dma_map(fd, anon, IOVA, MEMLOCK_MAP));
	CHECK_OK(dma_map(fd, shm, 2 * IOVA, MEMLOCK_MAP));
	CHECK_OK(dma_run(fd, IOVA, 2 * IOVA, PAGE, 0, &status));
	CHECK(status & EXDEV_STATUS_DMA_DONE, "STATUS 0x%x", status);
	NOTE("16 MiB mapped for DMA under a %u KiB RLIMIT_MEMLOCK: VmPin %ld kB, VmLck %ld kB",
	     MEMLOCK_LIMIT >> 10, status_kb("VmPin:"), status_kb("VmLck:"));
	CHECK(status_kb("VmPin:") == 0 && status_kb("VmLck:") == 0, "pages were pinned");
	close(fd);
	return 0;
}

int case_sec_memlock(struct e2e *t)
{
	CHECK(as_user(t, USER_A, memlock_user, NULL) == 0, "the user's checks failed");
	return 0;
}

/*
 * Item 6: no node can starve another. A daemon of its own, with an fd
 * limit of FLOOD_NOFILE, serves two nodes. User A makes FLOOD_MAPS
 * single-page DMA mappings on one, of anonymous memory and of a memfd in
 * turn: more than the daemon's fd limit. Its pins hold no fd and the files
 * it holds stop at half the limit (the rest goes by message): user B, on
 * the other node, must still map DMA and set eventfds.
 */
#define FLOOD_NOFILE 512
#define FLOOD_MAPS   700

struct flood {
	int report, hold;
};

/* Anonymous memory and memory with a file, in turn. */
static int flood_user(struct e2e *t, void *arg)
{
	struct flood *f = arg;
	uint8_t *p = buf_anon(PAGE), *q = buf_memfd(PAGE);
	int fd = node_open(t->node), ret = 0, n;
	long long t0 = procs_now_ms();
	char c;

	CHECK(fd >= 0, "open: %s", strerror(-fd));
	CHECK(p && q);
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(pci_enable(fd));
	for (n = 0; n < FLOOD_MAPS; n++) {
		ret = dma_map(fd, n % 2 ? q : p, IOVA + (uint64_t)n * PAGE, PAGE);
		if (ret)
			break;
	}
	NOTE("user A: %d single-page DMA mappings in %lld ms, then %s", n, procs_now_ms() - t0,
	     ret ? strerror(-ret) : "stopped");
	CHECK(write(f->report, &n, sizeof(n)) == sizeof(n));
	/* Keep them while B works. */
	CHECK(read(f->hold, &c, 1) >= 0);
	close(fd);
	return 0;
}

static int starved_user(struct e2e *t, void *arg)
{
	uint8_t *p = buf_memfd(PAGE), *q = buf_anon(PAGE);
	int32_t efd = efd_new();
	int fd = node_open(t->arg);
	uint32_t status;

	CHECK(fd >= 0, "user B: open %s: %s", t->arg, strerror(-fd));
	CHECK(p && q && efd >= 0);
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(pci_enable(fd));
	CHECK_OK(dma_map(fd, p, IOVA, PAGE));
	CHECK_OK(dma_map(fd, q, 2 * IOVA, PAGE));
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &efd));
	CHECK_OK(dma_run(fd, IOVA, 2 * IOVA, PAGE, 0, &status));
	CHECK(status & EXDEV_STATUS_DMA_DONE, "user B's DMA: STATUS 0x%x", status);
	close(fd);
	return 0;
}

/* Open fds of process pid, or -1. */
static int daemon_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	int n = -2; /* . and .. */

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Start server NAME and add NAME=socket to argv at *argc. */
static int add_server(struct e2e *t, const char *name, char **argv, int *argc, char *arg,
                      size_t len)
{
	char sock[PATH_MAX];
	pid_t server = procs_server(&t->procs, name, NULL, sock);

	CHECK(server > 0, "start server %s: %s", name, strerror(-server));
	snprintf(arg, len, "%s=%s", name, sock);
	argv[(*argc)++] = arg;
	return 0;
}

int case_sec_fd_exhaust(struct e2e *t)
{
	char a1[PATH_MAX + 16], a2[PATH_MAX + 16], node_a[] = "/dev/vfio-user/e2e-fda",
	                                           node_b[] = "/dev/vfio-user/e2e-fdb";
	char *argv[8] = {"vfio-user-cuse", "--mode=0666", "--iommufd=iommu-e2e-fd"};
	struct rlimit low = {FLOOD_NOFILE, FLOOD_NOFILE}, old;
	int report[2], hold[2], n = 0, status, argc = 3;
	struct flood f;
	pid_t daemon, a;

	CHECK(add_server(t, "e2e-fda", argv, &argc, a1, sizeof(a1)) == 0);
	CHECK(add_server(t, "e2e-fdb", argv, &argc, a2, sizeof(a2)) == 0);
	/* The daemon inherits the limit and cannot raise it past the hard one. */
	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0 && setrlimit(RLIMIT_NOFILE, &low) == 0);
	daemon = procs_start(&t->procs, argv);
	CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	CHECK(daemon > 0, "start vfio-user-cuse: %s", strerror(-daemon));
	CHECK_OK(procs_wait_path(node_a, S_IFCHR | 0666, 60000, daemon));
	CHECK_OK(procs_wait_path(node_b, S_IFCHR | 0666, 60000, daemon));
	t->node = node_a;
	t->arg = node_b;

	CHECK(pipe2(report, O_CLOEXEC) == 0 && pipe2(hold, O_CLOEXEC) == 0);
	f.report = report[1];
	f.hold = hold[0];
	a = procs_fork(&t->procs);
	CHECK(a >= 0);
	if (a == 0) {
		close(hold[1]);
		_exit(drop_to(USER_A) || flood_user(t, &f) ? 1 : 0);
	}
	close(hold[0]);
	close(report[1]);
	CHECK(read_step(report[0], CHILD_MS, &n) == 0, "user A did not report");
	NOTE("the daemon, limited to %d fds, holds %d", FLOOD_NOFILE, daemon_fds(daemon));
	CHECK(as_user(t, USER_B, starved_user, NULL) == 0,
	      "user B could not use another node while user A holds %d mappings", n);
	close(hold[1]);
	CHECK_OK(procs_stop(&t->procs, a, 0, CHILD_MS, &status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "user A failed");
	CHECK_OK(procs_stop(&t->procs, daemon, SIGTERM, 15000, &status));
	return 0;
}

/*
 * Item 8: memory unmapped and replaced after MAP_DMA. The kernel keeps the
 * old pages pinned, so the device writes them and the new memory is left
 * alone. Memory shared by fd behaves so here too (the server holds the
 * file); memory served by message is reached where the program maps it
 * at each access (docs/security.md), which the case notes.
 */
static int remap_one(int fd, uint8_t *p, uint64_t iova, bool shared, size_t *hit)
{
	uint32_t status;
	int mfd = -1;

	memset(p, 'O', PAGE);
	CHECK_OK(dma_map(fd, p, iova, PAGE));
	CHECK(munmap(p, PAGE) == 0);
	if (shared) {
		mfd = memfd_create("fresh", MFD_CLOEXEC);
		CHECK(mfd >= 0 && ftruncate(mfd, PAGE) == 0);
	}
	CHECK(mmap(p, PAGE, PROT_READ | PROT_WRITE,
	           MAP_FIXED | (shared ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS), mfd, 0) == p);
	if (mfd >= 0)
		close(mfd);
	memset(p, 'N', PAGE);
	CHECK_OK(dma_run(fd, 0, iova, PAGE, EXDEV_DMA_CMD_SRC_BAR2, &status));
	*hit = 0;
	for (size_t i = 0; i < PAGE; i++)
		*hit += p[i] != 'N';
	NOTE("%s memory replaced after MAP_DMA: device write %s, %zu bytes of the new memory "
	     "changed",
	     shared ? "shared (memfd)" : "anonymous",
	     status & EXDEV_STATUS_DMA_DONE ? "done" : "faulted", *hit);
	return 0;
}

static int remap_user(struct e2e *t, void *arg)
{
	uint8_t bar2[PAGE], *shm = buf_memfd(PAGE), *anon = buf_anon(PAGE);
	int fd = node_open(t->node);
	size_t hit_shm, hit_anon;

	CHECK(fd >= 0, "open: %s", strerror(-fd));
	CHECK(shm && anon);
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(pci_enable(fd));
	memset(bar2, 'W', sizeof(bar2));
	CHECK_OK(region_write(fd, VFIO_PCI_BAR2_REGION_INDEX, 0, bar2, sizeof(bar2)));
	CHECK(remap_one(fd, shm, IOVA, true, &hit_shm) == 0);
	CHECK(hit_shm == 0, "the device wrote memory mapped after MAP_DMA");
	CHECK(remap_one(fd, anon, 2 * IOVA, false, &hit_anon) == 0);
	close(fd);
	return 0;
}

int case_sec_dma_remap(struct e2e *t)
{
	CHECK(as_user(t, USER_A, remap_user, NULL) == 0, "the user's checks failed");
	return 0;
}

/*
 * Item 3: memory whose reads never come back. The user serves a FUSE
 * filesystem of its own whose READs are taken and never answered, maps one of its files privately
 * where it mapped anonymous memory for DMA, and has the device read it. Whatever the daemon's
 * access does, the user's close must end, another user must get the node and use it, and SIGTERM
 * must stop the daemon, all while the attacker is still alive.
 */
struct hung {
	struct hungfs fs;
	int report;
};

enum { HUNG_TRIGGERED = 1, HUNG_CLOSED = 2 };

static int hung_user(struct e2e *t, void *arg)
{
	struct hung *h = arg;
	char path[PATH_MAX + 2];
	uint8_t *direct, *swapped;
	int fd = node_open(t->node), file, step, ret, direct_ret;
	uint32_t status = 0;
	long long t0;

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(pci_enable(fd));
	CHECK_OK(hungfs_serve(&h->fs));
	snprintf(path, sizeof(path), "%s/" HUNGFS_FILE, h->fs.dir);
	file = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(file >= 0, "open %s: %s", path, strerror(errno));
	/* Mapped so before MAP_DMA, and swapped in after it. */
	direct = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, file, 0);
	swapped = buf_anon(PAGE);
	CHECK(direct != MAP_FAILED && swapped);
	direct_ret = dma_map(fd, direct, IOVA, PAGE);
	CHECK_OK(dma_map(fd, swapped, 2 * IOVA, PAGE));
	CHECK(mmap(swapped, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, file, PAGE) ==
	      swapped);
	/* The mappings hold the file. Closed now, while it is served: a close
	 * at exit, after the server thread died, would wait for good. */
	close(file);
	/*
	 * While the daemon's helper waits on this process's memory, it holds
	 * the lock of its address space: an mmap or munmap here (a sanitizer's
	 * allocator makes them) would wait with it. So this process only
	 * serves the filesystem from now on; a child, which shares the node's
	 * open file, drives the device and closes it.
	 */
	fflush(NULL);
	if (fork() != 0) {
		close(fd);
		for (;;)
			pause();
	}
	t0 = procs_now_ms();
	ret = dma_run(fd, 2 * IOVA, 0, PAGE, EXDEV_DMA_CMD_DST_BAR2, &status);
	NOTE("MAP_DMA of the hung file: %s; device read of it swapped in after MAP_DMA: %s, "
	     "STATUS 0x%x after %lld ms; %u READs never answered",
	     direct_ret ? strerror(-direct_ret) : "success", ret ? strerror(-ret) : "done", status,
	     procs_now_ms() - t0, atomic_load(&h->fs.reads));
	step = HUNG_TRIGGERED;
	CHECK(write(h->report, &step, sizeof(step)) == sizeof(step));
	close(fd);
	step = HUNG_CLOSED;
	CHECK(write(h->report, &step, sizeof(step)) == sizeof(step));
	return 0;
}

static int next_user(struct e2e *t, void *arg)
{
	uint8_t *src = buf_anon(PAGE), *dst = buf_anon(PAGE);
	long long until = procs_now_ms() + 10000;
	uint32_t v, status;
	int fd;

	/* EIO while the daemon reconnects, had the server left. */
	while ((fd = node_open(t->node)) == -EIO && procs_now_ms() < until)
		usleep(100000);
	CHECK(fd >= 0, "open after the attacker closed: %s", strerror(-fd));
	CHECK(src && dst);
	CHECK_OK(reg_read(fd, EXDEV_REG_ID, &v));
	CHECK(v == EXDEV_ID_VALUE, "ID 0x%08x", v);
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(pci_enable(fd));
	CHECK_OK(dma_map(fd, src, IOVA, PAGE));
	CHECK_OK(dma_map(fd, dst, 2 * IOVA, PAGE));
	memset(src, 's', PAGE);
	CHECK_OK(dma_run(fd, IOVA, 2 * IOVA, PAGE, 0, &status));
	CHECK(status & EXDEV_STATUS_DMA_DONE, "DMA by message after the attack: STATUS 0x%x",
	      status);
	CHECK(dst[0] == 's' && dst[PAGE - 1] == 's');
	close(fd);
	return 0;
}

static int dma_hang(struct e2e *t, struct hung *h);

int case_sec_dma_hang(struct e2e *t)
{
	/* Shared, for the count of READs the attacker's filesystem took. */
	struct hung *h =
	    mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ret;

	CHECK(h != MAP_FAILED);
	h->fs.dev = -1;
	ret = dma_hang(t, h);
	/* Ours is only the mount: dma_hang closed our fd of it once the
	 * attacker had its own, and the attacker serves it. */
	if (h->fs.dir[0])
		umount2(h->fs.dir, MNT_DETACH);
	munmap(h, sizeof(*h));
	return ret;
}

static int dma_hang(struct e2e *t, struct hung *h)
{
	/* DMA is answered within half the timeout (3 s), before the server's
	 * own 5 s for it. */
	static const char *const dopts[] = {"--mode=0666", "--timeout=6000",
	                                    "--iommufd=iommu-e2e-hang", NULL};
	char sock[PATH_MAX], node[PATH_MAX], dir[PATH_MAX], *argv[8], arg[PATH_MAX + 16];
	int report[2], step = 0, status, argc = 0, ret;
	pid_t server, daemon, attacker;
	long long t0;

	server = procs_server(&t->procs, "e2e-hang", NULL, sock);
	CHECK(server > 0, "start server: %s", strerror(-server));
	argv[argc++] = "vfio-user-cuse";
	for (const char *const *o = dopts; *o; o++)
		argv[argc++] = (char *)*o;
	snprintf(arg, sizeof(arg), "e2e-hang=%s", sock);
	argv[argc++] = arg;
	argv[argc] = NULL;
	daemon = procs_start(&t->procs, argv);
	CHECK(daemon > 0, "start vfio-user-cuse: %s", strerror(-daemon));
	snprintf(node, sizeof(node), "/dev/vfio-user/e2e-hang");
	CHECK_OK(procs_wait_path(node, S_IFCHR | 0666, 60000, daemon));
	t->node = node;

	CHECK(chmod(t->procs.dir, 0755) == 0);
	snprintf(dir, sizeof(dir), "%s/hung", t->procs.dir);
	CHECK(mkdir(dir, 0777) == 0 && chmod(dir, 0777) == 0);
	ret = hungfs_mount(&h->fs, dir, USER_A, USER_A);
	CHECK(ret == 0, "mount a FUSE filesystem: %s", strerror(-ret));
	CHECK(pipe2(report, O_CLOEXEC) == 0);
	h->report = report[1];
	attacker = procs_fork(&t->procs);
	CHECK(attacker >= 0);
	if (attacker == 0)
		_exit(drop_to(USER_A) || hung_user(t, h) ? 1 : 0);
	/* Only the attacker serves the filesystem: its death ends it. (Its
	 * fd has the same number: h is shared, it stays in h->fs.dev.) */
	close(h->fs.dev);
	close(report[1]);
	CHECK_OK(read_step(report[0], 120000, &step));
	CHECK(step == HUNG_TRIGGERED, "the attacker failed before its DMA");
	t0 = procs_now_ms();
	CHECK(read_step(report[0], 30000, &step) == 0 && step == HUNG_CLOSED,
	      "the attacker's close did not return in 30 s");
	NOTE("the attacker's close returned after %lld ms", procs_now_ms() - t0);
	CHECK(as_user(t, USER_B, next_user, NULL) == 0, "the node is unusable after the attack");
	t0 = procs_now_ms();
	CHECK_OK(procs_stop(&t->procs, daemon, SIGTERM, 15000, &status));
	NOTE("SIGTERM with the attacker's filesystem still hung: the daemon exited after %lld ms",
	     procs_now_ms() - t0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "daemon wait status 0x%x", status);
	CHECK_OK(procs_wait_gone(node, 5000));
	CHECK_OK(procs_stop(&t->procs, attacker, SIGKILL, 15000, &status));
	return 0;
}

/*
 * A server that stops reading and answering (SIGSTOP): the program's calls
 * end with ETIMEDOUT; its close, with many mappings to take back, ends
 * within a few timeouts, not one per mapping (an unanswered DMA_UNMAP drops
 * the connection: the server forgets every mapping); another node of the
 * daemon works meanwhile; once the server runs again the node comes back.
 */
#define STOPPED_MAPS 32

int case_sec_server_stopped(struct e2e *t)
{
	char a1[PATH_MAX + 16], a2[PATH_MAX + 16], node_a[] = "/dev/vfio-user/e2e-stopa",
	                                           node_b[] = "/dev/vfio-user/e2e-stopb";
	char *argv[8] = {"vfio-user-cuse", "--timeout=1000", "--iommufd=iommu-e2e-stop"};
	int argc = 3, fd, fd_b, status;
	uint8_t *p = buf_anon(PAGE);
	long long t0, ms;
	pid_t daemon, server;
	uint32_t v;

	CHECK(p);
	CHECK(add_server(t, "e2e-stopa", argv, &argc, a1, sizeof(a1)) == 0);
	server = t->procs.pid[t->procs.n - 1];
	CHECK(add_server(t, "e2e-stopb", argv, &argc, a2, sizeof(a2)) == 0);
	daemon = procs_start(&t->procs, argv);
	CHECK(daemon > 0, "start vfio-user-cuse: %s", strerror(-daemon));
	CHECK_OK(procs_wait_path(node_a, S_IFCHR, 60000, daemon));
	CHECK_OK(procs_wait_path(node_b, S_IFCHR, 60000, daemon));
	fd = node_open(node_a);
	fd_b = node_open(node_b);
	CHECK(fd >= 0 && fd_b >= 0, "open: %s", strerror(-(fd < 0 ? fd : fd_b)));
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(pci_enable(fd));
	for (int i = 0; i < STOPPED_MAPS; i++)
		CHECK_OK(dma_map(fd, p, IOVA + (uint64_t)i * PAGE, PAGE));
	CHECK(kill(server, SIGSTOP) == 0);
	CHECK_ERR(reg_read(fd, EXDEV_REG_ID, &v), ETIMEDOUT);
	CHECK_OK(reg_read(fd_b, EXDEV_REG_ID, &v));
	t0 = procs_now_ms();
	close(fd);
	ms = procs_now_ms() - t0;
	NOTE("close with %d mappings on a stopped server (timeout 1000 ms): %lld ms", STOPPED_MAPS,
	     ms);
	CHECK(ms < 5000, "the close waited a timeout per mapping");
	CHECK_OK(reg_read(fd_b, EXDEV_REG_ID, &v));
	CHECK(kill(server, SIGCONT) == 0);
	t0 = procs_now_ms();
	while ((fd = node_open(node_a)) == -EIO && procs_now_ms() - t0 < 20000)
		usleep(100000);
	CHECK(fd >= 0, "open once the server runs again: %s", strerror(-fd));
	CHECK_OK(reg_read(fd, EXDEV_REG_ID, &v));
	CHECK(v == EXDEV_ID_VALUE, "ID 0x%08x", v);
	close(fd);
	close(fd_b);
	CHECK_OK(procs_stop(&t->procs, daemon, SIGTERM, 15000, &status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "daemon wait status 0x%x", status);
	return 0;
}
