// SPDX-License-Identifier: MIT
/*
 * vfio-dma-demo: drive the example device's DMA engine the way a user-space
 * driver does, and say what happens at each step. Program memory goes to the
 * device (client -> BAR2) and comes back (BAR2 -> client), so the device both
 * reads and writes program memory; each copy raises MSI-X vector 1 on an
 * eventfd. The copy is checked byte for byte. As a driver does, it turns on
 * memory space and bus mastering in the PCI command register first (a device
 * neither DMAs nor sends MSI-X without bus mastering) and turns them back
 * off at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "compat/vfio_open.h"
#include "examples/example-device.h"
#include "vfio_query.h"

#define IOVA_SRC       0x10000000ull
#define IOVA_DST       0x20000000ull
#define IRQ_VECTOR     1
#define IRQ_TIMEOUT_MS 5000 /* the default of --irq-timeout */
#define PAGE_SIZE_MIN  4096 /* --size comes in these: MAP_DMA maps pages */
#define PATTERN_SEED   0x9e3779b9u

struct demo {
	int dev;
	int container;
	int memfd_backed;
	size_t want_size; /* --size; 0: all of BAR2 */
	int irq_timeout_ms;
	struct vfio_region_info *bar0, *bar2, *config;
	size_t size;
	uint8_t *src, *dst;
	int mapped_src, mapped_dst;
	int efd;
	int enabled;   /* we changed the command register */
	uint16_t cmd0; /* its value before */
};

static int step;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	printf("%2d. ", ++step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int fail(const char *what, int err)
{
	printf("    FAILED: %s: %s\n", what, strerror(err));
	return -err;
}

static int reg_read(struct demo *d, uint32_t reg, uint32_t *val)
{
	return vq_read(d->dev, d->bar0, reg, val, sizeof(*val));
}

static int reg_write(struct demo *d, uint32_t reg, uint32_t val)
{
	return vq_write(d->dev, d->bar0, reg, &val, sizeof(val));
}

static int reg_write64(struct demo *d, uint32_t reg, uint64_t val)
{
	return vq_write(d->dev, d->bar0, reg, &val, sizeof(val));
}

static int identify(struct demo *d)
{
	uint16_t ids[2];
	uint32_t id, version;
	int ret;

	if ((ret = vq_region_info(d->dev, VFIO_PCI_BAR0_REGION_INDEX, &d->bar0)) ||
	    (ret = vq_region_info(d->dev, VFIO_PCI_BAR2_REGION_INDEX, &d->bar2)) ||
	    (ret = vq_region_info(d->dev, VFIO_PCI_CONFIG_REGION_INDEX, &d->config)))
		return fail("VFIO_DEVICE_GET_REGION_INFO", -ret);
	if ((ret = vq_read(d->dev, d->config, 0, ids, sizeof(ids))) ||
	    (ret = reg_read(d, EXDEV_REG_ID, &id)) ||
	    (ret = reg_read(d, EXDEV_REG_VERSION, &version)))
		return fail("reading the device's identity", -ret);
	if (ids[0] != EXDEV_VENDOR_ID || ids[1] != EXDEV_DEVICE_ID || id != EXDEV_ID_VALUE) {
		printf("    FAILED: %04x:%04x (ID register 0x%08" PRIx32 ") is not the example "
		       "device %04x:%04x\n",
		       ids[0], ids[1], id, EXDEV_VENDOR_ID, EXDEV_DEVICE_ID);
		return -ENODEV;
	}
	if (d->bar2->size < PAGE_SIZE_MIN)
		return fail("BAR2 is too small for the demo", EINVAL);
	d->size = d->bar2->size;
	if (d->want_size > d->size) {
		printf("    FAILED: --size=%zu is more than BAR2's %zu bytes\n", d->want_size,
		       d->size);
		return -EINVAL;
	}
	if (d->want_size)
		d->size = d->want_size;
	say("Device %04x:%04x, ID register 0x%08" PRIx32 " (\"VUSE\"), version %" PRIu32
	    "; BAR2 holds %llu bytes, the demo copies %zu.",
	    ids[0], ids[1], id, version, (unsigned long long)d->bar2->size, d->size);
	return 0;
}

static int command_read(struct demo *d, uint16_t *cmd)
{
	return vq_read(d->dev, d->config, PCI_COMMAND, cmd, sizeof(*cmd));
}

static int command_write(struct demo *d, uint16_t cmd)
{
	return vq_write(d->dev, d->config, PCI_COMMAND, &cmd, sizeof(cmd));
}

/* What a driver's probe does before the device may DMA or interrupt: let it
 * answer memory accesses (BARs) and master the bus (DMA, MSI-X). */
static int enable_device(struct demo *d)
{
	const uint16_t want = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	uint16_t cmd;
	int ret;

	if ((ret = command_read(d, &d->cmd0)) || (ret = command_write(d, d->cmd0 | want)))
		return fail("writing the PCI command register", -ret);
	d->enabled = 1;
	if ((ret = command_read(d, &cmd)))
		return fail("reading the PCI command register", -ret);
	if ((cmd & want) != want) {
		printf("    FAILED: PCI command register reads 0x%04x after setting 0x%04x\n", cmd,
		       want);
		return -EIO;
	}
	say("PCI command register 0x%04x -> 0x%04x: memory space and bus mastering on.", d->cmd0,
	    cmd);
	return 0;
}

static void *alloc_buffer(struct demo *d, const char *name)
{
	void *p;
	int fd;

	if (!d->memfd_backed) {
		p = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, d->size) < 0) {
		close(fd);
		return NULL;
	}
	/* The mapping keeps the memory; the fd is not needed once it exists. */
	p = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static int map_dma(struct demo *d, void *buf, uint64_t iova, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map map = {
	    .argsz = sizeof(map),
	    .flags = flags,
	    .vaddr = (uintptr_t)buf,
	    .iova = iova,
	    .size = d->size,
	};

	return ioctl(d->container, VFIO_IOMMU_MAP_DMA, &map) < 0 ? -errno : 0;
}

static int setup_memory(struct demo *d)
{
	uint32_t x = PATTERN_SEED;
	int ret;

	d->src = alloc_buffer(d, "vfio-dma-demo-src");
	d->dst = alloc_buffer(d, "vfio-dma-demo-dst");
	if (!d->src || !d->dst)
		return fail("allocating the buffers", errno);
	say("Two %zu-byte buffers, %s.", d->size,
	    d->memfd_backed ? "memfd-backed (the server gets their fds and maps them)"
	                    : "anonymous (the server reaches them by DMA_READ/DMA_WRITE messages)");
	ret = map_dma(d, d->src, IOVA_SRC, VFIO_DMA_MAP_FLAG_READ);
	if (ret)
		return fail("VFIO_IOMMU_MAP_DMA (source)", -ret);
	d->mapped_src = 1;
	ret = map_dma(d, d->dst, IOVA_DST, VFIO_DMA_MAP_FLAG_WRITE);
	if (ret)
		return fail("VFIO_IOMMU_MAP_DMA (destination)", -ret);
	d->mapped_dst = 1;
	say("Mapped for DMA: source at IOVA 0x%llx (device may read), destination at IOVA "
	    "0x%llx (device may write).",
	    IOVA_SRC, IOVA_DST);
	for (size_t i = 0; i < d->size; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		d->src[i] = x;
	}
	memset(d->dst, 0, d->size);
	say("Filled the source with a pseudo-random pattern; cleared the destination.");
	return 0;
}

static int set_msix(struct demo *d, int32_t fd)
{
	char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (void *)buf;

	*set = (struct vfio_irq_set){
	    .argsz = sizeof(buf),
	    .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	    .index = VFIO_PCI_MSIX_IRQ_INDEX,
	    .start = IRQ_VECTOR,
	    .count = 1,
	};
	memcpy(set->data, &fd, sizeof(fd));
	return ioctl(d->dev, VFIO_DEVICE_SET_IRQS, set) < 0 ? -errno : 0;
}

static int disable_msix(struct demo *d)
{
	struct vfio_irq_set set = {
	    .argsz = sizeof(set),
	    .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
	    .index = VFIO_PCI_MSIX_IRQ_INDEX,
	};

	return ioctl(d->dev, VFIO_DEVICE_SET_IRQS, &set) < 0 ? -errno : 0;
}

static int setup_irq(struct demo *d)
{
	int ret;

	d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->efd < 0)
		return fail("eventfd", errno);
	ret = set_msix(d, d->efd);
	if (ret)
		return fail("VFIO_DEVICE_SET_IRQS (MSI-X eventfd)", -ret);
	if ((ret = reg_write(d, EXDEV_REG_IRQ_VECTOR, IRQ_VECTOR)) ||
	    (ret = reg_write(d, EXDEV_REG_IRQ_CTRL, EXDEV_IRQ_CTRL_ON_DMA)))
		return fail("programming IRQ_VECTOR/IRQ_CTRL", -ret);
	say("MSI-X vector %d now signals eventfd %d; the device raises it when a DMA completes.",
	    IRQ_VECTOR, d->efd);
	return 0;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static int wait_irq(struct demo *d, const struct timespec *t0)
{
	struct pollfd p = {.fd = d->efd, .events = POLLIN};
	uint64_t count;
	int n;

	n = poll(&p, 1, d->irq_timeout_ms);
	if (n < 0)
		return fail("poll on the eventfd", errno);
	if (n == 0) {
		printf("    FAILED: no interrupt within %d ms\n", d->irq_timeout_ms);
		return -ETIMEDOUT;
	}
	if (read(d->efd, &count, sizeof(count)) != sizeof(count))
		return fail("reading the eventfd", errno);
	printf("    Interrupt: the eventfd fired (count %" PRIu64 ") %ld ms after the doorbell.\n",
	       count, elapsed_ms(t0));
	return 0;
}

static int run_dma(struct demo *d, uint64_t src, uint64_t dst, uint32_t flags)
{
	struct timespec t0;
	uint32_t status;
	int ret;

	if ((ret = reg_write64(d, EXDEV_REG_DMA_SRC, src)) ||
	    (ret = reg_write64(d, EXDEV_REG_DMA_DST, dst)) ||
	    (ret = reg_write(d, EXDEV_REG_DMA_LEN, d->size)))
		return fail("programming SRC/DST/LEN", -ret);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = reg_write(d, EXDEV_REG_DMA_CMD, EXDEV_DMA_CMD_GO | flags);
	if (ret)
		return fail("ringing the DMA doorbell", -ret);
	ret = reg_read(d, EXDEV_REG_STATUS, &status);
	if (ret)
		return fail("reading STATUS", -ret);
	if (status & EXDEV_STATUS_DMA_ERROR || !(status & EXDEV_STATUS_DMA_DONE)) {
		printf("    FAILED: STATUS 0x%" PRIx32 " (the device reports a DMA error)\n",
		       status);
		return -EIO;
	}
	printf("    Copy done in %ld ms, STATUS says DONE.\n", elapsed_ms(&t0));
	return wait_irq(d, &t0);
}

static int compare(const char *what, const uint8_t *want, const uint8_t *got, size_t size)
{
	size_t bad = 0, first = 0;

	for (size_t i = 0; i < size; i++) {
		if (want[i] != got[i] && !bad++)
			first = i;
	}
	if (!bad) {
		printf("    %s: all %zu bytes match.\n", what, size);
		return 0;
	}
	printf("    FAILED: %s: %zu of %zu bytes differ, first at offset %zu (0x%02x, expected "
	       "0x%02x)\n",
	       what, bad, size, first, got[first], want[first]);
	return -EIO;
}

static int check_bar2(struct demo *d)
{
	uint8_t *buf = malloc(d->size);
	int ret;

	if (!buf)
		return fail("malloc", ENOMEM);
	ret = vq_read(d->dev, d->bar2, 0, buf, d->size);
	if (ret)
		fail("reading BAR2 with pread", -ret);
	else
		ret = compare("BAR2 (read back with pread)", d->src, buf, d->size);
	free(buf);
	return ret;
}

static int run(struct demo *d)
{
	uint32_t count0, count1;
	int ret;

	if ((ret = identify(d)) || (ret = enable_device(d)) || (ret = setup_memory(d)) ||
	    (ret = setup_irq(d)))
		return ret;
	if ((ret = reg_read(d, EXDEV_REG_DMA_COUNT, &count0)))
		return fail("reading DMA_COUNT", -ret);
	say("DMA 1, program memory -> device: the device reads the source buffer into BAR2.");
	if ((ret = run_dma(d, IOVA_SRC, 0, EXDEV_DMA_CMD_DST_BAR2)) || (ret = check_bar2(d)))
		return ret;
	say("DMA 2, device -> program memory: the device writes BAR2 into the destination.");
	if ((ret = run_dma(d, 0, IOVA_DST, EXDEV_DMA_CMD_SRC_BAR2)))
		return ret;
	say("Checking the destination against the source, byte for byte.");
	if ((ret = compare("destination", d->src, d->dst, d->size)))
		return ret;
	if ((ret = reg_read(d, EXDEV_REG_DMA_COUNT, &count1)))
		return fail("reading DMA_COUNT", -ret);
	if (count1 - count0 != 2) {
		printf("    FAILED: DMA_COUNT went from %" PRIu32 " to %" PRIu32 ", not up by 2\n",
		       count0, count1);
		return -EIO;
	}
	printf("    DMA_COUNT went from %" PRIu32 " to %" PRIu32 ".\n", count0, count1);
	return 0;
}

static int unmap_dma(struct demo *d, uint64_t iova)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
	    .argsz = sizeof(unmap),
	    .iova = iova,
	    .size = d->size,
	};

	return ioctl(d->container, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0 ? -errno : 0;
}

/* Undo what run() set up; a failure here fails the demo too. */
static int cleanup(struct demo *d)
{
	int ret = 0, r;

	if (d->efd >= 0 && (r = disable_msix(d)))
		ret = fail("VFIO_DEVICE_SET_IRQS (disable MSI-X)", -r);
	/* No more DMA from here: bus mastering off before the memory goes. */
	if (d->enabled && (r = command_write(d, d->cmd0)))
		ret = fail("restoring the PCI command register", -r);
	if (d->mapped_src && (r = unmap_dma(d, IOVA_SRC)))
		ret = fail("VFIO_IOMMU_UNMAP_DMA (source)", -r);
	if (d->mapped_dst && (r = unmap_dma(d, IOVA_DST)))
		ret = fail("VFIO_IOMMU_UNMAP_DMA (destination)", -r);
	if (d->efd >= 0)
		close(d->efd);
	if (d->src)
		munmap(d->src, d->size);
	if (d->dst)
		munmap(d->dst, d->size);
	free(d->bar0);
	free(d->bar2);
	free(d->config);
	return ret;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: vfio-dma-demo [options] PATH [DEVICE]\n"
	             "Map two buffers for DMA, have the example device copy one into the other,\n"
	             "and wait for its MSI-X interrupt.\n"
	             "\n"
	             "PATH is /dev/vfio-user/NAME, or /dev/vfio/GROUP with DEVICE.\n"
	             "\n"
	             "Options:\n"
	             "  --memfd            DMA buffers backed by memfds (the default)\n"
	             "  --anon             DMA buffers in anonymous memory\n"
	             "  --size=BYTES       copy BYTES each way, a multiple of 4096 up to BAR2's\n"
	             "                     size (default: all of BAR2)\n"
	             "  --irq-timeout=MS   wait at most MS ms for each interrupt (default 5000)\n"
	             "  -h, --help         show this help\n"
	             "  -V, --version      show the version\n");
}

static int parse(int argc, char **argv, struct demo *d)
{
	static const struct option opts[] = {
	    {"memfd", no_argument, NULL, 'm'},
	    {"anon", no_argument, NULL, 'a'},
	    {"size", required_argument, NULL, 's'},
	    {"irq-timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	unsigned long v;
	char *end;
	int opt;

	d->memfd_backed = 1;
	d->irq_timeout_ms = IRQ_TIMEOUT_MS;
	while ((opt = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			d->memfd_backed = 1;
			break;
		case 'a':
			d->memfd_backed = 0;
			break;
		case 's':
			errno = 0;
			v = strtoul(optarg, &end, 0);
			if (errno || end == optarg || *end || !v || v % PAGE_SIZE_MIN ||
			    v > EXDEV_DMA_MAX_LEN) {
				fprintf(stderr,
				        "vfio-dma-demo: --size takes a multiple of %d up to %u\n",
				        PAGE_SIZE_MIN, EXDEV_DMA_MAX_LEN);
				return -EINVAL;
			}
			d->want_size = v;
			break;
		case 't':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || !v || v > INT_MAX) {
				fprintf(
				    stderr,
				    "vfio-dma-demo: --irq-timeout takes milliseconds, 1 or more\n");
				return -EINVAL;
			}
			d->irq_timeout_ms = v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vfio-dma-demo %s\n", VFIO_USER_CUSE_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct demo d = {.efd = -1};
	struct vfio_handle h;
	int ret, ret2;

	if (parse(argc, argv, &d))
		return 2;
	ret = vfio_open(argv[optind], argv[optind + 1], VFIO_TYPE1v2_IOMMU, &h);
	if (ret) {
		fprintf(stderr, "vfio-dma-demo: %s: %s: %s\n", argv[optind], h.failed,
		        strerror(-ret));
		return 1;
	}
	d.dev = h.device;
	d.container = h.container;
	say("Opened %s (%s); IOMMU type set to TYPE1v2.", argv[optind],
	    h.kind == VFIO_KIND_USER ? "a vfio-user node: one fd for container and device"
	                             : "kernel VFIO");
	ret = run(&d);
	ret2 = cleanup(&d);
	if (!ret2)
		say("Cleaned up: MSI-X disabled, both buffers unmapped.");
	vfio_close(&h);
	printf("%s\n",
	       ret || ret2 ? "Result: FAILED" : "Result: OK, DMA both ways and interrupts work.");
	return ret || ret2 ? 1 : 0;
}
