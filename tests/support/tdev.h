/* SPDX-License-Identifier: MIT */
/*
 * The recording test device: a small vfio-user PCI device served by
 * vu_serve in a thread of the test, recording what its client asked of it
 * so that the requests of the protocol client (tests/transport) and of the
 * core (tests/core) can be checked one by one.
 *
 * Regions (vfio-pci indexes): 0 BAR0 4 KiB RW; 1 BAR1 4 MiB RW of plain
 * memory, for transfers that must be split; 2 BAR2 8 KiB RW|MMAP with an
 * fd (a memfd holding TDEV_BAR2_TEXT) and a capability chain longer than a
 * first argsz: a sparse mmap of TDEV_BAR2_AREAS areas, a type and an MSI-X
 * mappable capability; 3 to 5 absent (size 0); 6 ROM 2 KiB read-only; 7
 * config 256 bytes RW; 8 VGA refused (EINVAL). IRQs: INTx 1, MSI msi_count
 * (0 unless a test lies), MSI-X TDEV_MSIX_COUNT, ERR 1, REQ 1. The device
 * keeps the eventfds it is given, as a server does (tdev_irq_fd).
 *
 * BAR0 registers:
 * - a read at TDEV_SLOW_OFF answers slow_ms late;
 * - a 24-byte write of {iova, len, dir} at TDEV_DMA_DOORBELL makes the
 *   device DMA by message (dir 0: read client memory into BAR0's buffer at
 *   TDEV_DMA_BUF; dir 1: write that buffer to client memory); the errno of
 *   the DMA lands in TDEV_DMA_RESULT (4 bytes);
 * - a write of struct tdev_dma_cmd at TDEV_DMA_CMD reads client memory,
 *   adds one to each byte and writes it elsewhere, after dma_delay_ms; the
 *   write's reply carries the DMA's errno.
 *
 * With twin set (before the client connects) the listening server offers
 * twin-socket mode; while its gate is closed (tdev_gate) every region write
 * waits in the server, so a test can tell a write that waits for its reply
 * from one that does not.
 */
#ifndef VUC_TESTS_SUPPORT_TDEV_H
#define VUC_TESTS_SUPPORT_TDEV_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/server.h"

#define TDEV_BAR0_SIZE     0x1000u
#define TDEV_BAR1_SIZE     (4u << 20)
#define TDEV_BAR2_SIZE     0x2000u
#define TDEV_BAR2_AREAS    20u
#define TDEV_BAR2_TEXT     "region two"
#define TDEV_ROM_SIZE      0x800u
#define TDEV_CFG_SIZE      0x100u
#define TDEV_NUM_REGIONS   9u
#define TDEV_NUM_IRQS      5u
#define TDEV_MSIX_COUNT    8u
#define TDEV_SLOW_OFF      0x080u
#define TDEV_DMA_DOORBELL  0x100u
#define TDEV_DMA_RESULT    0x118u
#define TDEV_DMA_CMD       0x140u
#define TDEV_DMA_BUF       0x200u
#define TDEV_DMA_BUF_SIZE  0x800u
#define TDEV_TYPE_CAP_TYPE 0x1234u
#define TDEV_MAX_MAPS      16u
#define TDEV_MAX_SETS      32u

/* Read len bytes of client memory at src, add one to each, write at dst. */
struct tdev_dma_cmd {
	uint64_t src;
	uint64_t dst;
	uint64_t len;
};

struct tdev_map {
	uint64_t iova, size;
	uint32_t flags;
	bool fd;
	int fd_mode;   /* the fd's access (O_RDONLY, O_RDWR), -1 without one */
	char peek[16]; /* the first bytes of the fd at the map's offset */
};

/* One SET_IRQS message. */
struct tdev_irq_msg {
	uint32_t flags, index, start, count;
	size_t nr_fds;
};

struct tdev {
	pthread_mutex_t lock;
	bool reset_flag; /* offer VFIO_DEVICE_FLAGS_RESET (tdev_init: yes) */
	bool twin;       /* offer twin-socket mode */
	bool gate_closed;
	pthread_cond_t gate;
	uint32_t max_dma_maps;
	uint32_t msi_count; /* MSI vectors claimed: 0, or a lie */
	/* state */
	uint8_t bar0[TDEV_BAR0_SIZE];
	uint8_t *bar1;
	uint8_t bar2[TDEV_BAR2_SIZE];
	int bar2_fd;
	uint8_t cfg[TDEV_CFG_SIZE];
	struct tdev_map maps[TDEV_MAX_MAPS];
	unsigned int nr_maps;
	int irq_fds[TDEV_NUM_IRQS][TDEV_MSIX_COUNT];
	uint8_t bools[TDEV_MSIX_COUNT]; /* the last DATA_BOOL of each vector */
	/* How late the slow answers come: a read at TDEV_SLOW_OFF, and the next
	 * region (IRQ) info answer for index slow_region (slow_irq), once, when
	 * slow_region_once (slow_irq_once). */
	int slow_ms;
	bool slow_region_once, slow_irq_once;
	uint32_t slow_region, slow_irq;
	int dma_delay_ms; /* a TDEV_DMA_CMD sleeps this long before its DMA */
	int dma_err;      /* what the last TDEV_DMA_CMD's DMA returned */
	/* counters */
	unsigned int map_calls, unmap_calls, resets, gone, region_writes, nr_reads;
	uint32_t max_read; /* largest REGION_READ count seen */
	unsigned int region_info_calls[TDEV_NUM_REGIONS], irq_info_calls[TDEV_NUM_IRQS];
	unsigned int set_irqs_calls;
	struct tdev_irq_msg sets[TDEV_MAX_SETS]; /* the first SET_IRQS messages */
	struct tdev_irq_msg last_set;
	/* serving on a path (tdev_start) */
	char path[108];
	int listen_fd;
	pthread_t thread;
	volatile sig_atomic_t stop;
};

extern const struct vu_server_ops tdev_ops;

void tdev_init(struct tdev *t);
void tdev_fini(struct tdev *t);

/* After tdev_init: serve on a socket path (t->path, made on the first
 * start), one client after the other, until tdev_stop. The device keeps its
 * state from one start to the next. */
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

/* The device served by vu_serve on one end of a socket pair, or on an
 * already connected fd. */
struct tserver {
	pthread_t th;
	int fd;
	volatile sig_atomic_t stop;
	struct vu_server_opts opts;
	struct tdev *dev;
	int ret;
};

/* The server offers caps (NULL: the defaults). Writes the client's
 * address ("fd:N") into addr. Returns 0 or -errno. */
int tserver_start(struct tserver *s, struct tdev *d, const struct vu_caps *caps, char *addr,
                  size_t addrlen);
/* Serve an already connected fd. */
int tserver_start_fd(struct tserver *s, struct tdev *d, const struct vu_caps *caps, int fd);
/* The same with all of vu_serve's options (strict mode, a log). */
int tserver_start_opts(struct tserver *s, struct tdev *d, const struct vu_server_opts *opts,
                       char *addr, size_t addrlen);
int tserver_start_fd_opts(struct tserver *s, struct tdev *d, const struct vu_server_opts *opts,
                          int fd);
/* Stop (if still serving) and join; returns what vu_serve returned. */
int tserver_join(struct tserver *s);

/* Guest memory the protocol client's DMA callback serves: GUEST_SIZE bytes
 * at IOVA GUEST_BASE. */
#define GUEST_BASE 0x100000ull
#define GUEST_SIZE (1u << 20)
struct guest {
	uint8_t *mem;
	unsigned reads, writes;
};
int guest_dma(void *arg, uint16_t cmd, uint64_t addr, void *buf, uint64_t count);

#endif
