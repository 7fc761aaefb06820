// SPDX-License-Identifier: MIT
/*
 * vfio-user-info ADDRESS: connect to a vfio-user server and print what it
 * negotiated and what its device looks like. The first thing to run when a
 * server misbehaves, so every failure says what was tried and why it failed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <linux/vfio.h>

#include "info.h"

#define PROG "vfio-user-info"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: " PROG " [--timeout-ms=N] [-v] ADDRESS\n"
	        "Print a vfio-user server's negotiated capabilities, device, regions,\n"
	        "IRQs and PCI config space.\n"
	        "\n"
	        "  ADDRESS            PATH or unix:PATH (a unix socket), fd:N, tcp:HOST:PORT\n"
	        "  --timeout-ms=N     per-request timeout (default %d)\n"
	        "  -v, --verbose      log protocol details\n"
	        "  -h, --help         this text\n",
	        VU_DEFAULT_TIMEOUT_MS);
}

static void log_line(void *arg, enum vu_log_level lvl, const char *line)
{
	fprintf(stderr, PROG ": %s\n", line);
}

static int parse_timeout(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 3600 * 1000) {
		fprintf(stderr, PROG ": --timeout-ms: '%s' is not from 1 to 3600000\n", s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* A hint for the usual reasons a unix socket address does not answer. */
static void explain(const char *addr, int err)
{
	const char *path = strncmp(addr, "unix:", 5) ? addr : addr + 5;
	struct stat st;

	if (!strncmp(addr, "fd:", 3) || !strncmp(addr, "tcp:", 4)) {
		if (err == -ECONNREFUSED)
			fprintf(stderr, PROG ": is the server running and listening there?\n");
		return;
	}
	if (stat(path, &st) < 0)
		fprintf(stderr, PROG ": no file at %s: is the server running, with that path?\n",
		        path);
	else if (!S_ISSOCK(st.st_mode))
		fprintf(stderr, PROG ": %s is not a socket\n", path);
	else if (err == -ECONNREFUSED)
		fprintf(stderr, PROG ": nothing listens on %s: a stale socket of a server gone?\n",
		        path);
}

static int report(struct vu_client *c, int timeout_ms)
{
	struct vu_call_opts o = {.timeout_ms = timeout_ms};
	struct vfio_user_device_info dev;
	struct info_regions regions = {{0}};
	int err, ret = 0;

	info_print_caps(stdout, c);
	err = info_print_device(stdout, c, &o, &dev);
	if (err)
		return err;
	err = info_print_regions(stdout, c, &o, dev.num_regions, &regions);
	ret = ret ? ret : err;
	err = info_print_irqs(stdout, c, &o, dev.num_irqs);
	ret = ret ? ret : err;
	if (dev.flags & VFIO_DEVICE_FLAGS_PCI) {
		err = info_print_config(stdout, c, &o, &regions);
		ret = ret ? ret : err;
	}
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"timeout-ms", required_argument, NULL, 't'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct vu_log log = {.level = VU_LOG_WARN, .fn = log_line};
	struct vu_client_opts copts = {.log = &log};
	struct vu_client *c;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt == 'v')
			log.level = VU_LOG_DEBUG;
		else if (opt != 't' || parse_timeout(optarg, &copts.timeout_ms))
			goto bad;
	}
	if (optind != argc - 1)
		goto bad;
	err = vu_client_connect(argv[optind], &copts, &c);
	if (err) {
		fprintf(stderr, PROG ": cannot talk vfio-user to '%s': %s\n", argv[optind],
		        strerror(-err));
		explain(argv[optind], err);
		return 1;
	}
	printf("server: %s\n", argv[optind]);
	err = report(c, copts.timeout_ms);
	vu_client_close(c);
	if (err)
		fprintf(stderr, PROG ": incomplete report: %s\n", strerror(-err));
	return err ? 1 : 0;
bad:
	usage(stderr);
	return 2;
}
