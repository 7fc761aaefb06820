/* SPDX-License-Identifier: MIT */
/*
 * The client over TCP on 127.0.0.1: calls and server DMA work by message;
 * anything that must pass an fd fails with -EOPNOTSUPP and says why.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
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
	struct guest guest;
	int lfd;
};

static void *accept_serve(void *arg)
{
	struct env *e = arg;
	int fd = accept4(e->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return NULL;
	e->srv.fd = fd;
	e->srv.ret = vu_serve(fd, &tdev_ops, &e->dev, &e->srv.opts, &e->srv.stop);
	return NULL;
}

static int listen_tcp(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vu_client_opts o = {.dma = guest_dma, .twin_socket = true};
	char addr[64];
	uint16_t port;

	if (!e)
		return -1;
	logbuf_init(&e->log);
	tdev_init(&e->dev);
	e->guest.mem = calloc(1, GUEST_SIZE);
	o.arg = &e->guest;
	o.log = &e->log.log;
	vu_caps_default(&e->srv.opts.caps);
	e->srv.opts.caps.twin_socket = true;
	e->srv.opts.caps.max_msg_fds = 8;
	e->lfd = listen_tcp(&port);
	if (e->lfd < 0 || pthread_create(&e->srv.th, NULL, accept_serve, e))
		return -1;
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", port);
	if (vu_client_connect(addr, &o, &e->c))
		return -1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	vu_client_close(e->c);
	tserver_join(&e->srv);
	close(e->lfd);
	assert_int_equal(e->srv.ret, 0);
	assert_int_equal(e->dev.gone, 1);
	tdev_fini(&e->dev);
	free(e->guest.mem);
	free(e);
	return 0;
}

static void test_tcp_calls(void **state)
{
	struct env *e = *state;
	struct vfio_user_device_info info;
	uint8_t out[5000], in[5000];

	/* No twin socket without fd passing, even when both offer it. */
	assert_false(vu_client_can_pass_fds(e->c));
	assert_false(vu_client_caps(e->c)->twin_socket);
	assert_int_equal(vu_device_get_info(e->c, NULL, &info), 0);
	assert_int_equal(info.num_regions, TDEV_NUM_REGIONS);
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 11);
	assert_int_equal(vu_region_write(e->c, NULL, 1, 100, out, sizeof(out)), 0);
	assert_int_equal(vu_region_read(e->c, NULL, 1, 100, in, sizeof(in)), 0);
	assert_memory_equal(in, out, sizeof(out));
	assert_int_equal(vu_dma_map(e->c, NULL, GUEST_BASE, GUEST_SIZE,
	                            VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE, -1,
	                            0),
	                 0);
}

static void test_tcp_dma_by_message(void **state)
{
	struct env *e = *state;
	struct tdev_dma_cmd cmd = {.src = GUEST_BASE, .dst = GUEST_BASE + 4096, .len = 3000};

	for (unsigned i = 0; i < 3000; i++)
		e->guest.mem[i] = (uint8_t)i;
	assert_int_equal(vu_region_write(e->c, NULL, 0, TDEV_DMA_CMD, &cmd, sizeof(cmd)), 0);
	for (unsigned i = 0; i < 3000; i++)
		assert_int_equal(e->guest.mem[4096 + i], (uint8_t)(i + 1));
}

static void test_tcp_no_fds(void **state)
{
	struct env *e = *state;
	int efd[3] = {eventfd(0, EFD_CLOEXEC), -1, -1};
	int deassign[3] = {-1, -1, -1};
	uint32_t flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;

	assert_true(efd[0] >= 0);
	assert_int_equal(
	    vu_device_set_irqs(e->c, NULL, flags, VFIO_PCI_MSIX_IRQ_INDEX, 0, 3, NULL, efd),
	    -EOPNOTSUPP);
	assert_true(logbuf_has(&e->log, "eventfds/DMA fds cannot cross TCP"));
	assert_int_equal(
	    vu_dma_map(e->c, NULL, GUEST_BASE, 4096, VFIO_USER_F_DMA_REGION_READ, efd[0], 0),
	    -EOPNOTSUPP);
	/* De-assigning needs no fds, so it goes through. */
	assert_int_equal(
	    vu_device_set_irqs(e->c, NULL, flags, VFIO_PCI_MSIX_IRQ_INDEX, 0, 3, NULL, deassign),
	    0);
	assert_int_equal(e->dev.set_irqs_calls, 1);
	assert_int_equal(e->dev.sets[0].nr_fds, 0);
	close(efd[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tcp_calls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_dma_by_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_no_fds, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
