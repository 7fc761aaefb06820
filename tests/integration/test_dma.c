// SPDX-License-Identifier: MIT
/*
 * The example device's DMA engine against client memory, both ways: shared
 * as a memfd (the server maps it) and by message (the server sends
 * DMA_READ/DMA_WRITE, answered by the client's dma callback), checked byte
 * for byte, with the errors the engine must report in STATUS.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "examples/example-device.h"
#include "harness.h"
#include "proto/sock.h"

#define IOVA    0x40000000ull
#define MEMSIZE (4u << 20)
#define RW      (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)

/* Client memory reached by message: IOVA..IOVA+MEMSIZE is mem. */
struct fixture {
	struct h_server srv;
	struct vu_client *c;
	uint8_t *mem;
	int memfd;
	unsigned long dma_reads, dma_writes;
	uint8_t *room;         /* given as vu_client_opts.dma_buf, or NULL */
	unsigned long in_room; /* accesses whose buf lay in it */
	unsigned long big;     /* reads, and writes too big for the small buffer */
};

#define ROOM_LEN (EXDEV_DMA_MAX_LEN + 4096)

static void *dma_buf_cb(void *arg, size_t len)
{
	struct fixture *f = arg;

	return len <= ROOM_LEN ? f->room : NULL;
}

static int dma_cb(void *arg, uint16_t cmd, uint64_t addr, void *buf, uint64_t count)
{
	struct fixture *f = arg;

	if (addr < IOVA || addr - IOVA > MEMSIZE || count > MEMSIZE - (addr - IOVA))
		return -EFAULT;
	if (f->room && (uint8_t *)buf >= f->room && (uint8_t *)buf + count <= f->room + ROOM_LEN)
		__atomic_add_fetch(&f->in_room, 1, __ATOMIC_RELAXED);
	if (cmd == VFIO_USER_DMA_READ ||
	    count + sizeof(struct vfio_user_dma_access) > sizeof(((struct vu_rx *)0)->small))
		__atomic_add_fetch(&f->big, 1, __ATOMIC_RELAXED);
	if (cmd == VFIO_USER_DMA_READ) {
		memcpy(buf, f->mem + (addr - IOVA), count);
		__atomic_add_fetch(&f->dma_reads, 1, __ATOMIC_RELAXED);
	} else {
		memcpy(f->mem + (addr - IOVA), buf, count);
		__atomic_add_fetch(&f->dma_writes, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

static int start_room(void **state, const char *const *args, uint32_t client_xfer, bool twin,
                      bool room)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vu_client_opts o = {
	    .dma = dma_cb,
	    .dma_buf = room ? dma_buf_cb : NULL,
	    .arg = f,
	    .max_data_xfer_size = client_xfer,
	    .twin_socket = twin,
	    .timeout_ms = 20000, /* 1 MiB by 4 KiB messages is a long call */
	};

	f->memfd = h_memfd(MEMSIZE, &f->mem);
	if (room) {
		f->room = malloc(ROOM_LEN);
		assert_non_null(f->room);
	}
	h_server_start(&f->srv, args);
	f->c = h_connect(&f->srv, &o);
	h_pci_command(f->c, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	*state = f;
	return 0;
}

static int start(void **state, const char *const *args, uint32_t client_xfer, bool twin)
{
	return start_room(state, args, client_xfer, twin, false);
}

static int setup(void **state)
{
	return start(state, NULL, 0, false);
}

static int setup_room(void **state)
{
	return start_room(state, NULL, 0, false, true);
}

static int setup_room_twin(void **state)
{
	return start_room(state, NULL, 0, true, true);
}

static int setup_split(void **state)
{
	static const char *const args[] = {"--max-xfer=4096", NULL};

	return start(state, args, 4096, false);
}

static int setup_twin(void **state)
{
	return start(state, NULL, 0, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vu_client_close(f->c);
	h_server_stop(&f->srv);
	munmap(f->mem, MEMSIZE);
	close(f->memfd);
	free(f->room);
	free(f);
	return 0;
}

/* Run one DMA; returns STATUS. */
static uint32_t dma(struct vu_client *c, uint64_t src, uint64_t dst, uint32_t len, uint32_t cmd)
{
	h_wr64(c, EXDEV_REG_DMA_SRC, src);
	h_wr64(c, EXDEV_REG_DMA_DST, dst);
	h_wr32(c, EXDEV_REG_DMA_LEN, len);
	h_wr32(c, EXDEV_REG_DMA_CMD, EXDEV_DMA_CMD_GO | cmd);
	return h_rd32(c, EXDEV_REG_STATUS);
}

static void map(struct fixture *f, bool by_fd)
{
	assert_int_equal(vu_dma_map(f->c, NULL, IOVA, MEMSIZE, RW, by_fd ? f->memfd : -1, 0), 0);
}

/* Client memory to BAR2, BAR2 to client memory, client to client. */
static void both_ways(struct fixture *f)
{
	static const uint32_t lens[] = {1, 3, 64, 4095, 4096, 4097, 20000, EXDEV_BAR2_SIZE};
	uint8_t *got = malloc(EXDEV_BAR2_SIZE);
	uint32_t count = h_rd32(f->c, EXDEV_REG_DMA_COUNT);
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint32_t len = lens[i], boff = (EXDEV_BAR2_SIZE - len) / 3;
		uint64_t coff = 4096 * i + 7 * i;

		h_pattern(f->mem + coff, len, 10 + i);
		assert_int_equal(dma(f->c, IOVA + coff, boff, len, EXDEV_DMA_CMD_DST_BAR2),
		                 EXDEV_STATUS_DMA_DONE);
		assert_int_equal(vu_region_read(f->c, NULL, 2, boff, got, len), 0);
		assert_memory_equal(got, f->mem + coff, len);

		h_pattern(got, len, 20 + i);
		assert_int_equal(vu_region_write(f->c, NULL, 2, boff, got, len), 0);
		assert_int_equal(
		    dma(f->c, boff, IOVA + MEMSIZE / 2 + coff, len, EXDEV_DMA_CMD_SRC_BAR2),
		    EXDEV_STATUS_DMA_DONE);
		assert_memory_equal(f->mem + MEMSIZE / 2 + coff, got, len);
	}
	h_pattern(f->mem, EXDEV_DMA_MAX_LEN, 99);
	assert_int_equal(dma(f->c, IOVA, IOVA + 2 * EXDEV_DMA_MAX_LEN + 1, EXDEV_DMA_MAX_LEN, 0),
	                 EXDEV_STATUS_DMA_DONE);
	assert_memory_equal(f->mem + 2 * EXDEV_DMA_MAX_LEN + 1, f->mem, EXDEV_DMA_MAX_LEN);
	assert_int_equal(h_rd32(f->c, EXDEV_REG_DMA_COUNT), count + 2 * i + 1);
	free(got);
}

static void test_dma_fd(void **state)
{
	struct fixture *f = *state;

	map(f, true);
	both_ways(f);
	assert_int_equal(f->dma_reads + f->dma_writes, 0);
}

static void test_dma_message(void **state)
{
	struct fixture *f = *state;

	map(f, false);
	both_ways(f);
	assert_true(f->dma_reads > 0);
	assert_true(f->dma_writes > 0);
}

/* The same with the server's requests on the twin socket. */
static void test_dma_message_twin(void **state)
{
	struct fixture *f = *state;

	assert_true(vu_client_caps(f->c)->twin_socket);
	test_dma_message(state);
}

/* With the owner's room (the daemon's memory helper buffer): every
 * DMA_READ reply is built in it and every DMA_WRITE's data that is not
 * small comes in it, so the handler reaches them with no copy of the
 * client's; with and without twin-socket mode. */
static void test_dma_message_room(void **state)
{
	struct fixture *f = *state;

	test_dma_message(state);
	assert_true(f->big > f->dma_reads);
	assert_int_equal(f->in_room, f->big);
}

/* With the client accepting 4 KiB, a 1 MiB copy takes at least 256 reads. */
static void test_dma_message_split(void **state)
{
	struct fixture *f = *state;

	map(f, false);
	both_ways(f);
	assert_true(f->dma_reads >= EXDEV_DMA_MAX_LEN / 4096);
	assert_true(f->dma_writes >= EXDEV_DMA_MAX_LEN / 4096);
}

/* One copy across three mappings: fd, message, fd. */
static void test_dma_across_mappings(void **state)
{
	struct fixture *f = *state;
	const uint64_t part = 256 << 10, len = part + 200;

	assert_int_equal(vu_dma_map(f->c, NULL, IOVA, part, RW, f->memfd, 0), 0);
	assert_int_equal(vu_dma_map(f->c, NULL, IOVA + part, part, RW, -1, 0), 0);
	assert_int_equal(
	    vu_dma_map(f->c, NULL, IOVA + 2 * part, MEMSIZE - 2 * part, RW, f->memfd, 2 * part), 0);
	h_pattern(f->mem + part - 100, len, 5);
	assert_int_equal(dma(f->c, IOVA + part - 100, IOVA + 2 * part + 4096, len, 0),
	                 EXDEV_STATUS_DMA_DONE);
	assert_memory_equal(f->mem + 2 * part + 4096, f->mem + part - 100, len);
	assert_true(f->dma_reads > 0);
	h_pattern(f->mem + 3 * part, len, 6);
	assert_int_equal(dma(f->c, IOVA + 3 * part, IOVA + part - 100, len, 0),
	                 EXDEV_STATUS_DMA_DONE);
	assert_memory_equal(f->mem + part - 100, f->mem + 3 * part, len);
	assert_true(f->dma_writes > 0);
}

static void test_dma_errors(void **state)
{
	struct fixture *f = *state;
	uint32_t count;

	assert_int_equal(
	    vu_dma_map(f->c, NULL, IOVA, 8192, VFIO_USER_F_DMA_REGION_READ, f->memfd, 0), 0);
	count = h_rd32(f->c, EXDEV_REG_DMA_COUNT);
	/* Unmapped source, destination past the mapping, read-only destination. */
	assert_int_equal(dma(f->c, 0x1000, 0, 16, EXDEV_DMA_CMD_DST_BAR2), EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(dma(f->c, 0, IOVA + 8000, 16, EXDEV_DMA_CMD_SRC_BAR2),
	                 EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(dma(f->c, 0, IOVA, 16, EXDEV_DMA_CMD_SRC_BAR2), EXDEV_STATUS_DMA_ERROR);
	/* Bad lengths, BAR2 overflow, unknown command bits. */
	assert_int_equal(dma(f->c, 0, 0, 0, EXDEV_DMA_CMD_SRC_BAR2 | EXDEV_DMA_CMD_DST_BAR2),
	                 EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(dma(f->c, IOVA, 0, EXDEV_DMA_MAX_LEN + 1, EXDEV_DMA_CMD_DST_BAR2),
	                 EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(dma(f->c, IOVA, EXDEV_BAR2_SIZE - 8, 16, EXDEV_DMA_CMD_DST_BAR2),
	                 EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(
	    dma(f->c, 0, 16, 16, 0x80 | EXDEV_DMA_CMD_SRC_BAR2 | EXDEV_DMA_CMD_DST_BAR2),
	    EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(h_rd32(f->c, EXDEV_REG_DMA_COUNT), count);
	/* The engine still works, and STATUS reflects the last run only. */
	assert_int_equal(dma(f->c, IOVA, 0, 16, EXDEV_DMA_CMD_DST_BAR2), EXDEV_STATUS_DMA_DONE);
	assert_int_equal(h_rd32(f->c, EXDEV_REG_DMA_COUNT), count + 1);
	/* After unmap the memory is gone for the device. */
	assert_int_equal(vu_dma_unmap(f->c, NULL, IOVA, 8192, 0), 0);
	assert_int_equal(dma(f->c, IOVA, 0, 16, EXDEV_DMA_CMD_DST_BAR2), EXDEV_STATUS_DMA_ERROR);
}

/* A client that shrinks the file it shared: the server's copy meets SIGBUS,
 * reports a DMA error and lives on. */
static void test_dma_shrunk_file(void **state)
{
	struct fixture *f = *state;

	map(f, true);
	assert_int_equal(dma(f->c, IOVA + MEMSIZE - 4096, 0, 4096, EXDEV_DMA_CMD_DST_BAR2),
	                 EXDEV_STATUS_DMA_DONE);
	assert_int_equal(ftruncate(f->memfd, MEMSIZE / 2), 0);
	assert_int_equal(dma(f->c, IOVA + MEMSIZE - 4096, 0, 4096, EXDEV_DMA_CMD_DST_BAR2),
	                 EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(dma(f->c, 0, IOVA + MEMSIZE - 4096, 4096, EXDEV_DMA_CMD_SRC_BAR2),
	                 EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(dma(f->c, IOVA, 0, 4096, EXDEV_DMA_CMD_DST_BAR2), EXDEV_STATUS_DMA_DONE);
	assert_int_equal(ftruncate(f->memfd, MEMSIZE), 0);
}

/* A client whose dma callback fails: the DMA reports an error, nothing hangs. */
static int failing_dma(void *arg, uint16_t cmd, uint64_t addr, void *buf, uint64_t count)
{
	return -EIO;
}

static void test_dma_client_refuses(void **state)
{
	struct fixture *f = *state;
	struct vu_client_opts o = {.dma = failing_dma};
	struct vu_client *c;

	vu_client_close(f->c);
	c = h_connect(&f->srv, &o);
	assert_int_equal(vu_dma_map(c, NULL, IOVA, 4096, RW, -1, 0), 0);
	assert_int_equal(dma(c, IOVA, 0, 64, EXDEV_DMA_CMD_DST_BAR2), EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(dma(c, 0, IOVA, 64, EXDEV_DMA_CMD_SRC_BAR2), EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(h_rd32(c, EXDEV_REG_ID), EXDEV_ID_VALUE);
	f->c = c;
}

static void test_unmap_all(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(vu_dma_map(f->c, NULL, IOVA, 4096, RW, f->memfd, 0), 0);
	assert_int_equal(vu_dma_map(f->c, NULL, IOVA + 4096, 4096, RW, -1, 0), 0);
	assert_int_equal(vu_dma_unmap(f->c, NULL, 0, 0, VFIO_USER_F_DMA_UNMAP_ALL), 0);
	assert_int_equal(dma(f->c, IOVA, 0, 16, EXDEV_DMA_CMD_DST_BAR2), EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(vu_dma_map(f->c, NULL, IOVA, 8192, RW, f->memfd, 0), 0);
	assert_int_equal(dma(f->c, IOVA, 0, 16, EXDEV_DMA_CMD_DST_BAR2), EXDEV_STATUS_DMA_DONE);
}

/* Without bus mastering the device does not touch client memory (not one
 * DMA_READ or DMA_WRITE goes out); copies within BAR2 need none. */
static void test_dma_needs_bus_master(void **state)
{
	struct fixture *f = *state;
	uint16_t cmd = PCI_COMMAND_MEMORY;

	map(f, false);
	assert_int_equal(
	    vu_region_write(f->c, NULL, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2), 0);
	assert_int_equal(dma(f->c, IOVA, 0, 64, EXDEV_DMA_CMD_DST_BAR2), EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(dma(f->c, 0, IOVA, 64, EXDEV_DMA_CMD_SRC_BAR2), EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(dma(f->c, IOVA, IOVA + 4096, 64, 0), EXDEV_STATUS_DMA_ERROR);
	assert_int_equal(f->dma_reads + f->dma_writes, 0);
	assert_int_equal(dma(f->c, 0, 4096, 64, EXDEV_DMA_CMD_SRC_BAR2 | EXDEV_DMA_CMD_DST_BAR2),
	                 EXDEV_STATUS_DMA_DONE);
	h_pci_command(f->c, PCI_COMMAND_MASTER);
	assert_int_equal(dma(f->c, IOVA, 0, 64, EXDEV_DMA_CMD_DST_BAR2), EXDEV_STATUS_DMA_DONE);
	assert_true(f->dma_reads > 0);
}

/* A mapping that ends at the last IOVA byte, as QEMU makes and unmaps:
 * mapped, used, and unmapped; a copy running past its end finds nothing
 * there, not IOVA 0. */
static void test_dma_top_of_iova(void **state)
{
	struct fixture *f = *state;
	const uint64_t len = 64 << 10, top = 0 - len;
	uint8_t got[256];

	assert_int_equal(vu_dma_map(f->c, NULL, top, len, RW, f->memfd, 0), 0);
	assert_int_equal(vu_dma_map(f->c, NULL, 0, 4096, RW, f->memfd, len), 0);
	h_pattern(f->mem + len - sizeof(got), sizeof(got), 3);
	assert_int_equal(
	    dma(f->c, UINT64_MAX - sizeof(got) + 1, 0, sizeof(got), EXDEV_DMA_CMD_DST_BAR2),
	    EXDEV_STATUS_DMA_DONE);
	assert_int_equal(vu_region_read(f->c, NULL, 2, 0, got, sizeof(got)), 0);
	assert_memory_equal(got, f->mem + len - sizeof(got), sizeof(got));
	assert_int_equal(dma(f->c, UINT64_MAX - 15, 0, 32, EXDEV_DMA_CMD_DST_BAR2),
	                 EXDEV_STATUS_DMA_ERROR);
	/* Overlaps are seen at the top too. */
	assert_int_equal(vu_dma_map(f->c, NULL, UINT64_MAX - 4095, 4096, RW, -1, 0), -EEXIST);
	assert_int_equal(vu_dma_unmap(f->c, NULL, top, len, 0), 0);
	assert_int_equal(dma(f->c, top, 0, 16, EXDEV_DMA_CMD_DST_BAR2), EXDEV_STATUS_DMA_ERROR);
	/* The whole upper half, by message this time. */
	assert_int_equal(vu_dma_map(f->c, NULL, 1ull << 63, 1ull << 63, RW, -1, 0), 0);
	assert_int_equal(vu_dma_unmap(f->c, NULL, 1ull << 63, 1ull << 63, 0), 0);
}

/* Figures, not assertions: MB/s of 1 MiB copies each way. */
static double rate(struct fixture *f, uint64_t src, uint64_t dst, uint32_t cmd, uint32_t len, int n)
{
	double t0 = h_now_ms();
	int i;

	for (i = 0; i < n; i++)
		assert_int_equal(dma(f->c, src, dst, len, cmd), EXDEV_STATUS_DMA_DONE);
	return (double)len * n / ((h_now_ms() - t0) / 1e3) / 1e6;
}

static void measure(struct fixture *f, const char *how)
{
	const uint32_t b = EXDEV_BAR2_SIZE;

	printf("  DMA %-8s client->client 1 MiB: %7.1f MB/s, client->BAR2 64 KiB: %7.1f MB/s, "
	       "BAR2->client 64 KiB: %7.1f MB/s\n",
	       how, rate(f, IOVA, IOVA + EXDEV_DMA_MAX_LEN, 0, EXDEV_DMA_MAX_LEN, 20),
	       rate(f, IOVA, 0, EXDEV_DMA_CMD_DST_BAR2, b, 100),
	       rate(f, 0, IOVA, EXDEV_DMA_CMD_SRC_BAR2, b, 100));
}

static void test_dma_figures(void **state)
{
	struct fixture *f = *state;

	map(f, true);
	measure(f, "by fd");
	assert_int_equal(vu_dma_unmap(f->c, NULL, IOVA, MEMSIZE, 0), 0);
	map(f, false);
	measure(f, "by msg");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dma_fd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_message_split, setup_split, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_message_twin, setup_twin, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_message_room, setup_room, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_message_room, setup_room_twin, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_across_mappings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_shrunk_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_client_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unmap_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_needs_bus_master, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_top_of_iova, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dma_figures, setup, teardown),
	};

	return cmocka_run_group_tests_name("integration: DMA", tests, NULL, NULL);
}
