/* SPDX-License-Identifier: MIT */
/*
 * Version negotiation: the capabilities each side announces in the JSON of
 * VFIO_USER_VERSION, with the specification's defaults for absent keys.
 */
#ifndef VFIO_USER_PROTO_CAPS_H
#define VFIO_USER_PROTO_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The specification's defaults when a key is absent. */
#define VU_DEFAULT_MAX_MSG_FDS        1u
#define VU_DEFAULT_MAX_DATA_XFER_SIZE (1u << 20)
#define VU_DEFAULT_PGSIZES            4096ull
#define VU_DEFAULT_MAX_DMA_MAPS       65535u
#define VU_DEFAULT_MIG_BITMAP_SIZE    (256ull << 20)

/* Upper bounds we accept from a peer, so a hostile value cannot make us
 * allocate without limit. */
#define VU_MAX_MSG_FDS_LIMIT   1024u
#define VU_MAX_XFER_SIZE_LIMIT (64u << 20)

struct vu_caps {
	uint16_t major;
	uint16_t minor;
	uint32_t max_msg_fds;
	uint32_t max_data_xfer_size;
	uint64_t pgsizes;
	uint32_t max_dma_maps;
	bool write_multiple;
	bool twin_socket;       /* "twin_socket": {"supported": true, ...} */
	uint32_t twin_fd_index; /* index of the twin socket among the message's fds */
	bool migration;
	uint64_t mig_pgsize;
	uint64_t mig_max_bitmap_size;
};

/* Fill *caps with the specification's defaults (major/minor = ours). */
void vu_caps_default(struct vu_caps *caps);

/*
 * Encode caps as the JSON text of a VERSION message (NUL-terminated, malloc'd
 * into *json). Returns 0 or -errno.
 */
int vu_caps_encode(const struct vu_caps *caps, char **json);

/*
 * Parse the JSON text of a peer's VERSION message of len bytes (may or may not
 * include a trailing NUL; whitespace tolerated; unknown keys ignored; a known
 * key of the wrong type or out of range is an error). Absent keys get the
 * defaults; empty text means all defaults. major/minor are set to ours: the
 * caller puts the message's there (or uses vu_caps_from_version). On error
 * returns -EINVAL and writes a one-line reason into why; *caps is untouched.
 */
int vu_caps_parse(const char *json, size_t len, struct vu_caps *caps, char *why, size_t whylen);

/*
 * Parse a whole VERSION payload of len bytes (struct vfio_user_version then
 * the optional JSON): major/minor from the message, the rest as
 * vu_caps_parse. Returns 0, or -EINVAL with why filled in.
 */
int vu_caps_from_version(const void *payload, size_t len, struct vu_caps *caps, char *why,
                         size_t whylen);

/*
 * The client's side of negotiation: given what we proposed and what the
 * server replied (major/minor from the message, caps parsed), check the rules
 * (same major, minor <= ours, capabilities a subset) and compute the caps in
 * force. Returns 0 or -EINVAL / -EPROTO with why filled in.
 *
 * In force for the client afterwards:
 *   max_msg_fds         the server's: the most fds we may send it at once
 *   max_data_xfer_size  the smaller of both: the largest count either way
 *   pgsizes, max_dma_maps  the server's: limits on the maps we make there
 *   write_multiple      only if both set it
 *   migration           only if both offer it; the smaller pgsize and bitmap
 *   twin_socket         the server's answer (-EPROTO if we did not offer it),
 *                       twin_fd_index the server's
 */
int vu_caps_agree(const struct vu_caps *ours, const struct vu_caps *theirs, struct vu_caps *out,
                  char *why, size_t whylen);

#endif
