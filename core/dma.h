/* SPDX-License-Identifier: MIT */
/*
 * The DMA table: what the owner mapped with VFIO_IOMMU_MAP_DMA (IOVA ->
 * process address), how each mapping went to the server, and the answers to
 * the server's DMA_READ/DMA_WRITE requests for memory it got without an fd.
 *
 * One program mapping may cover several mappings of the process (an memfd
 * next to anonymous memory, say): it goes to the server as several pieces,
 * each with the fd of its file or without one. Unmapping removes whole
 * program mappings, and with them every piece.
 */
#ifndef VFIO_USER_CUSE_DMA_H
#define VFIO_USER_CUSE_DMA_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vdev;
struct vconn;
struct vreq;
struct host;
struct vfio_iommu_type1_dma_map;
struct vfio_iommu_type1_dma_unmap;

/* The last IOVA a mapping may cover: on the wire iova + size must not wrap,
 * so the last byte of the space cannot be mapped (the IOVA range reported
 * to programs ends here). */
#define DMA_IOVA_LAST (UINT64_MAX - 1)

/* One server mapping. */
struct dma_piece {
	uint64_t iova, size;
	bool fd_backed;
	uint64_t file_off;
};

/* One program mapping. */
struct dma_entry {
	uint64_t iova, size, vaddr;
	uint32_t prot; /* VFIO_DMA_MAP_FLAG_READ / _WRITE */
	pid_t pid;
	int pin;   /* host pin of pid's process (host.h), -1 while none */
	bool busy; /* being mapped or unmapped with the server */
	struct dma_piece *pieces;
	size_t nr_pieces;
};

struct dma_table {
	pthread_rwlock_t lock;
	struct dma_entry **v; /* sorted by iova, never overlapping */
	size_t n, cap;
	size_t pieces; /* server mappings in use, reserved ones included */
};

void dma_table_init(struct dma_table *t);
void dma_table_fini(struct dma_table *t);

/* Server mappings in use. */
size_t dma_table_pieces(struct dma_table *t);

/* VFIO_IOMMU_MAP_DMA after the argsz and flags checks, as type1 does it. */
int dma_map(struct vdev *d, struct vconn *c, const struct vreq *r,
            const struct vfio_iommu_type1_dma_map *m);

/* VFIO_IOMMU_UNMAP_DMA after the argsz and flags checks; sets u->size to the
 * bytes unmapped. v2 refuses to split a mapping, as TYPE1v2 does. */
int dma_unmap(struct vdev *d, struct vconn *c, const struct vreq *r,
              struct vfio_iommu_type1_dma_unmap *u, bool v2);

/* The owner left: unmap everything with the server. */
void dma_unmap_all(struct vdev *d, struct vconn *c);

/* The server is gone and forgot every mapping: drop them here too. */
void dma_forget_all(struct dma_table *t);

/*
 * The server's DMA_READ (fill buf) or DMA_WRITE (take buf) of count bytes at
 * IOVA addr: allowed only if the whole range lies in mapped ranges that
 * permit it; -EFAULT otherwise, before any byte moves.
 */
int dma_access(struct vdev *d, uint16_t cmd, uint64_t addr, void *buf, uint64_t count);

#endif
