// SPDX-License-Identifier: MIT
/*
 * vfio-user-info ADDRESS: connect to a vfio-user server and print what it
 * negotiated and what its device looks like. The first thing to run when a
 * server misbehaves, so every failure says what was tried and why it failed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/vfio.h>

#include "info.h"
#include "proto/diag.h"

#define PROG "vfio-user-info"

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: " PROG " [options] ADDRESS\n"
	        "Connect to a vfio-user server and print what it offers: the negotiated\n"
	        "version and capabilities, the device, every region with its capabilities,\n"
	        "the interrupts, and the PCI config space with its capability list decoded.\n"
	        "\n"
	        "ADDRESS is a unix socket path, unix:PATH, fd:N (a connected socket this\n"
	        "program inherits) or tcp:HOST:PORT.\n"
	        "\n"
	        "Options:\n"
	        "  --timeout=MS     wait at most MS ms for each reply (default %d);\n"
	        "                   --timeout-ms=MS is the same\n"
	        "  -x, --hex        show the PCI config space as hex too\n"
	        "  -v, --verbose    log protocol details\n"
	        "  -h, --help       show this help\n"
	        "  -V, --version    show the version\n"
	        "\n"
	        "Exit status: 0 after a full report, 1 when the server cannot be reached or\n"
	        "part of the report failed, 2 for a bad command line.\n",
	        VU_DEFAULT_TIMEOUT_MS);
}

static void log_line(void *arg, enum vu_log_level lvl, const char *line)
{
	fprintf(stderr, PROG ": %s\n", line);
}

static int parse_timeout(const char *opt, const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 3600 * 1000) {
		fprintf(stderr, PROG ": %s: '%s' is not a number of ms in 1-3600000\n", opt, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int report(struct vu_client *c, int timeout_ms, bool hex)
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
		err = info_print_config(stdout, c, &o, &regions, hex);
		ret = ret ? ret : err;
	}
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"timeout", required_argument, NULL, 't'},
	    {"timeout-ms", required_argument, NULL, 'T'},
	    {"hex", no_argument, NULL, 'x'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct vu_log log = {.level = VU_LOG_WARN, .fn = log_line};
	struct vu_client_opts copts = {0};
	struct vu_connect_log cl;
	struct vu_client *c;
	char why[512];
	bool hex = false;
	int opt, err;

	/* Each line as it is printed, in order with other programs' output
	 * when stdout is a pipe (the demo labels every line). */
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt_long(argc, argv, "xvhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(PROG " %s\n", VFIO_USER_CUSE_VERSION);
			return 0;
		case 'x':
			hex = true;
			break;
		case 'v':
			log.level = VU_LOG_DEBUG;
			break;
		case 't':
		case 'T':
			if (parse_timeout(opt == 't' ? "--timeout" : "--timeout-ms", optarg,
			                  &copts.timeout_ms))
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, PROG ": %s\n",
		        optind < argc ? "give one ADDRESS only" : "no ADDRESS given");
		goto bad;
	}
	vu_connect_log_init(&cl, &log);
	copts.log = &cl.log;
	err = vu_client_connect(argv[optind], &copts, &c);
	vu_connect_log_done(&cl);
	if (err) {
		vu_connect_explain(argv[optind], err, cl.detail, copts.timeout_ms, why,
		                   sizeof(why));
		fprintf(stderr, PROG ": cannot connect to %s: %s\n", argv[optind], why);
		return 1;
	}
	printf("server: %s\n", argv[optind]);
	err = report(c, copts.timeout_ms, hex);
	vu_client_close(c);
	if (err)
		fprintf(stderr, PROG ": incomplete report: %s\n", strerror(-err));
	return err ? 1 : 0;
bad:
	fprintf(stderr, "Try '" PROG " --help'.\n");
	return 2;
}
