/* SPDX-License-Identifier: MIT */
/*
 * Message validation: the one place that decides whether bytes received from
 * a peer form a well-formed vfio-user message. Everything that reads a
 * payload field does so after these checks passed, so no field is read out
 * of bounds and no count or offset is trusted unchecked.
 */
#ifndef VFIO_USER_PROTO_MSG_H
#define VFIO_USER_PROTO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caps.h"
#include "vfio-user.h"

/* The largest message we accept: a data transfer of the largest size we allow
 * plus its fixed part. Anything bigger is a protocol error. */
#define VU_MSG_MAX_SIZE (sizeof(struct vfio_user_header) + 64 + VU_MAX_XFER_SIZE_LIMIT)

/* The largest region info (with its capability chain) either side builds or
 * believes: a client asks again for at most this argsz, a server answers at
 * most this much. */
#define VU_REGION_INFO_MAX 65536u

/*
 * One received message, a request or a reply (a call's reply is one):
 * payload (len bytes) and fds belong to it until vu_msg_release.
 */
struct vu_msg {
	struct vfio_user_header hdr;
	void *payload;
	size_t len;
	int *fds;
	size_t nr_fds;
	/* payload lies in a buffer of someone else's (a receiver's struct
	 * vu_rx, a call's reply_buf): not freed */
	bool borrowed;
};

/* Free the payload and close the fds of m (safe on NULL and on a zeroed
 * struct); m is left empty. */
void vu_msg_release(struct vu_msg *m);

/* The command's name, e.g. "DEVICE_GET_REGION_INFO", or "unknown". */
const char *vu_command_name(uint16_t cmd);

/*
 * Check a header alone: known type bits, msg_size within [16, VU_MSG_MAX_SIZE].
 * Returns 0 or -EPROTO with why filled in.
 */
int vu_header_check(const struct vfio_user_header *hdr, char *why, size_t whylen);

/*
 * Check a whole message: the header, then the payload (len = msg_size - 16
 * bytes) against its command and direction (command or reply, from the
 * flags): fixed size, argsz, counts vs size, data lengths vs count,
 * capability chains, and nr_fds against what the command may carry.
 * A request may carry bytes past its fixed part unless a count says how
 * many follow (they are ignored, as libvfio-user's server does). An error
 * reply may carry a payload, which means nothing (libvfio-user sends one),
 * but no fds. max_xfer bounds data transfers (0 = no bound beyond
 * VU_MSG_MAX_SIZE). Returns 0, or -EPROTO with why filled in.
 */
int vu_msg_check(const struct vfio_user_header *hdr, const void *payload, size_t len, size_t nr_fds,
                 uint32_t max_xfer, char *why, size_t whylen);

/*
 * Check a capability chain in a buffer of len bytes whose first capability is
 * at offset first (0 = none), and which must not start inside the first
 * fixed bytes: every header in range and aligned to 4, next offsets strictly
 * increasing (so no loops), each capability's body inside the buffer, and
 * known capabilities (sparse mmap, type, ...) the size their counts say.
 * Returns 0, or -EPROTO with why filled in.
 */
int vu_cap_chain_check(const void *buf, size_t len, uint32_t first, size_t fixed, char *why,
                       size_t whylen);

#endif
