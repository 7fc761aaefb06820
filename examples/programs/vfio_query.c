// SPDX-License-Identifier: MIT
/* Device, region and IRQ info queries, capability chains, region access. */
#include "vfio_query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Largest info struct we accept: bounds what a lying argsz makes us allocate. */
#define VQ_INFO_MAX (64 * 1024)

/*
 * Ask with the fixed size first; if the answer wants more (capabilities),
 * ask again with what it asked for. HEAD is the caller's request template
 * of MINSZ bytes (argsz filled in here).
 */
static int query(int dev, unsigned long cmd, const void *head, size_t minsz, void **out)
{
	uint32_t argsz = minsz, want;
	void *buf = NULL, *n;

	for (int round = 0; round < 2; round++) {
		n = realloc(buf, argsz);
		if (!n)
			goto fail_errno;
		buf = n;
		memset(buf, 0, argsz);
		memcpy(buf, head, minsz);
		memcpy(buf, &argsz, sizeof(argsz));
		if (ioctl(dev, cmd, buf) < 0)
			goto fail_errno;
		memcpy(&want, buf, sizeof(want));
		if (want <= argsz) {
			*out = buf;
			return 0;
		}
		if (want > VQ_INFO_MAX)
			break;
		argsz = want;
	}
	/* Too big, or asked twice and still short: not an answer to trust. */
	free(buf);
	return -EPROTO;
fail_errno:
	want = errno;
	free(buf);
	return -(int)want;
}

int vq_device_info(int dev, struct vfio_device_info **out)
{
	struct vfio_device_info head = {0};

	return query(dev, VFIO_DEVICE_GET_INFO, &head, sizeof(head), (void **)out);
}

int vq_region_info(int dev, uint32_t index, struct vfio_region_info **out)
{
	struct vfio_region_info head = {.index = index};

	return query(dev, VFIO_DEVICE_GET_REGION_INFO, &head, sizeof(head), (void **)out);
}

int vq_irq_info(int dev, uint32_t index, struct vfio_irq_info *out)
{
	*out = (struct vfio_irq_info){.argsz = sizeof(*out), .index = index};
	return ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, out) < 0 ? -errno : 0;
}

const struct vfio_info_cap_header *vq_cap_next(const void *info, size_t size, uint32_t first,
                                               const struct vfio_info_cap_header *prev, int *bad)
{
	uint32_t off = prev ? prev->next : first;
	uint32_t floor = prev ? (uint32_t)((const char *)prev - (const char *)info) + 1 : 1;

	if (!off)
		return NULL;
	if (off < floor || off % 4 || off > size || size - off < sizeof(*prev)) {
		*bad = 1;
		return NULL;
	}
	return (const void *)((const char *)info + off);
}

static int check_span(const struct vfio_region_info *r, uint64_t off, size_t len)
{
	return off > r->size || len > r->size - off ? -EINVAL : 0;
}

int vq_read(int dev, const struct vfio_region_info *r, uint64_t off, void *buf, size_t len)
{
	ssize_t n;

	if (check_span(r, off, len))
		return -EINVAL;
	n = pread(dev, buf, len, r->offset + off);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int vq_write(int dev, const struct vfio_region_info *r, uint64_t off, const void *buf, size_t len)
{
	ssize_t n;

	if (check_span(r, off, len))
		return -EINVAL;
	n = pwrite(dev, buf, len, r->offset + off);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}
