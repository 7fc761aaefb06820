// SPDX-License-Identifier: MIT
/*
 * vuc-bench: the figures of docs/performance.md, measured in the VM by
 * tests/bench/run.sh (through bench-suite.sh). Each figure compares two
 * paths side by side in one run, against the same example server program:
 *
 *   node    a program using /dev/vfio-user/NAME (CUSE, the daemon, the core)
 *   direct  the same program speaking vfio-user itself through the
 *           protocol library (proto/client.h), on its own server instance
 *
 * Every figure is measured --runs times; the JSON (stdout, between marker
 * lines) and the table give min, median and max over the runs. It asserts
 * nothing about speed: it fails only when an operation fails.
 *
 *   vuc-bench run --node NODE --socket SOCK [--daemon PID] [--runs N] [--ops N]
 *                 [--part main|threads] [--extra FILE] [--nodes64]
 *       the figures (--part: only the single-thread ones, or only those of
 *       8 program threads); --extra adds figures measured by the caller
 *       (lines of KEY|WHAT|VALUE, one run each), --nodes64 the start-up
 *       time and RSS of a daemon serving 64 devices
 *   vuc-bench count node|direct OP N --node NODE --socket SOCK
 *       only N operations OP (bar0-read, api-version), for strace to count
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <linux/pci_regs.h>

#include "proto/client.h"
#include "tests/e2e/procs.h"
#include "tests/e2e/vfio_node.h"

#define MAX_RUNS   25
#define MAX_FIGS   48
#define DMA_SIZE   (1u << 20)
#define IOVA_SRC   0x100000000ull
#define IOVA_DST   0x200000000ull
#define NR_THREADS 8
#define NR_NODES   64

/* One way to reach the device: the node's fd or a protocol client. */
struct path {
	const char *name;
	int fd;
	struct vu_client *c;
};

struct fig {
	const char *key, *what, *unit, *goal;
	double v[MAX_RUNS];
	int n;
};

static struct fig figs[MAX_FIGS];
static int nr_figs;
static int ops = 2000;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void record(const char *key, const char *what, const char *unit, const char *goal, double v)
{
	struct fig *f = NULL;

	for (int i = 0; i < nr_figs; i++) {
		if (!strcmp(figs[i].key, key))
			f = &figs[i];
	}
	if (!f) {
		if (nr_figs == MAX_FIGS)
			return;
		f = &figs[nr_figs++];
		*f = (struct fig){.key = key, .what = what, .unit = unit, .goal = goal};
	}
	if (f->n < MAX_RUNS)
		f->v[f->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the two paths ---- */

static int p_read(struct path *p, uint32_t index, uint64_t off, void *buf, size_t len)
{
	if (p->c)
		return vu_region_read(p->c, NULL, index, off, buf, len);
	return region_read(p->fd, index, off, buf, len);
}

static int p_write(struct path *p, uint32_t index, uint64_t off, const void *buf, size_t len)
{
	if (p->c)
		return vu_region_write(p->c, NULL, index, off, buf, len);
	return region_write(p->fd, index, off, buf, len);
}

static int p_reg_write(struct path *p, uint32_t reg, uint64_t v, size_t len)
{
	return p_write(p, VFIO_PCI_BAR0_REGION_INDEX, reg, &v, len);
}

static int p_dma_run(struct path *p, uint32_t *status)
{
	int ret;

	if ((ret = p_reg_write(p, EXDEV_REG_DMA_SRC, IOVA_SRC, 8)) ||
	    (ret = p_reg_write(p, EXDEV_REG_DMA_DST, IOVA_DST, 8)) ||
	    (ret = p_reg_write(p, EXDEV_REG_DMA_LEN, DMA_SIZE, 4)) ||
	    (ret = p_reg_write(p, EXDEV_REG_DMA_CMD, EXDEV_DMA_CMD_GO, 4)))
		return ret;
	return p_read(p, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_STATUS, status, 4);
}

static int p_pci_enable(struct path *p)
{
	uint16_t cmd = 0;
	int ret = p_read(p, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2);

	if (ret)
		return ret;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	return p_write(p, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2);
}

static void quiet_log(void *arg, enum vu_log_level lvl, const char *line)
{
	if (lvl <= VU_LOG_ERR)
		fprintf(stderr, "vuc-bench: direct: %s\n", line);
}

static const struct vu_log direct_log = {.level = VU_LOG_ERR, .fn = quiet_log};

/* As the core connects: twin socket offered, the default limits. */
static int direct_open(const char *sock, struct path *p)
{
	struct vu_client_opts o = {.twin_socket = true, .log = &direct_log};

	*p = (struct path){.name = "direct", .fd = -1};
	return vu_client_connect(sock, &o, &p->c);
}

static int node_path(const char *node, struct path *p)
{
	*p = (struct path){.name = "node", .fd = node_open(node)};
	return p->fd < 0 ? p->fd : 0;
}

/* ---- operations ---- */

enum op {
	OP_API,     /* ioctl GET_API_VERSION (node) */
	OP_INFO,    /* ioctl GET_REGION_INFO of BAR0, cached (node) */
	OP_DEVINFO, /* ioctl GET_INFO, cached (node) */
	OP_CFG_R4,  /* 4-byte config space read */
	OP_BAR0_R4, /* 4-byte BAR0 read */
	OP_BAR0_W4, /* 4-byte BAR0 write */
	OP_IRQ,     /* raise MSI-X vector 0 and wait for its eventfd */
};

struct op_ctx {
	struct path *p;
	int efd;
};

static int do_op(struct op_ctx *x, enum op op)
{
	struct vfio_region_info ri = {.argsz = sizeof(ri), .index = VFIO_PCI_BAR0_REGION_INDEX};
	struct vfio_device_info di = {.argsz = sizeof(di)};
	uint32_t v = 0x5a5a5a5a;
	uint64_t n;
	int ret;

	switch (op) {
	case OP_API:
		return ioctl(x->p->fd, VFIO_GET_API_VERSION) == VFIO_API_VERSION ? 0 : -EIO;
	case OP_INFO:
		return ioctl(x->p->fd, VFIO_DEVICE_GET_REGION_INFO, &ri) < 0 ? -errno : 0;
	case OP_DEVINFO:
		return ioctl(x->p->fd, VFIO_DEVICE_GET_INFO, &di) < 0 ? -errno : 0;
	case OP_CFG_R4:
		return p_read(x->p, VFIO_PCI_CONFIG_REGION_INDEX, 0, &v, 4);
	case OP_BAR0_R4:
		ret = p_read(x->p, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_ID, &v, 4);
		return ret ? ret : v == EXDEV_ID_VALUE ? 0 : -EIO;
	case OP_BAR0_W4:
		return p_write(x->p, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_SCRATCH, &v, 4);
	case OP_IRQ:
		ret = p_reg_write(x->p, EXDEV_REG_IRQ_RAISE, 1, 4);
		return ret ? ret : efd_wait(x->efd, WAIT_MS, &n);
	}
	return -EINVAL;
}

/* p50 and p99 of n timed operations, in microseconds. */
static int latency(struct op_ctx *x, enum op op, int n, double *p50, double *p99)
{
	double *t = calloc(n, sizeof(*t));
	int ret = 0;

	if (!t)
		return -ENOMEM;
	for (int i = 0; i < n / 10 && !ret; i++)
		ret = do_op(x, op); /* warm up */
	for (int i = 0; i < n && !ret; i++) {
		double t0 = now_us();

		ret = do_op(x, op);
		t[i] = now_us() - t0;
	}
	if (!ret) {
		qsort(t, n, sizeof(*t), cmp_double);
		*p50 = t[n / 2];
		*p99 = t[(int)(n * 0.99)];
	}
	free(t);
	return ret;
}

/* ---- context switches of a process, all its threads ---- */

static long long ctxsw_of(pid_t pid)
{
	char path[64], line[256];
	long long sum = 0, v;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, atoi(e->d_name));
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %lld", &v) == 1)
				sum += v;
		}
		fclose(f);
	}
	closedir(d);
	return sum;
}

static int nr_threads_of(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The daemon's threads seen while a figure runs: a thread that ended
 * before the end of the window was created and destroyed in it (libfuse
 * worker churn). Sampled every few milliseconds. */
#define MAX_SEEN 4096

struct tid_watch {
	pid_t pid;
	int seen[MAX_SEEN], n;
	volatile bool stop;
	pthread_t t;
};

static bool tid_alive(pid_t pid, int tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, tid);
	return stat(path, &st) == 0;
}

static void tid_sample(struct tid_watch *w)
{
	char path[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)w->pid);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		int tid = atoi(e->d_name), i;

		if (tid <= 0)
			continue;
		for (i = 0; i < w->n && w->seen[i] != tid; i++)
			;
		if (i == w->n && w->n < MAX_SEEN)
			w->seen[w->n++] = tid;
	}
	closedir(d);
}

static void *tid_watch_main(void *arg)
{
	struct tid_watch *w = arg;
	struct timespec ts = {.tv_nsec = 5000000};

	while (!w->stop) {
		tid_sample(w);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int tid_watch_start(struct tid_watch *w, pid_t pid)
{
	w->pid = pid;
	w->n = 0;
	w->stop = false;
	tid_sample(w);
	return -pthread_create(&w->t, NULL, tid_watch_main, w);
}

/* How many of the threads seen have ended. */
static int tid_watch_end(struct tid_watch *w)
{
	int ended = 0;

	w->stop = true;
	pthread_join(w->t, NULL);
	for (int i = 0; i < w->n; i++)
		ended += !tid_alive(w->pid, w->seen[i]);
	return ended;
}

/* Context switches per op of the threads of self (this process) and of
 * daemon (when > 0). */
static int ctxsw_per_op(struct op_ctx *x, enum op op, bool self, pid_t daemon, int n, double *out)
{
	long long a = (self ? ctxsw_of(getpid()) : 0) + (daemon > 0 ? ctxsw_of(daemon) : 0), b;
	int ret = 0;

	for (int i = 0; i < n && !ret; i++)
		ret = do_op(x, op);
	b = (self ? ctxsw_of(getpid()) : 0) + (daemon > 0 ? ctxsw_of(daemon) : 0);
	*out = (double)(b - a) / n;
	return ret;
}

/* ---- DMA ---- */

static void *alloc_buf(bool memfd)
{
	return memfd ? buf_memfd(DMA_SIZE) : buf_anon(DMA_SIZE);
}

static int memfd_of(void *p)
{
	char path[64];
	int fd;

	/* The direct client shares the memory by fd as a program would: the
	 * fd of its own mapping. */
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)p,
	         (unsigned long)p + DMA_SIZE);
	fd = open(path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int direct_map(struct path *p, void *buf, uint64_t iova)
{
	int fd = memfd_of(buf), ret;

	if (fd < 0)
		return fd;
	ret = vu_dma_map(p->c, NULL, iova, DMA_SIZE,
	                 VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE, fd, 0);
	close(fd);
	return ret;
}

static int path_map(struct path *p, void *buf, uint64_t iova)
{
	return p->c ? direct_map(p, buf, iova) : dma_map(p->fd, buf, iova, DMA_SIZE);
}

static int path_unmap(struct path *p, uint64_t iova)
{
	return p->c ? vu_dma_unmap(p->c, NULL, iova, DMA_SIZE, 0)
	            : dma_unmap(p->fd, iova, DMA_SIZE, NULL);
}

/* MiB/s of 1 MiB memory-to-memory copies by the device. */
static int dma_rate(struct path *p, bool memfd, int n, double *mibs)
{
	uint8_t *src = alloc_buf(memfd), *dst = alloc_buf(memfd);
	uint32_t status = 0;
	double t0;
	int ret;

	if (!src || !dst)
		return -ENOMEM;
	fill(src, DMA_SIZE, 7);
	if ((ret = path_map(p, src, IOVA_SRC)) || (ret = path_map(p, dst, IOVA_DST)))
		goto out;
	ret = p_dma_run(p, &status); /* warm up */
	t0 = now_us();
	for (int i = 0; i < n && !ret; i++) {
		ret = p_dma_run(p, &status);
		if (!ret && !(status & EXDEV_STATUS_DMA_DONE))
			ret = -EIO;
	}
	*mibs = n / ((now_us() - t0) / 1e6);
	if (!ret && first_diff(src, dst, DMA_SIZE) != DMA_SIZE)
		ret = -EIO;
	path_unmap(p, IOVA_SRC);
	path_unmap(p, IOVA_DST);
out:
	munmap(src, DMA_SIZE);
	munmap(dst, DMA_SIZE);
	return ret;
}

/* ---- threads ---- */

struct worker {
	struct path *p;
	int n, ret;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct op_ctx x = {.p = w->p};

	for (int i = 0; i < w->n && !w->ret; i++)
		w->ret = do_op(&x, OP_BAR0_R4);
	return NULL;
}

/* BAR0 reads per second with nr threads sharing the path. */
static int thread_rate(struct path *p, int nr, int n, double *rate)
{
	struct worker w[NR_THREADS];
	pthread_t t[NR_THREADS];
	double t0 = now_us();
	int ret = 0;

	for (int i = 0; i < nr; i++) {
		w[i] = (struct worker){.p = p, .n = n / nr};
		if (pthread_create(&t[i], NULL, worker_main, &w[i]))
			return -EAGAIN;
	}
	for (int i = 0; i < nr; i++) {
		pthread_join(t[i], NULL);
		if (w[i].ret)
			ret = w[i].ret;
	}
	*rate = (n / nr) * nr / ((now_us() - t0) / 1e6);
	return ret;
}

/* ---- one run of every figure ---- */

#define TRY(expr)                                                                                  \
	do {                                                                                       \
		int _r = (expr);                                                                   \
		if (_r) {                                                                          \
			fprintf(stderr, "vuc-bench: %s: %s\n", #expr,                              \
			        strerror(_r < 0 ? -_r : _r));                                      \
			return _r;                                                                 \
		}                                                                                  \
	} while (0)

static int run_latencies(struct path *node, struct path *direct)
{
	struct op_ctx xn = {.p = node}, xd = {.p = direct};
	double n50, n99, d50, d99, a50, a99;

	TRY(latency(&xn, OP_API, ops, &a50, &a99));
	record("api_version_us", "GET_API_VERSION through the node, p50", "us", "", a50);
	TRY(latency(&xn, OP_INFO, ops, &n50, &n99));
	record("info_vs_api", "cached GET_REGION_INFO vs GET_API_VERSION, p50", "x", "1.0",
	       n50 / a50);
	TRY(latency(&xn, OP_DEVINFO, ops, &n50, &n99));
	record("devinfo_vs_api", "cached GET_INFO vs GET_API_VERSION, p50", "x", "1.0", n50 / a50);

	TRY(latency(&xn, OP_CFG_R4, ops, &n50, &n99));
	TRY(latency(&xd, OP_CFG_R4, ops, &d50, &d99));
	record("cfg_read4_p50", "4-byte config pread, node vs direct, p50", "x", "<= 2.0",
	       n50 / d50);
	record("cfg_read4_p99", "4-byte config pread, node vs direct, p99", "x", "<= 3.0",
	       n99 / d99);
	record("cfg_read4_node_us", "4-byte config pread through the node, p50", "us", "", n50);
	record("cfg_read4_direct_us", "4-byte config read, direct, p50", "us", "", d50);

	TRY(latency(&xn, OP_BAR0_R4, ops, &n50, &n99));
	TRY(latency(&xd, OP_BAR0_R4, ops, &d50, &d99));
	record("bar0_read4_p50", "4-byte BAR0 pread, node vs direct, p50", "x", "<= 2.0",
	       n50 / d50);
	record("bar0_read4_p99", "4-byte BAR0 pread, node vs direct, p99", "x", "<= 3.0",
	       n99 / d99);
	record("bar0_read4_node_us", "4-byte BAR0 pread through the node, p50", "us", "", n50);
	record("bar0_read4_direct_us", "4-byte BAR0 read, direct, p50", "us", "", d50);

	TRY(latency(&xn, OP_BAR0_W4, ops, &n50, &n99));
	TRY(latency(&xd, OP_BAR0_W4, ops, &d50, &d99));
	record("bar0_write4", "4-byte BAR0 pwrite, node vs direct non-posted, p50", "x", "<= 1.0",
	       n50 / d50);
	record("bar0_write4_node_us", "4-byte BAR0 pwrite through the node, p50", "us", "", n50);
	return 0;
}

static int run_dma(struct path *node, struct path *direct)
{
	double anon, memfd, dmemfd;
	int n = ops / 25 > 8 ? ops / 25 : 8;

	TRY(dma_rate(node, false, n, &anon));
	TRY(dma_rate(node, true, n, &memfd));
	TRY(dma_rate(direct, true, n, &dmemfd));
	record("dma_anon_vs_memfd", "DMA 1 MiB through the node, anonymous vs memfd", "x", ">= 0.5",
	       anon / memfd);
	record("dma_fd_node_vs_direct", "DMA 1 MiB by fd, node vs direct", "x", ">= 0.9",
	       memfd / dmemfd);
	record("dma_anon_mibs", "DMA 1 MiB anonymous (by message) through the node", "MiB/s", "",
	       anon);
	record("dma_memfd_mibs", "DMA 1 MiB memfd (by fd) through the node", "MiB/s", "", memfd);
	return 0;
}

static int run_threads(struct path *node, struct path *direct, pid_t daemon)
{
	struct tid_watch w;
	double n1, n8, d1, d8;
	int ended = 0;

	if (daemon > 0)
		TRY(tid_watch_start(&w, daemon));
	TRY(thread_rate(node, 1, ops, &n1));
	TRY(thread_rate(node, NR_THREADS, ops * 2, &n8));
	if (daemon > 0)
		ended = tid_watch_end(&w);
	TRY(thread_rate(direct, 1, ops, &d1));
	TRY(thread_rate(direct, NR_THREADS, ops * 2, &d8));
	record("threads8_node", "8 program threads vs 1, BAR0 preads, node", "x", ">= 4.0",
	       n8 / n1);
	record("threads8_direct", "8 threads vs 1, BAR0 reads, direct", "x", "", d8 / d1);
	record("threads8_node_vs_direct", "8 threads, node vs direct throughput", "x", ">= 0.5",
	       n8 / d8);
	if (daemon > 0) {
		record("daemon_threads", "daemon threads after the thread figures", "", "",
		       nr_threads_of(daemon));
		record("daemon_threads_ended", "daemon threads ended during them (worker churn)",
		       "", "0", ended);
	}
	return 0;
}

/* The node's MSI-X vector 0 on an eventfd; the device raises it on a write. */
static int irq_setup(struct path *node, int *efd)
{
	int32_t fds[EXDEV_MSIX_VECTORS] = {-1, -1, -1, -1};

	*efd = efd_new();
	if (*efd < 0)
		return *efd;
	fds[0] = *efd;
	TRY(irq_eventfds(node->fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, EXDEV_MSIX_VECTORS, fds));
	return reg_write(node->fd, EXDEV_REG_IRQ_VECTOR, 0);
}

static int run_counts(struct path *node, struct path *direct, pid_t daemon)
{
	struct op_ctx xn = {.p = node}, xd = {.p = direct};
	double n, d, w, irq;
	int n_ops = ops / 2;

	TRY(ctxsw_per_op(&xn, OP_BAR0_R4, true, daemon, n_ops, &n));
	TRY(ctxsw_per_op(&xd, OP_BAR0_R4, true, 0, n_ops, &d));
	record("ctxsw_bar0_read_node", "context switches per BAR0 pread, node (daemon + caller)",
	       "", "", n);
	record("ctxsw_bar0_read_direct", "context switches per BAR0 read, direct (whole process)",
	       "", "", d);
	TRY(ctxsw_per_op(&xn, OP_API, true, daemon, n_ops, &n));
	record("ctxsw_api_node", "context switches per GET_API_VERSION (daemon + caller)", "", "",
	       n);
	TRY(irq_setup(node, &xn.efd));
	/* The interrupt is raised by a register write through the node: the
	 * daemon's share of it is that of any write. */
	TRY(ctxsw_per_op(&xn, OP_BAR0_W4, false, daemon, n_ops, &w));
	TRY(ctxsw_per_op(&xn, OP_IRQ, false, daemon, n_ops, &irq));
	record("irq_wakeups", "daemon wakeups per interrupt, beyond its trigger write", "", "0",
	       irq - w);
	irq_none(node->fd, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0);
	close(xn.efd);
	return 0;
}

enum part { PART_ALL, PART_MAIN, PART_THREADS };

static enum part part = PART_ALL;

static int run_once(const char *nodepath, const char *sock, pid_t daemon)
{
	struct path node, direct;
	int ret;

	TRY(node_path(nodepath, &node));
	ret = direct_open(sock, &direct);
	if (ret) {
		close(node.fd);
		TRY(ret);
	}
	ret = p_pci_enable(&node);
	if (!ret)
		ret = p_pci_enable(&direct);
	if (!ret)
		ret = iommu_setup(node.fd);
	if (!ret && part != PART_THREADS)
		ret = run_latencies(&node, &direct);
	if (!ret && part != PART_THREADS)
		ret = run_dma(&node, &direct);
	if (!ret && part != PART_MAIN)
		ret = run_threads(&node, &direct, daemon);
	if (!ret && part != PART_THREADS)
		ret = run_counts(&node, &direct, daemon);
	vu_client_close(direct.c);
	close(node.fd);
	return ret;
}

/* ---- 64 devices ---- */

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

static int nodes64_once(void)
{
	static char socks[NR_NODES][PATH_MAX], names[NR_NODES][16], nodes[NR_NODES][64];
	char *argv[NR_NODES + 4];
	struct procs pr;
	double t0, up;
	pid_t daemon;
	int argc = 0, ret = 0, status;
	char iommu[32], *args[NR_NODES];

	TRY(procs_init(&pr));
	for (int i = 0; i < NR_NODES && !ret; i++) {
		snprintf(names[i], sizeof(names[i]), "b%02d", i);
		if (procs_server(&pr, names[i], NULL, socks[i]) < 0)
			ret = -EIO;
	}
	argv[argc++] = "vfio-user-cuse";
	snprintf(iommu, sizeof(iommu), "--iommufd=iommu-b%d", (int)getpid());
	argv[argc++] = iommu;
	for (int i = 0; i < NR_NODES && !ret; i++) {
		if (asprintf(&args[i], "%s=%s", names[i], socks[i]) < 0)
			ret = -ENOMEM;
		argv[argc++] = args[i];
		snprintf(nodes[i], sizeof(nodes[i]), "/dev/vfio-user/%s", names[i]);
	}
	argv[argc] = NULL;
	t0 = now_us();
	daemon = ret ? -1 : procs_start(&pr, argv);
	for (int i = 0; i < NR_NODES && !ret && daemon > 0; i++)
		ret = procs_wait_path(nodes[i], S_IFCHR, 60000, daemon);
	up = now_us() - t0;
	if (!ret && daemon > 0) {
		record("nodes64_startup_s", "64 devices: daemon start to the last node", "s",
		       "< 0.5", up / 1e6);
		record("nodes64_rss_mib", "64 devices: daemon RSS once up", "MiB", "< 64",
		       rss_kib(daemon) / 1024.0);
		for (int i = 0; i < NR_NODES && !ret; i++) {
			int fd = node_open(nodes[i]);
			uint32_t v;

			ret = fd < 0 ? fd : reg_read(fd, EXDEV_REG_ID, &v);
			if (fd >= 0)
				close(fd);
		}
		record("nodes64_rss_used_mib", "64 devices: daemon RSS after one read on each",
		       "MiB", "< 64", rss_kib(daemon) / 1024.0);
		procs_stop(&pr, daemon, SIGTERM, 20000, &status);
		for (int i = 0; i < NR_NODES; i++)
			procs_wait_gone(nodes[i], 20000);
	}
	for (int i = 0; i < NR_NODES && i < argc - 2; i++)
		free(args[i]);
	procs_fini(&pr);
	return ret;
}

/* Figures the suite measured around us (strace counts): KEY|WHAT|VALUE. */
static int read_extra(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *key = strtok(line, "|"), *what = strtok(NULL, "|"), *v = strtok(NULL, "|\n");

		if (key && what && v)
			record(strdup(key), strdup(what), "", "", strtod(v, NULL));
	}
	fclose(f);
	return 0;
}

/* ---- output ---- */

static void print_json(FILE *o)
{
	fprintf(o, "{\"figures\": {");
	for (int i = 0; i < nr_figs; i++) {
		struct fig *f = &figs[i];
		double s[MAX_RUNS];

		double med;

		memcpy(s, f->v, f->n * sizeof(double));
		med = median(s, f->n);
		fprintf(o,
		        "%s\n  \"%s\": {\"what\": \"%s\", \"unit\": \"%s\", \"goal\": \"%s\", "
		        "\"runs\": [",
		        i ? "," : "", f->key, f->what, f->unit, f->goal);
		for (int j = 0; j < f->n; j++)
			fprintf(o, "%s%.4g", j ? ", " : "", f->v[j]);
		fprintf(o, "], \"min\": %.4g, \"median\": %.4g, \"max\": %.4g}", s[0], med,
		        s[f->n - 1]);
	}
	fprintf(o, "\n}}\n");
}

static void print_table(FILE *o)
{
	fprintf(o, "%-66s %10s %10s %10s  %s\n", "figure", "min", "median", "max", "goal");
	for (int i = 0; i < nr_figs; i++) {
		struct fig *f = &figs[i];
		double s[MAX_RUNS], med;

		memcpy(s, f->v, f->n * sizeof(double));
		med = median(s, f->n);
		fprintf(o, "%-66s %10.3g %10.3g %10.3g  %s %s\n", f->what, s[0], med, s[f->n - 1],
		        f->goal, f->unit);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: vuc-bench run --node NODE --socket SOCK [--daemon PID] "
	                "[--runs N] [--ops N]\n"
	                "                 [--part main|threads] [--extra FILE] [--nodes64]\n"
	                "       vuc-bench count node|direct bar0-read|api-version N --node NODE "
	                "--socket SOCK\n");
}

static int count_ops(const char *kind, const char *what, int n, const char *nodepath,
                     const char *sock)
{
	struct path p;
	struct op_ctx x = {.p = &p};
	enum op op = !strcmp(what, "api-version") ? OP_API : OP_BAR0_R4;
	int ret;

	if (!strcmp(kind, "direct")) {
		if (op == OP_API)
			return -EINVAL;
		TRY(direct_open(sock, &p));
	} else {
		TRY(node_path(nodepath, &p));
	}
	ret = 0;
	for (int i = 0; i < n && !ret; i++)
		ret = do_op(&x, op);
	if (p.c)
		vu_client_close(p.c);
	else
		close(p.fd);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"node", required_argument, NULL, 'n'},
	                                   {"socket", required_argument, NULL, 's'},
	                                   {"daemon", required_argument, NULL, 'd'},
	                                   {"runs", required_argument, NULL, 'r'},
	                                   {"ops", required_argument, NULL, 'o'},
	                                   {"extra", required_argument, NULL, 'e'},
	                                   {"nodes64", no_argument, NULL, 'N'},
	                                   {"part", required_argument, NULL, 'p'},
	                                   {NULL, 0, NULL, 0}};
	const char *node = NULL, *sock = NULL, *extra = NULL, *cmd = argc > 1 ? argv[1] : "";
	bool nodes64 = false;
	pid_t daemon = 0;
	int runs = 3, c, ret = 0;

	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			node = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'd':
			daemon = atoi(optarg);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 'o':
			ops = atoi(optarg);
			break;
		case 'e':
			extra = optarg;
			break;
		case 'N':
			nodes64 = true;
			break;
		case 'p':
			part = !strcmp(optarg, "main")      ? PART_MAIN
			       : !strcmp(optarg, "threads") ? PART_THREADS
			                                    : PART_ALL;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS || ops < 100) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(cmd, "count") && optind + 3 == argc && node && sock) {
		ret = count_ops(argv[optind], argv[optind + 1], atoi(argv[optind + 2]), node, sock);
		return ret ? 1 : 0;
	}
	if (!strcmp(cmd, "run") && node && sock) {
		for (int r = 0; r < runs && !ret; r++) {
			fprintf(stderr, "vuc-bench: run %d of %d\n", r + 1, runs);
			ret = run_once(node, sock, daemon);
			if (!ret && nodes64)
				ret = nodes64_once();
		}
		if (!ret && extra)
			ret = read_extra(extra);
	} else {
		usage();
		return 2;
	}
	if (ret)
		return 1;
	printf("vuc-bench: json begin\n");
	print_json(stdout);
	printf("vuc-bench: json end\n");
	print_table(stdout);
	return 0;
}
