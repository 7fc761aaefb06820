// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "vdev_fx.h"

#define SLOW_TIMEOUT_MS 400

void fx_quiet(void *arg, enum vu_log_level lvl, const char *line)
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
	                         .fn = getenv("VUC_TEST_VERBOSE") ? NULL : fx_quiet};
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

int fx_setup(void **state)
{
	return fx_setup_with(state, true, 16);
}

/* At connect, BAR0's info and MSI-X's come later than the node waits. */
static void slow_info(struct tdev *t)
{
	t->slow_region_once = true;
	t->slow_region = VFIO_PCI_BAR0_REGION_INDEX;
	t->slow_irq_once = true;
	t->slow_irq = VFIO_PCI_MSIX_IRQ_INDEX;
	t->slow_ms = SLOW_TIMEOUT_MS * 3 / 2;
}

int fx_setup_slow_info(void **state)
{
	return fx_setup_full(state, true, 16, SLOW_TIMEOUT_MS, slow_info);
}

static void twin(struct tdev *t)
{
	t->twin = true;
}

/* A server offering twin-socket mode, where BAR writes are posted. */
int fx_setup_twin(void **state)
{
	return fx_setup_full(state, true, 16, 2000, twin);
}

int fx_setup_noreset(void **state)
{
	return fx_setup_with(state, false, 16);
}

int fx_setup_twomaps(void **state)
{
	return fx_setup_with(state, true, 2);
}

/* The server offers more mappings than the device holds (TDEV_MAX_MAPS). */
int fx_setup_bigcaps(void **state)
{
	return fx_setup_with(state, true, 64);
}

/* The daemon's --dma-by-message: no fd of program memory reaches the server. */
int fx_setup_by_message(void **state)
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

int fx_setup_lying(void **state)
{
	return fx_setup_full(state, true, 16, 2000, lie_about_msi);
}

int fx_teardown(void **state)
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
void *arg_alloc(struct fx *x, size_t len)
{
	void *p = x->arena + x->used;

	x->used += (len + 15) & ~(size_t)15;
	assert_true(x->used <= ARENA);
	memset(p, 0, len);
	return p;
}

long io(struct fx *x, unsigned int cmd, const void *arg)
{
	return vdev_ioctl(x->d, x->f, &x->r, cmd, (uintptr_t)arg);
}

long io_val(struct fx *x, unsigned int cmd, uint64_t val)
{
	return vdev_ioctl(x->d, x->f, &x->r, cmd, val);
}

void set_iommu(struct fx *x, uint32_t type)
{
	assert_int_equal(io_val(x, VFIO_SET_IOMMU, type), 0);
}

long map_dma(struct fx *x, void *vaddr, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map *m = arg_alloc(x, sizeof(*m));

	*m = (struct vfio_iommu_type1_dma_map){.argsz = sizeof(*m),
	                                       .flags = flags,
	                                       .vaddr = (uintptr_t)vaddr,
	                                       .iova = iova,
	                                       .size = size};
	return io(x, VFIO_IOMMU_MAP_DMA, m);
}

long unmap_dma(struct fx *x, uint64_t iova, uint64_t size, uint32_t flags, uint64_t *done)
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

void fill_pattern(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + 1);
}

struct vfio_irq_set *irq_set(struct fx *x, uint32_t flags, uint32_t index, uint32_t start,
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

void *page_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

/* Make the test device DMA by message; returns its errno. */
int32_t device_dma(struct fx *x, uint64_t iova, uint64_t len, uint64_t dir)
{
	uint64_t a[3] = {iova, len, dir};
	int32_t res;

	assert_int_equal(vdev_write(x->d, x->f, &x->r, TDEV_DMA_DOORBELL, a, sizeof(a)), 24);
	assert_int_equal(vdev_read(x->d, x->f, &x->r, TDEV_DMA_RESULT, &res, 4), 4);
	return res;
}
