// SPDX-License-Identifier: MIT
/*
 * The type1 IOMMU: DMA maps and unmaps as they reach the server, and the
 * server's DMA by message into the process's memory.
 * The fixture: vdev_fx.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "proto/client.h"
#include "util.h"
#include "vdev_fx.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
