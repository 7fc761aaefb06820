// SPDX-License-Identifier: MIT
/*
 * pci-peek RESOURCE OFFSET [COUNT]: prints the 32-bit register at OFFSET of a
 * PCI memory BAR as 0x%08x, reading it through the BAR's sysfs file
 * (/sys/bus/pci/devices/BDF/resourceN). The kernel serves a memory BAR's file
 * only by mmap, so busybox cannot read it. Runs in the QEMU suite's inner
 * guest (tests/vm/qemu), linked statically: that guest has no libc.
 * With COUNT, the benchmark's anchor (tests/bench/run.sh --anchor): reads the
 * register COUNT times more, each timed on CLOCK_MONOTONIC, and prints after
 * the value "COUNT reads, min MIN p50 P50 max MAX mean MEAN ns".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT 100000

static int parse_offset(const char *s, unsigned long *off)
{
	char *end;

	errno = 0;
	*off = strtoul(s, &end, 0);
	if (errno || end == s || *end || *off % 4)
		return -EINVAL;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Each read is one trap to QEMU under the guest: the figure is QEMU's path to
 * the device, plus the clock's own cost (twice a vDSO call). */
static int time_reads(volatile uint32_t *reg, unsigned long count)
{
	uint64_t *ns, t0, sum = 0;
	unsigned long i;

	ns = calloc(count, sizeof(*ns));
	if (!ns) {
		fprintf(stderr, "pci-peek: out of memory\n");
		return -ENOMEM;
	}
	for (i = 0; i < count; i++) {
		t0 = now_ns();
		(void)*reg;
		ns[i] = now_ns() - t0;
		sum += ns[i];
	}
	qsort(ns, count, sizeof(*ns), cmp_u64);
	printf(" %lu reads, min %llu p50 %llu max %llu mean %llu ns", count,
	       (unsigned long long)ns[0], (unsigned long long)ns[count / 2],
	       (unsigned long long)ns[count - 1], (unsigned long long)(sum / count));
	free(ns);
	return 0;
}

static int parse_count(const char *s, unsigned long *count)
{
	char *end;

	errno = 0;
	*count = strtoul(s, &end, 10);
	if (errno || end == s || *end || !*count || *count > MAX_COUNT)
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long off, page, count = 0;
	volatile uint32_t *reg;
	struct stat st;
	void *map;
	int fd, rc = 1;

	if (argc < 3 || argc > 4 || parse_offset(argv[2], &off) ||
	    (argc == 4 && parse_count(argv[3], &count))) {
		fprintf(stderr,
		        "usage: pci-peek RESOURCE OFFSET (a multiple of 4) [COUNT (1-%d)]\n",
		        MAX_COUNT);
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "pci-peek: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) || (unsigned long)st.st_size < off + 4) {
		fprintf(stderr, "pci-peek: %s: offset %#lx is past the BAR's %lld bytes\n", argv[1],
		        off, (long long)st.st_size);
		goto out;
	}
	page = off & ~((unsigned long)sysconf(_SC_PAGESIZE) - 1);
	map = mmap(NULL, off - page + 4, PROT_READ, MAP_SHARED, fd, page);
	if (map == MAP_FAILED) {
		fprintf(stderr, "pci-peek: mmap %s: %s\n", argv[1], strerror(errno));
		goto out;
	}
	reg = (volatile uint32_t *)((char *)map + (off - page));
	printf("0x%08x", *reg);
	rc = 0;
	if (count && time_reads(reg, count))
		rc = 1;
	printf("\n");
	munmap(map, off - page + 4);
out:
	close(fd);
	return rc;
}
