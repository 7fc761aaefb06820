// SPDX-License-Identifier: MIT
/*
 * vuc-bench-callgrind: the instructions one operation costs, counted by
 * callgrind natively (no VM): the translation core (tests/core style: the
 * core with a fake calling process, against the example server over its
 * socket) and the protocol library alone, against the same server.
 *
 *   valgrind --tool=callgrind vuc-bench-callgrind SERVER_BINARY [N]
 *
 * For each operation it warms up, zeroes callgrind's counters, runs N of
 * them and dumps the counters under the operation's name
 * (callgrind.out.PID.K, "desc: Trigger: Client Request: NAME"): every
 * thread of this process is counted (the client's reader thread too),
 * not the server, which valgrind does not follow. tests/bench/run.sh
 * divides each dump's total by N. Without valgrind it just runs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <valgrind/callgrind.h>

#include "core/vdev.h"
#include "examples/example-device.h"
#include "proto/client.h"
#include "tests/core/fake_host.h"
#include "util.h"

#define PID           1000
#define BAR0_OFF(reg) (((uint64_t)VFIO_PCI_BAR0_REGION_INDEX << 40) + (reg))
#define CFG_OFF(reg)  (((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) + (reg))

struct bench {
	struct fake_host h;
	struct vdev *d;
	struct vfile *f;
	struct vreq r;
	struct vu_client *c;
	uint8_t *args; /* the fake process's memory, for ioctl arguments */
};

typedef int (*op_fn)(struct bench *b);

static void quiet(void *arg, enum vu_log_level lvl, const char *line)
{
	if (lvl <= VU_LOG_ERR)
		fprintf(stderr, "vuc-bench-callgrind: %s\n", line);
}

static const struct vu_log log_err = {.level = VU_LOG_ERR, .fn = quiet};

static int core_read4(struct bench *b)
{
	uint32_t v = 0;

	return vdev_read(b->d, b->f, &b->r, BAR0_OFF(EXDEV_REG_ID), &v, 4) == 4 ? 0 : -EIO;
}

static int core_write4(struct bench *b)
{
	uint32_t v = 1;

	return vdev_write(b->d, b->f, &b->r, BAR0_OFF(EXDEV_REG_SCRATCH), &v, 4) == 4 ? 0 : -EIO;
}

static int core_cfg_read4(struct bench *b)
{
	uint32_t v = 0;

	return vdev_read(b->d, b->f, &b->r, CFG_OFF(0), &v, 4) == 4 ? 0 : -EIO;
}

static int core_api_version(struct bench *b)
{
	return vdev_ioctl(b->d, b->f, &b->r, VFIO_GET_API_VERSION, 0) == VFIO_API_VERSION ? 0
	                                                                                  : -EIO;
}

static int core_region_info(struct bench *b)
{
	struct vfio_region_info *ri = (void *)b->args;

	*ri = (struct vfio_region_info){.argsz = sizeof(*ri), .index = VFIO_PCI_BAR0_REGION_INDEX};
	return vdev_ioctl(b->d, b->f, &b->r, VFIO_DEVICE_GET_REGION_INFO, (uintptr_t)ri) == 0
	           ? 0
	           : -EIO;
}

static int proto_read4(struct bench *b)
{
	uint32_t v = 0;

	return vu_region_read(b->c, NULL, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_ID, &v, 4);
}

static int proto_write4(struct bench *b)
{
	uint32_t v = 1;

	return vu_region_write(b->c, NULL, VFIO_PCI_BAR0_REGION_INDEX, EXDEV_REG_SCRATCH, &v, 4);
}

static int proto_cfg_read4(struct bench *b)
{
	uint32_t v = 0;

	return vu_region_read(b->c, NULL, VFIO_PCI_CONFIG_REGION_INDEX, 0, &v, 4);
}

static const struct {
	const char *name;
	op_fn fn;
} ops[] = {
    {"core_bar0_read4", core_read4},        {"core_bar0_write4", core_write4},
    {"core_cfg_read4", core_cfg_read4},     {"core_api_version", core_api_version},
    {"core_region_info", core_region_info}, {"proto_bar0_read4", proto_read4},
    {"proto_bar0_write4", proto_write4},    {"proto_cfg_read4", proto_cfg_read4},
};

static pid_t server_start(const char *bin, const char *path)
{
	pid_t pid = fork();

	if (pid == 0) {
		char opt[160];

		snprintf(opt, sizeof(opt), "--socket-path=%s", path);
		execl(bin, bin, opt, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int setup(struct bench *b, const char *core_sock, const char *proto_sock)
{
	struct vdev_config cfg = {.name = "bench", .server = core_sock, .timeout_ms = 60000};
	struct vu_client_opts o = {.timeout_ms = 60000, .twin_socket = true, .log = &log_err};
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	int ret = -1;

	fake_host_init(&b->h);
	b->args = aligned_alloc(4096, 4096);
	if (!b->args)
		return -ENOMEM;
	fake_host_add_mem(&b->h, b->args, 4096);
	cfg.host = fake_host_ops(&b->h);
	cfg.log = &log_err;
	/* The servers listen once they are up: bounded retries. */
	wait_until((ret = vdev_create(&cfg, &b->d)) == 0, 10000);
	if (ret < 0)
		return ret;
	b->r = (struct vreq){.pid = PID, .tid = PID};
	ret = vdev_open(b->d, &b->r, VFILE_NODE, &b->f);
	if (ret < 0)
		return ret;
	if (vdev_write(b->d, b->f, &b->r, CFG_OFF(PCI_COMMAND), &cmd, 2) != 2)
		return -EIO;
	wait_until((ret = vu_client_connect(proto_sock, &o, &b->c)) == 0, 10000);
	return ret;
}

int main(int argc, char **argv)
{
	char core_sock[108], proto_sock[108];
	struct bench b = {0};
	pid_t s1, s2;
	int n = argc > 2 ? atoi(argv[2]) : 1000, ret = 0;

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: vuc-bench-callgrind SERVER_BINARY [N]\n");
		return 2;
	}
	snprintf(core_sock, sizeof(core_sock), "/tmp/vuc-bench-cg-%d-core.sock", (int)getpid());
	snprintf(proto_sock, sizeof(proto_sock), "/tmp/vuc-bench-cg-%d-proto.sock", (int)getpid());
	s1 = server_start(argv[1], core_sock);
	s2 = server_start(argv[1], proto_sock);
	if (s1 < 0 || s2 < 0 || setup(&b, core_sock, proto_sock) < 0) {
		fprintf(stderr, "vuc-bench-callgrind: cannot set up against %s\n", argv[1]);
		ret = 1;
		goto out;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]) && !ret; i++) {
		for (int k = 0; k < n / 10 + 1 && !ret; k++)
			ret = ops[i].fn(&b);
		CALLGRIND_ZERO_STATS;
		for (int k = 0; k < n && !ret; k++)
			ret = ops[i].fn(&b);
		CALLGRIND_DUMP_STATS_AT(ops[i].name);
		if (ret)
			fprintf(stderr, "vuc-bench-callgrind: %s: %s\n", ops[i].name,
			        strerror(ret < 0 ? -ret : ret));
	}
	printf("ops %d\n", n);
out:
	if (b.c)
		vu_client_close(b.c);
	if (b.f)
		vdev_release(b.d, b.f);
	vdev_destroy(b.d);
	fake_host_fini(&b.h);
	free(b.args);
	if (s1 > 0)
		kill(s1, SIGTERM);
	if (s2 > 0)
		kill(s2, SIGTERM);
	waitpid(s1, NULL, 0);
	waitpid(s2, NULL, 0);
	unlink(core_sock);
	unlink(proto_sock);
	return ret ? 1 : 0;
}
