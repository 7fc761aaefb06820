// SPDX-License-Identifier: MIT
/*
 * Interrupts, with the semantics of vfio-pci's SET_IRQS: INTx (maskable,
 * automasked, unmask also by eventfd), MSI-X (no masking through SET_IRQS,
 * as in the kernel), ERR and REQ (one trigger each). DATA_NONE and DATA_BOOL
 * triggers are loopback: they signal the eventfd as the device would.
 *
 * The INTx unmask eventfd is watched by a thread, the only code that runs
 * off the vu_serve thread, so INTx state is under irqs->lock.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "device.h"

#define WATCH_POLL_MS 1000

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void signal_fd(const struct exdev_irqs *irqs, int fd, const char *what)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		vu_log(irqs->log, VU_LOG_WARN, "%s: eventfd write: %s", what, strerror(errno));
}

int exdev_irqs_init(struct exdev_irqs *irqs, const struct vu_log *log)
{
	int v;

	memset(irqs, 0, sizeof(*irqs));
	irqs->log = log;
	irqs->intx.trigger = -1;
	irqs->intx.unmask_fd = -1;
	irqs->intx.stop_fd = -1;
	for (v = 0; v < EXDEV_MSIX_VECTORS; v++)
		irqs->msix[v] = -1;
	irqs->err = -1;
	irqs->req = -1;
	return -pthread_mutex_init(&irqs->lock, NULL);
}

void exdev_irqs_fini(struct exdev_irqs *irqs)
{
	exdev_irqs_reset(irqs, true);
	pthread_mutex_destroy(&irqs->lock);
}

int exdev_irq_info(void *dev, uint32_t index, struct vfio_user_irq_info *info)
{
	struct exdev *d = dev;

	info->index = index;
	info->flags = VFIO_IRQ_INFO_EVENTFD;
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		info->flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
		info->count = 1;
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
		info->flags |= VFIO_IRQ_INFO_NORESIZE;
		info->count = 0;
		break;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		info->flags |= VFIO_IRQ_INFO_NORESIZE;
		info->count = EXDEV_MSIX_VECTORS;
		break;
	case VFIO_PCI_ERR_IRQ_INDEX:
	case VFIO_PCI_REQ_IRQ_INDEX:
		info->flags |= VFIO_IRQ_INFO_NORESIZE;
		info->count = 1;
		break;
	default:
		vu_log(d->log, VU_LOG_WARN, "IRQ info: no IRQ index %u", index);
		return -EINVAL;
	}
	info->argsz = sizeof(*info);
	return 0;
}

/* Called with the lock held. */
static void intx_assert(struct exdev_irqs *irqs)
{
	struct exdev_intx *x = &irqs->intx;

	if (x->trigger < 0) {
		vu_log(irqs->log, VU_LOG_DEBUG, "INTx raised with no eventfd: dropped");
	} else if (x->masked) {
		x->pending = true;
	} else {
		signal_fd(irqs, x->trigger, "INTx");
		x->masked = true;
	}
}

/* Called with the lock held. A line raised while masked fires now. */
static void intx_unmask(struct exdev_irqs *irqs)
{
	struct exdev_intx *x = &irqs->intx;

	if (!x->masked)
		return;
	x->masked = false;
	if (x->pending) {
		x->pending = false;
		intx_assert(irqs);
	}
}

void exdev_irq_raise(struct exdev *d, uint32_t vector)
{
	struct exdev_irqs *irqs = &d->irqs;

	pthread_mutex_lock(&irqs->lock);
	if (vector < EXDEV_MSIX_VECTORS && irqs->msix[vector] >= 0) {
		/* An MSI-X message is a memory write by the device: with bus
		 * mastering off it is not sent (and not held: no PBA here). */
		if (exdev_config_bus_master(d))
			signal_fd(irqs, irqs->msix[vector], "MSI-X");
		else
			vu_log(irqs->log, VU_LOG_WARN, "MSI-X vector %u not sent: bus master off",
			       vector);
	} else if (!exdev_config_intx_disabled(d)) {
		intx_assert(irqs);
	}
	pthread_mutex_unlock(&irqs->lock);
}

static void *unmask_watch(void *arg)
{
	struct exdev_irqs *irqs = arg;
	struct pollfd p[2] = {
	    {.fd = irqs->intx.unmask_fd, .events = POLLIN},
	    {.fd = irqs->intx.stop_fd, .events = POLLIN},
	};
	uint64_t v;

	for (;;) {
		if (poll(p, 2, WATCH_POLL_MS) < 0 && errno != EINTR)
			break;
		if (p[1].revents || (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)))
			break;
		if ((p[0].revents & POLLIN) && read(p[0].fd, &v, sizeof(v)) == sizeof(v)) {
			pthread_mutex_lock(&irqs->lock);
			intx_unmask(irqs);
			pthread_mutex_unlock(&irqs->lock);
		}
	}
	return NULL;
}

static void watch_stop(struct exdev_irqs *irqs)
{
	struct exdev_intx *x = &irqs->intx;

	if (x->watching) {
		eventfd_write(x->stop_fd, 1);
		pthread_join(x->watcher, NULL);
		x->watching = false;
	}
	close_fd(&x->unmask_fd);
	close_fd(&x->stop_fd);
}

static int watch_start(struct exdev_irqs *irqs, int fd)
{
	struct exdev_intx *x = &irqs->intx;
	int err;

	x->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (x->stop_fd < 0)
		return -errno;
	x->unmask_fd = fd;
	err = pthread_create(&x->watcher, NULL, unmask_watch, irqs);
	if (err) {
		x->unmask_fd = -1;
		close_fd(&x->stop_fd);
		return -err;
	}
	x->watching = true;
	return 0;
}

void exdev_irqs_reset(struct exdev_irqs *irqs, bool all_fds)
{
	int v;

	watch_stop(irqs);
	pthread_mutex_lock(&irqs->lock);
	close_fd(&irqs->intx.trigger);
	irqs->intx.masked = false;
	irqs->intx.pending = false;
	for (v = 0; v < EXDEV_MSIX_VECTORS; v++)
		close_fd(&irqs->msix[v]);
	if (all_fds) {
		close_fd(&irqs->err);
		close_fd(&irqs->req);
	}
	pthread_mutex_unlock(&irqs->lock);
}

/* What one SET_IRQS asks, after validation. */
struct irq_req {
	uint32_t data;   /* VFIO_IRQ_SET_DATA_* */
	uint32_t action; /* VFIO_IRQ_SET_ACTION_* */
	uint32_t start;
	uint32_t count;
	const uint8_t *bools;
	int *fds; /* count entries, or NULL to de-assign */
};

static bool bool_at(const struct irq_req *r, uint32_t i)
{
	return r->data == VFIO_IRQ_SET_DATA_NONE || r->bools[i];
}

/* Take ownership of fds[i] (the caller closes what is left). */
static int take(struct irq_req *r, uint32_t i)
{
	int fd;

	if (!r->fds)
		return -1;
	fd = r->fds[i];
	r->fds[i] = -1;
	return fd;
}

static int intx_trigger(struct exdev_irqs *irqs, struct irq_req *r)
{
	struct exdev_intx *x = &irqs->intx;

	if (r->data == VFIO_IRQ_SET_DATA_EVENTFD) {
		int fd = take(r, 0);

		if (x->trigger < 0) {
			/* Enabling INTx starts unmasked, as vfio-pci does. */
			x->masked = false;
			x->pending = false;
		}
		close_fd(&x->trigger);
		x->trigger = fd;
		return 0;
	}
	if (x->trigger < 0)
		return -EINVAL;
	if (bool_at(r, 0))
		signal_fd(irqs, x->trigger, "INTx loopback");
	return 0;
}

static int intx_set(struct exdev_irqs *irqs, struct irq_req *r)
{
	if (r->action == VFIO_IRQ_SET_ACTION_TRIGGER && r->data == VFIO_IRQ_SET_DATA_NONE &&
	    !r->count) {
		close_fd(&irqs->intx.trigger);
		irqs->intx.masked = false;
		irqs->intx.pending = false;
		return 0;
	}
	if (r->start || r->count != 1)
		return -EINVAL;
	if (r->action == VFIO_IRQ_SET_ACTION_TRIGGER)
		return intx_trigger(irqs, r);
	if (r->data == VFIO_IRQ_SET_DATA_EVENTFD)
		return -ENOTTY; /* a mask eventfd: vfio-pci has none either */
	if (!bool_at(r, 0))
		return 0;
	if (r->action == VFIO_IRQ_SET_ACTION_MASK)
		irqs->intx.masked = true;
	else
		intx_unmask(irqs);
	return 0;
}

static bool msix_enabled(const struct exdev_irqs *irqs)
{
	int v;

	for (v = 0; v < EXDEV_MSIX_VECTORS; v++) {
		if (irqs->msix[v] >= 0)
			return true;
	}
	return false;
}

static int msix_set(struct exdev_irqs *irqs, struct irq_req *r)
{
	uint32_t i;

	if (r->action != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -ENOTTY; /* vfio-pci exports no MSI-X masking */
	if (r->data == VFIO_IRQ_SET_DATA_NONE && !r->count) {
		for (i = 0; i < EXDEV_MSIX_VECTORS; i++)
			close_fd(&irqs->msix[i]);
		return 0;
	}
	if (r->data == VFIO_IRQ_SET_DATA_EVENTFD) {
		for (i = 0; i < r->count; i++) {
			close_fd(&irqs->msix[r->start + i]);
			irqs->msix[r->start + i] = take(r, i);
		}
		return 0;
	}
	if (!msix_enabled(irqs))
		return -EINVAL;
	for (i = 0; i < r->count; i++) {
		int fd = irqs->msix[r->start + i];

		if (fd >= 0 && bool_at(r, i))
			signal_fd(irqs, fd, "MSI-X loopback");
	}
	return 0;
}

/* ERR and REQ: one eventfd each, as vfio_pci_set_ctx_trigger_single. */
static int single_set(struct exdev_irqs *irqs, int *ctx, struct irq_req *r)
{
	if (r->action != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -ENOTTY;
	if (r->data == VFIO_IRQ_SET_DATA_NONE) {
		if (*ctx < 0)
			return -EINVAL;
		if (r->count)
			signal_fd(irqs, *ctx, "ERR/REQ loopback");
		else
			close_fd(ctx);
		return 0;
	}
	if (!r->count)
		return -EINVAL;
	if (r->data == VFIO_IRQ_SET_DATA_BOOL) {
		if (r->bools[0] && *ctx >= 0)
			signal_fd(irqs, *ctx, "ERR/REQ loopback");
		return 0;
	}
	close_fd(ctx);
	*ctx = take(r, 0);
	return 0;
}

static int intx_unmask_fd(struct exdev_irqs *irqs, struct irq_req *r)
{
	int fd = take(r, 0);
	int err;

	if (r->start || r->count != 1) {
		close_fd(&fd);
		return -EINVAL;
	}
	watch_stop(irqs);
	if (fd < 0)
		return 0;
	err = watch_start(irqs, fd);
	if (err)
		close(fd);
	return err;
}

static bool one_bit(uint32_t v)
{
	return v && !(v & (v - 1));
}

static bool is_eventfd(int fd)
{
	char path[32], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

/* As vfio_set_irqs_validate_and_prepare; disable-all (DATA_NONE, 0+0) has no range. */
static int check_set(struct exdev *d, const struct vfio_user_irq_set *set, int *fds, size_t nr_fds)
{
	bool disable_all = (set->flags & VFIO_IRQ_SET_DATA_NONE) && !set->start && !set->count;
	const uint32_t known = VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK;
	struct vfio_user_irq_info info;
	size_t i;

	if ((set->flags & ~known) || !one_bit(set->flags & VFIO_IRQ_SET_DATA_TYPE_MASK) ||
	    !one_bit(set->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK)) {
		vu_log(d->log, VU_LOG_WARN, "SET_IRQS: bad flags 0x%x", set->flags);
		return -EINVAL;
	}
	if (exdev_irq_info(d, set->index, &info))
		return -EINVAL;
	if (disable_all && set->index != VFIO_PCI_MSI_IRQ_INDEX)
		return 0;
	if (set->start >= info.count || set->count > info.count - set->start) {
		vu_log(d->log, VU_LOG_WARN, "SET_IRQS: index %u has %u IRQs, not %u+%u", set->index,
		       info.count, set->start, set->count);
		return -EINVAL;
	}
	if (nr_fds && (!(set->flags & VFIO_IRQ_SET_DATA_EVENTFD) || nr_fds != set->count)) {
		vu_log(d->log, VU_LOG_WARN, "SET_IRQS: %zu fds for count %u", nr_fds, set->count);
		return -EINVAL;
	}
	for (i = 0; i < nr_fds; i++) {
		if (!is_eventfd(fds[i])) {
			vu_log(d->log, VU_LOG_WARN, "SET_IRQS: fd %zu is not an eventfd", i);
			return -EINVAL;
		}
	}
	return 0;
}

static int dispatch(struct exdev *d, uint32_t index, struct irq_req *r)
{
	struct exdev_irqs *irqs = &d->irqs;
	int err;

	if (index == VFIO_PCI_INTX_IRQ_INDEX && r->action == VFIO_IRQ_SET_ACTION_UNMASK &&
	    r->data == VFIO_IRQ_SET_DATA_EVENTFD)
		return intx_unmask_fd(irqs, r); /* joins the watcher: not under the lock */
	pthread_mutex_lock(&irqs->lock);
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		err = intx_set(irqs, r);
		break;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		err = msix_set(irqs, r);
		break;
	case VFIO_PCI_ERR_IRQ_INDEX:
		err = single_set(irqs, &irqs->err, r);
		break;
	case VFIO_PCI_REQ_IRQ_INDEX:
		err = single_set(irqs, &irqs->req, r);
		break;
	default:
		err = -EINVAL; /* MSI: the device has no MSI capability */
		break;
	}
	pthread_mutex_unlock(&irqs->lock);
	return err;
}

int exdev_set_irqs(void *dev, const struct vfio_user_irq_set *set, const uint8_t *data, int *fds,
                   size_t nr_fds)
{
	struct exdev *d = dev;
	struct irq_req r = {
	    .data = set->flags & VFIO_IRQ_SET_DATA_TYPE_MASK,
	    .action = set->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK,
	    .start = set->start,
	    .count = set->count,
	    .bools = data,
	    .fds = nr_fds ? fds : NULL,
	};
	size_t i;
	int err;

	err = check_set(d, set, fds, nr_fds);
	if (!err)
		err = dispatch(d, set->index, &r);
	if (err)
		vu_log(d->log, VU_LOG_WARN, "SET_IRQS index %u flags 0x%x %u+%u: %s", set->index,
		       set->flags, set->start, set->count, strerror(-err));
	for (i = 0; i < nr_fds; i++)
		close_fd(&fds[i]);
	return err;
}
