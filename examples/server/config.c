// SPDX-License-Identifier: MIT
/*
 * PCI configuration space of the example device: a type 0 header, two memory
 * BARs and a capability list (power management, MSI-X). Writes go through a
 * per-byte mask of writable bits, which also makes BAR sizing work: writing
 * all ones to a BAR reads back its size mask.
 */
#include <string.h>

#include <linux/pci_regs.h>

#include "device.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static void config_header(uint8_t *cfg, uint8_t *wmask)
{
	put16(cfg + PCI_VENDOR_ID, EXDEV_VENDOR_ID);
	put16(cfg + PCI_DEVICE_ID, EXDEV_DEVICE_ID);
	put16(cfg + PCI_STATUS, PCI_STATUS_CAP_LIST);
	cfg[PCI_REVISION_ID] = 0x01;
	cfg[PCI_CLASS_PROG] = EXDEV_CLASS_CODE & 0xff;
	put16(cfg + PCI_CLASS_DEVICE, EXDEV_CLASS_CODE >> 8);
	cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	put16(cfg + PCI_SUBSYSTEM_VENDOR_ID, EXDEV_VENDOR_ID);
	put16(cfg + PCI_SUBSYSTEM_ID, EXDEV_DEVICE_ID);
	cfg[PCI_CAPABILITY_LIST] = EXDEV_CAP_PM;
	cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */

	put16(wmask + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
	                               PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	wmask[PCI_INTERRUPT_LINE] = 0xff;

	/* BAR0: 32-bit memory, registers. BAR2: 32-bit prefetchable, RAM. */
	put32(cfg + PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_SPACE_MEMORY);
	put32(wmask + PCI_BASE_ADDRESS_0, ~(uint32_t)(EXDEV_BAR0_SIZE - 1));
	put32(cfg + PCI_BASE_ADDRESS_2, PCI_BASE_ADDRESS_MEM_PREFETCH);
	put32(wmask + PCI_BASE_ADDRESS_2, ~(uint32_t)(EXDEV_BAR2_SIZE - 1));
}

static void config_caps(uint8_t *cfg, uint8_t *wmask)
{
	uint8_t *pm = cfg + EXDEV_CAP_PM;
	uint8_t *msix = cfg + EXDEV_CAP_MSIX;

	pm[PCI_CAP_LIST_ID] = PCI_CAP_ID_PM;
	pm[PCI_CAP_LIST_NEXT] = EXDEV_CAP_MSIX;
	put16(pm + PCI_PM_PMC, 3); /* PM spec 1.2, D0 and D3hot only */
	put16(pm + PCI_PM_CTRL, PCI_PM_CTRL_NO_SOFT_RESET);
	wmask[EXDEV_CAP_PM + PCI_PM_CTRL] = PCI_PM_CTRL_STATE_MASK;

	msix[PCI_CAP_LIST_ID] = PCI_CAP_ID_MSIX;
	msix[PCI_CAP_LIST_NEXT] = 0;
	put16(msix + PCI_MSIX_FLAGS, EXDEV_MSIX_VECTORS - 1);
	put32(msix + PCI_MSIX_TABLE, EXDEV_MSIX_TABLE_OFFSET); /* BIR 0 */
	put32(msix + PCI_MSIX_PBA, EXDEV_MSIX_PBA_OFFSET);     /* BIR 0 */
	wmask[EXDEV_CAP_MSIX + PCI_MSIX_FLAGS + 1] =
	    (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;
}

/* The power-on image; also what a device reset returns to. */
void exdev_config_init(struct exdev *d)
{
	memset(d->cfg, 0, sizeof(d->cfg));
	memset(d->cfg_wmask, 0, sizeof(d->cfg_wmask));
	config_header(d->cfg, d->cfg_wmask);
	config_caps(d->cfg, d->cfg_wmask);
}

void exdev_config_read(const struct exdev *d, uint64_t off, uint8_t *buf, uint32_t count)
{
	memcpy(buf, d->cfg + off, count);
}

void exdev_config_write(struct exdev *d, uint64_t off, const uint8_t *buf, uint32_t count)
{
	uint32_t i;

	for (i = 0; i < count; i++) {
		uint8_t m = d->cfg_wmask[off + i];

		d->cfg[off + i] = (d->cfg[off + i] & ~m) | (buf[i] & m);
	}
}

bool exdev_config_intx_disabled(const struct exdev *d)
{
	return d->cfg[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8);
}

bool exdev_config_bus_master(const struct exdev *d)
{
	return d->cfg[PCI_COMMAND] & PCI_COMMAND_MASTER;
}
