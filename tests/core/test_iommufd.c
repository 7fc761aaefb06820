// SPDX-License-Identifier: MIT
/*
 * The iommufd context and the device cdev, driven directly: two recording
 * vfio-user servers in threads (tests/support/tdev.c), one device each, a fake
 * process (fake_host.c) whose fd IOMMUFD_FD is an iommufd context, as the
 * daemon's iommufd node would resolve it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "compat/vfio-uapi.h"
#include "core/iommufd.h"
#include "core/vdev.h"
#include "two_devs.h"

#define PAGE       TWO_DEVS_PAGE
#define IOMMUFD_FD 7
#define OTHER_FD   8

struct fx {
	struct two_devs w;
	struct vfile *f[2]; /* device cdev files */
	struct iommufd *ictx;
};

/* What the daemon does for BIND: the fake process's IOMMUFD_FD is the
 * context, OTHER_FD some other file, anything else no fd. */
static int resolve(void *arg, pid_t pid, int fd, struct iommufd **out)
{
	struct fx *x = arg;

	if (fd == IOMMUFD_FD) {
		iommufd_get(x->ictx);
		*out = x->ictx;
		return 0;
	}
	return fd == OTHER_FD ? -EBADFD : -EBADF;
}

static void hook(struct vdev_config *cfg, void *arg)
{
	cfg->iommufd_get = resolve;
	cfg->iommufd_arg = arg;
}

static int fx_setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct iommufd_config icfg = {.name = "iommu"};

	assert_non_null(x);
	two_devs_start(&x->w, hook, x);
	icfg.host = fake_host_ops(&x->w.h);
	icfg.log = &x->w.log;
	assert_int_equal(iommufd_create(&icfg, &x->ictx), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(vdev_open(x->w.d[i], &x->w.r, VFILE_CDEV, &x->f[i]), 0);
	*state = x;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *x = *state;

	for (int i = 0; i < 2; i++)
		if (x->f[i])
			vdev_release(x->w.d[i], x->f[i]);
	two_devs_stop(&x->w);
	if (x->ictx)
		iommufd_put(x->ictx);
	free(x);
	return 0;
}

static void *arg_alloc(struct fx *x, size_t len)
{
	return two_devs_arg(&x->w, len);
}

static long dev_io(struct fx *x, int i, unsigned int cmd, const void *arg)
{
	return vdev_ioctl(x->w.d[i], x->f[i], &x->w.r, cmd, (uintptr_t)arg);
}

static long fd_io(struct fx *x, unsigned int cmd, const void *arg)
{
	return iommufd_ioctl(x->ictx, &x->w.r, cmd, (uintptr_t)arg);
}

static long bind(struct fx *x, int i, int fd, uint32_t *devid)
{
	struct vfio_device_bind_iommufd *b = arg_alloc(x, sizeof(*b));
	long ret;

	*b = (struct vfio_device_bind_iommufd){.argsz = sizeof(*b), .iommufd = fd};
	ret = dev_io(x, i, VFIO_DEVICE_BIND_IOMMUFD, b);
	if (devid)
		*devid = b->out_devid;
	return ret;
}

static uint32_t ioas_alloc(struct fx *x)
{
	struct iommu_ioas_alloc *a = arg_alloc(x, sizeof(*a));

	a->size = sizeof(*a);
	assert_int_equal(fd_io(x, IOMMU_IOAS_ALLOC, a), 0);
	assert_true(a->out_ioas_id > 0);
	return a->out_ioas_id;
}

static long attach(struct fx *x, int i, uint32_t pt_id)
{
	struct vfio_device_attach_iommufd_pt *a = arg_alloc(x, sizeof(*a));

	*a = (struct vfio_device_attach_iommufd_pt){.argsz = sizeof(*a), .pt_id = pt_id};
	return dev_io(x, i, VFIO_DEVICE_ATTACH_IOMMUFD_PT, a);
}

static long detach(struct fx *x, int i)
{
	struct vfio_device_detach_iommufd_pt *a = arg_alloc(x, sizeof(*a));

	*a = (struct vfio_device_detach_iommufd_pt){.argsz = sizeof(*a)};
	return dev_io(x, i, VFIO_DEVICE_DETACH_IOMMUFD_PT, a);
}

static long ioas_map(struct fx *x, uint32_t ioas, void *va, uint64_t iova, uint64_t len,
                     uint32_t flags)
{
	struct iommu_ioas_map *m = arg_alloc(x, sizeof(*m));

	*m = (struct iommu_ioas_map){.size = sizeof(*m),
	                             .flags = flags,
	                             .ioas_id = ioas,
	                             .user_va = (uintptr_t)va,
	                             .length = len,
	                             .iova = iova};
	return fd_io(x, IOMMU_IOAS_MAP, m);
}

#define RW       (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define FIXED_RW (IOMMU_IOAS_MAP_FIXED_IOVA | RW)

static long ioas_unmap(struct fx *x, uint32_t ioas, uint64_t iova, uint64_t len, uint64_t *unmapped)
{
	struct iommu_ioas_unmap *u = arg_alloc(x, sizeof(*u));
	long ret;

	*u = (struct iommu_ioas_unmap){
	    .size = sizeof(*u), .ioas_id = ioas, .iova = iova, .length = len};
	ret = fd_io(x, IOMMU_IOAS_UNMAP, u);
	if (unmapped)
		*unmapped = u->length;
	return ret;
}

static void bind_both(struct fx *x)
{
	uint32_t a, b;

	assert_int_equal(bind(x, 0, IOMMUFD_FD, &a), 0);
	assert_int_equal(bind(x, 1, IOMMUFD_FD, &b), 0);
	assert_true(a > 0 && b > 0 && a != b);
}

/* Before BIND a device cdev answers EINVAL to everything else, reads too. */
static void test_before_bind(void **state)
{
	struct fx *x = *state;
	struct vfio_device_info *info = arg_alloc(x, sizeof(*info));
	uint8_t buf[4];

	info->argsz = sizeof(*info);
	assert_int_equal(dev_io(x, 0, VFIO_DEVICE_GET_INFO, info), -EINVAL);
	assert_int_equal(attach(x, 0, 1), -EINVAL);
	assert_int_equal(vdev_read(x->w.d[0], x->f[0], &x->w.r, 7ull << 40, buf, 4), -EINVAL);
	assert_int_equal(dev_io(x, 0, 0x3b99, info), -EINVAL);
}

/* vfio_df_ioctl_bind_iommufd's errnos: flags, a negative fd, no such fd,
 * not an iommufd, bound twice. */
static void test_bind_errors(void **state)
{
	struct fx *x = *state;
	struct vfio_device_bind_iommufd *b = arg_alloc(x, sizeof(*b));
	struct vfio_device_info *info = arg_alloc(x, sizeof(*info));
	struct vfile *again;
	uint32_t devid;

	*b = (struct vfio_device_bind_iommufd){
	    .argsz = sizeof(*b), .flags = 1, .iommufd = IOMMUFD_FD};
	assert_int_equal(dev_io(x, 0, VFIO_DEVICE_BIND_IOMMUFD, b), -EINVAL);
	*b = (struct vfio_device_bind_iommufd){.argsz = 8, .iommufd = IOMMUFD_FD};
	assert_int_equal(dev_io(x, 0, VFIO_DEVICE_BIND_IOMMUFD, b), -EINVAL);
	assert_int_equal(bind(x, 0, -1, NULL), -EINVAL);
	assert_int_equal(bind(x, 0, 20, NULL), -EBADF);
	assert_int_equal(bind(x, 0, OTHER_FD, NULL), -EBADFD);
	assert_int_equal(bind(x, 0, IOMMUFD_FD, &devid), 0);
	assert_int_equal(bind(x, 0, IOMMUFD_FD, NULL), -EINVAL);
	/* Another open of the cdev cannot bind the device too. */
	assert_int_equal(vdev_open(x->w.d[0], &x->w.r, VFILE_CDEV, &again), 0);
	assert_int_equal(
	    vdev_ioctl(x->w.d[0], again, &x->w.r, VFIO_DEVICE_BIND_IOMMUFD, (uintptr_t)b), -EINVAL);
	/* The one-fd node is busy while the cdev has the device. */
	{
		struct vfile *node;

		assert_int_equal(vdev_open(x->w.d[0], &x->w.r, VFILE_NODE, &node), -EBUSY);
	}
	vdev_release(x->w.d[0], again);
	info->argsz = sizeof(*info);
	assert_int_equal(dev_io(x, 0, VFIO_DEVICE_GET_INFO, info), 0);
	assert_int_equal(info->num_regions, TDEV_NUM_REGIONS);
}

/* While the one-fd node is open the cdev cannot bind (a group holds the
 * device: vfio_device_block_group). */
static void test_bind_node_busy(void **state)
{
	struct fx *x = *state;
	struct vfile *node;

	assert_int_equal(vdev_open(x->w.d[0], &x->w.r, VFILE_NODE, &node), 0);
	assert_int_equal(bind(x, 0, IOMMUFD_FD, NULL), -EBUSY);
	vdev_release(x->w.d[0], node);
	assert_int_equal(bind(x, 0, IOMMUFD_FD, NULL), 0);
}

/* One IOAS, two devices on two servers: a mapping reaches both, a device
 * attached later gets what is there, unmap and detach take it back. */
static void test_two_devices_one_ioas(void **state)
{
	struct fx *x = *state;
	uint32_t ioas;
	uint64_t unmapped;

	bind_both(x);
	ioas = ioas_alloc(x);
	assert_int_equal(attach(x, 0, ioas), 0);
	assert_int_equal(ioas_map(x, ioas, x->w.dma, 0x100000, PAGE, FIXED_RW), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 1);
	assert_int_equal(tdev_nr_maps(&x->w.t[1]), 0);
	assert_int_equal(attach(x, 1, ioas), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[1]), 1);
	assert_int_equal(ioas_map(x, ioas, x->w.dma + PAGE, 0x200000, PAGE, FIXED_RW), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 2);
	assert_int_equal(tdev_nr_maps(&x->w.t[1]), 2);
	assert_int_equal(ioas_unmap(x, ioas, 0x100000, PAGE, &unmapped), 0);
	assert_int_equal(unmapped, PAGE);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 1);
	assert_int_equal(tdev_nr_maps(&x->w.t[1]), 1);
	/* Detach with a mapping live: that server sees it go, the other not. */
	assert_int_equal(detach(x, 1), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[1]), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 1);
	/* Closing the bound cdev gives the device back, mappings included. */
	vdev_release(x->w.d[0], x->f[0]);
	x->f[0] = NULL;
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 0);
}

/* The server's DMA by message reaches the process's memory through the
 * IOAS the device is attached to. */
static void test_server_dma(void **state)
{
	struct fx *x = *state;
	uint8_t *doorbell, *result;
	uint64_t cmd[3] = {0x300000, 16, 1};
	uint32_t ioas, err = 1;

	bind_both(x);
	ioas = ioas_alloc(x);
	assert_int_equal(attach(x, 0, ioas), 0);
	assert_int_equal(ioas_map(x, ioas, x->w.dma, 0x300000, PAGE, FIXED_RW), 0);
	doorbell = (uint8_t *)cmd;
	memset(x->w.t[0].bar0 + TDEV_DMA_BUF, 0xa5, 16);
	assert_int_equal(vdev_write(x->w.d[0], x->f[0], &x->w.r, TDEV_DMA_DOORBELL, doorbell, 24),
	                 24);
	result = (uint8_t *)&err;
	assert_int_equal(vdev_read(x->w.d[0], x->f[0], &x->w.r, TDEV_DMA_RESULT, result, 4), 4);
	assert_int_equal(err, 0);
	assert_int_equal(x->w.dma[0], 0xa5);
	assert_int_equal(x->w.dma[15], 0xa5);
}

/* GET_HW_INFO: no IOMMU, data zeroed; HWPT_ALLOC on an IOAS; attach to the
 * HWPT; objects in use cannot be destroyed. */
static void test_hw_info_hwpt(void **state)
{
	struct fx *x = *state;
	struct iommu_hw_info *hi = arg_alloc(x, sizeof(*hi));
	struct iommu_hwpt_alloc *ha = arg_alloc(x, sizeof(*ha));
	struct iommu_destroy *de = arg_alloc(x, sizeof(*de));
	uint8_t *data = arg_alloc(x, 32);
	uint32_t devid, ioas, hwpt;

	assert_int_equal(bind(x, 0, IOMMUFD_FD, &devid), 0);
	memset(data, 0xff, 32);
	*hi = (struct iommu_hw_info){
	    .size = sizeof(*hi), .dev_id = devid, .data_len = 32, .data_uptr = (uintptr_t)data};
	assert_int_equal(fd_io(x, IOMMU_GET_HW_INFO, hi), 0);
	assert_int_equal(hi->out_data_type, IOMMU_HW_INFO_TYPE_NONE);
	assert_int_equal(hi->data_len, 0);
	assert_int_equal(hi->out_capabilities, 0);
	assert_int_equal(data[0] | data[31], 0);
	hi->dev_id = 999;
	assert_int_equal(fd_io(x, IOMMU_GET_HW_INFO, hi), -ENOENT);

	ioas = ioas_alloc(x);
	*ha = (struct iommu_hwpt_alloc){.size = sizeof(*ha), .dev_id = devid, .pt_id = ioas};
	assert_int_equal(fd_io(x, IOMMU_HWPT_ALLOC, ha), 0);
	hwpt = ha->out_hwpt_id;
	assert_true(hwpt != ioas && hwpt != devid);
	ha->flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
	assert_int_equal(fd_io(x, IOMMU_HWPT_ALLOC, ha), -EOPNOTSUPP);
	*ha = (struct iommu_hwpt_alloc){.size = sizeof(*ha), .dev_id = devid, .pt_id = hwpt};
	assert_int_equal(fd_io(x, IOMMU_HWPT_ALLOC, ha), -EINVAL);
	*ha = (struct iommu_hwpt_alloc){.size = sizeof(*ha), .dev_id = ioas, .pt_id = ioas};
	assert_int_equal(fd_io(x, IOMMU_HWPT_ALLOC, ha), -ENOENT);

	assert_int_equal(attach(x, 0, hwpt), 0);
	assert_int_equal(ioas_map(x, ioas, x->w.dma, 0x100000, PAGE, FIXED_RW), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 1);
	*de = (struct iommu_destroy){.size = sizeof(*de), .id = ioas};
	assert_int_equal(fd_io(x, IOMMU_DESTROY, de), -EBUSY);
	de->id = hwpt;
	assert_int_equal(fd_io(x, IOMMU_DESTROY, de), -EBUSY);
	de->id = devid;
	assert_int_equal(fd_io(x, IOMMU_DESTROY, de), -EBUSY);
	assert_int_equal(attach(x, 0, devid), -EINVAL);
	assert_int_equal(detach(x, 0), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 0);
	de->id = hwpt;
	assert_int_equal(fd_io(x, IOMMU_DESTROY, de), 0);
	de->id = ioas;
	assert_int_equal(fd_io(x, IOMMU_DESTROY, de), 0);
	assert_int_equal(fd_io(x, IOMMU_DESTROY, de), -ENOENT);
}

/* The generic size rules of iommufd_fops_ioctl. */
static void test_size_rules(void **state)
{
	struct fx *x = *state;
	struct iommu_ioas_alloc *a = arg_alloc(x, sizeof(*a) + 8);

	a->size = 8;
	assert_int_equal(fd_io(x, IOMMU_IOAS_ALLOC, a), -EINVAL);
	a->size = sizeof(*a) + 8;
	((uint8_t *)a)[sizeof(*a) + 3] = 1;
	assert_int_equal(fd_io(x, IOMMU_IOAS_ALLOC, a), -E2BIG);
	((uint8_t *)a)[sizeof(*a) + 3] = 0;
	assert_int_equal(fd_io(x, IOMMU_IOAS_ALLOC, a), 0);
	a->flags = 1;
	assert_int_equal(fd_io(x, IOMMU_IOAS_ALLOC, a), -EOPNOTSUPP);
	assert_int_equal(fd_io(x, _IO(';', 0x99), a), -ENOTTY);
	assert_int_equal(iommufd_ioctl(x->ictx, &x->w.r, IOMMU_IOAS_ALLOC, 0x10), -EFAULT);
}

/* IOAS_MAP's checks, an automatic IOVA, IOVA_RANGES, unmap's rules. */
/* core/ioas.h's IOAS_MAX_ENTRIES (its names clash with this file's). */
#define ENTRY_LIMIT 65535u

/*
 * A space holds at most ENTRY_LIMIT mappings, as type1's
 * dma_entry_limit: one program cannot grow the daemon without bound, and
 * its mappings cost the daemon no fd (pins are no fds).
 */
static void test_entry_limit(void **state)
{
	struct fx *x = *state;
	uint32_t ioas = ioas_alloc(x);
	size_t mark = x->w.used;
	uint64_t unmapped;

	for (uint32_t i = 0; i < ENTRY_LIMIT; i++) {
		x->w.used = mark;
		assert_int_equal(ioas_map(x, ioas, x->w.dma, (uint64_t)i * PAGE, PAGE, FIXED_RW),
		                 0);
	}
	x->w.used = mark;
	assert_int_equal(ioas_map(x, ioas, x->w.dma, (uint64_t)ENTRY_LIMIT * PAGE, PAGE, FIXED_RW),
	                 -ENOSPC);
	x->w.used = mark;
	assert_int_equal(ioas_unmap(x, ioas, 0, PAGE, &unmapped), 0);
	x->w.used = mark;
	assert_int_equal(ioas_map(x, ioas, x->w.dma, (uint64_t)ENTRY_LIMIT * PAGE, PAGE, FIXED_RW),
	                 0);
}

static void test_map_unmap_rules(void **state)
{
	struct fx *x = *state;
	struct iommu_ioas_iova_ranges *rg = arg_alloc(x, sizeof(*rg));
	struct iommu_iova_range *out = arg_alloc(x, sizeof(*out));
	struct iommu_ioas_map *m = arg_alloc(x, sizeof(*m));
	uint32_t ioas = ioas_alloc(x);
	uint64_t unmapped;

	assert_int_equal(ioas_map(x, 99, x->w.dma, 0, PAGE, FIXED_RW), -ENOENT);
	assert_int_equal(ioas_map(x, ioas, x->w.dma, 0, PAGE, IOMMU_IOAS_MAP_FIXED_IOVA), -EINVAL);
	assert_int_equal(ioas_map(x, ioas, x->w.dma, 0, PAGE, FIXED_RW | 8), -EOPNOTSUPP);
	assert_int_equal(ioas_map(x, ioas, x->w.dma, 0x1001, PAGE, FIXED_RW), -EINVAL);
	assert_int_equal(ioas_map(x, ioas, x->w.dma, 0, UINT64_MAX, FIXED_RW), -EOVERFLOW);
	assert_int_equal(
	    ioas_map(x, ioas, x->w.arena + TWO_DEVS_ARENA - PAGE, 0, 2 * PAGE, FIXED_RW), -EFAULT);
	assert_int_equal(ioas_map(x, ioas, x->w.dma, 0x10000, 2 * PAGE, FIXED_RW), 0);
	assert_int_equal(ioas_map(x, ioas, x->w.dma, 0x11000, PAGE, FIXED_RW), -EEXIST);
	*m = (struct iommu_ioas_map){.size = sizeof(*m),
	                             .flags = RW,
	                             .ioas_id = ioas,
	                             .user_va = (uintptr_t)(x->w.dma + 2 * PAGE),
	                             .length = PAGE};
	assert_int_equal(fd_io(x, IOMMU_IOAS_MAP, m), 0);
	assert_int_equal(m->iova, 0);

	*rg = (struct iommu_ioas_iova_ranges){.size = sizeof(*rg), .ioas_id = ioas};
	assert_int_equal(fd_io(x, IOMMU_IOAS_IOVA_RANGES, rg), -EMSGSIZE);
	assert_int_equal(rg->num_iovas, 1);
	rg->allowed_iovas = (uintptr_t)out;
	assert_int_equal(fd_io(x, IOMMU_IOAS_IOVA_RANGES, rg), 0);
	assert_int_equal(out->start, 0);
	assert_true(out->last >= UINT64_MAX - 1);
	assert_int_equal(rg->out_iova_alignment, PAGE);

	/* Whole mappings only; nothing there is ENOENT. */
	assert_int_equal(ioas_unmap(x, ioas, 0x10000, PAGE, &unmapped), -ENOENT);
	assert_int_equal(ioas_unmap(x, ioas, 0x80000, PAGE, &unmapped), -ENOENT);
	assert_int_equal(ioas_unmap(x, ioas, 0x10000, 0, &unmapped), -EINVAL);
	assert_int_equal(ioas_unmap(x, ioas, 0, UINT64_MAX, &unmapped), 0);
	assert_int_equal(unmapped, 3 * PAGE);
	assert_int_equal(ioas_unmap(x, ioas, 0, UINT64_MAX, &unmapped), -ENOENT);
}

/* IOAS_MAP_FILE hands the server the very file; IOAS_COPY maps the same
 * memory at another IOVA of another IOAS. */
static void test_map_file_copy(void **state)
{
	struct fx *x = *state;
	struct iommu_ioas_map_file *mf = arg_alloc(x, sizeof(*mf));
	struct iommu_ioas_copy *cp = arg_alloc(x, sizeof(*cp));
	int memfd = memfd_create("dma", 0);
	uint32_t ioas, ioas2;

	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, 2 * PAGE), 0);
	x->w.h.fds[3] = memfd;
	bind_both(x);
	ioas = ioas_alloc(x);
	ioas2 = ioas_alloc(x);
	assert_int_equal(attach(x, 0, ioas), 0);
	assert_int_equal(attach(x, 1, ioas2), 0);
	*mf = (struct iommu_ioas_map_file){.size = sizeof(*mf),
	                                   .flags = FIXED_RW,
	                                   .ioas_id = ioas,
	                                   .fd = 3,
	                                   .start = 0,
	                                   .length = 2 * PAGE,
	                                   .iova = 0x400000};
	assert_int_equal(fd_io(x, IOMMU_IOAS_MAP_FILE, mf), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 1);
	assert_true(x->w.t[0].maps[0].fd);
	mf->fd = 9;
	mf->iova = 0x500000;
	assert_int_equal(fd_io(x, IOMMU_IOAS_MAP_FILE, mf), -EBADF);
	mf->fd = 3;
	mf->length = 4 * PAGE;
	assert_int_equal(fd_io(x, IOMMU_IOAS_MAP_FILE, mf), -EINVAL);

	*cp = (struct iommu_ioas_copy){.size = sizeof(*cp),
	                               .flags = FIXED_RW,
	                               .dst_ioas_id = ioas2,
	                               .src_ioas_id = ioas,
	                               .length = PAGE,
	                               .dst_iova = 0x800000,
	                               .src_iova = 0x401000};
	assert_int_equal(fd_io(x, IOMMU_IOAS_COPY, cp), 0);
	assert_int_equal(tdev_nr_maps(&x->w.t[1]), 1);
	assert_int_equal(x->w.t[1].maps[0].iova, 0x800000);
	assert_true(x->w.t[1].maps[0].fd);
	cp->src_iova = 0x900000;
	cp->dst_iova = 0xa00000;
	assert_int_equal(fd_io(x, IOMMU_IOAS_COPY, cp), -ENOENT);
	x->w.h.fds[3] = -1;
	close(memfd);
}

/* Closing the iommufd while a device is bound: the context lives on with
 * the device, and goes with it. */
static void test_close_iommufd_first(void **state)
{
	struct fx *x = *state;
	uint32_t ioas;

	bind_both(x);
	ioas = ioas_alloc(x);
	assert_int_equal(attach(x, 0, ioas), 0);
	assert_int_equal(ioas_map(x, ioas, x->w.dma, 0x100000, PAGE, FIXED_RW), 0);
	iommufd_put(x->ictx);
	x->ictx = NULL;
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 1);
	vdev_release(x->w.d[0], x->f[0]);
	x->f[0] = NULL;
	assert_int_equal(tdev_nr_maps(&x->w.t[0]), 0);
	vdev_release(x->w.d[1], x->f[1]);
	x->f[1] = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_before_bind, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bind_errors, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bind_node_busy, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_two_devices_one_ioas, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_server_dma, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_hw_info_hwpt, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_size_rules, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_map_unmap_rules, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_entry_limit, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_map_file_copy, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_close_iommufd_first, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
