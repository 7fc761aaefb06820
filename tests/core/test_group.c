// SPDX-License-Identifier: MIT
/*
 * The legacy model, driven directly: a container (container.h) and the
 * groups of two devices, each on its own recording vfio-user server in a
 * thread (tests/support/tdev.c), a fake process (fake_host.c) whose fd
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
#include "two_devs.h"

#define PAGE         TWO_DEVS_PAGE
#define CONTAINER_FD 7
#define OTHER_FD     8

struct fx {
	struct two_devs w;
	struct vfile *g[2]; /* group files */
	struct container *k;
};

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

static void hook(struct vdev_config *cfg, void *arg)
{
	cfg->container_get = resolve;
	cfg->iommufd_arg = arg;
}

static int fx_setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct container_config kcfg = {.name = "vfio"};

	assert_non_null(x);
	two_devs_start(&x->w, hook, x);
	kcfg.host = fake_host_ops(&x->w.h);
	kcfg.log = &x->w.log;
	assert_int_equal(container_create(&kcfg, &x->k), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(vdev_open(x->w.d[i], &x->w.r, VFILE_GROUP, &x->g[i]), 0);
	*state = x;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *x = *state;

	for (int i = 0; i < 2; i++)
		if (x->g[i])
			vdev_release(x->w.d[i], x->g[i]);
	two_devs_stop(&x->w);
	if (x->k)
		container_put(x->k);
	free(x);
	return 0;
}

static void *arg_alloc(struct fx *x, size_t len)
{
	return two_devs_arg(&x->w, len);
}

static long g_io(struct fx *x, int i, unsigned int cmd, const void *arg)
{
	return vdev_ioctl(x->w.d[i], x->g[i], &x->w.r, cmd, (uintptr_t)arg);
}

static long k_io(struct fx *x, unsigned int cmd, const void *arg)
{
	return container_file_ioctl(x->k, &x->w.r, cmd, (uintptr_t)arg);
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
	assert_int_equal(
	    (int)container_file_ioctl(x->k, &x->w.r, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -EINVAL);
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
	assert_int_equal(map_dma(x, x->w.dma, 0x100000, PAGE), -EINVAL);
	assert_int_equal((int)container_file_ioctl(x->k, &x->w.r, 0x3b99, 0), -EINVAL);
	assert_int_equal((int)container_file_ioctl(x->k, &x->w.r, VFIO_SET_IOMMU, 7), -ENODEV);
	assert_int_equal(
	    (int)container_file_ioctl(x->k, &x->w.r, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
	assert_int_equal(
	    (int)container_file_ioctl(x->k, &x->w.r, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -EINVAL);
	assert_int_equal((int)container_file_ioctl(x->k, &x->w.r, 0x3b99, 0), -ENOTTY);
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

	assert_int_equal(vdev_open(x->w.d[0], &x->w.r, VFILE_GROUP, &f), -EBUSY);
	assert_int_equal(vdev_open(x->w.d[0], &x->w.r, VFILE_NODE, &f), -EBUSY);
	vdev_release(x->w.d[0], x->g[0]);
	x->g[0] = NULL;
	assert_int_equal(vdev_open(x->w.d[0], &x->w.r, VFILE_NODE, &f), 0);
	assert_int_equal(vdev_open(x->w.d[0], &x->w.r, VFILE_GROUP, &x->g[0]), -EBUSY);
	vdev_release(x->w.d[0], f);
}

/* Two groups in one container, two servers: a mapping reaches both; a
 * group set later gets what is there; UNSET with mappings live takes them
 * back from that server; the last group out unsets the container. */
static void test_two_groups(void **state)
{
	struct fx *x = *state;

	assert_int_equal(set_container(x, 0, CONTAINER_FD), 0);
	assert_int_equal(
	    (int)container_file_ioctl(x->k, &x->w.r, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
	assert_int_equal(map_dma(x, x->w.dma, 0x100000, PAGE), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 1);
	assert_int_equal(set_container(x, 1, CONTAINER_FD), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[1]), 1);
	assert_int_equal(map_dma(x, x->w.dma + PAGE, 0x200000, PAGE), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 2);
	assert_int_equal(tdev_nr_maps(&x->w.t[1]), 2);
	assert_int_equal(g_io(x, 1, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[1]), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 2);
	/* Closing the container file leaves it to its groups. */
	container_put(x->k);
	x->k = NULL;
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 2);
	vdev_release(x->w.d[0], x->g[0]);
	x->g[0] = NULL;
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 0);
}

/* The last group out takes the IOMMU with it: MAP_DMA is EINVAL again. */
static void test_last_group_unsets(void **state)
{
	struct fx *x = *state;

	assert_int_equal(set_container(x, 0, CONTAINER_FD), 0);
	assert_int_equal((int)container_file_ioctl(x->k, &x->w.r, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU),
	                 0);
	assert_int_equal(map_dma(x, x->w.dma, 0x100000, PAGE), 0);
	assert_int_equal(g_io(x, 0, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 0);
	assert_int_equal(map_dma(x, x->w.dma, 0x100000, PAGE), -EINVAL);
	assert_int_equal(set_container(x, 0, CONTAINER_FD), 0);
	assert_int_equal((int)container_file_ioctl(x->k, &x->w.r, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU),
	                 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 0);
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
