/* SPDX-License-Identifier: MIT */
/*
 * The example device's state, shared by the files of the example server.
 * Each file owns one part: config space (config.c), BAR0 registers (bar0.c),
 * regions (regions.c), DMA (dma.c), interrupts (irq.c); device.c ties them
 * to the vu_server_ops callbacks.
 *
 * Everything runs on the vu_serve thread except the INTx unmask-eventfd
 * watcher (irq.c), so only the interrupt state has a lock.
 */
#ifndef EXDEV_SERVER_DEVICE_H
#define EXDEV_SERVER_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "examples/example-device.h"
#include "proto/server.h"

#define EXDEV_MSIX_ENTRY_SIZE 16

struct exdev_regs {
	uint32_t scratch;
	uint32_t status;
	uint64_t dma_src;
	uint64_t dma_dst;
	uint32_t dma_len;
	uint32_t irq_ctrl;
	uint32_t irq_vector;
	uint32_t dma_count;
	uint8_t msix_table[EXDEV_MSIX_VECTORS * EXDEV_MSIX_ENTRY_SIZE];
};

struct exdev_dma_map {
	uint64_t iova;
	uint64_t size;
	uint32_t flags; /* VFIO_USER_F_DMA_REGION_* */
	int fd;         /* -1: reached by DMA_READ/DMA_WRITE messages */
	uint8_t *base;  /* iova's byte in our mapping of fd, or NULL */
	void *mem;      /* what mmap returned, for munmap */
	size_t mem_len;
};

struct exdev_dma {
	struct exdev_dma_map *maps;
	size_t nr;
	size_t cap;
	size_t max;
};

struct exdev_intx {
	int trigger; /* eventfd or -1 */
	bool masked;
	bool pending;  /* raised while masked: delivered on unmask */
	int unmask_fd; /* eventfd whose signal unmasks, or -1 */
	int stop_fd;   /* wakes the watcher thread to exit */
	pthread_t watcher;
	bool watching;
};

struct exdev_irqs {
	pthread_mutex_t lock;
	struct exdev_intx intx;
	int msix[EXDEV_MSIX_VECTORS];
	int err;
	int req;
	const struct vu_log *log;
};

struct exdev {
	uint8_t cfg[EXDEV_CFG_SIZE];
	uint8_t cfg_wmask[EXDEV_CFG_SIZE];
	struct exdev_regs regs;
	int bar2_fd;
	uint8_t *bar2;
	bool bar2_mmap; /* offer the fd and the sparse-mmap capability */
	struct exdev_dma dma;
	struct exdev_irqs irqs;
	unsigned int reply_delay_ms;
	const struct vu_log *log;
};

struct exdev_opts {
	bool bar2_mmap;
	unsigned int reply_delay_ms;
	uint32_t max_dma_maps;
	const struct vu_log *log;
};

int exdev_init(struct exdev *d, const struct exdev_opts *opts);
void exdev_fini(struct exdev *d);
extern const struct vu_server_ops exdev_ops;

/* config.c */
void exdev_config_init(struct exdev *d);
void exdev_config_read(const struct exdev *d, uint64_t off, uint8_t *buf, uint32_t count);
void exdev_config_write(struct exdev *d, uint64_t off, const uint8_t *buf, uint32_t count);
bool exdev_config_intx_disabled(const struct exdev *d);
/* Bus Master Enable: without it the device neither DMAs nor sends MSI-X. */
bool exdev_config_bus_master(const struct exdev *d);

/* bar0.c */
void exdev_bar0_reset(struct exdev *d);
void exdev_bar0_read(struct exdev *d, uint64_t off, uint8_t *buf, uint32_t count);
void exdev_bar0_write(struct exdev *d, uint64_t off, const uint8_t *buf, uint32_t count);

/* regions.c */
int exdev_bar2_init(struct exdev *d);
void exdev_bar2_fini(struct exdev *d);
int exdev_region_info(void *dev, uint32_t index, void *buf, size_t *len, int *fd);
int exdev_region_read(void *dev, uint32_t region, uint64_t offset, void *buf, uint32_t count);
int exdev_region_write(void *dev, uint32_t region, uint64_t offset, const void *buf,
                       uint32_t count);

/* dma.c */
void exdev_dma_init(struct exdev_dma *dma, size_t max);
int exdev_dma_map(void *dev, const struct vfio_user_dma_map *map, int fd);
int exdev_dma_unmap(void *dev, const struct vfio_user_dma_unmap *unmap);
void exdev_dma_unmap_all(struct exdev *d);
int exdev_dma_read(struct exdev *d, uint64_t iova, void *buf, size_t len);
int exdev_dma_write(struct exdev *d, uint64_t iova, const void *buf, size_t len);
void exdev_dma_run(struct exdev *d, uint32_t cmd);

/* irq.c */
int exdev_irqs_init(struct exdev_irqs *irqs, const struct vu_log *log);
void exdev_irqs_fini(struct exdev_irqs *irqs);
int exdev_irq_info(void *dev, uint32_t index, struct vfio_user_irq_info *info);
int exdev_set_irqs(void *dev, const struct vfio_user_irq_set *set, const uint8_t *data, int *fds,
                   size_t nr_fds);
/* Raise the device interrupt: MSI-X vector if it has an eventfd, else INTx. */
void exdev_irq_raise(struct exdev *d, uint32_t vector);
/* Close INTx and MSI-X eventfds, clear mask state; all_fds adds ERR/REQ. */
void exdev_irqs_reset(struct exdev_irqs *irqs, bool all_fds);

#endif
