/* SPDX-License-Identifier: MIT */
/*
 * Integration test harness: run the example server as a real process on a
 * fresh socket path, connect the proto client to it, and stop it. Every wait
 * is bounded; a server that does not come up or go away fails the test.
 */
#ifndef VFIO_USER_TESTS_INTEGRATION_HARNESS_H
#define VFIO_USER_TESTS_INTEGRATION_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/client.h"
#include "util.h" /* now_ms, count_fds, sleep_ms */

#define H_WAIT_MS 5000 /* bound on the server coming up or going away */

struct h_server {
	pid_t pid;
	char dir[64];
	char path[128];
	char log[128];
};

/* Start the server with extra options (NULL-terminated, may be NULL). */
void h_server_start(struct h_server *s, const char *const *args);
/* SIGTERM, wait (bounded), check it exited 0, remove its files. */
void h_server_stop(struct h_server *s);
/* Send sig, wait (bounded; SIGKILL after), remove its files; returns the
 * exit code, or -1 if it did not exit by itself. */
int h_server_signal(struct h_server *s, int sig);
/* Wait (bounded; SIGKILL after) for pid; returns its exit code or -1. */
int h_wait_exit(pid_t pid);
/* SIGKILL now; reap it. */
void h_server_kill(struct h_server *s);

/* Connect with the given options (NULL: defaults), retrying while the
 * socket is not yet there; asserts success. */
struct vu_client *h_connect(const struct h_server *s, const struct vu_client_opts *opts);

/* Register helpers: assert success. */
uint32_t h_rd32(struct vu_client *c, uint64_t off);
void h_wr32(struct vu_client *c, uint64_t off, uint32_t v);
void h_wr64(struct vu_client *c, uint64_t off, uint64_t v);

/* Set command register bits (PCI_COMMAND_*), as a driver does before it
 * lets the device DMA or send MSI-X (memory space, bus master). */
void h_pci_command(struct vu_client *c, uint16_t set);

/* Whether the eventfd fires within ms (its count is consumed). */
bool h_eventfd_fired(int fd, int ms);

/* A memfd of size bytes mapped shared at *mem. */
int h_memfd(size_t size, uint8_t **mem);

/* Fill buf with a pattern derived from seed. */
void h_pattern(uint8_t *buf, size_t len, unsigned int seed);

/* Run argv (argv[0] a path) with stdout and stderr into out (NUL-terminated),
 * bounded by H_WAIT_MS; returns the exit status, or -1 if it did not exit
 * normally in time. keep_fd, if >= 0, is inherited by the child. */
int h_run(const char *const *argv, int keep_fd, char *out, size_t outlen);

#endif
