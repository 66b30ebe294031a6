/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-dev-free.c - the iommu and dev layers in free-running mode: real
 * threads map, DMA and unmap disjoint ranges of one domain at once (the
 * hardware lock keeps page tables, IOTLB and logs consistent), while the
 * result must equal the sequential one.  Suite "free" too, so CI runs it
 * under ThreadSanitizer.
 */
#include "iommu-testutil.h"

#define NTHREADS 4
#define ROUNDS 200

struct shared {
	struct vfiosim_world *w;
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_group *group;
	struct vfiosim_iommu_domain *d;
	struct vfiosim_device *dev[NTHREADS];
	uint64_t pfn[NTHREADS];
	int errors[NTHREADS];
	struct worker_arg {
		struct shared *s;
		int i;
	} arg[NTHREADS];
};

static void worker(void *p)
{
	struct worker_arg *a = p;
	struct shared *s = a->s;
	int i = a->i;
	uint64_t iova = (uint64_t)(i + 1) << 30;
	uint64_t phys = s->pfn[i] * vfiosim_page_size(s->w);
	char out[64], in[64];

	for (int r = 0; r < ROUNDS; r++) {
		memset(out, 'a' + i, sizeof(out));
		out[0] = (char)r;
		if (vfiosim_iommu_map(s->d, iova, phys, 4 * KiB,
				      VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE))
			s->errors[i]++;
		if (vfiosim_device_dma(s->dev[i], iova + 64, out, sizeof(out),
				       VFIOSIM_DMA_WRITE))
			s->errors[i]++;
		if (vfiosim_device_dma(s->dev[i], iova + 64, in, sizeof(in),
				       VFIOSIM_DMA_READ) ||
		    memcmp(in, out, sizeof(in)))
			s->errors[i]++;
		if (vfiosim_iommu_unmap(s->d, iova, 4 * KiB) != 4 * KiB)
			s->errors[i]++;
		if (vfiosim_device_dma(s->dev[i], iova, in, 8,
				       VFIOSIM_DMA_READ) != -EFAULT)
			s->errors[i]++;
	}
}

static void free_scenario(struct vfiosim_world *w, void *arg)
{
	struct shared *s = arg;
	struct vfiosim_thread *t[NTHREADS];
	struct vfiosim_iommu_domain_info info;
	char name[16];

	s->w = w;
	IT_RC(w, vfiosim_iommu_create(w, NULL, &s->iommu), 0);
	IT_RC(w, vfiosim_iommu_group_alloc(s->iommu, &s->group), 0);
	/* The default (DMA API) domain: an allocated frame is "held". */
	s->d = vfiosim_iommu_group_default_domain(s->group);
	for (int i = 0; i < NTHREADS; i++) {
		snprintf(name, sizeof(name), "dev%d", i);
		IT_RC(w, vfiosim_device_create(s->group, name, &s->dev[i]), 0);
		IT_RC(w,
		      vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED, &s->pfn[i]),
		      0);
		s->arg[i] = (struct worker_arg){ s, i };
	}
	for (int i = 0; i < NTHREADS; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		t[i] = vfiosim_thread_create(w, name, worker, &s->arg[i]);
		VFIOSIM_ASSERT(w, t[i] != NULL);
	}
	for (int i = 0; i < NTHREADS; i++)
		IT_RC(w, vfiosim_thread_join(t[i]), 0);
	IT_RC(w, vfiosim_iommu_domain_get_info(s->d, &info), 0);
	IT_RC(w, info.leaves, 0);
	IT_RC(w, info.table_pages, 1);
	for (int i = 0; i < NTHREADS; i++) {
		IT_RC(w, vfiosim_device_destroy(s->dev[i]), 0);
		IT_RC(w, vfiosim_page_put(w, s->pfn[i]), 0);
	}
	IT_RC(w, vfiosim_iommu_group_free(s->group), 0);
	IT_RC(w, vfiosim_iommu_destroy(s->iommu), 0);
}

static void free_inspect(struct vfiosim_world *w, void *arg)
{
	struct shared *s = arg;

	(void)w;
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(s->errors[i], 0);
}

START_TEST(concurrent_map_dma_unmap)
{
	struct vfiosim_config cfg;
	struct shared *s = calloc(1, sizeof(*s));

	ck_assert_ptr_nonnull(s);
	vfiosim_config_init(&cfg);
	cfg.mode = VFIOSIM_MODE_FREE;
	it_run(&cfg, free_scenario, s, IT_EXPECT(0), free_inspect);
	free(s);
}
END_TEST

static Suite *free_suite(void)
{
	Suite *s = suite_create("dev-free");
	TCase *tc = tcase_create("free");

	tcase_add_test(tc, concurrent_map_dma_unmap);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(free_suite)
