// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fake_host.h"

void fake_host_init(struct fake_host *h)
{
	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < FAKE_MAX; i++)
		h->fds[i] = -1;
}

void fake_host_fini(struct fake_host *h)
{
	for (size_t i = 0; i < h->nr_maps; i++) {
		if (h->maps[i].fd >= 0)
			close(h->maps[i].fd);
	}
	h->nr_maps = 0;
}

void fake_host_add_mem(struct fake_host *h, void *p, size_t len)
{
	h->mem[h->nr_mem].start = (uintptr_t)p;
	h->mem[h->nr_mem].len = len;
	h->nr_mem++;
}

void fake_host_add_map(struct fake_host *h, void *p, size_t len, bool readable, bool writable,
                       int fd, uint64_t file_off)
{
	h->maps[h->nr_maps++] = (struct host_mapping){.start = (uintptr_t)p,
	                                              .end = (uintptr_t)p + len,
	                                              .readable = readable,
	                                              .writable = writable,
	                                              .shared = fd >= 0,
	                                              .fd = fd,
	                                              .file_off = file_off};
}

static void *mem_at(struct fake_host *h, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < h->nr_mem; i++) {
		if (addr >= h->mem[i].start && len <= h->mem[i].len &&
		    addr - h->mem[i].start <= h->mem[i].len - len)
			return (void *)(uintptr_t)addr;
	}
	return NULL;
}

static int fake_mem_read(void *ctx, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct fake_host *h = ctx;
	void *p = mem_at(h, addr, len);

	__atomic_add_fetch(&h->mem_calls, 1, __ATOMIC_RELAXED);
	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

static int fake_mem_write(void *ctx, pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct fake_host *h = ctx;
	void *p = mem_at(h, addr, len);

	__atomic_add_fetch(&h->mem_calls, 1, __ATOMIC_RELAXED);
	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

void fake_host_exit(struct fake_host *h, pid_t pid)
{
	for (size_t i = 0; i < FAKE_PINS; i++) {
		if (h->pins[i].pid == pid)
			h->pins[i].exited = true;
	}
}

static int fake_pin(void *ctx, pid_t pid)
{
	struct fake_host *h = ctx;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fd >= FAKE_PINS) {
		close(fd);
		return -EMFILE;
	}
	h->pins[fd].pid = pid;
	h->pins[fd].exited = false;
	return fd;
}

/* The fake memory behind a live pin, or NULL with *err set. */
static void *pin_mem(struct fake_host *h, int pin, uint64_t addr, size_t len, int *err)
{
	void *p;

	__atomic_add_fetch(&h->mem_calls, 1, __ATOMIC_RELAXED);
	if (pin < 0 || pin >= FAKE_PINS || !h->pins[pin].pid) {
		*err = -EBADF;
		return NULL;
	}
	if (h->pins[pin].exited) {
		*err = -ESRCH;
		return NULL;
	}
	p = mem_at(h, addr, len);
	*err = p ? 0 : -EFAULT;
	return p;
}

static int fake_pin_read(void *ctx, int pin, uint64_t addr, void *buf, size_t len)
{
	int err;
	void *p = pin_mem(ctx, pin, addr, len, &err);

	if (p)
		memcpy(buf, p, len);
	return err;
}

static int fake_pin_write(void *ctx, int pin, uint64_t addr, const void *buf, size_t len)
{
	int err;
	void *p = pin_mem(ctx, pin, addr, len, &err);

	if (p)
		memcpy(p, buf, len);
	return err;
}

static int fake_fd_get(void *ctx, pid_t pid, int fd)
{
	struct fake_host *h = ctx;
	int n;

	if (fd < 0 || fd >= FAKE_MAX || h->fds[fd] < 0)
		return -EBADF;
	n = dup(h->fds[fd]);
	return n < 0 ? -errno : n;
}

static int fake_mapping(void *ctx, pid_t pid, uint64_t addr, struct host_mapping *m)
{
	struct fake_host *h = ctx;

	for (size_t i = 0; i < h->nr_maps; i++) {
		if (addr >= h->maps[i].start && addr < h->maps[i].end) {
			*m = h->maps[i];
			if (m->fd >= 0) {
				m->fd = dup(m->fd);
				if (m->fd < 0)
					return -errno;
			}
			return 0;
		}
	}
	return -EFAULT;
}

static int fake_syscall_offset(void *ctx, pid_t tid, uint64_t *off)
{
	return -ENOSYS;
}

/* The fake process's ioctls all come on fd FAKE_IOCTL_FD. */
static int fake_syscall_fd(void *ctx, pid_t tid, int *fd)
{
	*fd = FAKE_IOCTL_FD;
	return 0;
}

static pid_t fake_tgid_of(void *ctx, pid_t tid)
{
	return tid;
}

static const struct host_ops fake_ops = {
    .mem_read = fake_mem_read,
    .mem_write = fake_mem_write,
    .fd_get = fake_fd_get,
    .mapping = fake_mapping,
    .syscall_offset = fake_syscall_offset,
    .syscall_fd = fake_syscall_fd,
    .tgid_of = fake_tgid_of,
    .pin = fake_pin,
    .pin_read = fake_pin_read,
    .pin_write = fake_pin_write,
};

struct host fake_host_ops(struct fake_host *h)
{
	return (struct host){.ops = &fake_ops, .ctx = h};
}
