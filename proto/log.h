/* SPDX-License-Identifier: MIT */
/*
 * Logging hook for the protocol layer. The library never prints on its own
 * account except through this: a program passes a struct vu_log to route the
 * lines into its own log, or NULL for stderr at warning level.
 */
#ifndef VFIO_USER_PROTO_LOG_H
#define VFIO_USER_PROTO_LOG_H

#include <stdarg.h>

enum vu_log_level { VU_LOG_ERR, VU_LOG_WARN, VU_LOG_INFO, VU_LOG_DEBUG };

struct vu_log {
	enum vu_log_level level; /* lines above this level are dropped */
	void (*fn)(void *arg, enum vu_log_level lvl, const char *line);
	void *arg;
};

/* The level's name in log lines: "error", "warn", "info", "debug". */
const char *vu_log_level_name(enum vu_log_level lvl);

/* Format and emit one line through log (NULL = stderr, warnings and worse). */
void vu_log(const struct vu_log *log, enum vu_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
