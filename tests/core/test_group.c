// SPDX-License-Identifier: MIT
/*
 * The legacy model, driven directly: a container (container.h) and the
 * groups of two devices, each on its own recording vfio-user server in a
 * thread (test_device.c), a fake process (fake_host.c) whose fd
 * CONTAINER_FD is the container, as the daemon's container node would
 * resolve it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/vfio.h>

#include "core/container.h"
#include "core/vdev.h"
#include "fake_host.h"
#include "test_device.h"

#define PID          1000
#define ARENA        (64u << 10)
#define PAGE         4096u
#define CONTAINER_FD 7
#define OTHER_FD     8

struct fx {
	struct tdev t[2];
	struct fake_host h;
	struct vu_log log;
	struct vdev *d[2];
	struct vfile *g[2]; /* group files */
	struct container *k;
	struct vreq r;
	uint8_t *arena;
	size_t used;
	uint8_t *dma;
};

static void quiet(void *arg, enum vu_log_level lvl, const char *line)
{
}

static int resolve(void *arg, pid_t pid, int fd, struct container **out)
{
	struct fx *x = arg;

	if (fd == CONTAINER_FD) {
		container_get(x->k);
		*out = x->k;
		return 0;
	}
	return fd == OTHER_FD ? -EINVAL : -EBADF;
}

static int fx_setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct container_config kcfg = {.name = "vfio"};

	assert_non_null(x);
	fake_host_init(&x->h);
	x->arena = aligned_alloc(PAGE, ARENA);
	memset(x->arena, 0, ARENA);
	fake_host_add_mem(&x->h, x->arena, ARENA);
	x->dma = aligned_alloc(PAGE, 4 * PAGE);
	memset(x->dma, 0, 4 * PAGE);
	fake_host_add_mem(&x->h, x->dma, 4 * PAGE);
	fake_host_add_map(&x->h, x->dma, 4 * PAGE, true, true, -1, 0);
	x->log = (struct vu_log){.level = getenv("VUC_TEST_VERBOSE") ? VU_LOG_DEBUG : VU_LOG_ERR,
	                         .fn = getenv("VUC_TEST_VERBOSE") ? NULL : quiet};
	kcfg.host = fake_host_ops(&x->h);
	kcfg.log = &x->log;
	assert_int_equal(container_create(&kcfg, &x->k), 0);
	for (int i = 0; i < 2; i++) {
		struct vdev_config cfg = {.name = i ? "b" : "a",
		                          .timeout_ms = 2000,
		                          .host = fake_host_ops(&x->h),
		                          .log = &x->log,
		                          .container_get = resolve,
		                          .iommufd_arg = x};

		assert_int_equal(tdev_start(&x->t[i], true, 16), 0);
		cfg.server = x->t[i].path;
		assert_int_equal(vdev_create(&cfg, &x->d[i]), 0);
	}
	x->r = (struct vreq){.pid = PID, .tid = PID};
	for (int i = 0; i < 2; i++)
		assert_int_equal(vdev_open(x->d[i], &x->r, VFILE_GROUP, &x->g[i]), 0);
	*state = x;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *x = *state;

	for (int i = 0; i < 2; i++) {
		if (x->g[i])
			vdev_release(x->d[i], x->g[i]);
		vdev_destroy(x->d[i]);
		tdev_stop(&x->t[i]);
	}
	if (x->k)
		container_put(x->k);
	fake_host_fini(&x->h);
	free(x->dma);
	free(x->arena);
	free(x);
	return 0;
}

static void *arg_alloc(struct fx *x, size_t len)
{
	void *p = x->arena + x->used;

	x->used += (len + 15) & ~(size_t)15;
	assert_true(x->used <= ARENA);
	memset(p, 0, len);
	return p;
}

static long g_io(struct fx *x, int i, unsigned int cmd, const void *arg)
{
	return vdev_ioctl(x->d[i], x->g[i], &x->r, cmd, (uintptr_t)arg);
}

static long k_io(struct fx *x, unsigned int cmd, const void *arg)
{
	return container_file_ioctl(x->k, &x->r, cmd, (uintptr_t)arg);
}

static long set_container(struct fx *x, int i, int32_t fd)
{
	int32_t *p = arg_alloc(x, sizeof(*p));

	*p = fd;
	return g_io(x, i, VFIO_GROUP_SET_CONTAINER, p);
}

static long get_device_fd(struct fx *x, int i, const char *name)
{
	char *p = arg_alloc(x, strlen(name) + 1);

	strcpy(p, name);
	return g_io(x, i, VFIO_GROUP_GET_DEVICE_FD, p);
}

static uint32_t status(struct fx *x, int i)
{
	struct vfio_group_status *s = arg_alloc(x, sizeof(*s));

	s->argsz = sizeof(*s);
	assert_int_equal(g_io(x, i, VFIO_GROUP_GET_STATUS, s), 0);
	return s->flags;
}

static long map_dma(struct fx *x, void *va, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map *m = arg_alloc(x, sizeof(*m));

	*m = (struct vfio_iommu_type1_dma_map){.argsz = sizeof(*m),
	                                       .flags =
	                                           VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	                                       .vaddr = (uintptr_t)va,
	                                       .iova = iova,
	                                       .size = size};
	return k_io(x, VFIO_IOMMU_MAP_DMA, m);
}

/* The kernel's group rules, each misuse with its errno. */
static void test_group_rules(void **state)
{
	struct fx *x = *state;
	struct vfio_device_info *info = arg_alloc(x, sizeof(*info));

	assert_int_equal(status(x, 0), VFIO_GROUP_FLAGS_VIABLE);
	assert_int_equal((int)container_file_ioctl(x->k, &x->r, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU),
	                 -EINVAL);
	assert_int_equal(get_device_fd(x, 0, "a"), -EINVAL);
	info->argsz = sizeof(*info);
	assert_int_equal(g_io(x, 0, VFIO_DEVICE_GET_INFO, info), -ENOTTY);
	assert_int_equal(g_io(x, 0, VFIO_GROUP_UNSET_CONTAINER, NULL), -EINVAL);
	assert_int_equal(set_container(x, 0, 20), -EBADF);
	assert_int_equal(set_container(x, 0, -1), -EBADF);
	assert_int_equal(set_container(x, 0, OTHER_FD), -EINVAL);
	assert_int_equal(set_container(x, 0, CONTAINER_FD), 0);
	assert_int_equal(status(x, 0), VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	assert_int_equal(set_container(x, 0, CONTAINER_FD), -EINVAL);
	assert_int_equal(get_device_fd(x, 0, "a"), -EINVAL); /* no IOMMU yet */
	assert_int_equal(map_dma(x, x->dma, 0x100000, PAGE), -EINVAL);
	assert_int_equal((int)container_file_ioctl(x->k, &x->r, 0x3b99, 0), -EINVAL);
	assert_int_equal((int)container_file_ioctl(x->k, &x->r, VFIO_SET_IOMMU, 7), -ENODEV);
	assert_int_equal((int)container_file_ioctl(x->k, &x->r, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU),
	                 0);
	assert_int_equal((int)container_file_ioctl(x->k, &x->r, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU),
	                 -EINVAL);
	assert_int_equal((int)container_file_ioctl(x->k, &x->r, 0x3b99, 0), -ENOTTY);
	assert_int_equal(get_device_fd(x, 0, "b"), -ENODEV);
	assert_int_equal(get_device_fd(x, 0, "a"), FAKE_IOCTL_FD);
	assert_int_equal(g_io(x, 0, VFIO_DEVICE_GET_INFO, info), 0);
	assert_int_equal(info->num_regions, TDEV_NUM_REGIONS);
	assert_int_equal(g_io(x, 0, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
}

/* One group open at a time; the one-fd node and the group exclude each
 * other. */
static void test_group_excl(void **state)
{
	struct fx *x = *state;
	struct vfile *f;

	assert_int_equal(vdev_open(x->d[0], &x->r, VFILE_GROUP, &f), -EBUSY);
	assert_int_equal(vdev_open(x->d[0], &x->r, VFILE_NODE, &f), -EBUSY);
	vdev_release(x->d[0], x->g[0]);
	x->g[0] = NULL;
	assert_int_equal(vdev_open(x->d[0], &x->r, VFILE_NODE, &f), 0);
	assert_int_equal(vdev_open(x->d[0], &x->r, VFILE_GROUP, &x->g[0]), -EBUSY);
	vdev_release(x->d[0], f);
}

/* Two groups in one container, two servers: a mapping reaches both; a
 * group set later gets what is there; UNSET with mappings live takes them
 * back from that server; the last group out unsets the container. */
static void test_two_groups(void **state)
{
	struct fx *x = *state;

	assert_int_equal(set_container(x, 0, CONTAINER_FD), 0);
	assert_int_equal((int)container_file_ioctl(x->k, &x->r, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU),
	                 0);
	assert_int_equal(map_dma(x, x->dma, 0x100000, PAGE), 0);
	assert_int_equal(tdev_nr_maps(&x->t[0]), 1);
	assert_int_equal(set_container(x, 1, CONTAINER_FD), 0);
	assert_int_equal(tdev_nr_maps(&x->t[1]), 1);
	assert_int_equal(map_dma(x, x->dma + PAGE, 0x200000, PAGE), 0);
	assert_int_equal(tdev_nr_maps(&x->t[0]), 2);
	assert_int_equal(tdev_nr_maps(&x->t[1]), 2);
	assert_int_equal(g_io(x, 1, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	assert_int_equal(tdev_nr_maps(&x->t[1]), 0);
	assert_int_equal(tdev_nr_maps(&x->t[0]), 2);
	/* Closing the container file leaves it to its groups. */
	container_put(x->k);
	x->k = NULL;
	assert_int_equal(tdev_nr_maps(&x->t[0]), 2);
	vdev_release(x->d[0], x->g[0]);
	x->g[0] = NULL;
	assert_int_equal(tdev_nr_maps(&x->t[0]), 0);
}

/* The last group out takes the IOMMU with it: MAP_DMA is EINVAL again. */
static void test_last_group_unsets(void **state)
{
	struct fx *x = *state;

	assert_int_equal(set_container(x, 0, CONTAINER_FD), 0);
	assert_int_equal((int)container_file_ioctl(x->k, &x->r, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU),
	                 0);
	assert_int_equal(map_dma(x, x->dma, 0x100000, PAGE), 0);
	assert_int_equal(g_io(x, 0, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	assert_int_equal(tdev_nr_maps(&x->t[0]), 0);
	assert_int_equal(map_dma(x, x->dma, 0x100000, PAGE), -EINVAL);
	assert_int_equal(set_container(x, 0, CONTAINER_FD), 0);
	assert_int_equal((int)container_file_ioctl(x->k, &x->r, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU),
	                 0);
	assert_int_equal(tdev_nr_maps(&x->t[0]), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_group_rules, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_group_excl, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_two_groups, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_last_group_unsets, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
