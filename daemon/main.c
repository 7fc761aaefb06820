// SPDX-License-Identifier: MIT
/*
 * vfio-user-cuse: one /dev/vfio-user/NAME node per vfio-user server.
 *
 * Threads: this one parses the command line, starts everything and then
 * only waits for SIGTERM/SIGINT (signalfd) or a node whose session ended;
 * each node has a loop thread and up to NODE_MAX_THREADS request threads;
 * each server connection has the protocol layer's reader thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "host_proc.h"
#include "log.h"
#include "node.h"
#include "options.h"
#include "core/vdev.h"

#define PROG "vfio-user-cuse"

#define NODE_MAX_THREADS  32
#define NODE_IDLE_THREADS 4
#define READY_TIMEOUT_MS  5000
#define EXIT_SERVER       1
#define EXIT_USAGE        2

struct device {
	struct dlog log;
	struct vdev *vdev;
	struct node *node;
};

struct daemon {
	struct options opts;
	struct dlog log;
	struct device *devs;
	int sig_fd, ended_fd;
};

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
		fprintf(stderr,
		        PROG ": /dev/cuse: %s: the cuse kernel module is not loaded "
		             "(try 'modprobe cuse' as root)\n",
		        strerror(errno));
	else
		fprintf(stderr, PROG ": cannot open /dev/cuse: %s%s\n", strerror(errno),
		        errno == EACCES || errno == EPERM ? " (run as root)" : "");
	return -1;
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

/* SIGTERM/SIGINT come through a signalfd; NODE_WAKE_SIGNAL only reaches
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
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) || node_install_wake_handler())
		return -1;
	sigdelset(&set, NODE_WAKE_SIGNAL);
	dm->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	dm->ended_fd = eventfd(0, EFD_CLOEXEC);
	return dm->sig_fd < 0 || dm->ended_fd < 0 ? -1 : 0;
}

static int create_devices(struct daemon *dm)
{
	const struct options *o = &dm->opts;
	size_t i;
	int ret;

	for (i = 0; i < o->nr_nodes; i++) {
		struct device *dev = &dm->devs[i];
		struct vdev_config cfg = {
		    .name = o->nodes[i].name,
		    .server = o->nodes[i].server,
		    .timeout_ms = o->timeout_ms,
		    .dma_by_message = o->dma_by_message,
		    .host = {&host_proc_ops, &dev->log.vu},
		    .log = &dev->log.vu,
		};

		dlog_init(&dev->log, o->nodes[i].name, o->level, STDERR_FILENO);
		ret = vdev_create(&cfg, &dev->vdev);
		if (ret) {
			vu_log(&dm->log.vu, VU_LOG_ERR, "%s: cannot reach server %s: %s",
			       o->nodes[i].name, o->nodes[i].server, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int start_nodes(struct daemon *dm)
{
	const struct options *o = &dm->opts;
	size_t i;
	int ret;

	for (i = 0; i < o->nr_nodes; i++) {
		struct device *dev = &dm->devs[i];
		struct node_config cfg = {
		    .name = o->nodes[i].name,
		    .uid = o->uid,
		    .gid = o->gid,
		    .mode = o->mode,
		    .max_threads = NODE_MAX_THREADS,
		    .idle_threads = NODE_IDLE_THREADS,
		    .ready_timeout_ms = READY_TIMEOUT_MS,
		    /* A running request ends within its server timeout. */
		    .stop_timeout_ms = o->timeout_ms + READY_TIMEOUT_MS,
		    .host = {&host_proc_ops, &dev->log.vu},
		    .log = &dev->log.vu,
		    .ended_fd = dm->ended_fd,
		};

		ret = node_start(&cfg, dev->vdev, &dev->node);
		if (ret)
			return ret;
	}
	return 0;
}

/* Wait for SIGTERM/SIGINT (0) or a node whose session ended (-ENODEV). */
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
		if (pfd[0].revents && read(dm->sig_fd, &si, sizeof(si)) == sizeof(si)) {
			vu_log(&dm->log.vu, VU_LOG_INFO, "%s: shutting down",
			       strsignal((int)si.ssi_signo));
			return 0;
		}
	}
}

/* Nodes first (answer and release everything programs hold, remove the
 * nodes), then the server connections. */
static int shut_down(struct daemon *dm)
{
	size_t i = dm->opts.nr_nodes;
	int ret = 0;

	while (i-- > 0)
		if (dm->devs[i].node && node_stop(dm->devs[i].node))
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
	if (setup_signals(dm)) {
		vu_log(&dm->log.vu, VU_LOG_ERR, "cannot set up signals: %s", strerror(errno));
		return EXIT_SERVER;
	}
	dm->devs = calloc(dm->opts.nr_nodes, sizeof(*dm->devs));
	if (!dm->devs)
		return EXIT_SERVER;
	if (!create_devices(dm) && !start_nodes(dm)) {
		vu_log(&dm->log.vu, VU_LOG_INFO, "serving %zu device(s)", dm->opts.nr_nodes);
		if (!wait_for_stop(dm))
			status = EXIT_SUCCESS;
	}
	if (shut_down(dm))
		status = EXIT_SERVER;
	free(dm->devs);
	return status;
}

int main(int argc, char **argv)
{
	struct daemon dm = {.sig_fd = -1, .ended_fd = -1};
	char err[512];
	int status;

	if (options_parse(&dm.opts, argc, argv, err, sizeof(err))) {
		fprintf(stderr, PROG ": %s\nTry '" PROG " --help'.\n",
		        err[0] ? err : strerror(ENOMEM));
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
	if (check_cuse()) {
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
