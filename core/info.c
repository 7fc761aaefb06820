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
 *
 * What the server refuses is kept as its answer for the connection's life;
 * what fails on this side (a timeout, a cancelled call, no memory, no free
 * message id: the client tells which is which) is not cached, and asked
 * again when a program needs it.
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
 * in range, strictly increasing offsets) into reg->caps, each 8-byte aligned,
 * "next" offsets counted from the start of struct vfio_region_info.
 */
static int caps_rechain(const struct vfio_user_region_info *si, size_t len, struct vregion *reg)
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
	reg->caps = out;
	reg->caps_len = used;
	return 0;
}

/* A failure of this side (or a malformed answer): logged, nothing kept. */
static void fetch_failed(struct vdev *d, const char *what, uint32_t index, int err)
{
	vdev_log(d, err == -EINTR ? VU_LOG_DEBUG : VU_LOG_WARN,
	         "%s %u info: %s (asked again when needed)", what, index, strerror(-err));
}

/*
 * Ask the server for region index into *reg, not yet visible to anyone.
 * Returns 0 when *reg holds the server's answer (its refusal in reg->err), or
 * this side's -errno. The client says which errors are the server's.
 */
static int region_fetch(struct vdev *d, struct vconn *conn, const struct vu_call_opts *base,
                        uint32_t index, struct vregion *reg)
{
	bool refused = false;
	struct vu_call_opts o = *base;
	struct vfio_user_region_info *si = NULL;
	size_t len = 0;
	int fd = -1, ret;

	o.refused = &refused;
	ret = vu_device_get_region_info(conn->c, &o, index, &si, &len, &fd);
	if (fd >= 0)
		close(fd); /* CUSE cannot mmap: the region fd is of no use */
	if (ret < 0 && refused) {
		vdev_log(d, VU_LOG_INFO, "region %u info refused by the server: %s", index,
		         strerror(-ret));
		reg->err = ret;
		return 0;
	}
	if (ret < 0) {
		fetch_failed(d, "region", index, ret);
		return ret;
	}
	reg->info = (struct vfio_region_info){
	    .flags = si->flags & ~(VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS),
	    .index = index,
	    .size = si->size,
	    .offset = (uint64_t)index << VDEV_OFFSET_SHIFT,
	};
	ret = caps_rechain(si, len, reg);
	free(si);
	if (ret < 0) {
		fetch_failed(d, "region", index, ret);
		return ret;
	}
	if (reg->caps_len)
		reg->info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
	return 0;
}

static int irq_fetch(struct vdev *d, struct vconn *conn, const struct vu_call_opts *base,
                     uint32_t index, struct virq *q)
{
	bool refused = false;
	struct vu_call_opts o = *base;
	struct vfio_user_irq_info si;
	int ret;

	o.refused = &refused;
	ret = vu_device_get_irq_info(conn->c, &o, index, &si);
	if (ret < 0 && refused) {
		vdev_log(d, VU_LOG_INFO, "IRQ %u info refused by the server: %s", index,
		         strerror(-ret));
		q->err = ret;
		return 0;
	}
	if (ret < 0) {
		fetch_failed(d, "IRQ", index, ret);
		return ret;
	}
	if (si.count > VDEV_MAX_IRQ_COUNT) {
		vdev_log(d, VU_LOG_WARN, "IRQ %u: the server claims %u vectors; %u are offered",
		         index, si.count, VDEV_MAX_IRQ_COUNT);
		si.count = VDEV_MAX_IRQ_COUNT;
	}
	q->info = (struct vfio_irq_info){.flags = si.flags, .index = index, .count = si.count};
	return 0;
}

/* Cache a fetched answer unless another thread got there first. */
static void region_publish(struct vdev *d, struct vconn *conn, uint32_t index, struct vregion *reg)
{
	struct vregion *slot = &conn->regions[index];

	pthread_mutex_lock(&d->lock);
	if (!slot->cached) {
		*slot = *reg;
		slot->cached = true;
		reg->caps = NULL;
	}
	pthread_mutex_unlock(&d->lock);
	free(reg->caps);
}

static void irq_publish(struct vdev *d, struct vconn *conn, uint32_t index, const struct virq *q)
{
	pthread_mutex_lock(&d->lock);
	if (!conn->irqs[index].cached) {
		conn->irqs[index] = *q;
		conn->irqs[index].cached = true;
	}
	pthread_mutex_unlock(&d->lock);
}

static bool region_cached(struct vdev *d, struct vconn *conn, uint32_t index)
{
	bool cached;

	pthread_mutex_lock(&d->lock);
	cached = conn->regions[index].cached;
	pthread_mutex_unlock(&d->lock);
	return cached;
}

static bool irq_cached(struct vdev *d, struct vconn *conn, uint32_t index)
{
	bool cached;

	pthread_mutex_lock(&d->lock);
	cached = conn->irqs[index].cached;
	pthread_mutex_unlock(&d->lock);
	return cached;
}

int vdev_info_region(struct vdev *d, struct vconn *conn, const struct vreq *vr, uint32_t index,
                     const struct vregion **out)
{
	if (!region_cached(d, conn, index)) {
		struct vu_call_opts o = vdev_call_opts(d, vr);
		struct vregion fresh = {0};
		int ret = region_fetch(d, conn, &o, index, &fresh);

		if (ret < 0)
			return ret;
		region_publish(d, conn, index, &fresh);
	}
	*out = &conn->regions[index];
	return 0;
}

int vdev_info_irq(struct vdev *d, struct vconn *conn, const struct vreq *vr, uint32_t index,
                  const struct virq **out)
{
	if (!irq_cached(d, conn, index)) {
		struct vu_call_opts o = vdev_call_opts(d, vr);
		struct virq fresh = {0};
		int ret = irq_fetch(d, conn, &o, index, &fresh);

		if (ret < 0)
			return ret;
		irq_publish(d, conn, index, &fresh);
	}
	*out = &conn->irqs[index];
	return 0;
}

/* At connect only a lost connection or a broken server fails the whole:
 * whatever else could not be asked now is asked when a program needs it. */
static bool fatal(int err)
{
	return err == -ENOTCONN || err == -EPROTO;
}

int vdev_info_cache_fill(struct vdev *d, struct vconn *conn)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};
	struct vfio_user_device_info di;
	int ret = vu_device_get_info(conn->c, &o, &di);

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
	conn->dev = (struct vfio_device_info){.flags = di.flags & ~VFIO_DEVICE_FLAGS_CAPS,
	                                      .num_regions = di.num_regions,
	                                      .num_irqs = di.num_irqs};
	conn->regions = calloc(di.num_regions ? di.num_regions : 1, sizeof(*conn->regions));
	conn->irqs = calloc(di.num_irqs ? di.num_irqs : 1, sizeof(*conn->irqs));
	if (!conn->regions || !conn->irqs)
		return -ENOMEM;
	for (uint32_t i = 0; i < di.num_regions; i++) {
		struct vregion fresh = {0};

		ret = region_fetch(d, conn, &o, i, &fresh);
		if (ret == 0)
			region_publish(d, conn, i, &fresh);
		else if (fatal(ret))
			return ret;
	}
	for (uint32_t i = 0; i < di.num_irqs; i++) {
		struct virq fresh = {0};

		ret = irq_fetch(d, conn, &o, i, &fresh);
		if (ret == 0)
			irq_publish(d, conn, i, &fresh);
		else if (fatal(ret))
			return ret;
	}
	return 0;
}

void vdev_info_cache_free(struct vconn *conn)
{
	for (uint32_t i = 0; conn->regions && i < conn->dev.num_regions; i++)
		free(conn->regions[i].caps);
	free(conn->regions);
	free(conn->irqs);
	conn->regions = NULL;
	conn->irqs = NULL;
}
