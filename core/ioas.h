/* SPDX-License-Identifier: MIT */
/*
 * The DMA space: an IO address space (the kernel's IOAS, or a TYPE1
 * container's) mapping IOVA ranges to a program's memory or to a file, and
 * the devices attached to it. Every mapping reaches the server of every
 * attached device; a device attached later receives the mappings already
 * there; a device detached has them all taken back. The server's DMA_READ
 * and DMA_WRITE for memory it got without an fd are answered here.
 *
 * One mapping may cover several mappings of the process (an memfd next to
 * anonymous memory, say): it goes to the servers as several pieces, each
 * with the fd of its file or without one. A space keeps the fds and its pin
 * on the mapping process (host.h) for as long as the mapping lives: a device
 * attached later needs the same fds, and a piece without an fd is reached
 * through the pin, never by pid, so a pid reused after the program died
 * never exposes another process.
 *
 * Locking: s->op_lock serialises the changes (map, unmap, copy, attach,
 * detach) and is held across calls to the servers; the table has its own
 * rwlock, taken briefly, and the servers' DMA requests take only that one,
 * so a request a server sends while it answers us finds the table free.
 * Order: op_lock, then a device's lock, then the table lock.
 */
#ifndef VFIO_USER_CUSE_IOAS_H
#define VFIO_USER_CUSE_IOAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "proto/log.h"

struct ioas;
struct vdev;
struct vreq;

/* Access a mapping grants the device. */
#define IOAS_READ  1u
#define IOAS_WRITE 2u

/* The last IOVA a mapping may cover: on the wire iova + size must not wrap,
 * so the last byte of the space cannot be mapped (the IOVA ranges reported
 * to programs end here). */
#define IOAS_IOVA_LAST (UINT64_MAX - 1)

/* The most mappings one space holds, as type1's dma_entry_limit (65535 by
 * default): past it a map is ENOSPC, so no program grows the daemon
 * without bound, whatever its servers allow. */
#define IOAS_MAX_ENTRIES 65535u

/* What to map at [iova, iova + size). */
struct ioas_map {
	uint64_t iova, size;
	uint32_t prot;     /* IOAS_READ | IOAS_WRITE */
	uint64_t vaddr;    /* the calling process's memory, when fd < 0 */
	int fd;            /* or this file of the daemon's (IOAS_MAP_FILE) */
	uint64_t file_off; /* of fd */
};

/* How an unmap picks what it removes. */
enum ioas_unmap_rule {
	IOAS_UNMAP_TYPE1,   /* stops at a mapping starting before iova */
	IOAS_UNMAP_TYPE1V2, /* refuses a range that splits a mapping (EINVAL) */
	IOAS_UNMAP_IOMMUFD, /* whole mappings only (ENOENT), nothing mapped is ENOENT */
};

struct ioas_config {
	const char *name; /* for log lines */
	struct host host;
	const struct vu_log *log;
};

/* A new empty space, with one reference. */
int ioas_create(const struct ioas_config *cfg, struct ioas **out);
void ioas_get(struct ioas *s);
/* The last reference frees the space; its devices are detached by then. */
void ioas_put(struct ioas *s);

/*
 * Map, with the checks type1 and iommufd share: the IOVA range free
 * (EEXIST), inside the space (EINVAL), aligned (EINVAL), every byte of the
 * memory mapped with the access asked (EFAULT), room in the space and on
 * every server (ENOSPC). r is the calling process. On success m->fd belongs to the space;
 * on failure it stays the caller's.
 */
int ioas_map(struct ioas *s, const struct vreq *vr, const struct ioas_map *m);

/* Unmap [iova, iova + size) by rule; *unmapped gets the bytes removed.
 * size UINT64_MAX with iova 0 removes everything. */
int ioas_unmap(struct ioas *s, uint64_t iova, uint64_t size, enum ioas_unmap_rule rule,
               uint64_t *unmapped);

/* Map at dst_iova of dst what [src_iova, src_iova + size) of src maps:
 * ENOENT unless fully mapped there, EPERM for write access to memory mapped
 * read-only. */
int ioas_copy(struct ioas *dst, struct ioas *src, uint64_t dst_iova, uint64_t src_iova,
              uint64_t size, uint32_t prot);

/* A free IOVA range of size bytes (aligned), for a map without a fixed
 * IOVA. -ENOSPC when none. */
int ioas_alloc_iova(struct ioas *s, uint64_t size, uint64_t *iova);

/* Restrict automatic IOVA allocation to these inclusive ranges (none: the
 * whole space). */
int ioas_set_allowed(struct ioas *s, const uint64_t (*ranges)[2], uint32_t n);

/* Attach d: send it every mapping already there (taken back if one fails).
 * -EINVAL when attached elsewhere, -ENOSPC when its server cannot hold
 * them all. */
int ioas_attach(struct ioas *s, struct vdev *d);
/* Detach d, taking every mapping back from its server unless the server
 * is gone (it forgot them). */
void ioas_detach(struct ioas *s, struct vdev *d);

/*
 * A server's DMA_READ (fill buf) or DMA_WRITE (take buf) of count bytes at
 * IOVA addr: allowed only if the whole range lies in complete mappings that
 * permit it; -EFAULT otherwise, before any byte moves.
 */
int ioas_access(struct ioas *s, uint16_t cmd, uint64_t addr, void *buf, uint64_t count);

/* Server mappings in use, the least room of the devices attached
 * (UINT32_MAX when none), the IOVA alignment maps must have. */
size_t ioas_pieces(struct ioas *s);
uint32_t ioas_room(struct ioas *s);
/* The page sizes every device attached takes (4 KiB when none). */
uint64_t ioas_pgsizes(struct ioas *s);
uint64_t ioas_alignment(struct ioas *s);
/* Whether [iova, iova + size) meets a mapping; size > 0. */
bool ioas_overlaps(struct ioas *s, uint64_t iova, uint64_t size);
/* Whether any device is attached. */
bool ioas_has_devices(struct ioas *s);

#endif
