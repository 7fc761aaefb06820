// SPDX-License-Identifier: MIT
#include "devnum.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* "DEVNAME=vfio-user/a" in the device's uevent names its node. */
static bool devname_of(const char *sys_char, unsigned int major, unsigned int minor, char *name,
                       size_t len)
{
	char path[128], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u:%u/uevent", sys_char, major, minor);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "DEVNAME=", 8))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(name, len, "/dev/%.150s", line + 8);
		found = true;
	}
	fclose(f);
	if (!found)
		snprintf(name, len, "a device without a node");
	return true;
}

/* The first name /proc/devices lists under major in its character part. */
static bool major_owner(const char *proc_devices, unsigned int major, char *name, size_t len)
{
	char line[256], what[200];
	bool chars = false, found = false;
	unsigned int m;
	FILE *f = fopen(proc_devices, "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Character devices:", 18)) {
			chars = true;
			continue;
		}
		if (!strncmp(line, "Block devices:", 14))
			break;
		if (chars && sscanf(line, "%u %199s", &m, what) == 2 && m == major) {
			snprintf(name, len, "%s", what);
			found = true;
		}
	}
	fclose(f);
	return found;
}

void devnum_holder(const char *sys_char, const char *proc_devices, unsigned int major,
                   unsigned int minor, char *buf, size_t len)
{
	char name[200];

	if (devname_of(sys_char, major, minor, name, sizeof(name)))
		snprintf(buf, len, "taken by %s", name);
	else if (major_owner(proc_devices, major, name, sizeof(name)))
		snprintf(buf, len, "in major %u, which '%s' holds", major, name);
	else if (len)
		buf[0] = '\0';
}

void devnum_log_refusal(const struct vu_log *log, const char *path, unsigned int major,
                        unsigned int minor)
{
	char holder[256];

	devnum_holder("/sys/dev/char", "/proc/devices", major, minor, holder, sizeof(holder));
	if (holder[0])
		vu_log(log, VU_LOG_ERR,
		       "%s: device number %u:%u is %s: give --devnum another number", path, major,
		       minor, holder);
	else
		vu_log(log, VU_LOG_ERR, "%s: the kernel refused device number %u:%u (see dmesg)",
		       path, major, minor);
}
