/* SPDX-License-Identifier: MIT */
/*
 * How fuzz_proto reads its input, shared with the seed writer:
 *   byte 0      bit 0: msg_size taken from the input as is (else made to
 *               match the payload); bits 1-7: nr_fds
 *   bytes 1-4   max_xfer
 *   bytes 5-20  struct vfio_user_header
 *   the rest    the payload
 */
#ifndef VFIO_USER_FUZZ_INPUT_H
#define VFIO_USER_FUZZ_INPUT_H

#define FUZZ_RAW_SIZE 0x1u
#define FUZZ_PREFIX   5u

#endif
