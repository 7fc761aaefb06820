/* SPDX-License-Identifier: MIT */
/*
 * A fake process for the translation core: its memory is buffers of the test
 * process registered here (anything else is -EFAULT), its fds a table the
 * test fills (fd_get dups the real fd behind a number), and its address
 * space a list of mappings the test declares (with memfds for file-backed
 * pieces).
 */
#ifndef VFIO_USER_TESTS_FAKE_HOST_H
#define VFIO_USER_TESTS_FAKE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/host.h"

#define FAKE_MAX  32
#define FAKE_PINS 70000
/* The fd number the fake process's ioctls are made on (host.h syscall_fd). */
#define FAKE_IOCTL_FD 5

struct fake_host {
	struct {
		uint64_t start, len;
	} mem[FAKE_MAX];
	size_t nr_mem;
	int fds[FAKE_MAX]; /* program fd n -> real fd, -1 = not open */
	struct host_mapping maps[FAKE_MAX];
	size_t nr_maps;
	unsigned int mem_calls;          /* mem_read + mem_write, by pid or by pin */
	enum host_fd_access last_access; /* what the last mapping lookup asked */
	/* Pins (host.h): handle n -> its process. */
	struct {
		bool used;
		pid_t pid;
		bool exited;
	} pins[FAKE_PINS];
	unsigned int next_pin;
	/* Called at each mapping lookup, as a program's memory is checked. */
	void (*on_mapping)(void *arg);
	void *on_mapping_arg;
};

void fake_host_init(struct fake_host *h);
/* Closes the fds of the maps table (the fd table stays the test's). */
void fake_host_fini(struct fake_host *h);
struct host fake_host_ops(struct fake_host *h);
/* Pins taken and not yet released. */
unsigned int fake_host_pins(struct fake_host *h);

/* Let the core read and write [p, p + len). */
void fake_host_add_mem(struct fake_host *h, void *p, size_t len);
/* Declare a mapping; fd (taken over) is the file behind it or -1. */
/* The process pid exits and its pid is reused by one that sees the same
 * memory: access by pid still works, access through its pins fails. */
void fake_host_exit(struct fake_host *h, pid_t pid);
void fake_host_add_map(struct fake_host *h, void *p, size_t len, bool readable, bool writable,
                       int fd, uint64_t file_off);

#endif
