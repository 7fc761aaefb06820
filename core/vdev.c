// SPDX-License-Identifier: MIT
/*
 * A device node's life: its connection to the server (and the reconnect when
 * the server goes away), the process that owns it, and the cleanup when that
 * process closes its last fd.
 *
 * Connections have generations. A disconnect ends one: every call on it, and
 * every later call on a file opened under it, fails with EIO, and the
 * device's state (owner, DMA table, armed IRQs) is dropped since the server
 * forgot it too. A reconnect thread retries with backoff; once back it
 * resets the device and refreshes the info cache, so the next open works.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vdev-internal.h"

#define RECONNECT_FIRST_MS 100
#define RECONNECT_MAX_MS   5000
/* How long an open waits for the previous owner's cleanup, beyond one
 * request timeout. */
#define OPEN_WAIT_SLACK_MS 1000

void vdev_log(const struct vdev *d, enum vu_log_level lvl, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (d->log && lvl > d->log->level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vu_log(d->log, lvl, "%s: %s", d->name, line);
}

int vdev_errno(struct vdev *d, int err)
{
	if (err == -ENOTCONN || err == -EPROTO)
		return -EIO;
	return err;
}

struct vu_call_opts vdev_call_opts(const struct vdev *d, const struct vreq *r)
{
	return (struct vu_call_opts){.timeout_ms = d->timeout_ms, .cancel = r ? r->cancel : NULL};
}

int vdev_read_arg(struct vdev *d, const struct vreq *r, uint64_t addr, void *buf, size_t len)
{
	return d->host.ops->mem_read(d->host.ctx, r->pid, addr, buf, len);
}

int vdev_write_arg(struct vdev *d, const struct vreq *r, uint64_t addr, const void *buf, size_t len)
{
	return d->host.ops->mem_write(d->host.ctx, r->pid, addr, buf, len);
}

void vdev_irq_armed(struct vdev *d, uint32_t index, bool armed)
{
	if (index >= VDEV_MAX_IRQS)
		return;
	pthread_mutex_lock(&d->lock);
	d->irq_armed[index] = armed;
	pthread_mutex_unlock(&d->lock);
}

static struct timespec deadline_in(int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

/* Called on the connection's reader thread. */
static int conn_dma(void *arg, uint16_t cmd, uint64_t addr, void *buf, uint64_t count)
{
	struct vconn *c = arg;

	return dma_access(c->d, cmd, addr, buf, count);
}

/* Called on the connection's reader thread: it cannot close the connection
 * (that joins the reader), so hand over to the reconnect thread. */
static void conn_lost(void *arg, int err)
{
	struct vconn *c = arg;
	struct vdev *d = c->d;

	pthread_mutex_lock(&d->lock);
	if (d->conn == c && !d->lost) {
		vdev_log(d, VU_LOG_WARN,
		         "server %s gone (%s): calls fail with EIO until it is back", d->server,
		         strerror(err < 0 ? -err : err));
		d->lost = true;
		pthread_cond_broadcast(&d->cond);
	}
	pthread_mutex_unlock(&d->lock);
}

static void conn_free(struct vconn *c)
{
	if (c->c)
		vu_client_close(c->c);
	info_cache_free(c);
	free(c);
}

static int conn_open(struct vdev *d, enum vu_log_level fail_lvl, struct vconn **out)
{
	struct vconn *c = calloc(1, sizeof(*c));
	struct vu_client_opts opts = {
	    .timeout_ms = d->timeout_ms,
	    .dma = conn_dma,
	    .disconnected = conn_lost,
	    .log = d->log,
	};
	int ret;

	if (!c)
		return -ENOMEM;
	c->d = d;
	opts.arg = c;
	ret = vu_client_connect(d->server, &opts, &c->c);
	if (ret < 0) {
		vdev_log(d, fail_lvl, "cannot connect to %s: %s", d->server, strerror(-ret));
		c->c = NULL;
		goto fail;
	}
	c->caps = *vu_client_caps(c->c);
	ret = info_cache_fill(d, c);
	if (ret < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	conn_free(c);
	return ret;
}

/* Make c the live connection. Called locked. A disconnect that came before
 * c was published found d->conn != c: catch it here. */
static void conn_publish(struct vdev *d, struct vconn *c)
{
	c->gen = d->gen;
	d->conn = c;
	d->lost = !vu_client_connected(c->c);
}

struct vconn *vconn_get(struct vdev *d, const struct vfile *f)
{
	struct vconn *c = NULL;

	pthread_mutex_lock(&d->lock);
	if (d->conn && !d->lost && (!f || f->gen == d->conn->gen)) {
		c = d->conn;
		c->refs++;
	}
	pthread_mutex_unlock(&d->lock);
	/* The client fails its waiters before it tells us the server left:
	 * a call right after one that failed must fail too. */
	if (c && !vu_client_connected(c->c)) {
		vconn_put(c);
		c = NULL;
	}
	return c;
}

void vconn_put(struct vconn *c)
{
	struct vdev *d = c->d;

	pthread_mutex_lock(&d->lock);
	if (--c->refs == 0)
		pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/*
 * Retire the lost connection: wait for the calls still holding it (they fail
 * at once with ENOTCONN), then forget the owner's state, which the server
 * dropped when the client left, and close it. Forgetting only once those
 * calls are done keeps a late SET_IOMMU or MAP_DMA from leaking into the
 * next connection. Called locked; unlocks meanwhile.
 */
static void conn_retire(struct vdev *d)
{
	struct vconn *old = d->conn;

	d->conn = NULL;
	d->gen++;
	pthread_cond_broadcast(&d->cond);
	while (old && old->refs)
		pthread_cond_wait(&d->cond, &d->lock);
	d->owner = 0;
	d->nr_open = 0;
	d->releasing = false;
	d->iommu_type = 0;
	memset(d->irq_armed, 0, sizeof(d->irq_armed));
	dma_forget_all(&d->dma);
	pthread_cond_broadcast(&d->cond);
	if (!old)
		return;
	pthread_mutex_unlock(&d->lock);
	conn_free(old);
	pthread_mutex_lock(&d->lock);
}

/* Reset the device of a new connection: the previous owner may have left it
 * in any state. */
static void conn_reset(struct vdev *d, struct vconn *c)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};
	int ret;

	if (!(c->dev.flags & VFIO_DEVICE_FLAGS_RESET))
		return;
	ret = vu_device_reset(c->c, &o);
	if (ret < 0)
		vdev_log(d, VU_LOG_WARN, "reset after reconnect: %s", strerror(-ret));
}

/* Retry with backoff until connected or stopping. Called locked. */
static void reconnect(struct vdev *d)
{
	int delay = RECONNECT_FIRST_MS;

	while (!d->stopping) {
		struct timespec until = deadline_in(delay);
		struct vconn *c;
		int ret;

		while (!d->stopping &&
		       pthread_cond_timedwait(&d->cond, &d->lock, &until) != ETIMEDOUT)
			;
		if (d->stopping)
			return;
		pthread_mutex_unlock(&d->lock);
		ret = conn_open(d, VU_LOG_DEBUG, &c);
		if (ret == 0)
			conn_reset(d, c);
		pthread_mutex_lock(&d->lock);
		if (ret == 0) {
			conn_publish(d, c);
			vdev_log(d, VU_LOG_WARN, "server %s is back", d->server);
			return;
		}
		delay = delay * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : delay * 2;
	}
}

static void *reconnector(void *arg)
{
	struct vdev *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		if (!d->lost) {
			pthread_cond_wait(&d->cond, &d->lock);
			continue;
		}
		conn_retire(d);
		reconnect(d);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static void vdev_free(struct vdev *d)
{
	dma_table_fini(&d->dma);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d->name);
	free(d->server);
	free(d);
}

static int vdev_init(struct vdev *d, const struct vdev_config *cfg)
{
	pthread_condattr_t ca;

	d->name = strdup(cfg->name ? cfg->name : "vfio-user");
	d->server = strdup(cfg->server ? cfg->server : "");
	if (!d->name || !d->server)
		return -ENOMEM;
	d->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : VU_DEFAULT_TIMEOUT_MS;
	d->dma_by_message = cfg->dma_by_message;
	d->host = cfg->host;
	d->log = cfg->log;
	d->gen = 1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	dma_table_init(&d->dma);
	return 0;
}

int vdev_create(const struct vdev_config *cfg, struct vdev **out)
{
	struct vdev *d = calloc(1, sizeof(*d));
	struct vconn *c;
	int ret;

	if (!d)
		return -ENOMEM;
	if (!cfg->host.ops || !cfg->server) {
		free(d);
		return -EINVAL;
	}
	ret = vdev_init(d, cfg);
	if (ret < 0) {
		free(d->name);
		free(d->server);
		free(d);
		return ret;
	}
	ret = conn_open(d, VU_LOG_ERR, &c);
	if (ret < 0)
		goto fail;
	pthread_mutex_lock(&d->lock);
	conn_publish(d, c);
	pthread_mutex_unlock(&d->lock);
	ret = -pthread_create(&d->reconnector, NULL, reconnector, d);
	if (ret < 0) {
		conn_free(c);
		goto fail;
	}
	vdev_log(d, VU_LOG_INFO, "connected to %s: %u regions, %u IRQ indexes%s", d->server,
	         c->dev.num_regions, c->dev.num_irqs,
	         c->dev.flags & VFIO_DEVICE_FLAGS_RESET ? ", reset" : "");
	*out = d;
	return 0;
fail:
	vdev_free(d);
	return ret;
}

void vdev_destroy(struct vdev *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->reconnector, NULL);
	if (d->conn)
		conn_free(d->conn);
	vdev_free(d);
}

/* Wait (bounded) for the previous owner's cleanup. Called locked. */
static void open_wait_release(struct vdev *d)
{
	struct timespec until = deadline_in(d->timeout_ms + OPEN_WAIT_SLACK_MS);

	while (d->releasing && pthread_cond_timedwait(&d->cond, &d->lock, &until) != ETIMEDOUT)
		;
}

int vdev_open(struct vdev *d, const struct vreq *r, struct vfile **out)
{
	struct vfile *f = calloc(1, sizeof(*f));
	int ret = 0;

	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	open_wait_release(d);
	if (!d->conn || d->lost || !vu_client_connected(d->conn->c)) {
		ret = -EIO;
	} else if (d->releasing || d->nr_open) {
		/* The device belongs to the open file, not to a pid: one open at
		 * a time, as the kernel's VFIO group allows, so neither a pid
		 * reused after the opener exited (its fd kept by a child) nor
		 * another thread can share it. */
		vdev_log(d, VU_LOG_INFO, "open by pid %d refused: opened by pid %d", (int)r->pid,
		         (int)d->owner);
		ret = -EBUSY;
	} else {
		d->owner = r->pid;
		d->nr_open++;
		f->gen = d->gen;
	}
	pthread_mutex_unlock(&d->lock);
	if (ret < 0) {
		free(f);
		return ret;
	}
	*out = f;
	return 0;
}

/* Disarm, with the server, every IRQ index the owner gave eventfds to. */
static void release_irqs(struct vdev *d, struct vconn *c, const bool *armed)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};

	for (uint32_t i = 0; i < VDEV_MAX_IRQS && i < c->dev.num_irqs; i++) {
		int ret;

		if (!armed[i])
			continue;
		ret = vu_device_set_irqs(c->c, &o,
		                         VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, i, 0,
		                         0, NULL, NULL);
		if (ret < 0)
			vdev_log(d, VU_LOG_WARN, "release: disabling IRQ index %u: %s", i,
			         strerror(-ret));
	}
}

static void release_cleanup(struct vdev *d, struct vconn *c, const bool *armed)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};
	int ret;

	dma_unmap_all(d, c);
	release_irqs(d, c, armed);
	if (!(c->dev.flags & VFIO_DEVICE_FLAGS_RESET))
		return;
	ret = vu_device_reset(c->c, &o);
	if (ret < 0)
		vdev_log(d, VU_LOG_WARN, "release: reset: %s", strerror(-ret));
}

void vdev_release(struct vdev *d, struct vfile *f)
{
	bool armed[VDEV_MAX_IRQS];
	struct vconn *c = NULL;

	pthread_mutex_lock(&d->lock);
	if (f->gen != d->gen || --d->nr_open > 0) {
		pthread_mutex_unlock(&d->lock);
		free(f);
		return;
	}
	d->releasing = true;
	d->iommu_type = 0;
	memcpy(armed, d->irq_armed, sizeof(armed));
	memset(d->irq_armed, 0, sizeof(d->irq_armed));
	if (d->conn && !d->lost) {
		c = d->conn;
		c->refs++;
	}
	pthread_mutex_unlock(&d->lock);

	if (c) {
		release_cleanup(d, c, armed);
		vconn_put(c);
	}

	pthread_mutex_lock(&d->lock);
	if (d->gen == f->gen) {
		d->owner = 0;
		d->releasing = false;
		pthread_cond_broadcast(&d->cond);
	}
	pthread_mutex_unlock(&d->lock);
	free(f);
}

long vdev_ioctl(struct vdev *d, struct vfile *f, const struct vreq *r, unsigned int cmd,
                uint64_t arg)
{
	struct vconn *c = vconn_get(d, f);
	long ret;

	if (!c)
		return -EIO;
	ret = vdev_do_ioctl(d, c, r, cmd, arg);
	vconn_put(c);
	return ret;
}

ssize_t vdev_read(struct vdev *d, struct vfile *f, const struct vreq *r, uint64_t off, void *buf,
                  size_t len)
{
	struct vconn *c = vconn_get(d, f);
	ssize_t ret;

	if (!c)
		return -EIO;
	ret = vdev_region_rw(d, c, r, off, buf, len, false);
	vconn_put(c);
	return ret;
}

ssize_t vdev_write(struct vdev *d, struct vfile *f, const struct vreq *r, uint64_t off,
                   const void *buf, size_t len)
{
	struct vconn *c = vconn_get(d, f);
	ssize_t ret;

	if (!c)
		return -EIO;
	ret = vdev_region_rw(d, c, r, off, (void *)buf, len, true);
	vconn_put(c);
	return ret;
}
