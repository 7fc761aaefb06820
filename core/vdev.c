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

#include "common/common.h"
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

struct vu_call_opts vdev_call_opts(const struct vdev *d, const struct vreq *vr)
{
	return (struct vu_call_opts){.timeout_ms = d->timeout_ms, .cancel = vr ? vr->cancel : NULL};
}

int vdev_read_arg(struct vdev *d, const struct vreq *vr, uint64_t addr, void *buf, size_t len)
{
	return d->host.ops->mem_read(d->host.ctx, vr->pid, addr, buf, len);
}

int vdev_write_arg(struct vdev *d, const struct vreq *vr, uint64_t addr, const void *buf,
                   size_t len)
{
	return d->host.ops->mem_write(d->host.ctx, vr->pid, addr, buf, len);
}

void vdev_irq_armed(struct vdev *d, uint32_t index, bool armed)
{
	if (index >= VDEV_MAX_IRQS)
		return;
	pthread_mutex_lock(&d->lock);
	d->irq_armed[index] = armed;
	pthread_mutex_unlock(&d->lock);
}

/* Called on the connection's reader thread: the server's DMA goes to the
 * space the device is attached to. */
static int conn_dma(void *arg, uint16_t cmd, uint64_t addr, void *buf, uint64_t count)
{
	struct vconn *conn = arg;
	struct vdev *d = conn->d;
	struct ioas *s;
	int ret;

	pthread_mutex_lock(&d->lock);
	s = d->ioas;
	if (s)
		ioas_get(s);
	pthread_mutex_unlock(&d->lock);
	if (!s) {
		vdev_log(d, VU_LOG_WARN, "server %s at IOVA 0x%llx: nothing is mapped",
		         vu_command_name(cmd), (unsigned long long)addr);
		return -EFAULT;
	}
	ret = ioas_access(s, cmd, addr, buf, count);
	ioas_put(s);
	return ret;
}

static void *conn_dma_buf(void *arg, size_t len)
{
	struct vconn *conn = arg;

	return conn->d->host.ops->dma_buf(conn->d->host.ctx, len);
}

/* The live connection, referenced, or NULL. */
static struct vconn *conn_live(struct vdev *d)
{
	return vconn_get(d, NULL);
}

static void conn_lost(void *arg, int err);

/*
 * A DMA_MAP or DMA_UNMAP the server did not answer in time: it may hold the
 * mapping or not, and a mapping it holds unknown to us could reach memory
 * long unmapped here. Drop the connection, which makes the server forget
 * every mapping (and the calls after this one fail at once, so a release
 * does not wait a timeout per mapping); the device comes back reset.
 */
static void dma_unsure(struct vdev *d, struct vconn *conn, const char *what)
{
	vdev_log(d, VU_LOG_WARN,
	         "%s unanswered: dropping the connection, so that the server "
	         "forgets every mapping",
	         what);
	conn_lost(conn, -ETIMEDOUT);
}

int vdev_dma_map(struct vdev *d, uint64_t iova, uint64_t size, uint32_t prot, int fd, uint64_t off)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};
	struct vconn *conn = conn_live(d);
	int ret;

	if (!conn)
		return -ENOTCONN;
	ret = vu_dma_map(conn->c, &o, iova, size, prot, fd, off);
	if (ret < 0)
		vdev_log(d, VU_LOG_INFO, "DMA_MAP iova 0x%llx size 0x%llx: %s",
		         (unsigned long long)iova, (unsigned long long)size, strerror(-ret));
	if (ret == -ETIMEDOUT)
		dma_unsure(d, conn, "DMA_MAP");
	vconn_put(conn);
	return ret;
}

int vdev_dma_unmap(struct vdev *d, uint64_t iova, uint64_t size)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};
	struct vconn *conn = conn_live(d);
	int ret;

	if (!conn)
		return -ENOTCONN;
	ret = vu_dma_unmap(conn->c, &o, iova, size, 0);
	if (ret < 0)
		vdev_log(d, VU_LOG_WARN, "DMA_UNMAP iova 0x%llx size 0x%llx: %s",
		         (unsigned long long)iova, (unsigned long long)size, strerror(-ret));
	if (ret == -ETIMEDOUT)
		dma_unsure(d, conn, "DMA_UNMAP");
	vconn_put(conn);
	return ret;
}

/* The server's capabilities; the spec's defaults while it is away. */
static struct vu_caps conn_caps(struct vdev *d)
{
	struct vu_caps caps = {.pgsizes = 4096, .max_dma_maps = 65535};

	pthread_mutex_lock(&d->lock);
	if (d->conn)
		caps = d->conn->caps;
	pthread_mutex_unlock(&d->lock);
	return caps;
}

uint64_t vdev_dma_pgsizes(struct vdev *d)
{
	uint64_t p = conn_caps(d).pgsizes;

	return p ? p : 4096;
}

uint64_t vdev_dma_pgsize(struct vdev *d)
{
	uint64_t p = vdev_dma_pgsizes(d);

	return p & -p;
}

uint32_t vdev_dma_max_maps(struct vdev *d)
{
	return conn_caps(d).max_dma_maps;
}

bool vdev_dma_pass_fds(struct vdev *d)
{
	struct vconn *conn = conn_live(d);
	bool pass;

	if (!conn)
		return false;
	pass = vu_client_can_pass_fds(conn->c);
	vconn_put(conn);
	return pass;
}

void vdev_set_ioas(struct vdev *d, struct ioas *s)
{
	pthread_mutex_lock(&d->lock);
	d->ioas = s;
	pthread_mutex_unlock(&d->lock);
}

/* An inherited socket (fd:N) cannot be opened again: by then its number may
 * name another file. */
static bool can_reconnect(const struct vdev *d)
{
	return strncmp(d->server, "fd:", 3) != 0;
}

/* The one place the connection and its state change. Called locked. */
static void conn_set(struct vdev *d, struct vconn *conn, enum vdev_state state)
{
	d->conn = conn;
	d->state = state;
}

/* Called on the connection's reader thread: it cannot close the connection
 * (that joins the reader), so hand over to the reconnect thread. */
static void conn_lost(void *arg, int err)
{
	struct vconn *conn = arg;
	struct vdev *d = conn->d;

	pthread_mutex_lock(&d->lock);
	if (d->conn == conn && d->state == VDEV_UP) {
		vdev_log(d, VU_LOG_WARN, "server %s gone (%s): calls fail with EIO %s", d->server,
		         strerror(err < 0 ? -err : err),
		         can_reconnect(d) ? "until it is back"
		                          : "until the daemon restarts (an inherited socket "
		                            "cannot be opened again)");
		conn_set(d, conn, VDEV_LOST);
		pthread_cond_broadcast(&d->cond);
	}
	pthread_mutex_unlock(&d->lock);
}

static void conn_free(struct vconn *conn)
{
	if (conn->c)
		vu_client_close(conn->c);
	vdev_info_cache_free(conn);
	free(conn);
}

static int conn_open(struct vdev *d, enum vu_log_level fail_lvl, struct vconn **out)
{
	struct vconn *conn = calloc(1, sizeof(*conn));
	/* Twin-socket mode when the server offers it: libvfio-user's servers
	 * drop the connection when one of our commands arrives while they
	 * wait for the answer to their DMA request, and programs issue
	 * commands from any thread at any time. Without it, DMA requests
	 * come on the main socket and the reader serves them there, which
	 * is all a client can do (libvfio-user warns such a server that it
	 * breaks when both sides send at once). */
	struct vu_client_opts opts = {
	    .timeout_ms = d->timeout_ms,
	    .twin_socket = true,
	    .dma = conn_dma,
	    .dma_buf = d->host.ops->dma_buf ? conn_dma_buf : NULL,
	    .disconnected = conn_lost,
	};
	char why[512];
	int ret;

	if (!conn)
		return -ENOMEM;
	conn->d = d;
	opts.arg = conn;
	/* One line for a failed connect, with its diagnosis; what the
	 * library met on the way goes to the debug log. */
	vu_connect_log_init(&conn->log, d->log);
	opts.log = &conn->log.log;
	ret = vu_client_connect(d->server, &opts, &conn->c);
	vu_connect_log_done(&conn->log);
	if (ret < 0) {
		vu_connect_explain(d->server, ret, conn->log.detail, d->timeout_ms, why,
		                   sizeof(why));
		vdev_log(d, fail_lvl, "cannot connect to %s: %s", d->server, why);
		conn->c = NULL;
		goto fail;
	}
	conn->caps = *vu_client_caps(conn->c);
	ret = vdev_info_cache_fill(d, conn);
	if (ret < 0)
		goto fail;
	*out = conn;
	return 0;
fail:
	conn_free(conn);
	return ret;
}

/* Make conn the live connection. Called locked. A disconnect that came before
 * c was published found d->conn != c: catch it here. */
static void conn_publish(struct vdev *d, struct vconn *conn)
{
	conn->gen = d->gen;
	conn_set(d, conn, vu_client_connected(conn->c) ? VDEV_UP : VDEV_LOST);
}

struct vconn *vconn_get(struct vdev *d, const struct vfile *f)
{
	struct vconn *conn = NULL;

	pthread_mutex_lock(&d->lock);
	if (d->state == VDEV_UP && (!f || f->gen == d->conn->gen)) {
		conn = d->conn;
		conn->refs++;
	}
	pthread_mutex_unlock(&d->lock);
	/* The client fails its waiters before it tells us the server left:
	 * a call right after one that failed must fail too. */
	if (conn && !vu_client_connected(conn->c)) {
		vconn_put(conn);
		conn = NULL;
	}
	return conn;
}

void vconn_put(struct vconn *conn)
{
	struct vdev *d = conn->d;

	pthread_mutex_lock(&d->lock);
	/* Only conn_retire waits for the references to go, and only once the
	 * connection is no longer the live one: waking d->cond for every
	 * request would wake the reconnect thread each time. */
	if (--conn->refs == 0 && d->conn != conn)
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
	struct ioas *attached = d->ioas, *own = d->node_ct.ioas;

	conn_set(d, NULL, VDEV_DOWN);
	d->gen++;
	pthread_cond_broadcast(&d->cond);
	while (old && old->refs)
		pthread_cond_wait(&d->cond, &d->lock);
	d->owner = 0;
	d->nr_open = 0;
	d->releasing = false;
	d->bound = NULL;
	d->group = NULL;
	d->node_ct = (struct vcontainer){0};
	memset(d->irq_armed, 0, sizeof(d->irq_armed));
	if (attached)
		ioas_get(attached);
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	/* With no connection the detach sends nothing. */
	if (attached) {
		ioas_detach(attached, d);
		ioas_put(attached);
	}
	if (own)
		ioas_put(own);
	if (old)
		conn_free(old);
	pthread_mutex_lock(&d->lock);
}

/* Reset the device of a new connection: the previous owner may have left it
 * in any state. */
static void conn_reset(struct vdev *d, struct vconn *conn)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};
	int ret;

	if (!(conn->dev.flags & VFIO_DEVICE_FLAGS_RESET))
		return;
	ret = vu_device_reset(conn->c, &o);
	if (ret < 0)
		vdev_log(d, VU_LOG_WARN, "reset after reconnect: %s", strerror(-ret));
}

/* Retry with backoff until connected or stopping. Called locked. */
static void reconnect(struct vdev *d)
{
	int delay = RECONNECT_FIRST_MS;

	while (!d->stopping) {
		struct timespec until = deadline_in(delay);
		struct vconn *conn;
		int ret;

		while (!d->stopping &&
		       pthread_cond_timedwait(&d->cond, &d->lock, &until) != ETIMEDOUT)
			;
		if (d->stopping)
			return;
		pthread_mutex_unlock(&d->lock);
		ret = conn_open(d, VU_LOG_DEBUG, &conn);
		if (ret == 0)
			conn_reset(d, conn);
		pthread_mutex_lock(&d->lock);
		if (ret == 0) {
			conn_publish(d, conn);
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
		if (d->state != VDEV_LOST) {
			pthread_cond_wait(&d->cond, &d->lock);
			continue;
		}
		conn_retire(d);
		if (can_reconnect(d)) {
			reconnect(d);
			continue;
		}
		while (!d->stopping)
			pthread_cond_wait(&d->cond, &d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static void vdev_free(struct vdev *d)
{
	if (d->node_ct.ioas) {
		ioas_detach(d->node_ct.ioas, d);
		ioas_put(d->node_ct.ioas);
	}
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d->name);
	free(d->server);
	free(d);
}

/* The locks come first, so that vdev_free can undo a half-made device. */
static int vdev_init(struct vdev *d, const struct vdev_config *cfg)
{
	pthread_mutex_init(&d->lock, NULL);
	cond_init_monotonic(&d->cond);
	d->name = strdup(cfg->name ? cfg->name : "vfio-user");
	d->server = strdup(cfg->server ? cfg->server : "");
	if (!d->name || !d->server)
		return -ENOMEM;
	d->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : VU_DEFAULT_TIMEOUT_MS;
	d->host = cfg->host;
	d->log = cfg->log;
	d->iommufd_get = cfg->iommufd_get;
	d->container_get = cfg->container_get;
	d->iommufd_arg = cfg->iommufd_arg;
	d->gen = 1;
	return 0;
}

int vdev_create(const struct vdev_config *cfg, struct vdev **out)
{
	struct vdev *d;
	struct vconn *conn;
	int ret;

	if (!cfg->host.ops || !cfg->server)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	ret = vdev_init(d, cfg);
	if (ret < 0)
		goto fail;
	ret = conn_open(d, VU_LOG_ERR, &conn);
	if (ret < 0)
		goto fail;
	pthread_mutex_lock(&d->lock);
	conn_publish(d, conn);
	pthread_mutex_unlock(&d->lock);
	ret = -pthread_create(&d->reconnector, NULL, reconnector, d);
	if (ret < 0) {
		vdev_log(d, VU_LOG_ERR, "cannot start a thread: %s", strerror(-ret));
		conn_free(conn);
		goto fail;
	}
	pthread_setname_np(d->reconnector, "vuc-reconnect");
	vdev_log(d, VU_LOG_INFO, "connected to %s: %u regions, %u IRQ indexes%s%s", d->server,
	         conn->dev.num_regions, conn->dev.num_irqs,
	         conn->dev.flags & VFIO_DEVICE_FLAGS_RESET ? ", reset" : "",
	         conn->caps.twin_socket ? ", twin socket" : "");
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

/* The one-fd node's own container, attached to the device. Called
 * unlocked by the owner's first open. */
static int node_container_new(struct vdev *d, struct ioas **out)
{
	struct ioas_config cfg = {.name = d->name, .host = d->host, .log = d->log};
	struct ioas *s;
	int ret = ioas_create(&cfg, &s);

	if (ret < 0)
		return ret;
	ret = ioas_attach(s, d);
	if (ret < 0) {
		ioas_put(s);
		return ret;
	}
	*out = s;
	return 0;
}

static int open_node(struct vdev *d, const struct vreq *vr, struct vfile *f)
{
	struct ioas *s = NULL;
	bool first;
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	open_wait_release(d);
	if (d->state != VDEV_UP || !vu_client_connected(d->conn->c)) {
		ret = -EIO;
	} else if (d->releasing || d->bound || d->group || d->nr_open) {
		/* The device belongs to the open file, not to a pid: one open at
		 * a time, as the kernel's VFIO group allows, so neither a pid
		 * reused after the opener exited (its fd kept by a child) nor
		 * another thread can share it. */
		vdev_log(d, VU_LOG_INFO, "open by pid %d refused: %s", (int)vr->pid,
		         d->bound   ? "its device cdev is bound"
		         : d->group ? "its group is open"
		                    : "the node is open already");
		ret = -EBUSY;
	}
	first = ret == 0 && !d->owner;
	if (first) {
		d->owner = vr->pid;
		d->releasing = true; /* until the container is in place */
	}
	if (ret == 0) {
		d->nr_open++;
		f->gen = d->gen;
	}
	pthread_mutex_unlock(&d->lock);
	if (!first)
		return ret;
	ret = node_container_new(d, &s);
	pthread_mutex_lock(&d->lock);
	d->releasing = false;
	if (ret == 0 && f->gen == d->gen) {
		d->node_ct = (struct vcontainer){.ioas = s};
		s = NULL;
	} else if (ret == 0) {
		ret = -EIO; /* the server left meanwhile */
	}
	if (ret < 0 && f->gen == d->gen) {
		d->owner = 0;
		d->nr_open--;
	}
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (s) {
		ioas_detach(s, d);
		ioas_put(s);
	}
	return ret;
}

/* vfio_group_fops_open: one open file at a time, and not while the device
 * is had another way. */
static int open_group(struct vdev *d, const struct vreq *vr, struct vfile *f)
{
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	open_wait_release(d);
	if (d->state != VDEV_UP)
		ret = -EIO;
	else if (d->group || d->owner || d->bound || d->releasing)
		ret = -EBUSY;
	else
		d->group = f;
	f->gen = d->gen;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int vdev_open(struct vdev *d, const struct vreq *vr, enum vfile_kind kind, struct vfile **out)
{
	struct vfile *f = calloc(1, sizeof(*f));
	int ret = 0;

	if (!f)
		return -ENOMEM;
	f->d = d;
	f->kind = kind;
	if (kind == VFILE_NODE) {
		ret = open_node(d, vr, f);
	} else if (kind == VFILE_GROUP) {
		ret = open_group(d, vr, f);
	} else {
		pthread_mutex_lock(&d->lock);
		if (d->state != VDEV_UP)
			ret = -EIO;
		f->gen = d->gen;
		pthread_mutex_unlock(&d->lock);
	}
	if (ret < 0) {
		free(f);
		return ret;
	}
	*out = f;
	return 0;
}

/* Disarm, with the server, every IRQ index the owner gave eventfds to. */
static void release_irqs(struct vdev *d, struct vconn *conn, const bool *armed)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};

	for (uint32_t i = 0; i < VDEV_MAX_IRQS && i < conn->dev.num_irqs; i++) {
		int ret;

		if (!armed[i])
			continue;
		ret = vu_device_set_irqs(conn->c, &o,
		                         VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, i, 0,
		                         0, NULL, NULL);
		if (ret < 0)
			vdev_log(d, VU_LOG_WARN, "release: disabling IRQ index %u: %s", i,
			         strerror(-ret));
	}
}

static void release_cleanup(struct vdev *d, struct vconn *conn, const bool *armed)
{
	struct vu_call_opts o = {.timeout_ms = d->timeout_ms};
	int ret;

	release_irqs(d, conn, armed);
	if (!(conn->dev.flags & VFIO_DEVICE_FLAGS_RESET))
		return;
	ret = vu_device_reset(conn->c, &o);
	if (ret < 0)
		vdev_log(d, VU_LOG_WARN, "release: reset: %s", strerror(-ret));
}

/* Give the device back: take its DMA back from the server (by detaching it
 * from space s), disarm its IRQs, reset it. Called unlocked by the one
 * file that had the device, with d->releasing set. */
static void device_give_back(struct vdev *d, uint64_t gen, struct ioas *s, bool own)
{
	bool armed[VDEV_MAX_IRQS];
	struct vconn *conn = NULL;

	if (s) {
		ioas_detach(s, d);
		if (own)
			ioas_put(s);
	}
	pthread_mutex_lock(&d->lock);
	memcpy(armed, d->irq_armed, sizeof(armed));
	memset(d->irq_armed, 0, sizeof(d->irq_armed));
	if (d->gen == gen && d->state == VDEV_UP) {
		conn = d->conn;
		conn->refs++;
	}
	pthread_mutex_unlock(&d->lock);
	if (conn) {
		release_cleanup(d, conn, armed);
		vconn_put(conn);
	}
}

static void release_node(struct vdev *d, struct vfile *f)
{
	struct ioas *s;

	pthread_mutex_lock(&d->lock);
	if (f->gen != d->gen || --d->nr_open > 0) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	d->releasing = true;
	s = d->node_ct.ioas;
	d->node_ct = (struct vcontainer){0};
	pthread_mutex_unlock(&d->lock);

	device_give_back(d, f->gen, s, true);

	pthread_mutex_lock(&d->lock);
	if (d->gen == f->gen) {
		d->owner = 0;
		d->releasing = false;
		pthread_cond_broadcast(&d->cond);
	}
	pthread_mutex_unlock(&d->lock);
}

/* A device cdev file: the bound one gives the device back and unbinds. */
static void release_cdev(struct vdev *d, struct vfile *f)
{
	bool bound;

	pthread_mutex_lock(&d->lock);
	bound = d->bound == f;
	if (bound)
		d->releasing = true;
	pthread_mutex_unlock(&d->lock);
	if (bound)
		device_give_back(d, f->gen, f->ioas, false);
	vfile_unbind(f);
	if (!bound)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->bound == f)
		d->bound = NULL;
	d->releasing = false;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* The group: the device back if it was opened, then out of its container. */
static void release_group(struct vdev *d, struct vfile *f)
{
	bool mine;

	pthread_mutex_lock(&d->lock);
	mine = d->group == f;
	if (mine)
		d->releasing = true;
	pthread_mutex_unlock(&d->lock);
	if (mine && f->device_opens)
		device_give_back(d, f->gen, NULL, false);
	vfile_unset_container(f);
	if (!mine)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->group == f)
		d->group = NULL;
	d->releasing = false;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

void vdev_release(struct vdev *d, struct vfile *f)
{
	if (f->kind == VFILE_NODE)
		release_node(d, f);
	else if (f->kind == VFILE_GROUP)
		release_group(d, f);
	else
		release_cdev(d, f);
	free(f);
}

long vdev_ioctl(struct vdev *d, struct vfile *f, const struct vreq *vr, unsigned int cmd,
                uint64_t arg)
{
	struct vconn *conn = vconn_get(d, f);
	long ret;

	if (!conn)
		return -EIO;
	ret = vdev_do_ioctl(d, conn, f, vr, cmd, arg);
	vconn_put(conn);
	return ret;
}

ssize_t vdev_read(struct vdev *d, struct vfile *f, const struct vreq *vr, uint64_t off, void *buf,
                  size_t len)
{
	struct vconn *conn = vconn_get(d, f);
	ssize_t ret;

	if (!conn)
		return -EIO;
	ret = !vfile_has_device(f) ? -EINVAL : vdev_region_rw(d, conn, vr, off, buf, len, false);
	vconn_put(conn);
	return ret;
}

ssize_t vdev_write(struct vdev *d, struct vfile *f, const struct vreq *vr, uint64_t off,
                   const void *buf, size_t len)
{
	struct vconn *conn = vconn_get(d, f);
	ssize_t ret;

	if (!conn)
		return -EIO;
	ret = !vfile_has_device(f) ? -EINVAL
	                           : vdev_region_rw(d, conn, vr, off, (void *)buf, len, true);
	vconn_put(conn);
	return ret;
}

int vdev_pci_config(struct vdev *d, uint32_t off, void *buf, size_t len)
{
	struct vconn *conn = vconn_get(d, NULL);
	ssize_t ret;

	if (!conn)
		return -EIO;
	if (!(conn->dev.flags & VFIO_DEVICE_FLAGS_PCI))
		ret = -EINVAL;
	else
		ret = vdev_region_rw(d, conn, NULL,
		                     ((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << VDEV_OFFSET_SHIFT) |
		                         off,
		                     buf, len, false);
	vconn_put(conn);
	if (ret >= 0 && (size_t)ret != len)
		ret = -EIO;
	return ret < 0 ? (int)ret : 0;
}
