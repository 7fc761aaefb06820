// SPDX-License-Identifier: MIT
/*
 * BAR0: the device's registers, the MSI-X table and the PBA. Any size and
 * alignment is accepted: an access is cut into the 32-bit registers it
 * touches, and a partial write merges into the register's current value
 * before it takes effect, lowest address first (so one 8-byte write of
 * DMA_LEN and DMA_CMD sets the length before ringing the doorbell).
 */
#include <string.h>

#include "device.h"

#define MSIX_TABLE_END   (EXDEV_MSIX_TABLE_OFFSET + EXDEV_MSIX_VECTORS * EXDEV_MSIX_ENTRY_SIZE)
#define MSIX_VECTOR_CTRL 12 /* offset of Vector Control in a table entry */

void exdev_bar0_reset(struct exdev *d)
{
	struct exdev_regs *r = &d->regs;
	int v;

	memset(r, 0, sizeof(*r));
	/* PCI: every MSI-X vector comes out of reset masked. */
	for (v = 0; v < EXDEV_MSIX_VECTORS; v++)
		r->msix_table[v * EXDEV_MSIX_ENTRY_SIZE + MSIX_VECTOR_CTRL] = 1;
}

static uint32_t table_get(const struct exdev_regs *r, uint64_t off)
{
	uint32_t v;

	memcpy(&v, r->msix_table + (off - EXDEV_MSIX_TABLE_OFFSET), 4);
	return v;
}

static void table_put(struct exdev_regs *r, uint64_t off, uint32_t v)
{
	/* Only the mask bit of Vector Control is writable. */
	if (((off - EXDEV_MSIX_TABLE_OFFSET) % EXDEV_MSIX_ENTRY_SIZE) == MSIX_VECTOR_CTRL)
		v &= 1;
	memcpy(r->msix_table + (off - EXDEV_MSIX_TABLE_OFFSET), &v, 4);
}

static uint32_t reg_get(const struct exdev *d, uint64_t off)
{
	const struct exdev_regs *r = &d->regs;

	if (off >= EXDEV_MSIX_TABLE_OFFSET && off < MSIX_TABLE_END)
		return table_get(r, off);
	switch (off) {
	case EXDEV_REG_ID:
		return EXDEV_ID_VALUE;
	case EXDEV_REG_VERSION:
		return 1;
	case EXDEV_REG_SCRATCH:
		return r->scratch;
	case EXDEV_REG_STATUS:
		return r->status;
	case EXDEV_REG_DMA_SRC:
		return (uint32_t)r->dma_src;
	case EXDEV_REG_DMA_SRC + 4:
		return r->dma_src >> 32;
	case EXDEV_REG_DMA_DST:
		return (uint32_t)r->dma_dst;
	case EXDEV_REG_DMA_DST + 4:
		return r->dma_dst >> 32;
	case EXDEV_REG_DMA_LEN:
		return r->dma_len;
	case EXDEV_REG_IRQ_CTRL:
		return r->irq_ctrl;
	case EXDEV_REG_IRQ_VECTOR:
		return r->irq_vector;
	case EXDEV_REG_DMA_COUNT:
		return r->dma_count;
	default:
		/* Write-only doorbells, the PBA (never pending: vectors are
		 * delivered by eventfd, not held) and unused space read 0. */
		return 0;
	}
}

static void set_lo(uint64_t *r, uint32_t v)
{
	*r = (*r & ~0xffffffffull) | v;
}

static void set_hi(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffull) | (uint64_t)v << 32;
}

static void reg_put(struct exdev *d, uint64_t off, uint32_t v)
{
	struct exdev_regs *r = &d->regs;

	if (off >= EXDEV_MSIX_TABLE_OFFSET && off < MSIX_TABLE_END) {
		table_put(r, off, v);
		return;
	}
	switch (off) {
	case EXDEV_REG_SCRATCH:
		r->scratch = v;
		break;
	case EXDEV_REG_DMA_SRC:
		set_lo(&r->dma_src, v);
		break;
	case EXDEV_REG_DMA_SRC + 4:
		set_hi(&r->dma_src, v);
		break;
	case EXDEV_REG_DMA_DST:
		set_lo(&r->dma_dst, v);
		break;
	case EXDEV_REG_DMA_DST + 4:
		set_hi(&r->dma_dst, v);
		break;
	case EXDEV_REG_DMA_LEN:
		r->dma_len = v;
		break;
	case EXDEV_REG_DMA_CMD:
		if (v & EXDEV_DMA_CMD_GO)
			exdev_dma_run(d, v);
		break;
	case EXDEV_REG_IRQ_CTRL:
		r->irq_ctrl = v & EXDEV_IRQ_CTRL_ON_DMA;
		break;
	case EXDEV_REG_IRQ_VECTOR:
		r->irq_vector = v;
		break;
	case EXDEV_REG_IRQ_RAISE:
		exdev_irq_raise(d, r->irq_vector);
		break;
	default:
		/* Read-only registers and unused space ignore writes. */
		break;
	}
}

void exdev_bar0_read(struct exdev *d, uint64_t off, uint8_t *buf, uint32_t count)
{
	while (count) {
		uint64_t reg = off & ~3ull;
		uint32_t skip = off - reg;
		uint32_t n = 4 - skip < count ? 4 - skip : count;
		uint32_t v = reg_get(d, reg);

		memcpy(buf, (uint8_t *)&v + skip, n);
		buf += n;
		off += n;
		count -= n;
	}
}

void exdev_bar0_write(struct exdev *d, uint64_t off, const uint8_t *buf, uint32_t count)
{
	while (count) {
		uint64_t reg = off & ~3ull;
		uint32_t skip = off - reg;
		uint32_t n = 4 - skip < count ? 4 - skip : count;
		uint32_t v = reg_get(d, reg);

		memcpy((uint8_t *)&v + skip, buf, n);
		reg_put(d, reg, v);
		buf += n;
		off += n;
		count -= n;
	}
}
