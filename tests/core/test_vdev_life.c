// SPDX-License-Identifier: MIT
/*
 * A node's life: its owner, what a release cleans up, the server going
 * away and coming back, a cancelled call, many owner threads at once, a
 * server that is not there.
 * The fixture: vdev_fx.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "proto/client.h"
#include "tests/common/thread_stats.h"
#include "util.h"
#include "vdev_fx.h"

/* A request, answered by the core or by the server, touches only the
 * threads it needs: never the reconnect thread, which has nothing to do
 * while the server is up. */
static void test_requests_leave_reconnect_thread_asleep(void **state)
{
	struct fx *x = *state;
	long long before = thread_wakeups("vuc-reconnect"), after;
	uint32_t v;

	assert_true(before >= 0);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(io_val(x, VFIO_GET_API_VERSION, 0), VFIO_API_VERSION);
		assert_int_equal(vdev_read(x->d, x->f, &x->r, 0, &v, sizeof(v)), sizeof(v));
	}
	after = thread_wakeups("vuc-reconnect");
	/* 400 requests: a wakeup each before; a few are slack for the
	 * scheduler, not for the requests. */
	assert_true(after - before < 10);
}

/*
 * The device belongs to the open file, as a VFIO group does (one open at a
 * time, whatever the process): while it exists every other open is EBUSY,
 * from another process, from a thread of the same one, or from a new
 * process that took the pid of the opener (the opener forked, kept the fd
 * in its child and exited).
 */
static void test_owner(void **state)
{
	struct fx *x = *state;
	struct vreq other = {.pid = OTHER_PID, .tid = OTHER_PID + 1};
	struct vreq thread = {.pid = PID, .tid = PID + 1};
	struct vreq reused = {.pid = PID, .tid = PID};
	struct vfile *f2;

	assert_int_equal(vdev_open(x->d, &other, VFILE_NODE, &f2), -EBUSY);
	assert_int_equal(vdev_open(x->d, &thread, VFILE_NODE, &f2), -EBUSY);
	assert_int_equal(vdev_open(x->d, &reused, VFILE_NODE, &f2), -EBUSY);
	vdev_release(x->d, x->f);
	x->f = NULL;
	assert_int_equal(vdev_open(x->d, &other, VFILE_NODE, &f2), 0);
	assert_int_equal(vdev_open(x->d, &x->r, VFILE_NODE, &x->f), -EBUSY);
	vdev_release(x->d, f2);
	assert_int_equal(vdev_open(x->d, &x->r, VFILE_NODE, &x->f), 0);
}

static void test_release_cleanup(void **state)
{
	struct fx *x = *state;
	uint8_t *buf = page_alloc(2 * PAGE);
	int e = eventfd(0, EFD_CLOEXEC);
	struct vfio_irq_set *s;

	fake_host_add_map(&x->h, buf, 2 * PAGE, true, true, -1, 0);
	x->h.fds[3] = e;
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(map_dma(x, buf, 0x10000, PAGE, RW), 0);
	assert_int_equal(map_dma(x, buf + PAGE, 0x20000, PAGE, RW), 0);
	s = irq_set(x, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	            VFIO_PCI_MSIX_IRQ_INDEX, 1, 1, 4);
	*(int32_t *)s->data = 3;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), 0);
	assert_true(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 1) >= 0);

	vdev_release(x->d, x->f);
	x->f = NULL;
	assert_int_equal(tdev_nr_maps(&x->t), 0);
	assert_int_equal(x->t.unmap_calls, 2);
	assert_int_equal(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 1), -1);
	assert_int_equal(x->t.resets, 1);

	/* The next owner starts from nothing: no IOMMU, no mappings. */
	assert_int_equal(vdev_open(x->d, &x->r, VFILE_NODE, &x->f), 0);
	assert_int_equal(map_dma(x, buf, 0x10000, PAGE, RW), -EINVAL);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(map_dma(x, buf, 0x10000, PAGE, RW), 0);
	close(e);
	x->h.fds[3] = -1;
	munmap(buf, 2 * PAGE);
}

static void test_server_gone_and_back(void **state)
{
	struct fx *x = *state;
	struct vreq other = {.pid = OTHER_PID, .tid = OTHER_PID};
	struct vfile *f2 = NULL;
	uint32_t v = 0;
	int ret = 0;

	assert_int_equal(vdev_write(x->d, x->f, &x->r, 0x8, &v, 4), 4);
	tdev_stop(&x->t);
	/* The disconnect is seen at once; bound the wait anyway. */
	wait_until((ret = vdev_read(x->d, x->f, &x->r, 0x8, &v, 4)) == -EIO, 5000);
	assert_int_equal(ret, -EIO);
	assert_int_equal(io_val(x, VFIO_GET_API_VERSION, 0), -EIO);
	assert_int_equal(vdev_open(x->d, &other, VFILE_NODE, &f2), -EIO);

	assert_int_equal(tdev_start(&x->t, true, 16), 0);
	wait_until((ret = vdev_open(x->d, &other, VFILE_NODE, &f2)) == 0, 10000);
	assert_int_equal(ret, 0);
	/* The new owner works; the old file stays dead until closed. */
	assert_int_equal(vdev_ioctl(x->d, f2, &other, VFIO_GET_API_VERSION, 0), VFIO_API_VERSION);
	assert_int_equal(vdev_read(x->d, f2, &other, 0x8, &v, 4), 4);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, 0x8, &v, 4), -EIO);
	assert_true(x->t.resets >= 1);
	vdev_release(x->d, x->f);
	x->f = f2;
	x->r = other;
	assert_int_equal(vdev_read(x->d, x->f, &x->r, 0x8, &v, 4), 4);
}

static void test_cancelled(void **state)
{
	struct fx *x = *state;
	struct vu_cancel *c = vu_cancel_new();
	struct vreq r = {.pid = PID, .tid = PID, .cancel = c};
	uint32_t v;

	vu_cancel_fire(c);
	assert_int_equal(vdev_read(x->d, x->f, &r, 0x8, &v, 4), -EINTR);
	assert_int_equal(vdev_ioctl(x->d, x->f, &r, VFIO_DEVICE_RESET, 0), -EINTR);
	vu_cancel_free(c);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, 0x8, &v, 4), 4);
}

#define THREADS    4
#define ITERATIONS 200

struct worker {
	struct fx *x;
	unsigned int id;
	uint8_t *buf;
	int failures;
};

/* One owner thread: its own IOVA, its own BAR0 word, all at once with the
 * others. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct fx *x = w->x;
	struct vreq r = {.pid = PID, .tid = PID + 1 + w->id};
	struct vfio_iommu_type1_dma_map *m = (void *)(x->arena + ARENA - 256 * (w->id + 1));
	struct vfio_iommu_type1_dma_unmap *u = (void *)((uint8_t *)m + 128);
	uint64_t iova = 0x1000000ull * (w->id + 1), off = 0x400 + 4 * w->id;

	for (uint32_t i = 0; i < ITERATIONS; i++) {
		uint32_t v = i * THREADS + w->id, back = ~v;

		*m = (struct vfio_iommu_type1_dma_map){.argsz = sizeof(*m),
		                                       .flags = RW,
		                                       .vaddr = (uintptr_t)w->buf,
		                                       .iova = iova,
		                                       .size = PAGE};
		*u = (struct vfio_iommu_type1_dma_unmap){
		    .argsz = sizeof(*u), .iova = iova, .size = PAGE};
		if (vdev_ioctl(x->d, x->f, &r, VFIO_IOMMU_MAP_DMA, (uintptr_t)m) != 0 ||
		    vdev_write(x->d, x->f, &r, off, &v, 4) != 4 ||
		    vdev_read(x->d, x->f, &r, off, &back, 4) != 4 || back != v ||
		    vdev_ioctl(x->d, x->f, &r, VFIO_IOMMU_UNMAP_DMA, (uintptr_t)u) != 0 ||
		    u->size != PAGE)
			w->failures++;
	}
	return NULL;
}

/* Meanwhile the device reads client memory by message, again and again:
 * its requests must never wait on the other threads' map and unmap. */
static void *dma_worker_run(void *arg)
{
	struct worker *w = arg;
	struct vreq r = {.pid = PID, .tid = PID + 100};
	uint64_t a[3] = {0x80000000ull, 256, 0};
	uint8_t back[256];

	for (uint32_t i = 0; i < ITERATIONS; i++) {
		int32_t res = -1;

		if (vdev_write(w->x->d, w->x->f, &r, TDEV_DMA_DOORBELL, a, sizeof(a)) != 24 ||
		    vdev_read(w->x->d, w->x->f, &r, TDEV_DMA_RESULT, &res, 4) != 4 || res != 0 ||
		    vdev_read(w->x->d, w->x->f, &r, TDEV_DMA_BUF, back, 256) != 256 ||
		    memcmp(back, w->buf, 256) != 0)
			w->failures++;
	}
	return NULL;
}

static void test_threads_pipeline(void **state)
{
	struct fx *x = *state;
	struct worker w[THREADS + 1];
	pthread_t th[THREADS + 1];
	uint8_t *buf = page_alloc((THREADS + 1) * PAGE);

	fake_host_add_map(&x->h, buf, (THREADS + 1) * PAGE, true, true, -1, 0);
	fake_host_add_mem(&x->h, buf + THREADS * PAGE, PAGE);
	fill_pattern(buf + THREADS * PAGE, PAGE);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(map_dma(x, buf + THREADS * PAGE, 0x80000000ull, PAGE, RW), 0);
	for (unsigned int i = 0; i <= THREADS; i++) {
		w[i] = (struct worker){.x = x, .id = i, .buf = buf + i * PAGE};
		assert_int_equal(
		    pthread_create(&th[i], NULL, i < THREADS ? worker_run : dma_worker_run, &w[i]),
		    0);
	}
	for (unsigned int i = 0; i <= THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(unmap_dma(x, 0x80000000ull, PAGE, 0, NULL), 0);
	assert_int_equal(tdev_nr_maps(&x->t), 0);
	assert_int_equal(x->t.map_calls, THREADS * ITERATIONS + 1);
	munmap(buf, THREADS * PAGE);
}

static void test_create_unreachable(void **state)
{
	struct fake_host h;
	struct vu_log log = {.level = VU_LOG_ERR, .fn = fx_quiet};
	struct vdev_config cfg = {
	    .name = "t", .server = "/nonexistent/vuc.sock", .timeout_ms = 1000, .log = &log};
	struct vdev *d = NULL;

	fake_host_init(&h);
	cfg.host = fake_host_ops(&h);
	assert_true(vdev_create(&cfg, &d) < 0);
	assert_null(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_requests_leave_reconnect_thread_asleep),
	    T(test_owner),
	    T(test_release_cleanup),
	    T(test_server_gone_and_back),
	    T(test_cancelled),
	    T(test_threads_pipeline),
	    cmocka_unit_test(test_create_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
