/* SPDX-License-Identifier: MIT */
/*
 * The example device's programming model, shared by the device server
 * (examples/server/) and the VFIO programs that drive it. A program needs only
 * this header and <linux/vfio.h>.
 *
 * A PCI device with:
 *   config space  256 bytes; capability list: power management at 0x40,
 *                 MSI-X at 0x50 (table and PBA in BAR0)
 *   BAR0          4 KiB of registers, accessed by messages (not mappable)
 *   BAR2          64 KiB of RAM, mappable (sparse-mmap capability) and also
 *                 reachable by messages
 *   IRQs          INTx (1), MSI (0), MSI-X (EXDEV_MSIX_VECTORS), ERR (1), REQ (1)
 *
 * DMA engine: program SRC, DST, LEN, then write EXDEV_DMA_CMD_GO (plus the
 * flags) to DMA_CMD. The device copies LEN bytes from SRC to DST, where each
 * address is an IOVA of client memory (mapped with VFIO_IOMMU_MAP_DMA) or,
 * with the BAR2 flags, an offset into BAR2. It reads and writes client memory
 * through the fd the client shared, or by DMA_READ/DMA_WRITE messages when it
 * shared none. It then sets STATUS, bumps DMA_COUNT and, if IRQ_CTRL enables
 * it, raises MSI-X vector IRQ_VECTOR when MSI-X has eventfds, else INTx.
 * The copy is done before the device answers any later request: a read of
 * STATUS after the write to DMA_CMD sees it complete (through a
 * /dev/vfio-user node BAR writes are posted, as PCI memory writes are, so
 * the write itself may return first).
 */
#ifndef VFIO_USER_EXAMPLE_DEVICE_H
#define VFIO_USER_EXAMPLE_DEVICE_H

#define EXDEV_VENDOR_ID    0x7565 /* not a registered vendor: a test device */
#define EXDEV_DEVICE_ID    0x0001
#define EXDEV_CLASS_CODE   0xff0000 /* unassigned class */
#define EXDEV_MSIX_VECTORS 4

#define EXDEV_BAR0_SIZE 0x1000
#define EXDEV_BAR2_SIZE 0x10000
#define EXDEV_CFG_SIZE  0x100

#define EXDEV_CAP_PM   0x40
#define EXDEV_CAP_MSIX 0x50

/* BAR0 registers; 32-bit unless marked 64. */
#define EXDEV_REG_ID         0x00 /* RO: EXDEV_ID_VALUE */
#define EXDEV_REG_VERSION    0x04 /* RO: 1 */
#define EXDEV_REG_SCRATCH    0x08 /* RW: no effect; reset clears it */
#define EXDEV_REG_STATUS     0x0c /* RO: EXDEV_STATUS_* */
#define EXDEV_REG_DMA_SRC    0x10 /* RW, 64 */
#define EXDEV_REG_DMA_DST    0x18 /* RW, 64 */
#define EXDEV_REG_DMA_LEN    0x20 /* RW: at most EXDEV_DMA_MAX_LEN */
#define EXDEV_REG_DMA_CMD    0x24 /* WO: doorbell */
#define EXDEV_REG_IRQ_CTRL   0x28 /* RW: EXDEV_IRQ_CTRL_* */
#define EXDEV_REG_IRQ_VECTOR 0x2c /* RW: MSI-X vector to raise */
#define EXDEV_REG_DMA_COUNT  0x30 /* RO: completed DMA operations */
#define EXDEV_REG_IRQ_RAISE  0x34 /* WO: raise the interrupt now, no DMA */

#define EXDEV_ID_VALUE 0x45535556u /* "VUSE" little-endian */

#define EXDEV_DMA_CMD_GO       (1u << 0)
#define EXDEV_DMA_CMD_SRC_BAR2 (1u << 1) /* SRC is an offset into BAR2 */
#define EXDEV_DMA_CMD_DST_BAR2 (1u << 2) /* DST is an offset into BAR2 */

#define EXDEV_STATUS_DMA_DONE  (1u << 0)
#define EXDEV_STATUS_DMA_ERROR (1u << 1) /* bad address, length or unmapped IOVA */

#define EXDEV_IRQ_CTRL_ON_DMA (1u << 0) /* raise the interrupt when a DMA completes */

#define EXDEV_DMA_MAX_LEN (1u << 20)

/* MSI-X table and PBA, in BAR0. */
#define EXDEV_MSIX_TABLE_OFFSET 0x800
#define EXDEV_MSIX_PBA_OFFSET   0xc00

#endif
