/* SPDX-License-Identifier: MIT */
/*
 * The protocol layer's one way to say something: through the program's
 * hook when it gave one, else to stderr, warnings and worse.
 */
#include <stdio.h>

#include "log.h"

#define VU_LOG_LINE_MAX 512

const char *vu_log_level_name(enum vu_log_level lvl)
{
	switch (lvl) {
	case VU_LOG_ERR:
		return "error";
	case VU_LOG_WARN:
		return "warn";
	case VU_LOG_INFO:
		return "info";
	case VU_LOG_DEBUG:
		return "debug";
	}
	return "log";
}

void vu_log(const struct vu_log *log, enum vu_log_level lvl, const char *fmt, ...)
{
	enum vu_log_level max = log ? log->level : VU_LOG_WARN;
	char line[VU_LOG_LINE_MAX];
	va_list ap;

	if (lvl > max)
		return;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	if (log && log->fn) {
		log->fn(log->arg, lvl, line);
		return;
	}
	/* One fprintf per line: stdio's lock keeps lines from threads whole. */
	fprintf(stderr, "vfio-user: %s: %s\n", vu_log_level_name(lvl), line);
}
