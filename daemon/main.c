// SPDX-License-Identifier: MIT
/*
 * vfio-user-cuse: for each vfio-user server a one-fd node,
 * /dev/vfio-user/NAME, and a VFIO device cdev, /dev/vfio-user/devices/NAME;
 * and one iommufd node, /dev/vfio-user/iommu, for them all.
 *
 * Threads: this one parses the command line, starts everything (the
 * servers are connected to from up to CONNECT_THREADS threads, which end
 * once all are) and then only waits for SIGTERM/SIGINT (signalfd) or a
 * node whose session ended;
 * SIGHUP is taken and ignored, so a closed terminal does not stop it;
 * each node has a loop thread and up to NODE_MAX_THREADS request threads;
 * each server connection has the protocol layer's reader thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "host_proc.h"
#include "dlog.h"
#include "memhelper.h"
#include "node.h"
#include "notify.h"
#include "options.h"
#include "privs.h"
#include "sysfs.h"
#include "core/vdev.h"

#define PROG "vfio-user-cuse"

#define NODE_MAX_THREADS 32
/* A request thread, once started, stays: libfuse ends threads above the
 * idle count as soon as they finish a request, so a burst of requests
 * from a few program threads created and destroyed threads all along. */
#define NODE_IDLE_THREADS NODE_MAX_THREADS
#define READY_TIMEOUT_MS  5000
#define CONNECT_THREADS   16
#define EXIT_SERVER       1
#define EXIT_USAGE        2

struct device {
	struct dlog log;
	struct vdev *vdev;
	struct node *node;     /* the one-fd node */
	struct node *cdev;     /* the device cdev */
	struct node *group;    /* the device's VFIO group */
	unsigned int group_nr; /* its number */
	bool in_sysfs;         /* its sysfs-like entry was made */
};

struct daemon {
	struct options opts;
	struct dlog log;
	struct device *devs;
	struct node *iommu;     /* the iommufd node */
	struct node *container; /* the container node */
	int sig_fd, ended_fd;
};

/* Which open of node n the program's fd is: BIND_IOMMUFD and
 * GROUP_SET_CONTAINER name an iommufd or a container by the caller's fd. */
static int daemon_file_of(struct daemon *dm, struct node *n, pid_t pid, int fd,
                          struct iommufd **ictx, struct container **k)
{
	int ours, ret;

	ours = host_proc_ops.fd_get(&dm->log.vu, pid, fd, HOST_FD_ANY);
	if (ours < 0)
		return ours;
	if (ictx)
		ret = n ? node_iommufd_of(n, ours, ictx) : -EBADFD;
	else
		ret = n ? node_container_of(n, ours, k) : -EINVAL;
	close(ours);
	return ret;
}

static int daemon_iommufd_get(void *arg, pid_t pid, int fd, struct iommufd **out)
{
	struct daemon *dm = arg;

	return daemon_file_of(dm, dm->iommu, pid, fd, out, NULL);
}

static int daemon_container_get(void *arg, pid_t pid, int fd, struct container **out)
{
	struct daemon *dm = arg;

	return daemon_file_of(dm, dm->container, pid, fd, NULL, out);
}

/* The check libfuse would make, done first so the hint comes before any
 * server is contacted. */
static int check_cuse(void)
{
	int fd = open("/dev/cuse", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
		dlog_early(VU_LOG_ERR,
		           "/dev/cuse: %s: the cuse kernel module is not loaded "
		           "(try 'modprobe cuse' as root)",
		           strerror(errno));
	else
		dlog_early(VU_LOG_ERR, "cannot open /dev/cuse: %s%s", strerror(errno),
		           errno == EACCES || errno == EPERM ? " (run as root)" : "");
	return -1;
}

/* Refuse to start without what serving programs takes (privs.h), rather
 * than fail them one by one later. */
static int check_privileges(const struct options *o)
{
	char missing[256];

	if (!privs_missing(privs_effective(), o->uid != (uid_t)-1 || o->gid != (gid_t)-1, missing,
	                   sizeof(missing)))
		return 0;
	dlog_early(VU_LOG_ERR,
	           "missing %s: run as root (the daemon reaches into the memory of the programs "
	           "that use its nodes)",
	           missing);
	return -1;
}

static void tell_supervisor(struct daemon *dm, const char *state)
{
	int ret = notify_send(state);

	if (ret)
		vu_log(&dm->log.vu, VU_LOG_WARN, "cannot notify NOTIFY_SOCKET: %s", strerror(-ret));
}

/* The daemon holds an fd for every DMA mapping (its pin on the owner's
 * memory), every shared region and every server socket, across all nodes: the
 * usual soft limit of 1024 would cap DMA maps far below the servers'
 * max_dma_maps. Take what the hard limit allows. */
static void raise_fd_limit(struct daemon *dm)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		vu_log(&dm->log.vu, VU_LOG_WARN, "cannot raise the open-file limit: %s",
		       strerror(errno));
}

/* SIGTERM/SIGINT/SIGHUP come through a signalfd; NODE_WAKE_SIGNAL only reaches
 * the node loop threads that unblock it. Done before any thread starts so
 * every thread inherits the mask. */
static int setup_signals(struct daemon *dm)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, NODE_WAKE_SIGNAL);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) || node_install_wake_handler())
		return -1;
	sigdelset(&set, NODE_WAKE_SIGNAL);
	dm->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	dm->ended_fd = eventfd(0, EFD_CLOEXEC);
	return dm->sig_fd < 0 || dm->ended_fd < 0 ? -1 : 0;
}

static int create_device(struct daemon *dm, size_t i)
{
	const struct options *o = &dm->opts;
	struct device *dev = &dm->devs[i];
	struct vdev_config cfg = {
	    .name = o->nodes[i].name,
	    .server = o->nodes[i].server,
	    .timeout_ms = o->timeout_ms,
	    .host = {&host_proc_ops, &dev->log.vu, o->dma_by_message},
	    .log = &dev->log.vu,
	    .iommufd_get = daemon_iommufd_get,
	    .container_get = daemon_container_get,
	    .iommufd_arg = dm,
	};

	dlog_init(&dev->log, o->nodes[i].name, o->level, STDERR_FILENO);
	/* A failure is logged there, in one line with its diagnosis. */
	return vdev_create(&cfg, &dev->vdev);
}

/* The devices still to connect, shared by the connecting threads. */
struct connecting {
	struct daemon *dm;
	atomic_size_t next;
	atomic_int err; /* the first failure; the others stop taking devices */
};

static void *connect_main(void *arg)
{
	struct connecting *k = arg;
	size_t i;

	while (!atomic_load(&k->err) &&
	       (i = atomic_fetch_add(&k->next, 1)) < k->dm->opts.nr_nodes) {
		int ret = create_device(k->dm, i), none = 0;

		if (ret)
			atomic_compare_exchange_strong(&k->err, &none, ret);
	}
	return NULL;
}

/* A connect is some twenty round trips to its server, mostly waiting for
 * it: connect to CONNECT_THREADS servers at once rather than one after the
 * other. A thread that cannot be started leaves its share to the others. */
static int create_devices(struct daemon *dm)
{
	struct connecting k = {.dm = dm};
	pthread_t threads[CONNECT_THREADS - 1];
	size_t n = 0;

	while (n < CONNECT_THREADS - 1 && n + 1 < dm->opts.nr_nodes &&
	       !pthread_create(&threads[n], NULL, connect_main, &k))
		n++;
	connect_main(&k);
	while (n > 0)
		pthread_join(threads[--n], NULL);
	return atomic_load(&k.err);
}

static struct node_config node_cfg(struct daemon *dm, enum node_kind kind, const char *name,
                                   const struct vu_log *log)
{
	const struct options *o = &dm->opts;

	return (struct node_config){
	    .kind = kind,
	    .name = name,
	    .uid = o->uid,
	    .gid = o->gid,
	    .mode = o->mode,
	    .max_threads = NODE_MAX_THREADS,
	    .idle_threads = NODE_IDLE_THREADS,
	    .ready_timeout_ms = READY_TIMEOUT_MS,
	    /* A running request ends within its server timeout. */
	    .stop_timeout_ms = o->timeout_ms + READY_TIMEOUT_MS,
	    .host = {&host_proc_ops, (void *)log, o->dma_by_message},
	    .log = log,
	    .ended_fd = dm->ended_fd,
	};
}

/* The device's sysfs-like entry, for programs that take a sysfs path. */
static int add_sysfs(struct daemon *dm, size_t i)
{
	const struct options *o = &dm->opts;
	struct device *dev = &dm->devs[i];
	uint8_t cfg[64];
	int ret = vdev_pci_config(dev->vdev, 0, cfg, sizeof(cfg));

	ret = sysfs_add(o->sysfs, o->nodes[i].name, dev->group != NULL, dev->group_nr,
	                dev->cdev ? node_rdev(dev->cdev) : 0, ret == 0 ? cfg : NULL, &dm->log.vu);
	dev->in_sysfs = ret == 0;
	return ret;
}

/* The iommufd or container node: a default name another daemon has taken
 * gives way to NAME-<first device>, so a second daemon needs no options. */
static int start_shared(struct daemon *dm, enum node_kind kind, const char *name, bool given,
                        struct node **out)
{
	struct node_config cfg = node_cfg(dm, kind, name, &dm->log.vu);
	char other[2 * OPT_NAME_MAX + 2];
	int ret;

	cfg.quiet_exists = !given;
	if (kind == NODE_IOMMU) {
		cfg.dev_major = dm->opts.iommu_major;
		cfg.dev_minor = dm->opts.iommu_minor;
	}
	ret = node_start(&cfg, NULL, out);
	if (ret != -EEXIST || given)
		return ret;
	snprintf(other, sizeof(other), "%s-%s", name, dm->opts.nodes[0].name);
	vu_log(&dm->log.vu, VU_LOG_INFO, NODE_DIR "/%s is another daemon's: this one is %s", name,
	       other);
	cfg.name = other;
	return node_start(&cfg, NULL, out);
}

/* The group node of device i: the first free number from the last one. */
static int begin_group(struct daemon *dm, size_t i, unsigned int *group)
{
	struct device *dev = &dm->devs[i];
	struct node_config cfg;
	char name[32];
	int ret = -EEXIST;

	for (int tries = 0; ret == -EEXIST && tries < 1024; tries++, (*group)++) {
		snprintf(name, sizeof(name), "groups/%u", *group);
		cfg = node_cfg(dm, NODE_GROUP, name, &dev->log.vu);
		cfg.quiet_exists = true;
		ret = node_begin(&cfg, dev->vdev, &dev->group);
	}
	dev->group_nr = *group - 1;
	return ret;
}

/* Open the sessions of device i's nodes; start_nodes waits for them. */
static int begin_device(struct daemon *dm, size_t i, unsigned int *group)
{
	const struct options *o = &dm->opts;
	struct device *dev = &dm->devs[i];
	struct node_config cfg;
	char name[96];
	int ret;

	if (o->models & OPT_MODEL_NODE) {
		cfg = node_cfg(dm, NODE_DEVICE, o->nodes[i].name, &dev->log.vu);
		cfg.dev_major = o->nodes[i].major;
		cfg.dev_minor = o->nodes[i].minor;
		ret = node_begin(&cfg, dev->vdev, &dev->node);
		if (ret)
			return ret;
	}
	if (o->models & OPT_MODEL_IOMMUFD) {
		snprintf(name, sizeof(name), "devices/%s", o->nodes[i].name);
		cfg = node_cfg(dm, NODE_CDEV, name, &dev->log.vu);
		cfg.dev_major = o->nodes[i].cdev_major;
		cfg.dev_minor = o->nodes[i].cdev_minor;
		ret = node_begin(&cfg, dev->vdev, &dev->cdev);
		if (ret)
			return ret;
	}
	if (o->models & OPT_MODEL_LEGACY)
		return begin_group(dm, i, group);
	return 0;
}

/* A node node_finish failed on is freed: forget it. */
static int finish_node(struct node **n)
{
	int ret = *n ? node_finish(*n) : 0;

	if (ret)
		*n = NULL;
	return ret;
}

static int start_nodes(struct daemon *dm)
{
	const struct options *o = &dm->opts;
	unsigned int group = o->group_base;
	size_t i;
	int ret;

	if (o->models & OPT_MODEL_IOMMUFD) {
		ret = start_shared(dm, NODE_IOMMU, o->iommufd, o->iommufd_given, &dm->iommu);
		if (ret)
			return ret;
	}
	if (o->models & OPT_MODEL_LEGACY) {
		ret = start_shared(dm, NODE_CONTAINER, o->container, o->container_given,
		                   &dm->container);
		if (ret)
			return ret;
	}
	/* Every session first, then the waits: the kernel's CUSE_INITs and
	 * devtmpfs serve them all at once. */
	for (i = 0; i < o->nr_nodes; i++) {
		ret = begin_device(dm, i, &group);
		if (ret)
			return ret;
	}
	for (i = 0; i < o->nr_nodes; i++) {
		struct device *dev = &dm->devs[i];

		ret = finish_node(&dev->node);
		if (!ret)
			ret = finish_node(&dev->cdev);
		if (!ret)
			ret = finish_node(&dev->group);
		if (!ret && o->models & (OPT_MODEL_IOMMUFD | OPT_MODEL_LEGACY))
			ret = add_sysfs(dm, i);
		if (ret)
			return ret;
	}
	return 0;
}

/* Wait for SIGTERM/SIGINT (0) or a node whose session ended (-ENODEV). The
 * daemon has nothing to reload: SIGHUP is ignored, with a line. */
static int wait_for_stop(struct daemon *dm)
{
	struct pollfd pfd[2] = {{dm->sig_fd, POLLIN, 0}, {dm->ended_fd, POLLIN, 0}};
	struct signalfd_siginfo si;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			vu_log(&dm->log.vu, VU_LOG_ERR, "poll: %s", strerror(errno));
			return -errno;
		}
		if (pfd[1].revents)
			return -ENODEV;
		if (!pfd[0].revents || read(dm->sig_fd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			vu_log(&dm->log.vu, VU_LOG_INFO, "SIGHUP ignored: nothing to reload");
			continue;
		}
		vu_log(&dm->log.vu, VU_LOG_INFO, "%s: shutting down", strsignal((int)si.ssi_signo));
		return 0;
	}
}

/* Nodes first (answer and release everything programs hold, remove the
 * nodes), then the server connections. */
static int shut_down(struct daemon *dm)
{
	size_t i = dm->opts.nr_nodes;
	int ret = 0;

	while (i-- > 0) {
		if (dm->devs[i].node && node_stop(dm->devs[i].node))
			ret = -ETIMEDOUT;
		if (dm->devs[i].cdev && node_stop(dm->devs[i].cdev))
			ret = -ETIMEDOUT;
		if (dm->devs[i].group && node_stop(dm->devs[i].group))
			ret = -ETIMEDOUT;
		if (dm->devs[i].in_sysfs)
			sysfs_remove(dm->opts.sysfs, dm->opts.nodes[i].name, dm->devs[i].group_nr);
	}
	if (dm->iommu && node_stop(dm->iommu))
		ret = -ETIMEDOUT;
	if (dm->container && node_stop(dm->container))
		ret = -ETIMEDOUT;
	if (ret)
		return ret;
	for (i = 0; i < dm->opts.nr_nodes; i++)
		if (dm->devs[i].vdev)
			vdev_destroy(dm->devs[i].vdev);
	return 0;
}

static int run(struct daemon *dm)
{
	int status = EXIT_SERVER;

	dlog_init(&dm->log, NULL, dm->opts.level, STDERR_FILENO);
	raise_fd_limit(dm);
	/* A server asks for DMA while it serves one of our requests, which
	 * waits timeout_ms: answer within half of it. */
	memhelper_set_timeout(dm->opts.timeout_ms / 2 > 0 ? dm->opts.timeout_ms / 2 : 1);
	if (setup_signals(dm)) {
		vu_log(&dm->log.vu, VU_LOG_ERR, "cannot set up signals: %s", strerror(errno));
		return EXIT_SERVER;
	}
	dm->devs = calloc(dm->opts.nr_nodes, sizeof(*dm->devs));
	if (!dm->devs)
		return EXIT_SERVER;
	if (!create_devices(dm) && !start_nodes(dm)) {
		vu_log(&dm->log.vu, VU_LOG_INFO, "serving %zu device(s)", dm->opts.nr_nodes);
		/* Every node is there, with its owner and mode: usable. */
		tell_supervisor(dm, "READY=1\nSTATUS=serving the devices");
		if (!wait_for_stop(dm))
			status = EXIT_SUCCESS;
		tell_supervisor(dm, "STOPPING=1\nSTATUS=removing the nodes");
	}
	if (shut_down(dm))
		status = EXIT_SERVER;
	free(dm->devs);
	return status;
}

int main(int argc, char **argv)
{
	struct daemon dm = {.sig_fd = -1, .ended_fd = -1};
	bool journal = dlog_is_journal(getenv("JOURNAL_STREAM"), STDERR_FILENO);
	char err[512];
	int status;

	dlog_use_journal(journal);
	if (options_parse(&dm.opts, argc, argv, err, sizeof(err))) {
		dlog_early(VU_LOG_ERR, "%s", err[0] ? err : strerror(ENOMEM));
		if (!journal)
			fprintf(stderr, "Try '" PROG " --help'.\n");
		options_free(&dm.opts);
		return EXIT_USAGE;
	}
	if (dm.opts.help || dm.opts.version) {
		if (dm.opts.help)
			options_usage(stdout, PROG);
		else
			printf(PROG " %s\n", VFIO_USER_CUSE_VERSION);
		options_free(&dm.opts);
		return EXIT_SUCCESS;
	}
	if (check_privileges(&dm.opts) || check_cuse()) {
		options_free(&dm.opts);
		return EXIT_USAGE;
	}
	status = run(&dm);
	if (dm.sig_fd >= 0)
		close(dm.sig_fd);
	if (dm.ended_fd >= 0)
		close(dm.ended_fd);
	options_free(&dm.opts);
	return status;
}
