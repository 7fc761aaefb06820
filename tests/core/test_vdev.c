// SPDX-License-Identifier: MIT
/*
 * The translation core driven directly, every ioctl and region access, with
 * a fake process (fake_host.c) and a real vfio-user server in a thread
 * (tests/support/tdev.c) that records what it was asked.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/vfio.h>

#include "core/vdev.h"
#include "proto/client.h"
#include "fake_host.h"
#include "tdev.h"
#include "tests/common/thread_stats.h"
#include "util.h"

#define PID       1000
#define OTHER_PID 2000
#define ARENA     (64u << 10)
#define PAGE      4096u

struct fx {
	struct tdev t;
	struct fake_host h;
	struct vu_log log;
	struct vdev *d;
	struct vfile *f;
	struct vreq r;
	uint8_t *arena; /* the fake process's memory for ioctl arguments */
	size_t used;
};

static void quiet(void *arg, enum vu_log_level lvl, const char *line)
{
}

/* The next fixture's node has dma_by_message. */
static bool by_message_next;

/* prep, if set, adjusts the device before the node connects to it. */
static int fx_setup_full(void **state, bool reset_flag, uint32_t max_maps, int timeout_ms,
                         void (*prep)(struct tdev *t))
{
	struct fx *x = calloc(1, sizeof(*x));
	struct vdev_config cfg = {.name = "t", .timeout_ms = timeout_ms};

	assert_non_null(x);
	tdev_init(&x->t);
	assert_int_equal(tdev_start(&x->t, reset_flag, max_maps), 0);
	if (prep)
		prep(&x->t);
	fake_host_init(&x->h);
	x->arena = aligned_alloc(PAGE, ARENA);
	memset(x->arena, 0, ARENA);
	fake_host_add_mem(&x->h, x->arena, ARENA);
	x->log = (struct vu_log){.level = getenv("VUC_TEST_VERBOSE") ? VU_LOG_DEBUG : VU_LOG_ERR,
	                         .fn = getenv("VUC_TEST_VERBOSE") ? NULL : quiet};
	cfg.server = x->t.path;
	cfg.host = fake_host_ops(&x->h);
	cfg.host.dma_by_message = by_message_next;
	cfg.log = getenv("VUC_TEST_VERBOSE") ? NULL : &x->log;
	assert_int_equal(vdev_create(&cfg, &x->d), 0);
	x->r = (struct vreq){.pid = PID, .tid = PID};
	assert_int_equal(vdev_open(x->d, &x->r, VFILE_NODE, &x->f), 0);
	*state = x;
	return 0;
}

static int fx_setup_with(void **state, bool reset_flag, uint32_t max_maps)
{
	return fx_setup_full(state, reset_flag, max_maps, 2000, NULL);
}

static int fx_setup(void **state)
{
	return fx_setup_with(state, true, 16);
}

#define SLOW_TIMEOUT_MS 400

/* At connect, BAR0's info and MSI-X's come later than the node waits. */
static void slow_info(struct tdev *t)
{
	t->slow_region_once = true;
	t->slow_region = VFIO_PCI_BAR0_REGION_INDEX;
	t->slow_irq_once = true;
	t->slow_irq = VFIO_PCI_MSIX_IRQ_INDEX;
	t->slow_ms = SLOW_TIMEOUT_MS * 3 / 2;
}

static int fx_setup_slow_info(void **state)
{
	return fx_setup_full(state, true, 16, SLOW_TIMEOUT_MS, slow_info);
}

static void twin(struct tdev *t)
{
	t->twin = true;
}

/* A server offering twin-socket mode, where BAR writes are posted. */
static int fx_setup_twin(void **state)
{
	return fx_setup_full(state, true, 16, 2000, twin);
}

static int fx_setup_noreset(void **state)
{
	return fx_setup_with(state, false, 16);
}

static int fx_setup_twomaps(void **state)
{
	return fx_setup_with(state, true, 2);
}

/* The server offers more mappings than the device holds (TDEV_MAX_MAPS). */
static int fx_setup_bigcaps(void **state)
{
	return fx_setup_with(state, true, 64);
}

/* The daemon's --dma-by-message: no fd of program memory reaches the server. */
static int fx_setup_by_message(void **state)
{
	int ret;

	by_message_next = true;
	ret = fx_setup_with(state, true, 16);
	by_message_next = false;
	return ret;
}

/* A lying server: MSI has 0xfffffffe vectors. */
static void lie_about_msi(struct tdev *t)
{
	t->msi_count = 0xfffffffe;
}

static int fx_setup_lying(void **state)
{
	return fx_setup_full(state, true, 16, 2000, lie_about_msi);
}

static int fx_teardown(void **state)
{
	struct fx *x = *state;

	tdev_gate(&x->t, false); /* a failed check may have left it closed */
	if (x->f)
		vdev_release(x->d, x->f);
	vdev_destroy(x->d);
	tdev_stop(&x->t);
	tdev_fini(&x->t);
	fake_host_fini(&x->h);
	free(x->arena);
	free(x);
	return 0;
}

/* Zeroed room in the fake process's memory. */
static void *arg_alloc(struct fx *x, size_t len)
{
	void *p = x->arena + x->used;

	x->used += (len + 15) & ~(size_t)15;
	assert_true(x->used <= ARENA);
	memset(p, 0, len);
	return p;
}

static long io(struct fx *x, unsigned int cmd, const void *arg)
{
	return vdev_ioctl(x->d, x->f, &x->r, cmd, (uintptr_t)arg);
}

static long io_val(struct fx *x, unsigned int cmd, uint64_t val)
{
	return vdev_ioctl(x->d, x->f, &x->r, cmd, val);
}

static void set_iommu(struct fx *x, uint32_t type)
{
	assert_int_equal(io_val(x, VFIO_SET_IOMMU, type), 0);
}

static long map_dma(struct fx *x, void *vaddr, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map *m = arg_alloc(x, sizeof(*m));

	*m = (struct vfio_iommu_type1_dma_map){.argsz = sizeof(*m),
	                                       .flags = flags,
	                                       .vaddr = (uintptr_t)vaddr,
	                                       .iova = iova,
	                                       .size = size};
	return io(x, VFIO_IOMMU_MAP_DMA, m);
}

static long unmap_dma(struct fx *x, uint64_t iova, uint64_t size, uint32_t flags, uint64_t *done)
{
	struct vfio_iommu_type1_dma_unmap *u = arg_alloc(x, sizeof(*u));
	long ret;

	*u = (struct vfio_iommu_type1_dma_unmap){
	    .argsz = sizeof(*u), .flags = flags, .iova = iova, .size = size};
	ret = io(x, VFIO_IOMMU_UNMAP_DMA, u);
	if (done)
		*done = u->size;
	return ret;
}

#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

static void fill_pattern(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + 1);
}

static void test_api_version_and_extensions(void **state)
{
	struct fx *x = *state;

	assert_int_equal(io_val(x, VFIO_GET_API_VERSION, 0), VFIO_API_VERSION);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU), 1);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU), 1);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL), 1);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_TYPE1_NESTING_IOMMU), 0);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU), 0);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU), 0);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR), 0);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU), 0);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, 12345), 0);
}

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

struct opener {
	struct tdev *t;
	atomic_bool opened;
};

static void *open_gate_later(void *arg)
{
	struct opener *o = arg;
	struct timespec ts = {.tv_nsec = 200000000};

	nanosleep(&ts, NULL);
	atomic_store(&o->opened, true);
	tdev_gate(o->t, false);
	return NULL;
}

/* A BAR write returns once sent, while the server has not done it yet; a
 * later read is answered after it. A config write waits for the server. */
static void test_bar_writes_posted(void **state)
{
	struct fx *x = *state;
	uint64_t cfg = (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;
	uint32_t v = 0x1234abcd, back = 0;
	struct opener o = {.t = &x->t};
	unsigned int writes = tdev_region_writes(&x->t);
	pthread_t th;

	tdev_gate(&x->t, true);
	assert_int_equal(vdev_write(x->d, x->f, &x->r, 0x8, &v, 4), 4);
	assert_int_equal(tdev_region_writes(&x->t), writes); /* not done yet */
	tdev_gate(&x->t, false);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, 0x8, &back, 4), 4);
	assert_int_equal(back, v);
	assert_int_equal(tdev_region_writes(&x->t), writes + 1);

	tdev_gate(&x->t, true);
	assert_int_equal(pthread_create(&th, NULL, open_gate_later, &o), 0);
	assert_int_equal(vdev_write(x->d, x->f, &x->r, cfg + 0x40, &v, 4), 4);
	assert_true(atomic_load(&o.opened)); /* it waited for the server */
	pthread_join(th, NULL);
}

/* Without twin-socket mode no write is posted: it would cross the server's
 * DMA requests on the main socket. */
static void test_bar_writes_wait_without_twin(void **state)
{
	struct fx *x = *state;
	struct opener o = {.t = &x->t};
	uint32_t v = 5;
	pthread_t th;

	tdev_gate(&x->t, true);
	assert_int_equal(pthread_create(&th, NULL, open_gate_later, &o), 0);
	assert_int_equal(vdev_write(x->d, x->f, &x->r, 0x8, &v, 4), 4);
	assert_true(atomic_load(&o.opened));
	pthread_join(th, NULL);
}

static void test_unknown_ioctl_and_bad_pointer(void **state)
{
	struct fx *x = *state;

	assert_int_equal(io_val(x, _IO(VFIO_TYPE, VFIO_BASE + 60), 0), -ENOTTY);
	assert_int_equal(io_val(x, VFIO_GROUP_GET_DEVICE_FD, 0), -ENOTTY);
	assert_int_equal(io_val(x, 0x5401 /* TCGETS */, 0), -ENOTTY);
	assert_int_equal(io_val(x, VFIO_DEVICE_GET_INFO, 16), -EFAULT);
	assert_int_equal(io_val(x, VFIO_DEVICE_GET_REGION_INFO, 0), -EFAULT);
}

static void test_set_iommu(void **state)
{
	struct fx *x = *state;
	struct vfio_iommu_type1_info *info = arg_alloc(x, sizeof(*info));

	info->argsz = sizeof(*info);
	/* The container has no IOMMU yet. */
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), -EINVAL);
	assert_int_equal(map_dma(x, x->arena, 0, PAGE, RW), -EINVAL);
	assert_int_equal(unmap_dma(x, 0, PAGE, 0, NULL), -EINVAL);
	assert_int_equal(io_val(x, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU), -ENODEV);
	assert_int_equal(io_val(x, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU), -ENODEV);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(io_val(x, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -EINVAL);
	assert_int_equal(io_val(x, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU), -EINVAL);
}

static void test_group_status(void **state)
{
	struct fx *x = *state;
	struct vfio_group_status *s = arg_alloc(x, sizeof(*s));

	s->argsz = sizeof(*s);
	assert_int_equal(io(x, VFIO_GROUP_GET_STATUS, s), 0);
	assert_int_equal(s->flags, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	s->argsz = 7;
	assert_int_equal(io(x, VFIO_GROUP_GET_STATUS, s), -EINVAL);
}

/* Leave a pattern where the next call's locals will be, so a field the
 * node forgets to set shows up in what the program gets. */
static __attribute__((noinline)) void stack_dirty(void)
{
	volatile uint8_t junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0xa5;
}

static void test_iommu_get_info(void **state)
{
	struct fx *x = *state;
	struct vfio_iommu_type1_info *info = arg_alloc(x, 256);
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info_cap_iova_range *range;
	void *buf = aligned_alloc(PAGE, PAGE);

	fake_host_add_map(&x->h, buf, PAGE, true, true, -1, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	info->argsz = 15;
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), -EINVAL);

	/* Only the fixed part fits: argsz says what the caps need. */
	memset(info, 0xaa, 256);
	info->argsz = 16;
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 24 + 48);
	assert_int_equal(info->flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
	assert_int_equal(info->iova_pgsizes, 4096);
	assert_int_equal(info->cap_offset, 0xaaaaaaaa); /* beyond argsz: untouched */

	info->argsz = 24;
	stack_dirty();
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 72);
	assert_int_equal(info->cap_offset, 0);
	/* The tail padding (the kernel's "pad") carries nothing of ours. */
	assert_int_equal(*(uint32_t *)((uint8_t *)info + 20), 0);

	assert_int_equal(map_dma(x, buf, 0x10000, PAGE, RW), 0);
	info->argsz = 256;
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 256);
	assert_int_equal(info->cap_offset, 24);
	avail = (void *)((uint8_t *)info + 24);
	assert_int_equal(avail->header.id, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	assert_int_equal(avail->avail, 15);
	assert_int_equal(avail->header.next, 40);
	range = (void *)((uint8_t *)info + 40);
	assert_int_equal(range->header.id, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	assert_int_equal(range->header.next, 0);
	assert_int_equal(range->nr_iovas, 1);
	assert_int_equal(range->iova_ranges[0].start, 0);
	assert_true(range->iova_ranges[0].end == UINT64_MAX - 1);
	assert_int_equal(unmap_dma(x, 0x10000, PAGE, 0, NULL), 0);
	free(buf);
}

static void test_device_get_info(void **state)
{
	struct fx *x = *state;
	struct vfio_device_info *info = arg_alloc(x, sizeof(*info) + 8);

	memset(info, 0xaa, sizeof(*info) + 8);
	info->argsz = 16;
	assert_int_equal(io(x, VFIO_DEVICE_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 16);
	assert_int_equal(info->flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(info->num_regions, TDEV_NUM_REGIONS);
	assert_int_equal(info->num_irqs, TDEV_NUM_IRQS);
	assert_int_equal(info->cap_offset, 0xaaaaaaaa);

	info->argsz = sizeof(*info) + 8;
	assert_int_equal(io(x, VFIO_DEVICE_GET_INFO, info), 0);
	assert_int_equal(info->cap_offset, 0);
	assert_int_equal(((uint8_t *)info)[sizeof(*info)], 0xaa);

	info->argsz = 15;
	assert_int_equal(io(x, VFIO_DEVICE_GET_INFO, info), -EINVAL);
}

static void test_region_info(void **state)
{
	struct fx *x = *state;
	struct vfio_region_info *ri = arg_alloc(x, 256);
	struct vfio_region_info_cap_type *ty;

	ri->argsz = sizeof(*ri);
	ri->index = VFIO_PCI_BAR0_REGION_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_int_equal(ri->size, TDEV_BAR0_SIZE);
	assert_int_equal(ri->offset, 0);
	assert_int_equal(ri->flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);

	ri->index = VFIO_PCI_CONFIG_REGION_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_true(ri->offset == (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40);
	assert_int_equal(ri->size, TDEV_CFG_SIZE);

	ri->index = VFIO_PCI_BAR3_REGION_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_int_equal(ri->size, 0);
	assert_int_equal(ri->flags, 0);

	/* BAR2: MMAP cleared; only the type capability survives. */
	ri->argsz = sizeof(*ri);
	ri->index = VFIO_PCI_BAR2_REGION_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_int_equal(ri->argsz, sizeof(*ri) + sizeof(*ty));
	assert_int_equal(ri->cap_offset, 0);
	assert_int_equal(ri->flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
	                                VFIO_REGION_INFO_FLAG_CAPS);
	ri->argsz = 256;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_int_equal(ri->argsz, 256);
	assert_int_equal(ri->cap_offset, sizeof(*ri));
	assert_true(ri->offset == (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40);
	ty = (void *)((uint8_t *)ri + ri->cap_offset);
	assert_int_equal(ty->header.id, VFIO_REGION_INFO_CAP_TYPE);
	assert_int_equal(ty->header.next, 0);
	assert_int_equal(ty->type, TDEV_TYPE_CAP_TYPE);
	assert_int_equal(ty->subtype, 7);

	ri->index = VFIO_PCI_VGA_REGION_INDEX; /* refused by the server */
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), -EINVAL);
	ri->index = TDEV_NUM_REGIONS;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), -EINVAL);
	ri->index = UINT32_MAX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), -EINVAL);
	ri->index = 0;
	ri->argsz = sizeof(*ri) - 1;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), -EINVAL);
}

static void test_irq_info(void **state)
{
	struct fx *x = *state;
	struct vfio_irq_info *ii = arg_alloc(x, sizeof(*ii));

	ii->argsz = sizeof(*ii);
	ii->index = VFIO_PCI_MSIX_IRQ_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, ii), 0);
	assert_int_equal(ii->count, TDEV_MSIX_COUNT);
	assert_int_equal(ii->flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE);
	ii->index = VFIO_PCI_INTX_IRQ_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, ii), 0);
	assert_int_equal(ii->count, 1);
	assert_int_equal(ii->flags,
	                 VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED);
	ii->index = TDEV_NUM_IRQS;
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, ii), -EINVAL);
	ii->index = 0;
	ii->argsz = sizeof(*ii) - 1;
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, ii), -EINVAL);
}

static struct vfio_irq_set *irq_set(struct fx *x, uint32_t flags, uint32_t index, uint32_t start,
                                    uint32_t count, size_t data)
{
	struct vfio_irq_set *s = arg_alloc(x, sizeof(*s) + data);

	*s = (struct vfio_irq_set){.argsz = sizeof(*s) + data,
	                           .flags = flags,
	                           .index = index,
	                           .start = start,
	                           .count = count};
	return s;
}

/*
 * At connect BAR0's and MSI-X's info came too late: a failure of this
 * side, not the server's answer. The node still comes up, and the first
 * program that needs them asks again and gets them (a call cancelled by a
 * signal caches nothing either); VGA, which the server refuses, stays
 * refused without being asked again.
 */
static void test_info_retried_after_local_failure(void **state)
{
	struct fx *x = *state;
	struct vfio_region_info *ri = arg_alloc(x, sizeof(*ri));
	struct vfio_irq_info *ii = arg_alloc(x, sizeof(*ii));
	struct vreq cancelled = x->r;
	struct vfio_irq_set *s;
	uint32_t v = 0;

	assert_int_equal(tdev_region_info_calls(&x->t, VFIO_PCI_BAR0_REGION_INDEX), 1);
	assert_int_equal(tdev_irq_info_calls(&x->t, VFIO_PCI_MSIX_IRQ_INDEX), 1);
	/* A program's call cut short by a signal is no answer either. */
	cancelled.cancel = vu_cancel_new();
	assert_non_null(cancelled.cancel);
	vu_cancel_fire(cancelled.cancel);
	*ri = (struct vfio_region_info){.argsz = sizeof(*ri), .index = VFIO_PCI_BAR0_REGION_INDEX};
	assert_int_equal(
	    vdev_ioctl(x->d, x->f, &cancelled, VFIO_DEVICE_GET_REGION_INFO, (uintptr_t)ri), -EINTR);
	vu_cancel_free(cancelled.cancel);
	/* A read of BAR0 needs its info first. */
	assert_int_equal(vdev_read(x->d, x->f, &x->r, 0, &v, 4), 4);
	assert_int_equal(tdev_region_info_calls(&x->t, VFIO_PCI_BAR0_REGION_INDEX), 2);
	*ri = (struct vfio_region_info){.argsz = sizeof(*ri), .index = VFIO_PCI_BAR0_REGION_INDEX};
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_int_equal(ri->size, TDEV_BAR0_SIZE);
	assert_int_equal(tdev_region_info_calls(&x->t, VFIO_PCI_BAR0_REGION_INDEX), 2);
	for (int i = 0; i < 2; i++) {
		ri->index = VFIO_PCI_VGA_REGION_INDEX;
		assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), -EINVAL);
	}
	assert_int_equal(tdev_region_info_calls(&x->t, VFIO_PCI_VGA_REGION_INDEX), 1);

	/* SET_IRQS checks its range against the count it now asks for. */
	s = irq_set(x, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
	            VFIO_PCI_MSIX_IRQ_INDEX, TDEV_MSIX_COUNT, 1, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	assert_int_equal(tdev_irq_info_calls(&x->t, VFIO_PCI_MSIX_IRQ_INDEX), 2);
	*ii = (struct vfio_irq_info){.argsz = sizeof(*ii), .index = VFIO_PCI_MSIX_IRQ_INDEX};
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, ii), 0);
	assert_int_equal(ii->count, TDEV_MSIX_COUNT);
	assert_int_equal(tdev_irq_info_calls(&x->t, VFIO_PCI_MSIX_IRQ_INDEX), 2);
}

static void test_set_irqs_invalid(void **state)
{
	struct fx *x = *state;
	uint32_t efd = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	uint32_t none = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	struct vfio_irq_set *s;
	int pipefd[2];
	int32_t *fds;

	s = irq_set(x, none, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, 0);
	s->argsz = sizeof(*s) - 1;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, TDEV_NUM_IRQS, 0, 0, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none | (1u << 6), VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, VFIO_PCI_MSIX_IRQ_INDEX, 1, UINT32_MAX, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, VFIO_PCI_MSIX_IRQ_INDEX, TDEV_MSIX_COUNT, 0, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, VFIO_PCI_MSIX_IRQ_INDEX, TDEV_MSIX_COUNT - 2, 3, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, 0); /* MSI has no vectors */
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x,
	            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
	            VFIO_PCI_INTX_IRQ_INDEX, 0, 1, 1);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	/* The data does not fit argsz. */
	s = irq_set(x, efd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, 4);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	/* No action, or two: vfio-pci finds no handler. */
	s = irq_set(x, VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -ENOTTY);
	s = irq_set(x,
	            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK,
	            VFIO_PCI_INTX_IRQ_INDEX, 0, 1, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -ENOTTY);
	/* An fd the process does not have, and -2 on ERR. */
	s = irq_set(x, efd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, 4);
	fds = (int32_t *)s->data;
	fds[0] = 17;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EBADF);
	s = irq_set(x, efd, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, 4);
	fds = (int32_t *)s->data;
	fds[0] = -2;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	/* An eventfd, then a pipe: EINVAL before the server hears of either. */
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	x->h.fds[3] = eventfd(0, EFD_CLOEXEC);
	x->h.fds[4] = pipefd[0];
	s = irq_set(x, efd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, 8);
	fds = (int32_t *)s->data;
	fds[0] = 3;
	fds[1] = 4;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	close(x->h.fds[3]);
	x->h.fds[3] = x->h.fds[4] = -1;
	close(pipefd[0]);
	close(pipefd[1]);
	/* The data runs off the process's memory. */
	s = (struct vfio_irq_set *)(x->arena + ARENA - sizeof(*s));
	*s = (struct vfio_irq_set){
	    .argsz = sizeof(*s) + 4, .flags = efd, .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 1};
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EFAULT);
	assert_int_equal(x->t.set_irqs_calls, 0);
}

/*
 * A server claiming an IRQ count near 2^32 cannot make SET_IRQS allocate
 * (count * 4 bytes of fds) or pass on what no PCI device has: the count is
 * cut to MSI-X's 2048 vectors, and SET_IRQS checked against that.
 */
static void test_irq_count_lie(void **state)
{
	struct fx *x = *state;
	struct vfio_irq_info *info = arg_alloc(x, sizeof(*info));
	uint32_t none = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	struct vfio_irq_set *s;

	*info = (struct vfio_irq_info){.argsz = sizeof(*info), .index = VFIO_PCI_MSI_IRQ_INDEX};
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, info), 0);
	assert_int_equal(info->count, 2048);
	s = irq_set(x, none, VFIO_PCI_MSI_IRQ_INDEX, 0, 0xfffffff0, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, VFIO_PCI_MSI_IRQ_INDEX, 2040, 9, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX,
	            0, 2049, 2049);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	assert_int_equal(x->t.set_irqs_calls, 0);
	/* The most there is reaches the server (which refuses it: it lied). */
	s = irq_set(x, none, VFIO_PCI_MSI_IRQ_INDEX, 0, 2048, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	assert_int_equal(x->t.set_irqs_calls, 1);
	assert_int_equal(x->t.last_set.count, 2048);
}

static void wait_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	assert_int_equal(poll(&p, 1, 5000), 1);
}

static void test_set_irqs_eventfd(void **state)
{
	struct fx *x = *state;
	int before = count_fds(0);
	int e0 = eventfd(0, EFD_CLOEXEC), e2 = eventfd(0, EFD_CLOEXEC);
	struct vfio_irq_set *s;
	int32_t *fds;
	uint64_t one = 1, v;

	x->h.fds[5] = e0;
	x->h.fds[6] = e2;
	s = irq_set(x, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	            VFIO_PCI_MSIX_IRQ_INDEX, 0, 4, 16);
	fds = (int32_t *)s->data;
	/* Three fds and a hole: batches of at most the server's 2 fds. */
	fds[0] = 5;
	fds[1] = 6;
	fds[2] = -7; /* any negative de-assigns on MSI-X, as in vfio-pci */
	fds[3] = 6;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), 0);
	assert_true(x->t.set_irqs_calls >= 3);
	assert_true(x->t.last_set.nr_fds <= 2);
	assert_true(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 0) >= 0);
	assert_true(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 1) >= 0);
	assert_int_equal(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 2), -1);
	assert_true(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 3) >= 0);

	/* The server's copy is the program's eventfd. */
	assert_int_equal(write(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 3), &one, 8), 8);
	wait_readable(e2);
	assert_int_equal(read(e2, &v, 8), 8);
	assert_int_equal(v, 1);

	/* -1 de-assigns one vector. */
	s = irq_set(x, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	            VFIO_PCI_MSIX_IRQ_INDEX, 1, 1, 4);
	*(int32_t *)s->data = -1;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), 0);
	assert_int_equal(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 1), -1);
	assert_true(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 3) >= 0);

	/* Disable all: the server drops its fds; ours were never kept. */
	s = irq_set(x, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
	            VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), 0);
	assert_int_equal(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 0), -1);
	close(e0);
	close(e2);
	x->h.fds[5] = x->h.fds[6] = -1;
	assert_int_equal(count_fds(0), before);
}

static void test_set_irqs_bool(void **state)
{
	struct fx *x = *state;
	struct vfio_irq_set *s = irq_set(x, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK,
	                                 VFIO_PCI_INTX_IRQ_INDEX, 0, 1, 1);

	s->data[0] = 1;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), 0);
	assert_int_equal(x->t.set_irqs_calls, 1);
	assert_int_equal(x->t.last_set.flags, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK);
	assert_int_equal(x->t.last_set.count, 1);
}

static void test_reset(void **state)
{
	struct fx *x = *state;

	assert_int_equal(io_val(x, VFIO_DEVICE_RESET, 0), 0);
	assert_int_equal(x->t.resets, 1);
}

static void test_reset_unsupported(void **state)
{
	struct fx *x = *state;
	struct vfio_device_info *info = arg_alloc(x, sizeof(*info));

	info->argsz = sizeof(*info);
	assert_int_equal(io(x, VFIO_DEVICE_GET_INFO, info), 0);
	assert_int_equal(info->flags, VFIO_DEVICE_FLAGS_PCI);
	assert_int_equal(io_val(x, VFIO_DEVICE_RESET, 0), -EINVAL);
	assert_int_equal(x->t.resets, 0);
}

static void test_device_feature(void **state)
{
	struct fx *x = *state;
	struct vfio_device_feature *f = arg_alloc(x, sizeof(*f) + 16);

	f->argsz = sizeof(*f) - 1;
	f->flags = VFIO_DEVICE_FEATURE_PROBE;
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -EINVAL);
	f->argsz = sizeof(*f);
	f->flags = VFIO_DEVICE_FEATURE_PROBE | (1u << 19);
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -EINVAL);
	f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -EINVAL);
	f->flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -ENOTTY);
	/* Forwarded: this server has no features at all. */
	f->flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY;
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -ENOTTY);
	f->argsz = sizeof(*f) + 16;
	f->flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN;
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -ENOTTY);
}

static void *page_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static void test_map_dma_invalid(void **state)
{
	struct fx *x = *state;
	uint8_t *buf = page_alloc(4 * PAGE);
	struct vfio_iommu_type1_dma_map *m;

	fake_host_add_map(&x->h, buf, 2 * PAGE, true, true, -1, 0);
	fake_host_add_map(&x->h, buf + 2 * PAGE, PAGE, true, false, -1, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);

	m = arg_alloc(x, sizeof(*m));
	*m = (struct vfio_iommu_type1_dma_map){
	    .argsz = sizeof(*m) - 1, .flags = RW, .vaddr = (uintptr_t)buf, .size = PAGE};
	assert_int_equal(io(x, VFIO_IOMMU_MAP_DMA, m), -EINVAL);
	assert_int_equal(map_dma(x, buf, 0, PAGE, RW | (1u << 3)), -EINVAL);
	assert_int_equal(map_dma(x, buf, 0, PAGE, 0), -EINVAL);
	assert_int_equal(map_dma(x, buf, 0, 0, RW), -EINVAL);
	assert_int_equal(map_dma(x, buf + 1, 0, PAGE, RW), -EINVAL);
	assert_int_equal(map_dma(x, buf, 0x800, PAGE, RW), -EINVAL);
	assert_int_equal(map_dma(x, buf, 0, PAGE + 1, RW), -EINVAL);
	assert_int_equal(map_dma(x, buf, UINT64_MAX - PAGE + 1, 2 * PAGE, RW), -EINVAL);
	/* Not mapped in the process, or not writable for a device write. */
	assert_int_equal(map_dma(x, buf + 3 * PAGE, 0, PAGE, RW), -EFAULT);
	assert_int_equal(map_dma(x, buf + PAGE, 0, 2 * PAGE, RW), -EFAULT);
	assert_int_equal(map_dma(x, buf + 2 * PAGE, 0, PAGE, VFIO_DMA_MAP_FLAG_READ), 0);
	/* Overlaps. */
	assert_int_equal(map_dma(x, buf, 0, PAGE, RW), -EEXIST);
	assert_int_equal(map_dma(x, buf, 0x10000 - PAGE, 2 * PAGE, RW), 0);
	assert_int_equal(map_dma(x, buf, 0x10000, PAGE, RW), -EEXIST);
	/* type1 looks for overlaps before it looks at the memory. */
	assert_int_equal(map_dma(x, buf + 3 * PAGE, 0x10000, PAGE, RW), -EEXIST);
	/* vaddr updates: nothing is ever invalidated. */
	assert_int_equal(map_dma(x, buf, 0x40000, PAGE, VFIO_DMA_MAP_FLAG_VADDR), -ENOENT);
	assert_int_equal(map_dma(x, buf, 0, PAGE, VFIO_DMA_MAP_FLAG_VADDR), -EINVAL);
	assert_int_equal(map_dma(x, buf, 0, PAGE, RW | VFIO_DMA_MAP_FLAG_VADDR), -EINVAL);
	assert_int_equal(tdev_nr_maps(&x->t), 2);
	munmap(buf, 4 * PAGE);
}

static void test_map_dma_pieces(void **state)
{
	struct fx *x = *state;
	int mfd = memfd_create("t", MFD_CLOEXEC);
	uint8_t *buf = page_alloc(4 * PAGE);
	uint64_t done;

	assert_int_equal(ftruncate(mfd, 8 * PAGE), 0);
	/* memfd page at file offset 3 pages, then two anonymous mappings. */
	fake_host_add_map(&x->h, buf, PAGE, true, true, mfd, 3 * PAGE);
	fake_host_add_map(&x->h, buf + PAGE, PAGE, true, true, -1, 0);
	fake_host_add_map(&x->h, buf + 2 * PAGE, 2 * PAGE, true, true, -1, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(map_dma(x, buf, 0x100000, 4 * PAGE, RW), 0);
	assert_int_equal(tdev_nr_maps(&x->t), 2);
	assert_true(x->t.maps[0].fd);
	assert_int_equal(x->t.maps[0].iova, 0x100000);
	assert_int_equal(x->t.maps[0].size, PAGE);
	assert_false(x->t.maps[1].fd);
	assert_int_equal(x->t.maps[1].iova, 0x100000 + PAGE);
	assert_int_equal(x->t.maps[1].size, 3 * PAGE);
	assert_int_equal(x->t.maps[1].flags,
	                 VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE);
	/* One program mapping: unmapped whole, both pieces go. */
	assert_int_equal(unmap_dma(x, 0x100000, 4 * PAGE, 0, &done), 0);
	assert_int_equal(done, 4 * PAGE);
	assert_int_equal(tdev_nr_maps(&x->t), 0);
	assert_int_equal(x->t.unmap_calls, 2);
	munmap(buf, 4 * PAGE);
}

static void test_unmap_dma_v2(void **state)
{
	struct fx *x = *state;
	uint8_t *buf = page_alloc(4 * PAGE);
	uint64_t done = 1;

	fake_host_add_map(&x->h, buf, 4 * PAGE, true, true, -1, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(map_dma(x, buf, 0x10000, 2 * PAGE, RW), 0);
	assert_int_equal(map_dma(x, buf + 2 * PAGE, 0x20000, PAGE, RW), 0);

	assert_int_equal(unmap_dma(x, 0x10000, 0, 0, NULL), -EINVAL);
	assert_int_equal(unmap_dma(x, 0x10001, PAGE, 0, NULL), -EINVAL);
	assert_int_equal(unmap_dma(x, 0x10000, PAGE + 1, 0, NULL), -EINVAL);
	assert_int_equal(unmap_dma(x, UINT64_MAX - PAGE + 1, 2 * PAGE, 0, NULL), -EINVAL);
	/* Bisecting a mapping, at either end. */
	assert_int_equal(unmap_dma(x, 0x10000 + PAGE, PAGE, 0, NULL), -EINVAL);
	assert_int_equal(unmap_dma(x, 0x10000, PAGE, 0, NULL), -EINVAL);
	assert_int_equal(unmap_dma(x, 0, 0x10000 + PAGE, 0, NULL), -EINVAL);
	assert_int_equal(unmap_dma(x, 0x10000, PAGE, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, NULL),
	                 -EINVAL);
	assert_int_equal(unmap_dma(x, 0x10000, 2 * PAGE, VFIO_DMA_UNMAP_FLAG_VADDR, NULL), -EBUSY);
	assert_int_equal(unmap_dma(x, 0x10000, 2 * PAGE, 1u << 3, NULL), -EINVAL);
	assert_int_equal(unmap_dma(x, PAGE, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL), -EINVAL);
	assert_int_equal(unmap_dma(x, 0, PAGE, VFIO_DMA_UNMAP_FLAG_ALL, NULL), -EINVAL);
	assert_int_equal(tdev_nr_maps(&x->t), 2);

	/* Nothing there: success, nothing unmapped. */
	assert_int_equal(unmap_dma(x, 0x40000, PAGE, 0, &done), 0);
	assert_int_equal(done, 0);
	/* A range covering both. */
	assert_int_equal(unmap_dma(x, 0, 0x100000, 0, &done), 0);
	assert_int_equal(done, 3 * PAGE);
	assert_int_equal(tdev_nr_maps(&x->t), 0);

	assert_int_equal(map_dma(x, buf, 0x10000, PAGE, RW), 0);
	assert_int_equal(map_dma(x, buf, 0x30000, PAGE, RW), 0);
	assert_int_equal(unmap_dma(x, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &done), 0);
	assert_int_equal(done, 2 * PAGE);
	assert_int_equal(tdev_nr_maps(&x->t), 0);
	munmap(buf, 4 * PAGE);
}

static void test_unmap_dma_v1(void **state)
{
	struct fx *x = *state;
	uint8_t *buf = page_alloc(4 * PAGE);
	uint64_t done = 1;

	fake_host_add_map(&x->h, buf, 4 * PAGE, true, true, -1, 0);
	set_iommu(x, VFIO_TYPE1_IOMMU);
	assert_int_equal(map_dma(x, buf, 0x10000, 2 * PAGE, RW), 0);
	/* TYPE1: a range starting inside a mapping unmaps nothing... */
	assert_int_equal(unmap_dma(x, 0x10000 + PAGE, PAGE, 0, &done), 0);
	assert_int_equal(done, 0);
	/* ...and one covering its start unmaps all of it. */
	assert_int_equal(unmap_dma(x, 0x10000, PAGE, 0, &done), 0);
	assert_int_equal(done, 2 * PAGE);
	assert_int_equal(tdev_nr_maps(&x->t), 0);
	munmap(buf, 4 * PAGE);
}

/*
 * The last byte of the IOVA space cannot cross the wire (iova + size must
 * not wrap there), so it lies outside the IOVA range the node reports: a
 * mapping reaching it is refused as type1 refuses one outside its ranges,
 * and the mappings just below it map and unmap like any other.
 */
static void test_map_dma_top_of_iova(void **state)
{
	struct fx *x = *state;
	uint8_t *buf = page_alloc(2 * PAGE);
	uint64_t top = UINT64_MAX - PAGE + 1, done = 0;

	fake_host_add_map(&x->h, buf, PAGE, true, true, -1, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(map_dma(x, buf + PAGE, top, PAGE, RW), -EINVAL);
	assert_int_equal(map_dma(x, buf, top, PAGE, RW), -EINVAL);
	assert_int_equal(map_dma(x, buf, top - PAGE, PAGE, RW), 0);
	assert_int_equal(map_dma(x, buf, top - PAGE, PAGE, RW), -EEXIST);
	assert_int_equal(unmap_dma(x, top - PAGE, 2 * PAGE, 0, &done), 0);
	assert_int_equal(done, PAGE);
	assert_int_equal(tdev_nr_maps(&x->t), 0);
	munmap(buf, 2 * PAGE);
}

static void test_map_dma_nospc(void **state)
{
	struct fx *x = *state;
	int mfd = memfd_create("t", MFD_CLOEXEC);
	uint8_t *buf = page_alloc(4 * PAGE);
	struct vfio_iommu_type1_info *info = arg_alloc(x, 128);

	assert_int_equal(ftruncate(mfd, PAGE), 0);
	fake_host_add_map(&x->h, buf, PAGE, true, true, mfd, 0);
	fake_host_add_map(&x->h, buf + PAGE, 3 * PAGE, true, true, -1, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(map_dma(x, buf + PAGE, 0x10000, PAGE, RW), 0);
	/* One server mapping left, two needed (memfd page + anonymous page). */
	assert_int_equal(map_dma(x, buf, 0x20000, 2 * PAGE, RW), -ENOSPC);
	assert_int_equal(map_dma(x, buf + 2 * PAGE, 0x20000, PAGE, RW), 0);
	assert_int_equal(map_dma(x, buf + 3 * PAGE, 0x30000, PAGE, RW), -ENOSPC);
	info->argsz = 128;
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(((struct vfio_iommu_type1_info_dma_avail *)((uint8_t *)info + 24))->avail,
	                 0);
	assert_int_equal(tdev_nr_maps(&x->t), 2);
	munmap(buf, 4 * PAGE);
}

/* The server refuses the second piece of a mapping: its errno reaches the
 * program and the first piece is taken back. */
static void test_map_dma_server_refuses(void **state)
{
	struct fx *x = *state;
	int mfd = memfd_create("t", MFD_CLOEXEC);
	uint8_t *buf = page_alloc((TDEV_MAX_MAPS + 1) * PAGE);
	struct vfio_iommu_type1_info *info = arg_alloc(x, 128);

	assert_int_equal(ftruncate(mfd, PAGE), 0);
	fake_host_add_map(&x->h, buf, PAGE, true, true, mfd, 0);
	fake_host_add_map(&x->h, buf + PAGE, TDEV_MAX_MAPS * PAGE, true, true, -1, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	for (unsigned int i = 0; i < TDEV_MAX_MAPS - 1; i++)
		assert_int_equal(map_dma(x, buf + (i + 2) * PAGE, 0x100000 + i * 0x10000, PAGE, RW),
		                 0);
	assert_int_equal(map_dma(x, buf, 0x10000, 2 * PAGE, RW), -ENOSPC);
	assert_int_equal(tdev_nr_maps(&x->t), TDEV_MAX_MAPS - 1);
	assert_int_equal(x->t.unmap_calls, 1);
	info->argsz = 128;
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(((struct vfio_iommu_type1_info_dma_avail *)((uint8_t *)info + 24))->avail,
	                 64 - (TDEV_MAX_MAPS - 1));
	/* The range is free again. */
	assert_int_equal(map_dma(x, buf + PAGE, 0x10000, PAGE, RW), 0);
	munmap(buf, (TDEV_MAX_MAPS + 1) * PAGE);
}

/* Make the test device DMA by message; returns its errno. */
static int32_t device_dma(struct fx *x, uint64_t iova, uint64_t len, uint64_t dir)
{
	uint64_t a[3] = {iova, len, dir};
	int32_t res;

	assert_int_equal(vdev_write(x->d, x->f, &x->r, TDEV_DMA_DOORBELL, a, sizeof(a)), 24);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, TDEV_DMA_RESULT, &res, 4), 4);
	return res;
}

/*
 * Nothing is reachable before MAP_DMA is complete and valid: while the
 * core checks the memory, a lying server writes the IOVA of its last page,
 * which the process maps read-only, so the map then fails with EFAULT. The
 * write must fail too, and the page keep its bytes.
 */
struct meanwhile {
	struct fx *x;
	uint64_t iova;
	int32_t res;
	bool fired;
};

static void write_meanwhile(void *arg)
{
	struct meanwhile *w = arg;

	if (w->fired)
		return;
	w->fired = true;
	w->res = device_dma(w->x, w->iova, 16, 1);
}

static void test_map_dma_window(void **state)
{
	struct fx *x = *state;
	uint8_t *buf = page_alloc(2 * PAGE), in[16];
	struct meanwhile w = {.x = x, .iova = 0x10000 + PAGE, .res = 1};

	memset(buf, 0x77, 2 * PAGE);
	memset(in, 0xa5, sizeof(in));
	fake_host_add_mem(&x->h, buf, 2 * PAGE);
	fake_host_add_map(&x->h, buf, PAGE, true, true, -1, 0);
	fake_host_add_map(&x->h, buf + PAGE, PAGE, true, false, -1, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(vdev_write(x->d, x->f, &x->r, TDEV_DMA_BUF, in, sizeof(in)), 16);
	x->h.on_mapping = write_meanwhile;
	x->h.on_mapping_arg = &w;
	assert_int_equal(map_dma(x, buf, 0x10000, 2 * PAGE, RW), -EFAULT);
	x->h.on_mapping = NULL;
	assert_true(w.fired);
	assert_int_equal(w.res, -EFAULT);
	for (size_t i = 0; i < 2 * PAGE; i++)
		assert_int_equal(buf[i], 0x77);
	munmap(buf, 2 * PAGE);
}

/*
 * The server's fd of shared memory follows the access the device was
 * granted: a READ mapping of writable shared memory gives a read-only fd
 * (a lying server could otherwise write inside the window and past it), a
 * write-only one none (an fd cannot be mapped write-only).
 */
static void test_map_dma_fd_access(void **state)
{
	struct fx *x = *state;
	int mfd = memfd_create("t", MFD_CLOEXEC);
	uint8_t *buf = page_alloc(3 * PAGE);

	assert_int_equal(ftruncate(mfd, 3 * PAGE), 0);
	fake_host_add_map(&x->h, buf, 3 * PAGE, true, true, mfd, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(map_dma(x, buf, 0x10000, PAGE, VFIO_DMA_MAP_FLAG_READ), 0);
	assert_int_equal(map_dma(x, buf + PAGE, 0x20000, PAGE, RW), 0);
	assert_int_equal(map_dma(x, buf + 2 * PAGE, 0x30000, PAGE, VFIO_DMA_MAP_FLAG_WRITE), 0);
	assert_int_equal(tdev_nr_maps(&x->t), 3);
	assert_true(x->t.maps[0].fd);
	assert_int_equal(x->t.maps[0].fd_mode, O_RDONLY);
	assert_int_equal(x->t.maps[0].flags, VFIO_USER_F_DMA_REGION_READ);
	assert_true(x->t.maps[1].fd);
	assert_int_equal(x->t.maps[1].fd_mode, O_RDWR);
	assert_false(x->t.maps[2].fd);
	assert_int_equal(x->t.maps[2].flags, VFIO_USER_F_DMA_REGION_WRITE);
	munmap(buf, 3 * PAGE);
}

/* With dma_by_message, shared memory goes by message too, and the host is
 * not even asked for a file. */
static void test_map_dma_by_message(void **state)
{
	struct fx *x = *state;
	int mfd = memfd_create("t", MFD_CLOEXEC);
	uint8_t *buf = page_alloc(PAGE);

	assert_int_equal(ftruncate(mfd, PAGE), 0);
	fake_host_add_map(&x->h, buf, PAGE, true, true, mfd, 0);
	fake_host_add_mem(&x->h, buf, PAGE);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(map_dma(x, buf, 0x10000, PAGE, RW), 0);
	assert_int_equal(x->h.last_access, HOST_FD_NONE);
	assert_int_equal(tdev_nr_maps(&x->t), 1);
	assert_false(x->t.maps[0].fd);
	memset(buf, 0x5a, PAGE);
	assert_int_equal(device_dma(x, 0x10000, 16, 0), 0);
	munmap(buf, PAGE);
}

static void test_dma_by_message(void **state)
{
	struct fx *x = *state;
	uint8_t *buf = page_alloc(4 * PAGE), *ro = buf + 2 * PAGE, back[64];

	fill_pattern(buf, 4 * PAGE);
	fake_host_add_mem(&x->h, buf, 4 * PAGE);
	fake_host_add_map(&x->h, buf, 4 * PAGE, true, true, -1, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(map_dma(x, buf, 0x10000, 2 * PAGE, RW), 0);
	assert_int_equal(map_dma(x, ro, 0x12000, PAGE, VFIO_DMA_MAP_FLAG_READ), 0);

	/* Device reads across two mappings, then writes back. */
	assert_int_equal(device_dma(x, 0x12000 - 32, 64, 0), 0);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, TDEV_DMA_BUF, back, 64), 64);
	assert_memory_equal(back, buf + 2 * PAGE - 32, 64);
	assert_int_equal(device_dma(x, 0x10000 + 100, 64, 1), 0);
	assert_memory_equal(buf + 100, back, 64);

	/* Writes to a read-only mapping, or past the end, move nothing. */
	memset(ro, 0x5a, PAGE);
	assert_int_equal(device_dma(x, 0x12000, 16, 1), -EFAULT);
	assert_int_equal(ro[0], 0x5a);
	assert_int_equal(device_dma(x, 0x13000 - 8, 16, 0), -EFAULT);
	assert_int_equal(device_dma(x, 0x50000, 16, 0), -EFAULT);
	assert_int_equal(device_dma(x, 0x10000 - 8, 16, 1), -EFAULT);
	assert_int_equal(buf[0], 1);
	munmap(buf, 4 * PAGE);
}

/*
 * The process that mapped memory exits while the node stays open (a forked
 * child holds it) and its pid goes to another process: the device's DMA
 * must not reach that one. Every mapping holds one pin, dropped with it;
 * a pin is no fd, so the mappings cost the daemon none.
 */
static void test_dma_owner_exited(void **state)
{
	struct fx *x = *state;
	uint8_t *buf = page_alloc(4 * PAGE), back[64];
	int before;

	fill_pattern(buf, 4 * PAGE);
	fake_host_add_mem(&x->h, buf, 4 * PAGE);
	fake_host_add_map(&x->h, buf, 4 * PAGE, true, true, -1, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	before = count_fds(0);
	assert_int_equal(map_dma(x, buf, 0x10000, PAGE, RW), 0);
	assert_int_equal(map_dma(x, buf + PAGE, 0x20000, PAGE, RW), 0);
	assert_int_equal(map_dma(x, buf + 3 * PAGE + PAGE, 0x30000, PAGE, RW), -EFAULT);
	assert_int_equal(count_fds(0), before);
	assert_int_equal(fake_host_pins(&x->h), 2);
	assert_int_equal(device_dma(x, 0x10000, 64, 0), 0);

	fake_host_exit(&x->h, PID);
	memset(buf, 0x5a, 2 * PAGE);
	memset(back, 0xa5, sizeof(back));
	assert_int_equal(vdev_write(x->d, x->f, &x->r, TDEV_DMA_BUF, back, 64), 64);
	assert_int_equal(device_dma(x, 0x10000, 64, 1), -EFAULT);
	assert_int_equal(device_dma(x, 0x20000 + 8, 64, 1), -EFAULT);
	for (size_t i = 0; i < 2 * PAGE; i++)
		assert_int_equal(buf[i], 0x5a);
	assert_int_equal(device_dma(x, 0x20000, 64, 0), -EFAULT);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, TDEV_DMA_BUF, back, 64), 64);
	assert_int_equal(back[0], 0xa5);

	/* What the new process with that pid maps is its own. */
	assert_int_equal(map_dma(x, buf + 2 * PAGE, 0x40000, PAGE, RW), 0);
	assert_int_equal(fake_host_pins(&x->h), 3);
	assert_int_equal(device_dma(x, 0x40000, 64, 1), 0);
	assert_memory_equal(buf + 2 * PAGE, back, 64);

	assert_int_equal(unmap_dma(x, 0x10000, PAGE, 0, NULL), 0);
	assert_int_equal(fake_host_pins(&x->h), 2);
	assert_int_equal(unmap_dma(x, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL), 0);
	assert_int_equal(fake_host_pins(&x->h), 0);
	assert_int_equal(map_dma(x, buf, 0x10000, PAGE, RW), 0);
	vdev_release(x->d, x->f);
	x->f = NULL;
	assert_int_equal(fake_host_pins(&x->h), 0);
	assert_int_equal(count_fds(0), before);
	munmap(buf, 4 * PAGE);
}

static void test_region_rw(void **state)
{
	struct fx *x = *state;
	uint64_t bar2 = (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40;
	uint64_t rom = (uint64_t)VFIO_PCI_ROM_REGION_INDEX << 40;
	uint64_t cfg = (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;
	uint8_t in[64], out[64];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i + 3);
	assert_int_equal(vdev_write(x->d, x->f, &x->r, 0x40, in, 64), 64);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, 0x40, out, 64), 64);
	assert_memory_equal(in, out, 64);
	assert_int_equal(vdev_write(x->d, x->f, &x->r, bar2 + TDEV_BAR2_SIZE - 8, in, 8), 8);
	/* Crossing a BAR's end: cut short, as vfio-pci does. */
	assert_int_equal(vdev_read(x->d, x->f, &x->r, bar2 + TDEV_BAR2_SIZE - 8, out, 64), 8);
	assert_memory_equal(in, out, 8);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, bar2 + TDEV_BAR2_SIZE, out, 1), -EINVAL);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, TDEV_BAR0_SIZE, out, 4), -EINVAL);
	/* Absent BAR, missing region, refused region. */
	assert_int_equal(
	    vdev_read(x->d, x->f, &x->r, (uint64_t)VFIO_PCI_BAR3_REGION_INDEX << 40, out, 4),
	    -EINVAL);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, (uint64_t)TDEV_NUM_REGIONS << 40, out, 4),
	                 -EINVAL);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, UINT64_MAX, out, 4), -EINVAL);
	assert_int_equal(
	    vdev_read(x->d, x->f, &x->r, (uint64_t)VFIO_PCI_VGA_REGION_INDEX << 40, out, 4),
	    -EINVAL);
	/* ROM: read-only. */
	assert_int_equal(vdev_read(x->d, x->f, &x->r, rom + 16, out, 4), 4);
	assert_int_equal(out[0], (uint8_t)(16 * 7));
	assert_int_equal(vdev_write(x->d, x->f, &x->r, rom, in, 4), -EINVAL);
	/* Config space: whole access inside, else EFAULT. */
	assert_int_equal(vdev_write(x->d, x->f, &x->r, cfg + 0x40, in, 4), 4);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, cfg + 0x40, out, 4), 4);
	assert_memory_equal(in, out, 4);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, cfg + TDEV_CFG_SIZE - 2, out, 4), -EFAULT);
	assert_int_equal(vdev_write(x->d, x->f, &x->r, cfg + TDEV_CFG_SIZE, in, 1), -EFAULT);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, 0, out, 0), 0);
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
	struct vu_log log = {.level = VU_LOG_ERR, .fn = quiet};
	struct vdev_config cfg = {
	    .name = "t", .server = "/nonexistent/vuc.sock", .timeout_ms = 1000, .log = &log};
	struct vdev *d = NULL;

	fake_host_init(&h);
	cfg.host = fake_host_ops(&h);
	assert_true(vdev_create(&cfg, &d) < 0);
	assert_null(d);
}

#define T(fn)         cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
#define T_WITH(fn, s) cmocka_unit_test_setup_teardown(fn, s, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_api_version_and_extensions),
	    T(test_requests_leave_reconnect_thread_asleep),
	    T_WITH(test_bar_writes_posted, fx_setup_twin),
	    T(test_bar_writes_wait_without_twin),
	    T(test_unknown_ioctl_and_bad_pointer),
	    T(test_set_iommu),
	    T(test_group_status),
	    T(test_iommu_get_info),
	    T(test_device_get_info),
	    T(test_region_info),
	    T(test_irq_info),
	    T(test_set_irqs_invalid),
	    T_WITH(test_irq_count_lie, fx_setup_lying),
	    T(test_set_irqs_eventfd),
	    T(test_set_irqs_bool),
	    T(test_reset),
	    T_WITH(test_reset_unsupported, fx_setup_noreset),
	    T(test_device_feature),
	    T(test_map_dma_invalid),
	    T(test_map_dma_pieces),
	    T(test_map_dma_fd_access),
	    T(test_map_dma_window),
	    T_WITH(test_map_dma_by_message, fx_setup_by_message),
	    T(test_unmap_dma_v2),
	    T(test_unmap_dma_v1),
	    T(test_map_dma_top_of_iova),
	    T_WITH(test_map_dma_nospc, fx_setup_twomaps),
	    T_WITH(test_map_dma_server_refuses, fx_setup_bigcaps),
	    T(test_dma_by_message),
	    T(test_dma_owner_exited),
	    T(test_region_rw),
	    T(test_owner),
	    T(test_release_cleanup),
	    T(test_server_gone_and_back),
	    T(test_cancelled),
	    T(test_threads_pipeline),
	    cmocka_unit_test(test_create_unreachable),
	    T_WITH(test_info_retried_after_local_failure, fx_setup_slow_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
