/* SPDX-License-Identifier: MIT */
/*
 * Message validation: every command, both directions, built as a peer would
 * send it and accepted; then broken in each way a peer could break it and
 * refused with -EPROTO. Each payload is checked from a heap copy of its exact
 * size, so a read past the end shows under AddressSanitizer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/vfio.h>

#include "proto/msg.h"

#define CMD   VFIO_USER_F_TYPE_COMMAND
#define REPLY VFIO_USER_F_TYPE_REPLY
#define ERR   (VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR)

static int check_x(uint16_t cmd, uint32_t flags, const void *p, size_t len, size_t nr_fds,
                   uint32_t max_xfer)
{
	struct vfio_user_header h = {
	    .msg_id = 7,
	    .cmd = cmd,
	    .msg_size = (uint32_t)(sizeof(h) + len),
	    .flags = flags,
	};
	char why[256] = "";
	void *copy = len ? malloc(len) : NULL;
	int ret;

	if (len)
		memcpy(copy, p, len);
	ret = vu_msg_check(&h, copy, len, nr_fds, max_xfer, why, sizeof(why));
	free(copy);
	if (ret) {
		print_message("  refused: %s\n", why);
		assert_int_equal(ret, -EPROTO);
		assert_true(why[0] != '\0');
	}
	return ret;
}

static int check(uint16_t cmd, uint32_t flags, const void *p, size_t len, size_t nr_fds)
{
	return check_x(cmd, flags, p, len, nr_fds, 0);
}

#define OK(x)  assert_int_equal((x), 0)
#define BAD(x) assert_int_equal((x), -EPROTO)

static void version(void **state)
{
	const char json[] = "{\"capabilities\":{\"max_msg_fds\":8}}";
	uint8_t buf[sizeof(struct vfio_user_version) + sizeof(json)];
	struct vfio_user_version v = {.major = 0, .minor = 2};

	memcpy(buf, &v, sizeof(v));
	memcpy(buf + sizeof(v), json, sizeof(json));
	OK(check(VFIO_USER_VERSION, CMD, buf, sizeof(buf), 0));
	OK(check(VFIO_USER_VERSION, CMD, buf, sizeof(v), 0));
	OK(check(VFIO_USER_VERSION, CMD, buf, sizeof(buf), 1));
	OK(check(VFIO_USER_VERSION, REPLY, buf, sizeof(buf), 0));
	OK(check(VFIO_USER_VERSION, REPLY, buf, sizeof(buf), 1));
	BAD(check(VFIO_USER_VERSION, CMD, buf, 3, 0));
	BAD(check(VFIO_USER_VERSION, CMD, buf, 0, 0));
	BAD(check(VFIO_USER_VERSION, REPLY, buf, sizeof(buf), 2));
}

static void dma_map(void **state)
{
	struct vfio_user_dma_map m = {
	    .argsz = sizeof(m),
	    .flags = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE,
	    .offset = 0,
	    .addr = 0x100000,
	    .size = 0x200000,
	};
	uint8_t big[sizeof(m) + 1] = {0};

	OK(check(VFIO_USER_DMA_MAP, CMD, &m, sizeof(m), 0));
	OK(check(VFIO_USER_DMA_MAP, CMD, &m, sizeof(m), 1));
	OK(check(VFIO_USER_DMA_MAP, REPLY, NULL, 0, 0));
	BAD(check(VFIO_USER_DMA_MAP, CMD, &m, sizeof(m), 2));
	BAD(check(VFIO_USER_DMA_MAP, CMD, &m, sizeof(m) - 1, 0));
	/* Bytes past the fixed part are ignored, as libvfio-user does. */
	memcpy(big, &m, sizeof(m));
	OK(check(VFIO_USER_DMA_MAP, CMD, big, sizeof(big), 0));
	BAD(check(VFIO_USER_DMA_MAP, REPLY, &m, sizeof(m), 0));
	BAD(check(VFIO_USER_DMA_MAP, REPLY, NULL, 0, 1));

	m.argsz = sizeof(m) - 8;
	BAD(check(VFIO_USER_DMA_MAP, CMD, &m, sizeof(m), 0));
	m.argsz = sizeof(m);
	m.flags = 1u << 7;
	BAD(check(VFIO_USER_DMA_MAP, CMD, &m, sizeof(m), 0));
	m.flags = VFIO_USER_F_DMA_REGION_READ;
	m.addr = UINT64_MAX - 0x1000;
	BAD(check(VFIO_USER_DMA_MAP, CMD, &m, sizeof(m), 0));
	/* Ending at the last IOVA byte is no wrap. */
	m.addr = UINT64_MAX - 0x1fffff;
	OK(check(VFIO_USER_DMA_MAP, CMD, &m, sizeof(m), 0));
	m.addr = 0;
	m.offset = UINT64_MAX;
	BAD(check(VFIO_USER_DMA_MAP, CMD, &m, sizeof(m), 1));
}

static void dma_unmap(void **state)
{
	struct vfio_user_dma_unmap u = {.argsz = sizeof(u), .addr = 0x100000, .size = 0x1000};
	uint8_t dirty[sizeof(u) + 16] = {0};
	uint8_t lying[sizeof(u) + 8] = {0};

	OK(check(VFIO_USER_DMA_UNMAP, CMD, &u, sizeof(u), 0));
	OK(check(VFIO_USER_DMA_UNMAP, REPLY, &u, sizeof(u), 0));
	BAD(check(VFIO_USER_DMA_UNMAP, CMD, &u, sizeof(u), 1));
	BAD(check(VFIO_USER_DMA_UNMAP, CMD, &u, sizeof(u) - 4, 0));
	BAD(check(VFIO_USER_DMA_UNMAP, REPLY, &u, sizeof(u) - 4, 0));
	BAD(check(VFIO_USER_DMA_UNMAP, REPLY, &u, sizeof(u), 1));

	/* The reply echoes the request's argsz, which may exceed the entry. */
	u.argsz = 4096;
	OK(check(VFIO_USER_DMA_UNMAP, REPLY, &u, sizeof(u), 0));
	u.argsz = 16;
	BAD(check(VFIO_USER_DMA_UNMAP, CMD, &u, sizeof(u), 0));
	BAD(check(VFIO_USER_DMA_UNMAP, REPLY, &u, sizeof(u), 0));
	u.argsz = sizeof(u);
	memcpy(lying, &u, sizeof(u));
	BAD(check(VFIO_USER_DMA_UNMAP, REPLY, lying, sizeof(lying), 0));

	u.flags = VFIO_USER_F_DMA_UNMAP_ALL;
	u.addr = 0;
	u.size = 0;
	OK(check(VFIO_USER_DMA_UNMAP, CMD, &u, sizeof(u), 0));
	u.flags = 1u << 5;
	BAD(check(VFIO_USER_DMA_UNMAP, CMD, &u, sizeof(u), 0));

	u.flags = VFIO_USER_F_DMA_UNMAP_GET_DIRTY_BITMAP;
	u.argsz = sizeof(dirty);
	memcpy(dirty, &u, sizeof(u));
	OK(check(VFIO_USER_DMA_UNMAP, CMD, dirty, sizeof(dirty), 0));
	BAD(check(VFIO_USER_DMA_UNMAP, CMD, &u, sizeof(u), 0));

	u.flags = 0;
	u.addr = UINT64_MAX;
	u.size = 2;
	u.argsz = sizeof(u);
	BAD(check(VFIO_USER_DMA_UNMAP, CMD, &u, sizeof(u), 0));
	/* Up to and including the last IOVA byte, as QEMU unmaps: no wrap. */
	u.addr = UINT64_MAX - 0xfff;
	u.size = 0x1000;
	OK(check(VFIO_USER_DMA_UNMAP, CMD, &u, sizeof(u), 0));
	u.addr = 1ull << 63;
	u.size = 1ull << 63;
	OK(check(VFIO_USER_DMA_UNMAP, CMD, &u, sizeof(u), 0));
	u.size = (1ull << 63) + 1;
	BAD(check(VFIO_USER_DMA_UNMAP, CMD, &u, sizeof(u), 0));
	/* A longer request: the tail is ignored. */
	u.addr = 0x100000;
	u.size = 0x1000;
	memcpy(lying, &u, sizeof(u));
	OK(check(VFIO_USER_DMA_UNMAP, CMD, lying, sizeof(lying), 0));
}

/* GET_INFO and GET_IRQ_INFO: one 16-byte struct led by argsz each way. */
static void fixed_info(uint16_t cmd)
{
	struct vfio_user_irq_info i = {.argsz = 16, .index = 2, .count = 1};
	uint8_t longer[24] = {0};

	OK(check(cmd, CMD, &i, sizeof(i), 0));
	OK(check(cmd, REPLY, &i, sizeof(i), 0));
	BAD(check(cmd, CMD, &i, sizeof(i) - 1, 0));
	BAD(check(cmd, CMD, &i, sizeof(i), 1));
	BAD(check(cmd, REPLY, &i, 12, 0));
	BAD(check(cmd, REPLY, &i, sizeof(i), 1));
	/* A request padded past its fixed part (to its argsz, as libvfio-user's
	 * client does) is fine; a reply larger than its argsz is not. */
	memcpy(longer, &i, sizeof(i));
	OK(check(cmd, CMD, longer, sizeof(longer), 0));
	BAD(check(cmd, REPLY, longer, sizeof(longer), 0));

	/* A server needing more than was asked says so in argsz. */
	i.argsz = 64;
	OK(check(cmd, CMD, &i, sizeof(i), 0));
	OK(check(cmd, REPLY, &i, sizeof(i), 0));
	i.argsz = 8;
	BAD(check(cmd, CMD, &i, sizeof(i), 0));
	BAD(check(cmd, REPLY, &i, sizeof(i), 0));
}

static void device_info(void **state)
{
	fixed_info(VFIO_USER_DEVICE_GET_INFO);
}

static void irq_info(void **state)
{
	fixed_info(VFIO_USER_DEVICE_GET_IRQ_INFO);
}

static void put_cap(uint8_t *buf, size_t off, uint16_t id, uint32_t next)
{
	struct vfio_user_cap_header h = {.id = id, .version = 1, .next = next};

	memcpy(buf + off, &h, sizeof(h));
}

static void put32(uint8_t *buf, size_t off, uint32_t v)
{
	memcpy(buf + off, &v, sizeof(v));
}

static void put64(uint8_t *buf, size_t off, uint64_t v)
{
	memcpy(buf + off, &v, sizeof(v));
}

/*
 * Region info with a chain: sparse mmap of two areas at 32 (48 bytes), a
 * type at 80, MSI-X mappable at 96; 104 bytes in all.
 */
#define CHAIN_LEN 104

static size_t region_with_caps(uint8_t *buf)
{
	struct vfio_user_region_info ri = {
	    .argsz = CHAIN_LEN,
	    .flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP |
	             VFIO_REGION_INFO_FLAG_CAPS,
	    .index = 0,
	    .cap_offset = 32,
	    .size = 0x4000,
	    .offset = 0,
	};

	memset(buf, 0, CHAIN_LEN);
	memcpy(buf, &ri, sizeof(ri));
	put_cap(buf, 32, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 80);
	put32(buf, 40, 2);
	put64(buf, 48, 0);
	put64(buf, 56, 0x1000);
	put64(buf, 64, 0x3000);
	put64(buf, 72, 0x1000);
	put_cap(buf, 80, VFIO_REGION_INFO_CAP_TYPE, 96);
	put32(buf, 88, 3);
	put32(buf, 92, 1);
	put_cap(buf, 96, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0);
	return CHAIN_LEN;
}

static void region_info(void **state)
{
	struct vfio_user_region_info ri = {.argsz = sizeof(ri), .index = 1};
	uint8_t buf[128];
	size_t len;

	OK(check(VFIO_USER_DEVICE_GET_REGION_INFO, CMD, &ri, sizeof(ri), 0));
	BAD(check(VFIO_USER_DEVICE_GET_REGION_INFO, CMD, &ri, sizeof(ri) - 8, 0));
	/* libvfio-user's client pads the request to its argsz of 64. */
	memset(buf, 0, sizeof(buf));
	ri.argsz = 64;
	memcpy(buf, &ri, sizeof(ri));
	OK(check(VFIO_USER_DEVICE_GET_REGION_INFO, CMD, buf, 64, 0));
	ri.argsz = sizeof(ri);
	BAD(check(VFIO_USER_DEVICE_GET_REGION_INFO, CMD, &ri, sizeof(ri), 1));
	ri.argsz = 16;
	BAD(check(VFIO_USER_DEVICE_GET_REGION_INFO, CMD, &ri, sizeof(ri), 0));

	ri.argsz = sizeof(ri);
	ri.size = 256;
	OK(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, &ri, sizeof(ri), 0));
	OK(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, &ri, sizeof(ri), 1));
	BAD(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, &ri, sizeof(ri), 2));
	BAD(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, &ri, 24, 0));

	len = region_with_caps(buf);
	OK(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, buf, len, 1));
	OK(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, buf, len, 0));
	/* libvfio-user passes the region's fd once per sparse area: two here. */
	OK(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, buf, len, 2));
	BAD(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, buf, len, 3));
	/* Cut to the asker's argsz: only the fixed part, argsz says 96. */
	OK(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, buf, 32, 0));
	/* libvfio-user pads a cut reply to the argsz asked; the tail is not read. */
	memset(buf + 32, 0xff, 8);
	OK(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, buf, 40, 0));
	/* Both forms of a cut reply: the kernel's (CAPS set, cap_offset 0) and
	 * the wire's (CAPS clear). */
	put32(buf, offsetof(struct vfio_user_region_info, cap_offset), 0);
	OK(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, buf, 32, 0));
	put32(buf, offsetof(struct vfio_user_region_info, flags), VFIO_REGION_INFO_FLAG_READ);
	OK(check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, buf, 32, 0));
}

static int chain_reply(uint8_t *buf, size_t len)
{
	put32(buf, 0, (uint32_t)len);
	return check(VFIO_USER_DEVICE_GET_REGION_INFO, REPLY, buf, len, 0);
}

static void region_info_caps_refused(void **state)
{
	uint8_t buf[256];
	size_t len;

	/* A loop: the type capability points back at the sparse one. */
	len = region_with_caps(buf);
	put_cap(buf, 80, VFIO_REGION_INFO_CAP_TYPE, 32);
	BAD(chain_reply(buf, len));
	/* A capability pointing at itself. */
	len = region_with_caps(buf);
	put_cap(buf, 96, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 96);
	BAD(chain_reply(buf, len));
	/* Pointing back into its own body. */
	len = region_with_caps(buf);
	put_cap(buf, 32, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 64);
	BAD(chain_reply(buf, len));
	/* Out of range. */
	len = region_with_caps(buf);
	put_cap(buf, 96, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 100);
	BAD(chain_reply(buf, len));
	len = region_with_caps(buf);
	put_cap(buf, 96, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0xfffffffc);
	BAD(chain_reply(buf, len));
	/* Misaligned. */
	len = region_with_caps(buf);
	put_cap(buf, 80, VFIO_REGION_INFO_CAP_TYPE, 98);
	BAD(chain_reply(buf, len));
	/* Starting in the fixed part. */
	len = region_with_caps(buf);
	put32(buf, 12, 16);
	BAD(chain_reply(buf, len));
	/* Sparse areas that do not fit, up to a count that would overflow 32 bits. */
	len = region_with_caps(buf);
	put32(buf, 40, 5);
	BAD(chain_reply(buf, len));
	put32(buf, 40, 0x10000000);
	BAD(chain_reply(buf, len));
	put32(buf, 40, UINT32_MAX);
	BAD(chain_reply(buf, len));
	/* More areas than leave room before the next capability. */
	put32(buf, 40, 3);
	BAD(chain_reply(buf, len));
	/* A sparse area wrapping around. */
	len = region_with_caps(buf);
	put64(buf, 48, UINT64_MAX - 10);
	BAD(chain_reply(buf, len));
	/* A type capability cut short by the end of the reply. */
	len = region_with_caps(buf);
	put_cap(buf, 80, VFIO_REGION_INFO_CAP_TYPE, 0);
	BAD(chain_reply(buf, 88));
	OK(chain_reply(buf, 96));
	/* A sparse capability with no room for nr_areas. */
	len = region_with_caps(buf);
	put_cap(buf, 32, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 0);
	BAD(chain_reply(buf, 44));
	/* CAPS flag and cap_offset disagree. */
	len = region_with_caps(buf);
	put32(buf, 12, 0);
	BAD(chain_reply(buf, len));
	len = region_with_caps(buf);
	put32(buf, 4, VFIO_REGION_INFO_FLAG_READ);
	BAD(chain_reply(buf, len));
	/* An unknown capability needs only its header in range. */
	len = region_with_caps(buf);
	put_cap(buf, 96, 0x7777, 0);
	OK(chain_reply(buf, len));
	put_cap(buf, 96, 0x7777, 104);
	BAD(chain_reply(buf, len));
}

static void cap_chain_direct(void **state)
{
	uint8_t buf[CHAIN_LEN];
	char why[128];

	region_with_caps(buf);
	OK(vu_cap_chain_check(buf, sizeof(buf), 32, 32, why, sizeof(why)));
	OK(vu_cap_chain_check(buf, sizeof(buf), 0, 32, why, sizeof(why)));
	OK(vu_cap_chain_check(buf, 32, 0, 32, NULL, 0));
	BAD(vu_cap_chain_check(buf, sizeof(buf), 32, 40, why, sizeof(why)));
	BAD(vu_cap_chain_check(buf, sizeof(buf) - 1, 32, 32, NULL, 0));
	BAD(vu_cap_chain_check(buf, sizeof(buf), 34, 32, why, 1));
}

static size_t io_fds_reply(uint8_t *buf, uint32_t count, size_t stride, uint32_t fd_index)
{
	struct vfio_user_region_io_fds r = {
	    .argsz = (uint32_t)(sizeof(r) + count * stride),
	    .index = 2,
	    .count = count,
	};
	struct vfio_user_sub_region_io_fd s = {.offset = 0x10, .size = 4, .fd_index = fd_index};
	size_t i;

	memset(buf, 0, r.argsz);
	memcpy(buf, &r, sizeof(r));
	for (i = 0; i < count; i++)
		memcpy(buf + sizeof(r) + i * stride, &s, sizeof(s));
	return r.argsz;
}

static void region_io_fds(void **state)
{
	struct vfio_user_region_io_fds q = {.argsz = 1024, .index = 2};
	uint8_t buf[512];
	size_t len;

	OK(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, CMD, &q, sizeof(q), 0));
	BAD(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, CMD, &q, sizeof(q), 1));
	q.argsz = 8;
	BAD(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, CMD, &q, sizeof(q), 0));

	len = io_fds_reply(buf, 0, 40, 0);
	OK(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len, 0));
	BAD(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len, 1));

	len = io_fds_reply(buf, 3, 40, 0);
	OK(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len, 1));
	OK(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len, 2));
	BAD(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len, 0));
	/* Cut short by the asker's argsz: no array, no fds. */
	OK(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, 16, 0));
	BAD(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, 16, 1));
	BAD(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, 12, 0));

	len = io_fds_reply(buf, 3, 40, 1);
	BAD(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len, 1));
	OK(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len, 2));

	/* Entries larger than 40 bytes are allowed: the size comes from argsz. */
	len = io_fds_reply(buf, 2, 48, 0);
	OK(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len, 1));
	/* Array not a multiple of count, entries too small, count lying. */
	len = io_fds_reply(buf, 2, 40, 0);
	put32(buf, 0, (uint32_t)len + 1);
	BAD(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len + 1, 1));
	len = io_fds_reply(buf, 4, 20, 0);
	BAD(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len, 1));
	len = io_fds_reply(buf, 2, 40, 0);
	put32(buf, 12, UINT32_MAX);
	BAD(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len, 1));
	put32(buf, 12, 0);
	BAD(check(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REPLY, buf, len, 1));
}

static size_t irq_set(uint8_t *buf, uint32_t flags, uint32_t start, uint32_t count, size_t data)
{
	struct vfio_user_irq_set s = {
	    .argsz = (uint32_t)(sizeof(s) + data),
	    .flags = flags,
	    .index = VFIO_PCI_MSIX_IRQ_INDEX,
	    .start = start,
	    .count = count,
	};

	memcpy(buf, &s, sizeof(s));
	memset(buf + sizeof(s), 1, data);
	return sizeof(s) + data;
}

static void set_irqs(void **state)
{
	const uint32_t trig = VFIO_IRQ_SET_ACTION_TRIGGER;
	uint8_t buf[64];
	size_t len;

	len = irq_set(buf, VFIO_IRQ_SET_DATA_NONE | trig, 0, 0, 0);
	OK(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 0));
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 1));
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len - 1, 0));
	/* Without DATA_BOOL no count sizes a tail: it is ignored. */
	OK(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len + 4, 0));
	OK(check(VFIO_USER_DEVICE_SET_IRQS, REPLY, NULL, 0, 0));
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, REPLY, buf, len, 0));

	len = irq_set(buf, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK, 1, 4, 4);
	OK(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 0));
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len - 1, 0));
	len = irq_set(buf, VFIO_IRQ_SET_DATA_BOOL | trig, 1, 4, 5);
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 0));
	/* argsz need not count the data: msg_size sizes a request. */
	len = irq_set(buf, VFIO_IRQ_SET_DATA_BOOL | trig, 1, 4, 4);
	put32(buf, 0, 20);
	OK(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 0));

	/* Eventfds travel as fds: up to count of them, none to de-assign. */
	len = irq_set(buf, VFIO_IRQ_SET_DATA_EVENTFD | trig, 0, 3, 0);
	OK(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 3));
	OK(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 0));
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 4));
	/* A kernel-style argsz counting 4 bytes a vector is fine. */
	put32(buf, 0, 20 + 12);
	OK(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 3));
	put32(buf, 0, 19);
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 3));

	len = irq_set(buf, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | trig, 0, 1, 0);
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 0));
	len = irq_set(buf, VFIO_IRQ_SET_DATA_NONE, 0, 1, 0);
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 0));
	len = irq_set(buf, VFIO_IRQ_SET_DATA_NONE | trig | VFIO_IRQ_SET_ACTION_MASK, 0, 1, 0);
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 0));
	len = irq_set(buf, VFIO_IRQ_SET_DATA_NONE | trig | (1u << 9), 0, 1, 0);
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 0));
	len = irq_set(buf, VFIO_IRQ_SET_DATA_NONE | trig, UINT32_MAX, 2, 0);
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 0));
	/* A BOOL count far beyond the bytes present. */
	len = irq_set(buf, VFIO_IRQ_SET_DATA_BOOL | trig, 0, UINT32_MAX, 4);
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, 0));
}

static size_t access(uint8_t *buf, uint64_t offset, uint32_t count, size_t data)
{
	struct vfio_user_region_access a = {.offset = offset, .region = 0, .count = count};

	memcpy(buf, &a, sizeof(a));
	memset(buf + sizeof(a), 0xab, data);
	return sizeof(a) + data;
}

static void region_read_write(void **state)
{
	uint8_t buf[64];
	size_t len;

	len = access(buf, 0x10, 8, 0);
	OK(check(VFIO_USER_REGION_READ, CMD, buf, len, 0));
	OK(check(VFIO_USER_REGION_WRITE, REPLY, buf, len, 0));
	BAD(check(VFIO_USER_REGION_READ, CMD, buf, len, 1));
	BAD(check(VFIO_USER_REGION_READ, CMD, buf, len - 1, 0));
	/* A read request's tail is ignored, as libvfio-user's server does. */
	OK(check(VFIO_USER_REGION_READ, CMD, buf, len + 8, 0));
	BAD(check(VFIO_USER_REGION_WRITE, REPLY, buf, len + 8, 0));
	BAD(check(VFIO_USER_REGION_READ, REPLY, buf, len, 0));
	BAD(check(VFIO_USER_REGION_WRITE, CMD, buf, len, 0));

	len = access(buf, 0x10, 8, 8);
	OK(check(VFIO_USER_REGION_READ, REPLY, buf, len, 0));
	OK(check(VFIO_USER_REGION_WRITE, CMD, buf, len, 0));
	BAD(check(VFIO_USER_REGION_WRITE, REPLY, buf, len, 0));
	BAD(check(VFIO_USER_REGION_WRITE, CMD, buf, len, 1));
	BAD(check(VFIO_USER_REGION_READ, REPLY, buf, len - 1, 0));
	BAD(check(VFIO_USER_REGION_WRITE, CMD, buf, len + 1, 0));

	/* count against max_xfer, and against the largest message without one. */
	len = access(buf, 0, 32, 0);
	OK(check_x(VFIO_USER_REGION_READ, CMD, buf, len, 0, 32));
	BAD(check_x(VFIO_USER_REGION_READ, CMD, buf, len, 0, 31));
	len = access(buf, 0, 32, 32);
	OK(check_x(VFIO_USER_REGION_WRITE, CMD, buf, len, 0, 32));
	BAD(check_x(VFIO_USER_REGION_WRITE, CMD, buf, len, 0, 16));
	BAD(check_x(VFIO_USER_REGION_READ, REPLY, buf, len, 0, 16));
	len = access(buf, 0, UINT32_MAX, 0);
	BAD(check(VFIO_USER_REGION_READ, CMD, buf, len, 0));
	BAD(check(VFIO_USER_REGION_WRITE, REPLY, buf, len, 0));
}

static size_t dma_access(uint8_t *buf, uint64_t addr, uint64_t count, size_t data)
{
	struct vfio_user_dma_access a = {.addr = addr, .count = count};

	memcpy(buf, &a, sizeof(a));
	memset(buf + sizeof(a), 0xcd, data);
	return sizeof(a) + data;
}

static void dma_read_write(void **state)
{
	uint8_t buf[64];
	size_t len;

	len = dma_access(buf, 0x2000, 16, 0);
	OK(check(VFIO_USER_DMA_READ, CMD, buf, len, 0));
	OK(check(VFIO_USER_DMA_WRITE, REPLY, buf, len, 0));
	BAD(check(VFIO_USER_DMA_READ, CMD, buf, len, 1));
	BAD(check(VFIO_USER_DMA_READ, REPLY, buf, len, 0));
	BAD(check(VFIO_USER_DMA_WRITE, CMD, buf, len, 0));
	/* The spec's 12-byte DMA_WRITE reply, with a 4-byte count. */
	OK(check(VFIO_USER_DMA_WRITE, REPLY, buf, 12, 0));
	BAD(check(VFIO_USER_DMA_WRITE, REPLY, buf, 14, 0));
	BAD(check(VFIO_USER_DMA_WRITE, REPLY, buf, 8, 0));
	BAD(check(VFIO_USER_DMA_WRITE, REPLY, buf, len, 1));

	len = dma_access(buf, 0x2000, 16, 16);
	OK(check(VFIO_USER_DMA_READ, REPLY, buf, len, 0));
	OK(check(VFIO_USER_DMA_WRITE, CMD, buf, len, 0));
	BAD(check(VFIO_USER_DMA_WRITE, CMD, buf, len - 1, 0));
	BAD(check(VFIO_USER_DMA_READ, REPLY, buf, len + 1, 0));
	BAD(check_x(VFIO_USER_DMA_WRITE, CMD, buf, len, 0, 8));
	/* libvfio-user sends the last piece of a split DMA_WRITE in a message
	 * as long as the first: data past count, within the transfer limit. */
	put64(buf, 8, 8);
	OK(check_x(VFIO_USER_DMA_WRITE, CMD, buf, len, 0, 16));
	BAD(check_x(VFIO_USER_DMA_WRITE, CMD, buf, len, 0, 8));
	BAD(check(VFIO_USER_DMA_READ, REPLY, buf, len, 0));
	put64(buf, 8, 16);

	/* A 64-bit count that would wrap len arithmetic, an address wrapping. */
	len = dma_access(buf, 0x2000, UINT64_MAX, 0);
	BAD(check(VFIO_USER_DMA_READ, CMD, buf, len, 0));
	len = dma_access(buf, 0x2000, UINT64_MAX - 15, 16);
	BAD(check(VFIO_USER_DMA_WRITE, CMD, buf, len, 0));
	len = dma_access(buf, UINT64_MAX - 4, 16, 0);
	BAD(check(VFIO_USER_DMA_READ, CMD, buf, len, 0));
	len = dma_access(buf, UINT64_MAX - 15, 16, 0);
	OK(check(VFIO_USER_DMA_READ, CMD, buf, len, 0));
	put64(buf, 8, (uint64_t)1 << 40);
	BAD(check(VFIO_USER_DMA_WRITE, REPLY, buf, 16, 0));
	put64(buf, 0, 0);
	put32(buf, 8, UINT32_MAX);
	BAD(check_x(VFIO_USER_DMA_WRITE, REPLY, buf, 12, 0, 4096));
}

static void device_reset(void **state)
{
	uint8_t b = 0;

	OK(check(VFIO_USER_DEVICE_RESET, CMD, NULL, 0, 0));
	OK(check(VFIO_USER_DEVICE_RESET, REPLY, NULL, 0, 0));
	/* libvfio-user's server ignores whatever comes with a reset. */
	OK(check(VFIO_USER_DEVICE_RESET, CMD, &b, 1, 0));
	BAD(check(VFIO_USER_DEVICE_RESET, REPLY, &b, 1, 0));
	BAD(check(VFIO_USER_DEVICE_RESET, CMD, NULL, 0, 1));
}

static void dirty_pages(void **state)
{
	uint32_t d[2] = {8, 0};

	OK(check(VFIO_USER_DIRTY_PAGES, CMD, d, sizeof(d), 0));
	OK(check(VFIO_USER_DIRTY_PAGES, REPLY, d, sizeof(d), 0));
	BAD(check(VFIO_USER_DIRTY_PAGES, CMD, d, 4, 0));
	BAD(check(VFIO_USER_DIRTY_PAGES, CMD, d, sizeof(d), 1));
	d[0] = 4;
	BAD(check(VFIO_USER_DIRTY_PAGES, CMD, d, sizeof(d), 0));
}

static size_t write_multi(uint8_t *buf, uint64_t wr_cnt, uint32_t count)
{
	struct vfio_user_write_multi_entry e = {.offset = 4, .region = 0, .count = count};
	uint64_t i;

	memcpy(buf, &wr_cnt, sizeof(wr_cnt));
	for (i = 0; i < wr_cnt; i++) {
		e.offset = 4 * i;
		memcpy(buf + 8 + i * sizeof(e), &e, sizeof(e));
	}
	return 8 + wr_cnt * sizeof(e);
}

static void region_write_multi(void **state)
{
	static uint8_t buf[8 + (VFIO_USER_MULTI_MAX + 1) * 24];
	uint64_t done = 3;
	size_t len;

	len = write_multi(buf, 3, 4);
	OK(check(VFIO_USER_REGION_WRITE_MULTI, CMD, buf, len, 0));
	BAD(check(VFIO_USER_REGION_WRITE_MULTI, CMD, buf, len, 1));
	BAD(check(VFIO_USER_REGION_WRITE_MULTI, CMD, buf, len - 1, 0));
	BAD(check(VFIO_USER_REGION_WRITE_MULTI, CMD, buf, 4, 0));
	len = write_multi(buf, VFIO_USER_MULTI_MAX, 8);
	OK(check(VFIO_USER_REGION_WRITE_MULTI, CMD, buf, len, 0));
	len = write_multi(buf, VFIO_USER_MULTI_MAX + 1, 8);
	BAD(check(VFIO_USER_REGION_WRITE_MULTI, CMD, buf, len, 0));
	len = write_multi(buf, 0, 8);
	BAD(check(VFIO_USER_REGION_WRITE_MULTI, CMD, buf, len, 0));
	len = write_multi(buf, 2, 9);
	BAD(check(VFIO_USER_REGION_WRITE_MULTI, CMD, buf, len, 0));
	len = write_multi(buf, 2, 0);
	BAD(check(VFIO_USER_REGION_WRITE_MULTI, CMD, buf, len, 0));
	/* wr_cnt whose size product would overflow. */
	len = write_multi(buf, 1, 8);
	put64(buf, 0, UINT64_MAX / 24 + 2);
	BAD(check(VFIO_USER_REGION_WRITE_MULTI, CMD, buf, len, 0));

	OK(check(VFIO_USER_REGION_WRITE_MULTI, REPLY, &done, sizeof(done), 0));
	BAD(check(VFIO_USER_REGION_WRITE_MULTI, REPLY, &done, 4, 0));
	BAD(check(VFIO_USER_REGION_WRITE_MULTI, REPLY, &done, sizeof(done), 1));
	done = VFIO_USER_MULTI_MAX + 1;
	BAD(check(VFIO_USER_REGION_WRITE_MULTI, REPLY, &done, sizeof(done), 0));
}

static void device_feature(void **state)
{
	uint8_t buf[16] = {0};
	struct vfio_user_device_feature f = {.argsz = 16, .flags = (1u << 16) | 1};

	memcpy(buf, &f, sizeof(f));
	OK(check(VFIO_USER_DEVICE_FEATURE, CMD, buf, 8, 0));
	OK(check(VFIO_USER_DEVICE_FEATURE, CMD, buf, 16, 0));
	OK(check(VFIO_USER_DEVICE_FEATURE, REPLY, buf, 16, 0));
	OK(check(VFIO_USER_DEVICE_FEATURE, REPLY, buf, 8, 0));
	BAD(check(VFIO_USER_DEVICE_FEATURE, CMD, buf, 7, 0));
	BAD(check(VFIO_USER_DEVICE_FEATURE, REPLY, buf, 4, 0));
	BAD(check(VFIO_USER_DEVICE_FEATURE, CMD, buf, 8, 1));
	put32(buf, 0, 4);
	BAD(check(VFIO_USER_DEVICE_FEATURE, CMD, buf, 8, 0));
}

static size_t mig_data(uint8_t *buf, uint32_t size, size_t data)
{
	struct vfio_user_mig_data m = {.argsz = 8, .size = size};

	memcpy(buf, &m, sizeof(m));
	memset(buf + sizeof(m), 0x5a, data);
	return sizeof(m) + data;
}

static void mig_data_read_write(void **state)
{
	uint8_t buf[64];
	size_t len;

	len = mig_data(buf, 16, 0);
	OK(check(VFIO_USER_MIG_DATA_READ, CMD, buf, len, 0));
	OK(check(VFIO_USER_MIG_DATA_WRITE, REPLY, buf, len, 0));
	OK(check(VFIO_USER_MIG_DATA_WRITE, REPLY, NULL, 0, 0));
	BAD(check(VFIO_USER_MIG_DATA_READ, CMD, buf, len, 1));
	BAD(check(VFIO_USER_MIG_DATA_READ, REPLY, buf, len, 0));
	BAD(check(VFIO_USER_MIG_DATA_WRITE, CMD, buf, len, 0));
	BAD(check_x(VFIO_USER_MIG_DATA_READ, CMD, buf, len, 0, 8));

	len = mig_data(buf, 16, 16);
	OK(check(VFIO_USER_MIG_DATA_READ, REPLY, buf, len, 0));
	OK(check(VFIO_USER_MIG_DATA_WRITE, CMD, buf, len, 0));
	BAD(check(VFIO_USER_MIG_DATA_READ, REPLY, buf, len - 1, 0));
	BAD(check(VFIO_USER_MIG_DATA_WRITE, CMD, buf, len + 1, 0));
	BAD(check(VFIO_USER_MIG_DATA_WRITE, REPLY, buf, len, 0));
	put32(buf, 0, 4);
	BAD(check(VFIO_USER_MIG_DATA_WRITE, CMD, buf, len, 0));
}

/* An error reply is the header with the error flag, for every command; the
 * payload libvfio-user puts after it is accepted (and means nothing), fds
 * are not. */
static void error_replies(void **state)
{
	uint8_t b[16] = {0};
	uint16_t cmd;

	for (cmd = VFIO_USER_VERSION; cmd < VFIO_USER_MAX_COMMAND; cmd++) {
		OK(check(cmd, ERR, NULL, 0, 0));
		OK(check(cmd, ERR, b, sizeof(b), 0));
		OK(check(cmd, ERR, b, 4, 0));
		BAD(check(cmd, ERR, NULL, 0, 1));
		BAD(check(cmd, ERR, b, 4, 1));
	}
}

static void header(void **state)
{
	struct vfio_user_header h = {.cmd = VFIO_USER_DEVICE_RESET, .msg_size = 16};
	char why[128];

	OK(vu_header_check(&h, why, sizeof(why)));
	h.flags = VFIO_USER_F_TYPE_COMMAND | VFIO_USER_F_NO_REPLY;
	OK(vu_header_check(&h, why, sizeof(why)));
	h.flags = 2;
	BAD(vu_header_check(&h, why, sizeof(why)));
	h.flags = 0xf;
	BAD(vu_header_check(&h, why, sizeof(why)));
	h.flags = VFIO_USER_F_ERROR;
	BAD(vu_header_check(&h, why, sizeof(why)));
	h.flags = VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_NO_REPLY;
	BAD(vu_header_check(&h, why, sizeof(why)));
	h.flags = VFIO_USER_F_TYPE_REPLY;
	h.msg_size = 15;
	BAD(vu_header_check(&h, why, sizeof(why)));
	h.msg_size = 0;
	BAD(vu_header_check(&h, NULL, 0));
	h.msg_size = VU_MSG_MAX_SIZE;
	OK(vu_header_check(&h, why, sizeof(why)));
	h.msg_size = VU_MSG_MAX_SIZE + 1;
	BAD(vu_header_check(&h, why, sizeof(why)));
	h.msg_size = UINT32_MAX;
	BAD(vu_header_check(&h, why, sizeof(why)));
}

static void size_and_header_disagree(void **state)
{
	struct vfio_user_header h = {.cmd = VFIO_USER_DEVICE_RESET, .msg_size = 20};
	uint8_t b[4] = {0};
	char why[128];

	BAD(vu_msg_check(&h, NULL, 0, 0, 0, why, sizeof(why)));
	BAD(vu_msg_check(&h, b, 2, 0, 0, why, sizeof(why)));
	BAD(vu_msg_check(&h, NULL, 4, 0, 0, why, sizeof(why)));
	h.msg_size = 16;
	BAD(vu_msg_check(&h, b, 4, 0, 0, why, sizeof(why)));
	OK(vu_msg_check(&h, NULL, 0, 0, 0, why, sizeof(why)));
}

static void unknown_commands(void **state)
{
	static const uint16_t cmds[] = {0, VFIO_USER_MAX_COMMAND, 100, UINT16_MAX};
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		BAD(check(cmds[i], CMD, NULL, 0, 0));
		BAD(check(cmds[i], ERR, NULL, 0, 0));
		assert_string_equal(vu_command_name(cmds[i]), "unknown");
	}
	assert_string_equal(vu_command_name(VFIO_USER_DEVICE_GET_REGION_INFO),
	                    "DEVICE_GET_REGION_INFO");
	assert_string_equal(vu_command_name(VFIO_USER_MIG_DATA_WRITE), "MIG_DATA_WRITE");
}

static void too_many_fds(void **state)
{
	uint8_t buf[32];
	size_t len =
	    irq_set(buf, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, UINT32_MAX, 0);

	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, VU_MAX_MSG_FDS_LIMIT + 1));
	BAD(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, len, SIZE_MAX));
	OK(check(VFIO_USER_DEVICE_SET_IRQS, CMD, buf, 20, 0));
}

/* A why buffer of any size, or none, is written within its bounds. */
static void why_bounds(void **state)
{
	struct vfio_user_header h = {.cmd = 99, .msg_size = 16};
	char why[8];

	memset(why, 'x', sizeof(why));
	BAD(vu_msg_check(&h, NULL, 0, 0, 0, why, 4));
	assert_int_equal(why[3], '\0');
	assert_int_equal(why[4], 'x');
	BAD(vu_msg_check(&h, NULL, 0, 0, 0, why, 0));
	BAD(vu_msg_check(&h, NULL, 0, 0, 0, NULL, 0));
	h.cmd = VFIO_USER_DEVICE_RESET;
	h.flags = VFIO_USER_F_TYPE_REPLY;
	h.msg_size = 17;
	memset(why, 'x', sizeof(why));
	BAD(vu_msg_check(&h, why, 1, 0, 0, why, 1));
	assert_int_equal(why[0], '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(version),
	    cmocka_unit_test(dma_map),
	    cmocka_unit_test(dma_unmap),
	    cmocka_unit_test(device_info),
	    cmocka_unit_test(region_info),
	    cmocka_unit_test(region_info_caps_refused),
	    cmocka_unit_test(cap_chain_direct),
	    cmocka_unit_test(region_io_fds),
	    cmocka_unit_test(irq_info),
	    cmocka_unit_test(set_irqs),
	    cmocka_unit_test(region_read_write),
	    cmocka_unit_test(dma_read_write),
	    cmocka_unit_test(device_reset),
	    cmocka_unit_test(dirty_pages),
	    cmocka_unit_test(region_write_multi),
	    cmocka_unit_test(device_feature),
	    cmocka_unit_test(mig_data_read_write),
	    cmocka_unit_test(error_replies),
	    cmocka_unit_test(header),
	    cmocka_unit_test(size_and_header_disagree),
	    cmocka_unit_test(unknown_commands),
	    cmocka_unit_test(too_many_fds),
	    cmocka_unit_test(why_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
