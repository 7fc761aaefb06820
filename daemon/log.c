// SPDX-License-Identifier: MIT
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_LEN 1024

static const char *level_name(enum vu_log_level lvl)
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
	return "?";
}

size_t dlog_format(char *buf, size_t len, const struct timespec *ts, enum vu_log_level lvl,
                   const char *name, const char *text)
{
	struct tm tm;
	int n;

	if (len < 2)
		return 0;
	gmtime_r(&ts->tv_sec, &tm);
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s%s%s%s",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             ts->tv_nsec / 1000000, level_name(lvl), name ? "[" : "", name ? name : "",
	             name ? "] " : "", text);
	if (n < 0)
		n = 0;
	if ((size_t)n > len - 2)
		n = (int)(len - 2);
	/* One line per event: a text that carries its own newline keeps only ours. */
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n++] = '\n';
	buf[n] = '\0';
	return (size_t)n;
}

static void dlog_emit(void *arg, enum vu_log_level lvl, const char *line)
{
	const struct dlog *l = arg;
	char buf[LINE_MAX_LEN];
	struct timespec ts;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = dlog_format(buf, sizeof(buf), &ts, lvl, l->name, line);
	/* A single write keeps lines from different threads whole. */
	if (write(l->fd, buf, n) < 0)
		return;
}

void dlog_init(struct dlog *l, const char *name, enum vu_log_level level, int fd)
{
	memset(l, 0, sizeof(*l));
	l->vu.level = level;
	l->vu.fn = dlog_emit;
	l->vu.arg = l;
	l->name = name;
	l->fd = fd;
}
