/* SPDX-License-Identifier: MIT */
/*
 * Write fuzz_proto's seed corpus into the directory named on the command
 * line: one well-formed message of each command and direction in the input
 * layout of fuzz_input.h, and the VERSION JSON of a few real servers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/vfio-user.h"
#include "tests/fuzz/fuzz_input.h"

static const char *dir;
static int seeds;

static int write_file(const void *buf, size_t len)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/seed-%03d", dir, seeds++);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = fwrite(buf, 1, len, f) == len;
	ok = (fclose(f) == 0) && ok;
	if (!ok)
		fprintf(stderr, "fuzz_seeds: %s: write failed\n", path);
	return ok ? 0 : -1;
}

static int seed(uint16_t cmd, uint32_t flags, uint8_t nr_fds, const void *payload, size_t len)
{
	uint8_t buf[FUZZ_PREFIX + sizeof(struct vfio_user_header) + 1024];
	struct vfio_user_header h = {
	    .msg_id = 1,
	    .cmd = cmd,
	    .msg_size = (uint32_t)(sizeof(h) + len),
	    .flags = flags,
	};
	uint32_t max_xfer = 4096;

	buf[0] = (uint8_t)(nr_fds << 1);
	memcpy(buf + 1, &max_xfer, sizeof(max_xfer));
	memcpy(buf + FUZZ_PREFIX, &h, sizeof(h));
	memcpy(buf + FUZZ_PREFIX + sizeof(h), payload, len);
	return write_file(buf, FUZZ_PREFIX + sizeof(h) + len);
}

#define REQ VFIO_USER_F_TYPE_COMMAND
#define REP VFIO_USER_F_TYPE_REPLY

static int version_seeds(void)
{
	static const char *const json[] = {
	    "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,"
	    "\"migration\":{\"pgsize\":4096}}}",
	    "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,"
	    "\"twin_socket\":{\"supported\":true,\"fd_index\":0}}}",
	    "{\"capabilities\":{\"max_msg_fds\":1,\"pgsizes\":4096,\"max_dma_maps\":65535,"
	    "\"write_multiple\":true,\"migration\":{\"pgsize\":4096,"
	    "\"max_bitmap_size\":268435456}}}",
	    "{}",
	};
	uint8_t buf[512];
	struct vfio_user_version v = {.major = 0, .minor = 2};
	size_t i, n;
	int ret = 0;

	for (i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
		n = strlen(json[i]) + 1;
		memcpy(buf, &v, sizeof(v));
		memcpy(buf + sizeof(v), json[i], n);
		ret |= seed(VFIO_USER_VERSION, REQ, 0, buf, sizeof(v) + n);
		ret |= seed(VFIO_USER_VERSION, REP, 1, buf, sizeof(v) + n);
		ret |= write_file(json[i], n);
	}
	return ret;
}

static int info_seeds(void)
{
	struct vfio_user_dma_map map = {.argsz = 32, .flags = 3, .addr = 1 << 20, .size = 4096};
	struct vfio_user_dma_unmap unmap = {.argsz = 24, .addr = 1 << 20, .size = 4096};
	struct vfio_user_device_info info = {
	    .argsz = 16, .flags = 3, .num_regions = 9, .num_irqs = 5};
	struct vfio_user_irq_info irq = {.argsz = 16, .flags = 1, .index = 2, .count = 4};
	struct vfio_user_region_io_fds io = {.argsz = 256, .index = 0};
	int ret = 0;

	ret |= seed(VFIO_USER_DMA_MAP, REQ, 1, &map, sizeof(map));
	ret |= seed(VFIO_USER_DMA_MAP, REP, 0, NULL, 0);
	ret |= seed(VFIO_USER_DMA_UNMAP, REQ, 0, &unmap, sizeof(unmap));
	ret |= seed(VFIO_USER_DMA_UNMAP, REP, 0, &unmap, sizeof(unmap));
	ret |= seed(VFIO_USER_DEVICE_GET_INFO, REQ, 0, &info, sizeof(info));
	ret |= seed(VFIO_USER_DEVICE_GET_INFO, REP, 0, &info, sizeof(info));
	ret |= seed(VFIO_USER_DEVICE_GET_IRQ_INFO, REQ, 0, &irq, sizeof(irq));
	ret |= seed(VFIO_USER_DEVICE_GET_IRQ_INFO, REP, 0, &irq, sizeof(irq));
	ret |= seed(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REQ, 0, &io, sizeof(io));
	ret |= seed(VFIO_USER_DEVICE_RESET, REQ, 0, NULL, 0);
	ret |= seed(VFIO_USER_DEVICE_RESET, REP | VFIO_USER_F_ERROR, 0, NULL, 0);
	return ret;
}

/* Region info with sparse mmap (2 areas), type and MSI-X mappable caps. */
static int region_seeds(void)
{
	uint8_t buf[104] = {0};
	struct vfio_user_region_info ri = {
	    .argsz = sizeof(buf), .flags = 0xf, .cap_offset = 32, .size = 0x4000};
	struct vfio_user_cap_header sparse = {.id = 1, .version = 1, .next = 80};
	struct vfio_user_cap_header type = {.id = 2, .version = 1, .next = 96};
	struct vfio_user_cap_header msix = {.id = 3, .version = 1, .next = 0};
	uint32_t nr = 2;
	uint64_t area[4] = {0, 0x1000, 0x3000, 0x1000};
	int ret = 0;

	memcpy(buf, &ri, sizeof(ri));
	memcpy(buf + 32, &sparse, sizeof(sparse));
	memcpy(buf + 40, &nr, sizeof(nr));
	memcpy(buf + 48, area, sizeof(area));
	memcpy(buf + 80, &type, sizeof(type));
	memcpy(buf + 96, &msix, sizeof(msix));
	ret |= seed(VFIO_USER_DEVICE_GET_REGION_INFO, REQ, 0, &ri, sizeof(ri));
	ret |= seed(VFIO_USER_DEVICE_GET_REGION_INFO, REP, 1, buf, sizeof(buf));
	return ret;
}

static int io_fds_seed(void)
{
	uint8_t buf[16 + 2 * 40] = {0};
	struct vfio_user_region_io_fds r = {.argsz = sizeof(buf), .count = 2};
	struct vfio_user_sub_region_io_fd s = {.offset = 0x10, .size = 4, .fd_index = 1};

	memcpy(buf, &r, sizeof(r));
	memcpy(buf + 16, &s, sizeof(s));
	s.fd_index = 0;
	memcpy(buf + 56, &s, sizeof(s));
	return seed(VFIO_USER_DEVICE_GET_REGION_IO_FDS, REP, 2, buf, sizeof(buf));
}

static int irq_seeds(void)
{
	uint8_t buf[24] = {0};
	struct vfio_user_irq_set s = {.argsz = 24, .flags = 0x22, .index = 2, .count = 4};
	int ret = 0;

	memcpy(buf, &s, sizeof(s));
	memset(buf + 20, 1, 4);
	ret |= seed(VFIO_USER_DEVICE_SET_IRQS, REQ, 0, buf, sizeof(buf));
	s.flags = 0x24;
	s.argsz = 20;
	ret |= seed(VFIO_USER_DEVICE_SET_IRQS, REQ, 4, &s, sizeof(s));
	ret |= seed(VFIO_USER_DEVICE_SET_IRQS, REP, 0, NULL, 0);
	return ret;
}

static int access_seeds(void)
{
	uint8_t buf[16 + 8];
	struct vfio_user_region_access ra = {.offset = 0x10, .region = 0, .count = 8};
	struct vfio_user_dma_access da = {.addr = 1 << 20, .count = 8};
	int ret = 0;

	memset(buf, 0xab, sizeof(buf));
	memcpy(buf, &ra, sizeof(ra));
	ret |= seed(VFIO_USER_REGION_READ, REQ, 0, &ra, sizeof(ra));
	ret |= seed(VFIO_USER_REGION_READ, REP, 0, buf, sizeof(buf));
	ret |= seed(VFIO_USER_REGION_WRITE, REQ, 0, buf, sizeof(buf));
	ret |= seed(VFIO_USER_REGION_WRITE, REP, 0, &ra, sizeof(ra));
	memcpy(buf, &da, sizeof(da));
	ret |= seed(VFIO_USER_DMA_READ, REQ, 0, &da, sizeof(da));
	ret |= seed(VFIO_USER_DMA_READ, REP, 0, buf, sizeof(buf));
	ret |= seed(VFIO_USER_DMA_WRITE, REQ, 0, buf, sizeof(buf));
	ret |= seed(VFIO_USER_DMA_WRITE, REP, 0, &da, VFIO_USER_DMA_WRITE_REPLY_MIN_SIZE);
	return ret;
}

static int multi_seeds(void)
{
	uint8_t buf[8 + 2 * 24] = {0};
	uint64_t wr_cnt = 2;
	struct vfio_user_write_multi_entry e = {.offset = 4, .count = 4};
	int ret = 0;

	memcpy(buf, &wr_cnt, sizeof(wr_cnt));
	memcpy(buf + 8, &e, sizeof(e));
	memcpy(buf + 32, &e, sizeof(e));
	ret |= seed(VFIO_USER_REGION_WRITE_MULTI, REQ, 0, buf, sizeof(buf));
	ret |= seed(VFIO_USER_REGION_WRITE_MULTI, REP, 0, &wr_cnt, sizeof(wr_cnt));
	return ret;
}

static int feature_seeds(void)
{
	uint8_t buf[8 + 8] = {0};
	struct vfio_user_device_feature f = {.argsz = 16, .flags = (1u << 16) | 1};
	struct vfio_user_mig_data m = {.argsz = 8, .size = 8};
	int ret = 0;

	memcpy(buf, &f, sizeof(f));
	ret |= seed(VFIO_USER_DEVICE_FEATURE, REQ, 0, buf, 8);
	ret |= seed(VFIO_USER_DEVICE_FEATURE, REP, 0, buf, sizeof(buf));
	memcpy(buf, &m, sizeof(m));
	ret |= seed(VFIO_USER_MIG_DATA_READ, REQ, 0, &m, sizeof(m));
	ret |= seed(VFIO_USER_MIG_DATA_READ, REP, 0, buf, sizeof(buf));
	ret |= seed(VFIO_USER_MIG_DATA_WRITE, REQ, 0, buf, sizeof(buf));
	ret |= seed(VFIO_USER_MIG_DATA_WRITE, REP, 0, NULL, 0);
	return ret;
}

int main(int argc, char **argv)
{
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	ret = version_seeds() | info_seeds() | region_seeds() | io_fds_seed() | irq_seeds() |
	      access_seeds() | multi_seeds() | feature_seeds();
	if (ret)
		return 1;
	printf("fuzz_seeds: %d seeds in %s\n", seeds, dir);
	return 0;
}
