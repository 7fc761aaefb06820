/* SPDX-License-Identifier: MIT */
/*
 * How often the threads of this process with a given name (comm) went to
 * sleep and were woken: the sum of their voluntary context switches. Tests
 * use it to check that a thread is not woken on a path that should not
 * touch it.
 */
#ifndef VUC_TESTS_THREAD_STATS_H
#define VUC_TESTS_THREAD_STATS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -1 when no thread has that name. */
static inline long long thread_wakeups(const char *comm)
{
	char path[96], line[128];
	long long sum = -1, v;
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		FILE *f;
		int tid = atoi(e->d_name);

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, comm))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1)
				sum = (sum < 0 ? 0 : sum) + v;
		}
		fclose(f);
	}
	closedir(d);
	return sum;
}

#endif
