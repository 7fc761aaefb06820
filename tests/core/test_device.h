/* SPDX-License-Identifier: MIT */
/*
 * A small vfio-user device served in a thread of the test (proto/server.h on
 * a unix socket), recording what the client asked of it, so the core's
 * requests can be checked one by one.
 *
 * Regions (vfio-pci indexes): 0 BAR0 4 KiB RW; 1 BAR1 absent (size 0);
 * 2 BAR2 8 KiB RW|MMAP with a sparse-mmap, a type and an MSI-X-mappable
 * capability; 6 ROM 2 KiB read-only; 7 config 256 bytes RW; 8 VGA refused
 * (EINVAL). IRQs: INTx 1, MSI 0, MSI-X 4, ERR 1, REQ 1.
 *
 * A 24-byte write of {iova, len, dir} at BAR0 TDEV_DMA_DOORBELL makes the
 * device DMA by message (dir 0: read client memory into BAR0's buffer at
 * TDEV_DMA_BUF; dir 1: write that buffer to client memory); the errno of
 * the DMA lands in TDEV_DMA_RESULT (4 bytes).
 *
 * With twin set (before the client connects) it offers twin-socket mode;
 * while its gate is closed (tdev_gate) every region write waits in the
 * server, so a test can tell a write that waits for its reply from one
 * that does not.
 */
#ifndef VFIO_USER_TESTS_TEST_DEVICE_H
#define VFIO_USER_TESTS_TEST_DEVICE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/server.h"

#define TDEV_BAR0_SIZE     0x1000u
#define TDEV_BAR2_SIZE     0x2000u
#define TDEV_ROM_SIZE      0x800u
#define TDEV_CFG_SIZE      0x100u
#define TDEV_NUM_REGIONS   9u
#define TDEV_NUM_IRQS      5u
#define TDEV_MSIX_COUNT    4u
#define TDEV_DMA_DOORBELL  0x100u
#define TDEV_DMA_RESULT    0x118u
#define TDEV_DMA_BUF       0x200u
#define TDEV_DMA_BUF_SIZE  0x800u
#define TDEV_TYPE_CAP_TYPE 0x1234u
#define TDEV_MAX_MAPS      16u

struct tdev_map {
	uint64_t iova, size;
	uint32_t flags;
	bool fd;
	int fd_mode; /* the fd's access (O_RDONLY, O_RDWR), -1 without one */
};

struct tdev {
	pthread_mutex_t lock;
	bool reset_flag; /* offer VFIO_DEVICE_FLAGS_RESET */
	bool twin;       /* offer twin-socket mode */
	bool gate_closed;
	pthread_cond_t gate;
	uint32_t max_dma_maps;
	uint64_t pgsizes;
	uint32_t msi_count; /* MSI vectors claimed: 0, or a lie */
	/* state */
	uint8_t bar0[TDEV_BAR0_SIZE];
	uint8_t cfg[TDEV_CFG_SIZE];
	struct tdev_map maps[TDEV_MAX_MAPS];
	unsigned int nr_maps;
	int irq_fds[TDEV_NUM_IRQS][TDEV_MSIX_COUNT];
	/* The next region (IRQ) info answer for index slow_region (slow_irq)
	 * comes slow_ms late, once, when slow_region_once (slow_irq_once). */
	bool slow_region_once, slow_irq_once;
	uint32_t slow_region, slow_irq;
	unsigned int slow_ms;
	/* counters */
	unsigned int map_calls, unmap_calls, resets, set_irqs_calls, region_writes;
	unsigned int region_info_calls[TDEV_NUM_REGIONS], irq_info_calls[TDEV_NUM_IRQS];
	struct {
		uint32_t flags, index, start, count;
	} last_set;
	size_t last_nr_fds;
	/* serving */
	char path[108];
	int listen_fd;
	pthread_t thread;
	volatile sig_atomic_t stop;
};

/* Start serving on a fresh socket path (t->path). */
int tdev_start(struct tdev *t, bool reset_flag, uint32_t max_dma_maps);
void tdev_stop(struct tdev *t);

/* Close (true) or open the gate region writes wait at. */
void tdev_gate(struct tdev *t, bool closed);

/* Snapshot one counter or state under the lock. */
unsigned int tdev_region_writes(struct tdev *t);
unsigned int tdev_nr_maps(struct tdev *t);
unsigned int tdev_region_info_calls(struct tdev *t, uint32_t index);
unsigned int tdev_irq_info_calls(struct tdev *t, uint32_t index);
int tdev_irq_fd(struct tdev *t, uint32_t index, uint32_t vector);

#endif
