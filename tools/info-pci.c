// SPDX-License-Identifier: MIT
/*
 * PCI config space: with -x a hex dump, then the header decoded and the
 * capability lists walked (standard, then extended past 0x100). The server's
 * bytes are not trusted: a pointer out of range or a loop ends the walk with
 * a note.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "common/pci.h"
#include "info.h"

#define CFG_MAX 4096 /* PCIe extended config space */

static uint16_t get16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

/* A BAR is listed when it holds a value or its region has a size: an
 * unprogrammed BAR reads 0 but still exists. */
static void print_bars(FILE *f, const uint8_t *cfg, const struct info_regions *r)
{
	int i;

	for (i = 0; i < 6; i++) {
		uint32_t v = get32(cfg + PCI_BASE_ADDRESS_0 + 4 * i);
		bool is64 = !(v & PCI_BASE_ADDRESS_SPACE_IO) &&
		            (v & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;

		if (!v && !r->size[i])
			continue;
		fprintf(f, "  BAR%d: ", i);
		if (v & PCI_BASE_ADDRESS_SPACE_IO)
			fprintf(f, "I/O at 0x%x", (unsigned int)(v & PCI_BASE_ADDRESS_IO_MASK));
		else
			fprintf(f, "memory at 0x%x, %s%s",
			        (unsigned int)(v & PCI_BASE_ADDRESS_MEM_MASK),
			        is64 ? "64-bit" : "32-bit",
			        v & PCI_BASE_ADDRESS_MEM_PREFETCH ? ", prefetchable" : "");
		fprintf(f, ", size 0x%llx\n", (unsigned long long)r->size[i]);
		if (is64)
			i++; /* the next BAR is this one's upper half */
	}
}

static void print_header(FILE *f, const uint8_t *cfg, const struct info_regions *r)
{
	fprintf(f, "  vendor 0x%04x device 0x%04x subsystem 0x%04x:0x%04x revision 0x%02x\n",
	        get16(cfg + PCI_VENDOR_ID), get16(cfg + PCI_DEVICE_ID),
	        get16(cfg + PCI_SUBSYSTEM_VENDOR_ID), get16(cfg + PCI_SUBSYSTEM_ID),
	        cfg[PCI_REVISION_ID]);
	fprintf(f, "  class 0x%06x header type 0x%02x command 0x%04x status 0x%04x\n",
	        get32(cfg + PCI_CLASS_REVISION) >> 8, cfg[PCI_HEADER_TYPE],
	        get16(cfg + PCI_COMMAND), get16(cfg + PCI_STATUS));
	fprintf(f, "  interrupt pin %u%s line %u\n", cfg[PCI_INTERRUPT_PIN],
	        cfg[PCI_INTERRUPT_PIN] ? "" : " (none)", cfg[PCI_INTERRUPT_LINE]);
	if ((cfg[PCI_HEADER_TYPE] & 0x7f) == PCI_HEADER_TYPE_NORMAL)
		print_bars(f, cfg, r);
}

static void print_msix(FILE *f, const uint8_t *c)
{
	uint16_t ctl = get16(c + PCI_MSIX_FLAGS);
	uint32_t table = get32(c + PCI_MSIX_TABLE);
	uint32_t pba = get32(c + PCI_MSIX_PBA);

	fprintf(f, "MSI-X: %u vectors, %s%s, table BAR%u+0x%x, PBA BAR%u+0x%x\n",
	        (ctl & PCI_MSIX_FLAGS_QSIZE) + 1,
	        ctl & PCI_MSIX_FLAGS_ENABLE ? "enabled" : "disabled",
	        ctl & PCI_MSIX_FLAGS_MASKALL ? ", function masked" : "", table & PCI_MSIX_TABLE_BIR,
	        table & PCI_MSIX_TABLE_OFFSET, pba & PCI_MSIX_PBA_BIR, pba & PCI_MSIX_PBA_OFFSET);
}

static void print_msi(FILE *f, const uint8_t *c)
{
	uint16_t ctl = get16(c + PCI_MSI_FLAGS);

	fprintf(f, "MSI: up to %u vectors, %s%s%s\n", 1u << ((ctl & PCI_MSI_FLAGS_QMASK) >> 1),
	        ctl & PCI_MSI_FLAGS_ENABLE ? "enabled" : "disabled",
	        ctl & PCI_MSI_FLAGS_64BIT ? ", 64-bit" : "",
	        ctl & PCI_MSI_FLAGS_MASKBIT ? ", per-vector masking" : "");
}

static void print_cap(FILE *f, const uint8_t *c, size_t room)
{
	uint16_t pmc, pmcsr;

	switch (c[PCI_CAP_LIST_ID]) {
	case PCI_CAP_ID_PM:
		if (room < PCI_PM_SIZEOF)
			break;
		pmc = get16(c + PCI_PM_PMC);
		pmcsr = get16(c + PCI_PM_CTRL);
		fprintf(f, "power management: version %u, state D%u%s\n", pmc & PCI_PM_CAP_VER_MASK,
		        pmcsr & PCI_PM_CTRL_STATE_MASK,
		        pmcsr & PCI_PM_CTRL_NO_SOFT_RESET ? ", no soft reset" : "");
		return;
	case PCI_CAP_ID_MSI:
		if (room < 4)
			break;
		print_msi(f, c);
		return;
	case PCI_CAP_ID_MSIX:
		if (room < PCI_CAP_MSIX_SIZEOF)
			break;
		print_msix(f, c);
		return;
	case PCI_CAP_ID_EXP:
		if (room < 4)
			break;
		fprintf(f, "PCI Express: version %u, port type %u\n",
		        get16(c + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_VERS,
		        (get16(c + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4);
		return;
	case PCI_CAP_ID_VNDR:
		fprintf(f, "vendor specific, %u bytes\n", c[PCI_CAP_FLAGS]);
		return;
	default:
		fprintf(f, "id 0x%02x (not decoded)\n", c[PCI_CAP_LIST_ID]);
		return;
	}
	fprintf(f, "id 0x%02x, truncated by the end of config space\n", c[PCI_CAP_LIST_ID]);
}

struct cap_out {
	FILE *f;
	const uint8_t *cfg;
};

static void cap_found(void *arg, unsigned int at, unsigned int id)
{
	const struct cap_out *o = arg;

	fprintf(o->f, "    0x%02x ", at);
	print_cap(o->f, o->cfg + at, PCI_CFG_SPACE_SIZE - at);
}

static void walk_caps(FILE *f, const uint8_t *cfg, size_t len)
{
	struct cap_out o = {f, cfg};
	struct pci_walk w;

	fprintf(f, "  capabilities:\n");
	w = pci_walk_caps(cfg, len, cap_found, &o);
	if (w.end == PCI_WALK_RANGE)
		fprintf(f, "    bad pointer 0x%02x into the header: walk stopped\n", w.bad);
	else if (w.end == PCI_WALK_LOOP)
		fprintf(f, "    pointer 0x%02x loops back: walk stopped\n", w.bad);
	else if (!w.nr)
		fprintf(f, "    none\n");
}

static void ext_cap_found(void *arg, unsigned int at, uint32_t hdr)
{
	fprintf(arg, "    0x%03x id 0x%04x version %u\n", at, PCI_EXT_CAP_ID(hdr),
	        PCI_EXT_CAP_VER(hdr));
}

static void walk_ext_caps(FILE *f, const uint8_t *cfg, size_t len)
{
	struct pci_walk w;

	if (len <= PCI_CFG_SPACE_SIZE)
		return;
	fprintf(f, "  extended capabilities:\n");
	w = pci_walk_ext_caps(cfg, len, ext_cap_found, f);
	if (w.end != PCI_WALK_DONE)
		fprintf(f, "    bad or looping pointer 0x%03x: walk stopped\n", w.bad);
	else if (!w.nr)
		fprintf(f, "    none\n");
}

int info_print_config(FILE *f, struct vu_client *c, const struct vu_call_opts *o,
                      const struct info_regions *r, bool hex)
{
	uint64_t cfg_size = r->size[VFIO_PCI_CONFIG_REGION_INDEX];
	size_t len = cfg_size < CFG_MAX ? cfg_size : CFG_MAX;
	uint8_t *cfg;
	int err;

	if (len < PCI_STD_HEADER_SIZEOF) {
		fprintf(f, "config space: %llu bytes, too small for a PCI header\n",
		        (unsigned long long)cfg_size);
		return len ? -EPROTO : 0;
	}
	cfg = calloc(1, CFG_MAX);
	if (!cfg)
		return -ENOMEM;
	err = vu_region_read(c, o, VFIO_PCI_CONFIG_REGION_INDEX, 0, cfg, len);
	if (err) {
		fprintf(f, "config space: REGION_READ of %zu bytes failed: %s\n", len,
		        strerror(-err));
		goto out;
	}
	fprintf(f, "config space (%zu bytes):\n", len);
	if (hex)
		pci_hexdump(f, "  ", cfg, len);
	print_header(f, cfg, r);
	if (len >= PCI_CFG_SPACE_SIZE)
		walk_caps(f, cfg, len);
	walk_ext_caps(f, cfg, len);
out:
	free(cfg);
	return err;
}
