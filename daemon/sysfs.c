// SPDX-License-Identifier: MIT
#include "sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* top is at most 200 bytes (options.c), a name 64: room to spare. */
#define DIR_LEN  320
#define PATH_LEN 512

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int mkdirs(const char *path)
{
	char buf[PATH_LEN];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0755) && errno != EEXIST ? -errno : 0;
}

static int put_file(const char *dir, const char *file, const char *text)
{
	char path[PATH_LEN + 32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* The PCI identity files, as sysfs prints them. */
static int put_ids(const char *dir, const uint8_t *cfg)
{
	char text[32];
	int ret;

	snprintf(text, sizeof(text), "0x%04x\n", le16(cfg + 0));
	ret = put_file(dir, "vendor", text);
	snprintf(text, sizeof(text), "0x%04x\n", le16(cfg + 2));
	ret = ret ? ret : put_file(dir, "device", text);
	snprintf(text, sizeof(text), "0x%02x\n", cfg[8]);
	ret = ret ? ret : put_file(dir, "revision", text);
	snprintf(text, sizeof(text), "0x%02x%02x%02x\n", cfg[11], cfg[10], cfg[9]);
	ret = ret ? ret : put_file(dir, "class", text);
	snprintf(text, sizeof(text), "0x%04x\n", le16(cfg + 44));
	ret = ret ? ret : put_file(dir, "subsystem_vendor", text);
	snprintf(text, sizeof(text), "0x%04x\n", le16(cfg + 46));
	return ret ? ret : put_file(dir, "subsystem_device", text);
}

int sysfs_add(const char *top, const char *name, bool has_group, unsigned int group, dev_t cdev,
              const uint8_t *cfg, const struct vu_log *log)
{
	char dir[DIR_LEN], path[PATH_LEN], text[64];
	int ret;

	snprintf(dir, sizeof(dir), "%s/devices/%s", top, name);
	snprintf(path, sizeof(path), "%s/vfio-dev/vfio%u", dir, group);
	ret = mkdirs(cdev ? path : dir);
	snprintf(text, sizeof(text), "%u:%u\n", major(cdev), minor(cdev));
	if (ret == 0 && cdev)
		ret = put_file(path, "dev", text);
	if (ret == 0 && cfg)
		ret = put_ids(dir, cfg);
	snprintf(path, sizeof(path), "%s/iommu_group", dir);
	snprintf(text, sizeof(text), "../../groups/%u", group);
	if (ret == 0 && has_group && (unlink(path) == 0 || errno == ENOENT) && symlink(text, path))
		ret = -errno;
	if (ret < 0)
		vu_log(log, VU_LOG_ERR, "cannot make %s: %s", dir, strerror(-ret));
	return ret;
}

void sysfs_remove(const char *top, const char *name, unsigned int group)
{
	static const char *const files[] = {"vendor",     "device",           "revision",
	                                    "class",      "subsystem_vendor", "subsystem_device",
	                                    "iommu_group"};
	char dir[DIR_LEN], path[PATH_LEN];

	snprintf(dir, sizeof(dir), "%s/devices/%s", top, name);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/vfio-dev/vfio%u/dev", dir, group);
	unlink(path);
	snprintf(path, sizeof(path), "%s/vfio-dev/vfio%u", dir, group);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/vfio-dev", dir);
	rmdir(path);
	rmdir(dir);
	snprintf(path, sizeof(path), "%s/devices", top);
	rmdir(path);
}
