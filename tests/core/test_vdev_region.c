// SPDX-License-Identifier: MIT
/*
 * Region reads and writes: posted BAR writes with twin sockets, writes
 * that wait without, the bounds of each region.
 * The fixture: vdev_fx.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto/client.h"
#include "util.h"
#include "vdev_fx.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T_WITH(test_bar_writes_posted, fx_setup_twin),
	    T(test_bar_writes_wait_without_twin),
	    T(test_region_rw),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
