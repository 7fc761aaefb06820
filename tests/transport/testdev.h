/* SPDX-License-Identifier: MIT */
/*
 * A small device for the transport tests, served by vu_serve in a thread,
 * and the client-side guest memory its DMA requests reach.
 */
#ifndef TESTS_TRANSPORT_TESTDEV_H
#define TESTS_TRANSPORT_TESTDEV_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/client.h"
#include "proto/server.h"

/* Region 0: 4 KiB of registers and memory. */
#define TDEV_REG0_SIZE 4096u
#define TDEV_SLOW_OFF  0x100u /* a read here sleeps dev->slow_ms first */
#define TDEV_DMA_OFF   0x200u /* a write of struct tdev_dma_cmd here DMAs */
/* Region 1: 4 MiB of plain memory, for transfers that must be split. */
#define TDEV_REG1_SIZE (4u << 20)
/* Region 2: info with a long capability chain and an fd. */
#define TDEV_REG2_AREAS 20u
#define TDEV_REG2_TEXT  "region two"
#define TDEV_NR_IRQS    8u /* vectors of IRQ index 1 */

/* Read len bytes of client memory at src, add one to each, write at dst. */
struct tdev_dma_cmd {
	uint64_t src;
	uint64_t dst;
	uint64_t len;
};

struct tdev_irq_msg {
	uint32_t flags;
	uint32_t start;
	uint32_t count;
	size_t nr_fds;
};

struct tdev {
	pthread_mutex_t lock;
	uint8_t reg0[TDEV_REG0_SIZE];
	uint8_t *reg1;
	int reg2_fd;
	int slow_ms;
	int dma_delay_ms;  /* a DMA command sleeps this long before its DMA */
	uint32_t max_read; /* largest REGION_READ count seen */
	unsigned nr_reads;
	struct tdev_irq_msg irqs[32];
	unsigned nr_irqs;
	uint8_t bools[TDEV_NR_IRQS];
	uint64_t map_iova, map_size;
	char map_peek[16];
	unsigned maps, unmaps, resets, gone;
	int dma_err;
};

void tdev_init(struct tdev *d);
void tdev_fini(struct tdev *d);
extern const struct vu_server_ops tdev_ops;

/* A vu_serve thread on one end of a socket pair. */
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

/* Guest memory the client's DMA callback serves: GUEST_SIZE bytes at IOVA
 * GUEST_BASE. */
#define GUEST_BASE 0x100000ull
#define GUEST_SIZE (1u << 20)
struct guest {
	uint8_t *mem;
	unsigned reads, writes;
};
int guest_dma(void *arg, uint16_t cmd, uint64_t addr, void *buf, uint64_t count);

/* A log that keeps every line (all levels, each led by its level's name:
 * "debug: ...") for tests to search. */
struct logbuf {
	pthread_mutex_t lock;
	char text[16384];
	size_t len;
	struct vu_log log;
};
void logbuf_init(struct logbuf *lb);
bool logbuf_has(struct logbuf *lb, const char *needle);

#endif
