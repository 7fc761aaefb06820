/* SPDX-License-Identifier: MIT */
/*
 * Walking a PCI function's capability lists in config space that came from
 * a server, and so is not trusted: one walker with one guard against bad
 * pointers and loops, for the programs that decode config space
 * (vfio-user-info, vfio-lspci), which print what it finds each their way.
 */
#ifndef VFIO_USER_CUSE_COMMON_PCI_H
#define VFIO_USER_CUSE_COMMON_PCI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* How a walk ended. */
enum pci_walk_end {
	PCI_WALK_DONE,  /* the list ended (or there was none) */
	PCI_WALK_RANGE, /* a pointer outside the list's part of config space */
	PCI_WALK_LOOP,  /* a pointer back to a capability already seen */
};

struct pci_walk {
	enum pci_walk_end end;
	unsigned int bad; /* the offending pointer, for RANGE and LOOP */
	unsigned int nr;  /* capabilities visited */
};

/*
 * Call fn for each capability of the standard list (at its offset, with its
 * id) of the size bytes of cfg. A list needs the status register's
 * capability bit; its pointers must lie in [0x40, 0x100).
 */
struct pci_walk pci_walk_caps(const uint8_t *cfg, size_t size,
                              void (*fn)(void *arg, unsigned int at, unsigned int id), void *arg);

/*
 * The same for the extended list from 0x100 (for size > 0x100): fn gets the
 * capability's header. An all-zero or all-one header there ends the list;
 * its pointers must lie in [0x100, size - 4].
 */
struct pci_walk pci_walk_ext_caps(const uint8_t *cfg, size_t size,
                                  void (*fn)(void *arg, unsigned int at, uint32_t hdr), void *arg);

/* Hex dump like lspci -x: 16 bytes a line, after indent and the offset. */
void pci_hexdump(FILE *f, const char *indent, const uint8_t *cfg, size_t size);

#endif
