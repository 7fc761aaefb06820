// SPDX-License-Identifier: MIT
/*
 * The helper processes of memhelper.h. Each thread that needs one (in
 * practice a server connection's reader, answering DMA_READ/DMA_WRITE) gets
 * its own, forked on first use: the threads do not wait on each other, and
 * a helper dies with its thread (PR_SET_PDEATHSIG).
 *
 * A request is one SOCK_SEQPACKET message: a file's access comes with the
 * fd to use (SCM_RIGHTS), a pinned process's with the pin, whose
 * /proc/<pid>/mem the helper opens and checks itself. The data goes through
 * a buffer shared with the helper. After the fork the helper calls only
 * async-signal-safe functions (the daemon has threads) and closes every fd
 * it inherited but its socket: a helper stuck for good holds no node, no
 * server socket, nothing of the daemon's.
 *
 * Helpers given up (timed out) or left by their thread are the daemon's
 * children until they exit: they are reaped by pid, never with
 * waitpid(-1), so no other child's status is taken.
 */
#include "memhelper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/client.h"

#define HELPER_BUF (1u << 20)
/* The buffer shared with a helper: HELPER_BUF for one access, and room
 * around it for the whole payload of the message that carries a
 * HELPER_BUF-byte DMA (its vfio_user_dma_access first), which the server
 * connection receives there (memhelper_buf) so that no copy is made. */
#define HELPER_ROOM (HELPER_BUF + 4096)
/* /proc/<pid>/mem fds a helper keeps open, checked, for the next accesses. */
#define HELPER_FDS 16

enum { HREQ_FD, HREQ_PIN };

/* One access: of the fd that comes with it (HREQ_FD), or of the pinned
 * process's memory (HREQ_PIN). */
struct hreq {
	uint32_t kind, write;
	uint64_t off, len;
	uint64_t buf_off; /* where in the shared buffer the data is or goes */
	struct memhelper_pin pin;
};

struct helper {
	pid_t pid;
	int sock;
	uint8_t *buf; /* HELPER_ROOM bytes shared with the helper */
};

static atomic_int timeout_ms = VU_DEFAULT_TIMEOUT_MS;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;

/* Helpers left behind, not yet reaped. */
static pthread_mutex_t gone_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t *gone;
static unsigned int nr_gone, cap_gone;

void memhelper_set_timeout(int ms)
{
	atomic_store(&timeout_ms, ms > 0 ? ms : VU_DEFAULT_TIMEOUT_MS);
}

/* In the helper: the access itself. */
static int32_t helper_copy(int fd, const struct hreq *q, uint8_t *buf)
{
	uint64_t done = 0;
	ssize_t n;

	while (done < q->len) {
		/* pread/pwrite refuse offsets past INT64_MAX: never user memory. */
		if (q->off + done > (uint64_t)INT64_MAX)
			return -EFAULT;
		if (q->write)
			n = pwrite(fd, buf + done, q->len - done, (off_t)(q->off + done));
		else
			n = pread(fd, buf + done, q->len - done, (off_t)(q->off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return -ESRCH;
		if (n < 0)
			return -errno;
		done += (uint64_t)n;
	}
	return 0;
}

int memhelper_parse_start(const char *stat, size_t len, uint64_t *start)
{
	size_t i, close_paren = len, field = 2;
	uint64_t v = 0;

	/* The command name may hold anything, ')' too: it ends at the last. */
	for (i = 0; i < len; i++)
		if (stat[i] == ')')
			close_paren = i;
	if (close_paren == len)
		return -EINVAL;
	for (i = close_paren + 1; i < len && field < 22; i++)
		if (stat[i] == ' ')
			field++;
	if (field != 22 || i >= len || stat[i] < '0' || stat[i] > '9')
		return -EINVAL;
	for (; i < len && stat[i] >= '0' && stat[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(stat[i] - '0');
	*start = v;
	return 0;
}

/* "/proc/<pid>/<name>" into path, async-signal-safe (no snprintf). */
static void proc_path(char *path, pid_t pid, const char *name, size_t name_len)
{
	char digits[12];
	unsigned int v = (unsigned int)pid, n = 0, i = 6;

	memcpy(path, "/proc/", 6);
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		path[i++] = digits[--n];
	path[i++] = '/';
	memcpy(path + i, name, name_len + 1);
}

/* In the helper: whether the process with the pid now started when the
 * pinned one did. */
static bool same_start(const struct memhelper_pin *p)
{
	char path[32], stat[512];
	uint64_t start;
	ssize_t n;
	int fd;

	proc_path(path, p->pid, "stat", 4);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, stat, sizeof(stat));
	close(fd);
	return n > 0 && memhelper_parse_start(stat, (size_t)n, &start) == 0 && start == p->start;
}

/*
 * In the helper: /proc/<pid>/mem of the pinned process, if the token is
 * still in the address space that fd reaches and the process with the pid
 * started when the pinned one did. -errno otherwise.
 */
static int open_pinned(const struct memhelper_pin *p)
{
	uint8_t token[sizeof(p->token)];
	char path[32];
	int fd, same = 1;

	proc_path(path, p->pid, "mem", 3);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ESRCH : -errno;
	if (p->token_addr > (uint64_t)INT64_MAX ||
	    pread(fd, token, sizeof(token), (off_t)p->token_addr) != (ssize_t)sizeof(token))
		same = 0;
	for (size_t i = 0; same && i < sizeof(token); i++)
		same = token[i] == p->token[i];
	if (!same || !same_start(p)) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

static int recv_req(int sock, struct hreq *q, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {q, sizeof(*q)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	ssize_t n;

	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*q))
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	*fd = -1;
	if (c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

/*
 * In the helper: the /proc/<pid>/mem fds opened and checked, kept for the
 * accesses that follow (an fd stays bound to the address space it was
 * opened on, so a check holds for its life: once that process exits or
 * execs it gives 0 bytes). They are the helper's, not the daemon's.
 */
static struct {
	struct memhelper_pin pin;
	int fd;
	unsigned long used;
} kept[HELPER_FDS];
static unsigned long kept_clock;

static bool same_pin(const struct memhelper_pin *a, const struct memhelper_pin *b)
{
	if (a->pid != b->pid || a->start != b->start || a->token_addr != b->token_addr)
		return false;
	for (size_t i = 0; i < sizeof(a->token); i++)
		if (a->token[i] != b->token[i])
			return false;
	return true;
}

/* The kept fd of pin p, opened and checked first if need be. */
static int pinned_fd(const struct memhelper_pin *p)
{
	unsigned int i, old = 0;
	int fd;

	for (i = 0; i < HELPER_FDS; i++) {
		if (kept[i].fd >= 0 && same_pin(&kept[i].pin, p)) {
			kept[i].used = ++kept_clock;
			return kept[i].fd;
		}
		if (kept[i].fd < 0 || kept[i].used < kept[old].used)
			old = i;
	}
	fd = open_pinned(p);
	if (fd < 0)
		return fd;
	if (kept[old].fd >= 0)
		close(kept[old].fd);
	kept[old].pin = *p;
	kept[old].fd = fd;
	kept[old].used = ++kept_clock;
	return fd;
}

/* Forget kept fd (its address space is gone). */
static void drop_pinned(int fd)
{
	for (unsigned int i = 0; i < HELPER_FDS; i++) {
		if (kept[i].fd == fd) {
			close(fd);
			kept[i].fd = -1;
		}
	}
}

static void helper_main(int sock, uint8_t *buf, pid_t parent)
{
	struct hreq q;
	int32_t res;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	if (sock > 0)
		syscall(SYS_close_range, 0u, (unsigned int)sock - 1, 0u);
	syscall(SYS_close_range, (unsigned int)sock + 1, ~0u, 0u);
	for (unsigned int i = 0; i < HELPER_FDS; i++)
		kept[i].fd = -1;
	while (recv_req(sock, &q, &fd) == 0) {
		bool pinned = q.kind == HREQ_PIN && fd < 0;

		if (pinned)
			fd = pinned_fd(&q.pin);
		if (fd < 0)
			res = pinned ? fd : -EBADF;
		else
			res = q.len <= HELPER_BUF && q.buf_off <= HELPER_ROOM - q.len
			          ? helper_copy(fd, &q, buf + q.buf_off)
			          : -EINVAL;
		if (pinned && res == -ESRCH)
			drop_pinned(fd);
		else if (!pinned && fd >= 0)
			close(fd);
		if (send(sock, &res, sizeof(res), MSG_NOSIGNAL) != sizeof(res))
			break;
	}
	_exit(0);
}

/* Reap what has exited of the helpers left behind. */
static void reap_gone(void)
{
	pthread_mutex_lock(&gone_lock);
	for (unsigned int i = 0; i < nr_gone;) {
		if (waitpid(gone[i], NULL, WNOHANG) != 0)
			gone[i] = gone[--nr_gone];
		else
			i++;
	}
	pthread_mutex_unlock(&gone_lock);
}

/* Leave h: its socket closed and, when kill, SIGKILL (it dies once its
 * access ends). Reaped later. */
static void helper_leave(struct helper *h, bool kill_it)
{
	if (kill_it)
		kill(h->pid, SIGKILL);
	close(h->sock);
	munmap(h->buf, HELPER_ROOM);
	pthread_mutex_lock(&gone_lock);
	if (nr_gone == cap_gone) {
		unsigned int cap = cap_gone ? 2 * cap_gone : MEMHELPER_MAX_STUCK;
		pid_t *v = realloc(gone, cap * sizeof(*v));

		if (v) {
			gone = v;
			cap_gone = cap;
		}
	}
	if (nr_gone < cap_gone)
		gone[nr_gone++] = h->pid;
	pthread_mutex_unlock(&gone_lock);
	free(h);
	reap_gone();
}

static void thread_gone(void *arg)
{
	helper_leave(arg, false);
}

static void make_key(void)
{
	pthread_key_create(&key, thread_gone);
}

static struct helper *helper_spawn(const struct vu_log *log)
{
	struct helper *h;
	pid_t parent = getpid();
	unsigned int stuck;
	int sv[2];

	reap_gone();
	pthread_mutex_lock(&gone_lock);
	stuck = nr_gone;
	pthread_mutex_unlock(&gone_lock);
	if (stuck >= MEMHELPER_MAX_STUCK) {
		vu_log(log, VU_LOG_WARN,
		       "%u memory helpers are stuck in accesses that never ended: DMA by message "
		       "fails until they do",
		       stuck);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->buf = mmap(NULL, HELPER_ROOM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (h->buf == MAP_FAILED) {
		free(h);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		vu_log(log, VU_LOG_WARN, "memory helper: socketpair: %s", strerror(errno));
		munmap(h->buf, HELPER_ROOM);
		free(h);
		return NULL;
	}
	h->pid = fork();
	if (h->pid == 0)
		helper_main(sv[1], h->buf, parent);
	close(sv[1]);
	if (h->pid < 0) {
		vu_log(log, VU_LOG_WARN, "memory helper: fork: %s", strerror(errno));
		close(sv[0]);
		munmap(h->buf, HELPER_ROOM);
		free(h);
		return NULL;
	}
	h->sock = sv[0];
	return h;
}

static struct helper *helper_get(const struct vu_log *log)
{
	struct helper *h;

	pthread_once(&key_once, make_key);
	h = pthread_getspecific(key);
	if (!h) {
		h = helper_spawn(log);
		if (h)
			pthread_setspecific(key, h);
	}
	return h;
}

/* Send q, with fd unless it is -1. */
static int send_req(struct helper *h, int fd, const struct hreq *q)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {(void *)q, sizeof(*q)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	ssize_t n;

	if (fd < 0) {
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	} else {
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do {
		n = sendmsg(h->sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*q) ? 0 : -EPIPE;
}

/* The helper's answer within the timeout: 0 and *res, or -ETIMEDOUT or
 * -EPIPE (the helper died). */
static int wait_res(struct helper *h, int32_t *res)
{
	struct pollfd p = {.fd = h->sock, .events = POLLIN};
	int n;

	do {
		n = poll(&p, 1, atomic_load(&timeout_ms));
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return -ETIMEDOUT;
	if (n < 0 || recv(h->sock, res, sizeof(*res), 0) != sizeof(*res))
		return -EPIPE;
	return 0;
}

/* Whether buf, len lie in h's shared buffer (memhelper_buf's room). */
static bool in_room(const struct helper *h, const uint8_t *buf, size_t len)
{
	uintptr_t b = (uintptr_t)buf, start = (uintptr_t)h->buf;

	return b >= start && b - start <= HELPER_ROOM - len;
}

/* One access of at most HELPER_BUF bytes: of fd, or of q's pinned
 * process when fd is -1. Data already in the shared buffer is not
 * copied. */
static int rw_chunk(const struct vu_log *log, int fd, struct hreq *q, uint8_t *buf)
{
	struct helper *h = helper_get(log);
	size_t len = q->len;
	bool write = q->write, shared;
	int32_t res = 0;
	int ret;

	if (!h)
		return -EFAULT;
	shared = in_room(h, buf, len);
	q->buf_off = shared ? (uint64_t)(buf - h->buf) : 0;
	if (write && !shared)
		memcpy(h->buf, buf, len);
	ret = send_req(h, fd, q);
	if (ret == 0)
		ret = wait_res(h, &res);
	if (ret < 0) {
		if (ret == -ETIMEDOUT)
			vu_log(log, VU_LOG_WARN,
			       "a %s of %zu bytes of program memory did not end in %d ms: "
			       "given up, its helper killed",
			       write ? "write" : "read", len, atomic_load(&timeout_ms));
		else
			vu_log(log, VU_LOG_WARN, "the memory helper died");
		pthread_setspecific(key, NULL);
		helper_leave(h, true);
		return -EFAULT;
	}
	if (res == 0 && !write && !shared)
		memcpy(buf, h->buf, len);
	return res;
}

static int rw_all(const struct vu_log *log, int fd, struct hreq *q, uint8_t *p, size_t len)
{
	int ret = 0;

	while (ret == 0 && len) {
		q->len = len < HELPER_BUF ? len : HELPER_BUF;
		ret = rw_chunk(log, fd, q, p);
		q->off += q->len;
		p += q->len;
		len -= q->len;
	}
	return ret;
}

void *memhelper_buf(const struct vu_log *log, size_t len)
{
	struct helper *h = len <= HELPER_ROOM ? helper_get(log) : NULL;

	return h ? h->buf : NULL;
}

int memhelper_rw(const struct vu_log *log, int fd, uint64_t off, void *buf, size_t len, bool write)
{
	struct hreq q = {.kind = HREQ_FD, .write = write, .off = off};

	return rw_all(log, fd, &q, buf, len);
}

int memhelper_pin_rw(const struct vu_log *log, const struct memhelper_pin *pin, uint64_t off,
                     void *buf, size_t len, bool write)
{
	struct hreq q = {.kind = HREQ_PIN, .write = write, .off = off, .pin = *pin};

	return rw_all(log, -1, &q, buf, len);
}
