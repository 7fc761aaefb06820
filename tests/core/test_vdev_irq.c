// SPDX-License-Identifier: MIT
/*
 * SET_IRQS: what is refused before the server hears of it, a server lying
 * about its counts, eventfds and booleans passed on.
 * The fixture: vdev_fx.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>

#include <cmocka.h>

#include "proto/client.h"
#include "util.h"
#include "vdev_fx.h"

static void test_set_irqs_invalid(void **state)
{
	struct fx *x = *state;
	uint32_t efd = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	uint32_t none = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	struct vfio_irq_set *s;
	int pipefd[2];
	int32_t *fds;

	s = irq_set(x, none, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, 0);
	s->argsz = sizeof(*s) - 1;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, TDEV_NUM_IRQS, 0, 0, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none | (1u << 6), VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, VFIO_PCI_MSIX_IRQ_INDEX, 1, UINT32_MAX, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, VFIO_PCI_MSIX_IRQ_INDEX, TDEV_MSIX_COUNT, 0, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, VFIO_PCI_MSIX_IRQ_INDEX, TDEV_MSIX_COUNT - 2, 3, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, 0); /* MSI has no vectors */
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x,
	            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
	            VFIO_PCI_INTX_IRQ_INDEX, 0, 1, 1);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	/* The data does not fit argsz. */
	s = irq_set(x, efd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, 4);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	/* No action, or two: vfio-pci finds no handler. */
	s = irq_set(x, VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -ENOTTY);
	s = irq_set(x,
	            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK,
	            VFIO_PCI_INTX_IRQ_INDEX, 0, 1, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -ENOTTY);
	/* An fd the process does not have, and -2 on ERR. */
	s = irq_set(x, efd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, 4);
	fds = (int32_t *)s->data;
	fds[0] = 17;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EBADF);
	s = irq_set(x, efd, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, 4);
	fds = (int32_t *)s->data;
	fds[0] = -2;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	/* An eventfd, then a pipe: EINVAL before the server hears of either. */
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	x->h.fds[3] = eventfd(0, EFD_CLOEXEC);
	x->h.fds[4] = pipefd[0];
	s = irq_set(x, efd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, 8);
	fds = (int32_t *)s->data;
	fds[0] = 3;
	fds[1] = 4;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	close(x->h.fds[3]);
	x->h.fds[3] = x->h.fds[4] = -1;
	close(pipefd[0]);
	close(pipefd[1]);
	/* The data runs off the process's memory. */
	s = (struct vfio_irq_set *)(x->arena + ARENA - sizeof(*s));
	*s = (struct vfio_irq_set){
	    .argsz = sizeof(*s) + 4, .flags = efd, .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 1};
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EFAULT);
	assert_int_equal(x->t.set_irqs_calls, 0);
}

/*
 * A server claiming an IRQ count near 2^32 cannot make SET_IRQS allocate
 * (count * 4 bytes of fds) or pass on what no PCI device has: the count is
 * cut to MSI-X's 2048 vectors, and SET_IRQS checked against that.
 */
static void test_irq_count_lie(void **state)
{
	struct fx *x = *state;
	struct vfio_irq_info *info = arg_alloc(x, sizeof(*info));
	uint32_t none = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	struct vfio_irq_set *s;

	*info = (struct vfio_irq_info){.argsz = sizeof(*info), .index = VFIO_PCI_MSI_IRQ_INDEX};
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, info), 0);
	assert_int_equal(info->count, 2048);
	s = irq_set(x, none, VFIO_PCI_MSI_IRQ_INDEX, 0, 0xfffffff0, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, none, VFIO_PCI_MSI_IRQ_INDEX, 2040, 9, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	s = irq_set(x, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX,
	            0, 2049, 2049);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	assert_int_equal(x->t.set_irqs_calls, 0);
	/* The most there is reaches the server (which refuses it: it lied). */
	s = irq_set(x, none, VFIO_PCI_MSI_IRQ_INDEX, 0, 2048, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	assert_int_equal(x->t.set_irqs_calls, 1);
	assert_int_equal(x->t.last_set.count, 2048);
}

static void wait_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	assert_int_equal(poll(&p, 1, 5000), 1);
}

static void test_set_irqs_eventfd(void **state)
{
	struct fx *x = *state;
	int before = count_fds(0);
	int e0 = eventfd(0, EFD_CLOEXEC), e2 = eventfd(0, EFD_CLOEXEC);
	struct vfio_irq_set *s;
	int32_t *fds;
	uint64_t one = 1, v;

	x->h.fds[5] = e0;
	x->h.fds[6] = e2;
	s = irq_set(x, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	            VFIO_PCI_MSIX_IRQ_INDEX, 0, 4, 16);
	fds = (int32_t *)s->data;
	/* Three fds and a hole: batches of at most the server's 2 fds. */
	fds[0] = 5;
	fds[1] = 6;
	fds[2] = -7; /* any negative de-assigns on MSI-X, as in vfio-pci */
	fds[3] = 6;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), 0);
	assert_true(x->t.set_irqs_calls >= 3);
	assert_true(x->t.last_set.nr_fds <= 2);
	assert_true(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 0) >= 0);
	assert_true(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 1) >= 0);
	assert_int_equal(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 2), -1);
	assert_true(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 3) >= 0);

	/* The server's copy is the program's eventfd. */
	assert_int_equal(write(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 3), &one, 8), 8);
	wait_readable(e2);
	assert_int_equal(read(e2, &v, 8), 8);
	assert_int_equal(v, 1);

	/* -1 de-assigns one vector. */
	s = irq_set(x, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	            VFIO_PCI_MSIX_IRQ_INDEX, 1, 1, 4);
	*(int32_t *)s->data = -1;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), 0);
	assert_int_equal(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 1), -1);
	assert_true(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 3) >= 0);

	/* Disable all: the server drops its fds; ours were never kept. */
	s = irq_set(x, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
	            VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), 0);
	assert_int_equal(tdev_irq_fd(&x->t, VFIO_PCI_MSIX_IRQ_INDEX, 0), -1);
	close(e0);
	close(e2);
	x->h.fds[5] = x->h.fds[6] = -1;
	assert_int_equal(count_fds(0), before);
}

static void test_set_irqs_bool(void **state)
{
	struct fx *x = *state;
	struct vfio_irq_set *s = irq_set(x, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK,
	                                 VFIO_PCI_INTX_IRQ_INDEX, 0, 1, 1);

	s->data[0] = 1;
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), 0);
	assert_int_equal(x->t.set_irqs_calls, 1);
	assert_int_equal(x->t.last_set.flags, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK);
	assert_int_equal(x->t.last_set.count, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_set_irqs_invalid),
	    T_WITH(test_irq_count_lie, fx_setup_lying),
	    T(test_set_irqs_eventfd),
	    T(test_set_irqs_bool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
