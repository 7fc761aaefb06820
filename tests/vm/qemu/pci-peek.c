// SPDX-License-Identifier: MIT
/*
 * pci-peek RESOURCE OFFSET: prints the 32-bit register at OFFSET of a PCI
 * memory BAR as 0x%08x, reading it through the BAR's sysfs file
 * (/sys/bus/pci/devices/BDF/resourceN). The kernel serves a memory BAR's file
 * only by mmap, so busybox cannot read it. Runs in the QEMU suite's inner
 * guest (tests/vm/qemu), linked statically: that guest has no libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_offset(const char *s, unsigned long *off)
{
	char *end;

	errno = 0;
	*off = strtoul(s, &end, 0);
	if (errno || end == s || *end || *off % 4)
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long off, page;
	volatile uint32_t *reg;
	struct stat st;
	void *map;
	int fd, rc = 1;

	if (argc != 3 || parse_offset(argv[2], &off)) {
		fprintf(stderr, "usage: pci-peek RESOURCE OFFSET (a multiple of 4)\n");
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
	printf("0x%08x\n", *reg);
	munmap(map, off - page + 4);
	rc = 0;
out:
	close(fd);
	return rc;
}
