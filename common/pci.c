// SPDX-License-Identifier: MIT
#include "pci.h"

#include <stdbool.h>

#include <linux/pci_regs.h>

static unsigned int rd8(const uint8_t *cfg, size_t size, size_t off)
{
	return off < size ? cfg[off] : 0xff;
}

static unsigned int rd16(const uint8_t *cfg, size_t size, size_t off)
{
	return rd8(cfg, size, off) | rd8(cfg, size, off + 1) << 8;
}

static uint32_t rd32(const uint8_t *cfg, size_t size, size_t off)
{
	return rd16(cfg, size, off) | (uint32_t)rd16(cfg, size, off + 2) << 16;
}

/*
 * Whether the capability at at may be visited: its pointer lies in [lo, hi)
 * and it was not seen before (the offsets are dword aligned, so a flag per
 * dword of config space tells a loop at its first turn). Else w says why.
 */
static bool may_visit(struct pci_walk *w, bool *seen, unsigned int at, size_t lo, size_t hi)
{
	if (at < lo || at >= hi) {
		w->end = PCI_WALK_RANGE;
		w->bad = at;
		return false;
	}
	if (seen[at / 4]) {
		w->end = PCI_WALK_LOOP;
		w->bad = at;
		return false;
	}
	seen[at / 4] = true;
	return true;
}

struct pci_walk pci_walk_caps(const uint8_t *cfg, size_t size,
                              void (*fn)(void *arg, unsigned int at, unsigned int id), void *arg)
{
	bool seen[PCI_CFG_SPACE_SIZE / 4] = {false};
	struct pci_walk w = {PCI_WALK_DONE, 0, 0};
	unsigned int at = rd8(cfg, size, PCI_CAPABILITY_LIST) & ~3u;

	if (!(rd16(cfg, size, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return w;
	for (; at; at = rd8(cfg, size, at + PCI_CAP_LIST_NEXT) & ~3u) {
		if (!may_visit(&w, seen, at, PCI_STD_HEADER_SIZEOF, PCI_CFG_SPACE_SIZE))
			return w;
		w.nr++;
		fn(arg, at, rd8(cfg, size, at + PCI_CAP_LIST_ID));
	}
	return w;
}

struct pci_walk pci_walk_ext_caps(const uint8_t *cfg, size_t size,
                                  void (*fn)(void *arg, unsigned int at, uint32_t hdr), void *arg)
{
	bool seen[PCI_CFG_SPACE_EXP_SIZE / 4] = {false};
	struct pci_walk w = {PCI_WALK_DONE, 0, 0};
	unsigned int at = PCI_CFG_SPACE_SIZE;
	uint32_t hdr;

	if (size <= PCI_CFG_SPACE_SIZE)
		return w;
	if (size > PCI_CFG_SPACE_EXP_SIZE)
		size = PCI_CFG_SPACE_EXP_SIZE;
	for (; at; at = PCI_EXT_CAP_NEXT(hdr)) {
		if (!may_visit(&w, seen, at, PCI_CFG_SPACE_SIZE, size - 3))
			return w;
		hdr = rd32(cfg, size, at);
		if (!hdr || hdr == 0xffffffff)
			return w;
		w.nr++;
		fn(arg, at, hdr);
	}
	return w;
}

void pci_hexdump(FILE *f, const char *indent, const uint8_t *cfg, size_t size)
{
	for (size_t off = 0; off < size; off += 16) {
		fprintf(f, "%s%03zx:", indent, off);
		for (size_t i = off; i < off + 16 && i < size; i++)
			fprintf(f, " %02x", cfg[i]);
		fprintf(f, "\n");
	}
}
