// SPDX-License-Identifier: MIT
/*
 * Region reads and writes at vfio-pci offsets (index << 40 | offset), checked
 * as vfio_pci_rw checks them: a bad index or a missing permission is EINVAL;
 * BAR-like regions start inside and are cut at their end (a short count, as
 * vfio_pci_bar_rw); PCI config space must hold the whole access, else EFAULT
 * (vfio_config_do_rw). The proto client splits at the server's transfer
 * size.
 *
 * Writes to a BAR are posted, as PCI memory writes are and as the kernel's
 * vfio-pci does them (an iowrite returns before the device has it): sent
 * with VFIO_USER_F_NO_REPLY, and write() returns once the message is on
 * the socket. The server handles requests in order, so any later request
 * (a read of a status register, an ioctl) is answered only after the write
 * was done; a program cannot mmap the regions of a CUSE node, so nothing
 * bypasses that order. The server's refusal of a posted write does not
 * come back (NO_REPLY), as a posted PCI write's does not; a failure to
 * send fails that write, and the lost connection every later request.
 * Config-space writes, and writes to other regions, wait for the reply:
 * they have taken effect when write() returns. So do all writes without
 * twin-socket mode: then the server's DMA requests share the main socket,
 * and a write that does not wait would cross them, which libvfio-user's
 * servers treat as fatal.
 */
#include <errno.h>
#include <string.h>

#include "vdev-internal.h"

static bool is_config(const struct vconn *conn, uint32_t index)
{
	return (conn->dev.flags & VFIO_DEVICE_FLAGS_PCI) && index == VFIO_PCI_CONFIG_REGION_INDEX;
}

static bool posted(const struct vconn *conn, uint32_t index)
{
	return (conn->dev.flags & VFIO_DEVICE_FLAGS_PCI) && index <= VFIO_PCI_BAR5_REGION_INDEX &&
	       conn->caps.twin_socket;
}

/* The count to transfer at pos, or -errno. */
static ssize_t region_span(struct vdev *d, struct vconn *conn, const struct vreq *vr,
                           uint32_t index, uint64_t pos, size_t len, bool write)
{
	const struct vregion *reg;
	uint32_t need = write ? VFIO_REGION_INFO_FLAG_WRITE : VFIO_REGION_INFO_FLAG_READ;
	uint64_t size;
	int ret = vdev_info_region(d, conn, vr, index, &reg);

	if (ret < 0)
		return vdev_errno(d, ret);
	size = reg->info.size;
	if (reg->err || !(reg->info.flags & need)) {
		vdev_log(d, VU_LOG_DEBUG, "%s of region %u: not permitted",
		         write ? "write" : "read", index);
		return -EINVAL;
	}
	if (is_config(conn, index)) {
		if (pos >= size || len > size - pos)
			return -EFAULT;
		return len;
	}
	if (pos >= size) {
		vdev_log(d, VU_LOG_DEBUG, "%s at 0x%llx of region %u (size 0x%llx): out of range",
		         write ? "write" : "read", (unsigned long long)pos, index,
		         (unsigned long long)size);
		return -EINVAL;
	}
	return len < size - pos ? len : size - pos;
}

ssize_t vdev_region_rw(struct vdev *d, struct vconn *conn, const struct vreq *vr, uint64_t off,
                       void *buf, size_t len, bool write)
{
	struct vu_call_opts o = vdev_call_opts(d, vr);
	uint64_t index = off >> VDEV_OFFSET_SHIFT, pos = off & VDEV_OFFSET_MASK;
	ssize_t n;
	int ret;

	if (index >= conn->dev.num_regions) {
		vdev_log(d, VU_LOG_DEBUG, "%s at 0x%llx: no region %llu", write ? "write" : "read",
		         (unsigned long long)off, (unsigned long long)index);
		return -EINVAL;
	}
	if (!len)
		return 0;
	n = region_span(d, conn, vr, index, pos, len, write);
	if (n <= 0)
		return n;
	if (write && posted(conn, index))
		ret = vu_region_post(conn->c, index, pos, buf, n);
	else if (write)
		ret = vu_region_write(conn->c, &o, index, pos, buf, n);
	else
		ret = vu_region_read(conn->c, &o, index, pos, buf, n);
	return ret < 0 ? vdev_errno(d, ret) : n;
}
