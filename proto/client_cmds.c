/* SPDX-License-Identifier: MIT */
/*
 * One helper per command: fill the fixed fields, split what must be split
 * (region I/O at max_data_xfer_size, SET_IRQS at max_msg_fds), and check
 * what the reply says beyond what vu_msg_check already did.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "client.h"
#include "client_log.h"
#include "msg.h"

#define REGION_INFO_FIRST 256u
#define REGION_INFO_TRIES 3

/* Send the fixed request req and copy the reply's fixed part, which
 * vu_msg_check found there, into out. */
static int call_fixed(struct vu_client *c, uint16_t cmd, const struct vu_call_opts *o,
                      const void *req, size_t len, void *out, size_t outlen)
{
	struct vu_msg m;
	int err = vu_call(c, cmd, req, len, NULL, 0, o, &m);

	if (err)
		return err;
	memcpy(out, m.payload, outlen);
	vu_msg_release(&m);
	return 0;
}

int vu_device_get_info(struct vu_client *c, const struct vu_call_opts *o,
                       struct vfio_user_device_info *info)
{
	struct vfio_user_device_info req = {.argsz = sizeof(req)};

	return call_fixed(c, VFIO_USER_DEVICE_GET_INFO, o, &req, sizeof(req), info, sizeof(*info));
}

/* Check one region info reply; returns 1 if it asks for a larger argsz. */
static int region_info_check(struct vu_client *c, uint32_t index, uint32_t argsz,
                             const struct vu_msg *m)
{
	const struct vfio_user_region_info *ri = m->payload;
	char why[160];

	if (ri->index != index) {
		snprintf(why, sizeof(why), "reply is for region %u", ri->index);
		goto bad;
	}
	if (ri->argsz > argsz) {
		if (ri->argsz <= VU_REGION_INFO_MAX)
			return 1;
		snprintf(why, sizeof(why), "asks for argsz %u", ri->argsz);
		goto bad;
	}
	if (ri->cap_offset &&
	    vu_cap_chain_check(m->payload, m->len, ri->cap_offset, sizeof(*ri), why, sizeof(why)))
		goto bad;
	return 0;
bad:
	vu_log(vu_client_log(c), VU_LOG_ERR, "bad region %u info from server: %s", index, why);
	return -EPROTO;
}

int vu_device_get_region_info(struct vu_client *c, const struct vu_call_opts *o, uint32_t index,
                              struct vfio_user_region_info **info, size_t *len, int *fd)
{
	struct vfio_user_region_info req = {.argsz = REGION_INFO_FIRST, .index = index};
	struct vu_msg m;
	int err;

	for (int tries = 0; tries < REGION_INFO_TRIES; tries++) {
		err =
		    vu_call(c, VFIO_USER_DEVICE_GET_REGION_INFO, &req, sizeof(req), NULL, 0, o, &m);
		if (err)
			return err;
		err = region_info_check(c, index, req.argsz, &m);
		if (err == 1) {
			req.argsz = ((struct vfio_user_region_info *)m.payload)->argsz;
			vu_msg_release(&m);
			continue;
		}
		if (err) {
			vu_msg_release(&m);
			return err;
		}
		*info = m.payload;
		*len = m.len;
		/* Any further fds are the same region's, one per sparse area. */
		*fd = m.nr_fds ? m.fds[0] : -1;
		for (size_t i = 1; i < m.nr_fds; i++)
			close(m.fds[i]);
		free(m.fds);
		return 0;
	}
	vu_log(vu_client_log(c), VU_LOG_ERR,
	       "region %u info: server keeps asking for a larger argsz", index);
	return -EPROTO;
}

int vu_device_get_irq_info(struct vu_client *c, const struct vu_call_opts *o, uint32_t index,
                           struct vfio_user_irq_info *info)
{
	struct vfio_user_irq_info req = {.argsz = sizeof(req), .index = index};
	int err =
	    call_fixed(c, VFIO_USER_DEVICE_GET_IRQ_INFO, o, &req, sizeof(req), info, sizeof(*info));

	if (err)
		return err;
	if (info->index != index) {
		vu_log(vu_client_log(c), VU_LOG_ERR, "IRQ info for index %u came back for %u",
		       index, info->index);
		return -EPROTO;
	}
	return 0;
}

static int set_irqs_one(struct vu_client *c, const struct vu_call_opts *o, uint32_t flags,
                        uint32_t index, uint32_t start, uint32_t count, const uint8_t *data,
                        const int *fds, size_t nr_fds)
{
	size_t dlen = data ? count : 0;
	struct vfio_user_irq_set set = {.argsz = (uint32_t)(sizeof(set) + dlen),
	                                .flags = flags,
	                                .index = index,
	                                .start = start,
	                                .count = count};
	struct iovec iov[2] = {{.iov_base = &set, .iov_len = sizeof(set)},
	                       {.iov_base = (void *)data, .iov_len = dlen}};

	return vu_callv(c, VFIO_USER_DEVICE_SET_IRQS, iov, dlen ? 2 : 1, fds, nr_fds, o, NULL);
}

/* Length of the run starting at fds[i]: de-assignments (< 0) go together
 * without fds, real fds in groups of at most max. */
static uint32_t fd_run(const int *fds, uint32_t i, uint32_t count, uint32_t max)
{
	uint32_t j = i;

	if (fds[i] < 0) {
		while (j < count && fds[j] < 0)
			j++;
	} else {
		while (j < count && fds[j] >= 0 && j - i < max)
			j++;
	}
	return j - i;
}

int vu_device_set_irqs(struct vu_client *c, const struct vu_call_opts *o, uint32_t flags,
                       uint32_t index, uint32_t start, uint32_t count, const uint8_t *data,
                       const int *fds)
{
	uint32_t max = vu_client_caps(c)->max_msg_fds;
	int err = 0;

	if ((flags & VFIO_IRQ_SET_DATA_BOOL) && count && !data)
		return -EINVAL;
	if (!(flags & VFIO_IRQ_SET_DATA_EVENTFD) || !count)
		return set_irqs_one(c, o, flags, index, start, count,
		                    (flags & VFIO_IRQ_SET_DATA_BOOL) ? data : NULL, NULL, 0);
	if (!fds)
		return -EINVAL;
	if (!max)
		max = 1;
	for (uint32_t i = 0; !err && i < count;) {
		uint32_t n = fd_run(fds, i, count, max);

		err = set_irqs_one(c, o, flags, index, start + i, n, NULL,
		                   fds[i] < 0 ? NULL : fds + i, fds[i] < 0 ? 0 : n);
		i += n;
	}
	return err;
}

static size_t xfer_chunk(struct vu_client *c)
{
	uint32_t max = vu_client_caps(c)->max_data_xfer_size;

	return max ? max : VU_DEFAULT_MAX_DATA_XFER_SIZE;
}

/* Register-sized reads and every write's acknowledgement come back into
 * the caller's stack, not into memory allocated per reply. */
#define SMALL_READ 256

/* o with the reply going to buf. */
static struct vu_call_opts opts_into(const struct vu_call_opts *o, void *buf, size_t room)
{
	struct vu_call_opts r = o ? *o : (struct vu_call_opts){0};

	r.reply_buf = buf;
	r.reply_room = room;
	return r;
}

int vu_region_read(struct vu_client *c, const struct vu_call_opts *o, uint32_t region,
                   uint64_t offset, void *buf, size_t count)
{
	size_t chunk = xfer_chunk(c), done = 0;
	struct {
		struct vfio_user_region_access ack;
		uint8_t data[SMALL_READ];
	} small;
	struct vu_call_opts oo = opts_into(o, &small, sizeof(small));

	while (done < count) {
		size_t n = count - done < chunk ? count - done : chunk;
		struct vfio_user_region_access req = {
		    .offset = offset + done, .region = region, .count = (uint32_t)n};
		const struct vfio_user_region_access *ack;
		struct vu_msg m;
		int err;

		err = vu_call(c, VFIO_USER_REGION_READ, &req, sizeof(req), NULL, 0, &oo, &m);
		if (err)
			return err;
		ack = m.payload;
		if (ack->count != n || m.len < sizeof(*ack) + n) {
			vu_msg_release(&m);
			return -EIO;
		}
		memcpy((char *)buf + done, ack->data, n);
		vu_msg_release(&m);
		done += n;
	}
	return 0;
}

/* One piece of a REGION_WRITE, answered with the count written. */
static int region_write_one(struct vu_client *c, const struct vu_call_opts *o,
                            const struct iovec *iov, size_t n)
{
	struct vu_msg m;
	uint32_t got;
	int err = vu_callv(c, VFIO_USER_REGION_WRITE, iov, 2, NULL, 0, o, &m);

	if (err)
		return err;
	got = ((struct vfio_user_region_access *)m.payload)->count;
	vu_msg_release(&m);
	return got == n ? 0 : -EIO;
}

/* REGION_WRITE in pieces of the transfer limit, each answered, or posted
 * (no reply asked) when post is set. */
static int region_write(struct vu_client *c, const struct vu_call_opts *o, bool post,
                        uint32_t region, uint64_t offset, const void *buf, size_t count)
{
	size_t chunk = xfer_chunk(c), done = 0;
	struct vfio_user_region_access small;
	struct vu_call_opts oo = opts_into(o, &small, sizeof(small));

	while (done < count) {
		size_t n = count - done < chunk ? count - done : chunk;
		struct vfio_user_region_access req = {
		    .offset = offset + done, .region = region, .count = (uint32_t)n};
		struct iovec iov[2] = {{.iov_base = &req, .iov_len = sizeof(req)},
		                       {.iov_base = (char *)buf + done, .iov_len = n}};
		int err = post ? vu_postv(c, VFIO_USER_REGION_WRITE, iov, 2)
		               : region_write_one(c, &oo, iov, n);

		if (err)
			return err;
		done += n;
	}
	return 0;
}

int vu_region_write(struct vu_client *c, const struct vu_call_opts *o, uint32_t region,
                    uint64_t offset, const void *buf, size_t count)
{
	return region_write(c, o, false, region, offset, buf, count);
}

int vu_region_post(struct vu_client *c, uint32_t region, uint64_t offset, const void *buf,
                   size_t count)
{
	return region_write(c, NULL, true, region, offset, buf, count);
}

static int write_multi_one(struct vu_client *c, const struct vu_call_opts *o,
                           const struct vfio_user_write_multi_entry *wrs, size_t n)
{
	struct vfio_user_write_multi hdr = {.wr_cnt = n};
	struct iovec iov[2] = {{.iov_base = &hdr, .iov_len = sizeof(hdr)},
	                       {.iov_base = (void *)wrs, .iov_len = n * sizeof(*wrs)}};
	struct vu_msg m;
	uint64_t done;
	int err;

	err = vu_callv(c, VFIO_USER_REGION_WRITE_MULTI, iov, 2, NULL, 0, o, &m);
	if (err)
		return err;
	memcpy(&done, m.payload, sizeof(done));
	vu_msg_release(&m);
	return done == n ? 0 : -EIO;
}

int vu_region_write_multi(struct vu_client *c, const struct vu_call_opts *o,
                          const struct vfio_user_write_multi_entry *wrs, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		if (!wrs[i].count || wrs[i].count > VFIO_USER_MULTI_DATA)
			return -EINVAL;
	}
	if (!vu_client_caps(c)->write_multiple) {
		for (size_t i = 0; !err && i < n; i++)
			err = vu_region_write(c, o, wrs[i].region, wrs[i].offset, wrs[i].data,
			                      wrs[i].count);
		return err;
	}
	for (size_t i = 0; !err && i < n; i += VFIO_USER_MULTI_MAX)
		err = write_multi_one(c, o, wrs + i,
		                      n - i < VFIO_USER_MULTI_MAX ? n - i : VFIO_USER_MULTI_MAX);
	return err;
}

int vu_dma_map(struct vu_client *c, const struct vu_call_opts *o, uint64_t iova, uint64_t size,
               uint32_t flags, int fd, uint64_t offset)
{
	struct vfio_user_dma_map req = {.argsz = sizeof(req),
	                                .flags = flags,
	                                .offset = fd >= 0 ? offset : 0,
	                                .addr = iova,
	                                .size = size};

	return vu_call(c, VFIO_USER_DMA_MAP, &req, sizeof(req), fd >= 0 ? &fd : NULL,
	               fd >= 0 ? 1 : 0, o, NULL);
}

int vu_dma_unmap(struct vu_client *c, const struct vu_call_opts *o, uint64_t iova, uint64_t size,
                 uint32_t flags)
{
	struct vfio_user_dma_unmap req = {
	    .argsz = sizeof(req), .flags = flags, .addr = iova, .size = size};

	return vu_call(c, VFIO_USER_DMA_UNMAP, &req, sizeof(req), NULL, 0, o, NULL);
}

int vu_device_reset(struct vu_client *c, const struct vu_call_opts *o)
{
	return vu_call(c, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0, o, NULL);
}

int vu_device_feature(struct vu_client *c, const struct vu_call_opts *o, void *buf, size_t len,
                      size_t *out_len)
{
	struct vu_msg m;
	int err;

	if (len < sizeof(struct vfio_user_device_feature))
		return -EINVAL;
	err = vu_call(c, VFIO_USER_DEVICE_FEATURE, buf, len, NULL, 0, o, &m);
	if (err)
		return err;
	if (m.len > len) {
		vu_log(vu_client_log(c), VU_LOG_ERR,
		       "DEVICE_FEATURE reply of %zu bytes, room for %zu", m.len, len);
		vu_msg_release(&m);
		return -EPROTO;
	}
	memcpy(buf, m.payload, m.len);
	*out_len = m.len;
	vu_msg_release(&m);
	return 0;
}
