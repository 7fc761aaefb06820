// SPDX-License-Identifier: MIT
/*
 * The translation core against the example server process: the device's DMA
 * engine moving bytes through memory shared by fd and through private memory
 * served by message, MSI-X on a real eventfd, reset, the cleanup a release
 * leaves on the server, and the server killed and restarted.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "core/vdev.h"
#include "examples/example-device.h"
#include "fake_host.h"
#include "util.h"

#define PID       1000
#define OTHER_PID 2000
#define PAGE      4096u
#define LEN       (64u << 10)
#define SRC_IOVA  0x100000u
#define DST_IOVA  0x200000u

struct fx {
	char path[108];
	const char *const *server_args; /* extra options, NULL-terminated */
	pid_t server;
	struct fake_host h;
	struct vu_log log;
	struct vdev *d;
	struct vfile *f;
	struct vreq r;
	uint8_t *args; /* ioctl arguments live here, in the fake process */
};

static void quiet(void *arg, enum vu_log_level lvl, const char *line)
{
}

static pid_t server_start(const char *path, const char *const *extra)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		const char *argv[8] = {EXAMPLE_SERVER};
		char opt[160];
		int n = 1;

		snprintf(opt, sizeof(opt), "--socket-path=%s", path);
		argv[n++] = opt;
		for (; extra && *extra && n < 7; extra++)
			argv[n++] = *extra;
		execv(EXAMPLE_SERVER, (char **)argv);
		_exit(127);
	}
	return pid;
}

static void server_kill(struct fx *x)
{
	kill(x->server, SIGKILL);
	waitpid(x->server, NULL, 0);
	x->server = -1;
}

/* What a driver does before it lets the device DMA or send MSI-X: memory
 * space and bus master on in the command register. */
static void pci_enable(struct fx *x)
{
	uint64_t off = ((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) + PCI_COMMAND;
	uint16_t cmd = 0;

	assert_int_equal(vdev_read(x->d, x->f, &x->r, off, &cmd, 2), 2);
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	assert_int_equal(vdev_write(x->d, x->f, &x->r, off, &cmd, 2), 2);
}

static int fx_start(void **state, const char *const *server_args)
{
	static unsigned int seq;
	struct fx *x = calloc(1, sizeof(*x));
	struct vdev_config cfg = {.name = "ex", .timeout_ms = 5000};
	int ret = -1;

	assert_non_null(x);
	snprintf(x->path, sizeof(x->path), "/tmp/vuc-core-ex-%d-%u.sock", (int)getpid(), seq++);
	x->server_args = server_args;
	x->server = server_start(x->path, server_args);
	fake_host_init(&x->h);
	x->args = aligned_alloc(PAGE, PAGE);
	memset(x->args, 0, PAGE);
	fake_host_add_mem(&x->h, x->args, PAGE);
	x->log = (struct vu_log){.level = VU_LOG_ERR, .fn = quiet};
	cfg.server = x->path;
	cfg.host = fake_host_ops(&x->h);
	cfg.log = &x->log;
	/* The server listens once it is up: bounded retries. */
	wait_until((ret = vdev_create(&cfg, &x->d)) == 0, 5000);
	assert_int_equal(ret, 0);
	x->r = (struct vreq){.pid = PID, .tid = PID};
	assert_int_equal(vdev_open(x->d, &x->r, VFILE_NODE, &x->f), 0);
	pci_enable(x);
	*state = x;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_start(state, NULL);
}

/* As libvfio-user's servers: a command crossing a DMA request of the
 * server's is fatal without twin-socket mode (offered). Small transfers, so
 * a copy by message takes many requests. */
static int fx_setup_strict(void **state)
{
	static const char *const args[] = {"--strict", "--max-xfer=4096", NULL};

	return fx_start(state, args);
}

/* A server that offers no twin socket and queues crossing commands. */
static int fx_setup_single(void **state)
{
	static const char *const args[] = {"--no-twin-socket", "--max-xfer=4096", NULL};

	return fx_start(state, args);
}

static int fx_teardown(void **state)
{
	struct fx *x = *state;

	if (x->f)
		vdev_release(x->d, x->f);
	vdev_destroy(x->d);
	if (x->server > 0)
		server_kill(x);
	unlink(x->path);
	fake_host_fini(&x->h);
	free(x->args);
	free(x);
	return 0;
}

static long io(struct fx *x, unsigned int cmd, const void *arg)
{
	return vdev_ioctl(x->d, x->f, &x->r, cmd, (uintptr_t)arg);
}

static uint32_t reg_read(struct fx *x, uint32_t reg)
{
	uint32_t v = 0;

	assert_int_equal(vdev_read(x->d, x->f, &x->r, reg, &v, 4), 4);
	return v;
}

static void reg_write(struct fx *x, uint32_t reg, uint64_t v, size_t len)
{
	assert_int_equal(vdev_write(x->d, x->f, &x->r, reg, &v, len), (ssize_t)len);
}

static long map_dma(struct fx *x, void *vaddr, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map *m = (void *)x->args;

	*m = (struct vfio_iommu_type1_dma_map){
	    .argsz = sizeof(*m),
	    .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	    .vaddr = (uintptr_t)vaddr,
	    .iova = iova,
	    .size = size,
	};
	return io(x, VFIO_IOMMU_MAP_DMA, m);
}

/* Run the device's DMA engine; returns STATUS. */
static uint32_t device_copy(struct fx *x, uint64_t src, uint64_t dst, uint32_t len)
{
	reg_write(x, EXDEV_REG_DMA_SRC, src, 8);
	reg_write(x, EXDEV_REG_DMA_DST, dst, 8);
	reg_write(x, EXDEV_REG_DMA_LEN, len, 4);
	reg_write(x, EXDEV_REG_DMA_CMD, EXDEV_DMA_CMD_GO, 4);
	return reg_read(x, EXDEV_REG_STATUS);
}

static void fill(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 9));
}

static void test_info(void **state)
{
	struct fx *x = *state;
	struct vfio_region_info *ri = (void *)x->args;
	uint64_t cfg = (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;
	uint16_t ids[2];

	*ri = (struct vfio_region_info){.argsz = 512, .index = VFIO_PCI_BAR2_REGION_INDEX};
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_int_equal(ri->size, EXDEV_BAR2_SIZE);
	assert_int_equal(ri->flags & VFIO_REGION_INFO_FLAG_MMAP, 0);
	for (uint32_t off = ri->cap_offset; off;) {
		struct vfio_info_cap_header *h = (void *)(x->args + off);

		assert_int_not_equal(h->id, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
		off = h->next;
	}
	assert_int_equal(vdev_read(x->d, x->f, &x->r, cfg, ids, 4), 4);
	assert_int_equal(ids[0], EXDEV_VENDOR_ID);
	assert_int_equal(ids[1], EXDEV_DEVICE_ID);
	assert_int_equal(reg_read(x, EXDEV_REG_ID), EXDEV_ID_VALUE);
}

/* memfd memory goes to the server as an fd, private memory by message: the
 * device copies each way between them, byte for byte. */
static void test_dma_both_ways(void **state)
{
	struct fx *x = *state;
	int mfd = memfd_create("vuc-src", MFD_CLOEXEC);
	uint8_t *shared, *priv;
	uint32_t status;

	assert_int_equal(ftruncate(mfd, LEN), 0);
	shared = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	priv = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(shared != MAP_FAILED && priv != MAP_FAILED);
	fake_host_add_map(&x->h, shared, LEN, true, true, mfd, 0);
	fake_host_add_map(&x->h, priv, LEN, true, true, -1, 0);
	fake_host_add_mem(&x->h, priv, LEN);
	assert_int_equal(vdev_ioctl(x->d, x->f, &x->r, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
	assert_int_equal(map_dma(x, shared, SRC_IOVA, LEN), 0);
	assert_int_equal(map_dma(x, priv, DST_IOVA, LEN), 0);

	fill(shared, LEN, 7);
	memset(priv, 0, LEN);
	status = device_copy(x, SRC_IOVA, DST_IOVA, LEN);
	assert_int_equal(status & EXDEV_STATUS_DMA_ERROR, 0);
	assert_true(status & EXDEV_STATUS_DMA_DONE);
	assert_memory_equal(priv, shared, LEN);

	fill(priv, LEN, 99);
	status = device_copy(x, DST_IOVA + 3, SRC_IOVA + 5, LEN - 8);
	assert_int_equal(status & EXDEV_STATUS_DMA_ERROR, 0);
	assert_memory_equal(shared + 5, priv + 3, LEN - 8);

	/* Past the end of a mapping: the device reports the error. */
	status = device_copy(x, SRC_IOVA + LEN - 16, DST_IOVA, 32);
	assert_true(status & EXDEV_STATUS_DMA_ERROR);
	munmap(shared, LEN);
	munmap(priv, LEN);
}

static void test_msix_eventfd(void **state)
{
	struct fx *x = *state;
	struct vfio_irq_set *s = (void *)x->args;
	int e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct pollfd p = {.fd = e, .events = POLLIN};
	uint64_t v = 0;

	x->h.fds[9] = e;
	*s = (struct vfio_irq_set){.argsz = sizeof(*s) + 4,
	                           .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	                           .index = VFIO_PCI_MSIX_IRQ_INDEX,
	                           .start = 1,
	                           .count = 1};
	*(int32_t *)s->data = 9;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), 0);
	reg_write(x, EXDEV_REG_IRQ_VECTOR, 1, 4);
	reg_write(x, EXDEV_REG_IRQ_RAISE, 1, 4);
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(read(e, &v, 8), 8);
	assert_int_equal(v, 1);
	close(e);
	x->h.fds[9] = -1;
}

static void test_reset(void **state)
{
	struct fx *x = *state;

	reg_write(x, EXDEV_REG_SCRATCH, 0x12345678, 4);
	assert_int_equal(reg_read(x, EXDEV_REG_SCRATCH), 0x12345678);
	assert_int_equal(vdev_ioctl(x->d, x->f, &x->r, VFIO_DEVICE_RESET, 0), 0);
	assert_int_equal(reg_read(x, EXDEV_REG_SCRATCH), 0);
}

/* After the owner's last close the server no longer has its memory. */
static void test_release_unmaps(void **state)
{
	struct fx *x = *state;
	uint8_t *priv = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	fake_host_add_map(&x->h, priv, LEN, true, true, -1, 0);
	fake_host_add_mem(&x->h, priv, LEN);
	assert_int_equal(vdev_ioctl(x->d, x->f, &x->r, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
	assert_int_equal(map_dma(x, priv, SRC_IOVA, LEN), 0);
	reg_write(x, EXDEV_REG_SCRATCH, 0xabcd, 4);
	assert_int_equal(device_copy(x, SRC_IOVA, SRC_IOVA + PAGE, PAGE) & EXDEV_STATUS_DMA_ERROR,
	                 0);

	vdev_release(x->d, x->f);
	assert_int_equal(vdev_open(x->d, &x->r, VFILE_NODE, &x->f), 0);
	assert_int_equal(reg_read(x, EXDEV_REG_SCRATCH), 0); /* reset on release */
	pci_enable(x);
	assert_true(device_copy(x, SRC_IOVA, SRC_IOVA + PAGE, PAGE) & EXDEV_STATUS_DMA_ERROR);
	munmap(priv, LEN);
}

static void test_server_killed_and_restarted(void **state)
{
	struct fx *x = *state;
	struct vreq other = {.pid = OTHER_PID, .tid = OTHER_PID};
	struct vfile *f2 = NULL;
	uint32_t v;
	int ret = 0;

	server_kill(x);
	wait_until((ret = vdev_read(x->d, x->f, &x->r, EXDEV_REG_ID, &v, 4)) == -EIO, 5000);
	assert_int_equal(ret, -EIO);

	x->server = server_start(x->path, x->server_args);
	wait_until((ret = vdev_open(x->d, &other, VFILE_NODE, &f2)) == 0, 10000);
	assert_int_equal(ret, 0);
	assert_int_equal(vdev_read(x->d, f2, &other, EXDEV_REG_ID, &v, 4), 4);
	assert_int_equal(v, EXDEV_ID_VALUE);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, EXDEV_REG_ID, &v, 4), -EIO);
	vdev_release(x->d, x->f);
	x->f = f2;
	x->r = other;
}

/* A program thread reading config space while the device copies through
 * private memory, reached by DMA_READ/DMA_WRITE messages: the reads cross
 * the server's DMA requests all the time. Every read and copy succeeds. */
struct cfg_reader {
	struct fx *x;
	atomic_bool stop;
	unsigned long reads;
	int err;
};

static void *cfg_reads(void *arg)
{
	struct cfg_reader *cr = arg;
	struct vreq r = {.pid = PID, .tid = PID + 1};
	uint64_t off = (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;

	while (!atomic_load(&cr->stop) && !cr->err) {
		uint16_t vendor = 0;
		ssize_t n = vdev_read(cr->x->d, cr->x->f, &r, off, &vendor, 2);

		if (n != 2 || vendor != EXDEV_VENDOR_ID)
			cr->err = n < 0 ? (int)n : -EIO;
		cr->reads++;
	}
	return NULL;
}

static void test_dma_while_program_reads(void **state)
{
	struct fx *x = *state;
	uint8_t *a = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *b = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct cfg_reader cr = {.x = x};
	pthread_t th;

	assert_true(a != MAP_FAILED && b != MAP_FAILED);
	fake_host_add_map(&x->h, a, LEN, true, true, -1, 0);
	fake_host_add_map(&x->h, b, LEN, true, true, -1, 0);
	fake_host_add_mem(&x->h, a, LEN);
	fake_host_add_mem(&x->h, b, LEN);
	assert_int_equal(vdev_ioctl(x->d, x->f, &x->r, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
	assert_int_equal(map_dma(x, a, SRC_IOVA, LEN), 0);
	assert_int_equal(map_dma(x, b, DST_IOVA, LEN), 0);
	atomic_init(&cr.stop, false);
	assert_int_equal(pthread_create(&th, NULL, cfg_reads, &cr), 0);
	for (int i = 0; i < 10; i++) {
		uint32_t status;

		fill(a, LEN, i);
		memset(b, 0, LEN);
		status = device_copy(x, SRC_IOVA, DST_IOVA, LEN);
		assert_int_equal(status & EXDEV_STATUS_DMA_ERROR, 0);
		assert_true(status & EXDEV_STATUS_DMA_DONE);
		assert_memory_equal(b, a, LEN);
	}
	atomic_store(&cr.stop, true);
	pthread_join(th, NULL);
	assert_int_equal(cr.err, 0);
	assert_true(cr.reads > 0);
	munmap(a, LEN);
	munmap(b, LEN);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_info),
	    T(test_dma_both_ways),
	    T(test_msix_eventfd),
	    T(test_reset),
	    T(test_release_unmaps),
	    T(test_server_killed_and_restarted),
	    cmocka_unit_test_setup_teardown(test_dma_while_program_reads, fx_setup_strict,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dma_while_program_reads, fx_setup_single,
	                                    fx_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
