// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "logbuf.h"

static void logbuf_fn(void *arg, enum vu_log_level lvl, const char *line)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	struct logbuf *lb = arg;
	size_t room;
	int n;

	pthread_mutex_lock(&lb->lock);
	room = sizeof(lb->text) - lb->len;
	n = snprintf(lb->text + lb->len, room, "%s: %s\n", names[lvl], line);
	if (n > 0 && (size_t)n < room)
		lb->len += (size_t)n;
	else
		lb->text[lb->len] = '\0';
	pthread_mutex_unlock(&lb->lock);
}

void logbuf_init(struct logbuf *lb)
{
	memset(lb, 0, sizeof(*lb));
	pthread_mutex_init(&lb->lock, NULL);
	lb->log = (struct vu_log){.level = VU_LOG_DEBUG, .fn = logbuf_fn, .arg = lb};
}

bool logbuf_has(struct logbuf *lb, const char *needle)
{
	bool found;

	pthread_mutex_lock(&lb->lock);
	found = strstr(lb->text, needle) != NULL;
	pthread_mutex_unlock(&lb->lock);
	return found;
}
