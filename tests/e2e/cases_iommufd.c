// SPDX-License-Identifier: MIT
/*
 * The kernel's modern model through the daemon: the iommufd node and the
 * device cdevs of the suite's two devices (NODE and ARG are their one-fd
 * nodes; the cdevs are NODE_DIR/devices/NAME, the iommufd NODE_DIR/iommu).
 * Written as a program for the kernel's /dev/iommu and /dev/vfio/devices
 * would be: bind, IOAS, attach, map, and the device's DMA engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "compat/vfio-uapi.h"
#include "e2e.h"
#include "vfio_node.h"

#define NODE_DIR "/dev/vfio-user"
#define IOVA_SRC 0x100000000ull
#define IOVA_DST 0x200000000ull
#define IOVA_CPY 0x300000000ull
#define LEN      (64u << 10)

/* NODE_DIR/devices/NAME for the one-fd node NODE_DIR/NAME. */
static int cdev_open(const char *node)
{
	char copy[256], path[300];

	snprintf(copy, sizeof(copy), "%s", node);
	snprintf(path, sizeof(path), NODE_DIR "/devices/%s", basename(copy));
	return open(path, O_RDWR | O_CLOEXEC);
}

static int bind(int dev, int iommufd, uint32_t *devid)
{
	struct vfio_device_bind_iommufd b = {.argsz = sizeof(b), .iommufd = iommufd};

	if (ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b))
		return -errno;
	if (devid)
		*devid = b.out_devid;
	return 0;
}

static int attach(int dev, uint32_t pt)
{
	struct vfio_device_attach_iommufd_pt a = {.argsz = sizeof(a), .pt_id = pt};

	return ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a) ? -errno : 0;
}

static int detach(int dev)
{
	struct vfio_device_detach_iommufd_pt a = {.argsz = sizeof(a)};

	return ioctl(dev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &a) ? -errno : 0;
}

static int ioas_alloc(int iommufd, uint32_t *id)
{
	struct iommu_ioas_alloc a = {.size = sizeof(a)};

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &a))
		return -errno;
	*id = a.out_ioas_id;
	return 0;
}

static int ioas_map(int iommufd, uint32_t ioas, void *va, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_map m = {.size = sizeof(m),
	                           .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
	                                    IOMMU_IOAS_MAP_WRITEABLE,
	                           .ioas_id = ioas,
	                           .user_va = (uintptr_t)va,
	                           .length = len,
	                           .iova = iova};

	return ioctl(iommufd, IOMMU_IOAS_MAP, &m) ? -errno : 0;
}

static int dma_copy(int dev, uint64_t src, uint64_t dst, uint32_t len, bool want_ok)
{
	uint32_t status;

	CHECK_OK(dma_run(dev, src, dst, len, 0, &status));
	if (want_ok)
		CHECK((status & (EXDEV_STATUS_DMA_DONE | EXDEV_STATUS_DMA_ERROR)) ==
		          EXDEV_STATUS_DMA_DONE,
		      "STATUS 0x%x", status);
	else
		CHECK(status & EXDEV_STATUS_DMA_ERROR, "STATUS 0x%x: DMA went through", status);
	return 0;
}

/* What BIND refuses, as the kernel does: no such fd, not an iommufd (a
 * file, another node of the daemon's). */
static int bind_errors(int dev, int other)
{
	int file = open("/proc/self/status", O_RDONLY);

	CHECK(file >= 0);
	int ret;

	CHECK(bind(dev, -1, NULL) == -EINVAL);
	ret = bind(dev, 1000, NULL);
	CHECK(ret == -EBADF, "no such fd: %s", strerror(-ret));
	ret = bind(dev, file, NULL);
	CHECK(ret == -EBADFD, "a regular file: %s", strerror(-ret));
	ret = bind(dev, other, NULL);
	CHECK(ret == -EBADFD, "another device's cdev: %s", strerror(-ret));
	close(file);
	return 0;
}

/*
 * Two devices on two servers in one IOAS (one through an HWPT, as QEMU
 * attaches), memfd and anonymous memory, a copy into a second IOAS, detach
 * with mappings live.
 */
int case_iommufd(struct e2e *t)
{
	int iommufd = open(NODE_DIR "/iommu", O_RDWR | O_CLOEXEC);
	int a = cdev_open(t->node), b = cdev_open(t->arg);
	struct iommu_hw_info hi = {.size = sizeof(hi)};
	struct iommu_hwpt_alloc ha = {.size = sizeof(ha)};
	struct iommu_ioas_copy cp = {.size = sizeof(cp)};
	struct vfio_device_info info = {.argsz = sizeof(info)};
	uint8_t *src = buf_memfd(LEN), *dst = buf_anon(LEN);
	uint32_t ida = 0, idb = 0, ioas = 0, ioas2 = 0;

	CHECK(iommufd >= 0 && a >= 0 && b >= 0, "open the iommufd node and the cdevs: %s",
	      strerror(errno));
	CHECK(src && dst);
	CHECK(ioctl(a, VFIO_DEVICE_GET_INFO, &info) < 0 && errno == EINVAL, "GET_INFO before BIND");
	CHECK(bind_errors(a, b) == 0);
	CHECK_OK(bind(a, iommufd, &ida));
	CHECK_OK(bind(b, iommufd, &idb));
	CHECK(bind(a, iommufd, NULL) == -EINVAL, "a second BIND");
	CHECK(ioctl(a, VFIO_DEVICE_GET_INFO, &info) == 0 && info.num_regions > 7);

	CHECK_OK(ioas_alloc(iommufd, &ioas));
	hi.dev_id = ida;
	CHECK(ioctl(iommufd, IOMMU_GET_HW_INFO, &hi) == 0, "GET_HW_INFO: %s", strerror(errno));
	CHECK(hi.out_data_type == IOMMU_HW_INFO_TYPE_NONE && hi.out_capabilities == 0);
	ha.dev_id = ida;
	ha.pt_id = ioas;
	CHECK(ioctl(iommufd, IOMMU_HWPT_ALLOC, &ha) == 0, "HWPT_ALLOC: %s", strerror(errno));
	CHECK_OK(attach(a, ha.out_hwpt_id));
	CHECK_OK(attach(b, ioas));
	CHECK_OK(pci_enable(a)); /* DMA needs bus mastering */
	CHECK_OK(pci_enable(b));

	fill(src, LEN, 3);
	memset(dst, 0, LEN);
	CHECK_OK(ioas_map(iommufd, ioas, src, IOVA_SRC, LEN));
	CHECK_OK(ioas_map(iommufd, ioas, dst, IOVA_DST, LEN));
	CHECK(dma_copy(a, IOVA_SRC, IOVA_DST, LEN, true) == 0);
	CHECK(first_diff(src, dst, LEN) == LEN, "device a: memfd -> anonymous");
	fill(src, LEN, 5);
	CHECK(dma_copy(b, IOVA_SRC, IOVA_DST, LEN, true) == 0);
	CHECK(first_diff(src, dst, LEN) == LEN, "device b: memfd -> anonymous");

	/* The same memory at another IOVA of another IOAS, for b alone. */
	CHECK_OK(ioas_alloc(iommufd, &ioas2));
	cp.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
	cp.dst_ioas_id = ioas2;
	cp.src_ioas_id = ioas;
	cp.length = LEN;
	cp.dst_iova = IOVA_CPY;
	cp.src_iova = IOVA_DST;
	CHECK(ioctl(iommufd, IOMMU_IOAS_COPY, &cp) == 0, "IOAS_COPY: %s", strerror(errno));
	CHECK_OK(attach(b, ioas2));
	memset(dst, 0, LEN);
	CHECK(dma_copy(b, IOVA_CPY, IOVA_CPY, 16, true) == 0);
	CHECK(dma_copy(b, IOVA_SRC, IOVA_CPY, 16, false) == 0);

	/* Detached with mappings live: b reaches nothing; a still works. */
	CHECK_OK(detach(b));
	CHECK(dma_copy(b, IOVA_CPY, IOVA_CPY, 16, false) == 0);
	fill(src, LEN, 9);
	CHECK(dma_copy(a, IOVA_SRC, IOVA_DST, LEN, true) == 0);
	CHECK(first_diff(src, dst, LEN) == LEN, "device a after b left");
	close(b);
	close(a);
	close(iommufd);
	return 0;
}

/* The one-fd node and the cdev exclude each other, as a group and a cdev
 * bind do; closing the bound cdev gives the device back. */
int case_iommufd_excl(struct e2e *t)
{
	int iommufd = open(NODE_DIR "/iommu", O_RDWR | O_CLOEXEC);
	int dev = cdev_open(t->node), node;
	long long end;

	CHECK(iommufd >= 0 && dev >= 0);
	node = open(t->node, O_RDWR);
	CHECK(node >= 0, "open %s: %s", t->node, strerror(errno));
	CHECK(bind(dev, iommufd, NULL) == -EBUSY, "BIND while the one-fd node is open");
	close(node);
	CHECK_OK(bind(dev, iommufd, NULL));
	CHECK(open(t->node, O_RDWR) < 0 && errno == EBUSY, "the one-fd node while bound");
	close(dev);
	close(iommufd);
	/* The release runs after close returns: poll, up to a limit a loaded
	 * host does not reach. */
	end = procs_now_ms() + WAIT_MS;
	for (;;) {
		node = open(t->node, O_RDWR);
		if (node >= 0 || errno != EBUSY || procs_now_ms() > end)
			break;
		usleep(20000);
	}
	CHECK(node >= 0, "the one-fd node after the cdev closed: %s", strerror(errno));
	close(node);
	return 0;
}
