/* SPDX-License-Identifier: MIT */
/*
 * The daemon's logger: one line per event on stderr, with a UTC timestamp,
 * the level and the device node it concerns. A struct dlog embeds the
 * struct vu_log that the protocol layer and the translation core log through,
 * so their lines carry the node's name too.
 *
 * When stderr is the systemd journal's stream, lines carry a <N> syslog
 * priority prefix instead (sd-daemon(3)) and no timestamp: the journal keeps
 * its own.
 */
#ifndef VFIO_USER_CUSE_DLOG_H
#define VFIO_USER_CUSE_DLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "proto/log.h"

struct dlog {
	struct vu_log vu; /* hand &vu to proto and the core */
	const char *name; /* node name, or NULL for the daemon as a whole */
	int fd;           /* where lines go (stderr) */
};

void dlog_init(struct dlog *l, const char *name, enum vu_log_level level, int fd);

/* Format one line ("2026-01-01T12:00:00.123Z warn [NAME] text\n") into buf.
 * Returns its length, truncated to fit len - 1 with the newline kept. */
size_t dlog_format(char *buf, size_t len, const struct timespec *ts, enum vu_log_level lvl,
                   const char *name, const char *text);
/* The same for the journal: "<4>[NAME] text\n". */
size_t dlog_format_journal(char *buf, size_t len, enum vu_log_level lvl, const char *name,
                           const char *text);

/*
 * Whether fd is the journal's stream: JOURNAL_STREAM (env, "DEV:INO", may be
 * NULL) names the stream systemd connected, and fd must still be that very
 * file, not something the daemon's caller redirected it to.
 */
bool dlog_is_journal(const char *env, int fd);
/* Format every line for the journal from now on. Call before any thread. */
void dlog_use_journal(bool on);

/* A line from before the devices' logs exist ("vfio-user-cuse: text", or
 * "<N>text" for the journal), to stderr. */
void dlog_early(enum vu_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
