// SPDX-License-Identifier: MIT
/*
 * vuc-e2e-bench NODE: figures for a /dev/vfio-user node, printed as '# '
 * lines. It asserts nothing about speed; it fails only if an operation fails.
 * Each measurement runs a fixed number of operations, so the work (and the
 * memory the daemon and the server go through) is the same on any machine; a
 * slow or loaded one stops a measurement after MAX_MS instead, with fewer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "procs.h"
#include "vfio_node.h"

/* 8 measurements of at most MAX_MS each stay well inside run-suite.sh's 480 s. */
#define MAX_MS   20000
#define DMA_OPS  256
#define IOVA_SRC 0x100000000ull
#define IOVA_DST 0x200000000ull
#define DMA_SIZE (1u << 20)

struct figure {
	long long ops, ms;
	int capped; /* stopped at MAX_MS before its count */
};

typedef int (*op_fn)(int fd, void *arg);

static int measure(int fd, op_fn op, void *arg, long long ops, struct figure *f)
{
	long long t0 = procs_now_ms();
	int ret;

	f->ops = 0;
	f->capped = 0;
	while (f->ops < ops) {
		ret = op(fd, arg);
		if (ret)
			return ret;
		f->ops++;
		if (procs_now_ms() - t0 >= MAX_MS) {
			f->capped = f->ops < ops;
			break;
		}
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

static const char *capped(const struct figure *f)
{
	return f->capped ? ", time cap reached" : "";
}

static void print_latency(const char *what, const struct figure *f)
{
	printf("# %-44s %8.1f us/op (%lld ops%s)\n", what, f->ms * 1000.0 / f->ops, f->ops,
	       capped(f));
}

static void print_rate(const char *what, const struct figure *f, size_t bytes)
{
	printf("# %-44s %8.1f MiB/s (%lld x %zu bytes%s)\n", what,
	       (double)f->ops * bytes / (1 << 20) / (f->ms / 1000.0), f->ops, bytes, capped(f));
}

static int bench_bar2(int fd)
{
	static const size_t sizes[] = {4096, EXDEV_BAR2_SIZE};
	static const long long ops[] = {1000, 256};
	struct xfer x = {.buf = malloc(EXDEV_BAR2_SIZE)};
	struct figure f;
	char what[64];
	int ret;

	if (!x.buf)
		return -ENOMEM;
	for (size_t i = 0; i < 2; i++) {
		for (x.write = 0; x.write < 2; x.write++) {
			x.size = sizes[i];
			ret = measure(fd, op_bar2, &x, ops[i], &f);
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
	ret = measure(fd, op_dma, NULL, DMA_OPS, &f);
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

	if ((ret = measure(fd, op_get_info, NULL, 2000, &f)))
		return ret;
	print_latency("ioctl GET_INFO (answered by the daemon)", &f);
	if ((ret = measure(fd, op_reg_read, NULL, 1000, &f)))
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
