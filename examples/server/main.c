// SPDX-License-Identifier: MIT
/*
 * vfio-user-example-server: serves the device of examples/example-device.h
 * on a unix socket, one client at a time, until SIGTERM or SIGINT. Follows
 * the spec's backend program conventions: foreground, --socket-path or --fd.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "device.h"

#define PROG            "vfio-user-example-server"
#define ACCEPT_POLL_MS  100
#define DEFAULT_MAX_FDS 8 /* MSI-X vectors plus room: fewer SET_IRQS batches */

static volatile sig_atomic_t stop;

struct cli {
	const char *socket_path;
	int fd;
	uint32_t max_xfer;
	uint32_t max_fds;
	bool no_mmap;
	bool strict;
	bool no_twin;
	unsigned int reply_delay_ms;
	bool verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: " PROG " (--socket-path=PATH | --fd=N) [options]\n"
	        "Serve the PCI device of examples/example-device.h over vfio-user: registers,\n"
	        "64 KiB of RAM, a DMA engine, MSI-X and INTx interrupts. It serves one client\n"
	        "at a time, the next once the previous has left, and logs to stderr.\n"
	        "\n"
	        "Options:\n"
	        "  --socket-path=PATH  listen on a unix socket at PATH (an old socket file is\n"
	        "                      replaced, and removed at exit)\n"
	        "  --fd=N              use fd N: a listening socket (serve clients in turn)\n"
	        "                      or a connected one (serve it, then exit)\n"
	        "  --max-xfer=BYTES    max_data_xfer_size to negotiate (default %u)\n"
	        "  --max-fds=N         max_msg_fds to negotiate (default %u)\n"
	        "  --no-mmap           offer BAR2 without an fd: message access only\n"
	        "  --strict            as libvfio-user: a command that arrives while the\n"
	        "                      device waits for a DMA reply ends the connection\n"
	        "  --no-twin-socket    do not offer twin-socket mode\n"
	        "  --reply-delay-ms=N  sleep N ms before answering each request but the info\n"
	        "                      queries (device, region, IRQ info)\n"
	        "  -v, --verbose       log every mapping and connection detail\n"
	        "  -h, --help          show this help\n"
	        "  -V, --version       show the version\n"
	        "\n"
	        "Signals: SIGTERM or SIGINT stops the server; it exits 0.\n"
	        "\n"
	        "Exit status: 0 after SIGTERM or SIGINT (with a connected --fd, once its client\n"
	        "has left), 1 when the socket or the device cannot be set up, 2 for a bad\n"
	        "command line.\n",
	        VU_DEFAULT_MAX_DATA_XFER_SIZE, DEFAULT_MAX_FDS);
}

static void log_line(void *arg, enum vu_log_level lvl, const char *line)
{
	fprintf(stderr, PROG ": %s: %s\n", vu_log_level_name(lvl), line);
}

static int parse_uint(const char *opt, const char *s, unsigned long max, uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v > max) {
		fprintf(stderr, PROG ": %s: '%s' is not a number from 0 to %lu\n", opt, s, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_opt(struct cli *cli, int c, const char *arg)
{
	uint32_t v = 0;
	int err = 0;

	switch (c) {
	case 's':
		cli->socket_path = arg;
		break;
	case 'f':
		err = parse_uint("--fd", arg, INT_MAX, &v);
		cli->fd = v;
		break;
	case 'x':
		err = parse_uint("--max-xfer", arg, VU_MAX_XFER_SIZE_LIMIT, &cli->max_xfer);
		if (!err && !cli->max_xfer) {
			fprintf(stderr, PROG ": --max-xfer must be at least 1\n");
			err = -EINVAL;
		}
		break;
	case 'n':
		err = parse_uint("--max-fds", arg, VU_MAX_MSG_FDS_LIMIT, &cli->max_fds);
		break;
	case 'm':
		cli->no_mmap = true;
		break;
	case 'S':
		cli->strict = true;
		break;
	case 'T':
		cli->no_twin = true;
		break;
	case 'd':
		err = parse_uint("--reply-delay-ms", arg, 3600 * 1000, &v);
		cli->reply_delay_ms = v;
		break;
	case 'v':
		cli->verbose = true;
		break;
	default:
		err = -EINVAL;
		break;
	}
	return err;
}

/* Returns 0 to run, 1 after --help or --version, -EINVAL on bad usage. */
static int parse_args(int argc, char **argv, struct cli *cli)
{
	static const struct option longopts[] = {
	    {"socket-path", required_argument, NULL, 's'},
	    {"fd", required_argument, NULL, 'f'},
	    {"max-xfer", required_argument, NULL, 'x'},
	    {"max-fds", required_argument, NULL, 'n'},
	    {"no-mmap", no_argument, NULL, 'm'},
	    {"strict", no_argument, NULL, 'S'},
	    {"no-twin-socket", no_argument, NULL, 'T'},
	    {"reply-delay-ms", required_argument, NULL, 'd'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "vhV", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c == 'V') {
			printf(PROG " %s\n", VFIO_USER_CUSE_VERSION);
			return 1;
		}
		if (parse_opt(cli, c, optarg))
			goto bad;
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		goto bad;
	}
	if (!cli->socket_path == (cli->fd < 0)) {
		fprintf(stderr, PROG ": give exactly one of --socket-path and --fd\n");
		goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "Try '" PROG " --help'.\n");
	return -EINVAL;
}

static void on_signal(int sig)
{
	stop = 1;
}

static void setup_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

struct server {
	struct exdev dev;
	struct vu_server_opts opts;
	const struct vu_log *log;
};

static void serve_one(struct server *s, int fd)
{
	int err;

	vu_log(s->log, VU_LOG_INFO, "client connected");
	err = vu_serve(fd, &exdev_ops, &s->dev, &s->opts, &stop);
	if (err)
		vu_log(s->log, VU_LOG_WARN, "client dropped: %s", strerror(-err));
	else
		vu_log(s->log, VU_LOG_INFO, "client left");
}

/* Waits a bounded time for each client, so a signal is seen at once. */
static int serve_listener(struct server *s, int lfd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	const struct timespec backoff = {.tv_nsec = ACCEPT_POLL_MS * 1000000L};

	while (!stop) {
		int n = poll(&p, 1, ACCEPT_POLL_MS);
		int fd;

		if (n < 0 && errno != EINTR) {
			vu_log(s->log, VU_LOG_ERR, "poll on the listening socket: %s",
			       strerror(errno));
			return -errno;
		}
		if (n <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			/* Out of fds or memory: the connection stays queued, so
			 * pause rather than spin on it. */
			vu_log(s->log, VU_LOG_WARN, "accept: %s", strerror(errno));
			nanosleep(&backoff, NULL);
			continue;
		}
		serve_one(s, fd);
	}
	return 0;
}

/* --fd: a listening socket serves clients in turn; a connected one, once. */
static int serve_fd(struct server *s, int fd)
{
	int listening = 0;
	socklen_t len = sizeof(listening);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) {
		vu_log(s->log, VU_LOG_ERR, "--fd=%d is not a socket: %s", fd, strerror(errno));
		return -ENOTSOCK;
	}
	if (listening)
		return serve_listener(s, fd);
	serve_one(s, fd);
	return 0;
}

static int run(const struct cli *cli, const struct vu_log *log)
{
	struct exdev_opts dopts = {
	    .bar2_mmap = !cli->no_mmap,
	    .reply_delay_ms = cli->reply_delay_ms,
	    .log = log,
	};
	struct server s = {.log = log};
	int lfd, err;

	vu_caps_default(&s.opts.caps);
	s.opts.caps.max_data_xfer_size = cli->max_xfer;
	s.opts.caps.max_msg_fds = cli->max_fds;
	/* Offered, taken only if the client asks: clients get to test both. */
	s.opts.caps.write_multiple = true;
	s.opts.caps.twin_socket = !cli->no_twin;
	s.opts.strict = cli->strict;
	s.opts.log = log;
	dopts.max_dma_maps = s.opts.caps.max_dma_maps;
	err = exdev_init(&s.dev, &dopts);
	if (err) {
		vu_log(log, VU_LOG_ERR, "device setup: %s", strerror(-err));
		return err;
	}
	if (cli->fd >= 0) {
		err = serve_fd(&s, cli->fd);
	} else {
		lfd = vu_server_listen(cli->socket_path);
		if (lfd < 0) {
			err = lfd;
			vu_log(log, VU_LOG_ERR, "listen on %s: %s", cli->socket_path,
			       strerror(-err));
		} else {
			vu_log(log, VU_LOG_INFO, "listening on %s", cli->socket_path);
			err = serve_listener(&s, lfd);
			close(lfd);
			unlink(cli->socket_path);
		}
	}
	exdev_fini(&s.dev);
	return err;
}

int main(int argc, char **argv)
{
	struct cli cli = {
	    .fd = -1,
	    .max_xfer = VU_DEFAULT_MAX_DATA_XFER_SIZE,
	    .max_fds = DEFAULT_MAX_FDS,
	};
	struct vu_log log = {.level = VU_LOG_INFO, .fn = log_line};
	int err;

	err = parse_args(argc, argv, &cli);
	if (err)
		return err > 0 ? 0 : 2;
	if (cli.verbose)
		log.level = VU_LOG_DEBUG;
	setup_signals();
	return run(&cli, &log) ? 1 : 0;
}
