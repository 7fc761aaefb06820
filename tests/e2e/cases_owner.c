// SPDX-License-Identifier: MIT
/*
 * Ownership: one open file of the node at a time, like an open VFIO group;
 * its last close hands the device back clean (no DMA mappings, no eventfds).
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "vfio_node.h"

#define IOVA_A   0x100000000ull
#define IOVA_B   0x200000000ull
#define BUF_SIZE (1u << 20)
#define CHILD_MS 60000

/* Run FN in a child process; its exit code, or -1 if it did not finish. */
static int in_child(struct e2e *t, int (*fn)(struct e2e *t, void *arg), void *arg)
{
	pid_t pid = procs_fork(&t->procs);

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(fn(t, arg) ? 1 : 0);
	return procs_exit_code(&t->procs, pid, CHILD_MS);
}

static int open_elsewhere(struct e2e *t, void *arg)
{
	int fd = node_open(t->node);

	CHECK(fd == -EBUSY, "second process opened the node: %s",
	      fd >= 0 ? "success" : strerror(-fd));
	return 0;
}

int case_ebusy(struct e2e *t)
{
	uint32_t v;
	int fd = node_open(t->node), fd2;

	CHECK(fd >= 0, "open %s: %s", t->node, strerror(-fd));
	CHECK(in_child(t, open_elsewhere, NULL) == 0, "another process was not refused with EBUSY");
	/* One open at a time, as a VFIO group: the owner's own second open too. */
	fd2 = node_open(t->node);
	CHECK(fd2 == -EBUSY, "a second open by the owner itself: %s",
	      fd2 >= 0 ? "success" : strerror(-fd2));
	CHECK_OK(reg_read(fd, EXDEV_REG_ID, &v));
	CHECK(v == EXDEV_ID_VALUE);
	close(fd);
	return 0;
}

/* The first owner: maps memory both ways, hands over an eventfd, exits without cleaning up. */
static int first_owner(struct e2e *t, void *arg)
{
	int32_t efd = *(int32_t *)arg;
	uint8_t *a = buf_memfd(BUF_SIZE), *b = buf_anon(BUF_SIZE);
	uint32_t status;
	int fd = node_open(t->node);

	CHECK(fd >= 0, "first owner: open: %s", strerror(-fd));
	CHECK(a && b);
	CHECK_OK(pci_enable(fd));
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(dma_map(fd, a, IOVA_A, BUF_SIZE));
	CHECK_OK(dma_map(fd, b, IOVA_B, BUF_SIZE));
	CHECK_OK(dma_run(fd, IOVA_A, 0, 4096, EXDEV_DMA_CMD_DST_BAR2, &status));
	CHECK(status & EXDEV_STATUS_DMA_DONE, "first owner's DMA: STATUS 0x%x", status);
	CHECK_OK(dma_run(fd, IOVA_B, 0, 4096, EXDEV_DMA_CMD_DST_BAR2, &status));
	CHECK(status & EXDEV_STATUS_DMA_DONE, "first owner's DMA: STATUS 0x%x", status);
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &efd));
	return 0;
}

int case_release(struct e2e *t)
{
	int32_t old = efd_new(), fresh = efd_new();
	uint8_t *buf = buf_memfd(BUF_SIZE);
	uint32_t status;
	uint64_t n;
	int fd;

	CHECK(old >= 0 && fresh >= 0 && buf);
	CHECK(in_child(t, first_owner, &old) == 0, "first owner failed");
	/* Its exit closed the node; the close returns once the daemon released it. */
	fd = node_open(t->node);
	CHECK(fd >= 0, "open after the owner exited: %s", strerror(-fd));
	CHECK_OK(pci_enable(fd));
	CHECK_OK(iommu_setup(fd));
	CHECK_OK(dma_run(fd, IOVA_A, 0, 4096, EXDEV_DMA_CMD_DST_BAR2, &status));
	CHECK(status & EXDEV_STATUS_DMA_ERROR, "old memfd mapping still reachable: STATUS 0x%x",
	      status);
	CHECK_OK(dma_run(fd, IOVA_B, 0, 4096, EXDEV_DMA_CMD_DST_BAR2, &status));
	CHECK(status & EXDEV_STATUS_DMA_ERROR, "old anonymous mapping still reachable: STATUS 0x%x",
	      status);
	/* The old eventfd is gone from the device: vector 0 stays quiet. */
	CHECK_OK(irq_eventfds(fd, VFIO_PCI_MSIX_IRQ_INDEX, 1, 1, &fresh));
	CHECK_OK(reg_write(fd, EXDEV_REG_IRQ_VECTOR, 0));
	CHECK_OK(reg_write(fd, EXDEV_REG_IRQ_RAISE, 1));
	CHECK_OK(reg_write(fd, EXDEV_REG_IRQ_VECTOR, 1));
	CHECK_OK(reg_write(fd, EXDEV_REG_IRQ_RAISE, 1));
	CHECK_OK(efd_wait(fresh, WAIT_MS, &n));
	CHECK_OK(efd_peek(old, &n));
	CHECK(n == 0, "the first owner's eventfd still fires");
	/* The same IOVA maps again without EEXIST: the daemon's table is empty too. */
	CHECK_OK(dma_map(fd, buf, IOVA_A, BUF_SIZE));
	CHECK_OK(dma_run(fd, IOVA_A, 0, 4096, EXDEV_DMA_CMD_DST_BAR2, &status));
	CHECK(status & EXDEV_STATUS_DMA_DONE, "new owner's DMA: STATUS 0x%x", status);
	close(fd);
	return 0;
}
