// SPDX-License-Identifier: MIT
#define FUSE_USE_VERSION 312
#include "node.h"

#include <cuse_lowlevel.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "devnum.h"
#include "proto/client.h"

#define POLL_STEP_MS 5

/* The daemon's question to its own iommufd or container node
 * (node_iommufd_of, node_container_of): an ioctl no program can ask,
 * answered only to the daemon's own threads. */
#define NODE_IDENTIFY _IO(';', 0xff)

struct node_identify {
	struct iommufd *ictx;
	struct container *k;
};

/* A request being served: its cancel token, on the node's list so a stop
 * can fire them all. */
struct node_req {
	struct vu_cancel *cancel;
	struct node_req *prev, *next;
};

/* An open file of a program (fi->fh), on the node's list so a stop can
 * release what programs left open. */
struct node_file {
	struct vfile *vf;     /* NODE_DEVICE, NODE_CDEV */
	struct iommufd *ictx; /* NODE_IOMMU */
	struct container *k;  /* NODE_CONTAINER */
	struct node_file *prev, *next;
};

struct node {
	struct node_config cfg;
	struct vdev *vdev;
	struct fuse_session *se;
	struct fuse_loop_config *loop_cfg;
	pthread_t loop;
	bool loop_started;
	dev_t rdev; /* the node's device number, once it appeared */

	pthread_mutex_t lock; /* guards what follows */
	pthread_cond_t cond;
	bool init_done, loop_ended, stopping;
	struct node_req reqs;   /* list head */
	struct node_file files; /* list head */

	char path[sizeof(NODE_DIR) + 96];
};

static void wake_handler(int sig)
{
}

int node_install_wake_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wake_handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the loop thread's sem_wait must return EINTR. */
	return sigaction(NODE_WAKE_SIGNAL, &sa, NULL) ? -errno : 0;
}

static void on_interrupt(fuse_req_t req, void *data)
{
	vu_cancel_fire(data);
}

static pthread_key_t cancel_key;
static pthread_once_t cancel_once = PTHREAD_ONCE_INIT;

static void cancel_key_free(void *t)
{
	vu_cancel_free(t);
}

static void cancel_key_init(void)
{
	if (pthread_key_create(&cancel_key, cancel_key_free))
		cancel_key = (pthread_key_t)-1;
}

/*
 * The cancel token of the request thread calling, made once and then
 * reused: a request runs on one thread from start to end, and once req_end
 * has cleared its interrupt callback nothing fires the token any more, so
 * the next request can take it over, unfired. Saves an allocation and a
 * mutex setup per request.
 */
static struct vu_cancel *thread_cancel(void)
{
	struct vu_cancel *t;

	pthread_once(&cancel_once, cancel_key_init);
	if (cancel_key == (pthread_key_t)-1)
		return NULL;
	t = pthread_getspecific(cancel_key);
	if (t) {
		vu_cancel_reset(t);
		return t;
	}
	t = vu_cancel_new();
	if (t && pthread_setspecific(cancel_key, t)) {
		vu_cancel_free(t);
		t = NULL;
	}
	return t;
}

/* Who is calling, and a cancel token the kernel's INTERRUPT fires. */
static int req_begin(struct node *n, fuse_req_t req, struct node_req *nr, struct vreq *vr)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	pid_t pid;

	/* CUSE gives the calling thread; the core wants its process too. */
	pid = n->cfg.host.ops->tgid_of(n->cfg.host.ctx, ctx->pid);
	if (pid < 0)
		return pid;
	nr->cancel = thread_cancel();
	if (!nr->cancel)
		return -ENOMEM;
	pthread_mutex_lock(&n->lock);
	if (n->stopping) {
		pthread_mutex_unlock(&n->lock);
		return -ENOTCONN;
	}
	nr->next = n->reqs.next;
	nr->prev = &n->reqs;
	n->reqs.next->prev = nr;
	n->reqs.next = nr;
	pthread_mutex_unlock(&n->lock);

	vr->pid = pid;
	vr->tid = ctx->pid;
	vr->cancel = nr->cancel;
	/* Runs on_interrupt at once if the caller was already signalled. */
	fuse_req_interrupt_func(req, on_interrupt, nr->cancel);
	return 0;
}

static long req_end(struct node *n, fuse_req_t req, struct node_req *nr, long ret)
{
	bool stopping;

	/* Once this returns no interrupt callback runs or will run. */
	fuse_req_interrupt_func(req, NULL, NULL);
	pthread_mutex_lock(&n->lock);
	nr->prev->next = nr->next;
	nr->next->prev = nr->prev;
	stopping = n->stopping;
	pthread_mutex_unlock(&n->lock);
	/* Cancelled by a daemon stop, not by a signal: say what the kernel says
	 * when a CUSE server goes away under a waiting caller. */
	if (ret == -EINTR && stopping)
		return -ECONNABORTED;
	return ret;
}

static struct node_file *file_of(const struct fuse_file_info *fi)
{
	return (struct node_file *)(uintptr_t)fi->fh;
}

static void file_unlink(struct node *n, struct node_file *nf)
{
	pthread_mutex_lock(&n->lock);
	nf->prev->next = nf->next;
	nf->next->prev = nf->prev;
	pthread_mutex_unlock(&n->lock);
}

static long file_open(struct node *n, const struct vreq *vr, struct node_file *nf)
{
	struct iommufd_config icfg = {.name = n->path, .host = n->cfg.host, .log = n->cfg.log};
	struct container_config kcfg = {.name = n->path, .host = n->cfg.host, .log = n->cfg.log};

	switch (n->cfg.kind) {
	case NODE_DEVICE:
		return vdev_open(n->vdev, vr, VFILE_NODE, &nf->vf);
	case NODE_CDEV:
		return vdev_open(n->vdev, vr, VFILE_CDEV, &nf->vf);
	case NODE_GROUP:
		return vdev_open(n->vdev, vr, VFILE_GROUP, &nf->vf);
	case NODE_CONTAINER:
		return container_create(&kcfg, &nf->k);
	default:
		return iommufd_create(&icfg, &nf->ictx);
	}
}

/* Whether the node's files are a device's, with region I/O. */
static bool has_regions(const struct node *n)
{
	return n->cfg.kind == NODE_DEVICE || n->cfg.kind == NODE_CDEV || n->cfg.kind == NODE_GROUP;
}

static void file_release(struct node *n, struct node_file *nf)
{
	if (nf->vf)
		vdev_release(n->vdev, nf->vf);
	if (nf->ictx)
		iommufd_put(nf->ictx);
	if (nf->k)
		container_put(nf->k);
	free(nf);
}

static void node_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct node *n = fuse_req_userdata(req);
	struct node_file *nf;
	struct node_req nr;
	struct vreq vr;
	long ret;

	nf = calloc(1, sizeof(*nf));
	if (!nf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ret = req_begin(n, req, &nr, &vr);
	if (!ret)
		ret = req_end(n, req, &nr, file_open(n, &vr, nf));
	if (ret < 0) {
		free(nf);
		fuse_reply_err(req, (int)-ret);
		return;
	}
	pthread_mutex_lock(&n->lock);
	nf->next = n->files.next;
	nf->prev = &n->files;
	n->files.next->prev = nf;
	n->files.next = nf;
	pthread_mutex_unlock(&n->lock);
	fi->fh = (uintptr_t)nf;
	/* A caller gone before the reply never sends a release: do it here. */
	if (fuse_reply_open(req, fi) < 0) {
		file_unlink(n, nf);
		file_release(n, nf);
	}
}

static void node_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct node *n = fuse_req_userdata(req);
	struct node_file *nf = file_of(fi);

	file_unlink(n, nf);
	file_release(n, nf);
	fuse_reply_err(req, 0);
}

/* NODE_IDENTIFY from one of the daemon's own threads: which context this
 * open file is. Anyone else gets what an unknown ioctl gets. */
static long iommu_identify(struct node *n, const struct vreq *vr, struct node_file *nf, void *arg)
{
	struct node_identify *id = arg;

	if (vr->pid != getpid())
		return -ENOTTY;
	if (nf->ictx) {
		iommufd_get(nf->ictx);
		id->ictx = nf->ictx;
	}
	if (nf->k) {
		container_get(nf->k);
		id->k = nf->k;
	}
	return 0;
}

static long file_ioctl(struct node *n, const struct vreq *vr, struct node_file *nf,
                       unsigned int cmd, void *arg)
{
	uint64_t a = (uint64_t)(uintptr_t)arg;

	if (has_regions(n))
		return vdev_ioctl(n->vdev, nf->vf, vr, cmd, a);
	if (cmd == NODE_IDENTIFY)
		return iommu_identify(n, vr, nf, arg);
	if (n->cfg.kind == NODE_CONTAINER)
		return container_file_ioctl(nf->k, vr, cmd, a);
	return iommufd_ioctl(nf->ictx, vr, cmd, a);
}

/* Ask node n which of its opens fd (the daemon's own) is. */
static int identify(struct node *n, int fd, struct node_identify *id)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != n->rdev)
		return -1;
	return ioctl(fd, NODE_IDENTIFY, id) < 0 ? -1 : 0;
}

int node_iommufd_of(struct node *n, int fd, struct iommufd **out)
{
	struct node_identify id = {0};

	if (identify(n, fd, &id) || !id.ictx)
		return -EBADFD;
	*out = id.ictx;
	return 0;
}

int node_container_of(struct node *n, int fd, struct container **out)
{
	struct node_identify id = {0};

	if (identify(n, fd, &id) || !id.k)
		return -EINVAL;
	*out = id.k;
	return 0;
}

dev_t node_rdev(const struct node *n)
{
	return n->rdev;
}

static void node_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
                       unsigned int flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct node *n = fuse_req_userdata(req);
	struct node_req nr;
	struct vreq vr;
	long ret;

	/*
	 * The core reads and writes the caller's memory itself (process_vm),
	 * so the ioctl takes one round trip: no fuse_reply_ioctl_retry dance.
	 */
	ret = req_begin(n, req, &nr, &vr);
	if (!ret)
		ret = req_end(n, req, &nr, file_ioctl(n, &vr, file_of(fi), (unsigned int)cmd, arg));
	if (ret < 0)
		fuse_reply_err(req, (int)-ret);
	else
		fuse_reply_ioctl(req, ret > INT32_MAX ? INT32_MAX : (int)ret, NULL, 0);
}

/*
 * The VFIO offset of a read or write. CUSE never passes the file offset
 * (the kernel sends 0, then 128 KiB, 256 KiB... for the chunks of one big
 * transfer), so it is read from the syscall the caller is blocked in.
 *
 * Plain read()/write() (and readv/writev) get ESPIPE. vfio-pci serves them
 * at the file position, but a CUSE file's position never moves (lseek
 * returns 0 and changes nothing), so every such call would land on region
 * 0 offset 0: a silent wrong answer. ESPIPE tells the program to use
 * pread/pwrite, which every VFIO program uses anyway.
 */
static int vfio_offset(struct node *n, const struct vreq *vr, off_t chunk, uint64_t *off)
{
	uint64_t base;
	int ret;

	ret = n->cfg.host.ops->syscall_offset(n->cfg.host.ctx, vr->tid, &base);
	if (ret == -ESPIPE)
		vu_log(n->cfg.log, VU_LOG_DEBUG, "pid %d: read/write without an offset: ESPIPE",
		       (int)vr->pid);
	if (ret)
		return ret;
	if (chunk < 0 || base > UINT64_MAX - (uint64_t)chunk)
		return -EINVAL;
	*off = base + (uint64_t)chunk;
	return 0;
}

static void node_read(fuse_req_t req, size_t size, off_t chunk, struct fuse_file_info *fi)
{
	struct node *n = fuse_req_userdata(req);
	struct node_req nr;
	struct vreq vr;
	uint64_t off;
	uint64_t small[32]; /* register reads need no allocation */
	void *buf;
	long ret;

	buf = size <= sizeof(small) ? small : malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ret = req_begin(n, req, &nr, &vr);
	if (!ret) {
		ret = !has_regions(n) ? -EINVAL : vfio_offset(n, &vr, chunk, &off);
		if (!ret)
			ret = vdev_read(n->vdev, file_of(fi)->vf, &vr, off, buf, size);
		ret = req_end(n, req, &nr, ret);
	}
	if (ret < 0)
		fuse_reply_err(req, (int)-ret);
	else
		fuse_reply_buf(req, buf, (size_t)ret);
	if (buf != small)
		free(buf);
}

static void node_write(fuse_req_t req, const char *buf, size_t size, off_t chunk,
                       struct fuse_file_info *fi)
{
	struct node *n = fuse_req_userdata(req);
	struct node_req nr;
	struct vreq vr;
	uint64_t off;
	long ret;

	ret = req_begin(n, req, &nr, &vr);
	if (!ret) {
		ret = !has_regions(n) ? -EINVAL : vfio_offset(n, &vr, chunk, &off);
		if (!ret)
			ret = vdev_write(n->vdev, file_of(fi)->vf, &vr, off, buf, size);
		ret = req_end(n, req, &nr, ret);
	}
	if (ret < 0)
		fuse_reply_err(req, (int)-ret);
	else
		fuse_reply_write(req, (size_t)ret);
}

/* A VFIO device fd has no poll of its own: the kernel answers the default
 * mask (always readable and writable), and so does the node. */
static void node_poll(fuse_req_t req, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
}

static void node_init_done(void *userdata)
{
	struct node *n = userdata;

	pthread_mutex_lock(&n->lock);
	n->init_done = true;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

static const struct cuse_lowlevel_ops node_ops = {
    .init_done = node_init_done,
    .open = node_open,
    .read = node_read,
    .write = node_write,
    .release = node_release,
    .ioctl = node_ioctl,
    .poll = node_poll,
};

static void *loop_main(void *arg)
{
	struct node *n = arg;
	uint64_t one = 1;
	sigset_t wake;
	bool stopping;
	int ret;

	sigemptyset(&wake);
	sigaddset(&wake, NODE_WAKE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	ret = fuse_session_loop_mt(n->se, n->loop_cfg);

	pthread_mutex_lock(&n->lock);
	n->loop_ended = true;
	stopping = n->stopping;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	if (stopping)
		return NULL;
	vu_log(n->cfg.log, VU_LOG_ERR, "the CUSE session of %s ended (%s)", n->path,
	       ret < 0 ? strerror(-ret) : "closed by the kernel");
	if (n->cfg.ended_fd >= 0 && write(n->cfg.ended_fd, &one, sizeof(one)) < 0)
		vu_log(n->cfg.log, VU_LOG_ERR, "cannot tell the daemon: %s", strerror(errno));
	return NULL;
}

static bool node_appeared(const char *path, dev_t *rdev)
{
	struct stat st;

	if (stat(path, &st) || !S_ISCHR(st.st_mode))
		return false;
	if (rdev)
		*rdev = st.st_rdev;
	return true;
}

/* Wait for CUSE_INIT and for devtmpfs to show the node, or the session to
 * end (the kernel refused the device). Lock held. */
static int wait_ready(struct node *n)
{
	struct timespec deadline = deadline_in(n->cfg.ready_timeout_ms), step;

	for (;;) {
		if (n->loop_ended)
			return -ENODEV;
		if (n->init_done && node_appeared(n->path, &n->rdev))
			return 0;
		if (deadline_passed(&deadline))
			return -ETIMEDOUT;
		step = deadline_in(POLL_STEP_MS);
		pthread_cond_timedwait(&n->cond, &n->lock, &step);
	}
}

/* The number too: what a container's copy of the node must carry. */
static void log_ready(struct node *n)
{
	struct stat st;

	if (stat(n->path, &st))
		st.st_rdev = 0;
	vu_log(n->cfg.log, VU_LOG_INFO, "%s is ready (char %u:%u)", n->path, major(st.st_rdev),
	       minor(st.st_rdev));
}

/* The mode first, while the daemon still owns the node: chmod on a node
 * given away would need CAP_FOWNER too. */
static int apply_access(struct node *n)
{
	if (n->cfg.mode >= 0 && chmod(n->path, (mode_t)n->cfg.mode)) {
		vu_log(n->cfg.log, VU_LOG_ERR, "chmod %s: %s", n->path, strerror(errno));
		return -errno;
	}
	if ((n->cfg.uid != (uid_t)-1 || n->cfg.gid != (gid_t)-1) &&
	    chown(n->path, n->cfg.uid, n->cfg.gid)) {
		vu_log(n->cfg.log, VU_LOG_ERR, "chown %s: %s", n->path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int open_session(struct node *n)
{
	char devname[sizeof("DEVNAME=vfio-user/") + 96], fdpath[32];
	const char *dev_info[] = {devname};
	char *argv[] = {"vfio-user-cuse", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct cuse_info ci;
	int fd;

	fd = open("/dev/cuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		vu_log(n->cfg.log, VU_LOG_ERR, "cannot open /dev/cuse: %s", strerror(errno));
		return -errno;
	}
	snprintf(devname, sizeof(devname), "DEVNAME=vfio-user/%s", n->cfg.name);
	memset(&ci, 0, sizeof(ci));
	ci.dev_info_argc = 1;
	ci.dev_info_argv = dev_info;
	/* VFIO ioctls encode no size (_IO(';', 100 + n)). */
	ci.flags = CUSE_UNRESTRICTED_IOCTL;
	ci.dev_major = n->cfg.dev_major;
	ci.dev_minor = n->cfg.dev_minor;
	n->se = cuse_lowlevel_new(&args, &ci, &node_ops, n);
	fuse_opt_free_args(&args);
	if (!n->se) {
		close(fd);
		vu_log(n->cfg.log, VU_LOG_ERR, "cannot create the CUSE session");
		return -ENOMEM;
	}
	/* "/dev/fd/N" hands our own /dev/cuse fd to the session, which then
	 * owns it: one fd, hence one device, per node. */
	snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", fd);
	if (fuse_session_mount(n->se, fdpath)) {
		close(fd);
		vu_log(n->cfg.log, VU_LOG_ERR, "cannot attach /dev/cuse to the session");
		return -EIO;
	}
	n->loop_cfg = fuse_loop_cfg_create();
	if (!n->loop_cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_max_threads(n->loop_cfg, (unsigned int)n->cfg.max_threads);
	fuse_loop_cfg_set_idle_threads(n->loop_cfg, (unsigned int)n->cfg.idle_threads);
	return 0;
}

int node_begin(const struct node_config *cfg, struct vdev *d, struct node **out)
{
	struct node *n;
	int ret;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->cfg = *cfg;
	n->vdev = d;
	n->reqs.next = n->reqs.prev = &n->reqs;
	n->files.next = n->files.prev = &n->files;
	pthread_mutex_init(&n->lock, NULL);
	cond_init_monotonic(&n->cond);
	snprintf(n->path, sizeof(n->path), NODE_DIR "/%s", cfg->name);
	if (node_appeared(n->path, NULL)) {
		if (!cfg->quiet_exists)
			vu_log(cfg->log, VU_LOG_ERR, "%s already exists (another daemon?)",
			       n->path);
		ret = -EEXIST;
		goto err;
	}
	ret = open_session(n);
	if (ret)
		goto err;
	ret = -pthread_create(&n->loop, NULL, loop_main, n);
	if (ret) {
		vu_log(cfg->log, VU_LOG_ERR, "cannot start a thread: %s", strerror(-ret));
		goto err;
	}
	n->loop_started = true;
	*out = n;
	return 0;
err:
	node_stop(n);
	return ret;
}

int node_finish(struct node *n)
{
	const struct node_config *cfg = &n->cfg;
	int ret;

	pthread_mutex_lock(&n->lock);
	ret = wait_ready(n);
	pthread_mutex_unlock(&n->lock);
	if (ret == -ENODEV && cfg->dev_major)
		devnum_log_refusal(cfg->log, n->path, cfg->dev_major, cfg->dev_minor);
	else if (ret)
		vu_log(cfg->log, VU_LOG_ERR, "%s did not appear: %s", n->path,
		       ret == -ENODEV ? "the kernel refused the device" : "timed out");
	if (!ret)
		ret = apply_access(n);
	if (ret) {
		node_stop(n);
		return ret;
	}
	log_ready(n);
	return 0;
}

int node_start(const struct node_config *cfg, struct vdev *d, struct node **out)
{
	struct node *n;
	int ret = node_begin(cfg, d, &n);

	if (!ret)
		ret = node_finish(n);
	if (!ret)
		*out = n;
	return ret;
}

/* Fire every running request's token and end the loop: its thread waits in
 * sem_wait for the workers, which only a signal interrupts, so send one
 * until it has ended (a signal that comes just before it sleeps is lost). */
static int end_loop(struct node *n)
{
	struct timespec deadline, step;
	struct node_req *nr;
	int ret = 0;

	pthread_mutex_lock(&n->lock);
	n->stopping = true;
	for (nr = n->reqs.next; nr != &n->reqs; nr = nr->next)
		vu_cancel_fire(nr->cancel);
	if (!n->loop_started) {
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	fuse_session_exit(n->se);
	deadline = deadline_in(n->cfg.stop_timeout_ms);
	while (!n->loop_ended) {
		if (deadline_passed(&deadline)) {
			ret = -ETIMEDOUT;
			break;
		}
		pthread_kill(n->loop, NODE_WAKE_SIGNAL);
		step = deadline_in(2 * POLL_STEP_MS);
		pthread_cond_timedwait(&n->cond, &n->lock, &step);
	}
	pthread_mutex_unlock(&n->lock);
	if (ret)
		return ret;
	pthread_join(n->loop, NULL);
	return 0;
}

int node_stop(struct node *n)
{
	struct node_file *nf;
	int ret;

	ret = end_loop(n);
	if (ret) {
		vu_log(n->cfg.log, VU_LOG_ERR, "requests on %s still running after %d ms", n->path,
		       n->cfg.stop_timeout_ms);
		return ret;
	}
	/* Closing /dev/cuse removes the node and fails what callers still wait
	 * for in the kernel's queue. */
	if (n->se)
		fuse_session_destroy(n->se);
	fuse_loop_cfg_destroy(n->loop_cfg);
	while ((nf = n->files.next) != &n->files) {
		n->files.next = nf->next;
		file_release(n, nf);
	}
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
	return 0;
}
