// SPDX-License-Identifier: MIT
/*
 * The info cache: device, region and IRQ info asked of the server once per
 * connection and kept in the form a VFIO program gets it, so the info
 * ioctls cost no round trip.
 *
 * Regions are shown as vfio-pci shows them, minus what CUSE cannot do: the
 * MMAP flag is cleared and the capabilities that only describe mmap (sparse
 * mmap areas, MSI-X mappable) are dropped; the others are kept, re-chained.
 * The offset is index << 40, where vdev_read/vdev_write expect it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vdev-internal.h"

#define CAP_ALIGN 8u

static bool cap_kept(uint16_t id)
{
	return id != VFIO_REGION_INFO_CAP_SPARSE_MMAP && id != VFIO_REGION_INFO_CAP_MSIX_MAPPABLE;
}

/*
 * Copy the kept capabilities of the server's chain (validated by the client:
 * in range, strictly increasing offsets) into r->caps, each 8-byte aligned,
 * "next" offsets counted from the start of struct vfio_region_info.
 */
static int caps_rechain(const struct vfio_user_region_info *si, size_t len, struct vregion *r)
{
	const uint8_t *base = (const uint8_t *)si;
	uint32_t off = (si->flags & VFIO_REGION_INFO_FLAG_CAPS) ? si->cap_offset : 0;
	uint8_t *out = NULL;
	size_t used = 0, prev = SIZE_MAX;

	while (off) {
		const struct vfio_user_cap_header *h = (const void *)(base + off);
		size_t size = (h->next ? h->next : len) - off;
		size_t room = (size + CAP_ALIGN - 1) & ~(size_t)(CAP_ALIGN - 1);
		struct vfio_info_cap_header *copy;
		uint8_t *n;

		off = h->next;
		if (!cap_kept(h->id))
			continue;
		n = realloc(out, used + room);
		if (!n) {
			free(out);
			return -ENOMEM;
		}
		out = n;
		memset(out + used, 0, room);
		memcpy(out + used, h, size);
		copy = (struct vfio_info_cap_header *)(out + used);
		copy->next = 0;
		if (prev != SIZE_MAX)
			((struct vfio_info_cap_header *)(out + prev))->next =
			    sizeof(struct vfio_region_info) + used;
		prev = used;
		used += room;
	}
	r->caps = out;
	r->caps_len = used;
	return 0;
}

static int region_fetch(struct vdev *d, struct vconn *c, uint32_t index)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};
	struct vregion *r = &c->regions[index];
	struct vfio_user_region_info *si = NULL;
	size_t len = 0;
	int fd = -1, ret;

	ret = vu_device_get_region_info(c->c, &o, index, &si, &len, &fd);
	if (fd >= 0)
		close(fd); /* CUSE cannot mmap: the region fd is of no use */
	if (ret == -ENOTCONN || ret == -ETIMEDOUT || ret == -EPROTO || ret == -ENOMEM) {
		vdev_log(d, VU_LOG_ERR, "region %u info: %s", index, strerror(-ret));
		return ret;
	}
	if (ret < 0) {
		vdev_log(d, VU_LOG_INFO, "region %u info refused by the server: %s", index,
		         strerror(-ret));
		r->err = ret;
		return 0;
	}
	r->info = (struct vfio_region_info){
	    .flags = si->flags & ~(VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS),
	    .index = index,
	    .size = si->size,
	    .offset = (uint64_t)index << VDEV_OFFSET_SHIFT,
	};
	ret = caps_rechain(si, len, r);
	free(si);
	if (ret == 0 && r->caps_len)
		r->info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
	return ret;
}

static int irq_fetch(struct vdev *d, struct vconn *c, uint32_t index)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};
	struct vfio_user_irq_info si;
	struct virq *q = &c->irqs[index];
	int ret = vu_device_get_irq_info(c->c, &o, index, &si);

	if (ret == -ENOTCONN || ret == -ETIMEDOUT || ret == -EPROTO) {
		vdev_log(d, VU_LOG_ERR, "IRQ %u info: %s", index, strerror(-ret));
		return ret;
	}
	if (ret < 0) {
		vdev_log(d, VU_LOG_INFO, "IRQ %u info refused by the server: %s", index,
		         strerror(-ret));
		q->err = ret;
		return 0;
	}
	if (si.count > VDEV_MAX_IRQ_COUNT) {
		vdev_log(d, VU_LOG_WARN, "IRQ %u: the server claims %u vectors; %u are offered",
		         index, si.count, VDEV_MAX_IRQ_COUNT);
		si.count = VDEV_MAX_IRQ_COUNT;
	}
	q->info = (struct vfio_irq_info){.flags = si.flags, .index = index, .count = si.count};
	return 0;
}

int info_cache_fill(struct vdev *d, struct vconn *c)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};
	struct vfio_user_device_info di;
	int ret = vu_device_get_info(c->c, &o, &di);

	if (ret < 0) {
		vdev_log(d, VU_LOG_ERR, "device info: %s", strerror(-ret));
		return ret;
	}
	if (di.num_regions > VDEV_MAX_REGIONS || di.num_irqs > VDEV_MAX_IRQS) {
		vdev_log(d, VU_LOG_ERR,
		         "server claims %u regions and %u IRQ indexes (at most %u, %u)",
		         di.num_regions, di.num_irqs, VDEV_MAX_REGIONS, VDEV_MAX_IRQS);
		return -EPROTO;
	}
	c->dev = (struct vfio_device_info){.flags = di.flags & ~VFIO_DEVICE_FLAGS_CAPS,
	                                   .num_regions = di.num_regions,
	                                   .num_irqs = di.num_irqs};
	c->regions = calloc(di.num_regions ? di.num_regions : 1, sizeof(*c->regions));
	c->irqs = calloc(di.num_irqs ? di.num_irqs : 1, sizeof(*c->irqs));
	if (!c->regions || !c->irqs)
		return -ENOMEM;
	for (uint32_t i = 0; i < di.num_regions && ret == 0; i++)
		ret = region_fetch(d, c, i);
	for (uint32_t i = 0; i < di.num_irqs && ret == 0; i++)
		ret = irq_fetch(d, c, i);
	return ret;
}

void info_cache_free(struct vconn *c)
{
	for (uint32_t i = 0; c->regions && i < c->dev.num_regions; i++)
		free(c->regions[i].caps);
	free(c->regions);
	free(c->irqs);
	c->regions = NULL;
	c->irqs = NULL;
}
