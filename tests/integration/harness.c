// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "examples/example-device.h"
#include "harness.h"

#define MAX_ARGS 16

static void child(const struct h_server *s, const char *const *args)
{
	char opt[160];
	const char *argv[MAX_ARGS + 3] = {EXAMPLE_SERVER, opt};
	int i, fd;

	snprintf(opt, sizeof(opt), "--socket-path=%s", s->path);
	for (i = 0; args && args[i] && i < MAX_ARGS; i++)
		argv[2 + i] = args[i];
	fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0)
		dup2(fd, STDERR_FILENO);
	execv(EXAMPLE_SERVER, (char **)argv);
	_exit(127);
}

void h_server_start(struct h_server *s, const char *const *args)
{
	double deadline = now_ms() + H_WAIT_MS;
	struct stat st;

	strcpy(s->dir, "/tmp/vu-integration-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/sock", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/server.log", s->dir);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (!s->pid)
		child(s, args);
	while (stat(s->path, &st) < 0) {
		int status;

		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = -1;
			fail_msg("the server exited before listening (see %s)", s->log);
		}
		if (now_ms() > deadline)
			fail_msg("the server did not create %s in %d ms", s->path, H_WAIT_MS);
		sleep_ms(2);
	}
}

/* Reap within the bound; returns the wait status, or -1 on timeout. */
static int reap(pid_t pid)
{
	int status;

	return wait_until(waitpid(pid, &status, WNOHANG) == pid, H_WAIT_MS) ? status : -1;
}

static void cleanup(struct h_server *s)
{
	unlink(s->path);
	unlink(s->log);
	rmdir(s->dir);
}

static void dump_log(const struct h_server *s)
{
	char buf[4096];
	ssize_t n;
	int fd = open(s->log, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, stderr);
	close(fd);
}

int h_wait_exit(pid_t pid)
{
	int status = reap(pid);

	if (status == -1) {
		kill(pid, SIGKILL);
		reap(pid);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int h_server_signal(struct h_server *s, int sig)
{
	int code;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, sig);
	code = h_wait_exit(s->pid);
	s->pid = -1;
	if (code)
		dump_log(s);
	cleanup(s);
	return code;
}

void h_server_stop(struct h_server *s)
{
	if (s->pid > 0)
		assert_int_equal(h_server_signal(s, SIGTERM), 0);
}

void h_server_kill(struct h_server *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	assert_int_not_equal(reap(s->pid), -1);
	s->pid = -1;
	cleanup(s);
}

static void log_line(void *arg, enum vu_log_level lvl, const char *line)
{
	fprintf(stderr, "client: %s\n", line);
}

static const struct vu_log quiet_log = {.level = VU_LOG_ERR, .fn = log_line};

struct vu_client *h_connect(const struct h_server *s, const struct vu_client_opts *opts)
{
	struct vu_client_opts o = {0};
	struct vu_client *c = NULL;
	int err;

	if (opts)
		o = *opts;
	if (!o.log)
		o.log = &quiet_log;
	wait_until((err = vu_client_connect(s->path, &o, &c)) != -ECONNREFUSED && err != -ENOENT,
	           H_WAIT_MS);
	assert_int_equal(err, 0);
	return c;
}

uint32_t h_rd32(struct vu_client *c, uint64_t off)
{
	uint32_t v = 0;

	assert_int_equal(vu_region_read(c, NULL, VFIO_PCI_BAR0_REGION_INDEX, off, &v, 4), 0);
	return v;
}

void h_wr32(struct vu_client *c, uint64_t off, uint32_t v)
{
	assert_int_equal(vu_region_write(c, NULL, VFIO_PCI_BAR0_REGION_INDEX, off, &v, 4), 0);
}

void h_wr64(struct vu_client *c, uint64_t off, uint64_t v)
{
	assert_int_equal(vu_region_write(c, NULL, VFIO_PCI_BAR0_REGION_INDEX, off, &v, 8), 0);
}

void h_pci_command(struct vu_client *c, uint16_t set)
{
	uint16_t cmd = 0;

	assert_int_equal(
	    vu_region_read(c, NULL, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2), 0);
	cmd |= set;
	assert_int_equal(
	    vu_region_write(c, NULL, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2), 0);
}

bool h_eventfd_fired(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t v;

	if (poll(&p, 1, ms) != 1)
		return false;
	return read(fd, &v, sizeof(v)) == sizeof(v) && v > 0;
}

int h_memfd(size_t size, uint8_t **mem)
{
	int fd = memfd_create("integration-dma", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	*mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(*mem != MAP_FAILED);
	return fd;
}

void h_pattern(uint8_t *buf, size_t len, unsigned int seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = x >> 16;
	}
}

static void run_child(const char *const *argv, int keep_fd, int out)
{
	dup2(out, STDOUT_FILENO);
	dup2(out, STDERR_FILENO);
	if (keep_fd >= 0)
		fcntl(keep_fd, F_SETFD, 0);
	execv(argv[0], (char **)argv);
	_exit(127);
}

static void collect(int fd, char *out, size_t outlen, double deadline)
{
	size_t used = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		n = read(fd, out + used, outlen - 1 - used);
		if (n <= 0)
			break;
		used += n;
		if (used == outlen - 1)
			break;
	}
	out[used] = '\0';
}

int h_run(const char *const *argv, int keep_fd, char *out, size_t outlen)
{
	double deadline = now_ms() + H_WAIT_MS;
	int p[2];
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		run_child(argv, keep_fd, p[1]);
	close(p[1]);
	collect(p[0], out, outlen, deadline);
	close(p[0]);
	return h_wait_exit(pid);
}
