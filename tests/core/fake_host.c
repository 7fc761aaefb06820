// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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

unsigned int fake_host_pins(struct fake_host *h)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FAKE_PINS; i++)
		n += __atomic_load_n(&h->pins[i].used, __ATOMIC_ACQUIRE);
	return n;
}

/* Pins are handles, no fds, as the real host's: the next free slot. */
static int fake_pin(void *ctx, pid_t pid)
{
	struct fake_host *h = ctx;

	for (unsigned int n = 0; n < FAKE_PINS; n++) {
		unsigned int i = __atomic_fetch_add(&h->next_pin, 1, __ATOMIC_RELAXED) % FAKE_PINS;

		if (!__atomic_exchange_n(&h->pins[i].used, true, __ATOMIC_ACQ_REL)) {
			h->pins[i].pid = pid;
			h->pins[i].exited = false;
			return (int)i;
		}
	}
	return -ENOMEM;
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

/* Only eventfds when eventfds are asked, as by the real host. */
static void fake_unpin(void *ctx, int pin)
{
	struct fake_host *h = ctx;

	if (pin >= 0 && pin < FAKE_PINS) {
		h->pins[pin].pid = 0;
		__atomic_store_n(&h->pins[pin].used, false, __ATOMIC_RELEASE);
	}
}

static int fake_file_read(void *ctx, int fd, uint64_t off, void *buf, size_t len)
{
	return pread(fd, buf, len, (off_t)off) == (ssize_t)len ? 0 : -EFAULT;
}

static int fake_file_write(void *ctx, int fd, uint64_t off, const void *buf, size_t len)
{
	return pwrite(fd, buf, len, (off_t)off) == (ssize_t)len ? 0 : -EFAULT;
}

static int fake_fd_get(void *ctx, pid_t pid, int fd, enum host_fd_kind kind)
{
	struct fake_host *h = ctx;
	char path[64], link[64];
	ssize_t len;
	int n;

	if (fd < 0 || fd >= FAKE_MAX || h->fds[fd] < 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", h->fds[fd]);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		return -EINVAL;
	link[len] = '\0';
	if (kind == HOST_FD_EVENTFD && strcmp(link, "anon_inode:[eventfd]"))
		return -EINVAL;
	n = dup(h->fds[fd]);
	return n < 0 ? -errno : n;
}

/* Reopen the memfd behind a fake mapping with the access asked, as the
 * real host does. */
static int reopen(int fd, enum host_fd_access access)
{
	char path[64];
	int n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = open(path, (access == HOST_FD_RDWR ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	return n < 0 ? -errno : n;
}

static int fake_reopen(void *ctx, int fd, enum host_fd_access access)
{
	return access == HOST_FD_NONE ? -EINVAL : reopen(fd, access);
}

static int fake_mapping(void *ctx, pid_t pid, uint64_t addr, enum host_fd_access access,
                        struct host_mapping *m)
{
	struct fake_host *h = ctx;

	if (h->on_mapping)
		h->on_mapping(h->on_mapping_arg);
	for (size_t i = 0; i < h->nr_maps; i++) {
		if (addr >= h->maps[i].start && addr < h->maps[i].end) {
			*m = h->maps[i];
			h->last_access = access;
			if (m->fd >= 0 && (access == HOST_FD_NONE || !m->readable ||
			                   (access == HOST_FD_RDWR && !m->writable))) {
				m->fd = -1;
			} else if (m->fd >= 0) {
				m->fd = reopen(m->fd, access);
				if (m->fd < 0)
					return m->fd;
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
    .reopen = fake_reopen,
    .mapping = fake_mapping,
    .syscall_offset = fake_syscall_offset,
    .syscall_fd = fake_syscall_fd,
    .tgid_of = fake_tgid_of,
    .pin = fake_pin,
    .unpin = fake_unpin,
    .pin_read = fake_pin_read,
    .pin_write = fake_pin_write,
    .file_read = fake_file_read,
    .file_write = fake_file_write,
};

struct host fake_host_ops(struct fake_host *h)
{
	return (struct host){.ops = &fake_ops, .ctx = h};
}
