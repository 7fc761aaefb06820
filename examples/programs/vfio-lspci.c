// SPDX-License-Identifier: MIT
/*
 * vfio-lspci: print what a VFIO device tells a program, then its PCI config
 * space decoded the way `lspci -vv` shows it. Works on a vfio-user node
 * (/dev/vfio-user/NAME) and on kernel VFIO (/dev/vfio/GROUP DEVICE).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "common/pci.h"
#include "compat/vfio_open.h"
#include "pci_config.h"
#include "vfio_query.h"

struct names {
	uint32_t bit;
	const char *name;
};

static const struct names device_flags[] = {
    {VFIO_DEVICE_FLAGS_RESET, "RESET"},
    {VFIO_DEVICE_FLAGS_PCI, "PCI"},
    {VFIO_DEVICE_FLAGS_PLATFORM, "PLATFORM"},
    {VFIO_DEVICE_FLAGS_AMBA, "AMBA"},
    {VFIO_DEVICE_FLAGS_CCW, "CCW"},
    {VFIO_DEVICE_FLAGS_AP, "AP"},
    {VFIO_DEVICE_FLAGS_FSL_MC, "FSL_MC"},
    {VFIO_DEVICE_FLAGS_CAPS, "CAPS"},
    {0, NULL},
};

static const struct names region_flags[] = {
    {VFIO_REGION_INFO_FLAG_READ, "READ"},
    {VFIO_REGION_INFO_FLAG_WRITE, "WRITE"},
    {VFIO_REGION_INFO_FLAG_MMAP, "MMAP"},
    {VFIO_REGION_INFO_FLAG_CAPS, "CAPS"},
    {0, NULL},
};

static const struct names irq_flags[] = {
    {VFIO_IRQ_INFO_EVENTFD, "EVENTFD"},
    {VFIO_IRQ_INFO_MASKABLE, "MASKABLE"},
    {VFIO_IRQ_INFO_AUTOMASKED, "AUTOMASKED"},
    {VFIO_IRQ_INFO_NORESIZE, "NORESIZE"},
    {0, NULL},
};

static void print_flags(uint32_t flags, const struct names *n)
{
	for (; n->name; n++) {
		if (flags & n->bit)
			printf(" %s", n->name);
		flags &= ~n->bit;
	}
	if (flags)
		printf(" unknown(0x%" PRIx32 ")", flags);
	printf("\n");
}

static const char *region_name(uint32_t index, int pci)
{
	static const char *const names[] = {"BAR0", "BAR1", "BAR2",   "BAR3", "BAR4",
	                                    "BAR5", "ROM",  "CONFIG", "VGA"};

	return pci && index < VFIO_PCI_NUM_REGIONS ? names[index] : "region";
}

static const char *irq_name(uint32_t index, int pci)
{
	static const char *const names[] = {"INTx", "MSI", "MSI-X", "ERR", "REQ"};

	return pci && index < VFIO_PCI_NUM_IRQS ? names[index] : "irq";
}

static void print_region_cap(const struct vfio_info_cap_header *h)
{
	const struct vfio_region_info_cap_sparse_mmap *sp = (const void *)h;
	const struct vfio_region_info_cap_type *ty = (const void *)h;

	switch (h->id) {
	case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
		printf("\t\tcap SPARSE_MMAP v%u: %" PRIu32 " areas\n", h->version, sp->nr_areas);
		break;
	case VFIO_REGION_INFO_CAP_TYPE:
		printf("\t\tcap TYPE v%u: type %" PRIu32 " subtype %" PRIu32 "\n", h->version,
		       ty->type, ty->subtype);
		break;
	case VFIO_REGION_INFO_CAP_MSIX_MAPPABLE:
		printf("\t\tcap MSIX_MAPPABLE v%u\n", h->version);
		break;
	default:
		printf("\t\tcap id %u v%u\n", h->id, h->version);
	}
}

/* Sparse areas are listed separately: their count decides how far we read. */
static void print_sparse_areas(const struct vfio_info_cap_header *h, const void *info, size_t size)
{
	const struct vfio_region_info_cap_sparse_mmap *sp = (const void *)h;
	size_t room = size - ((const char *)sp->areas - (const char *)info);

	for (uint32_t i = 0; i < sp->nr_areas && (i + 1) * sizeof(sp->areas[0]) <= room; i++)
		printf("\t\t\tarea %" PRIu32 ": offset 0x%llx size 0x%llx\n", i,
		       (unsigned long long)sp->areas[i].offset,
		       (unsigned long long)sp->areas[i].size);
}

static void print_region_caps(const struct vfio_region_info *r)
{
	const struct vfio_info_cap_header *h = NULL;
	int bad = 0;

	if (!(r->flags & VFIO_REGION_INFO_FLAG_CAPS))
		return;
	while ((h = vq_cap_next(r, r->argsz, r->cap_offset, h, &bad))) {
		print_region_cap(h);
		if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP)
			print_sparse_areas(h, r, r->argsz);
	}
	if (bad)
		printf("\t\t<capability chain broken>\n");
}

static void print_regions(int dev, const struct vfio_device_info *di, struct pci_view *pv,
                          struct vfio_region_info **config)
{
	int pci = di->flags & VFIO_DEVICE_FLAGS_PCI, ret;
	struct vfio_region_info *r;

	printf("Regions:\n");
	for (uint32_t i = 0; i < di->num_regions; i++) {
		ret = vq_region_info(dev, i, &r);
		if (ret) {
			printf("\t%-6s [%" PRIu32 "]: VFIO_DEVICE_GET_REGION_INFO: %s\n",
			       region_name(i, pci), i, strerror(-ret));
			continue;
		}
		printf("\t%-6s [%" PRIu32 "]: ", region_name(i, pci), i);
		if (!r->size && !r->flags) {
			printf("absent\n");
			free(r);
			continue;
		}
		printf("size 0x%llx offset 0x%llx flags", (unsigned long long)r->size,
		       (unsigned long long)r->offset);
		print_flags(r->flags, region_flags);
		print_region_caps(r);
		if (pci && i <= VFIO_PCI_ROM_REGION_INDEX)
			pv->bar_size[i] = r->size;
		if (pci && i == VFIO_PCI_CONFIG_REGION_INDEX)
			*config = r;
		else
			free(r);
	}
}

static void print_irqs(int dev, const struct vfio_device_info *di)
{
	int pci = di->flags & VFIO_DEVICE_FLAGS_PCI, ret;
	struct vfio_irq_info irq;

	printf("IRQs:\n");
	for (uint32_t i = 0; i < di->num_irqs; i++) {
		ret = vq_irq_info(dev, i, &irq);
		if (ret) {
			printf("\t%-6s [%" PRIu32 "]: VFIO_DEVICE_GET_IRQ_INFO: %s\n",
			       irq_name(i, pci), i, strerror(-ret));
			continue;
		}
		printf("\t%-6s [%" PRIu32 "]: count %" PRIu32 " flags", irq_name(i, pci), i,
		       irq.count);
		print_flags(irq.flags, irq_flags);
	}
}

static void print_device_caps(const struct vfio_device_info *di)
{
	const struct vfio_info_cap_header *h = NULL;
	int bad = 0;

	if (!(di->flags & VFIO_DEVICE_FLAGS_CAPS))
		return;
	while ((h = vq_cap_next(di, di->argsz, di->cap_offset, h, &bad)))
		printf("\tcap id %u v%u\n", h->id, h->version);
	if (bad)
		printf("\t<capability chain broken>\n");
}

/* Config space: the whole region, at most the 4 KiB of PCI Express. */
static int print_config(int dev, const struct vfio_region_info *cfg, struct pci_view *pv,
                        int hexdump)
{
	size_t size = cfg->size < PCI_CFG_SPACE_EXP_SIZE ? cfg->size : PCI_CFG_SPACE_EXP_SIZE;
	uint8_t *buf = calloc(1, size ? size : 1);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = vq_read(dev, cfg, 0, buf, size);
	if (ret) {
		fprintf(stderr, "vfio-lspci: reading config space: %s\n", strerror(-ret));
		goto out;
	}
	pv->cfg = buf;
	pv->size = size;
	printf("Config space (%zu bytes):\n", size);
	pci_print(pv);
	if (hexdump)
		pci_hexdump(stdout, "", buf, size);
out:
	free(buf);
	return ret;
}

static int lspci(int dev, int hexdump)
{
	struct vfio_region_info *config = NULL;
	struct vfio_device_info *di;
	struct pci_view pv = {0};
	int ret;

	ret = vq_device_info(dev, &di);
	if (ret) {
		fprintf(stderr, "vfio-lspci: VFIO_DEVICE_GET_INFO: %s\n", strerror(-ret));
		return ret;
	}
	printf("Device: %" PRIu32 " regions, %" PRIu32 " irqs, flags", di->num_regions,
	       di->num_irqs);
	print_flags(di->flags, device_flags);
	print_device_caps(di);
	print_regions(dev, di, &pv, &config);
	print_irqs(dev, di);
	if (config)
		ret = print_config(dev, config, &pv, hexdump);
	else if (di->flags & VFIO_DEVICE_FLAGS_PCI)
		printf("Config space: no region\n");
	free(config);
	free(di);
	return ret;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: vfio-lspci [options] PATH [DEVICE]\n"
	             "Show a VFIO device: its regions, its interrupts, and its PCI config space\n"
	             "decoded as lspci does, all read with VFIO ioctls and pread.\n"
	             "\n"
	             "PATH is /dev/vfio-user/NAME, or /dev/vfio/GROUP with DEVICE, the device's\n"
	             "name inside a kernel VFIO group (e.g. 0000:00:04.0).\n"
	             "\n"
	             "Options:\n"
	             "  -x, --hex      show config space as hex too\n"
	             "  -h, --help     show this help\n"
	             "  -V, --version  show the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"hex", no_argument, NULL, 'x'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	struct vfio_handle h;
	int opt, hexdump = 0, ret;

	/* Each line as it is printed, in order with other programs' output
	 * when stdout is a pipe (the demo labels every line). */
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt_long(argc, argv, "xhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'x':
			hexdump = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vfio-lspci %s\n", VFIO_USER_CUSE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		usage(stderr);
		return 2;
	}
	ret = vfio_open(argv[optind], argv[optind + 1], 0, &h);
	if (ret) {
		fprintf(stderr, "vfio-lspci: %s: %s: %s\n", argv[optind], h.failed, strerror(-ret));
		return 1;
	}
	printf("%s: %s\n", argv[optind],
	       h.kind == VFIO_KIND_USER ? "vfio-user node (one fd: container and device)"
	                                : "kernel VFIO device");
	ret = lspci(h.device, hexdump);
	vfio_close(&h);
	return ret ? 1 : 0;
}
