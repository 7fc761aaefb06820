/* SPDX-License-Identifier: MIT */
/*
 * vfio-user wire format: commands, header flags and the fixed part of every
 * message, as laid out in the vfio-user specification (version 0.2) and as
 * servers in use (libvfio-user, SPDK, QEMU) extend it.
 *
 * All data is host-endian. Every struct is packed and has a static size
 * assertion against the specification's tables, so a change that would alter
 * the wire layout fails to compile.
 *
 * This header only describes bytes on the wire. msg.h validates them and
 * client.h / server.h move them.
 */
#ifndef VFIO_USER_PROTO_WIRE_H
#define VFIO_USER_PROTO_WIRE_H

#include <stdint.h>

#define VFIO_USER_MAJOR 0
#define VFIO_USER_MINOR 2

enum vfio_user_command {
	VFIO_USER_VERSION = 1,
	VFIO_USER_DMA_MAP = 2,
	VFIO_USER_DMA_UNMAP = 3,
	VFIO_USER_DEVICE_GET_INFO = 4,
	VFIO_USER_DEVICE_GET_REGION_INFO = 5,
	VFIO_USER_DEVICE_GET_REGION_IO_FDS = 6,
	VFIO_USER_DEVICE_GET_IRQ_INFO = 7,
	VFIO_USER_DEVICE_SET_IRQS = 8,
	VFIO_USER_REGION_READ = 9,
	VFIO_USER_REGION_WRITE = 10,
	VFIO_USER_DMA_READ = 11,
	VFIO_USER_DMA_WRITE = 12,
	VFIO_USER_DEVICE_RESET = 13,
	VFIO_USER_DIRTY_PAGES = 14, /* withdrawn from the spec; recognised, never sent */
	VFIO_USER_REGION_WRITE_MULTI = 15,
	VFIO_USER_DEVICE_FEATURE = 16,
	VFIO_USER_MIG_DATA_READ = 17,
	VFIO_USER_MIG_DATA_WRITE = 18,
	VFIO_USER_MAX_COMMAND,
};

/* Header flags. */
#define VFIO_USER_F_TYPE_MASK    0xfu
#define VFIO_USER_F_TYPE_COMMAND 0x0u
#define VFIO_USER_F_TYPE_REPLY   0x1u
#define VFIO_USER_F_NO_REPLY     0x10u
#define VFIO_USER_F_ERROR        0x20u

struct vfio_user_header {
	uint16_t msg_id;
	uint16_t cmd;
	uint32_t msg_size; /* whole message, header included */
	uint32_t flags;
	uint32_t error_no; /* valid in a reply with VFIO_USER_F_ERROR */
} __attribute__((packed));

/* VFIO_USER_VERSION, request and reply. data: JSON text, NUL-terminated. */
struct vfio_user_version {
	uint16_t major;
	uint16_t minor;
	char data[];
} __attribute__((packed));

/* VFIO_USER_DMA_MAP request; the reply has no payload. */
#define VFIO_USER_F_DMA_REGION_READ  (1u << 0)
#define VFIO_USER_F_DMA_REGION_WRITE (1u << 1)
struct vfio_user_dma_map {
	uint32_t argsz;
	uint32_t flags;
	uint64_t offset; /* into the fd sent with the message, 0 without one */
	uint64_t addr;   /* IOVA */
	uint64_t size;
} __attribute__((packed));

/* VFIO_USER_DMA_UNMAP request and reply (the reply echoes the entry). */
#define VFIO_USER_F_DMA_UNMAP_GET_DIRTY_BITMAP (1u << 0)
#define VFIO_USER_F_DMA_UNMAP_ALL              (1u << 1)
struct vfio_user_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
} __attribute__((packed));

/* VFIO_USER_DEVICE_GET_INFO request and reply. */
struct vfio_user_device_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_DEVICE_FLAGS_* */
	uint32_t num_regions;
	uint32_t num_irqs;
} __attribute__((packed));

/*
 * VFIO_USER_DEVICE_GET_REGION_INFO request and reply. A reply may carry a
 * capability chain after the fixed part (struct vfio_info_cap_header, offsets
 * from the start of this struct) and, for a mappable region, one fd.
 */
struct vfio_user_region_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_REGION_INFO_FLAG_* */
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
} __attribute__((packed));

/* The capability header inside region info replies, as in <linux/vfio.h>. */
struct vfio_user_cap_header {
	uint16_t id;
	uint16_t version;
	uint32_t next;
} __attribute__((packed));

/* VFIO_USER_DEVICE_GET_REGION_IO_FDS request, and the reply's fixed part. */
struct vfio_user_region_io_fds {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
} __attribute__((packed));

#define VFIO_USER_IO_FD_TYPE_IOEVENTFD  0
#define VFIO_USER_IO_FD_TYPE_IOREGIONFD 1
/* One sub-region of a GET_REGION_IO_FDS reply (both types share this size). */
struct vfio_user_sub_region_io_fd {
	uint64_t offset;
	uint64_t size;
	uint32_t fd_index;
	uint32_t type;
	uint32_t flags;
	uint32_t padding;
	uint64_t datamatch; /* user_data for ioregionfd */
} __attribute__((packed));

/* VFIO_USER_DEVICE_GET_IRQ_INFO request and reply. */
struct vfio_user_irq_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_IRQ_INFO_* */
	uint32_t index;
	uint32_t count;
} __attribute__((packed));

/*
 * VFIO_USER_DEVICE_SET_IRQS request; the reply has no payload. With DATA_BOOL
 * `count` bytes follow; with DATA_EVENTFD the fds travel as SCM_RIGHTS.
 */
struct vfio_user_irq_set {
	uint32_t argsz;
	uint32_t flags; /* VFIO_IRQ_SET_* */
	uint32_t index;
	uint32_t start;
	uint32_t count;
	uint8_t data[];
} __attribute__((packed));

/* VFIO_USER_REGION_READ / REGION_WRITE, request and reply. */
struct vfio_user_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	uint8_t data[];
} __attribute__((packed));

/* VFIO_USER_DMA_READ / DMA_WRITE (server to client), request and reply. */
struct vfio_user_dma_access {
	uint64_t addr;
	uint64_t count;
	uint8_t data[];
} __attribute__((packed));

/*
 * The spec's table gives a DMA_WRITE reply a 4-byte count; libvfio-user
 * sends and expects the 16-byte struct above. Accept both on receipt.
 */
#define VFIO_USER_DMA_WRITE_REPLY_MIN_SIZE 12u

/* VFIO_USER_REGION_WRITE_MULTI: writes of at most 8 bytes, coalesced. */
#define VFIO_USER_MULTI_DATA 8u
#define VFIO_USER_MULTI_MAX  200u /* as QEMU and libvfio-user bound it */
struct vfio_user_write_multi_entry {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	uint8_t data[VFIO_USER_MULTI_DATA];
} __attribute__((packed));

struct vfio_user_write_multi {
	uint64_t wr_cnt;
	struct vfio_user_write_multi_entry wrs[];
} __attribute__((packed));

/* VFIO_USER_DEVICE_FEATURE, request and reply (struct vfio_device_feature). */
struct vfio_user_device_feature {
	uint32_t argsz;
	uint32_t flags; /* feature index | VFIO_DEVICE_FEATURE_GET/SET/PROBE */
	uint8_t data[];
} __attribute__((packed));

/* VFIO_USER_MIG_DATA_READ / MIG_DATA_WRITE, request and reply. */
struct vfio_user_mig_data {
	uint32_t argsz;
	uint32_t size;
	uint8_t data[];
} __attribute__((packed));

_Static_assert(sizeof(struct vfio_user_header) == 16, "header is 16 bytes");
_Static_assert(sizeof(struct vfio_user_version) == 4, "version is 4 + data");
_Static_assert(sizeof(struct vfio_user_dma_map) == 32, "DMA_MAP is 32 bytes");
_Static_assert(sizeof(struct vfio_user_dma_unmap) == 24, "DMA_UNMAP is 24 bytes");
_Static_assert(sizeof(struct vfio_user_device_info) == 16, "DEVICE_GET_INFO is 16");
_Static_assert(sizeof(struct vfio_user_region_info) == 32, "REGION_INFO is 32 bytes");
_Static_assert(sizeof(struct vfio_user_cap_header) == 8, "cap header is 8 bytes");
_Static_assert(sizeof(struct vfio_user_region_io_fds) == 16, "IO_FDS is 16 + array");
_Static_assert(sizeof(struct vfio_user_sub_region_io_fd) == 40, "sub-region is 40");
_Static_assert(sizeof(struct vfio_user_irq_info) == 16, "IRQ_INFO is 16 bytes");
_Static_assert(sizeof(struct vfio_user_irq_set) == 20, "SET_IRQS is 20 + data");
_Static_assert(sizeof(struct vfio_user_region_access) == 16, "REGION_READ is 16 + data");
_Static_assert(sizeof(struct vfio_user_dma_access) == 16, "DMA_READ is 16 + data");
_Static_assert(sizeof(struct vfio_user_write_multi_entry) == 24, "one multi write is 24");
_Static_assert(sizeof(struct vfio_user_write_multi) == 8, "WRITE_MULTI is 8 + array");
_Static_assert(sizeof(struct vfio_user_device_feature) == 8, "DEVICE_FEATURE is 8 + data");
_Static_assert(sizeof(struct vfio_user_mig_data) == 8, "MIG_DATA is 8 + data");

#endif
