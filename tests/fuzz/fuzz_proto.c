/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the protocol's validating half. Arbitrary bytes go to
 * vu_msg_check (as header + payload + nr_fds, see fuzz_input.h), to
 * vu_cap_chain_check and to the VERSION JSON parser. When a message is
 * accepted, a consumer reads every field a client or server would read, and
 * aborts if that read would leave the payload: so the fuzzer checks the
 * promise msg.h makes, not only the absence of crashes inside it. Parsed
 * capabilities must survive an encode/parse round trip unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/vfio.h>

#include "proto/caps.h"
#include "proto/msg.h"
#include "tests/fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define require(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_proto: %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct msg {
	const uint8_t *p;
	size_t len;
	size_t nr_fds;
	uint64_t limit;
};

static void present(const struct msg *m, uint64_t off, uint64_t n)
{
	require(off <= m->len && n <= m->len - off);
}

/* Read an n-byte field (n <= 8) at off, as a consumer would, after checking
 * it is there. */
static uint64_t field(const struct msg *m, uint64_t off, size_t n)
{
	uint64_t v = 0;

	present(m, off, n);
	memcpy(&v, m->p + off, n);
	return v;
}

/* Walk the chain as a consumer would; returns the fds the reply may carry:
 * one, or one per sparse mmap area. */
static uint64_t consume_chain(const struct msg *m, uint32_t off)
{
	size_t steps = 0;
	uint64_t nr, i, fds = 1;
	uint16_t id;

	while (off) {
		require(++steps <= m->len / 8);
		id = (uint16_t)field(m, off, 2);
		if (id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			nr = field(m, off + 8, 4);
			for (i = 0; i < nr; i++)
				present(m, off + 16 + i * 16, 16);
			if (nr > fds)
				fds = nr;
		} else if (id == VFIO_REGION_INFO_CAP_TYPE) {
			field(m, off + 8, 8);
		}
		off = (uint32_t)field(m, off + 4, 4);
	}
	return fds;
}

static void consume_io_fds(const struct msg *m)
{
	uint64_t count = field(m, 12, 4), stride, i;

	if (count == 0)
		return;
	stride = (m->len - 16) / count;
	for (i = 0; i < count; i++)
		require(field(m, 16 + i * stride + 16, 4) < m->nr_fds);
}

/* count bytes follow the fixed part, and nothing else. */
static void consume_exact(const struct msg *m, uint64_t fixed, uint64_t count)
{
	present(m, fixed, count);
	require(m->len - fixed == count);
}

static void consume_data(const struct msg *m, uint64_t fixed, uint64_t count)
{
	require(count <= m->limit);
	consume_exact(m, fixed, count);
}

static void consume_request(const struct msg *m, uint16_t cmd)
{
	uint64_t n, i, flags;

	switch (cmd) {
	case VFIO_USER_DEVICE_SET_IRQS:
		flags = field(m, 4, 4);
		n = field(m, 16, 4);
		if (flags & VFIO_IRQ_SET_DATA_BOOL)
			consume_exact(m, 20, n);
		require(m->nr_fds <= ((flags & VFIO_IRQ_SET_DATA_EVENTFD) ? n : 0));
		break;
	case VFIO_USER_REGION_WRITE:
		consume_data(m, 16, field(m, 12, 4));
		break;
	case VFIO_USER_DMA_WRITE:
		/* As libvfio-user sends them: bytes past count may follow. */
		present(m, 16, field(m, 8, 8));
		require(m->len - 16 <= m->limit);
		break;
	case VFIO_USER_REGION_READ:
		require(field(m, 12, 4) <= m->limit);
		break;
	case VFIO_USER_DMA_READ:
		require(field(m, 8, 8) <= m->limit);
		break;
	case VFIO_USER_REGION_WRITE_MULTI:
		n = field(m, 0, 8);
		require(n <= VFIO_USER_MULTI_MAX);
		for (i = 0; i < n; i++)
			require(field(m, 8 + i * 24 + 12, 4) <= VFIO_USER_MULTI_DATA);
		break;
	case VFIO_USER_MIG_DATA_WRITE:
		consume_data(m, 8, field(m, 4, 4));
		break;
	default:
		break;
	}
}

static void consume_reply(const struct msg *m, uint16_t cmd)
{
	bool full = m->len >= 4 && field(m, 0, 4) == m->len;

	switch (cmd) {
	case VFIO_USER_DEVICE_GET_REGION_INFO:
		present(m, 0, 32);
		require(m->nr_fds <= (full ? consume_chain(m, (uint32_t)field(m, 12, 4)) : 1));
		break;
	case VFIO_USER_DEVICE_GET_REGION_IO_FDS:
		present(m, 0, 16);
		if (full)
			consume_io_fds(m);
		else
			require(m->nr_fds == 0);
		break;
	case VFIO_USER_REGION_READ:
		consume_data(m, 16, field(m, 12, 4));
		break;
	case VFIO_USER_DMA_READ:
		consume_data(m, 16, field(m, 8, 8));
		break;
	case VFIO_USER_MIG_DATA_READ:
		consume_data(m, 8, field(m, 4, 4));
		break;
	default:
		break;
	}
}

static void fuzz_msg(const uint8_t *data, size_t size)
{
	struct vfio_user_header h;
	struct msg m;
	uint32_t max_xfer;
	char why[256] = "";
	bool reply;

	if (size < FUZZ_PREFIX + sizeof(h))
		return;
	memcpy(&max_xfer, data + 1, sizeof(max_xfer));
	memcpy(&h, data + FUZZ_PREFIX, sizeof(h));
	m.p = data + FUZZ_PREFIX + sizeof(h);
	m.len = size - FUZZ_PREFIX - sizeof(h);
	m.nr_fds = data[0] >> 1;
	m.limit = max_xfer ? max_xfer : VU_MAX_XFER_SIZE_LIMIT;
	if (!(data[0] & FUZZ_RAW_SIZE) && m.len <= UINT32_MAX - sizeof(h))
		h.msg_size = (uint32_t)(sizeof(h) + m.len);

	if (h.cmd == VFIO_USER_VERSION) {
		struct vu_caps caps;

		vu_caps_from_version(m.p, m.len, &caps, why, sizeof(why));
	}
	if (m.len >= 16)
		vu_cap_chain_check(m.p, m.len, (uint32_t)field(&m, 12, 4), 16, why, sizeof(why));

	if (vu_msg_check(&h, m.p, m.len, m.nr_fds, max_xfer, why, sizeof(why))) {
		require(why[0] != '\0');
		return;
	}
	require(h.msg_size == sizeof(h) + m.len);
	require(h.cmd > 0 && h.cmd < VFIO_USER_MAX_COMMAND);
	require(m.nr_fds <= VU_MAX_MSG_FDS_LIMIT);
	reply = (h.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY;
	if (reply && (h.flags & VFIO_USER_F_ERROR)) {
		/* Any payload is ignored (libvfio-user sends one); no fds. */
		require(m.nr_fds == 0);
		return;
	}
	if (reply)
		consume_reply(&m, h.cmd);
	else
		consume_request(&m, h.cmd);
}

static void require_same(const struct vu_caps *a, const struct vu_caps *b)
{
	require(a->max_msg_fds == b->max_msg_fds);
	require(a->max_data_xfer_size == b->max_data_xfer_size);
	require(a->pgsizes == b->pgsizes);
	require(a->max_dma_maps == b->max_dma_maps);
	require(a->write_multiple == b->write_multiple);
	require(a->twin_socket == b->twin_socket);
	require(!a->twin_socket || a->twin_fd_index == b->twin_fd_index);
	require(a->migration == b->migration);
	require(!a->migration || a->mig_pgsize == b->mig_pgsize);
	require(!a->migration || a->mig_max_bitmap_size == b->mig_max_bitmap_size);
}

static void fuzz_caps(const uint8_t *data, size_t size)
{
	struct vu_caps ours, theirs, again, out;
	char why[256] = "";
	char *json;

	vu_caps_default(&ours);
	if (vu_caps_parse((const char *)data, size, &theirs, why, sizeof(why))) {
		require(why[0] != '\0');
		return;
	}
	require(theirs.max_msg_fds <= VU_MAX_MSG_FDS_LIMIT);
	require(theirs.max_data_xfer_size >= 1 &&
	        theirs.max_data_xfer_size <= VU_MAX_XFER_SIZE_LIMIT);
	require(theirs.pgsizes != 0);
	if (vu_caps_encode(&theirs, &json))
		return;
	require(vu_caps_parse(json, strlen(json) + 1, &again, why, sizeof(why)) == 0);
	free(json);
	require_same(&theirs, &again);
	if (vu_caps_agree(&ours, &theirs, &out, why, sizeof(why)) == 0)
		require(out.max_data_xfer_size <= ours.max_data_xfer_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_msg(data, size);
	fuzz_caps(data, size);
	return 0;
}
