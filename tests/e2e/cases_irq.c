// SPDX-License-Identifier: MIT
/*
 * Interrupts: eventfds the program hands over with SET_IRQS are signalled by
 * the server directly. The example device raises MSI-X vector IRQ_VECTOR when
 * that vector has an eventfd and INTx otherwise. Every check below waits for
 * something that must happen, and "did not fire" is only checked after a
 * later interrupt proved the earlier raise was processed (the device raises
 * in order, before it answers any later request). INTx and MSI-X are never
 * enabled together: vfio-pci refuses that.
 */
#include <sys/ioctl.h>
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "vfio_node.h"

static int raise_vector(int fd, uint32_t vector)
{
	int ret = reg_write(fd, EXDEV_REG_IRQ_VECTOR, vector);

	return ret ? ret : reg_write(fd, EXDEV_REG_IRQ_RAISE, 1);
}

static int expect_fired(int efd, const char *what)
{
	uint64_t n = 0;
	int ret = efd_wait(efd, WAIT_MS, &n);

	CHECK(ret == 0, "%s: no interrupt within %d ms (%s)", what, WAIT_MS, strerror(-ret));
	CHECK(n >= 1, "%s: counter %llu", what, (unsigned long long)n);
	return 0;
}

static int expect_quiet(int efd, const char *what)
{
	uint64_t n = 0;

	CHECK_OK(efd_peek(efd, &n));
	CHECK(n == 0, "%s fired %llu times, expected none", what, (unsigned long long)n);
	return 0;
}

int case_msix(struct e2e *t)
{
	int32_t efd[EXDEV_MSIX_VECTORS];
	uint32_t status;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK_OK(pci_enable(fd)); /* MSI-X needs bus mastering */
	for (int v = 0; v < EXDEV_MSIX_VECTORS; v++)
		CHECK((efd[v] = efd_new()) >= 0);
	/* All vectors in one SET_IRQS: more fds than a server may take per message. */
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, EXDEV_MSIX_VECTORS, efd));
	for (int v = 0; v < EXDEV_MSIX_VECTORS; v++) {
		CHECK_OK(raise_vector(fd, v));
		CHECK(expect_fired(efd[v], "MSI-X vector") == 0, "vector %d", v);
		for (int o = 0; o < EXDEV_MSIX_VECTORS; o++)
			CHECK(o == v || expect_quiet(efd[o], "another vector") == 0, "vector %d",
			      o);
	}
	/* A completed DMA raises the vector too. */
	CHECK_OK(reg_write(fd, EXDEV_REG_IRQ_VECTOR, 2));
	CHECK_OK(reg_write(fd, EXDEV_REG_IRQ_CTRL, EXDEV_IRQ_CTRL_ON_DMA));
	CHECK_OK(
	    dma_run(fd, 0, 4096, 4096, EXDEV_DMA_CMD_SRC_BAR2 | EXDEV_DMA_CMD_DST_BAR2, &status));
	CHECK(status & EXDEV_STATUS_DMA_DONE, "STATUS 0x%x", status);
	CHECK(expect_fired(efd[2], "MSI-X on DMA completion") == 0);
	CHECK_OK(irq_none(fd, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	for (int v = 0; v < EXDEV_MSIX_VECTORS; v++)
		close(efd[v]);
	close(fd);
	return 0;
}

int case_intx(struct e2e *t)
{
	int32_t efd = efd_new();
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK(efd >= 0);
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &efd));
	CHECK_OK(raise_vector(fd, 0));
	CHECK(expect_fired(efd, "INTx") == 0);
	/* INTx is now masked by the device (AUTOMASKED): a second raise waits. */
	CHECK_OK(raise_vector(fd, 0));
	CHECK(expect_quiet(efd, "masked INTx") == 0);
	CHECK_OK(irq_none(fd, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1));
	CHECK(expect_fired(efd, "INTx pending at unmask") == 0);
	CHECK_OK(irq_none(fd, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1));
	CHECK_OK(raise_vector(fd, 0));
	CHECK(expect_fired(efd, "INTx after unmask") == 0);
	CHECK_OK(irq_none(fd, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	close(efd);
	close(fd);
	return 0;
}

int case_irq_deassign(struct e2e *t)
{
	int32_t v0 = efd_new(), v1 = efd_new(), none = -1;
	int32_t both[2] = {v0, v1};
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK_OK(pci_enable(fd)); /* MSI-X needs bus mastering */
	CHECK(v0 >= 0 && v1 >= 0);
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, both));
	CHECK_OK(raise_vector(fd, 0));
	CHECK(expect_fired(v0, "vector 0") == 0);
	/* -1 takes vector 0's eventfd away; vector 1 keeps its own. */
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &none));
	CHECK_OK(raise_vector(fd, 0));
	CHECK_OK(raise_vector(fd, 1));
	CHECK(expect_fired(v1, "vector 1 after vector 0 was de-assigned") == 0);
	CHECK(expect_quiet(v0, "de-assigned vector 0") == 0);
	/* Assigning again works. */
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &v0));
	CHECK_OK(raise_vector(fd, 0));
	CHECK(expect_fired(v0, "vector 0 assigned again") == 0);
	CHECK(expect_quiet(v1, "vector 1") == 0);
	CHECK_OK(irq_none(fd, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	close(fd);
	return 0;
}

int case_irq_disable(struct e2e *t)
{
	int32_t efd[EXDEV_MSIX_VECTORS], fresh = efd_new();
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK_OK(pci_enable(fd)); /* MSI-X needs bus mastering */
	CHECK(fresh >= 0);
	for (int v = 0; v < EXDEV_MSIX_VECTORS; v++)
		CHECK((efd[v] = efd_new()) >= 0);
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, EXDEV_MSIX_VECTORS, efd));
	CHECK_OK(raise_vector(fd, 3));
	CHECK(expect_fired(efd[3], "vector 3") == 0);
	/* DATA_NONE, ACTION_TRIGGER, count 0: every MSI-X eventfd goes. */
	CHECK_OK(irq_none(fd, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	for (int v = 0; v < EXDEV_MSIX_VECTORS; v++)
		CHECK_OK(raise_vector(fd, v));
	/* Vector 1 again, with a new eventfd: it fires, the old ones stay quiet. */
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 1, 1, &fresh));
	CHECK_OK(raise_vector(fd, 1));
	CHECK(expect_fired(fresh, "vector 1 enabled again") == 0);
	for (int v = 0; v < EXDEV_MSIX_VECTORS; v++)
		CHECK(expect_quiet(efd[v], "disabled MSI-X vector") == 0, "vector %d", v);
	CHECK_OK(irq_none(fd, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	close(fd);
	return 0;
}

/* SET_IRQS DATA_BOOL: one byte per vector, true triggers it. */
static int irq_bools(int fd, uint32_t index, uint32_t start, uint32_t count, const uint8_t *b)
{
	char buf[sizeof(struct vfio_irq_set) + 8];
	struct vfio_irq_set *set = (void *)buf;

	*set = (struct vfio_irq_set){
	    .argsz = sizeof(*set) + count,
	    .flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
	    .index = index,
	    .start = start,
	    .count = count,
	};
	memcpy(set->data, b, count);
	return ioctl(fd, VFIO_DEVICE_SET_IRQS, set) < 0 ? -errno : 0;
}

/* Triggers from the program (DATA_NONE, DATA_BOOL) signal the eventfds as
 * the device would, as vfio-pci's loopback does; ERR and REQ too. */
int case_irq_trigger(struct e2e *t)
{
	int32_t efd[EXDEV_MSIX_VECTORS], err = efd_new(), req = efd_new();
	static const uint8_t some[EXDEV_MSIX_VECTORS] = {0, 1, 0, 1};
	int fd = node_open(t->node);

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK(err >= 0 && req >= 0);
	for (int v = 0; v < EXDEV_MSIX_VECTORS; v++)
		CHECK((efd[v] = efd_new()) >= 0);
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, EXDEV_MSIX_VECTORS, efd));
	CHECK_OK(irq_none(fd, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 2, 1));
	CHECK(expect_fired(efd[2], "DATA_NONE trigger of vector 2") == 0);
	CHECK_OK(irq_bools(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, EXDEV_MSIX_VECTORS, some));
	CHECK(expect_fired(efd[1], "DATA_BOOL trigger of vector 1") == 0);
	CHECK(expect_fired(efd[3], "DATA_BOOL trigger of vector 3") == 0);
	CHECK(expect_quiet(efd[0], "vector 0 (false)") == 0);
	CHECK(expect_quiet(efd[2], "vector 2 (false)") == 0);
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, &err));
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, &req));
	CHECK_OK(irq_none(fd, VFIO_PCI_ERR_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
	CHECK(expect_fired(err, "ERR trigger") == 0);
	CHECK_OK(irq_none(fd, VFIO_PCI_REQ_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
	CHECK(expect_fired(req, "REQ trigger") == 0);
	CHECK_OK(irq_none(fd, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	close(fd);
	return 0;
}
