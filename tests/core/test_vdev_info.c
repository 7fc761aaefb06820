// SPDX-License-Identifier: MIT
/*
 * What the core answers for the container, the IOMMU and the device's info
 * (device, region and IRQ info, their cache and retries), reset and
 * features.
 * The fixture: vdev_fx.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/client.h"
#include "util.h"
#include "vdev_fx.h"

static void test_api_version_and_extensions(void **state)
{
	struct fx *x = *state;

	assert_int_equal(io_val(x, VFIO_GET_API_VERSION, 0), VFIO_API_VERSION);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU), 1);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU), 1);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL), 1);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_TYPE1_NESTING_IOMMU), 0);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU), 0);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU), 0);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR), 0);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU), 0);
	assert_int_equal(io_val(x, VFIO_CHECK_EXTENSION, 12345), 0);
}

static void test_unknown_ioctl_and_bad_pointer(void **state)
{
	struct fx *x = *state;

	assert_int_equal(io_val(x, _IO(VFIO_TYPE, VFIO_BASE + 60), 0), -ENOTTY);
	assert_int_equal(io_val(x, VFIO_GROUP_GET_DEVICE_FD, 0), -ENOTTY);
	assert_int_equal(io_val(x, 0x5401 /* TCGETS */, 0), -ENOTTY);
	assert_int_equal(io_val(x, VFIO_DEVICE_GET_INFO, 16), -EFAULT);
	assert_int_equal(io_val(x, VFIO_DEVICE_GET_REGION_INFO, 0), -EFAULT);
}

static void test_set_iommu(void **state)
{
	struct fx *x = *state;
	struct vfio_iommu_type1_info *info = arg_alloc(x, sizeof(*info));

	info->argsz = sizeof(*info);
	/* The container has no IOMMU yet. */
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), -EINVAL);
	assert_int_equal(map_dma(x, x->arena, 0, PAGE, RW), -EINVAL);
	assert_int_equal(unmap_dma(x, 0, PAGE, 0, NULL), -EINVAL);
	assert_int_equal(io_val(x, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU), -ENODEV);
	assert_int_equal(io_val(x, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU), -ENODEV);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(io_val(x, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -EINVAL);
	assert_int_equal(io_val(x, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU), -EINVAL);
}

static void test_group_status(void **state)
{
	struct fx *x = *state;
	struct vfio_group_status *s = arg_alloc(x, sizeof(*s));

	s->argsz = sizeof(*s);
	assert_int_equal(io(x, VFIO_GROUP_GET_STATUS, s), 0);
	assert_int_equal(s->flags, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	s->argsz = 7;
	assert_int_equal(io(x, VFIO_GROUP_GET_STATUS, s), -EINVAL);
}

/* Leave a pattern where the next call's locals will be, so a field the
 * node forgets to set shows up in what the program gets. */
static __attribute__((noinline)) void stack_dirty(void)
{
	volatile uint8_t junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0xa5;
}

static void test_iommu_get_info(void **state)
{
	struct fx *x = *state;
	struct vfio_iommu_type1_info *info = arg_alloc(x, 256);
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info_cap_iova_range *range;
	void *buf = aligned_alloc(PAGE, PAGE);

	fake_host_add_map(&x->h, buf, PAGE, true, true, -1, 0);
	set_iommu(x, VFIO_TYPE1v2_IOMMU);
	info->argsz = 15;
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), -EINVAL);

	/* Only the fixed part fits: argsz says what the caps need. */
	memset(info, 0xaa, 256);
	info->argsz = 16;
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 24 + 48);
	assert_int_equal(info->flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
	assert_int_equal(info->iova_pgsizes, 4096);
	assert_int_equal(info->cap_offset, 0xaaaaaaaa); /* beyond argsz: untouched */

	info->argsz = 24;
	stack_dirty();
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 72);
	assert_int_equal(info->cap_offset, 0);
	/* The tail padding (the kernel's "pad") carries nothing of ours. */
	assert_int_equal(*(uint32_t *)((uint8_t *)info + 20), 0);

	assert_int_equal(map_dma(x, buf, 0x10000, PAGE, RW), 0);
	info->argsz = 256;
	assert_int_equal(io(x, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 256);
	assert_int_equal(info->cap_offset, 24);
	avail = (void *)((uint8_t *)info + 24);
	assert_int_equal(avail->header.id, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	assert_int_equal(avail->avail, 15);
	assert_int_equal(avail->header.next, 40);
	range = (void *)((uint8_t *)info + 40);
	assert_int_equal(range->header.id, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	assert_int_equal(range->header.next, 0);
	assert_int_equal(range->nr_iovas, 1);
	assert_int_equal(range->iova_ranges[0].start, 0);
	assert_true(range->iova_ranges[0].end == UINT64_MAX - 1);
	assert_int_equal(unmap_dma(x, 0x10000, PAGE, 0, NULL), 0);
	free(buf);
}

static void test_device_get_info(void **state)
{
	struct fx *x = *state;
	struct vfio_device_info *info = arg_alloc(x, sizeof(*info) + 8);

	memset(info, 0xaa, sizeof(*info) + 8);
	info->argsz = 16;
	assert_int_equal(io(x, VFIO_DEVICE_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 16);
	assert_int_equal(info->flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(info->num_regions, TDEV_NUM_REGIONS);
	assert_int_equal(info->num_irqs, TDEV_NUM_IRQS);
	assert_int_equal(info->cap_offset, 0xaaaaaaaa);

	info->argsz = sizeof(*info) + 8;
	assert_int_equal(io(x, VFIO_DEVICE_GET_INFO, info), 0);
	assert_int_equal(info->cap_offset, 0);
	assert_int_equal(((uint8_t *)info)[sizeof(*info)], 0xaa);

	info->argsz = 15;
	assert_int_equal(io(x, VFIO_DEVICE_GET_INFO, info), -EINVAL);
}

static void test_region_info(void **state)
{
	struct fx *x = *state;
	struct vfio_region_info *ri = arg_alloc(x, 256);
	struct vfio_region_info_cap_type *ty;

	ri->argsz = sizeof(*ri);
	ri->index = VFIO_PCI_BAR0_REGION_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_int_equal(ri->size, TDEV_BAR0_SIZE);
	assert_int_equal(ri->offset, 0);
	assert_int_equal(ri->flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);

	ri->index = VFIO_PCI_CONFIG_REGION_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_true(ri->offset == (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40);
	assert_int_equal(ri->size, TDEV_CFG_SIZE);

	ri->index = VFIO_PCI_BAR3_REGION_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_int_equal(ri->size, 0);
	assert_int_equal(ri->flags, 0);

	/* BAR2: MMAP cleared; only the type capability survives. */
	ri->argsz = sizeof(*ri);
	ri->index = VFIO_PCI_BAR2_REGION_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_int_equal(ri->argsz, sizeof(*ri) + sizeof(*ty));
	assert_int_equal(ri->cap_offset, 0);
	assert_int_equal(ri->flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
	                                VFIO_REGION_INFO_FLAG_CAPS);
	ri->argsz = 256;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_int_equal(ri->argsz, 256);
	assert_int_equal(ri->cap_offset, sizeof(*ri));
	assert_true(ri->offset == (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40);
	ty = (void *)((uint8_t *)ri + ri->cap_offset);
	assert_int_equal(ty->header.id, VFIO_REGION_INFO_CAP_TYPE);
	assert_int_equal(ty->header.next, 0);
	assert_int_equal(ty->type, TDEV_TYPE_CAP_TYPE);
	assert_int_equal(ty->subtype, 7);

	ri->index = VFIO_PCI_VGA_REGION_INDEX; /* refused by the server */
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), -EINVAL);
	ri->index = TDEV_NUM_REGIONS;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), -EINVAL);
	ri->index = UINT32_MAX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), -EINVAL);
	ri->index = 0;
	ri->argsz = sizeof(*ri) - 1;
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), -EINVAL);
}

static void test_irq_info(void **state)
{
	struct fx *x = *state;
	struct vfio_irq_info *ii = arg_alloc(x, sizeof(*ii));

	ii->argsz = sizeof(*ii);
	ii->index = VFIO_PCI_MSIX_IRQ_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, ii), 0);
	assert_int_equal(ii->count, TDEV_MSIX_COUNT);
	assert_int_equal(ii->flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE);
	ii->index = VFIO_PCI_INTX_IRQ_INDEX;
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, ii), 0);
	assert_int_equal(ii->count, 1);
	assert_int_equal(ii->flags,
	                 VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED);
	ii->index = TDEV_NUM_IRQS;
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, ii), -EINVAL);
	ii->index = 0;
	ii->argsz = sizeof(*ii) - 1;
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, ii), -EINVAL);
}

/*
 * At connect BAR0's and MSI-X's info came too late: a failure of this
 * side, not the server's answer. The node still comes up, and the first
 * program that needs them asks again and gets them (a call cancelled by a
 * signal caches nothing either); VGA, which the server refuses, stays
 * refused without being asked again.
 */
static void test_info_retried_after_local_failure(void **state)
{
	struct fx *x = *state;
	struct vfio_region_info *ri = arg_alloc(x, sizeof(*ri));
	struct vfio_irq_info *ii = arg_alloc(x, sizeof(*ii));
	struct vreq cancelled = x->r;
	struct vfio_irq_set *s;
	uint32_t v = 0;

	assert_int_equal(tdev_region_info_calls(&x->t, VFIO_PCI_BAR0_REGION_INDEX), 1);
	assert_int_equal(tdev_irq_info_calls(&x->t, VFIO_PCI_MSIX_IRQ_INDEX), 1);
	/* A program's call cut short by a signal is no answer either. */
	cancelled.cancel = vu_cancel_new();
	assert_non_null(cancelled.cancel);
	vu_cancel_fire(cancelled.cancel);
	*ri = (struct vfio_region_info){.argsz = sizeof(*ri), .index = VFIO_PCI_BAR0_REGION_INDEX};
	assert_int_equal(
	    vdev_ioctl(x->d, x->f, &cancelled, VFIO_DEVICE_GET_REGION_INFO, (uintptr_t)ri), -EINTR);
	vu_cancel_free(cancelled.cancel);
	/* A read of BAR0 needs its info first. */
	assert_int_equal(vdev_read(x->d, x->f, &x->r, 0, &v, 4), 4);
	assert_int_equal(tdev_region_info_calls(&x->t, VFIO_PCI_BAR0_REGION_INDEX), 2);
	*ri = (struct vfio_region_info){.argsz = sizeof(*ri), .index = VFIO_PCI_BAR0_REGION_INDEX};
	assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), 0);
	assert_int_equal(ri->size, TDEV_BAR0_SIZE);
	assert_int_equal(tdev_region_info_calls(&x->t, VFIO_PCI_BAR0_REGION_INDEX), 2);
	for (int i = 0; i < 2; i++) {
		ri->index = VFIO_PCI_VGA_REGION_INDEX;
		assert_int_equal(io(x, VFIO_DEVICE_GET_REGION_INFO, ri), -EINVAL);
	}
	assert_int_equal(tdev_region_info_calls(&x->t, VFIO_PCI_VGA_REGION_INDEX), 1);

	/* SET_IRQS checks its range against the count it now asks for. */
	s = irq_set(x, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
	            VFIO_PCI_MSIX_IRQ_INDEX, TDEV_MSIX_COUNT, 1, 0);
	assert_int_equal(io(x, VFIO_DEVICE_SET_IRQS, s), -EINVAL);
	assert_int_equal(tdev_irq_info_calls(&x->t, VFIO_PCI_MSIX_IRQ_INDEX), 2);
	*ii = (struct vfio_irq_info){.argsz = sizeof(*ii), .index = VFIO_PCI_MSIX_IRQ_INDEX};
	assert_int_equal(io(x, VFIO_DEVICE_GET_IRQ_INFO, ii), 0);
	assert_int_equal(ii->count, TDEV_MSIX_COUNT);
	assert_int_equal(tdev_irq_info_calls(&x->t, VFIO_PCI_MSIX_IRQ_INDEX), 2);
}

static void test_reset(void **state)
{
	struct fx *x = *state;

	assert_int_equal(io_val(x, VFIO_DEVICE_RESET, 0), 0);
	assert_int_equal(x->t.resets, 1);
}

static void test_reset_unsupported(void **state)
{
	struct fx *x = *state;
	struct vfio_device_info *info = arg_alloc(x, sizeof(*info));

	info->argsz = sizeof(*info);
	assert_int_equal(io(x, VFIO_DEVICE_GET_INFO, info), 0);
	assert_int_equal(info->flags, VFIO_DEVICE_FLAGS_PCI);
	assert_int_equal(io_val(x, VFIO_DEVICE_RESET, 0), -EINVAL);
	assert_int_equal(x->t.resets, 0);
}

static void test_device_feature(void **state)
{
	struct fx *x = *state;
	struct vfio_device_feature *f = arg_alloc(x, sizeof(*f) + 16);

	f->argsz = sizeof(*f) - 1;
	f->flags = VFIO_DEVICE_FEATURE_PROBE;
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -EINVAL);
	f->argsz = sizeof(*f);
	f->flags = VFIO_DEVICE_FEATURE_PROBE | (1u << 19);
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -EINVAL);
	f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -EINVAL);
	f->flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -ENOTTY);
	/* Forwarded: this server has no features at all. */
	f->flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY;
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -ENOTTY);
	f->argsz = sizeof(*f) + 16;
	f->flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN;
	assert_int_equal(io(x, VFIO_DEVICE_FEATURE, f), -ENOTTY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_api_version_and_extensions),
	    T(test_unknown_ioctl_and_bad_pointer),
	    T(test_set_iommu),
	    T(test_group_status),
	    T(test_iommu_get_info),
	    T(test_device_get_info),
	    T(test_region_info),
	    T(test_irq_info),
	    T(test_reset),
	    T_WITH(test_reset_unsupported, fx_setup_noreset),
	    T(test_device_feature),
	    T_WITH(test_info_retried_after_local_failure, fx_setup_slow_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
