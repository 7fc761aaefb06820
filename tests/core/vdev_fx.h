/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the test_vdev_*.c programs: the translation core driven
 * directly, every ioctl and region access, with a fake process
 * (fake_host.c) and the recording test device in a thread
 * (tests/support/tdev.c), one node open by the fake process.
 */
#ifndef VUC_TESTS_CORE_VDEV_FX_H
#define VUC_TESTS_CORE_VDEV_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vfio.h>

#include "core/vdev.h"
#include "fake_host.h"
#include "tdev.h"

#define PID       1000
#define OTHER_PID 2000
#define ARENA     (64u << 10)
#define PAGE      4096u
#define RW        (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

struct fx {
	struct tdev t;
	struct fake_host h;
	struct vu_log log;
	struct vdev *d;
	struct vfile *f;
	struct vreq r;
	uint8_t *arena; /* the fake process's memory for ioctl arguments */
	size_t used;
};

/* The setups: a device with reset, 16 mappings and a 2 s timeout, and the
 * variants each test family needs. */
int fx_setup(void **state);
int fx_setup_slow_info(void **state);  /* BAR0's and MSI-X's info come late */
int fx_setup_twin(void **state);       /* twin-socket mode: posted writes */
int fx_setup_noreset(void **state);    /* no VFIO_DEVICE_FLAGS_RESET */
int fx_setup_twomaps(void **state);    /* the server takes two mappings */
int fx_setup_bigcaps(void **state);    /* it offers more than it holds */
int fx_setup_by_message(void **state); /* the node has dma_by_message */
int fx_setup_lying(void **state);      /* MSI claims 0xfffffffe vectors */
int fx_teardown(void **state);

/* A log function that drops every line. */
void fx_quiet(void *arg, enum vu_log_level lvl, const char *line);

#define T(fn)         cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
#define T_WITH(fn, s) cmocka_unit_test_setup_teardown(fn, s, fx_teardown)

/* Zeroed room in the fake process's memory. */
void *arg_alloc(struct fx *x, size_t len);
/* An ioctl of the fake process on its node, with a pointer or a value. */
long io(struct fx *x, unsigned int cmd, const void *arg);
long io_val(struct fx *x, unsigned int cmd, uint64_t val);
void set_iommu(struct fx *x, uint32_t type);
long map_dma(struct fx *x, void *vaddr, uint64_t iova, uint64_t size, uint32_t flags);
long unmap_dma(struct fx *x, uint64_t iova, uint64_t size, uint32_t flags, uint64_t *done);
void fill_pattern(uint8_t *p, size_t len);
/* A SET_IRQS argument with data bytes of room, in the fake process. */
struct vfio_irq_set *irq_set(struct fx *x, uint32_t flags, uint32_t index, uint32_t start,
                             uint32_t count, size_t data);
void *page_alloc(size_t len);
int32_t device_dma(struct fx *x, uint64_t iova, uint64_t len, uint64_t dir);

#endif
