/* SPDX-License-Identifier: MIT */
/*
 * vfio-user-info: the parts of the report, one file each. Every printer
 * returns 0, or -errno after printing what went wrong, and carries on where
 * it can: a partial report is what helps with a misbehaving server.
 */
#ifndef VFIO_USER_TOOLS_INFO_H
#define VFIO_USER_TOOLS_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/vfio.h>

#include "proto/client.h"

/* What the region report learnt that the config report needs. */
struct info_regions {
	uint64_t size[VFIO_PCI_NUM_REGIONS]; /* 0 for an absent or failed region */
};

/* info-device.c: negotiated caps, device info, regions, IRQs. */
void info_print_caps(FILE *f, struct vu_client *c);
int info_print_device(FILE *f, struct vu_client *c, const struct vu_call_opts *o,
                      struct vfio_user_device_info *dev);
int info_print_regions(FILE *f, struct vu_client *c, const struct vu_call_opts *o,
                       uint32_t num_regions, struct info_regions *r);
int info_print_irqs(FILE *f, struct vu_client *c, const struct vu_call_opts *o, uint32_t num_irqs);

/* info-pci.c: config space decoded with its capability lists, and as hex
 * when hex is set. */
int info_print_config(FILE *f, struct vu_client *c, const struct vu_call_opts *o,
                      const struct info_regions *r, bool hex);

#endif
