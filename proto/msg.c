/* SPDX-License-Identifier: MIT */
/*
 * Validation of every vfio-user message, command and reply, against the
 * specification's layouts. A peer is not trusted: every length is compared
 * before a field is read, every count against the bytes that carry it, and
 * every sum is done in 64 bits so no value a peer picks can wrap it.
 *
 * Fields are read with memcpy: a payload buffer has no alignment promise.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <linux/vfio.h>

#include "common/common.h"
#include "msg.h"

#define HDR_SIZE sizeof(struct vfio_user_header)

/* struct vfio_user_bitmap after a DMA_UNMAP entry asking for dirty pages:
 * pgsize and size, both 64-bit. */
#define DMA_UNMAP_BITMAP_SIZE 16u

/* Fixed parts of region info capabilities (<linux/vfio.h>). */
#define CAP_SPARSE_MMAP_FIXED 16u /* header, nr_areas, reserved */
#define CAP_SPARSE_AREA_SIZE  16u /* offset, size */
#define CAP_TYPE_SIZE         16u /* header, type, subtype */

/* A GET_REGION_IO_FDS sub-region: at least the 40 bytes both types use. */
#define SUB_REGION_MIN_SIZE sizeof(struct vfio_user_sub_region_io_fd)

/* How the bytes after an access's fixed part must look. */
enum tail {
	TAIL_NONE,  /* nothing may follow */
	TAIL_DATA,  /* exactly count bytes of data */
	TAIL_EXTRA, /* anything, ignored */
};

struct chk;

/*
 * One direction of a command: its check, and what the checks shared by
 * several commands need to know of it.
 */
struct side {
	int (*check)(struct chk *c);
	size_t fixed;   /* the fixed part of an info request or reply */
	enum tail tail; /* what follows an access's or MIG_DATA's fixed part */
	bool argsz;     /* MIG_DATA: argsz must cover the fixed part */
};

struct chk {
	const struct side *want; /* the rule's side for this message */
	const uint8_t *p;
	size_t len;
	size_t nr_fds;
	uint32_t max_xfer;
	uint16_t cmd;
	bool reply;
	char *why;
	size_t whylen;
};

struct rule {
	const char *name;
	struct side request, reply;
};

/* A failure of message c, prefixed with its command and direction. */
static int bad(struct chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct chk *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->why || c->whylen == 0)
		return -EPROTO;
	n = snprintf(c->why, c->whylen, "%s %s: ", vu_command_name(c->cmd),
	             c->reply ? "reply" : "request");
	if (n < 0)
		return -EPROTO;
	va_start(ap, fmt);
	why_vprintf(c->why, c->whylen, (size_t)n, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

static uint32_t rd32(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static int want_len(struct chk *c, size_t n)
{
	if (c->len != n)
		return bad(c, "payload is %zu bytes, expected %zu", c->len, n);
	return 0;
}

static int want_min(struct chk *c, size_t n)
{
	if (c->len < n)
		return bad(c, "payload is %zu bytes, shorter than its fixed %zu", c->len, n);
	return 0;
}

static int want_fds(struct chk *c, size_t max)
{
	if (c->nr_fds > max)
		return bad(c, "carries %zu fds, at most %zu allowed", c->nr_fds, max);
	return 0;
}

static int want_xfer(struct chk *c, uint64_t count)
{
	uint64_t limit = c->max_xfer ? c->max_xfer : VU_MAX_XFER_SIZE_LIMIT;

	if (count > limit)
		return bad(c, "count %llu exceeds the transfer limit %llu",
		           (unsigned long long)count, (unsigned long long)limit);
	return 0;
}

/* A range may end at the last byte of the 64-bit space (QEMU unmaps up to
 * there, and the kernel accepts it); only one that goes past it wraps. */
static int want_no_wrap(struct chk *c, uint64_t base, uint64_t size)
{
	if (size && base + (size - 1) < base)
		return bad(c, "range %#llx+%#llx wraps around", (unsigned long long)base,
		           (unsigned long long)size);
	return 0;
}

/* A request of at least fixed bytes whose argsz (the largest reply the
 * sender takes) leaves room for at least min_argsz. Bytes past the fixed
 * part are ignored, as libvfio-user's server does: its client pads a
 * request to its argsz. */
static int request_argsz(struct chk *c, size_t fixed, size_t min_argsz)
{
	int ret = want_min(c, fixed);

	if (ret)
		return ret;
	if (rd32(c->p, 0) < min_argsz)
		return bad(c, "argsz %u is below the reply's fixed %zu", rd32(c->p, 0), min_argsz);
	return 0;
}

/*
 * A reply with argsz: argsz is the size the whole reply needs. When it is
 * more than the bytes present the reply was cut to the requester's argsz:
 * only the fixed part is meaningful then (libvfio-user pads up to the
 * requested size with zeros), so *full tells the caller whether the tail may
 * be read. A reply holding more bytes than it says it needs is lying.
 */
static int reply_argsz(struct chk *c, size_t fixed, bool *full)
{
	uint32_t argsz;
	int ret = want_min(c, fixed);

	if (ret)
		return ret;
	argsz = rd32(c->p, 0);
	if (argsz < fixed)
		return bad(c, "argsz %u is below the fixed %zu", argsz, fixed);
	if (c->len > argsz)
		return bad(c, "payload of %zu bytes exceeds its argsz %u", c->len, argsz);
	*full = c->len == argsz;
	return 0;
}

static int check_version(struct chk *c)
{
	/* One fd at most: the twin socket, which libvfio-user passes with its
	 * reply; a client passing its own end with the request is allowed too. */
	int ret = want_min(c, sizeof(struct vfio_user_version));

	return ret ? ret : want_fds(c, 1);
}

static int check_empty(struct chk *c)
{
	int ret = want_len(c, 0);

	return ret ? ret : want_fds(c, 0);
}

/* libvfio-user's server ignores whatever comes with a reset. */
static int check_reset_request(struct chk *c)
{
	return want_fds(c, 0);
}

static int check_dma_map(struct chk *c)
{
	const uint32_t known = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	struct vfio_user_dma_map m;
	int ret = want_min(c, sizeof(m));

	if (ret)
		return ret;
	memcpy(&m, c->p, sizeof(m));
	if (m.argsz < sizeof(m))
		return bad(c, "argsz %u is below the entry's %zu", m.argsz, sizeof(m));
	if (m.flags & ~known)
		return bad(c, "unknown flags %#x", m.flags & ~known);
	ret = want_no_wrap(c, m.addr, m.size);
	if (!ret)
		ret = want_no_wrap(c, m.offset, m.size);
	return ret ? ret : want_fds(c, 1);
}

static int check_dma_unmap_request(struct chk *c)
{
	const uint32_t known = VFIO_USER_F_DMA_UNMAP_GET_DIRTY_BITMAP | VFIO_USER_F_DMA_UNMAP_ALL;
	struct vfio_user_dma_unmap u;
	size_t fixed = sizeof(u);
	int ret = want_min(c, sizeof(u));

	if (ret)
		return ret;
	memcpy(&u, c->p, sizeof(u));
	if (u.flags & ~known)
		return bad(c, "unknown flags %#x", u.flags & ~known);
	if (u.flags & VFIO_USER_F_DMA_UNMAP_GET_DIRTY_BITMAP)
		fixed += DMA_UNMAP_BITMAP_SIZE;
	ret = request_argsz(c, fixed, fixed);
	if (!ret && !(u.flags & VFIO_USER_F_DMA_UNMAP_ALL))
		ret = want_no_wrap(c, u.addr, u.size);
	return ret ? ret : want_fds(c, 0);
}

static int check_dma_unmap_reply(struct chk *c)
{
	bool full = false;
	int ret = reply_argsz(c, sizeof(struct vfio_user_dma_unmap), &full);

	return ret ? ret : want_fds(c, 0);
}

/* Requests whose payload is one fixed struct (the rule's fixed) starting
 * with argsz, asking for a reply of the same fixed size. */
static int check_info_request(struct chk *c)
{
	int ret = request_argsz(c, c->want->fixed, c->want->fixed);

	return ret ? ret : want_fds(c, 0);
}

static int check_info_reply(struct chk *c)
{
	bool full = false;
	int ret = reply_argsz(c, c->want->fixed, &full);

	return ret ? ret : want_fds(c, 0);
}

/*
 * The fds a region info reply may carry: one, or one per sparse mmap area,
 * as libvfio-user passes the region's fd again for each area. The chain at
 * off has been checked.
 */
static size_t sparse_areas(const uint8_t *p, uint32_t off)
{
	struct vfio_user_cap_header h;
	uint32_t nr;

	for (; off; off = h.next) {
		memcpy(&h, p + off, sizeof(h));
		if (h.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			nr = rd32(p, off + sizeof(h));
			return nr > 1 ? nr : 1;
		}
	}
	return 1;
}

static int check_region_info_reply(struct chk *c)
{
	struct vfio_user_region_info ri;
	char chain[128];
	bool full = false, caps;
	int ret = reply_argsz(c, sizeof(ri), &full);

	if (ret)
		return ret;
	if (!full)
		return want_fds(c, 1);
	memcpy(&ri, c->p, sizeof(ri));
	caps = ri.flags & VFIO_REGION_INFO_FLAG_CAPS;
	if (caps != (ri.cap_offset != 0))
		return bad(c, "CAPS flag %s but cap_offset is %u", caps ? "set" : "clear",
		           ri.cap_offset);
	if (vu_cap_chain_check(c->p, c->len, ri.cap_offset, sizeof(ri), chain, sizeof(chain)))
		return bad(c, "%s", chain);
	return want_fds(c, sparse_areas(c->p, ri.cap_offset));
}

/* The sub-region array of a complete GET_REGION_IO_FDS reply: entries of
 * (argsz - fixed) / count bytes each (40 today, not to be relied on), each
 * naming an fd that came with the message. */
static int check_sub_regions(struct chk *c, uint32_t count)
{
	size_t fixed = sizeof(struct vfio_user_region_io_fds);
	size_t array = c->len - fixed;
	size_t stride, i;
	uint32_t fd_index;

	if (count == 0) {
		if (array)
			return bad(c, "%zu bytes of sub-regions for count 0", array);
		return want_fds(c, 0);
	}
	if (array % count)
		return bad(c, "%zu bytes do not split into %u sub-regions", array, count);
	stride = array / count;
	if (stride < SUB_REGION_MIN_SIZE)
		return bad(c, "sub-regions of %zu bytes, at least %zu needed", stride,
		           SUB_REGION_MIN_SIZE);
	if (c->nr_fds == 0)
		return bad(c, "%u sub-regions but no fd", count);
	for (i = 0; i < count; i++) {
		fd_index = rd32(c->p, fixed + i * stride +
		                          offsetof(struct vfio_user_sub_region_io_fd, fd_index));
		if (fd_index >= c->nr_fds)
			return bad(c, "sub-region %zu names fd %u of %zu", i, fd_index, c->nr_fds);
	}
	return 0;
}

static int check_io_fds_reply(struct chk *c)
{
	bool full = false;
	int ret = reply_argsz(c, sizeof(struct vfio_user_region_io_fds), &full);

	if (ret)
		return ret;
	if (!full)
		return want_fds(c, 0);
	return check_sub_regions(c, rd32(c->p, offsetof(struct vfio_user_region_io_fds, count)));
}

/* Exactly one bit of mask set. */
static bool one_of(uint32_t flags, uint32_t mask)
{
	uint32_t v = flags & mask;

	return v && !(v & (v - 1));
}

/* The request's size comes from msg_size, not argsz (spec, "Message
 * sizes"): argsz need only cover the fixed part, as clients differ in
 * whether they count the data or the kernel's 4 bytes an eventfd. */
static int check_set_irqs(struct chk *c)
{
	const uint32_t data = VFIO_IRQ_SET_DATA_TYPE_MASK;
	const uint32_t action = VFIO_IRQ_SET_ACTION_TYPE_MASK;
	struct vfio_user_irq_set s;
	uint64_t expect;
	int ret = want_min(c, sizeof(s));

	if (ret)
		return ret;
	memcpy(&s, c->p, sizeof(s));
	if (s.flags & ~(data | action))
		return bad(c, "unknown flags %#x", s.flags & ~(data | action));
	if (!one_of(s.flags, data) || !one_of(s.flags, action))
		return bad(c, "flags %#x need one data type and one action", s.flags);
	if ((uint64_t)s.start + s.count > UINT32_MAX)
		return bad(c, "start %u + count %u overflows", s.start, s.count);
	/* Only DATA_BOOL has data whose size the count gives; bytes after the
	 * fixed part of the others are ignored, as libvfio-user does. */
	expect = sizeof(s) + s.count;
	if ((s.flags & VFIO_IRQ_SET_DATA_BOOL) && c->len != expect)
		return bad(c, "payload is %zu bytes, count %u needs %llu", c->len, s.count,
		           (unsigned long long)expect);
	if (s.argsz < sizeof(s))
		return bad(c, "argsz %u is below the fixed %zu", s.argsz, sizeof(s));
	return want_fds(c, (s.flags & VFIO_IRQ_SET_DATA_EVENTFD) ? s.count : 0);
}

/* A region or DMA access: fixed part, then what the rule's tail says. */
static int check_access(struct chk *c, uint64_t count)
{
	enum tail tail = c->want->tail;
	size_t fixed = sizeof(struct vfio_user_region_access);
	int ret = want_xfer(c, count);

	if (ret)
		return ret;
	if (tail == TAIL_DATA && c->len - fixed != count)
		return bad(c, "count %llu but %zu data bytes", (unsigned long long)count,
		           c->len - fixed);
	if (tail == TAIL_NONE && c->len != fixed)
		return bad(c, "payload is %zu bytes, expected %zu", c->len, fixed);
	return want_fds(c, 0);
}

static int check_region_access(struct chk *c)
{
	int ret = want_min(c, sizeof(struct vfio_user_region_access));

	if (ret)
		return ret;
	return check_access(c, rd32(c->p, offsetof(struct vfio_user_region_access, count)));
}

static int check_dma_access(struct chk *c)
{
	struct vfio_user_dma_access a;
	int ret = want_min(c, sizeof(a));

	if (ret)
		return ret;
	memcpy(&a, c->p, sizeof(a));
	ret = want_no_wrap(c, a.addr, a.count);
	return ret ? ret : check_access(c, a.count);
}

/* libvfio-user sends every piece of a split DMA_WRITE in a message as long
 * as the first, so the last may hold bytes past count: they are ignored,
 * but must stay within the transfer limit. Otherwise it is an access with
 * its data (the rule's tail). */
static int check_dma_write_request(struct chk *c)
{
	size_t fixed = sizeof(struct vfio_user_dma_access);
	uint64_t count;
	int ret = want_min(c, fixed);

	if (ret)
		return ret;
	count = rd64(c->p, offsetof(struct vfio_user_dma_access, count));
	if (count < c->len - fixed) {
		ret = want_xfer(c, c->len - fixed);
		if (!ret)
			ret = want_no_wrap(c, rd64(c->p, 0), count);
		return ret ? ret : want_fds(c, 0);
	}
	return check_dma_access(c);
}

/* The spec's table gives this reply a 4-byte count (12 bytes); libvfio-user
 * sends the whole 16-byte struct. */
static int check_dma_write_reply(struct chk *c)
{
	uint64_t count;
	int ret;

	if (c->len == sizeof(struct vfio_user_dma_access))
		count = rd64(c->p, offsetof(struct vfio_user_dma_access, count));
	else if (c->len == VFIO_USER_DMA_WRITE_REPLY_MIN_SIZE)
		count = rd32(c->p, offsetof(struct vfio_user_dma_access, count));
	else
		return bad(c, "payload is %zu bytes, expected %u or %zu", c->len,
		           VFIO_USER_DMA_WRITE_REPLY_MIN_SIZE, sizeof(struct vfio_user_dma_access));
	ret = want_xfer(c, count);
	return ret ? ret : want_fds(c, 0);
}

/* Withdrawn from the spec: only its old fixed part (argsz, flags) is
 * checked, so a server can answer it with an error. */
static int check_dirty_pages_request(struct chk *c)
{
	int ret = want_min(c, 8);

	if (!ret && rd32(c->p, 0) < 8)
		ret = bad(c, "argsz %u is below 8", rd32(c->p, 0));
	return ret ? ret : want_fds(c, 0);
}

static int check_dirty_pages_reply(struct chk *c)
{
	bool full = false;
	int ret = reply_argsz(c, 8, &full);

	return ret ? ret : want_fds(c, 0);
}

static int check_write_multi_request(struct chk *c)
{
	const size_t entry = sizeof(struct vfio_user_write_multi_entry);
	size_t fixed = sizeof(struct vfio_user_write_multi);
	uint64_t wr_cnt;
	uint32_t count;
	size_t i;
	int ret = want_min(c, fixed);

	if (ret)
		return ret;
	wr_cnt = rd64(c->p, 0);
	if (wr_cnt == 0 || wr_cnt > VFIO_USER_MULTI_MAX)
		return bad(c, "wr_cnt %llu is not within 1..%u", (unsigned long long)wr_cnt,
		           VFIO_USER_MULTI_MAX);
	ret = want_len(c, fixed + wr_cnt * entry);
	if (ret)
		return ret;
	for (i = 0; i < wr_cnt; i++) {
		count = rd32(c->p, fixed + i * entry +
		                       offsetof(struct vfio_user_write_multi_entry, count));
		if (count == 0 || count > VFIO_USER_MULTI_DATA)
			return bad(c, "write %zu has count %u, not within 1..%u", i, count,
			           VFIO_USER_MULTI_DATA);
	}
	return want_fds(c, 0);
}

static int check_write_multi_reply(struct chk *c)
{
	int ret = want_len(c, sizeof(struct vfio_user_write_multi));

	if (ret)
		return ret;
	if (rd64(c->p, 0) > VFIO_USER_MULTI_MAX)
		return bad(c, "wr_cnt %llu exceeds %u", (unsigned long long)rd64(c->p, 0),
		           VFIO_USER_MULTI_MAX);
	return want_fds(c, 0);
}

static int check_device_feature_request(struct chk *c)
{
	size_t fixed = sizeof(struct vfio_user_device_feature);
	int ret = want_min(c, fixed);

	if (!ret && rd32(c->p, 0) < fixed)
		ret = bad(c, "argsz %u is below %zu", rd32(c->p, 0), fixed);
	return ret ? ret : want_fds(c, 0);
}

/* The reply's argsz is left alone: servers fill it differently for GET and
 * SET, and the data that follows is the feature's own business. */
static int check_device_feature_reply(struct chk *c)
{
	int ret = want_min(c, sizeof(struct vfio_user_device_feature));

	return ret ? ret : want_fds(c, 0);
}

/* MIG_DATA: argsz (checked when the rule says so), size, then size bytes
 * when the rule's tail is TAIL_DATA, nothing when TAIL_NONE. */
static int check_mig_data(struct chk *c)
{
	bool with_data = c->want->tail == TAIL_DATA;
	size_t fixed = sizeof(struct vfio_user_mig_data);
	uint32_t size;
	int ret = want_min(c, fixed);

	if (ret)
		return ret;
	if (c->want->argsz && rd32(c->p, 0) < fixed)
		return bad(c, "argsz %u is below %zu", rd32(c->p, 0), fixed);
	size = rd32(c->p, offsetof(struct vfio_user_mig_data, size));
	ret = want_xfer(c, size);
	if (ret)
		return ret;
	if (with_data && c->len - fixed != size)
		return bad(c, "size %u but %zu data bytes", size, c->len - fixed);
	if (!with_data && c->len != fixed)
		return bad(c, "payload is %zu bytes, expected %zu", c->len, fixed);
	return want_fds(c, 0);
}

/* libvfio-user answers a MIG_DATA_WRITE with no payload; an echo of the
 * fixed part (the rule: no data, argsz not checked) is accepted too. */
static int check_mig_data_write_reply(struct chk *c)
{
	if (c->len == 0)
		return want_fds(c, 0);
	return check_mig_data(c);
}

static const struct rule rules[VFIO_USER_MAX_COMMAND] = {
    [VFIO_USER_VERSION] = {"VERSION", {check_version}, {check_version}},
    [VFIO_USER_DMA_MAP] = {"DMA_MAP", {check_dma_map}, {check_empty}},
    [VFIO_USER_DMA_UNMAP] = {"DMA_UNMAP", {check_dma_unmap_request}, {check_dma_unmap_reply}},
    [VFIO_USER_DEVICE_GET_INFO] = {"DEVICE_GET_INFO",
                                   {check_info_request,
                                    .fixed = sizeof(struct vfio_user_device_info)},
                                   {check_info_reply,
                                    .fixed = sizeof(struct vfio_user_device_info)}},
    [VFIO_USER_DEVICE_GET_REGION_INFO] = {"DEVICE_GET_REGION_INFO",
                                          {check_info_request,
                                           .fixed = sizeof(struct vfio_user_region_info)},
                                          {check_region_info_reply}},
    [VFIO_USER_DEVICE_GET_REGION_IO_FDS] = {"DEVICE_GET_REGION_IO_FDS",
                                            {check_info_request,
                                             .fixed = sizeof(struct vfio_user_region_io_fds)},
                                            {check_io_fds_reply}},
    [VFIO_USER_DEVICE_GET_IRQ_INFO] = {"DEVICE_GET_IRQ_INFO",
                                       {check_info_request,
                                        .fixed = sizeof(struct vfio_user_irq_info)},
                                       {check_info_reply,
                                        .fixed = sizeof(struct vfio_user_irq_info)}},
    [VFIO_USER_DEVICE_SET_IRQS] = {"DEVICE_SET_IRQS", {check_set_irqs}, {check_empty}},
    /* A REGION_READ request may carry anything after its fixed part:
     * libvfio-user's server reads that part only. */
    [VFIO_USER_REGION_READ] = {"REGION_READ",
                               {check_region_access, .tail = TAIL_EXTRA},
                               {check_region_access, .tail = TAIL_DATA}},
    [VFIO_USER_REGION_WRITE] = {"REGION_WRITE",
                                {check_region_access, .tail = TAIL_DATA},
                                {check_region_access, .tail = TAIL_NONE}},
    [VFIO_USER_DMA_READ] = {"DMA_READ",
                            {check_dma_access, .tail = TAIL_NONE},
                            {check_dma_access, .tail = TAIL_DATA}},
    [VFIO_USER_DMA_WRITE] = {"DMA_WRITE",
                             {check_dma_write_request, .tail = TAIL_DATA},
                             {check_dma_write_reply}},
    [VFIO_USER_DEVICE_RESET] = {"DEVICE_RESET", {check_reset_request}, {check_empty}},
    [VFIO_USER_DIRTY_PAGES] = {"DIRTY_PAGES",
                               {check_dirty_pages_request},
                               {check_dirty_pages_reply}},
    [VFIO_USER_REGION_WRITE_MULTI] = {"REGION_WRITE_MULTI",
                                      {check_write_multi_request},
                                      {check_write_multi_reply}},
    [VFIO_USER_DEVICE_FEATURE] = {"DEVICE_FEATURE",
                                  {check_device_feature_request},
                                  {check_device_feature_reply}},
    [VFIO_USER_MIG_DATA_READ] = {"MIG_DATA_READ",
                                 {check_mig_data, .tail = TAIL_NONE, .argsz = true},
                                 {check_mig_data, .tail = TAIL_DATA}},
    [VFIO_USER_MIG_DATA_WRITE] = {"MIG_DATA_WRITE",
                                  {check_mig_data, .tail = TAIL_DATA, .argsz = true},
                                  {check_mig_data_write_reply, .tail = TAIL_NONE}},
};

static const struct rule *rule_of(uint16_t cmd)
{
	if (cmd >= VFIO_USER_MAX_COMMAND || !rules[cmd].name)
		return NULL;
	return &rules[cmd];
}

const char *vu_command_name(uint16_t cmd)
{
	const struct rule *r = rule_of(cmd);

	return r ? r->name : "unknown";
}

int vu_header_check(const struct vfio_user_header *hdr, char *why, size_t whylen)
{
	uint32_t type = hdr->flags & VFIO_USER_F_TYPE_MASK;

	if (type != VFIO_USER_F_TYPE_COMMAND && type != VFIO_USER_F_TYPE_REPLY)
		return why_fail(-EPROTO, why, whylen,
		                "message type %u is neither command nor reply", type);
	if (type == VFIO_USER_F_TYPE_COMMAND && (hdr->flags & VFIO_USER_F_ERROR))
		return why_fail(-EPROTO, why, whylen, "command %u carries the error flag",
		                hdr->cmd);
	if (type == VFIO_USER_F_TYPE_REPLY && (hdr->flags & VFIO_USER_F_NO_REPLY))
		return why_fail(-EPROTO, why, whylen, "reply to %u carries the no-reply flag",
		                hdr->cmd);
	if (hdr->msg_size < HDR_SIZE || hdr->msg_size > VU_MSG_MAX_SIZE)
		return why_fail(-EPROTO, why, whylen, "message size %u is not within %zu..%zu",
		                hdr->msg_size, HDR_SIZE, (size_t)VU_MSG_MAX_SIZE);
	return 0;
}

int vu_msg_check(const struct vfio_user_header *hdr, const void *payload, size_t len, size_t nr_fds,
                 uint32_t max_xfer, char *why, size_t whylen)
{
	bool reply = (hdr->flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY;
	struct chk c = {
	    .p = payload,
	    .len = len,
	    .nr_fds = nr_fds,
	    .max_xfer = max_xfer,
	    .cmd = hdr->cmd,
	    .reply = reply,
	    .why = why,
	    .whylen = whylen,
	};
	const struct rule *r;
	int ret = vu_header_check(hdr, why, whylen);

	if (ret)
		return ret;
	if (len != hdr->msg_size - HDR_SIZE)
		return why_fail(-EPROTO, why, whylen, "payload of %zu bytes, header says %zu", len,
		                (size_t)(hdr->msg_size - HDR_SIZE));
	if (len && !payload)
		return why_fail(-EPROTO, why, whylen, "payload of %zu bytes missing", len);
	r = rule_of(hdr->cmd);
	if (!r)
		return why_fail(-EPROTO, why, whylen, "unknown command %u", hdr->cmd);
	if (nr_fds > VU_MAX_MSG_FDS_LIMIT)
		return bad(&c, "carries %zu fds, more than any message may", nr_fds);
	/* The spec makes an error reply a bare header, but libvfio-user sends
	 * the reply buffer its failed callback had started: only the errno
	 * counts, whatever follows it. */
	if (reply && (hdr->flags & VFIO_USER_F_ERROR))
		return want_fds(&c, 0);
	c.want = reply ? &r->reply : &r->request;
	return c.want->check(&c);
}

/* Set *size to the bytes the capability at off (its header in range) takes
 * by its own counts; -EPROTO when they run past len. */
static int cap_size(const uint8_t *p, size_t len, uint64_t off, uint16_t id, uint64_t *size,
                    char *why, size_t whylen)
{
	uint64_t i, nr, area, a_off, a_size;

	switch (id) {
	case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
		if (off + CAP_SPARSE_MMAP_FIXED > len)
			return why_fail(-EPROTO, why, whylen, "sparse mmap at %llu cut short",
			                (unsigned long long)off);
		nr = rd32(p, off + sizeof(struct vfio_user_cap_header));
		*size = CAP_SPARSE_MMAP_FIXED + nr * CAP_SPARSE_AREA_SIZE;
		if (off + *size > len)
			return why_fail(-EPROTO, why, whylen,
			                "sparse mmap at %llu: %llu areas overflow %zu bytes",
			                (unsigned long long)off, (unsigned long long)nr, len);
		for (i = 0; i < nr; i++) {
			area = off + CAP_SPARSE_MMAP_FIXED + i * CAP_SPARSE_AREA_SIZE;
			a_off = rd64(p, area);
			a_size = rd64(p, area + 8);
			if (a_off + a_size < a_off)
				return why_fail(-EPROTO, why, whylen,
				                "sparse mmap area %llu wraps around",
				                (unsigned long long)i);
		}
		return 0;
	case VFIO_REGION_INFO_CAP_TYPE:
		*size = CAP_TYPE_SIZE;
		break;
	default:
		/* MSIX_MAPPABLE is a bare header; others we do not read. */
		*size = sizeof(struct vfio_user_cap_header);
		break;
	}
	if (off + *size > len)
		return why_fail(-EPROTO, why, whylen, "capability %u at %llu runs past %zu bytes",
		                id, (unsigned long long)off, len);
	return 0;
}

int vu_cap_chain_check(const void *buf, size_t len, uint32_t first, size_t fixed, char *why,
                       size_t whylen)
{
	const uint8_t *p = buf;
	struct vfio_user_cap_header h;
	uint64_t off = first, floor = fixed, size = 0;
	int ret;

	/* Each step moves floor past the capability just read, so next must
	 * point strictly forward: no loop, no overlap, at most len/8 steps. */
	while (off) {
		if (off < floor)
			return why_fail(-EPROTO, why, whylen,
			                "capability at %llu points back before %llu",
			                (unsigned long long)off, (unsigned long long)floor);
		if (off % 4)
			return why_fail(-EPROTO, why, whylen,
			                "capability at %llu is not 4-byte aligned",
			                (unsigned long long)off);
		if (off + sizeof(h) > len)
			return why_fail(-EPROTO, why, whylen,
			                "capability at %llu is past the %zu bytes",
			                (unsigned long long)off, len);
		memcpy(&h, p + off, sizeof(h));
		ret = cap_size(p, len, off, h.id, &size, why, whylen);
		if (ret)
			return ret;
		floor = off + size;
		off = h.next;
	}
	return 0;
}
