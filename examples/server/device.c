// SPDX-License-Identifier: MIT
/*
 * The example device as a whole: its life cycle, reset, what a departing
 * client leaves behind, and the vu_server_ops table. Every callback a
 * program's actions cause first sleeps --reply-delay-ms, so clients can test
 * their timeouts against it. The device, region and IRQ info queries answer
 * at once: a client asks them all when it connects (vfio-user-cuse caches
 * them), and delaying them would make connecting take a dozen delays, or
 * fail outright for a client whose timeout is shorter than the delay.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/vfio.h>

#include "device.h"

int exdev_init(struct exdev *d, const struct exdev_opts *opts)
{
	int err;

	memset(d, 0, sizeof(*d));
	d->bar2_fd = -1;
	d->bar2_mmap = opts->bar2_mmap;
	d->reply_delay_ms = opts->reply_delay_ms;
	d->log = opts->log;
	exdev_config_init(d);
	exdev_bar0_reset(d);
	exdev_dma_init(&d->dma, opts->max_dma_maps);
	err = exdev_irqs_init(&d->irqs, opts->log);
	if (err)
		return err;
	err = exdev_bar2_init(d);
	if (err)
		exdev_irqs_fini(&d->irqs);
	return err;
}

void exdev_fini(struct exdev *d)
{
	exdev_dma_unmap_all(d);
	free(d->dma.maps);
	exdev_irqs_fini(&d->irqs);
	exdev_bar2_fini(d);
}

static void delay(const struct exdev *d)
{
	struct timespec ts = {
	    .tv_sec = d->reply_delay_ms / 1000,
	    .tv_nsec = (long)(d->reply_delay_ms % 1000) * 1000000,
	};

	/* A signal cuts the sleep short, so SIGTERM is not held up. */
	if (d->reply_delay_ms)
		nanosleep(&ts, NULL);
}

static int device_info(void *dev, struct vfio_user_device_info *info)
{
	info->argsz = sizeof(*info);
	info->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info->num_regions = VFIO_PCI_NUM_REGIONS;
	info->num_irqs = VFIO_PCI_NUM_IRQS;
	return 0;
}

static int set_irqs(void *dev, const struct vfio_user_irq_set *set, const uint8_t *data, int *fds,
                    size_t nr_fds)
{
	delay(dev);
	return exdev_set_irqs(dev, set, data, fds, nr_fds);
}

static int region_read(void *dev, uint32_t region, uint64_t offset, void *buf, uint32_t count)
{
	delay(dev);
	return exdev_region_read(dev, region, offset, buf, count);
}

static int region_write(void *dev, uint32_t region, uint64_t offset, const void *buf,
                        uint32_t count)
{
	delay(dev);
	return exdev_region_write(dev, region, offset, buf, count);
}

static int dma_map(void *dev, const struct vfio_user_dma_map *map, int fd)
{
	delay(dev);
	return exdev_dma_map(dev, map, fd);
}

static int dma_unmap(void *dev, const struct vfio_user_dma_unmap *unmap)
{
	delay(dev);
	return exdev_dma_unmap(dev, unmap);
}

/* Registers, config space and interrupt setup return to power-on state.
 * DMA mappings belong to the client's IOMMU, not the device: they stay, and
 * so do the ERR and REQ eventfds, which report on the device rather than
 * being part of it. */
static int reset(void *dev)
{
	struct exdev *d = dev;

	delay(d);
	exdev_bar0_reset(d);
	exdev_config_init(d);
	exdev_irqs_reset(&d->irqs, false);
	vu_log(d->log, VU_LOG_INFO, "device reset");
	return 0;
}

/* The spec: drop the client's memory and fds, keep the device state. */
static void client_gone(void *dev)
{
	struct exdev *d = dev;

	exdev_dma_unmap_all(d);
	exdev_irqs_reset(&d->irqs, true);
	vu_log(d->log, VU_LOG_INFO, "client gone: DMA unmapped, eventfds closed");
}

const struct vu_server_ops exdev_ops = {
    .device_info = device_info,
    .region_info = exdev_region_info,
    .irq_info = exdev_irq_info,
    .set_irqs = set_irqs,
    .region_read = region_read,
    .region_write = region_write,
    .dma_map = dma_map,
    .dma_unmap = dma_unmap,
    .reset = reset,
    .client_gone = client_gone,
};
