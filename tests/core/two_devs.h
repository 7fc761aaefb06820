/* SPDX-License-Identifier: MIT */
/*
 * Two devices, each on its own recording vfio-user server in a thread
 * (tests/support/tdev.c), and a fake process (fake_host.c) with room for ioctl
 * arguments and four pages of DMA memory: the fixture of the tests of the
 * models that hold several devices (iommufd, container and groups).
 */
#ifndef VFIO_USER_TESTS_TWO_DEVS_H
#define VFIO_USER_TESTS_TWO_DEVS_H

#include <stddef.h>
#include <stdint.h>

#include "core/vdev.h"
#include "fake_host.h"
#include "tdev.h"

#define TWO_DEVS_PID   1000
#define TWO_DEVS_PAGE  4096u
#define TWO_DEVS_ARENA (64u << 10)

struct two_devs {
	struct tdev t[2];
	struct fake_host h;
	struct vu_log log;
	struct vdev *d[2]; /* named "a" and "b" */
	struct vreq r;     /* the fake process's requests */
	uint8_t *arena;    /* its memory for ioctl arguments */
	size_t used;
	uint8_t *dma; /* 4 pages it maps read-write */
};

/* Start both; hook (may be NULL) completes each device's config. */
void two_devs_start(struct two_devs *w, void (*hook)(struct vdev_config *cfg, void *arg),
                    void *arg);
void two_devs_stop(struct two_devs *w);

/* Zeroed room in the fake process's memory. */
void *two_devs_arg(struct two_devs *w, size_t len);

#endif
