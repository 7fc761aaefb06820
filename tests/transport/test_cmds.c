/* SPDX-License-Identifier: MIT */
/*
 * The client's command helpers against vu_serve and a test device, over a
 * real unix socket pair and over a listening unix socket.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/vfio.h>

#include "logbuf.h"
#include "proto/client.h"
#include "tdev.h"

struct env {
	struct tdev dev;
	struct tserver srv;
	struct vu_client *c;
	struct logbuf log;
};

static int env_open(struct env *e, const struct vu_caps *scaps, const struct vu_client_opts *o)
{
	struct vu_client_opts opts = {0};
	char addr[32];
	int err;

	logbuf_init(&e->log);
	tdev_init(&e->dev);
	if (o)
		opts = *o;
	opts.log = &e->log.log;
	err = tserver_start(&e->srv, &e->dev, scaps, addr, sizeof(addr));
	if (!err)
		err = vu_client_connect(addr, &opts, &e->c);
	return err;
}

static void env_close(struct env *e)
{
	vu_client_close(e->c);
	tserver_join(&e->srv);
	tdev_fini(&e->dev);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vu_caps sc;

	vu_caps_default(&sc);
	sc.write_multiple = true;
	if (!e || env_open(e, &sc, NULL))
		return -1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	env_close(e);
	assert_int_equal(e->dev.gone, 1);
	free(e);
	return 0;
}

static void test_negotiated_caps(void **state)
{
	struct vu_caps sc;
	struct vu_client_opts o = {.max_data_xfer_size = 65536};
	struct env e;
	const struct vu_caps *c;

	vu_caps_default(&sc);
	sc.max_msg_fds = 7;
	sc.max_data_xfer_size = 1u << 20;
	sc.write_multiple = true;
	assert_int_equal(env_open(&e, &sc, &o), 0);
	c = vu_client_caps(e.c);
	assert_int_equal(c->major, VFIO_USER_MAJOR);
	assert_int_equal(c->minor, VFIO_USER_MINOR);
	assert_int_equal(c->max_msg_fds, 7);
	assert_int_equal(c->max_data_xfer_size, 65536);
	assert_true(c->write_multiple);
	assert_false(c->twin_socket);
	assert_true(vu_client_connected(e.c));
	assert_true(vu_client_can_pass_fds(e.c));
	env_close(&e);
}

static void test_device_info(void **state)
{
	struct env *e = *state;
	struct vfio_user_device_info info;

	assert_int_equal(vu_device_get_info(e->c, NULL, &info), 0);
	assert_int_equal(info.argsz, sizeof(info));
	assert_int_equal(info.num_regions, TDEV_NUM_REGIONS);
	assert_int_equal(info.num_irqs, TDEV_NUM_IRQS);
	assert_true(info.flags & VFIO_DEVICE_FLAGS_PCI);
}

static void test_region_info_plain(void **state)
{
	struct env *e = *state;
	struct vfio_user_region_info *ri = NULL;
	size_t len = 0;
	int fd = 7;

	assert_int_equal(vu_device_get_region_info(e->c, NULL, 1, &ri, &len, &fd), 0);
	assert_int_equal(len, sizeof(*ri));
	assert_int_equal(ri->index, 1);
	assert_int_equal(ri->size, TDEV_BAR1_SIZE);
	assert_int_equal(ri->cap_offset, 0);
	assert_int_equal(fd, -1);
	free(ri);
	assert_int_equal(vu_device_get_region_info(e->c, NULL, 9, &ri, &len, &fd), -EINVAL);
}

/* Region 2's chain does not fit the first argsz: the helper asks again
 * and gets the chain and the region's fd. */
static void test_region_info_retry_and_fd(void **state)
{
	struct env *e = *state;
	struct vfio_user_region_info *ri = NULL;
	struct vfio_region_info_cap_sparse_mmap *sp;
	char text[sizeof(TDEV_BAR2_TEXT)] = "";
	size_t len = 0;
	int fd = -1;

	assert_int_equal(vu_device_get_region_info(e->c, NULL, 2, &ri, &len, &fd), 0);
	assert_true(len > 256);
	assert_int_equal(ri->argsz, len);
	assert_int_equal(ri->cap_offset, sizeof(*ri));
	assert_true(ri->flags & VFIO_REGION_INFO_FLAG_CAPS);
	sp = (void *)((char *)ri + ri->cap_offset);
	assert_int_equal(sp->header.id, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	assert_int_equal(sp->nr_areas, TDEV_BAR2_AREAS);
	assert_int_equal(sp->areas[3].offset, 3 * 128);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, text, sizeof(text), 0), sizeof(text));
	assert_string_equal(text, TDEV_BAR2_TEXT);
	close(fd);
	free(ri);
}

static void test_irq_info(void **state)
{
	struct env *e = *state;
	struct vfio_user_irq_info info;

	assert_int_equal(vu_device_get_irq_info(e->c, NULL, VFIO_PCI_MSIX_IRQ_INDEX, &info), 0);
	assert_int_equal(info.index, VFIO_PCI_MSIX_IRQ_INDEX);
	assert_int_equal(info.count, TDEV_MSIX_COUNT);
	assert_int_equal(vu_device_get_irq_info(e->c, NULL, 5, &info), -EINVAL);
}

static void test_region_rw(void **state)
{
	struct env *e = *state;
	uint8_t out[64], in[64];

	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 3 + 1);
	assert_int_equal(vu_region_write(e->c, NULL, 0, 0x400, out, sizeof(out)), 0);
	assert_int_equal(vu_region_read(e->c, NULL, 0, 0x400, in, sizeof(in)), 0);
	assert_memory_equal(in, out, sizeof(out));
	assert_memory_equal(e->dev.bar0 + 0x400, out, sizeof(out));
	/* The device refuses an access past its end: that errno comes back. */
	assert_int_equal(vu_region_read(e->c, NULL, 0, TDEV_BAR0_SIZE - 4, in, 8), -EINVAL);
	assert_int_equal(vu_region_read(e->c, NULL, VFIO_PCI_VGA_REGION_INDEX, 0, in, 8), -EINVAL);
}

/* 3 MiB at a 1 MiB limit: three messages each way, the data intact. */
static void test_region_rw_split(void **state)
{
	struct env *e = *state;
	size_t n = 3u << 20;
	uint8_t *out = malloc(n), *in = malloc(n);
	uint32_t max = vu_client_caps(e->c)->max_data_xfer_size;

	assert_non_null(out);
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(i * 7 + (i >> 12));
	assert_int_equal(vu_region_write(e->c, NULL, 1, 4096, out, n), 0);
	assert_memory_equal(e->dev.bar1 + 4096, out, n);
	e->dev.max_read = 0;
	e->dev.nr_reads = 0;
	assert_int_equal(vu_region_read(e->c, NULL, 1, 4096, in, n), 0);
	assert_memory_equal(in, out, n);
	assert_int_equal(e->dev.max_read, max);
	assert_int_equal(e->dev.nr_reads, (n + max - 1) / max);
	free(out);
	free(in);
}

static void test_write_multi(void **state)
{
	struct env *e = *state;
	struct vfio_user_write_multi_entry w[250];

	assert_true(vu_client_caps(e->c)->write_multiple);
	for (unsigned i = 0; i < 250; i++) {
		w[i] = (struct vfio_user_write_multi_entry){
		    .offset = 0x800 + i * 4, .region = 0, .count = 4};
		memcpy(w[i].data, &i, 4);
	}
	assert_int_equal(vu_region_write_multi(e->c, NULL, w, 250), 0);
	for (unsigned i = 0; i < 250; i++) {
		uint32_t v;

		memcpy(&v, e->dev.bar0 + 0x800 + i * 4, 4);
		assert_int_equal(v, i);
	}
	w[3].count = 9;
	assert_int_equal(vu_region_write_multi(e->c, NULL, w, 5), -EINVAL);
}

/* A server without write_multiple gets single REGION_WRITEs. */
static void test_write_multi_fallback(void **state)
{
	struct vu_caps sc;
	struct env e;
	struct vfio_user_write_multi_entry w[3] = {
	    {.offset = 0x10, .region = 0, .count = 1, .data = {0xaa}},
	    {.offset = 0x20, .region = 0, .count = 2, .data = {0xbb, 0xcc}},
	    {.offset = 0x30, .region = 0, .count = 8, .data = {1, 2, 3, 4, 5, 6, 7, 8}},
	};

	vu_caps_default(&sc);
	sc.write_multiple = false;
	assert_int_equal(env_open(&e, &sc, NULL), 0);
	assert_false(vu_client_caps(e.c)->write_multiple);
	assert_int_equal(vu_region_write_multi(e.c, NULL, w, 3), 0);
	assert_int_equal(e.dev.bar0[0x10], 0xaa);
	assert_int_equal(e.dev.bar0[0x21], 0xcc);
	assert_int_equal(e.dev.bar0[0x37], 8);
	env_close(&e);
}

static void test_dma_map_fd(void **state)
{
	struct env *e = *state;
	int fd = memfd_create("guest", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "hello guest", 11, 8192), 11);
	assert_int_equal(vu_dma_map(e->c, NULL, 0x40000000, 1 << 20,
	                            VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE, fd,
	                            8192),
	                 0);
	close(fd);
	assert_int_equal(e->dev.map_calls, 1);
	assert_int_equal(e->dev.maps[0].iova, 0x40000000);
	assert_int_equal(e->dev.maps[0].size, 1 << 20);
	assert_string_equal(e->dev.maps[0].peek, "hello guest");
	assert_int_equal(
	    vu_dma_map(e->c, NULL, 0x50000000, 4096, VFIO_USER_F_DMA_REGION_READ, -1, 0), 0);
	assert_int_equal(e->dev.map_calls, 2);
	assert_int_equal(vu_dma_unmap(e->c, NULL, 0x50000000, 4096, 0), 0);
	assert_int_equal(vu_dma_unmap(e->c, NULL, 0x60000000, 4096, 0), -ENOENT);
	assert_int_equal(e->dev.unmap_calls, 2);
}

static void test_reset_and_unsupported(void **state)
{
	struct env *e = *state;
	uint8_t feat[sizeof(struct vfio_user_device_feature) + 8] = {0};
	struct vfio_user_device_feature *f = (struct vfio_user_device_feature *)feat;
	size_t out = 0;

	f->argsz = sizeof(feat);
	f->flags = VFIO_DEVICE_FEATURE_PROBE;

	assert_int_equal(vu_device_reset(e->c, NULL), 0);
	assert_int_equal(vu_device_reset(e->c, NULL), 0);
	assert_int_equal(e->dev.resets, 2);
	assert_int_equal(vu_device_feature(e->c, NULL, feat, sizeof(feat), &out), -ENOTSUP);
	assert_int_equal(vu_device_feature(e->c, NULL, feat, 4, &out), -EINVAL);
}

/* vu_call_opts.refused tells the server's error reply from this side's
 * failures of the same look: the server's EINVAL is refused, a timeout or
 * a call refused before it is sent is not, and a success clears it. */
static void test_error_origin(void **state)
{
	struct env *e = *state;
	struct vfio_user_region_info *ri = NULL;
	struct vfio_user_irq_info ii;
	bool refused = true;
	struct vu_call_opts o = {.refused = &refused};
	struct vu_call_opts quick = {.timeout_ms = 50, .refused = &refused};
	uint8_t buf[8];
	size_t len;
	int fd = -1, dummy = 0;

	assert_int_equal(vu_device_get_region_info(e->c, &o, 0, &ri, &len, &fd), 0);
	assert_false(refused);
	free(ri);
	assert_int_equal(
	    vu_device_get_region_info(e->c, &o, VFIO_PCI_VGA_REGION_INDEX, &ri, &len, &fd),
	    -EINVAL);
	assert_true(refused);
	assert_int_equal(vu_device_get_irq_info(e->c, &o, 1, &ii), 0);
	assert_false(refused);
	assert_int_equal(vu_device_get_irq_info(e->c, &o, 9, &ii), -EINVAL);
	assert_true(refused);
	/* A request the client itself refuses: EINVAL too, not the server's. */
	assert_int_equal(vu_call(e->c, VFIO_USER_DEVICE_RESET, NULL, 0, &dummy, 1000, &o, NULL),
	                 -EINVAL);
	assert_false(refused);
	e->dev.slow_ms = 300;
	refused = true;
	assert_int_equal(vu_region_read(e->c, &quick, 0, TDEV_SLOW_OFF, buf, 4), -ETIMEDOUT);
	assert_false(refused);
	e->dev.slow_ms = 0;
}

/* The server takes 2 fds a message: 7 vectors with two holes go as
 * [0,1] [2] [3,4 without fds] [5,6], each fd landing on its vector. */
static void test_set_irqs_batches(void **state)
{
	struct vu_caps sc;
	struct env e;
	int efd[7];
	static const struct tdev_irq_msg want[] = {
	    {.start = 0, .count = 2, .nr_fds = 2},
	    {.start = 2, .count = 1, .nr_fds = 1},
	    {.start = 3, .count = 2, .nr_fds = 0},
	    {.start = 5, .count = 2, .nr_fds = 2},
	};
	uint32_t flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;

	vu_caps_default(&sc);
	sc.max_msg_fds = 2;
	assert_int_equal(env_open(&e, &sc, NULL), 0);
	for (int i = 0; i < 7; i++)
		efd[i] = i == 3 || i == 4 ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(
	    vu_device_set_irqs(e.c, NULL, flags, VFIO_PCI_MSIX_IRQ_INDEX, 0, 7, NULL, efd), 0);
	assert_int_equal(e.dev.set_irqs_calls, 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(e.dev.sets[i].start, want[i].start);
		assert_int_equal(e.dev.sets[i].count, want[i].count);
		assert_int_equal(e.dev.sets[i].nr_fds, want[i].nr_fds);
		assert_int_equal(e.dev.sets[i].flags, flags);
	}
	for (int i = 0; i < 7; i++) {
		eventfd_t v = 0;

		if (efd[i] < 0)
			continue;
		/* The device's copy of vector i is our eventfd i. */
		assert_int_equal(
		    eventfd_write(tdev_irq_fd(&e.dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)i), i + 1),
		    0);
		assert_int_equal(eventfd_read(efd[i], &v), 0);
		assert_int_equal(v, (eventfd_t)i + 1);
		close(efd[i]);
	}
	/* Three fds in one message is more than the server takes. */
	assert_int_equal(
	    vu_call(e.c, VFIO_USER_DEVICE_SET_IRQS, NULL, 0, (int[]){0, 1, 2}, 3, NULL, NULL),
	    -EINVAL);
	env_close(&e);
}

static void test_set_irqs_bool_none(void **state)
{
	struct env *e = *state;
	uint8_t on[3] = {1, 0, 1};

	assert_int_equal(vu_device_set_irqs(e->c, NULL,
	                                    VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK,
	                                    VFIO_PCI_MSIX_IRQ_INDEX, 2, 3, on, NULL),
	                 0);
	assert_int_equal(e->dev.bools[2], 1);
	assert_int_equal(e->dev.bools[3], 0);
	assert_int_equal(e->dev.bools[4], 1);
	assert_int_equal(vu_device_set_irqs(e->c, NULL,
	                                    VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
	                                    VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL, NULL),
	                 0);
	assert_int_equal(e->dev.set_irqs_calls, 2);
	assert_int_equal(e->dev.sets[1].count, 0);
	assert_int_equal(vu_device_set_irqs(e->c, NULL,
	                                    VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK,
	                                    VFIO_PCI_MSIX_IRQ_INDEX, 0, 3, NULL, NULL),
	                 -EINVAL);
}

/* A posted write is done before a later request is answered. */
static void test_post(void **state)
{
	struct env *e = *state;
	uint8_t w[sizeof(struct vfio_user_region_access) + 4];
	struct vfio_user_region_access a = {.offset = 0x600, .region = 0, .count = 4};
	uint32_t v = 0xfeedbeef;

	memcpy(w, &a, sizeof(a));
	memcpy(w + sizeof(a), &v, sizeof(v));
	v = 0;
	assert_int_equal(vu_post(e->c, VFIO_USER_REGION_WRITE, w, sizeof(w)), 0);
	assert_int_equal(vu_region_read(e->c, NULL, 0, 0x600, &v, 4), 0);
	assert_int_equal(v, 0xfeedbeef);
}

static void *accept_serve(void *arg)
{
	struct tserver *s = arg;
	int lfd = s->fd;

	s->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	if (s->fd < 0)
		return NULL;
	s->ret = vu_serve(s->fd, &tdev_ops, s->dev, &s->opts, &s->stop);
	return NULL;
}

static void test_unix_path(void **state)
{
	char path[64], addr[80];
	struct tserver srv = {0};
	struct tdev dev;
	struct vu_client *c;
	struct vfio_user_device_info info;

	for (int form = 0; form < 2; form++) {
		snprintf(path, sizeof(path), "/tmp/vu-transport-%d.sock", getpid());
		tdev_init(&dev);
		memset(&srv, 0, sizeof(srv));
		srv.dev = &dev;
		vu_caps_default(&srv.opts.caps);
		srv.fd = vu_server_listen(path);
		assert_true(srv.fd >= 0);
		assert_int_equal(pthread_create(&srv.th, NULL, accept_serve, &srv), 0);
		snprintf(addr, sizeof(addr), "%s%s", form ? "unix:" : "", path);
		assert_int_equal(vu_client_connect(addr, NULL, &c), 0);
		assert_int_equal(vu_device_get_info(c, NULL, &info), 0);
		assert_int_equal(info.num_regions, TDEV_NUM_REGIONS);
		vu_client_close(c);
		pthread_join(srv.th, NULL);
		assert_int_equal(srv.ret, 0);
		assert_int_equal(dev.gone, 1);
		tdev_fini(&dev);
		unlink(path);
	}
}

static void test_bad_addresses(void **state)
{
	struct vu_client *c = NULL;
	struct logbuf lb;
	struct vu_client_opts o = {0};

	logbuf_init(&lb);
	o.log = &lb.log;
	assert_int_equal(vu_client_connect("/nonexistent/vu.sock", &o, &c), -ENOENT);
	assert_int_equal(vu_client_connect("fd:abc", &o, &c), -EINVAL);
	assert_int_equal(vu_client_connect("fd:0x", &o, &c), -EINVAL);
	assert_int_equal(vu_client_connect("tcp:nohostport", &o, &c), -EINVAL);
	assert_int_equal(vu_client_connect("", &o, &c), -EINVAL);
	assert_true(logbuf_has(&lb, "bad fd number"));
	assert_null(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_negotiated_caps),
	    cmocka_unit_test_setup_teardown(test_device_info, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_region_info_plain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_region_info_retry_and_fd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_irq_info, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_region_rw, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_region_rw_split, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_multi, setup, teardown),
	    cmocka_unit_test(test_write_multi_fallback),
	    cmocka_unit_test_setup_teardown(test_dma_map_fd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_and_unsupported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_origin, setup, teardown),
	    cmocka_unit_test(test_set_irqs_batches),
	    cmocka_unit_test_setup_teardown(test_set_irqs_bool_none, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_post, setup, teardown),
	    cmocka_unit_test(test_unix_path),
	    cmocka_unit_test(test_bad_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
