// SPDX-License-Identifier: MIT
/*
 * The kernel's legacy model through the daemon: the container node and the
 * groups of the suite's two devices (NODE and ARG are their one-fd nodes),
 * found as QEMU finds them, through the sysfs-like tree's iommu_group link.
 * Written as a program for /dev/vfio/vfio and /dev/vfio/GROUP would be.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "vfio_node.h"

#define NODE_DIR  "/dev/vfio-user"
#define SYSFS_DIR "/run/vfio-user"
#define IOVA_SRC  0x100000000ull
#define IOVA_DST  0x200000000ull
#define LEN       (64u << 10)

/* The group node of the device behind one-fd node NODE: its number is the
 * basename of DIR/devices/NAME/iommu_group, as vfio_realize reads it. */
static int group_open(const char *node, char *name, size_t len)
{
	char copy[256], link[300], target[256], path[300];
	ssize_t n;

	snprintf(copy, sizeof(copy), "%s", node);
	snprintf(name, len, "%s", basename(copy));
	snprintf(link, sizeof(link), SYSFS_DIR "/devices/%s/iommu_group", name);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	snprintf(path, sizeof(path), NODE_DIR "/groups/%s", basename(target));
	return open(path, O_RDWR | O_CLOEXEC);
}

static int set_container(int group, int container)
{
	return ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ? -errno : 0;
}

static uint32_t group_flags(int group)
{
	struct vfio_group_status s = {.argsz = sizeof(s)};

	return ioctl(group, VFIO_GROUP_GET_STATUS, &s) ? 0 : s.flags;
}

static int dma_copy(int dev, uint64_t src, uint64_t dst, uint32_t len)
{
	uint32_t status;

	CHECK_OK(dma_run(dev, src, dst, len, 0, &status));
	CHECK((status & (EXDEV_STATUS_DMA_DONE | EXDEV_STATUS_DMA_ERROR)) == EXDEV_STATUS_DMA_DONE,
	      "STATUS 0x%x", status);
	return 0;
}

/* Misuse of a group and a container, with the kernel's errnos. */
static int misuse(int container, int ga, const char *name_a)
{
	int file = open("/proc/self/status", O_RDONLY);

	CHECK(file >= 0);
	CHECK(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0 && errno == EINVAL,
	      "SET_IOMMU with no group");
	CHECK(ioctl(ga, VFIO_GROUP_GET_DEVICE_FD, name_a) < 0 && errno == EINVAL,
	      "a device fd with no container");
	CHECK(set_container(ga, 1000) == -EBADF);
	CHECK(set_container(ga, file) == -EINVAL, "a file is no container");
	CHECK(ioctl(ga, VFIO_GROUP_UNSET_CONTAINER) < 0 && errno == EINVAL);
	close(file);
	return 0;
}

/* Two groups in one container on two servers, DMA through both, UNSET with
 * the device open (EBUSY), then with mappings live. */
int case_groups(struct e2e *t)
{
	int container = open(NODE_DIR "/vfio", O_RDWR | O_CLOEXEC);
	char name_a[80], name_b[80];
	int ga = group_open(t->node, name_a, sizeof(name_a));
	int gb = group_open(t->arg, name_b, sizeof(name_b));
	uint8_t *src = buf_memfd(LEN), *dst = buf_anon(LEN);
	int da, db;

	CHECK(container >= 0 && ga >= 0 && gb >= 0, "open the container and the groups: %s",
	      strerror(errno));
	CHECK(src && dst);
	CHECK(group_flags(ga) == VFIO_GROUP_FLAGS_VIABLE, "flags 0x%x", group_flags(ga));
	CHECK(group_open(t->node, name_a, sizeof(name_a)) < 0 && errno == EBUSY,
	      "a second open of a group");
	CHECK(misuse(container, ga, name_a) == 0);
	CHECK(ioctl(container, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
	CHECK(ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1);
	CHECK_OK(set_container(ga, container));
	CHECK_OK(set_container(gb, container));
	CHECK(group_flags(gb) == (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET));
	CHECK(set_container(gb, container) == -EINVAL, "set twice");
	CHECK(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0, "SET_IOMMU: %s",
	      strerror(errno));
	CHECK(ioctl(ga, VFIO_GROUP_GET_DEVICE_FD, "no-such-device") < 0 && errno == ENODEV);
	da = ioctl(ga, VFIO_GROUP_GET_DEVICE_FD, name_a);
	db = ioctl(gb, VFIO_GROUP_GET_DEVICE_FD, name_b);
	CHECK(da == ga && db == gb, "device fds %d %d (the groups are %d %d)", da, db, ga, gb);
	CHECK_OK(pci_enable(da));
	CHECK_OK(pci_enable(db));

	fill(src, LEN, 3);
	memset(dst, 0, LEN);
	CHECK_OK(dma_map(container, src, IOVA_SRC, LEN));
	CHECK_OK(dma_map(container, dst, IOVA_DST, LEN));
	CHECK(dma_copy(da, IOVA_SRC, IOVA_DST, LEN) == 0);
	CHECK(first_diff(src, dst, LEN) == LEN, "device a: memfd -> anonymous");
	fill(src, LEN, 5);
	CHECK(dma_copy(db, IOVA_SRC, IOVA_DST, LEN) == 0);
	CHECK(first_diff(src, dst, LEN) == LEN, "device b: memfd -> anonymous");
	CHECK(ioctl(gb, VFIO_GROUP_UNSET_CONTAINER) < 0 && errno == EBUSY,
	      "UNSET with the device open");
	close(gb);
	/* a still has every mapping. */
	fill(src, LEN, 9);
	CHECK(dma_copy(da, IOVA_SRC, IOVA_DST, LEN) == 0);
	CHECK(first_diff(src, dst, LEN) == LEN, "device a after b left");
	close(ga);
	close(container);
	return 0;
}

/* UNSET_CONTAINER with mappings live, before the device is opened: the
 * last group out takes the IOMMU, MAP_DMA is EINVAL again. */
int case_groups_unset(struct e2e *t)
{
	int container = open(NODE_DIR "/vfio", O_RDWR | O_CLOEXEC);
	char name[80];
	int g = group_open(t->node, name, sizeof(name));
	uint8_t *buf = buf_anon(LEN);

	CHECK(container >= 0 && g >= 0 && buf);
	CHECK_OK(set_container(g, container));
	CHECK(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) == 0);
	CHECK_OK(dma_map(container, buf, IOVA_SRC, LEN));
	CHECK(ioctl(g, VFIO_GROUP_UNSET_CONTAINER) == 0, "UNSET: %s", strerror(errno));
	CHECK(dma_map(container, buf, IOVA_SRC, LEN) == -EINVAL, "MAP_DMA after the last group");
	CHECK(open(t->node, O_RDWR) < 0 && errno == EBUSY,
	      "the one-fd node while the group is open");
	close(g);
	close(container);
	return 0;
}
