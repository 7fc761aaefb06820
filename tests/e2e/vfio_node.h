/* SPDX-License-Identifier: MIT */
/*
 * What the end-to-end cases do to a /dev/vfio-user node, written only
 * against <linux/vfio.h> and the example device's header: every helper
 * returns 0 or -errno.
 */
#ifndef VUC_E2E_VFIO_NODE_H
#define VUC_E2E_VFIO_NODE_H

#include <stddef.h>
#include <stdint.h>

#include <linux/vfio.h>

#include "examples/example-device.h"

/* vfio-pci's layout, which the node reproduces: region index in bits 40+. */
#define REGION_OFF(index, off) (((uint64_t)(index) << 40) + (off))

/*
 * Waits on eventfds and nodes are bounded by this unless a case says
 * otherwise. The example device signals before the register write that
 * raises returns, so this only limits how long a missing interrupt takes to
 * fail, on however loaded a host.
 */
#define WAIT_MS 20000

int node_open(const char *path);

int region_read(int fd, unsigned int index, uint64_t off, void *buf, size_t len);
int region_write(int fd, unsigned int index, uint64_t off, const void *buf, size_t len);
int reg_read(int fd, uint32_t reg, uint32_t *val);
int reg_write(int fd, uint32_t reg, uint32_t val);
int reg_write64(int fd, uint32_t reg, uint64_t val);

/* Memory space and bus mastering on in the PCI command register, as a
 * driver does before the device may DMA or send MSI-X (the example device
 * does neither without bus mastering, as real devices do). */
int pci_enable(int fd);

int iommu_setup(int fd);
int dma_map(int fd, void *vaddr, uint64_t iova, uint64_t size);
int dma_unmap(int fd, uint64_t iova, uint64_t size, uint64_t *unmapped);

/* Program the DMA engine, ring the doorbell, return STATUS. */
int dma_run(int fd, uint64_t src, uint64_t dst, uint32_t len, uint32_t flags, uint32_t *status);

/* SET_IRQS ACTION_TRIGGER with eventfds (-1 de-assigns one). */
int irq_eventfds(int fd, uint32_t index, uint32_t start, uint32_t count, const int32_t *fds);
/* SET_IRQS DATA_NONE with ACTION; count 0 with TRIGGER disables the index. */
int irq_none(int fd, uint32_t index, uint32_t action, uint32_t start, uint32_t count);

/* Wait for an eventfd to fire; its counter in *count. -ETIMEDOUT after MS. */
int efd_wait(int efd, int ms, uint64_t *count);
/* The counter now, 0 if it has not fired; never waits. */
int efd_peek(int efd, uint64_t *count);
int efd_new(void);

/* DMA buffers: memfd-backed (MAP_SHARED) or anonymous (MAP_PRIVATE). */
void *buf_memfd(size_t size);
void *buf_anon(size_t size);

void fill(uint8_t *p, size_t n, uint32_t seed);
/* Index of the first byte that differs, or N. */
size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n);

#endif
