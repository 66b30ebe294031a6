/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-mm-phys.c - simulated physical memory: allocation, refcounts,
 * compound pages, MMIO, lazy metadata, leak reports.
 */
#include <errno.h>
#include <stdio.h>

#include "testutil.h"

#define PAGE 4096ull

/*
 * Destroy @w after an empty run: failures recorded in a world that never
 * ran keep their report parts until the run ends (see the report to the
 * lead), which valgrind counts as a leak.
 */
static void noop_run(struct vfiosim_world *w, void *arg)
{
	(void)w;
	(void)arg;
}

static int destroy(struct vfiosim_world *w)
{
	vfiosim_world_run(w, noop_run, NULL);
	return vfiosim_world_destroy(w);
}

static struct vfiosim_world *mkworld(uint64_t phys_size)
{
	struct vfiosim_config c;

	vfiosim_config_init(&c);
	c.mm.phys_size = phys_size;
	return tu_world(&c);
}

static struct vfiosim_page_info query(struct vfiosim_world *w, uint64_t pfn)
{
	struct vfiosim_page_info in;

	ck_assert_int_eq(vfiosim_page_query(w, pfn, &in), 0);
	return in;
}

START_TEST(alloc_validation)
{
	struct vfiosim_world *w = mkworld(64ull << 20);
	uint64_t pfn = 12345;

	ck_assert_neg_errno(vfiosim_phys_alloc(w, 19, 0, &pfn), EINVAL);
	ck_assert_neg_errno(vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_MMIO, &pfn),
			    EINVAL);
	ck_assert_neg_errno(vfiosim_phys_alloc(w, 0, 0, NULL), EINVAL);
	ck_assert_neg_errno(vfiosim_phys_alloc(NULL, 0, 0, &pfn), EINVAL);
	ck_assert_uint_eq(pfn, 12345);
	ck_assert_uint_eq(vfiosim_phys_npages(w), (64ull << 20) / PAGE);
	ck_assert_uint_eq(vfiosim_page_size(w), PAGE);
	ck_assert_neg_errno(vfiosim_page_get(w, vfiosim_phys_npages(w)),
			    EINVAL);
	ck_assert_neg_errno(vfiosim_page_put(w, 0), ENOENT);
	ck_assert_neg_errno(vfiosim_page_get(w, 0), ENOENT);
	ck_assert_neg_errno(vfiosim_page_query(w, 0, NULL), EINVAL);
	ck_assert_ptr_null(vfiosim_page_bytes(w, 0));
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(bad_config)
{
	struct vfiosim_config c;
	struct vfiosim_world *w;
	uint64_t pfn;

	vfiosim_config_init(&c);
	c.mm.page_shift = 11;
	w = tu_world(&c);
	ck_assert_neg_errno(vfiosim_phys_alloc(w, 0, 0, &pfn), EINVAL);
	ck_assert_uint_eq(vfiosim_phys_npages(w), 0);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(alloc_get_put_free)
{
	struct vfiosim_world *w = mkworld(64ull << 20);
	struct vfiosim_page_info in;
	uint64_t a, b, c;
	unsigned char *bytes;

	ck_assert_int_eq(vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED, &a), 0);
	ck_assert_int_eq(vfiosim_phys_alloc(w, 0, 0, &b), 0);
	ck_assert_uint_ne(a, b);
	in = query(w, a);
	ck_assert_uint_eq(in.refcount, 1);
	ck_assert_uint_eq(in.pincount, 0);
	ck_assert_uint_eq(in.flags, VFIOSIM_PAGE_BACKED);
	ck_assert_uint_eq(in.head_pfn, a);
	bytes = vfiosim_page_bytes(w, a);
	ck_assert_ptr_nonnull(bytes);
	ck_assert_uint_eq(bytes[0] | bytes[PAGE - 1], 0);
	memset(bytes, 0xab, PAGE);
	ck_assert_ptr_null(vfiosim_page_bytes(w, b)); /* unbacked */
	ck_assert_int_eq(vfiosim_page_get(w, a), 0);
	ck_assert_uint_eq(query(w, a).refcount, 2);
	ck_assert_int_eq(vfiosim_page_put(w, a), 0);
	ck_assert_int_eq(vfiosim_page_put(w, a), 0);
	in = query(w, a);
	ck_assert_uint_eq(in.refcount, 0);
	ck_assert_uint_eq(in.flags, 0);
	ck_assert_neg_errno(vfiosim_page_put(w, a), ENOENT);
	ck_assert_ptr_null(vfiosim_page_bytes(w, a));
	/* The lowest free frame is reused, and its bytes are zero again. */
	ck_assert_int_eq(vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED, &c), 0);
	ck_assert_uint_eq(c, a);
	bytes = vfiosim_page_bytes(w, c);
	ck_assert_uint_eq(bytes[0] | bytes[100] | bytes[PAGE - 1], 0);
	ck_assert_int_eq(vfiosim_page_put(w, b), 0);
	ck_assert_int_eq(vfiosim_page_put(w, c), 0);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

/*
 * A chunk that empties keeps its host backing for the next chunk that
 * needs one; the frames written before must read as zero again, frames
 * never written stay zero, and the statistics count only live backings.
 * Six chunks empty at once: four backings are kept, two unmapped.
 */
START_TEST(emptied_chunk_backing_reused_zeroed)
{
	enum { CHUNK = 512, NCHUNK = 6, N = CHUNK * NCHUNK };
	struct vfiosim_world *w = mkworld(64ull << 20);
	struct vfiosim_phys_stats st;
	static uint64_t pfn[N];
	unsigned char *b;

	for (unsigned int i = 0; i < N; i++) {
		ck_assert_int_eq(vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED,
						    &pfn[i]),
				 0);
		b = vfiosim_page_bytes(w, pfn[i]);
		ck_assert_ptr_nonnull(b);
		/* Every other frame written, at both ends. */
		if (i % 2 == 0) {
			b[0] = 0x5a;
			b[PAGE - 1] = 0xa5;
		}
	}
	ck_assert_int_eq(vfiosim_phys_stats(w, &st), 0);
	ck_assert_uint_ge(st.backed_bytes, (uint64_t)N * PAGE);
	for (unsigned int i = 0; i < N; i++)
		ck_assert_int_eq(vfiosim_page_put(w, pfn[i]), 0);
	ck_assert_int_eq(vfiosim_phys_stats(w, &st), 0);
	ck_assert_uint_eq(st.backed_bytes, 0);
	/* The same frames again (lowest free first): all bytes zero. */
	for (unsigned int i = 0; i < N; i++) {
		uint64_t again;

		ck_assert_int_eq(vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED,
						    &again),
				 0);
		ck_assert_uint_eq(again, pfn[i]);
		b = vfiosim_page_bytes(w, again);
		ck_assert_ptr_nonnull(b);
		ck_assert_uint_eq(b[0] | b[1] | b[PAGE / 2] | b[PAGE - 1], 0);
		b[7] = 1; /* written this time: must be zeroed next time */
	}
	ck_assert_int_eq(vfiosim_phys_stats(w, &st), 0);
	ck_assert_uint_ge(st.backed_bytes, (uint64_t)N * PAGE);
	/* Unbacked frames of a reused chunk have no bytes. */
	for (unsigned int i = 0; i < N; i++)
		ck_assert_int_eq(vfiosim_page_put(w, pfn[i]), 0);
	ck_assert_int_eq(vfiosim_phys_alloc(w, 0, 0, &pfn[0]), 0);
	ck_assert_ptr_null(vfiosim_page_bytes(w, pfn[0]));
	ck_assert_int_eq(vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED, &pfn[1]),
			 0);
	b = vfiosim_page_bytes(w, pfn[1]);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(b[7], 0);
	ck_assert_int_eq(vfiosim_page_put(w, pfn[0]), 0);
	ck_assert_int_eq(vfiosim_page_put(w, pfn[1]), 0);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(compound_pages)
{
	struct vfiosim_world *w = mkworld(4ull << 30);
	struct vfiosim_page_info in;
	uint64_t small, h2m, h1g, o3;
	unsigned char *b;

	ck_assert_int_eq(vfiosim_phys_alloc(w, 0, 0, &small), 0);
	ck_assert_int_eq(vfiosim_phys_alloc(w, 9, VFIOSIM_PAGE_BACKED, &h2m),
			 0);
	ck_assert_int_eq(vfiosim_phys_alloc(w, 18, 0, &h1g), 0);
	ck_assert_int_eq(vfiosim_phys_alloc(w, 3, VFIOSIM_PAGE_BACKED, &o3), 0);
	ck_assert_uint_eq(h2m % 512, 0);
	ck_assert_uint_eq(h1g % (1u << 18), 0);
	ck_assert_uint_eq(o3 % 8, 0);
	in = query(w, h2m);
	ck_assert_uint_eq(in.order, 9);
	ck_assert(in.flags & VFIOSIM_PAGE_HEAD);
	in = query(w, h2m + 100);
	ck_assert(in.flags & VFIOSIM_PAGE_TAIL);
	ck_assert(in.flags & VFIOSIM_PAGE_BACKED);
	ck_assert_uint_eq(in.head_pfn, h2m);
	ck_assert_uint_eq(in.refcount, 1);
	/* A reference taken through a tail lands on the head. */
	ck_assert_int_eq(vfiosim_page_get(w, h1g + 77777), 0);
	ck_assert_uint_eq(query(w, h1g).refcount, 2);
	ck_assert_uint_eq(query(w, h1g + 5).refcount, 2);
	ck_assert_int_eq(vfiosim_page_put(w, h1g + 1), 0);
	/* Tail bytes are their own page of the huge page's bytes. */
	b = vfiosim_page_bytes(w, h2m + 3);
	ck_assert_ptr_eq(b, (unsigned char *)vfiosim_page_bytes(w, h2m) +
				    3 * PAGE);
	in = query(w, o3 + 7);
	ck_assert(in.flags & VFIOSIM_PAGE_TAIL);
	ck_assert_uint_eq(in.head_pfn, o3);
	ck_assert_uint_eq(in.order, 3);
	ck_assert_int_eq(vfiosim_page_put(w, o3 + 7), 0);
	ck_assert_uint_eq(query(w, o3).refcount, 0);
	ck_assert_int_eq(vfiosim_page_put(w, h1g), 0);
	ck_assert_int_eq(vfiosim_page_put(w, h2m), 0);
	ck_assert_int_eq(vfiosim_page_put(w, small), 0);
	ck_assert_uint_eq(query(w, h1g + 9).refcount, 0);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(exhaustion_and_merge)
{
	struct vfiosim_world *w = mkworld(8ull << 20); /* 2048 frames */
	uint64_t pfns[2048], big;
	unsigned int n = 0;
	int rc;

	while ((rc = vfiosim_phys_alloc(w, 0, 0, &pfns[n])) == 0)
		n++;
	ck_assert_int_eq(rc, -ENOMEM);
	ck_assert_uint_eq(n, 2048);
	ck_assert_neg_errno(vfiosim_phys_alloc(w, 9, 0, &big), ENOMEM);
	/* Free in an interleaved order: the buddies merge back. */
	for (unsigned int i = 0; i < n; i += 2)
		ck_assert_int_eq(vfiosim_page_put(w, pfns[i]), 0);
	ck_assert_neg_errno(vfiosim_phys_alloc(w, 1, 0, &big), ENOMEM);
	for (unsigned int i = 1; i < n; i += 2)
		ck_assert_int_eq(vfiosim_page_put(w, pfns[i]), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(vfiosim_phys_alloc(w, 9, 0, &pfns[i]), 0);
	ck_assert_neg_errno(vfiosim_phys_alloc(w, 0, 0, &big), ENOMEM);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(vfiosim_page_put(w, pfns[i]), 0);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(lazy_metadata)
{
	struct vfiosim_world *w = mkworld(16ull << 40);
	struct vfiosim_phys_stats st;
	uint64_t pfns[1024];

	ck_assert_uint_eq(vfiosim_phys_npages(w), 1ull << 32);
	ck_assert_int_eq(vfiosim_phys_stats(w, &st), 0);
	ck_assert_uint_eq(st.meta_bytes, 0);
	ck_assert_uint_eq(st.frames_inuse, 0);
	/* 1 TiB in 1 GiB pages: a few KiB of metadata, not gigabytes. */
	for (int i = 0; i < 1024; i++)
		ck_assert_int_eq(vfiosim_phys_alloc(w, 18, 0, &pfns[i]), 0);
	ck_assert_int_eq(vfiosim_phys_stats(w, &st), 0);
	ck_assert_uint_eq(st.frames_inuse, 1ull << 28);
	ck_assert_uint_lt(st.meta_bytes, 1024 * 128);
	for (int i = 0; i < 1024; i++)
		ck_assert_int_eq(vfiosim_page_put(w, pfns[i]), 0);
	ck_assert_int_eq(vfiosim_phys_stats(w, &st), 0);
	ck_assert_uint_eq(st.meta_bytes, 0);
	ck_assert_uint_eq(st.frames_inuse, 0);
	ck_assert_uint_eq(st.high_water_pfn, 0);
	ck_assert_neg_errno(vfiosim_phys_stats(w, NULL), EINVAL);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(mmio_ranges)
{
	struct vfiosim_world *w = mkworld(64ull << 20); /* 16384 frames */
	uint64_t a, pfn;
	struct vfiosim_page_info in;

	ck_assert_int_eq(vfiosim_phys_alloc(w, 0, 0, &a), 0);
	ck_assert_neg_errno(vfiosim_phys_add_mmio(w, a, 1), EINVAL);
	ck_assert_neg_errno(vfiosim_phys_add_mmio(w, 100, 0), EINVAL);
	ck_assert_neg_errno(vfiosim_phys_add_mmio(w, 16000, 1000), EINVAL);
	ck_assert_int_eq(vfiosim_phys_add_mmio(w, 4096, 4096), 0);
	ck_assert_neg_errno(vfiosim_phys_add_mmio(w, 8000, 10), EINVAL);
	in = query(w, 4096 + 17);
	ck_assert_uint_eq(in.flags, VFIOSIM_PAGE_MMIO);
	ck_assert_uint_eq(query(w, 8192).flags, 0);
	ck_assert(vfiosim_pfn_invalid_or_reserved(w, 5000));
	ck_assert(vfiosim_pfn_invalid_or_reserved(w, 1ull << 40));
	ck_assert(!vfiosim_pfn_invalid_or_reserved(w, a));
	ck_assert(!vfiosim_pfn_invalid_or_reserved(w, 9000)); /* free RAM */
	ck_assert_neg_errno(vfiosim_page_get(w, 5000), EINVAL);
	ck_assert_ptr_null(vfiosim_page_bytes(w, 5000));
	/* The allocator never hands out MMIO frames. */
	for (int i = 0; i < 12287; i++) {
		ck_assert_int_eq(vfiosim_phys_alloc(w, 0, 0, &pfn), 0);
		ck_assert(pfn < 4096 || pfn >= 8192);
	}
	ck_assert_neg_errno(vfiosim_phys_alloc(w, 0, 0, &pfn), ENOMEM);
	/* Leaked on purpose: 12288 frames, reported as runs. */
	ck_assert_int_gt(destroy(w), 0);
}
END_TEST

START_TEST(reserved_and_bug)
{
	struct vfiosim_world *w = mkworld(64ull << 20);
	uint64_t r;

	ck_assert_int_eq(vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_RESERVED, &r),
			 0);
	ck_assert(vfiosim_pfn_invalid_or_reserved(w, r));
	/* Freeing a reserved page is a BUG, and nothing changes. */
	ck_assert_int_eq(vfiosim_page_put(w, r), 0);
	ck_assert_uint_eq(vfiosim_world_failure_count(w), 1);
	ck_assert_int_eq(vfiosim_world_failure(w, 0)->kind, VFIOSIM_FAIL_BUG);
	ck_assert(
		tu_contains(vfiosim_world_failure(w, 0)->message, "reserved"));
	ck_assert_uint_eq(query(w, r).refcount, 1);
	/* A reserved page at refcount 1 is its baseline: no LEAK. */
	ck_assert_int_eq(destroy(w), 1);
}
END_TEST

/*
 * vfiosim_pfn_reserved_run() agrees with vfiosim_pfn_invalid_or_reserved()
 * frame by frame: the run's answer is the first frame's, every frame of
 * the run answers the same, and the frame after a short run answers
 * differently.
 */
START_TEST(reserved_runs)
{
	struct vfiosim_world *w = mkworld(64ull << 20); /* 16384 frames */
	uint64_t normal[8], rsvd[4], huge_r, huge_n, seed = 42;
	bool r;

	ck_assert_uint_eq(vfiosim_pfn_reserved_run(w, 0, 0, &r), 0);
	ck_assert_uint_eq(vfiosim_pfn_reserved_run(w, 0, 5, NULL), 0);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(vfiosim_phys_alloc(w, 0, 0, &normal[i]), 0);
		if (i % 2 == 0)
			ck_assert_int_eq(
				vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_RESERVED,
						   &rsvd[i / 2]),
				0);
	}
	ck_assert_int_eq(
		vfiosim_phys_alloc(w, 9, VFIOSIM_PAGE_RESERVED, &huge_r), 0);
	ck_assert_int_eq(vfiosim_phys_alloc(w, 9, 0, &huge_n), 0);
	ck_assert_int_eq(vfiosim_phys_add_mmio(w, 8192, 100), 0);
	/* A reserved 2 MiB page is one run; past the end of memory too. */
	ck_assert_uint_eq(vfiosim_pfn_reserved_run(w, huge_r, 4096, &r), 512);
	ck_assert(r);
	ck_assert_uint_eq(vfiosim_pfn_reserved_run(w, 16384, 1ull << 40, &r),
			  1ull << 40);
	ck_assert(r);
	ck_assert_uint_eq(vfiosim_pfn_reserved_run(w, 8192, 1000, &r), 100);
	ck_assert(r);
	for (int k = 0; k < 500; k++) {
		uint64_t pfn, max, n;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		pfn = (seed >> 33) % 16600;
		max = 1 + (seed >> 13) % 1500;
		n = vfiosim_pfn_reserved_run(w, pfn, max, &r);
		ck_assert_uint_ge(n, 1);
		ck_assert_uint_le(n, max);
		for (uint64_t i = 0; i < n; i++)
			ck_assert(vfiosim_pfn_invalid_or_reserved(w, pfn + i) ==
				  r);
		if (n < max)
			ck_assert(vfiosim_pfn_invalid_or_reserved(w, pfn + n) !=
				  r);
	}
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(vfiosim_page_put(w, normal[i]), 0);
	ck_assert_int_eq(vfiosim_page_put(w, huge_n), 0);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

static void leak_in_thread(struct vfiosim_world *w, void *arg)
{
	uint64_t *pfn = arg;

	vfiosim_phys_alloc(w, 0, 0, pfn);
}

START_TEST(leak_names_taker)
{
	struct vfiosim_config c;
	struct vfiosim_world *w;
	uint64_t pfn = 0;
	int rc;

	vfiosim_config_init(&c);
	c.mm.phys_size = 64ull << 20;
	c.verbose = true; /* the report goes to the test log */
	w = tu_run(&c, leak_in_thread, &pfn, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(query(w, pfn).refcount, 1);
	/* Exactly one LEAK, for the one page. */
	ck_assert_int_eq(destroy(w), 1);
}
END_TEST

static Suite *phys_suite(void)
{
	Suite *s = suite_create("mm-phys");
	TCase *tc = tcase_create("phys");

	tcase_add_test(tc, alloc_validation);
	tcase_add_test(tc, bad_config);
	tcase_add_test(tc, alloc_get_put_free);
	tcase_add_test(tc, emptied_chunk_backing_reused_zeroed);
	tcase_add_test(tc, compound_pages);
	tcase_add_test(tc, exhaustion_and_merge);
	tcase_add_test(tc, lazy_metadata);
	tcase_add_test(tc, mmio_ranges);
	tcase_add_test(tc, reserved_and_bug);
	tcase_add_test(tc, reserved_runs);
	tcase_add_test(tc, leak_names_taker);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(phys_suite)
