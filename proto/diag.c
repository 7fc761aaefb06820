/* SPDX-License-Identifier: MIT */
/*
 * One line on why a connection failed. The errno says what the socket calls
 * met; the file at a unix address says why (nothing there, something that is
 * no socket, a socket nobody listens on).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "client.h"
#include "diag.h"

static void connect_log_line(void *arg, enum vu_log_level lvl, const char *line)
{
	struct vu_connect_log *cl = arg;

	if (!atomic_load(&cl->connecting)) {
		vu_log(cl->next, lvl, "%s", line);
		return;
	}
	/* Only the thread in vu_client_connect logs while connecting. */
	if (lvl <= VU_LOG_WARN && !cl->detail[0])
		snprintf(cl->detail, sizeof(cl->detail), "%s", line);
	vu_log(cl->next, VU_LOG_DEBUG, "%s", line);
}

void vu_connect_log_init(struct vu_connect_log *cl, const struct vu_log *next)
{
	/* Every line reaches connect_log_line; next then drops what it does not want. */
	cl->log = (struct vu_log){.level = VU_LOG_DEBUG, .fn = connect_log_line, .arg = cl};
	cl->next = next;
	cl->detail[0] = '\0';
	atomic_init(&cl->connecting, true);
}

void vu_connect_log_done(struct vu_connect_log *cl)
{
	atomic_store(&cl->connecting, false);
}

static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFIFO:
		return "a FIFO";
	}
	return "no socket";
}

/* What happened once the connection was made, whatever the transport. */
static bool explain_exchange(int err, const char *detail, int timeout_ms, char *buf, size_t len)
{
	switch (err) {
	case -ETIMEDOUT:
		snprintf(buf, len,
		         "no answer within %d ms: the server is busy with another client, or "
		         "silent",
		         timeout_ms > 0 ? timeout_ms : VU_DEFAULT_TIMEOUT_MS);
		return true;
	case -ENOTCONN:
	case -ECONNRESET:
	case -EPIPE:
		snprintf(buf, len,
		         "the server closed the connection without answering VERSION: busy with "
		         "another client, or it refused this one");
		return true;
	case -EPROTO:
		snprintf(buf, len,
		         "no vfio-user server there, or one this client cannot talk to%s%s%s",
		         detail && *detail ? " (" : "", detail && *detail ? detail : "",
		         detail && *detail ? ")" : "");
		return true;
	}
	return false;
}

static void explain_unix(const char *path, int err, char *buf, size_t len)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			snprintf(
			    buf, len,
			    "no such file: is the server running, and is that its socket path?");
		else
			snprintf(buf, len, "%s", strerror(errno));
		return;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(buf, len, "not a socket but %s", file_kind(st.st_mode));
		return;
	}
	switch (err) {
	case -ECONNREFUSED:
		snprintf(buf, len,
		         "nothing listens on it: a stale socket of a server that is gone");
		break;
	case -EAGAIN:
		snprintf(buf, len, "the server's queue of connections is full: it is busy");
		break;
	case -EACCES:
	case -EPERM:
		snprintf(buf, len, "%s: no write permission on the socket", strerror(-err));
		break;
	default:
		snprintf(buf, len, "%s", strerror(-err));
	}
}

static void explain_tcp(const char *hostport, int err, char *buf, size_t len)
{
	const char *colon = strrchr(hostport, ':');
	int hl = colon ? (int)(colon - hostport) : (int)strlen(hostport);

	switch (err) {
	case -ENXIO:
		snprintf(buf, len, "the host name '%.*s' does not resolve", hl, hostport);
		break;
	case -EAGAIN:
		snprintf(buf, len, "the host name '%.*s' cannot be resolved now (try again later)",
		         hl, hostport);
		break;
	case -ECONNREFUSED:
		snprintf(buf, len, "nothing listens on port %s of %.*s", colon ? colon + 1 : "?",
		         hl, hostport);
		break;
	default:
		snprintf(buf, len, "%s", strerror(-err));
	}
}

void vu_connect_explain(const char *addr, int err, const char *detail, int timeout_ms, char *buf,
                        size_t len)
{
	if (!len)
		return;
	if (!strncmp(addr, "tcp:", 4) && err == -ETIMEDOUT) {
		snprintf(buf, len,
		         "no answer in time: the host is down or filtered, or the server is busy "
		         "with another client");
		return;
	}
	if (explain_exchange(err, detail, timeout_ms, buf, len))
		return;
	if (!strncmp(addr, "tcp:", 4)) {
		explain_tcp(addr + 4, err, buf, len);
	} else if (!strncmp(addr, "fd:", 3)) {
		if (err == -ENOTSOCK)
			snprintf(buf, len, "fd %s is not an open stream socket", addr + 3);
		else
			snprintf(buf, len, "%s", strerror(-err));
	} else {
		explain_unix(strncmp(addr, "unix:", 5) ? addr : addr + 5, err, buf, len);
	}
}
