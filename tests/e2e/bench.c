// SPDX-License-Identifier: MIT
/*
 * vuc-e2e-bench NODE: figures for a /dev/vfio-user node, printed as '# '
 * lines. It asserts nothing about speed; it fails only if an operation fails.
 * Each measurement runs for about BENCH_MS (or at most its op count).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "procs.h"
#include "vfio_node.h"

#define BENCH_MS 1500
#define IOVA_SRC 0x100000000ull
#define IOVA_DST 0x200000000ull
#define DMA_SIZE (1u << 20)

struct figure {
	long long ops, ms;
};

typedef int (*op_fn)(int fd, void *arg);

static int measure(int fd, op_fn op, void *arg, long long max_ops, struct figure *f)
{
	long long t0 = procs_now_ms(), now = t0;
	int ret;

	f->ops = 0;
	while (f->ops < max_ops && now - t0 < BENCH_MS) {
		ret = op(fd, arg);
		if (ret)
			return ret;
		f->ops++;
		if (!(f->ops % 16))
			now = procs_now_ms();
	}
	f->ms = procs_now_ms() - t0;
	if (!f->ms)
		f->ms = 1;
	return 0;
}

static int op_get_info(int fd, void *arg)
{
	struct vfio_device_info info = {.argsz = sizeof(info)};

	return ioctl(fd, VFIO_DEVICE_GET_INFO, &info) < 0 ? -errno : 0;
}

static int op_reg_read(int fd, void *arg)
{
	uint32_t v;

	return reg_read(fd, EXDEV_REG_ID, &v);
}

struct xfer {
	uint8_t *buf;
	size_t size;
	int write;
};

static int op_bar2(int fd, void *arg)
{
	struct xfer *x = arg;

	if (x->write)
		return region_write(fd, VFIO_PCI_BAR2_REGION_INDEX, 0, x->buf, x->size);
	return region_read(fd, VFIO_PCI_BAR2_REGION_INDEX, 0, x->buf, x->size);
}

static int op_dma(int fd, void *arg)
{
	uint32_t status;
	int ret = dma_run(fd, IOVA_SRC, IOVA_DST, DMA_SIZE, 0, &status);

	if (ret)
		return ret;
	return status & EXDEV_STATUS_DMA_DONE ? 0 : -EIO;
}

static void print_latency(const char *what, const struct figure *f)
{
	printf("# %-44s %8.1f us/op (%lld ops)\n", what, f->ms * 1000.0 / f->ops, f->ops);
}

static void print_rate(const char *what, const struct figure *f, size_t bytes)
{
	printf("# %-44s %8.1f MiB/s (%lld x %zu bytes)\n", what,
	       (double)f->ops * bytes / (1 << 20) / (f->ms / 1000.0), f->ops, bytes);
}

static int bench_bar2(int fd)
{
	static const size_t sizes[] = {4096, EXDEV_BAR2_SIZE};
	struct xfer x = {.buf = malloc(EXDEV_BAR2_SIZE)};
	struct figure f;
	char what[64];
	int ret;

	if (!x.buf)
		return -ENOMEM;
	for (size_t i = 0; i < 2; i++) {
		for (x.write = 0; x.write < 2; x.write++) {
			x.size = sizes[i];
			ret = measure(fd, op_bar2, &x, 100000, &f);
			if (ret)
				goto out;
			snprintf(what, sizeof(what), "BAR2 %s of %zu bytes",
			         x.write ? "pwrite" : "pread", x.size);
			print_rate(what, &f, x.size);
		}
	}
out:
	free(x.buf);
	return ret;
}

static int bench_dma(int fd, const char *what, void *(*alloc)(size_t))
{
	uint8_t *src = alloc(DMA_SIZE), *dst = alloc(DMA_SIZE);
	struct figure f;
	int ret;

	if (!src || !dst)
		return -ENOMEM;
	fill(src, DMA_SIZE, 5);
	if ((ret = dma_map(fd, src, IOVA_SRC, DMA_SIZE)) ||
	    (ret = dma_map(fd, dst, IOVA_DST, DMA_SIZE)))
		return ret;
	ret = measure(fd, op_dma, NULL, 10000, &f);
	if (ret)
		return ret;
	/* Each copy reads and writes program memory: twice the bytes cross. */
	print_rate(what, &f, DMA_SIZE);
	if (first_diff(src, dst, DMA_SIZE) != DMA_SIZE)
		return -EIO;
	if ((ret = dma_unmap(fd, IOVA_SRC, DMA_SIZE, NULL)) ||
	    (ret = dma_unmap(fd, IOVA_DST, DMA_SIZE, NULL)))
		return ret;
	return 0;
}

static int bench(int fd)
{
	struct figure f;
	int ret;

	if ((ret = measure(fd, op_get_info, NULL, 100000, &f)))
		return ret;
	print_latency("ioctl GET_INFO (answered by the daemon)", &f);
	if ((ret = measure(fd, op_reg_read, NULL, 100000, &f)))
		return ret;
	print_latency("pread of a BAR0 register (server round trip)", &f);
	if ((ret = bench_bar2(fd)))
		return ret;
	if ((ret = pci_enable(fd)) || (ret = iommu_setup(fd)))
		return ret;
	if ((ret = bench_dma(fd, "DMA memory->memory, memfd (shared fd)", buf_memfd)))
		return ret;
	return bench_dma(fd, "DMA memory->memory, anonymous (messages)", buf_anon);
}

int main(int argc, char **argv)
{
	int fd, ret;

	if (argc != 2) {
		fprintf(stderr, "usage: vuc-e2e-bench NODE\n");
		return 2;
	}
	fd = node_open(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "vuc-e2e-bench: %s: %s\n", argv[1], strerror(-fd));
		return 1;
	}
	printf("# benchmark on %s (figures only; under TCG compare ratios, not values)\n", argv[1]);
	ret = bench(fd);
	close(fd);
	if (ret)
		fprintf(stderr, "vuc-e2e-bench: %s\n", strerror(-ret));
	return ret ? 1 : 0;
}
