// SPDX-License-Identifier: MIT
/* Region I/O: BAR0 registers, BAR2 bulk transfers, offsets out of range,
 * and the daemon's request threads under a burst from program threads. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "vfio_node.h"

int case_bar0(struct e2e *t)
{
	uint32_t v, regs[2];
	uint64_t q;
	uint8_t b;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK_OK(reg_read(fd, EXDEV_REG_ID, &v));
	CHECK(v == EXDEV_ID_VALUE, "ID 0x%08x", v);
	CHECK_OK(reg_read(fd, EXDEV_REG_VERSION, &v));
	CHECK(v == 1, "VERSION %u", v);
	/* One 8-byte read spanning ID and VERSION. */
	CHECK_OK(region_read(fd, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_ID, regs, sizeof(regs)));
	CHECK(regs[0] == EXDEV_ID_VALUE && regs[1] == 1, "0x%08x 0x%08x", regs[0], regs[1]);

	CHECK_OK(reg_write(fd, EXDEV_REG_SCRATCH, 0xa5a55a5a));
	CHECK_OK(reg_read(fd, EXDEV_REG_SCRATCH, &v));
	CHECK(v == 0xa5a55a5a, "SCRATCH 0x%08x", v);
	b = 0x11;
	CHECK_OK(region_write(fd, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_SCRATCH + 1, &b, 1));
	CHECK_OK(reg_read(fd, EXDEV_REG_SCRATCH, &v));
	CHECK(v == 0xa5a5115a, "SCRATCH after byte write 0x%08x", v);
	CHECK_OK(reg_write64(fd, EXDEV_REG_DMA_SRC, 0x123456789abcdef0ull));
	CHECK_OK(region_read(fd, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_DMA_SRC, &q, 8));
	CHECK(q == 0x123456789abcdef0ull, "DMA_SRC 0x%016llx", (unsigned long long)q);
	/* ID is read-only. */
	CHECK_OK(reg_write(fd, EXDEV_REG_ID, 0));
	CHECK_OK(reg_read(fd, EXDEV_REG_ID, &v));
	CHECK(v == EXDEV_ID_VALUE, "ID changed to 0x%08x", v);
	close(fd);
	return 0;
}

/* preadv/pwritev and their *2 forms carry the offset differently (lo/hi). */
int case_bar0_vec(struct e2e *t)
{
	uint64_t off = REGION_OFF(VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_SCRATCH);
	uint16_t lo = 0xbeef, hi = 0xdead;
	uint8_t a, b[3];
	uint32_t v, dst[2];
	struct iovec w[2] = {{&lo, 2}, {&hi, 2}}, r[2] = {{&a, 1}, {b, 3}};
	uint64_t q = 0x0123456789abcdefull;
	struct iovec w64[2] = {{&q, 4}, {(uint8_t *)&q + 4, 4}},
	             r64[2] = {{&dst[0], 4}, {&dst[1], 4}};
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK(pwritev(fd, w, 2, off) == 4, "pwritev: %s", strerror(errno));
	CHECK_OK(reg_read(fd, EXDEV_REG_SCRATCH, &v));
	CHECK(v == 0xdeadbeef, "SCRATCH 0x%08x after pwritev", v);
	CHECK(preadv(fd, r, 2, off) == 4, "preadv: %s", strerror(errno));
	CHECK(a == 0xef && b[0] == 0xbe && b[1] == 0xad && b[2] == 0xde,
	      "preadv read %02x %02x%02x%02x", a, b[0], b[1], b[2]);

	off = REGION_OFF(VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_DMA_DST);
	CHECK(pwritev2(fd, w64, 2, off, 0) == 8, "pwritev2: %s", strerror(errno));
	CHECK(preadv2(fd, r64, 2, off, 0) == 8, "preadv2: %s", strerror(errno));
	CHECK(dst[0] == 0x89abcdef && dst[1] == 0x01234567, "DMA_DST 0x%08x%08x", dst[1], dst[0]);
	close(fd);
	return 0;
}

static const size_t sizes[] = {1,    2,     3,     4,     7,     8,    15,   16,
                               64,   255,   256,   1000,  4095,  4096, 4097, 8191,
                               8192, 12345, 32768, 40000, 65535, 65536};

/* Write then read back SIZE bytes at OFF, keeping SHADOW as BAR2 should be. */
static int bar2_round(int fd, uint8_t *shadow, uint8_t *buf, size_t off, size_t size, uint32_t seed)
{
	size_t bad;

	fill(shadow + off, size, seed);
	CHECK_OK(region_write(fd, VFIO_PCI_BAR2_REGION_INDEX, off, shadow + off, size));
	memset(buf, 0, size);
	CHECK_OK(region_read(fd, VFIO_PCI_BAR2_REGION_INDEX, off, buf, size));
	bad = first_diff(shadow + off, buf, size);
	CHECK(bad == size, "%zu bytes at 0x%zx: first difference at +%zu", size, off, bad);
	return 0;
}

/*
 * A 192 KiB pread: the kernel hands CUSE at most 128 KiB a request, and
 * vfio-pci cuts a BAR access at the BAR's end, so the program gets the 64 KiB
 * of BAR2 and a short count.
 */
static int past_the_end(int fd, const uint8_t *shadow)
{
	size_t big = 3 * EXDEV_BAR2_SIZE, bad;
	uint8_t *buf = malloc(big);
	ssize_t n;

	CHECK(buf);
	n = pread(fd, buf, big, REGION_OFF(VFIO_PCI_BAR2_REGION_INDEX, 0));
	NOTE("pread of %zu bytes at BAR2's start: %zd%s%s", big, n, n < 0 ? ", " : "",
	     n < 0 ? strerror(errno) : "");
	CHECK(n == EXDEV_BAR2_SIZE, "expected the short count %u", EXDEV_BAR2_SIZE);
	bad = first_diff(shadow, buf, EXDEV_BAR2_SIZE);
	CHECK(bad == EXDEV_BAR2_SIZE, "short read differs at 0x%zx", bad);
	free(buf);
	return 0;
}

int case_bar2_sizes(struct e2e *t)
{
	uint8_t *shadow = malloc(EXDEV_BAR2_SIZE), *buf = malloc(EXDEV_BAR2_SIZE);
	size_t offs[] = {0, 1, 4093}, bad, n = 0;
	uint32_t seed = 1;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK(shadow && buf);
	fill(shadow, EXDEV_BAR2_SIZE, 99);
	CHECK_OK(region_write(fd, VFIO_PCI_BAR2_REGION_INDEX, 0, shadow, EXDEV_BAR2_SIZE));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t j = 0; j < sizeof(offs) / sizeof(offs[0]); j++) {
			size_t off = sizes[i] == EXDEV_BAR2_SIZE ? 0 : offs[j];

			if (off + sizes[i] > EXDEV_BAR2_SIZE)
				off = EXDEV_BAR2_SIZE - sizes[i];
			CHECK(bar2_round(fd, shadow, buf, off, sizes[i], seed++) == 0);
			n++;
		}
	}
	/* Nothing landed where it should not have. */
	CHECK_OK(region_read(fd, VFIO_PCI_BAR2_REGION_INDEX, 0, buf, EXDEV_BAR2_SIZE));
	bad = first_diff(shadow, buf, EXDEV_BAR2_SIZE);
	CHECK(bad == EXDEV_BAR2_SIZE, "BAR2 differs from what was written at 0x%zx", bad);
	NOTE("%zu write/read rounds of 1..65536 bytes; whole BAR2 verified", n);
	CHECK(past_the_end(fd, shadow) == 0);
	free(shadow);
	free(buf);
	close(fd);
	return 0;
}

/* Reads and writes that must fail with ERR, as vfio-pci fails them. */
static int check_refused(int fd, unsigned int index, uint64_t off, int err)
{
	uint32_t v = 0;

	CHECK_ERRNO(pread(fd, &v, 4, REGION_OFF(index, off)), err);
	CHECK_ERRNO(pwrite(fd, &v, 4, REGION_OFF(index, off)), err);
	return 0;
}

int case_out_of_range(struct e2e *t)
{
	uint8_t buf[8];
	ssize_t n;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK(check_refused(fd, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_BAR0_SIZE, EINVAL) == 0);
	CHECK(check_refused(fd, VFIO_PCI_BAR0_REGION_INDEX, 1ull << 39, EINVAL) == 0);
	CHECK(check_refused(fd, VFIO_PCI_BAR1_REGION_INDEX, 0, EINVAL) == 0);
	CHECK(check_refused(fd, VFIO_PCI_BAR2_REGION_INDEX, EXDEV_BAR2_SIZE, EINVAL) == 0);
	CHECK(check_refused(fd, 20, 0, EINVAL) == 0);
	CHECK(check_refused(fd, 0xffff, 0, EINVAL) == 0);
	/* Config space is stricter (vfio_config_do_rw): the whole access must
	 * fit, else EFAULT. */
	CHECK(check_refused(fd, VFIO_PCI_CONFIG_REGION_INDEX, EXDEV_CFG_SIZE, EFAULT) == 0);
	CHECK(check_refused(fd, VFIO_PCI_CONFIG_REGION_INDEX, EXDEV_CFG_SIZE - 2, EFAULT) == 0);
	/* A BAR access starting inside and running past the end is cut short
	 * (vfio_pci_bar_rw); failing it whole would also be safe. */
	errno = 0;
	n = pread(fd, buf, 8, REGION_OFF(VFIO_PCI_BAR0_REGION_INDEX, EXDEV_BAR0_SIZE - 4));
	NOTE("8-byte read at 4 bytes before BAR0's end: %zd (%s)", n, strerror(errno));
	CHECK(n == 4 || (n == -1 && errno == EINVAL));
	/* The node still works after all that. */
	CHECK_OK(reg_read(fd, EXDEV_REG_ID, (uint32_t *)buf));
	close(fd);
	return 0;
}

/*
 * The owner's threads share the fd and pipeline. Each thread writes and reads
 * back its own slice of BAR2; the daemon recovers each offset from the
 * calling thread's own syscall, so a mix-up between threads is wrong data.
 */
#define THREADS       8
#define THREAD_ROUNDS 50
#define CHURN_READS   100

struct slice {
	int fd;
	int id;
	int failures;
};

static void *slice_worker(void *arg)
{
	struct slice *s = arg;
	size_t len = EXDEV_BAR2_SIZE / THREADS, off = s->id * len;
	uint8_t *want = malloc(len), *got = malloc(len);

	if (!want || !got) {
		s->failures++;
		goto out;
	}
	for (int r = 0; r < THREAD_ROUNDS; r++) {
		size_t n = 1 + (r * 997 + s->id * 131) % len;

		fill(want, n, s->id * 1000 + r + 1);
		if (region_write(s->fd, VFIO_PCI_BAR2_REGION_INDEX, off, want, n) ||
		    region_read(s->fd, VFIO_PCI_BAR2_REGION_INDEX, off, got, n) ||
		    first_diff(want, got, n) != n)
			s->failures++;
	}
out:
	free(want);
	free(got);
	return NULL;
}

int case_threads(struct e2e *t)
{
	struct slice s[THREADS];
	pthread_t th[THREADS];
	int fd = node_open(t->node), failures = 0;

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	for (int i = 0; i < THREADS; i++) {
		s[i] = (struct slice){.fd = fd, .id = i};
		CHECK(pthread_create(&th[i], NULL, slice_worker, &s[i]) == 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		failures += s[i].failures;
	}
	NOTE("%d threads x %d write+read rounds on their own BAR2 slices: %d wrong", THREADS,
	     THREAD_ROUNDS, failures);
	CHECK(failures == 0);
	close(fd);
	return 0;
}

/* The daemon serving node: the vfio-user-cuse process with a NAME=SERVER
 * argument for the node's name. */
static pid_t daemon_of(const char *node)
{
	const char *name = strrchr(node, '/') ? strrchr(node, '/') + 1 : node;
	size_t nl = strlen(name);
	struct dirent *e;
	pid_t found = -1;
	DIR *d = opendir("/proc");

	while (d && (e = readdir(d))) {
		char path[64], args[4096], *p;
		ssize_t n;
		int fd, pid = atoi(e->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, args, sizeof(args) - 1);
		close(fd);
		if (n <= 0)
			continue;
		args[n] = '\0';
		p = strrchr(args, '/');
		if (strcmp(p ? p + 1 : args, "vfio-user-cuse"))
			continue;
		for (p = args; p < args + n; p += strlen(p) + 1) {
			if (!strncmp(p, name, nl) && p[nl] == '=')
				found = pid;
		}
	}
	if (d)
		closedir(d);
	return found;
}

struct churn_watch {
	pid_t pid;
	int seen[1024], n;
	atomic_bool stop;
};

static void churn_sample(struct churn_watch *w)
{
	char path[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)w->pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		int tid = atoi(e->d_name), i;

		for (i = 0; tid > 0 && i < w->n && w->seen[i] != tid; i++)
			;
		if (tid > 0 && i == w->n && w->n < 1024)
			w->seen[w->n++] = tid;
	}
	if (d)
		closedir(d);
}

static void *churn_main(void *arg)
{
	struct churn_watch *w = arg;
	struct timespec ts = {.tv_nsec = 2000000};

	while (!atomic_load(&w->stop)) {
		churn_sample(w);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *read_worker(void *arg)
{
	struct slice *s = arg;
	uint32_t v;

	for (int i = 0; i < CHURN_READS; i++) {
		if (reg_read(s->fd, EXDEV_REG_ID, &v) || v != EXDEV_ID_VALUE)
			s->failures++;
	}
	return NULL;
}

int case_thread_churn(struct e2e *t)
{
	struct churn_watch *w = calloc(1, sizeof(*w));
	struct slice s[THREADS];
	pthread_t th[THREADS], watcher;
	int fd = node_open(t->node), failures = 0, ended = 0;
	char path[64];
	struct stat st;

	CHECK(w);
	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	w->pid = daemon_of(t->node);
	CHECK(w->pid > 0, "no vfio-user-cuse process serves %s", t->node);
	churn_sample(w);
	CHECK(pthread_create(&watcher, NULL, churn_main, w) == 0);
	/* Two bursts with a pause between: the pause is when idle threads
	 * above the idle limit would end. */
	for (int burst = 0; burst < 2; burst++) {
		for (int i = 0; i < THREADS; i++) {
			s[i] = (struct slice){.fd = fd, .id = i};
			CHECK(pthread_create(&th[i], NULL, read_worker, &s[i]) == 0);
		}
		for (int i = 0; i < THREADS; i++) {
			pthread_join(th[i], NULL);
			failures += s[i].failures;
		}
		usleep(100000);
	}
	atomic_store(&w->stop, true);
	pthread_join(watcher, NULL);
	for (int i = 0; i < w->n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)w->pid, w->seen[i]);
		ended += stat(path, &st) != 0;
	}
	NOTE("%d threads x %d BAR0 reads, twice: the daemon (pid %d) had %d threads, %d ended",
	     THREADS, CHURN_READS, (int)w->pid, w->n, ended);
	CHECK(failures == 0, "%d reads failed", failures);
	CHECK(ended == 0, "%d daemon threads ended: request threads are created and destroyed",
	      ended);
	free(w);
	close(fd);
	return 0;
}
