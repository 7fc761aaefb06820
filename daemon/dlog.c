// SPDX-License-Identifier: MIT
#include "dlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_LEN 1024

/* syslog(3) priorities, as the journal reads them from a <N> prefix. */
static int priority(enum vu_log_level lvl)
{
	switch (lvl) {
	case VU_LOG_ERR:
		return 3;
	case VU_LOG_WARN:
		return 4;
	case VU_LOG_INFO:
		return 6;
	case VU_LOG_DEBUG:
		return 7;
	}
	return 6;
}

static bool journal;

/* One line per event: cut to fit, a text that carries its own newline
 * keeps only ours. */
static size_t end_line(char *buf, size_t len, int n)
{
	if (n < 0)
		n = 0;
	if ((size_t)n > len - 2)
		n = (int)(len - 2);
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n++] = '\n';
	buf[n] = '\0';
	return (size_t)n;
}

size_t dlog_format(char *buf, size_t len, const struct timespec *ts, enum vu_log_level lvl,
                   const char *name, const char *text)
{
	struct tm tm;

	if (len < 2)
		return 0;
	gmtime_r(&ts->tv_sec, &tm);
	return end_line(buf, len,
	                snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s%s%s%s",
	                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	                         tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000,
	                         vu_log_level_name(lvl), name ? "[" : "", name ? name : "",
	                         name ? "] " : "", text));
}

size_t dlog_format_journal(char *buf, size_t len, enum vu_log_level lvl, const char *name,
                           const char *text)
{
	if (len < 2)
		return 0;
	return end_line(buf, len,
	                snprintf(buf, len, "<%d>%s%s%s%s", priority(lvl), name ? "[" : "",
	                         name ? name : "", name ? "] " : "", text));
}

bool dlog_is_journal(const char *env, int fd)
{
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (!env || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2 || fstat(fd, &st))
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void dlog_use_journal(bool on)
{
	journal = on;
}

void dlog_early(enum vu_log_level lvl, const char *fmt, ...)
{
	char text[LINE_MAX_LEN - 32], buf[LINE_MAX_LEN];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (journal)
		n = dlog_format_journal(buf, sizeof(buf), lvl, NULL, text);
	else
		n = end_line(buf, sizeof(buf),
		             snprintf(buf, sizeof(buf), "vfio-user-cuse: %s", text));
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
}

static void dlog_emit(void *arg, enum vu_log_level lvl, const char *line)
{
	const struct dlog *l = arg;
	char buf[LINE_MAX_LEN];
	struct timespec ts;
	size_t n;

	if (journal) {
		n = dlog_format_journal(buf, sizeof(buf), lvl, l->name, line);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		n = dlog_format(buf, sizeof(buf), &ts, lvl, l->name, line);
	}
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
