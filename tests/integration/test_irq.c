// SPDX-License-Identifier: MIT
/*
 * Interrupts from the example server on the client's eventfds: MSI-X vector
 * N, INTx with its automask and the three ways to unmask, loopback triggers,
 * de-assignment, and the SET_IRQS requests vfio-pci refuses. A raise happens
 * inside the register write, so once the write returns an eventfd that did
 * not fire never will: "not fired" is checked without waiting.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "examples/example-device.h"
#include "harness.h"

#define FIRE_MS         2000 /* bound on an interrupt that must come */
#define TRIGGER_EVENTFD (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)

struct fixture {
	struct h_server srv;
	struct vu_client *c;
	int msix[EXDEV_MSIX_VECTORS];
	int intx;
};

static int start(void **state, const char *const *args)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int i;

	for (i = 0; i < EXDEV_MSIX_VECTORS; i++)
		f->msix[i] = eventfd(0, EFD_CLOEXEC);
	f->intx = eventfd(0, EFD_CLOEXEC);
	h_server_start(&f->srv, args);
	f->c = h_connect(&f->srv, NULL);
	h_pci_command(f->c, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return start(state, NULL);
}

/* One fd per message: SET_IRQS of 4 vectors goes in batches. */
static int setup_one_fd(void **state)
{
	static const char *const args[] = {"--max-fds=1", NULL};

	return start(state, args);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int i;

	vu_client_close(f->c);
	h_server_stop(&f->srv);
	for (i = 0; i < EXDEV_MSIX_VECTORS; i++)
		close(f->msix[i]);
	close(f->intx);
	free(f);
	return 0;
}

static int set_irqs(struct fixture *f, uint32_t flags, uint32_t index, uint32_t start,
                    uint32_t count, const uint8_t *data, const int *fds)
{
	return vu_device_set_irqs(f->c, NULL, flags, index, start, count, data, fds);
}

static void raise_vector(struct fixture *f, uint32_t v)
{
	h_wr32(f->c, EXDEV_REG_IRQ_VECTOR, v);
	h_wr32(f->c, EXDEV_REG_IRQ_RAISE, 1);
}

static bool fired_now(int fd)
{
	return h_eventfd_fired(fd, 0);
}

static void assert_none_fired(struct fixture *f)
{
	int i;

	for (i = 0; i < EXDEV_MSIX_VECTORS; i++)
		assert_false(fired_now(f->msix[i]));
	assert_false(fired_now(f->intx));
}

static void test_msix_vectors(void **state)
{
	struct fixture *f = *state;
	int v, w;

	assert_int_equal(set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0,
	                          EXDEV_MSIX_VECTORS, NULL, f->msix),
	                 0);
	for (v = EXDEV_MSIX_VECTORS - 1; v >= 0; v--) {
		raise_vector(f, v);
		assert_true(h_eventfd_fired(f->msix[v], FIRE_MS));
		for (w = 0; w < EXDEV_MSIX_VECTORS; w++)
			assert_false(fired_now(f->msix[w]));
	}
}

static void test_msix_on_dma(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0,
	                          EXDEV_MSIX_VECTORS, NULL, f->msix),
	                 0);
	h_wr32(f->c, EXDEV_REG_IRQ_VECTOR, 2);
	h_wr32(f->c, EXDEV_REG_DMA_LEN, 256);
	h_wr32(f->c, EXDEV_REG_DMA_CMD,
	       EXDEV_DMA_CMD_GO | EXDEV_DMA_CMD_SRC_BAR2 | EXDEV_DMA_CMD_DST_BAR2);
	assert_none_fired(f); /* IRQ_CTRL is off */
	h_wr32(f->c, EXDEV_REG_IRQ_CTRL, EXDEV_IRQ_CTRL_ON_DMA);
	h_wr32(f->c, EXDEV_REG_DMA_CMD,
	       EXDEV_DMA_CMD_GO | EXDEV_DMA_CMD_SRC_BAR2 | EXDEV_DMA_CMD_DST_BAR2);
	assert_true(h_eventfd_fired(f->msix[2], FIRE_MS));
	assert_none_fired(f);
}

/* MSI-X is a memory write by the device: none without bus mastering, and a
 * raise then is not held for later. */
static void test_msix_needs_bus_master(void **state)
{
	struct fixture *f = *state;
	uint16_t cmd = PCI_COMMAND_MEMORY;
	uint64_t n = 0;

	assert_int_equal(set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0,
	                          EXDEV_MSIX_VECTORS, NULL, f->msix),
	                 0);
	assert_int_equal(
	    vu_region_write(f->c, NULL, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2), 0);
	raise_vector(f, 1);
	assert_none_fired(f);
	h_pci_command(f->c, PCI_COMMAND_MASTER);
	raise_vector(f, 1);
	assert_int_equal(read(f->msix[1], &n, sizeof(n)), sizeof(n));
	assert_int_equal(n, 1);
	assert_none_fired(f);
}

/* -1 holes de-assign single vectors; count 0 with DATA_NONE disables all. */
static void test_msix_deassign(void **state)
{
	struct fixture *f = *state;
	int fds[EXDEV_MSIX_VECTORS] = {f->msix[0], -1, f->msix[2], -1};

	assert_int_equal(set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0,
	                          EXDEV_MSIX_VECTORS, NULL, f->msix),
	                 0);
	assert_int_equal(
	    set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0, EXDEV_MSIX_VECTORS, NULL, fds),
	    0);
	raise_vector(f, 1);
	assert_none_fired(f);
	raise_vector(f, 2);
	assert_true(h_eventfd_fired(f->msix[2], FIRE_MS));
	assert_int_equal(set_irqs(f, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
	                          VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL, NULL),
	                 0);
	raise_vector(f, 0);
	raise_vector(f, 2);
	assert_none_fired(f);
}

/* A vector without an eventfd falls back to INTx. */
static void test_msix_falls_back_to_intx(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
	    set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &f->intx), 0);
	assert_int_equal(
	    set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 1, 1, NULL, &f->msix[1]), 0);
	raise_vector(f, 1);
	assert_true(h_eventfd_fired(f->msix[1], FIRE_MS));
	assert_false(fired_now(f->intx));
	raise_vector(f, 3);
	assert_true(h_eventfd_fired(f->intx, FIRE_MS));
	assert_none_fired(f);
}

static void unmask(struct fixture *f, uint32_t data)
{
	static const uint8_t yes = 1;

	assert_int_equal(set_irqs(f, data | VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX, 0,
	                          1, data == VFIO_IRQ_SET_DATA_BOOL ? &yes : NULL, NULL),
	                 0);
}

/* INTx masks itself when it fires; one raised meanwhile fires on unmask. */
static void test_intx_automask(void **state)
{
	struct fixture *f = *state;
	static const uint8_t no = 0;

	assert_int_equal(
	    set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &f->intx), 0);
	raise_vector(f, 0);
	assert_true(h_eventfd_fired(f->intx, FIRE_MS));
	raise_vector(f, 0);
	assert_false(fired_now(f->intx)); /* masked: held */
	unmask(f, VFIO_IRQ_SET_DATA_NONE);
	assert_true(h_eventfd_fired(f->intx, FIRE_MS)); /* and masked again */
	raise_vector(f, 0);
	assert_false(fired_now(f->intx));
	assert_int_equal(set_irqs(f, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK,
	                          VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &no, NULL),
	                 0);
	assert_false(fired_now(f->intx)); /* a false bool does nothing */
	unmask(f, VFIO_IRQ_SET_DATA_BOOL);
	assert_true(h_eventfd_fired(f->intx, FIRE_MS));
	unmask(f, VFIO_IRQ_SET_DATA_NONE);
	assert_false(fired_now(f->intx)); /* nothing pending */
	/* An explicit mask holds the next one too. */
	assert_int_equal(set_irqs(f, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
	                          VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, NULL),
	                 0);
	raise_vector(f, 0);
	assert_false(fired_now(f->intx));
	unmask(f, VFIO_IRQ_SET_DATA_NONE);
	assert_true(h_eventfd_fired(f->intx, FIRE_MS));
}

/* An unmask eventfd, as QEMU's resamplefd: signalling it unmasks. */
static void test_intx_unmask_eventfd(void **state)
{
	struct fixture *f = *state;
	int ufd = eventfd(0, EFD_CLOEXEC), none = -1, i;

	assert_int_equal(
	    set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &f->intx), 0);
	assert_int_equal(set_irqs(f, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
	                          VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &ufd),
	                 0);
	/* The watcher unmasks asynchronously; a raise that meets the line
	 * still masked is held and fires when it gets there, so each raise
	 * below fires within the bound either way. */
	for (i = 0; i < 3; i++) {
		raise_vector(f, 0);
		assert_true(h_eventfd_fired(f->intx, FIRE_MS));
		raise_vector(f, 0);
		assert_false(fired_now(f->intx)); /* masked by the one that fired */
		assert_int_equal(eventfd_write(ufd, 1), 0);
		assert_true(h_eventfd_fired(f->intx, FIRE_MS)); /* the held one */
		assert_int_equal(eventfd_write(ufd, 1), 0);
	}
	assert_int_equal(set_irqs(f, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
	                          VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &none),
	                 0);
	close(ufd);
}

static void test_intx_disable_bit(void **state)
{
	struct fixture *f = *state;
	uint16_t cmd = PCI_COMMAND_INTX_DISABLE;

	assert_int_equal(
	    set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &f->intx), 0);
	assert_int_equal(vu_region_write(f->c, NULL, 7, PCI_COMMAND, &cmd, 2), 0);
	raise_vector(f, 0);
	assert_false(fired_now(f->intx));
	cmd = 0;
	assert_int_equal(vu_region_write(f->c, NULL, 7, PCI_COMMAND, &cmd, 2), 0);
	raise_vector(f, 0);
	assert_true(h_eventfd_fired(f->intx, FIRE_MS));
}

/* DATA_NONE and DATA_BOOL triggers signal the eventfds themselves. */
static void test_loopback(void **state)
{
	struct fixture *f = *state;
	static const uint8_t odd[EXDEV_MSIX_VECTORS] = {0, 1, 0, 1}, yes = 1, no = 0;
	const uint32_t none = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	const uint32_t bools = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER;
	uint32_t idx;

	assert_int_equal(set_irqs(f, none, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, NULL), -EINVAL);
	assert_int_equal(
	    set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &f->intx), 0);
	assert_int_equal(set_irqs(f, none, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, NULL), 0);
	assert_true(h_eventfd_fired(f->intx, FIRE_MS));
	assert_int_equal(set_irqs(f, bools, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &no, NULL), 0);
	assert_false(fired_now(f->intx));
	assert_int_equal(set_irqs(f, bools, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &yes, NULL), 0);
	assert_true(h_eventfd_fired(f->intx, FIRE_MS));

	assert_int_equal(set_irqs(f, none, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, NULL, NULL), -EINVAL);
	assert_int_equal(set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0,
	                          EXDEV_MSIX_VECTORS, NULL, f->msix),
	                 0);
	assert_int_equal(
	    set_irqs(f, bools, VFIO_PCI_MSIX_IRQ_INDEX, 0, EXDEV_MSIX_VECTORS, odd, NULL), 0);
	assert_true(h_eventfd_fired(f->msix[1], FIRE_MS));
	assert_true(h_eventfd_fired(f->msix[3], FIRE_MS));
	assert_none_fired(f);
	assert_int_equal(set_irqs(f, none, VFIO_PCI_MSIX_IRQ_INDEX, 2, 1, NULL, NULL), 0);
	assert_true(h_eventfd_fired(f->msix[2], FIRE_MS));

	for (idx = VFIO_PCI_ERR_IRQ_INDEX; idx <= VFIO_PCI_REQ_IRQ_INDEX; idx++) {
		assert_int_equal(set_irqs(f, none, idx, 0, 1, NULL, NULL), -EINVAL);
		assert_int_equal(set_irqs(f, TRIGGER_EVENTFD, idx, 0, 1, NULL, &f->intx), 0);
		assert_int_equal(set_irqs(f, none, idx, 0, 1, NULL, NULL), 0);
		assert_true(h_eventfd_fired(f->intx, FIRE_MS));
		assert_int_equal(set_irqs(f, bools, idx, 0, 1, &yes, NULL), 0);
		assert_true(h_eventfd_fired(f->intx, FIRE_MS));
		assert_int_equal(set_irqs(f, none, idx, 0, 0, NULL, NULL), 0); /* de-assign */
		assert_int_equal(set_irqs(f, none, idx, 0, 1, NULL, NULL), -EINVAL);
	}
}

static void test_set_irqs_errors(void **state)
{
	struct fixture *f = *state;
	const uint32_t none = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	int pipefd[2];

	assert_int_equal(pipe(pipefd), 0);
	/* The device has no MSI; no index 5. */
	assert_int_equal(set_irqs(f, none, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL, NULL), -EINVAL);
	assert_int_equal(set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, &f->intx),
	                 -EINVAL);
	assert_int_equal(set_irqs(f, none, VFIO_PCI_NUM_IRQS, 0, 1, NULL, NULL), -EINVAL);
	/* Out of range. */
	assert_int_equal(set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 3, 2, NULL, f->msix),
	                 -EINVAL);
	assert_int_equal(set_irqs(f, none, VFIO_PCI_INTX_IRQ_INDEX, 1, 1, NULL, NULL), -EINVAL);
	/* What vfio-pci does not implement. */
	assert_int_equal(set_irqs(f, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
	                          VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, NULL, NULL),
	                 -ENOTTY);
	assert_int_equal(set_irqs(f, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK,
	                          VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &f->intx),
	                 -ENOTTY);
	assert_int_equal(set_irqs(f, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
	                          VFIO_PCI_ERR_IRQ_INDEX, 0, 1, NULL, NULL),
	                 -ENOTTY);
	/* Two actions at once; an fd that is not an eventfd. */
	assert_int_equal(
	    set_irqs(f,
	             VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK,
	             VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, NULL),
	    -EINVAL);
	assert_int_equal(
	    set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &pipefd[1]), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_int_equal(h_rd32(f->c, EXDEV_REG_ID), EXDEV_ID_VALUE);
}

static void test_reset_disables_irqs(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0,
	                          EXDEV_MSIX_VECTORS, NULL, f->msix),
	                 0);
	assert_int_equal(
	    set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &f->intx), 0);
	assert_int_equal(vu_device_reset(f->c, NULL), 0);
	/* The reset cleared the command register too: set up again, as a
	 * driver does after a reset. */
	h_pci_command(f->c, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	raise_vector(f, 1);
	assert_none_fired(f);
	assert_int_equal(set_irqs(f, TRIGGER_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0,
	                          EXDEV_MSIX_VECTORS, NULL, f->msix),
	                 0);
	raise_vector(f, 1);
	assert_true(h_eventfd_fired(f->msix[1], FIRE_MS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_msix_vectors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msix_vectors, setup_one_fd, teardown),
	    cmocka_unit_test_setup_teardown(test_msix_on_dma, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msix_needs_bus_master, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msix_deassign, setup_one_fd, teardown),
	    cmocka_unit_test_setup_teardown(test_msix_falls_back_to_intx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_intx_automask, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_intx_unmask_eventfd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_intx_disable_bit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_irqs_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_disables_irqs, setup, teardown),
	};

	return cmocka_run_group_tests_name("integration: interrupts", tests, NULL, NULL);
}
