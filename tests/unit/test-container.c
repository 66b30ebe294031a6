/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-container.c - the VFIO core's containers and groups, in the order
 * the oracle probe exercises them on Linux 6.1.
 */
#include <errno.h>

#include <libvfiosim/iommu.h>
#include <libvfiosim/vfio.h>

#include "testutil.h"

struct res {
	long r[64];
	int n;
	bool t1_after_unset;
};

#define REC(s, v) ((s)->r[(s)->n++] = (long)(v))

static void container_body(struct vfiosim_world *w, void *arg)
{
	struct res *s = arg;
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_group *ig;
	struct vfiosim_vfio_group *g;
	struct vfiosim_container *c;
	uint32_t flags = 0;

	VFIOSIM_ASSERT(w, vfiosim_iommu_create(w, NULL, &iommu) == 0, "iommu");
	VFIOSIM_ASSERT(w, vfiosim_iommu_group_alloc(iommu, &ig) == 0, "group");
	VFIOSIM_ASSERT(w, vfiosim_vfio_group_create(w, ig, 1, &g) == 0,
		       "vgroup");
	VFIOSIM_ASSERT(w, vfiosim_container_open(w, 65535, &c) == 0, "open");

	REC(s,
	    vfiosim_container_check_extension(c, VFIOSIM_TYPE1_IOMMU)); /* 0 */
	REC(s, vfiosim_container_check_extension(c, VFIOSIM_UPDATE_VADDR));
	REC(s, vfiosim_container_check_extension(c, VFIOSIM_NOIOMMU_IOMMU));
	REC(s, vfiosim_container_set_iommu(c, VFIOSIM_TYPE1v2_IOMMU)); /* 3 */
	REC(s, vfiosim_vfio_group_open(g));
	REC(s, vfiosim_vfio_group_open(g)); /* 5 */
	REC(s, vfiosim_vfio_group_status(g, &flags));
	REC(s, flags);
	REC(s, vfiosim_vfio_group_set_container(g, c)); /* 8 */
	vfiosim_vfio_group_status(g, &flags);
	REC(s, flags);
	REC(s, vfiosim_vfio_group_set_container(g, c)); /* 10 */
	REC(s, vfiosim_container_check_extension(c, VFIOSIM_UPDATE_VADDR));
	REC(s,
	    vfiosim_container_set_iommu(c, VFIOSIM_SPAPR_TCE_IOMMU)); /* 12 */
	REC(s, vfiosim_container_set_iommu(c, 0));
	REC(s, vfiosim_container_type1(c) == NULL);
	REC(s, vfiosim_container_set_iommu(c, VFIOSIM_TYPE1v2_IOMMU)); /* 15 */
	REC(s, vfiosim_container_set_iommu(c, VFIOSIM_TYPE1v2_IOMMU));
	REC(s, vfiosim_container_set_iommu(c, VFIOSIM_TYPE1_IOMMU));
	REC(s, vfiosim_container_check_extension(
		       c, VFIOSIM_UPDATE_VADDR)); /* 18 */
	REC(s, vfiosim_container_type1(c) != NULL);
	REC(s, vfiosim_vfio_group_unset_container(g)); /* 20 */
	s->t1_after_unset = vfiosim_container_type1(c) != NULL;
	vfiosim_vfio_group_status(g, &flags);
	REC(s, flags);
	REC(s, vfiosim_vfio_group_unset_container(g));
	/* Closing a group that is in a container leaves it. */
	REC(s, vfiosim_vfio_group_set_container(g, c)); /* 23 */
	REC(s, vfiosim_container_set_iommu(c, VFIOSIM_TYPE1v2_IOMMU));
	vfiosim_vfio_group_close(g);
	REC(s, vfiosim_container_type1(c) == NULL); /* 25 */
	REC(s, vfiosim_vfio_group_open(g));
	vfiosim_vfio_group_close(g);
	vfiosim_container_close(c);
	vfiosim_vfio_group_destroy(g);
	vfiosim_iommu_group_free(ig);
	vfiosim_iommu_destroy(iommu);
}

START_TEST(container_and_group_lifecycle)
{
	struct res s = { 0 };
	struct vfiosim_world *w;

	w = tu_run_clean(NULL, container_body, &s);
	ck_assert_int_eq(s.n, 27);
	ck_assert_int_eq(s.r[0], 1);
	ck_assert_int_eq(s.r[1], 0);
	ck_assert_int_eq(s.r[2], 0);
	ck_assert_int_eq(s.r[3], -EINVAL); /* no group */
	ck_assert_int_eq(s.r[4], 0);
	ck_assert_int_eq(s.r[5], -EBUSY); /* second open */
	ck_assert_int_eq(s.r[6], 0);
	ck_assert_int_eq(s.r[7], VFIOSIM_GROUP_FLAGS_VIABLE);
	ck_assert_int_eq(s.r[8], 0);
	ck_assert_int_eq(s.r[9], VFIOSIM_GROUP_FLAGS_VIABLE |
					 VFIOSIM_GROUP_FLAGS_CONTAINER_SET);
	ck_assert_int_eq(s.r[10], -EINVAL); /* again */
	ck_assert_int_eq(s.r[11], 0);
	ck_assert_int_eq(s.r[12], -ENODEV);
	ck_assert_int_eq(s.r[13], -ENODEV);
	ck_assert_int_eq(s.r[14], 1);
	ck_assert_int_eq(s.r[15], 0);
	ck_assert_int_eq(s.r[16], -EINVAL); /* again */
	ck_assert_int_eq(s.r[17], -EINVAL); /* switch to v1 */
	ck_assert_int_eq(s.r[18], 1);
	ck_assert_int_eq(s.r[19], 1);
	ck_assert_int_eq(s.r[20], 0);
	ck_assert(!s.t1_after_unset);
	ck_assert_int_eq(s.r[21], VFIOSIM_GROUP_FLAGS_VIABLE);
	ck_assert_int_eq(s.r[22], -EINVAL);
	ck_assert_int_eq(s.r[23], 0);
	ck_assert_int_eq(s.r[24], 0);
	ck_assert_int_eq(s.r[25], 1);
	ck_assert_int_eq(s.r[26], 0);
	ck_assert_int_eq(vfiosim_world_destroy(w), 0);
}
END_TEST

static Suite *container_suite(void)
{
	Suite *s = suite_create("container");
	TCase *tc = tcase_create("container");

	tcase_add_test(tc, container_and_group_lifecycle);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(container_suite)
