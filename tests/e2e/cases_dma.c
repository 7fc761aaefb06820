// SPDX-License-Identifier: MIT
/*
 * DMA: the example device's engine reading and writing program memory that
 * the program mapped with VFIO_IOMMU_MAP_DMA, memfd-backed (the daemon
 * shares the file) or anonymous (the daemon serves DMA_READ/DMA_WRITE).
 */
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "vfio_node.h"

#define IOVA_A   0x100000000ull
#define IOVA_B   0x200000000ull
#define IOVA_C   0x300000000ull
#define BIG_SIZE (1u << 20)

static int expect_done(uint32_t status)
{
	CHECK((status & (EXDEV_STATUS_DMA_DONE | EXDEV_STATUS_DMA_ERROR)) == EXDEV_STATUS_DMA_DONE,
	      "STATUS 0x%x", status);
	return 0;
}

static int expect_same(const uint8_t *want, const uint8_t *got, size_t n, const char *what)
{
	size_t bad = first_diff(want, got, n);

	CHECK(bad == n, "%s: first difference at byte %zu of %zu (0x%02x, want 0x%02x)", what, bad,
	      n, got[bad], want[bad]);
	return 0;
}

/* Program memory -> BAR2 -> program memory, then memory -> memory directly. */
static int round_trip(int fd, uint8_t *src, uint8_t *dst, size_t big)
{
	uint8_t *bar2 = malloc(EXDEV_BAR2_SIZE);
	uint32_t status, count0, count1;

	CHECK(bar2);
	CHECK_OK(reg_read(fd, EXDEV_REG_DMA_COUNT, &count0));
	fill(src, big, 7);
	memset(dst, 0, big);
	CHECK_OK(dma_run(fd, IOVA_A, 0, EXDEV_BAR2_SIZE, EXDEV_DMA_CMD_DST_BAR2, &status));
	CHECK(expect_done(status) == 0);
	CHECK_OK(region_read(fd, VFIO_PCI_BAR2_REGION_INDEX, 0, bar2, EXDEV_BAR2_SIZE));
	CHECK(expect_same(src, bar2, EXDEV_BAR2_SIZE, "BAR2 after memory -> BAR2") == 0);
	CHECK_OK(dma_run(fd, 0, IOVA_B, EXDEV_BAR2_SIZE, EXDEV_DMA_CMD_SRC_BAR2, &status));
	CHECK(expect_done(status) == 0);
	CHECK(expect_same(src, dst, EXDEV_BAR2_SIZE, "memory after BAR2 -> memory") == 0);

	fill(src, big, 11);
	CHECK_OK(dma_run(fd, IOVA_A, IOVA_B, big, 0, &status));
	CHECK(expect_done(status) == 0);
	CHECK(expect_same(src, dst, big, "memory -> memory") == 0);
	CHECK_OK(reg_read(fd, EXDEV_REG_DMA_COUNT, &count1));
	CHECK(count1 - count0 == 3, "DMA_COUNT %u -> %u", count0, count1);
	NOTE("64 KiB through BAR2 both ways and %zu bytes memory to memory: all verified", big);
	free(bar2);
	return 0;
}

static int dma_case(struct e2e *t, void *(*alloc)(size_t))
{
	uint8_t *src = alloc(BIG_SIZE), *dst = alloc(BIG_SIZE);
	uint64_t unmapped = 0;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK(src && dst, "buffers");
	CHECK_OK(pci_enable(fd));
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(dma_map(fd, src, IOVA_A, BIG_SIZE));
	CHECK_OK(dma_map(fd, dst, IOVA_B, BIG_SIZE));
	/* Overlapping an existing mapping is refused, as type1 refuses it. */
	CHECK_ERR(dma_map(fd, dst, IOVA_B + 4096, 4096), EEXIST);
	CHECK(round_trip(fd, src, dst, BIG_SIZE) == 0);
	CHECK_OK(dma_unmap(fd, IOVA_A, BIG_SIZE, &unmapped));
	CHECK(unmapped == BIG_SIZE, "unmap reported %llu bytes", (unsigned long long)unmapped);
	CHECK_OK(dma_unmap(fd, IOVA_B, BIG_SIZE, NULL));
	close(fd);
	return 0;
}

int case_dma_memfd(struct e2e *t)
{
	return dma_case(t, buf_memfd);
}

int case_dma_anon(struct e2e *t)
{
	return dma_case(t, buf_anon);
}

/*
 * One buffer made of two mappings: a memfd half and then a second half that
 * is anonymous (or another memfd). One MAP_DMA covers both halves.
 */
static uint8_t *two_part_buffer(size_t half, int second_memfd)
{
	uint8_t *p = mmap(NULL, 2 * half, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *a, *b;
	int fd;

	if (p == MAP_FAILED)
		return NULL;
	for (int i = 0; i < 2; i++) {
		if (i == 1 && !second_memfd) {
			b = mmap(p + half, half, PROT_READ | PROT_WRITE,
			         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			if (b == MAP_FAILED)
				return NULL;
			continue;
		}
		fd = memfd_create("vuc-e2e-span", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, half) < 0)
			return NULL;
		a = mmap(p + i * half, half, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
		close(fd);
		if (a == MAP_FAILED)
			return NULL;
	}
	return p;
}

static int span_variant(int fd, int second_memfd)
{
	const size_t half = 64 * 1024;
	uint8_t *span = two_part_buffer(half, second_memfd), *other = buf_anon(half);
	uint32_t status;

	CHECK(span && other, "buffers");
	CHECK_OK(dma_map(fd, span, IOVA_C, 2 * half));
	CHECK_OK(dma_map(fd, other, IOVA_A, half));
	/* Into the middle of the two-part buffer, across the seam. */
	fill(other, half, 21);
	memset(span, 0, 2 * half);
	CHECK_OK(dma_run(fd, IOVA_A, IOVA_C + half / 2, half, 0, &status));
	CHECK(expect_done(status) == 0);
	CHECK(expect_same(other, span + half / 2, half, "write across the seam") == 0);
	/* And out of it again. */
	fill(span, 2 * half, 22);
	memset(other, 0, half);
	CHECK_OK(dma_run(fd, IOVA_C + half / 2, IOVA_A, half, 0, &status));
	CHECK(expect_done(status) == 0);
	CHECK(expect_same(span + half / 2, other, half, "read across the seam") == 0);
	CHECK_OK(dma_unmap(fd, IOVA_C, 2 * half, NULL));
	CHECK_OK(dma_unmap(fd, IOVA_A, half, NULL));
	NOTE("one MAP_DMA over memfd + %s: both directions across the seam verified",
	     second_memfd ? "another memfd" : "anonymous memory");
	munmap(span, 2 * half);
	munmap(other, half);
	return 0;
}

int case_dma_span(struct e2e *t)
{
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK_OK(pci_enable(fd));
	CHECK_OK(iommu_setup(fd));
	CHECK(span_variant(fd, 0) == 0);
	CHECK(span_variant(fd, 1) == 0);
	close(fd);
	return 0;
}

/* Two MAP_DMA calls at adjacent IOVAs; one transfer crosses from one into the other. */
int case_dma_cross_maps(struct e2e *t)
{
	const size_t size = 64 * 1024;
	uint8_t *a = buf_memfd(size), *b = buf_anon(size), *src = buf_anon(size);
	uint8_t *whole = malloc(2 * size);
	uint32_t status;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK(a && b && src && whole, "buffers");
	CHECK_OK(pci_enable(fd));
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(dma_map(fd, a, IOVA_C, size));
	CHECK_OK(dma_map(fd, b, IOVA_C + size, size));
	CHECK_OK(dma_map(fd, src, IOVA_A, size));
	fill(src, size, 31);
	CHECK_OK(dma_run(fd, IOVA_A, IOVA_C + size / 2, size, 0, &status));
	CHECK(expect_done(status) == 0);
	memcpy(whole, a, size);
	memcpy(whole + size, b, size);
	CHECK(expect_same(src, whole + size / 2, size, "write across two mappings") == 0);
	free(whole);
	close(fd);
	return 0;
}

int case_dma_unmap(struct e2e *t)
{
	uint8_t *buf = buf_memfd(BIG_SIZE);
	uint32_t status;
	uint64_t n;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK(buf);
	CHECK_OK(pci_enable(fd));
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(dma_map(fd, buf, IOVA_A, BIG_SIZE));
	CHECK_OK(dma_run(fd, IOVA_A, 0, 4096, EXDEV_DMA_CMD_DST_BAR2, &status));
	CHECK(expect_done(status) == 0);
	CHECK_OK(dma_unmap(fd, IOVA_A, BIG_SIZE, &n));
	CHECK(n == BIG_SIZE, "unmapped %llu", (unsigned long long)n);
	/* The device can no longer reach it. */
	CHECK_OK(dma_run(fd, IOVA_A, 0, 4096, EXDEV_DMA_CMD_DST_BAR2, &status));
	CHECK(status & EXDEV_STATUS_DMA_ERROR, "DMA from an unmapped IOVA: STATUS 0x%x", status);
	/* Unaligned or empty maps are refused. */
	CHECK_ERR(dma_map(fd, buf + 1, IOVA_A, 4096), EINVAL);
	CHECK_ERR(dma_map(fd, buf, IOVA_A + 1, 4096), EINVAL);
	CHECK_ERR(dma_map(fd, buf, IOVA_A, 0), EINVAL);
	if (ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL) == 1) {
		struct vfio_iommu_type1_dma_unmap all = {
		    .argsz = sizeof(all),
		    .flags = VFIO_DMA_UNMAP_FLAG_ALL,
		};

		CHECK_OK(dma_map(fd, buf, IOVA_A, 4096));
		CHECK_OK(dma_map(fd, buf + 4096, IOVA_B, 4096));
		CHECK(ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &all) == 0, "unmap all: %s", strerror(errno));
		CHECK(all.size == 8192, "unmap all reported %llu bytes",
		      (unsigned long long)all.size);
		CHECK_OK(dma_run(fd, IOVA_B, 0, 4096, EXDEV_DMA_CMD_DST_BAR2, &status));
		CHECK(status & EXDEV_STATUS_DMA_ERROR, "after unmap all: STATUS 0x%x", status);
	}
	close(fd);
	return 0;
}
