/* SPDX-License-Identifier: MIT */
/* Decoding a PCI function's configuration space the way lspci -vv prints it. */
#ifndef VFIO_USER_CUSE_EXAMPLES_PCI_CONFIG_H
#define VFIO_USER_CUSE_EXAMPLES_PCI_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Config space as read, and the BAR/ROM sizes VFIO reported for its regions. */
struct pci_view {
	const uint8_t *cfg;
	size_t size;          /* bytes of cfg read: 256, or 4096 for PCI Express */
	uint64_t bar_size[7]; /* BAR0..5 and the expansion ROM, from region info */
};

/* Header, BARs and the capability lists (standard and extended). */
void pci_print(const struct pci_view *v);

#endif
