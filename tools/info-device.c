// SPDX-License-Identifier: MIT
/*
 * The protocol-level part of the report: negotiated capabilities, device
 * info, each region with its capability chain decoded, and each IRQ index.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "info.h"

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

void info_print_caps(FILE *f, struct vu_client *c)
{
	const struct vu_caps *k = vu_client_caps(c);

	fprintf(f, "protocol: %u.%u\n", k->major, k->minor);
	fprintf(f, "capabilities:\n");
	fprintf(f, "  max_msg_fds:        %u\n", k->max_msg_fds);
	fprintf(f, "  max_data_xfer_size: %u\n", k->max_data_xfer_size);
	fprintf(f, "  pgsizes:            0x%llx\n", (unsigned long long)k->pgsizes);
	fprintf(f, "  max_dma_maps:       %u\n", k->max_dma_maps);
	fprintf(f, "  write_multiple:     %s\n", yesno(k->write_multiple));
	fprintf(f, "  twin_socket:        %s\n", yesno(k->twin_socket));
	if (k->migration)
		fprintf(f, "  migration:          yes (pgsize 0x%llx, max_bitmap_size 0x%llx)\n",
		        (unsigned long long)k->mig_pgsize,
		        (unsigned long long)k->mig_max_bitmap_size);
	else
		fprintf(f, "  migration:          no\n");
	fprintf(f, "  fd passing:         %s\n", yesno(vu_client_can_pass_fds(c)));
}

static void print_flags(FILE *f, uint32_t flags, const char *const *names, int n)
{
	const char *sep = "";
	int i;

	fprintf(f, "0x%x (", flags);
	for (i = 0; i < n; i++) {
		if (flags & (1u << i)) {
			fprintf(f, "%s%s", sep, names[i]);
			sep = " ";
		}
	}
	if (flags >> n)
		fprintf(f, "%sunknown 0x%x", sep, flags & ~((1u << n) - 1));
	fprintf(f, ")");
}

int info_print_device(FILE *f, struct vu_client *c, const struct vu_call_opts *o,
                      struct vfio_user_device_info *dev)
{
	static const char *const names[] = {"RESET", "PCI", "PLATFORM", "AMBA",
	                                    "CCW",   "AP",  "FSL_MC",   "CAPS"};
	int err = vu_device_get_info(c, o, dev);

	if (err) {
		fprintf(f, "device: DEVICE_GET_INFO failed: %s\n", strerror(-err));
		return err;
	}
	fprintf(f, "device: flags ");
	print_flags(f, dev->flags, names, 8);
	fprintf(f, ", %u regions, %u IRQ indexes\n", dev->num_regions, dev->num_irqs);
	return 0;
}

static const char *region_name(uint32_t i, char *buf, size_t len)
{
	static const char *const pci[] = {"BAR0", "BAR1", "BAR2",   "BAR3", "BAR4",
	                                  "BAR5", "ROM",  "CONFIG", "VGA"};

	if (i < VFIO_PCI_NUM_REGIONS)
		return pci[i];
	snprintf(buf, len, "region %u", i);
	return buf;
}

/* The chain was validated by the client (vu_cap_chain_check): offsets are in
 * range, increasing, and each known capability is as long as it claims. The
 * fields are copied out: the buffer promises no alignment. */
static void print_sparse(FILE *f, const uint8_t *cap)
{
	const uint8_t *p = cap + sizeof(struct vfio_region_info_cap_sparse_mmap);
	struct vfio_region_sparse_mmap_area a;
	uint32_t i, nr;

	memcpy(&nr, cap + sizeof(struct vfio_info_cap_header), sizeof(nr));
	fprintf(f, "      sparse mmap: %u area%s\n", nr, nr == 1 ? "" : "s");
	for (i = 0; i < nr; i++, p += sizeof(a)) {
		memcpy(&a, p, sizeof(a));
		fprintf(f, "        [0x%llx, 0x%llx) size 0x%llx\n", (unsigned long long)a.offset,
		        (unsigned long long)(a.offset + a.size), (unsigned long long)a.size);
	}
}

static void print_region_caps(FILE *f, const struct vfio_user_region_info *ri)
{
	uint32_t off = ri->cap_offset;

	while (off) {
		const uint8_t *cap = (const uint8_t *)ri + off;
		struct vfio_info_cap_header h;
		uint32_t type[2];

		memcpy(&h, cap, sizeof(h));
		switch (h.id) {
		case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
			print_sparse(f, cap);
			break;
		case VFIO_REGION_INFO_CAP_TYPE:
			memcpy(type, cap + sizeof(h), sizeof(type));
			fprintf(f, "      type: type 0x%x subtype 0x%x\n", type[0], type[1]);
			break;
		case VFIO_REGION_INFO_CAP_MSIX_MAPPABLE:
			fprintf(f, "      MSI-X table mappable\n");
			break;
		default:
			fprintf(f, "      capability id %u version %u (not decoded)\n", h.id,
			        h.version);
			break;
		}
		off = h.next;
	}
}

static int print_region(FILE *f, struct vu_client *c, const struct vu_call_opts *o, uint32_t i,
                        struct info_regions *r)
{
	static const char *const names[] = {"READ", "WRITE", "MMAP", "CAPS"};
	struct vfio_user_region_info *ri;
	char nbuf[32];
	size_t len;
	int fd, err;

	fprintf(f, "  %u %s: ", i, region_name(i, nbuf, sizeof(nbuf)));
	err = vu_device_get_region_info(c, o, i, &ri, &len, &fd);
	if (err) {
		fprintf(f, "GET_REGION_INFO failed: %s\n", strerror(-err));
		return err;
	}
	if (!ri->size && !ri->flags) {
		fprintf(f, "absent\n");
	} else {
		fprintf(f, "size 0x%llx offset 0x%llx flags ", (unsigned long long)ri->size,
		        (unsigned long long)ri->offset);
		print_flags(f, ri->flags, names, 4);
		fprintf(f, "%s\n", fd >= 0 ? ", fd" : "");
		print_region_caps(f, ri);
	}
	if ((ri->flags & VFIO_REGION_INFO_FLAG_MMAP) && fd < 0)
		fprintf(f, "      warning: mappable but no fd came with the reply\n");
	if (i < VFIO_PCI_NUM_REGIONS)
		r->size[i] = ri->size;
	if (fd >= 0)
		close(fd);
	free(ri);
	return 0;
}

int info_print_regions(FILE *f, struct vu_client *c, const struct vu_call_opts *o,
                       uint32_t num_regions, struct info_regions *r)
{
	uint32_t i;
	int err, ret = 0;

	fprintf(f, "regions:\n");
	for (i = 0; i < num_regions; i++) {
		err = print_region(f, c, o, i, r);
		ret = ret ? ret : err;
		if (err == -ENOTCONN || err == -ETIMEDOUT)
			break; /* the rest would fail the same way */
	}
	return ret;
}

static const char *irq_name(uint32_t i)
{
	static const char *const pci[] = {"INTx", "MSI", "MSI-X", "ERR", "REQ"};

	return i < VFIO_PCI_NUM_IRQS ? pci[i] : "device specific";
}

int info_print_irqs(FILE *f, struct vu_client *c, const struct vu_call_opts *o, uint32_t num_irqs)
{
	static const char *const names[] = {"EVENTFD", "MASKABLE", "AUTOMASKED", "NORESIZE"};
	struct vfio_user_irq_info info;
	uint32_t i;
	int err, ret = 0;

	fprintf(f, "irqs:\n");
	for (i = 0; i < num_irqs; i++) {
		fprintf(f, "  %u %s: ", i, irq_name(i));
		err = vu_device_get_irq_info(c, o, i, &info);
		if (err) {
			fprintf(f, "GET_IRQ_INFO failed: %s\n", strerror(-err));
			ret = ret ? ret : err;
			if (err == -ENOTCONN || err == -ETIMEDOUT)
				break;
			continue;
		}
		fprintf(f, "count %u flags ", info.count);
		print_flags(f, info.flags, names, 4);
		fprintf(f, "\n");
	}
	return ret;
}
