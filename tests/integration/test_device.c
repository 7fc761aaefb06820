// SPDX-License-Identifier: MIT
/*
 * The proto client against the example server process: negotiation, the
 * info queries, region access of many sizes and alignments, config space
 * semantics, reset, and bad requests answered with errno.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "examples/example-device.h"
#include "harness.h"

struct fixture {
	struct h_server srv;
	struct vu_client *c;
};

static int start(void **state, const char *const *args)
{
	struct fixture *f = calloc(1, sizeof(*f));

	h_server_start(&f->srv, args);
	f->c = h_connect(&f->srv, NULL);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return start(state, NULL);
}

static int setup_small_xfer(void **state)
{
	static const char *const args[] = {"--max-xfer=4096", "--max-fds=2", NULL};

	return start(state, args);
}

static int setup_no_mmap(void **state)
{
	static const char *const args[] = {"--no-mmap", NULL};

	return start(state, args);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vu_client_close(f->c);
	h_server_stop(&f->srv);
	free(f);
	return 0;
}

static void test_negotiation(void **state)
{
	struct fixture *f = *state;
	const struct vu_caps *k = vu_client_caps(f->c);

	assert_int_equal(k->major, VFIO_USER_MAJOR);
	assert_int_equal(k->minor, VFIO_USER_MINOR);
	assert_int_equal(k->max_data_xfer_size, 4096);
	assert_int_equal(k->max_msg_fds, 2);
	assert_true(k->pgsizes & 4096);
	assert_false(k->twin_socket); /* offered by the server, not asked for */
	assert_true(vu_client_can_pass_fds(f->c));
}

static void test_twin_socket(void **state)
{
	struct fixture *f = *state;
	struct vu_client_opts o = {.twin_socket = true};
	struct vu_client *c;

	vu_client_close(f->c);
	c = h_connect(&f->srv, &o);
	assert_true(vu_client_caps(c)->twin_socket);
	assert_int_equal(h_rd32(c, EXDEV_REG_ID), EXDEV_ID_VALUE);
	f->c = c;
}

static void test_device_info(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_device_info info;

	assert_int_equal(vu_device_get_info(f->c, NULL, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(info.num_regions, VFIO_PCI_NUM_REGIONS);
	assert_int_equal(info.num_irqs, VFIO_PCI_NUM_IRQS);
}

static void check_sparse(const struct vfio_user_region_info *ri, size_t len)
{
	struct vfio_info_cap_header h;
	struct vfio_region_sparse_mmap_area a;
	uint32_t nr;
	const uint8_t *cap = (const uint8_t *)ri + ri->cap_offset;

	assert_true(ri->cap_offset >= sizeof(*ri));
	assert_true(len >=
	            ri->cap_offset + sizeof(struct vfio_region_info_cap_sparse_mmap) + sizeof(a));
	memcpy(&h, cap, sizeof(h));
	assert_int_equal(h.id, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.next, 0);
	memcpy(&nr, cap + sizeof(h), sizeof(nr));
	assert_int_equal(nr, 1);
	memcpy(&a, cap + sizeof(struct vfio_region_info_cap_sparse_mmap), sizeof(a));
	assert_int_equal(a.offset, 0);
	assert_int_equal(a.size, EXDEV_BAR2_SIZE);
}

static void test_region_info(void **state)
{
	struct fixture *f = *state;
	const uint32_t rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	struct vfio_user_region_info *ri;
	size_t len;
	uint32_t i;
	int fd;

	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		assert_int_equal(vu_device_get_region_info(f->c, NULL, i, &ri, &len, &fd), 0);
		assert_int_equal(ri->index, i);
		switch (i) {
		case VFIO_PCI_BAR0_REGION_INDEX:
			assert_int_equal(ri->size, EXDEV_BAR0_SIZE);
			assert_int_equal(ri->flags, rw);
			assert_int_equal(fd, -1);
			break;
		case VFIO_PCI_BAR2_REGION_INDEX:
			assert_int_equal(ri->size, EXDEV_BAR2_SIZE);
			assert_int_equal(ri->flags, rw | VFIO_REGION_INFO_FLAG_MMAP |
			                                VFIO_REGION_INFO_FLAG_CAPS);
			assert_true(fd >= 0);
			check_sparse(ri, len);
			close(fd);
			break;
		case VFIO_PCI_CONFIG_REGION_INDEX:
			assert_int_equal(ri->size, EXDEV_CFG_SIZE);
			assert_int_equal(ri->flags, rw);
			break;
		default:
			assert_int_equal(ri->size, 0);
			assert_int_equal(ri->flags, 0);
			assert_int_equal(fd, -1);
			break;
		}
		free(ri);
	}
	assert_int_equal(
	    vu_device_get_region_info(f->c, NULL, VFIO_PCI_NUM_REGIONS, &ri, &len, &fd), -EINVAL);
}

/* Asked with a buffer too small for BAR2's capabilities (QEMU's first
 * ask, argsz 32): the reply says how much is needed and, on the wire as in
 * the spec and libvfio-user, has CAPS set only when the chain is there. */
static void test_region_info_small_argsz(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_region_info req = {.argsz = sizeof(req),
	                                    .index = VFIO_PCI_BAR2_REGION_INDEX};
	const struct vfio_user_region_info *ri;
	struct vu_msg r;

	assert_int_equal(
	    vu_call(f->c, VFIO_USER_DEVICE_GET_REGION_INFO, &req, sizeof(req), NULL, 0, NULL, &r),
	    0);
	assert_int_equal(r.len, sizeof(*ri));
	assert_int_equal(r.nr_fds, 0);
	ri = r.payload;
	assert_true(ri->argsz > sizeof(*ri));
	assert_int_equal(ri->flags & VFIO_REGION_INFO_FLAG_CAPS, 0);
	assert_int_equal(ri->cap_offset, 0);
	assert_true(ri->flags & VFIO_REGION_INFO_FLAG_MMAP);
	req.argsz = ri->argsz;
	vu_msg_release(&r);
	assert_int_equal(
	    vu_call(f->c, VFIO_USER_DEVICE_GET_REGION_INFO, &req, sizeof(req), NULL, 0, NULL, &r),
	    0);
	ri = r.payload;
	assert_int_equal(r.len, req.argsz);
	assert_true(ri->flags & VFIO_REGION_INFO_FLAG_CAPS);
	check_sparse(ri, r.len);
	assert_int_equal(r.nr_fds, 1);
	vu_msg_release(&r);
}

static void test_region_info_no_mmap(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_region_info *ri;
	uint8_t buf[64], want[64];
	size_t len;
	int fd;

	assert_int_equal(
	    vu_device_get_region_info(f->c, NULL, VFIO_PCI_BAR2_REGION_INDEX, &ri, &len, &fd), 0);
	assert_int_equal(ri->flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
	assert_int_equal(ri->cap_offset, 0);
	assert_int_equal(fd, -1);
	free(ri);
	h_pattern(want, sizeof(want), 7);
	assert_int_equal(vu_region_write(f->c, NULL, VFIO_PCI_BAR2_REGION_INDEX, 100, want, 64), 0);
	assert_int_equal(vu_region_read(f->c, NULL, VFIO_PCI_BAR2_REGION_INDEX, 100, buf, 64), 0);
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_irq_info(void **state)
{
	struct fixture *f = *state;
	static const struct {
		uint32_t flags, count;
	} want[VFIO_PCI_NUM_IRQS] = {
	    [VFIO_PCI_INTX_IRQ_INDEX] = {VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
	                                     VFIO_IRQ_INFO_AUTOMASKED,
	                                 1},
	    [VFIO_PCI_MSI_IRQ_INDEX] = {VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, 0},
	    [VFIO_PCI_MSIX_IRQ_INDEX] = {VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
	                                 EXDEV_MSIX_VECTORS},
	    [VFIO_PCI_ERR_IRQ_INDEX] = {VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, 1},
	    [VFIO_PCI_REQ_IRQ_INDEX] = {VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, 1},
	};
	struct vfio_user_irq_info info;
	uint32_t i;

	for (i = 0; i < VFIO_PCI_NUM_IRQS; i++) {
		assert_int_equal(vu_device_get_irq_info(f->c, NULL, i, &info), 0);
		assert_int_equal(info.index, i);
		assert_int_equal(info.flags, want[i].flags);
		assert_int_equal(info.count, want[i].count);
	}
	assert_int_equal(vu_device_get_irq_info(f->c, NULL, VFIO_PCI_NUM_IRQS, &info), -EINVAL);
}

static void test_bar0_registers(void **state)
{
	struct fixture *f = *state;
	struct vu_client *c = f->c;
	uint64_t v64 = 0;

	assert_int_equal(h_rd32(c, EXDEV_REG_ID), EXDEV_ID_VALUE);
	assert_int_equal(h_rd32(c, EXDEV_REG_VERSION), 1);
	h_wr32(c, EXDEV_REG_ID, 0); /* read-only: ignored */
	assert_int_equal(h_rd32(c, EXDEV_REG_ID), EXDEV_ID_VALUE);
	h_wr32(c, EXDEV_REG_SCRATCH, 0xdeadbeef);
	assert_int_equal(h_rd32(c, EXDEV_REG_SCRATCH), 0xdeadbeef);
	h_wr64(c, EXDEV_REG_DMA_SRC, 0x0123456789abcdefull);
	assert_int_equal(vu_region_read(c, NULL, 0, EXDEV_REG_DMA_SRC, &v64, 8), 0);
	assert_true(v64 == 0x0123456789abcdefull);
	assert_int_equal(h_rd32(c, EXDEV_REG_DMA_SRC + 4), 0x01234567);
	assert_int_equal(h_rd32(c, EXDEV_REG_DMA_CMD), 0); /* write-only */
	/* The MSI-X table is storage; only the mask bit of Vector Control is kept. */
	h_wr32(c, EXDEV_MSIX_TABLE_OFFSET + 8, 0x4321);
	assert_int_equal(h_rd32(c, EXDEV_MSIX_TABLE_OFFSET + 8), 0x4321);
	assert_int_equal(h_rd32(c, EXDEV_MSIX_TABLE_OFFSET + 12), 1); /* masked at reset */
	h_wr32(c, EXDEV_MSIX_TABLE_OFFSET + 12, 0xfffffffe);
	assert_int_equal(h_rd32(c, EXDEV_MSIX_TABLE_OFFSET + 12), 0);
	assert_int_equal(h_rd32(c, EXDEV_MSIX_PBA_OFFSET), 0);
}

/* Bytes 0x08..0x1f of BAR0 (SCRATCH, STATUS, DMA_SRC, DMA_DST) less STATUS:
 * plain storage, so any slice written reads back. */
static void test_bar0_sizes_alignments(void **state)
{
	struct fixture *f = *state;
	uint8_t model[0x20], buf[0x20], got[0x20];
	uint32_t off, len;
	unsigned int seed = 1;

	memset(model, 0, sizeof(model));
	assert_int_equal(vu_region_write(f->c, NULL, 0, 0x10, model + 0x10, 16), 0);
	for (off = 0x10; off < 0x20; off++) {
		for (len = 1; off + len <= 0x20; len++) {
			h_pattern(buf, len, seed++);
			assert_int_equal(vu_region_write(f->c, NULL, 0, off, buf, len), 0);
			memcpy(model + off, buf, len);
			assert_int_equal(vu_region_read(f->c, NULL, 0, 0x10, got, 16), 0);
			assert_memory_equal(got, model + 0x10, 16);
			assert_int_equal(vu_region_read(f->c, NULL, 0, off, got, len), 0);
			assert_memory_equal(got, buf, len);
		}
	}
	/* A read across ID, VERSION and SCRATCH at an odd offset. */
	h_wr32(f->c, EXDEV_REG_SCRATCH, 0xa1b2c3d4);
	assert_int_equal(vu_region_read(f->c, NULL, 0, 1, got, 10), 0);
	assert_int_equal(got[0], (EXDEV_ID_VALUE >> 8) & 0xff);
	assert_int_equal(got[3], 1);
	assert_int_equal(got[7], 0xd4);
	assert_int_equal(got[9], 0xb2);
}

static void bar2_sizes_alignments(void **state)
{
	static const uint32_t sizes[] = {1,  2,   3,    4,    7,    8,     15,
	                                 64, 511, 4095, 4096, 4097, 12345, EXDEV_BAR2_SIZE};
	static const uint32_t offs[] = {0, 1, 3, 8, 4093, 4096, 30001};
	struct fixture *f = *state;
	uint8_t *buf = malloc(EXDEV_BAR2_SIZE), *got = malloc(EXDEV_BAR2_SIZE);
	unsigned int seed = 100;
	size_t i, j;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (j = 0; j < sizeof(offs) / sizeof(offs[0]); j++) {
			uint32_t off = offs[j], n = sizes[i];

			if (off + n > EXDEV_BAR2_SIZE)
				continue;
			h_pattern(buf, n, seed++);
			assert_int_equal(vu_region_write(f->c, NULL, 2, off, buf, n), 0);
			memset(got, 0, n);
			assert_int_equal(vu_region_read(f->c, NULL, 2, off, got, n), 0);
			assert_memory_equal(got, buf, n);
		}
	}
	free(buf);
	free(got);
}

static void test_bar2_sizes_alignments(void **state)
{
	bar2_sizes_alignments(state);
}

/* The same with --max-xfer=4096: transfers split into pieces. */
static void test_bar2_split(void **state)
{
	bar2_sizes_alignments(state);
}

/* The fd the server offers maps the very RAM the messages reach. */
static void test_bar2_mmap(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_region_info *ri;
	uint8_t buf[256], *mem;
	size_t len;
	int fd;

	assert_int_equal(vu_device_get_region_info(f->c, NULL, 2, &ri, &len, &fd), 0);
	assert_true(fd >= 0);
	mem = mmap(NULL, EXDEV_BAR2_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, ri->offset);
	assert_true(mem != MAP_FAILED);
	h_pattern(buf, sizeof(buf), 55);
	assert_int_equal(vu_region_write(f->c, NULL, 2, 0x8000, buf, sizeof(buf)), 0);
	assert_memory_equal(mem + 0x8000, buf, sizeof(buf));
	h_pattern(mem + 0xff00, 256, 56);
	assert_int_equal(vu_region_read(f->c, NULL, 2, 0xff00, buf, sizeof(buf)), 0);
	assert_memory_equal(mem + 0xff00, buf, sizeof(buf));
	munmap(mem, EXDEV_BAR2_SIZE);
	close(fd);
	free(ri);
}

static void test_config_space(void **state)
{
	struct fixture *f = *state;
	uint8_t cfg[EXDEV_CFG_SIZE];
	uint32_t v, ones = 0xffffffff;
	uint16_t w;
	int i;

	assert_int_equal(vu_region_read(f->c, NULL, 7, 0, cfg, sizeof(cfg)), 0);
	assert_int_equal(cfg[0] | cfg[1] << 8, EXDEV_VENDOR_ID);
	assert_int_equal(cfg[2] | cfg[3] << 8, EXDEV_DEVICE_ID);
	assert_int_equal(cfg[9] | cfg[10] << 8 | cfg[11] << 16, EXDEV_CLASS_CODE);
	assert_true(cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST);
	assert_int_equal(cfg[PCI_CAPABILITY_LIST], EXDEV_CAP_PM);
	assert_int_equal(cfg[EXDEV_CAP_PM], PCI_CAP_ID_PM);
	assert_int_equal(cfg[EXDEV_CAP_PM + 1], EXDEV_CAP_MSIX);
	assert_int_equal(cfg[EXDEV_CAP_MSIX], PCI_CAP_ID_MSIX);
	assert_int_equal(cfg[EXDEV_CAP_MSIX + 1], 0);
	assert_int_equal((cfg[EXDEV_CAP_MSIX + 2] & 0x7f) + 1, EXDEV_MSIX_VECTORS);
	memcpy(&v, cfg + EXDEV_CAP_MSIX + PCI_MSIX_TABLE, 4);
	assert_int_equal(v, EXDEV_MSIX_TABLE_OFFSET);
	memcpy(&v, cfg + EXDEV_CAP_MSIX + PCI_MSIX_PBA, 4);
	assert_int_equal(v, EXDEV_MSIX_PBA_OFFSET);
	assert_int_equal(cfg[PCI_INTERRUPT_PIN], 1);

	/* Vendor ID is read-only, byte by byte too. */
	for (i = 0; i < 2; i++)
		assert_int_equal(vu_region_write(f->c, NULL, 7, i, "\xff", 1), 0);
	assert_int_equal(vu_region_read(f->c, NULL, 7, 0, &w, 2), 0);
	assert_int_equal(w, EXDEV_VENDOR_ID);
	/* BAR sizing: all ones reads back the size mask and the type bits. */
	assert_int_equal(vu_region_write(f->c, NULL, 7, PCI_BASE_ADDRESS_0, &ones, 4), 0);
	assert_int_equal(vu_region_read(f->c, NULL, 7, PCI_BASE_ADDRESS_0, &v, 4), 0);
	assert_int_equal(v, ~(uint32_t)(EXDEV_BAR0_SIZE - 1));
	assert_int_equal(vu_region_write(f->c, NULL, 7, PCI_BASE_ADDRESS_2, &ones, 4), 0);
	assert_int_equal(vu_region_read(f->c, NULL, 7, PCI_BASE_ADDRESS_2, &v, 4), 0);
	assert_int_equal(v, ~(uint32_t)(EXDEV_BAR2_SIZE - 1) | PCI_BASE_ADDRESS_MEM_PREFETCH);
	assert_int_equal(vu_region_write(f->c, NULL, 7, PCI_BASE_ADDRESS_1, &ones, 4), 0);
	assert_int_equal(vu_region_read(f->c, NULL, 7, PCI_BASE_ADDRESS_1, &v, 4), 0);
	assert_int_equal(v, 0);
	/* Command: memory and bus master stick; MSI-X enable sticks. */
	w = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	assert_int_equal(vu_region_write(f->c, NULL, 7, PCI_COMMAND, &w, 2), 0);
	assert_int_equal(vu_region_read(f->c, NULL, 7, PCI_COMMAND, &w, 2), 0);
	assert_int_equal(w, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	w = PCI_MSIX_FLAGS_ENABLE | 0x7ff;
	assert_int_equal(vu_region_write(f->c, NULL, 7, EXDEV_CAP_MSIX + PCI_MSIX_FLAGS, &w, 2), 0);
	assert_int_equal(vu_region_read(f->c, NULL, 7, EXDEV_CAP_MSIX + PCI_MSIX_FLAGS, &w, 2), 0);
	assert_int_equal(w, PCI_MSIX_FLAGS_ENABLE | (EXDEV_MSIX_VECTORS - 1));
	/* Every size and alignment reads consistently with the whole. */
	assert_int_equal(vu_region_read(f->c, NULL, 7, 0, cfg, sizeof(cfg)), 0);
	for (i = 0; i < EXDEV_CFG_SIZE; i += 13) {
		uint8_t part[32];
		int n = EXDEV_CFG_SIZE - i < 32 ? EXDEV_CFG_SIZE - i : 1 + i % 32;

		assert_int_equal(vu_region_read(f->c, NULL, 7, i, part, n), 0);
		assert_memory_equal(part, cfg + i, n);
	}
}

static struct vfio_user_write_multi_entry wr(uint32_t region, uint64_t off, uint32_t count,
                                             uint64_t v)
{
	struct vfio_user_write_multi_entry e = {.offset = off, .region = region, .count = count};

	memcpy(e.data, &v, sizeof(v));
	return e;
}

/* Coalesced small writes land in order: a doorbell after its length works. */
static void test_write_multi(void **state)
{
	struct fixture *f = *state;
	const struct vfio_user_write_multi_entry wrs[] = {
	    wr(0, EXDEV_REG_SCRATCH, 4, 0x600dcafe),
	    wr(2, 0x100, 8, 0x0123456789abcdefull),
	    wr(0, EXDEV_REG_DMA_SRC, 8, 0x100),
	    wr(0, EXDEV_REG_DMA_DST, 8, 0x200),
	    wr(0, EXDEV_REG_DMA_LEN, 4, 8),
	    wr(0, EXDEV_REG_DMA_CMD, 4,
	       EXDEV_DMA_CMD_GO | EXDEV_DMA_CMD_SRC_BAR2 | EXDEV_DMA_CMD_DST_BAR2),
	    wr(7, PCI_INTERRUPT_LINE, 1, 0x0b),
	};
	uint64_t v = 0;
	uint8_t line = 0;

	assert_true(vu_client_caps(f->c)->write_multiple);
	assert_int_equal(vu_region_write_multi(f->c, NULL, wrs, sizeof(wrs) / sizeof(wrs[0])), 0);
	assert_int_equal(h_rd32(f->c, EXDEV_REG_SCRATCH), 0x600dcafe);
	assert_int_equal(h_rd32(f->c, EXDEV_REG_STATUS), EXDEV_STATUS_DMA_DONE);
	assert_int_equal(vu_region_read(f->c, NULL, 2, 0x200, &v, 8), 0);
	assert_true(v == 0x0123456789abcdefull);
	assert_int_equal(vu_region_read(f->c, NULL, 7, PCI_INTERRUPT_LINE, &line, 1), 0);
	assert_int_equal(line, 0x0b);
}

static void test_reset(void **state)
{
	struct fixture *f = *state;
	struct vu_client *c = f->c;
	uint16_t w = PCI_COMMAND_MEMORY;
	uint32_t v;

	h_wr32(c, EXDEV_REG_SCRATCH, 0x1234);
	h_wr64(c, EXDEV_REG_DMA_SRC, 0x5000);
	h_wr32(c, EXDEV_REG_IRQ_CTRL, EXDEV_IRQ_CTRL_ON_DMA);
	h_wr32(c, EXDEV_REG_IRQ_VECTOR, 3);
	h_wr32(c, EXDEV_MSIX_TABLE_OFFSET, 0xfee00000);
	assert_int_equal(vu_region_write(c, NULL, 7, PCI_COMMAND, &w, 2), 0);
	assert_int_equal(vu_device_reset(c, NULL), 0);
	assert_int_equal(h_rd32(c, EXDEV_REG_SCRATCH), 0);
	assert_int_equal(h_rd32(c, EXDEV_REG_DMA_SRC), 0);
	assert_int_equal(h_rd32(c, EXDEV_REG_IRQ_CTRL), 0);
	assert_int_equal(h_rd32(c, EXDEV_REG_IRQ_VECTOR), 0);
	assert_int_equal(h_rd32(c, EXDEV_REG_STATUS), 0);
	assert_int_equal(h_rd32(c, EXDEV_MSIX_TABLE_OFFSET), 0);
	assert_int_equal(h_rd32(c, EXDEV_REG_ID), EXDEV_ID_VALUE);
	assert_int_equal(vu_region_read(c, NULL, 7, PCI_COMMAND, &w, 2), 0);
	assert_int_equal(w, 0);
	assert_int_equal(vu_region_read(c, NULL, 7, 0, &v, 4), 0);
	assert_int_equal(v, EXDEV_VENDOR_ID | EXDEV_DEVICE_ID << 16);
}

/* Each bad request gets its errno and the connection carries on. */
static void test_bad_requests(void **state)
{
	struct fixture *f = *state;
	struct vu_client *c = f->c;
	uint8_t buf[16] = {0};

	assert_int_equal(vu_region_read(c, NULL, 0, EXDEV_BAR0_SIZE - 2, buf, 4), -EINVAL);
	assert_int_equal(vu_region_read(c, NULL, 0, EXDEV_BAR0_SIZE, buf, 1), -EINVAL);
	assert_int_equal(vu_region_read(c, NULL, 2, ~0ull - 1, buf, 4), -EINVAL);
	assert_int_equal(vu_region_write(c, NULL, 7, EXDEV_CFG_SIZE - 1, buf, 2), -EINVAL);
	assert_int_equal(vu_region_read(c, NULL, 1, 0, buf, 4), -EINVAL);
	assert_int_equal(vu_region_read(c, NULL, 6, 0, buf, 4), -EINVAL);
	assert_int_equal(vu_region_read(c, NULL, 9, 0, buf, 4), -EINVAL);
	assert_int_equal(vu_region_write(c, NULL, 1000, 0, buf, 4), -EINVAL);
	assert_int_equal(vu_dma_unmap(c, NULL, 0x1000, 0x1000, 0), -ENOENT);
	assert_int_equal(vu_dma_map(c, NULL, 0x1000, 0, VFIO_USER_F_DMA_REGION_READ, -1, 0),
	                 -EINVAL);
	assert_int_equal(
	    vu_dma_map(c, NULL, ~0ull - 0xfff, 0x2000, VFIO_USER_F_DMA_REGION_READ, -1, 0),
	    -EINVAL);
	assert_int_equal(vu_dma_map(c, NULL, 0x1000, 0x1000, 0x80, -1, 0), -EINVAL);
	assert_int_equal(vu_dma_map(c, NULL, 0x1000, 0x1000, 0, -1, 0), -EINVAL);
	assert_int_equal(vu_dma_map(c, NULL, 0x1000, 0x2000, VFIO_USER_F_DMA_REGION_READ, -1, 0),
	                 0);
	assert_int_equal(vu_dma_map(c, NULL, 0x2000, 0x1000, VFIO_USER_F_DMA_REGION_READ, -1, 0),
	                 -EEXIST);
	assert_int_equal(vu_dma_unmap(c, NULL, 0x1000, 0x1000, 0), -ENOENT);
	assert_int_equal(vu_dma_unmap(c, NULL, 0x1000, 0x2000, 0), 0);
	assert_int_equal(h_rd32(c, EXDEV_REG_ID), EXDEV_ID_VALUE);
}

/* A shared file smaller than the mapping it claims is refused, not mapped. */
static void test_bad_dma_fd(void **state)
{
	struct fixture *f = *state;
	uint8_t *mem;
	int fd = h_memfd(4096, &mem);

	assert_int_equal(vu_dma_map(f->c, NULL, 0x10000, 8192,
	                            VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE, fd,
	                            0),
	                 -EINVAL);
	assert_int_equal(
	    vu_dma_map(f->c, NULL, 0x10000, 4096, VFIO_USER_F_DMA_REGION_READ, fd, 4096), -EINVAL);
	assert_int_equal(vu_dma_map(f->c, NULL, 0x10000, 4096, VFIO_USER_F_DMA_REGION_READ, fd, 0),
	                 0);
	munmap(mem, 4096);
	close(fd);
	assert_int_equal(h_rd32(f->c, EXDEV_REG_ID), EXDEV_ID_VALUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_negotiation, setup_small_xfer, teardown),
	    cmocka_unit_test_setup_teardown(test_twin_socket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_region_info_small_argsz, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_device_info, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_region_info, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_region_info_no_mmap, setup_no_mmap, teardown),
	    cmocka_unit_test_setup_teardown(test_irq_info, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bar0_registers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bar0_sizes_alignments, setup_small_xfer, teardown),
	    cmocka_unit_test_setup_teardown(test_bar2_split, setup_small_xfer, teardown),
	    cmocka_unit_test_setup_teardown(test_bar2_sizes_alignments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bar2_mmap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_space, setup_small_xfer, teardown),
	    cmocka_unit_test_setup_teardown(test_write_multi, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_dma_fd, setup, teardown),
	};

	return cmocka_run_group_tests_name("integration: device", tests, NULL, NULL);
}
