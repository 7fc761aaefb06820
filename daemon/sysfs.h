/* SPDX-License-Identifier: MIT */
/*
 * The sysfs-like tree: DIR/devices/NAME per device, what programs that take
 * a PCI device's sysfs path read there. QEMU's -device vfio-pci,sysfsdev=
 * follows iommu_group (only the link target's basename counts: the group
 * number) and, for the cdev, vfio-dev/vfioN/dev; lspci-like tools read
 * vendor, device, class. The daemon makes it at start and removes it at
 * exit.
 */
#ifndef VFIO_USER_CUSE_SYSFS_H
#define VFIO_USER_CUSE_SYSFS_H

#include <stdbool.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/log.h"

/* The device's entry: its group's number if has_group, its cdev's number
 * if not 0, cfg the first 64 bytes of its config space or NULL for a device
 * that is not PCI. 0 or -errno, logged. */
int sysfs_add(const char *top, const char *name, bool has_group, unsigned int group, dev_t cdev,
              const uint8_t *cfg, const struct vu_log *log);
void sysfs_remove(const char *top, const char *name, unsigned int group);

#endif
