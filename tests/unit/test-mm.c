/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-mm.c - address spaces: mmap/munmap/mprotect, faults, pinning,
 * PFNMAP, locked_vm accounting, mm lifetime and exec, the host mm.
 *
 * Code that takes mmap_lock runs inside vfiosim_world_run(); set-up and
 * inspection run on the test thread while the world is not running (the mm
 * layer takes no lock then).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

#include "sim/sim_internal.h" /* w->init_task */

#define PAGE 4096ull
#define RW (VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE)
#define PRIV VFIOSIM_MAP_PRIVATE
#define FIXED (VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_FIXED)
#define LT VFIOSIM_FOLL_LONGTERM
#define LTW (VFIOSIM_FOLL_LONGTERM | VFIOSIM_FOLL_WRITE)

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

static struct vfiosim_world *mkworld(void)
{
	struct vfiosim_config c;

	vfiosim_config_init(&c);
	c.mm.phys_size = 4ull << 30;
	return tu_world(&c);
}

static struct vfiosim_page_info query(struct vfiosim_world *w, uint64_t pfn)
{
	struct vfiosim_page_info in;

	ck_assert_int_eq(vfiosim_page_query(w, pfn, &in), 0);
	return in;
}

static unsigned int nr_vmas(struct vfiosim_mm *mm)
{
	struct vfiosim_mm_stats st;

	ck_assert_int_eq(vfiosim_mm_stats(mm, &st), 0);
	return (unsigned int)st.nr_vmas;
}

/* ------------------------------------------------------------------ mmap */

START_TEST(mmap_errors)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	uint64_t a = 0, b;

	ck_assert_ptr_nonnull(mm);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0, 0, RW, PRIV, &a), EINVAL);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0, PAGE, 0x10, PRIV, &a), EINVAL);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0, PAGE, RW, 0, &a), EINVAL);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0, PAGE, RW,
					 PRIV | VFIOSIM_MAP_SHARED, &a),
			    EINVAL);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0, PAGE, RW, PRIV | 0x4, &a),
			    EINVAL);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0x100001, PAGE, RW, FIXED, &a),
			    EINVAL);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0, PAGE, RW, PRIV, NULL), EINVAL);
	ck_assert_neg_errno(vfiosim_mmap(mm, VFIOSIM_TASK_SIZE - PAGE, 2 * PAGE,
					 RW, FIXED, &a),
			    ENOMEM);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0, VFIOSIM_TASK_SIZE + PAGE, RW,
					 PRIV, &a),
			    ENOMEM);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0x1000, PAGE, RW, FIXED, &a),
			    EPERM);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0x200000 + PAGE, 2 << 20, RW,
					 FIXED | VFIOSIM_MAP_HUGETLB, &a),
			    EINVAL);
	ck_assert_neg_errno(
		vfiosim_mmap(mm, 0, 2 << 20, RW,
			     PRIV | VFIOSIM_MAP_HUGETLB |
				     (25u << VFIOSIM_MAP_HUGE_SHIFT),
			     &a),
		EINVAL);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0, PAGE, RW,
					 PRIV | VFIOSIM_MAP_HUGE_2MB, &a),
			    EINVAL);
	ck_assert_uint_eq(nr_vmas(mm), 0);
	/* Top-down placement below VFIOSIM_MMAP_BASE; lengths round up. */
	ck_assert_int_eq(vfiosim_mmap(mm, 0, 100, RW, PRIV, &a), 0);
	ck_assert_uint_eq(a, VFIOSIM_MMAP_BASE - PAGE);
	ck_assert_int_eq(vfiosim_mmap(mm, 0, 3 * PAGE, RW, PRIV, &b), 0);
	ck_assert_uint_eq(b, a - 3 * PAGE);
	/* A free hint is honoured; FIXED_NOREPLACE refuses to clobber. */
	ck_assert_int_eq(vfiosim_mmap(mm, 0x40000000, PAGE, RW, PRIV, &a), 0);
	ck_assert_uint_eq(a, 0x40000000);
	ck_assert_neg_errno(vfiosim_mmap(mm, 0x40000000, PAGE, RW,
					 PRIV | VFIOSIM_MAP_FIXED_NOREPLACE,
					 &a),
			    EEXIST);
	ck_assert_uint_eq(nr_vmas(mm), 3);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(munmap_mprotect_split)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	struct vfiosim_vma_info vi;
	const uint64_t base = 0x10000000;
	uint64_t a;

	ck_assert_int_eq(vfiosim_mmap(mm, base, 16 * PAGE, RW, FIXED, &a), 0);
	ck_assert_neg_errno(vfiosim_munmap(mm, base + 1, PAGE), EINVAL);
	ck_assert_neg_errno(vfiosim_munmap(mm, base, 0), EINVAL);
	ck_assert_neg_errno(
		vfiosim_munmap(mm, VFIOSIM_TASK_SIZE - PAGE, 2 * PAGE), EINVAL);
	ck_assert_int_eq(vfiosim_munmap(mm, 0x20000000, PAGE), 0); /* hole */
	ck_assert_int_eq(vfiosim_munmap(mm, base + 4 * PAGE, 2 * PAGE), 0);
	ck_assert_uint_eq(nr_vmas(mm), 2);
	ck_assert_int_eq(vfiosim_mm_find_vma(mm, base + 4 * PAGE, &vi), 0);
	ck_assert_uint_eq(vi.start, base + 6 * PAGE);
	ck_assert_uint_eq(vi.end, base + 16 * PAGE);
	/* mprotect over the hole: -ENOMEM and nothing changes. */
	ck_assert_neg_errno(vfiosim_mprotect(mm, base, 8 * PAGE,
					     VFIOSIM_PROT_READ),
			    ENOMEM);
	ck_assert_int_eq(vfiosim_mm_find_vma(mm, base, &vi), 0);
	ck_assert_uint_eq(vi.prot, RW);
	ck_assert_uint_eq(nr_vmas(mm), 2);
	ck_assert_neg_errno(vfiosim_mprotect(mm, base + 1, PAGE, RW), EINVAL);
	ck_assert_neg_errno(vfiosim_mprotect(mm, base, PAGE, 0x40), EINVAL);
	ck_assert_int_eq(vfiosim_mprotect(mm, base, 0, 0), 0);
	ck_assert_neg_errno(vfiosim_mprotect(mm, base, -PAGE, 0), ENOMEM);
	/* Split the upper VMA in three. */
	ck_assert_int_eq(vfiosim_mprotect(mm, base + 8 * PAGE, 2 * PAGE,
					  VFIOSIM_PROT_READ),
			 0);
	ck_assert_uint_eq(nr_vmas(mm), 4);
	ck_assert_int_eq(vfiosim_mm_find_vma(mm, base + 9 * PAGE, &vi), 0);
	ck_assert_uint_eq(vi.start, base + 8 * PAGE);
	ck_assert_uint_eq(vi.end, base + 10 * PAGE);
	ck_assert_uint_eq(vi.prot, VFIOSIM_PROT_READ);
	ck_assert_uint_eq(vi.kind, VFIOSIM_VMA_ANON);
	ck_assert_neg_errno(vfiosim_mm_find_vma(mm, base + 16 * PAGE, &vi),
			    ENOENT);
	/* MAP_FIXED replaces what was there. */
	ck_assert_int_eq(vfiosim_mmap(mm, base, 16 * PAGE, VFIOSIM_PROT_READ,
				      VFIOSIM_MAP_SHARED | VFIOSIM_MAP_FIXED,
				      &a),
			 0);
	ck_assert_uint_eq(nr_vmas(mm), 1);
	ck_assert_int_eq(vfiosim_mm_find_vma(mm, base, &vi), 0);
	ck_assert_uint_eq(vi.kind, VFIOSIM_VMA_SHARED);
	ck_assert_uint_eq(vi.end, base + 16 * PAGE);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(hugetlb_vmas)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	struct vfiosim_page_info in;
	uint64_t a, pfn, pfns[600];
	const uint64_t huge = 2ull << 20;

	ck_assert_int_eq(vfiosim_mmap(mm, 0, 3 * huge - 5, RW,
				      PRIV | VFIOSIM_MAP_HUGETLB |
					      VFIOSIM_MAP_HUGE_2MB,
				      &a),
			 0);
	ck_assert_uint_eq(a % huge, 0);
	/* Cutting a huge page is refused. */
	ck_assert_neg_errno(vfiosim_munmap(mm, a + PAGE, PAGE), EINVAL);
	ck_assert_neg_errno(vfiosim_mprotect(mm, a, PAGE, VFIOSIM_PROT_READ),
			    EINVAL);
	/* A pin across two huge pages charges both heads. */
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, a + huge - 44 * PAGE, 300,
						LTW, pfns),
			 300);
	in = query(w, pfns[0]);
	ck_assert_uint_eq(in.order, 9);
	ck_assert_uint_eq(in.pincount, 44);
	ck_assert_uint_eq(in.refcount, 45);
	ck_assert_uint_eq(pfns[1], pfns[0] + 1);
	in = query(w, pfns[299]);
	ck_assert_uint_eq(in.pincount, 256);
	ck_assert_uint_eq(in.head_pfn, pfns[44]);
	ck_assert_int_eq(vfiosim_mm_lookup_pfn(mm, a + huge + 7 * PAGE, &pfn),
			 0);
	ck_assert_uint_eq(pfn, pfns[44] + 7);
	/* Unmapping whole huge pages drops the mapping's references only. */
	ck_assert_int_eq(vfiosim_munmap(mm, a, 3 * huge), 0);
	ck_assert_uint_eq(query(w, pfns[0]).refcount, 44);
	ck_assert_int_eq(vfiosim_unpin_user_page_range_dirty_lock(w, pfns[0],
								  44, true),
			 0);
	ck_assert_uint_eq(query(w, pfns[0]).refcount, 0);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns + 44, 256), 0);
	ck_assert_uint_eq(query(w, pfns[44]).refcount, 0);
	/* 1 GiB pages, metadata only: one order-18 page per fault. */
	ck_assert_int_eq(vfiosim_mmap(mm, 0, 2ull << 30, RW,
				      PRIV | VFIOSIM_MAP_HUGETLB |
					      VFIOSIM_MAP_HUGE_1GB |
					      VFIOSIM_MAP_UNBACKED,
				      &a),
			 0);
	ck_assert_uint_eq(a % (1ull << 30), 0);
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, a + (1ull << 30) - PAGE, 3,
						LT, pfns),
			 3);
	in = query(w, pfns[2]);
	ck_assert_uint_eq(in.order, 18);
	ck_assert_uint_eq(in.pincount, 2);
	ck_assert_uint_eq(in.head_pfn, pfns[1]);
	ck_assert_uint_eq(query(w, pfns[0]).pincount, 1);
	ck_assert_ptr_null(vfiosim_page_bytes(w, pfns[0]));
	ck_assert_neg_errno(vfiosim_munmap(mm, a, 2ull << 20), EINVAL);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns, 3), 0);
	ck_assert_int_eq(vfiosim_munmap(mm, a, 2ull << 30), 0);
	ck_assert_uint_eq(query(w, pfns[1]).refcount, 0);
	/* Emptied page tables are freed; only the top level stays. */
	{
		struct vfiosim_phys_stats st;

		ck_assert_int_eq(vfiosim_phys_stats(w, &st), 0);
		ck_assert_uint_eq(st.table_bytes, PAGE);
	}
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

/* ---------------------------------------------------------------- faults */

START_TEST(faults_zero_page_cow)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	struct vfiosim_page_info in;
	uint64_t a, z, p;
	char buf[16] = "xxxxxxxxxxxxxxx";

	ck_assert_int_eq(vfiosim_mmap(mm, 0, 4 * PAGE, RW, PRIV, &a), 0);
	ck_assert_neg_errno(vfiosim_mm_lookup_pfn(mm, a, &z), ENOENT);
	ck_assert_neg_errno(vfiosim_mm_lookup_pfn(mm, a - PAGE, &z), EFAULT);
	/* A load maps the zero page. */
	ck_assert_int_eq(vfiosim_mm_read(mm, a + 10, buf, 8), 8);
	ck_assert_int_eq(buf[0] | buf[7], 0);
	ck_assert_int_eq(vfiosim_mm_lookup_pfn(mm, a, &z), 0);
	in = query(w, z);
	ck_assert(in.flags & VFIOSIM_PAGE_ZERO);
	ck_assert(in.flags & VFIOSIM_PAGE_RESERVED);
	ck_assert(vfiosim_pfn_invalid_or_reserved(w, z));
	/* A store replaces it by a page of its own (COW). */
	ck_assert_int_eq(vfiosim_mm_write(mm, a + PAGE - 3, "hello", 6), 6);
	ck_assert_int_eq(vfiosim_mm_lookup_pfn(mm, a, &p), 0);
	ck_assert_uint_ne(p, z);
	in = query(w, p);
	ck_assert(in.flags & VFIOSIM_PAGE_DIRTY);
	ck_assert_uint_eq(in.refcount, 1);
	ck_assert_int_eq(memcmp((char *)vfiosim_page_bytes(w, p) + PAGE - 3,
				"hel", 3),
			 0);
	ck_assert_int_eq(vfiosim_mm_read(mm, a + PAGE - 3, buf, 6), 6);
	ck_assert_str_eq(buf, "hello");
	/* Errors: unmapped, read-only, PROT_NONE, unbacked, PFNMAP. */
	ck_assert_neg_errno(vfiosim_mm_write(mm, a + 4 * PAGE - 2, "abcd", 4),
			    EFAULT);
	ck_assert_int_eq(
		vfiosim_mprotect(mm, a + 2 * PAGE, PAGE, VFIOSIM_PROT_READ), 0);
	ck_assert_neg_errno(vfiosim_mm_write(mm, a + 2 * PAGE, "a", 1), EFAULT);
	ck_assert_int_eq(vfiosim_mprotect(mm, a + 3 * PAGE, PAGE, 0), 0);
	ck_assert_neg_errno(vfiosim_mm_read(mm, a + 3 * PAGE, buf, 1), EFAULT);
	ck_assert_int_eq(vfiosim_mmap(mm, 0, PAGE, RW,
				      PRIV | VFIOSIM_MAP_UNBACKED, &a),
			 0);
	ck_assert_neg_errno(vfiosim_mm_write(mm, a, "a", 1), EFAULT);
	ck_assert_int_eq(vfiosim_mmap_pfn(mm, 0, PAGE, RW, 0, 1ull << 40, &a),
			 0);
	ck_assert_neg_errno(vfiosim_mm_read(mm, a, buf, 1), EFAULT);
	ck_assert_neg_errno(vfiosim_mm_read(mm, a, NULL, 1), EINVAL);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(populate_shared)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	struct vfiosim_mm_stats st;
	uint64_t a, p;

	ck_assert_int_eq(vfiosim_mmap(mm, 0, 8 * PAGE, RW,
				      PRIV | VFIOSIM_MAP_POPULATE, &a),
			 0);
	ck_assert_int_eq(vfiosim_mm_stats(mm, &st), 0);
	ck_assert_uint_eq(st.nr_pages, 8);
	ck_assert_int_eq(vfiosim_mm_lookup_pfn(mm, a, &p), 0);
	ck_assert(!(query(w, p).flags & VFIOSIM_PAGE_ZERO));
	/* Shared anonymous memory never maps the zero page. */
	ck_assert_int_eq(vfiosim_mmap(mm, 0, PAGE, VFIOSIM_PROT_READ,
				      VFIOSIM_MAP_SHARED, &a),
			 0);
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, a, 1, 0, &p), 1);
	ck_assert(!(query(w, p).flags & VFIOSIM_PAGE_ZERO));
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, &p, 1), 0);
	ck_assert_int_eq(vfiosim_mm_stats(mm, &st), 0);
	ck_assert_uint_eq(st.nr_pages, 9);
	ck_assert_uint_eq(st.nr_vmas, 2);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

/* --------------------------------------------------------------- pinning */

/*
 * vfiosim_unpin_user_page_range_dirty_lock() along a run of 1024
 * consecutive frames: blocks of pages released at once, a block that meets
 * a frame with no pin redone page by page (the frame is reported, the
 * others released), and a frame whose last reference is the pin freed.
 */
START_TEST(range_unpin_runs)
{
	enum { N = 1024 };
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	static uint64_t pfns[N], again[N];
	struct vfiosim_page_info in;
	uint64_t a;
	int f;

	ck_assert_int_eq(vfiosim_mmap(mm, 0, N * PAGE, RW,
				      PRIV | VFIOSIM_MAP_POPULATE, &a),
			 0);
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, a, N, LTW, pfns), N);
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, a, N, LTW, again), N);
	for (unsigned int i = 0; i < N; i++)
		ck_assert_uint_eq(pfns[i], pfns[0] + i); /* one run */
	/* Frame 300 loses both pins: the second range unpin meets it. */
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns + 300, 1), 0);
	ck_assert_int_eq(vfiosim_unpin_user_page_range_dirty_lock(w, pfns[0], N,
								  false),
			 0);
	ck_assert_uint_eq(query(w, pfns[300]).pincount, 0);
	ck_assert_uint_eq(vfiosim_world_failure_count(w), 0);
	ck_assert_neg_errno(vfiosim_unpin_user_page_range_dirty_lock(w, pfns[0],
								     N, true),
			    EINVAL);
	f = tu_find_failure(w, VFIOSIM_FAIL_WARN);
	ck_assert_int_ge(f, 0);
	ck_assert(tu_contains(vfiosim_world_failure(w, (size_t)f)->report,
			      "1 frame(s) not pinned"));
	for (unsigned int i = 0; i < N; i++) {
		in = query(w, pfns[i]);
		ck_assert_uint_eq(in.pincount, 0);
		ck_assert_uint_eq(in.refcount, 1); /* the mapping's */
	}
	/* Pinned, then unmapped: the pin holds the last reference, and the
	 * range unpin frees the frames. */
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, a, 16, LTW, again), 16);
	ck_assert_int_eq(vfiosim_munmap(mm, a, N * PAGE), 0);
	ck_assert_uint_eq(query(w, again[0]).refcount, 1);
	ck_assert_int_eq(vfiosim_unpin_user_page_range_dirty_lock(w, again[0],
								  16, false),
			 0);
	ck_assert_uint_eq(query(w, again[0]).refcount, 0);
	ck_assert_uint_eq(query(w, again[15]).refcount, 0);
	ck_assert_int_eq(destroy(w), 1); /* the WARN above */
}
END_TEST

START_TEST(pin_semantics)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	struct vfiosim_page_info in;
	const uint64_t base = 0x10000000;
	uint64_t a, pfns[16], q;

	ck_assert_int_eq(vfiosim_mmap(mm, base, 8 * PAGE, RW, FIXED, &a), 0);
	ck_assert_int_eq(vfiosim_mmap(mm, base + 8 * PAGE, 4 * PAGE,
				      VFIOSIM_PROT_READ, FIXED, &a),
			 0);
	ck_assert_neg_errno(vfiosim_pin_user_pages(mm, base, 1, 0x4, pfns),
			    EINVAL);
	ck_assert_neg_errno(vfiosim_pin_user_pages(mm, base, 1, LT, NULL),
			    EINVAL);
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, base, 0, LT, NULL), 0);
	ck_assert_neg_errno(
		vfiosim_pin_user_pages(mm, base - PAGE, 4, LTW, pfns), EFAULT);
	ck_assert_neg_errno(vfiosim_pin_user_pages(mm, base + 8 * PAGE, 1, LTW,
						   pfns),
			    EFAULT);
	ck_assert_neg_errno(vfiosim_pin_user_pages(mm, base, 1,
						   LTW | VFIOSIM_FOLL_NOFAULT,
						   pfns),
			    EFAULT);
	/* Crossing into the read-only VMA with FOLL_WRITE: short count. */
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, base + 5 * PAGE + 123, 6,
						LTW, pfns),
			 3);
	in = query(w, pfns[0]);
	ck_assert_uint_eq(in.refcount, 2);
	ck_assert_uint_eq(in.pincount, 1);
	/* Without FOLL_WRITE the pin crosses into it (zero page there). */
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, base + 7 * PAGE, 3, LT,
						pfns + 3),
			 3);
	ck_assert_uint_eq(pfns[3], pfns[2]);
	ck_assert(query(w, pfns[4]).flags & VFIOSIM_PAGE_ZERO);
	ck_assert_uint_eq(pfns[4], pfns[5]);
	/* ...and stops at the end of the mapping. */
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, base + 10 * PAGE, 4, LT,
						pfns + 6),
			 2);
	/* FOLL_FORCE writes a read-only private mapping (COW). */
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, base + 11 * PAGE, 1,
						LTW | VFIOSIM_FOLL_FORCE,
						pfns + 8),
			 1);
	ck_assert(!(query(w, pfns[8]).flags & VFIOSIM_PAGE_ZERO));
	ck_assert_uint_eq(query(w, pfns[8]).pincount, 1);
	/* PROT_NONE: refused, unless FOLL_FORCE (VM_MAYREAD). */
	ck_assert_int_eq(vfiosim_mmap(mm, 0, PAGE, VFIOSIM_PROT_NONE, PRIV, &q),
			 0);
	ck_assert_neg_errno(vfiosim_pin_user_pages(mm, q, 1, LT, pfns + 9),
			    EFAULT);
	ck_assert_int_eq(vfiosim_pin_user_pages(
				 mm, q, 1, LT | VFIOSIM_FOLL_FORCE, pfns + 9),
			 1);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns + 9, 1), 0);
	/* munmap while pinned: the pages stay allocated. */
	ck_assert_int_eq(vfiosim_munmap(mm, base, 12 * PAGE), 0);
	in = query(w, pfns[0]);
	ck_assert_uint_eq(in.refcount, 1);
	ck_assert_uint_eq(in.pincount, 1);
	ck_assert_neg_errno(vfiosim_mm_lookup_pfn(mm, base, &q), EFAULT);
	ck_assert_int_eq(vfiosim_unpin_user_pages_dirty_lock(w, pfns, 9, true),
			 0);
	ck_assert_uint_eq(query(w, pfns[0]).refcount, 0);
	ck_assert_uint_eq(query(w, pfns[8]).refcount, 0);
	/* The zero page is back at its baseline. */
	in = query(w, pfns[4]);
	ck_assert_uint_eq(in.refcount, 1);
	ck_assert_uint_eq(in.pincount, 0);
	/* Unpinning what is not pinned: WARN, -EINVAL. */
	ck_assert_neg_errno(vfiosim_unpin_user_pages(w, pfns, 1), EINVAL);
	ck_assert_int_eq(tu_find_failure(w, VFIOSIM_FAIL_WARN), 0);
	ck_assert_neg_errno(vfiosim_unpin_user_pages(w, NULL, 1), EINVAL);
	ck_assert_int_eq(destroy(w), 1);
}
END_TEST

START_TEST(pin_with_fatal_signal)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_task *t = vfiosim_task_create(w, "dying");
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	uint64_t a, pfns[4];

	/* Outside threads "current" is the init task. */
	ck_assert_int_eq(vfiosim_mmap(mm, 0, 4 * PAGE, RW, PRIV, &a), 0);
	ck_assert_int_eq(vfiosim_mm_write(mm, a, "x", 1), 1);
	ck_assert(!vfiosim_fatal_signal_pending(t));
	ck_assert_int_eq(vfiosim_task_kill(t), 0);
	ck_assert_neg_errno(vfiosim_task_kill(NULL), EINVAL);
	ck_assert(vfiosim_fatal_signal_pending(t));
	ck_assert_int_eq(vfiosim_task_kill(w->init_task), 0);
	/* Present pages still pin; faulting in stops with -EINTR. */
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, a, 4, LTW, pfns), 1);
	ck_assert_neg_errno(
		vfiosim_pin_user_pages(mm, a + PAGE, 3, LTW, pfns + 1), EINTR);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns, 1), 0);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(pinned_zero_page_leaks)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	uint64_t a, pfn;

	/* A read-only long-term pin of untouched memory pins the zero page
	 * (6.1); a caller that treats it as reserved and never unpins it
	 * leaks the pin -- the world reports it. */
	ck_assert_int_eq(vfiosim_mmap(mm, 0, PAGE, RW, PRIV, &a), 0);
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, a, 1, LT, &pfn), 1);
	ck_assert(vfiosim_pfn_invalid_or_reserved(w, pfn));
	ck_assert_uint_eq(query(w, pfn).pincount, 1);
	ck_assert_int_eq(destroy(w), 1);
}
END_TEST

START_TEST(put_page_under_pin_is_bug)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	uint64_t a, pfn;

	ck_assert_int_eq(vfiosim_mmap(mm, 0, PAGE, RW, PRIV, &a), 0);
	ck_assert_int_eq(vfiosim_pin_user_pages(mm, a, 1, LTW, &pfn), 1);
	ck_assert_int_eq(vfiosim_munmap(mm, a, PAGE), 0);
	ck_assert_int_eq(vfiosim_page_put(w, pfn), 0);
	ck_assert_int_eq(tu_find_failure(w, VFIOSIM_FAIL_BUG), 0);
	ck_assert_uint_eq(query(w, pfn).refcount, 1);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, &pfn, 1), 0);
	ck_assert_int_eq(destroy(w), 1);
}
END_TEST

START_TEST(pfnmap_follow)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	const uint64_t bar = 1ull << 30; /* past the end of memory */
	struct vfiosim_vma_info vi;
	uint64_t a, b, pfn, run;

	ck_assert_neg_errno(vfiosim_mmap_pfn(mm, 0, PAGE, RW, PRIV, bar, &a),
			    EINVAL);
	ck_assert_neg_errno(vfiosim_mmap_pfn(mm, 0, 4 * PAGE, RW, 0,
					     UINT64_MAX - 1, &a),
			    EINVAL);
	ck_assert_int_eq(vfiosim_mmap_pfn(mm, 0x40000000, 4 << 20,
					  VFIOSIM_PROT_READ,
					  VFIOSIM_MAP_HUGE_2MB, bar, &a),
			 0);
	ck_assert_uint_eq(a, 0x40000000);
	ck_assert_int_eq(vfiosim_mm_find_vma(mm, a, &vi), 0);
	ck_assert_uint_eq(vi.kind, VFIOSIM_VMA_PFNMAP);
	ck_assert_uint_eq(vi.order, 9);
	/* GUP refuses VM_PFNMAP... */
	ck_assert_neg_errno(vfiosim_pin_user_pages(mm, a, 1, LT, &pfn), EFAULT);
	/* ...follow_pfn resolves it, with the mapping-level run. */
	ck_assert_int_eq(
		vfiosim_mm_follow_pfn(mm, a + 5 * PAGE, false, &pfn, &run), 0);
	ck_assert_uint_eq(pfn, bar + 5);
	ck_assert_uint_eq(run, 512 - 5);
	ck_assert(vfiosim_pfn_invalid_or_reserved(w, pfn));
	ck_assert_neg_errno(vfiosim_mm_follow_pfn(mm, a, true, &pfn, &run),
			    EFAULT);
	ck_assert_neg_errno(
		vfiosim_mm_follow_pfn(mm, a - PAGE, false, &pfn, NULL), EFAULT);
	/* A split keeps the pfn arithmetic right. */
	ck_assert_int_eq(vfiosim_munmap(mm, a, 2 << 20), 0);
	ck_assert_int_eq(
		vfiosim_mm_follow_pfn(mm, a + (2 << 20), false, &pfn, &run), 0);
	ck_assert_uint_eq(pfn, bar + 512);
	ck_assert_uint_eq(run, 512);
	ck_assert_int_eq(vfiosim_mm_lookup_pfn(mm, a + (2 << 20) + PAGE, &pfn),
			 0);
	ck_assert_uint_eq(pfn, bar + 513);
	/* 4K-level mapping: runs of one; not PFNMAP: -EINVAL. */
	ck_assert_int_eq(vfiosim_mmap_pfn(mm, 0, 2 * PAGE, RW, 0, bar, &b), 0);
	ck_assert_int_eq(vfiosim_mm_follow_pfn(mm, b, true, &pfn, &run), 0);
	ck_assert_uint_eq(run, 1);
	ck_assert_int_eq(vfiosim_mmap(mm, 0, PAGE, RW, PRIV, &b), 0);
	ck_assert_neg_errno(vfiosim_mm_follow_pfn(mm, b, false, &pfn, &run),
			    EINVAL);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

/* ------------------------------------------------------------ locked_vm */

START_TEST(locked_vm_limit_and_cap)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_task *t = vfiosim_task_create(w, "qemu");
	struct vfiosim_mm *mm = vfiosim_task_mm(t);

	ck_assert_ptr_nonnull(mm);
	ck_assert_uint_eq(vfiosim_task_rlimit(t, VFIOSIM_RLIMIT_MEMLOCK),
			  8ull << 20);
	ck_assert(!vfiosim_task_capable(t, VFIOSIM_CAP_IPC_LOCK));
	ck_assert_neg_errno(vfiosim_task_set_rlimit(t, 3, 0), EINVAL);
	ck_assert_neg_errno(vfiosim_task_set_cap(t, 1, true), EINVAL);
	ck_assert_neg_errno(vfiosim_account_locked_vm_locked(mm, 1, true, NULL,
							     false),
			    EINVAL);
	/* 8 MiB = 2048 pages. */
	ck_assert_int_eq(
		vfiosim_account_locked_vm_locked(mm, 2000, true, t, false), 0);
	ck_assert_neg_errno(vfiosim_account_locked_vm_locked(mm, 49, true, t,
							     false),
			    ENOMEM);
	ck_assert_uint_eq(vfiosim_mm_locked_vm(mm), 2000);
	ck_assert_int_eq(
		vfiosim_account_locked_vm_locked(mm, 48, true, t, false), 0);
	/* The capability bypasses the limit. */
	ck_assert_int_eq(
		vfiosim_account_locked_vm_locked(mm, 1000, true, t, true), 0);
	ck_assert_uint_eq(vfiosim_mm_locked_vm(mm), 3048);
	ck_assert_int_eq(vfiosim_task_set_rlimit(t, VFIOSIM_RLIMIT_MEMLOCK,
						 VFIOSIM_RLIM_INFINITY),
			 0);
	ck_assert_int_eq(vfiosim_account_locked_vm_locked(mm, 1ul << 40, true,
							  t, false),
			 0);
	ck_assert_int_eq(vfiosim_account_locked_vm_locked(mm, 1ul << 40, false,
							  t, false),
			 0);
	ck_assert_int_eq(
		vfiosim_account_locked_vm_locked(mm, 3000, false, t, false), 0);
	ck_assert_uint_eq(vfiosim_mm_locked_vm(mm), 48);
	ck_assert_uint_eq(vfiosim_world_failure_count(w), 0);
	/* A refund below zero: INVARIANT, clamped at zero. */
	ck_assert_int_eq(
		vfiosim_account_locked_vm_locked(mm, 49, false, t, false), 0);
	ck_assert_uint_eq(vfiosim_mm_locked_vm(mm), 0);
	ck_assert_int_eq(tu_find_failure(w, VFIOSIM_FAIL_INVARIANT), 0);
	ck_assert_int_eq(vfiosim_account_locked_vm(NULL, 5, true), 0);
	ck_assert_int_eq(vfiosim_account_locked_vm(mm, 0, true), 0);
	ck_assert_int_eq(destroy(w), 1);
}
END_TEST

struct acct_ctx {
	struct vfiosim_world *w;
	struct vfiosim_task *user, *root;
	int rc_user_over, rc_user_ok, rc_root, rc_killed;
	uint64_t locked_user, locked_root;
};

static void acct_user(void *arg)
{
	struct acct_ctx *c = arg;
	struct vfiosim_mm *mm = vfiosim_current_mm(c->w);

	c->rc_user_ok = vfiosim_account_locked_vm(mm, 16, true);
	c->rc_user_over = vfiosim_account_locked_vm(mm, 1, true);
	c->locked_user = vfiosim_mm_locked_vm(mm);
	vfiosim_account_locked_vm(mm, 16, false);
}

static void acct_root(void *arg)
{
	struct acct_ctx *c = arg;
	struct vfiosim_mm *mm = vfiosim_current_mm(c->w);

	c->rc_root = vfiosim_account_locked_vm(mm, 1000, true);
	c->locked_root = vfiosim_mm_locked_vm(mm);
	vfiosim_account_locked_vm(mm, 1000, false);
	vfiosim_task_kill(c->root);
	c->rc_killed = vfiosim_mmap_write_lock_killable(mm);
}

static void acct_main(struct vfiosim_world *w, void *arg)
{
	struct acct_ctx *c = arg;
	struct vfiosim_thread *a, *b;

	a = vfiosim_thread_create_task(w, "user", c->user, acct_user, c);
	b = vfiosim_thread_create_task(w, "root", c->root, acct_root, c);
	vfiosim_thread_join(a);
	vfiosim_thread_join(b);
}

START_TEST(account_locked_vm_current_task)
{
	struct vfiosim_world *w = mkworld();
	struct acct_ctx c = { 0 };
	int rc;

	c.w = w;
	c.user = vfiosim_task_create(w, "user");
	c.root = vfiosim_task_create(w, "root");
	ck_assert_int_eq(vfiosim_task_set_rlimit(c.user, VFIOSIM_RLIMIT_MEMLOCK,
						 16 * PAGE),
			 0);
	ck_assert_int_eq(
		vfiosim_task_set_rlimit(c.root, VFIOSIM_RLIMIT_MEMLOCK, 0), 0);
	ck_assert_int_eq(
		vfiosim_task_set_cap(c.root, VFIOSIM_CAP_IPC_LOCK, true), 0);
	ck_assert(vfiosim_task_capable(c.root, VFIOSIM_CAP_IPC_LOCK));
	rc = vfiosim_world_run(w, acct_main, &c);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(c.rc_user_ok, 0);
	ck_assert_int_eq(c.rc_user_over, -ENOMEM);
	ck_assert_uint_eq(c.locked_user, 16);
	ck_assert_int_eq(c.rc_root, 0);
	ck_assert_uint_eq(c.locked_root, 1000);
	/* Uncontended: the killable lock's fast path still succeeds. */
	ck_assert_int_eq(c.rc_killed, 0);
	ck_assert(vfiosim_fatal_signal_pending(c.root));
	ck_assert_uint_eq(vfiosim_mm_locked_vm(vfiosim_task_mm(c.user)), 0);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

/* ------------------------------------------------- mmap_lock discipline */

struct lock_ctx {
	struct vfiosim_mm *mm;
	uint64_t addr;
	long unlocked_rc, locked_rc;
	uint64_t pfns[4];
};

static void lock_main(struct vfiosim_world *w, void *arg)
{
	struct lock_ctx *c = arg;

	(void)w;
	/* Without mmap_lock: a WARN. */
	c->unlocked_rc =
		vfiosim_pin_user_pages(c->mm, c->addr, 2, LTW, c->pfns);
	vfiosim_unpin_user_pages(w, c->pfns, 2);
	vfiosim_down_read(vfiosim_mm_mmap_lock(c->mm));
	c->locked_rc = vfiosim_pin_user_pages(c->mm, c->addr, 2, LTW, c->pfns);
	vfiosim_up_read(vfiosim_mm_mmap_lock(c->mm));
	vfiosim_unpin_user_pages(w, c->pfns, 2);
	vfiosim_pin_user_pages_unlocked(c->mm, c->addr, 2, LTW, c->pfns);
	vfiosim_unpin_user_pages(w, c->pfns, 2);
}

START_TEST(mmap_lock_asserted)
{
	struct vfiosim_world *w = mkworld();
	struct lock_ctx c = { 0 };
	int rc;

	c.mm = vfiosim_current_mm(w);
	ck_assert_int_eq(vfiosim_mmap(c.mm, 0, 2 * PAGE, RW, PRIV, &c.addr), 0);
	rc = vfiosim_world_run(w, lock_main, &c);
	ck_assert_int_eq(rc, 1);
	ck_assert_int_eq(c.unlocked_rc, 2);
	ck_assert_int_eq(c.locked_rc, 2);
	ck_assert_int_eq(vfiosim_world_failure(w, 0)->kind, VFIOSIM_FAIL_WARN);
	ck_assert(
		tu_contains(vfiosim_world_failure(w, 0)->message, "mmap_lock"));
	ck_assert_int_eq(destroy(w), 1);
}
END_TEST

struct order_ctx {
	struct vfiosim_world *w;
	struct vfiosim_mm *mm;
	struct vfiosim_mutex *lock; /* plays iommu->lock */
	struct vfiosim_task *victim;
	int killed_rc;
};

static void order_ab(void *arg)
{
	struct order_ctx *c = arg;

	/* type1's order: iommu->lock, then mmap_lock (vfio_lock_acct). */
	vfiosim_mutex_lock(c->lock);
	vfiosim_account_locked_vm(c->mm, 1, true);
	vfiosim_account_locked_vm(c->mm, 1, false);
	vfiosim_mutex_unlock(c->lock);
}

static void order_ba(void *arg)
{
	struct order_ctx *c = arg;

	/* The reverse: a fault handler taking iommu->lock under mmap_lock. */
	vfiosim_mmap_read_lock(c->mm);
	vfiosim_mutex_lock(c->lock);
	vfiosim_mutex_unlock(c->lock);
	vfiosim_mmap_read_unlock(c->mm);
}

static void order_main(struct vfiosim_world *w, void *arg)
{
	struct order_ctx *c = arg;
	struct vfiosim_thread *a, *b;

	a = vfiosim_thread_create(w, "ab", order_ab, c);
	vfiosim_thread_join(a);
	b = vfiosim_thread_create(w, "ba", order_ba, c);
	vfiosim_thread_join(b);
}

START_TEST(lockdep_sees_mmap_lock)
{
	struct vfiosim_world *w = mkworld();
	struct order_ctx c = { 0 };
	const struct vfiosim_failure *f;
	int i;

	c.w = w;
	c.mm = vfiosim_current_mm(w);
	c.lock = vfiosim_mutex_new(w, "iommu->lock");
	ck_assert_int_ge(vfiosim_world_run(w, order_main, &c), 1);
	i = tu_find_failure(w, VFIOSIM_FAIL_LOCK_ORDER);
	ck_assert_int_ge(i, 0);
	f = vfiosim_world_failure(w, (size_t)i);
	ck_assert(tu_contains(f->report, "mm->mmap_lock"));
	ck_assert(tu_contains(f->report, "iommu->lock"));
	tu_destroy(w);
}
END_TEST

static void killer_victim(void *arg)
{
	struct order_ctx *c = arg;

	c->killed_rc = vfiosim_mmap_write_lock_killable(c->mm);
	if (!c->killed_rc)
		vfiosim_mmap_write_unlock(c->mm);
}

static void killer_main(struct vfiosim_world *w, void *arg)
{
	struct order_ctx *c = arg;
	struct vfiosim_thread *t;

	vfiosim_mmap_write_lock(c->mm);
	vfiosim_task_kill(c->victim);
	t = vfiosim_thread_create_task(w, "victim", c->victim, killer_victim,
				       c);
	/* Join while holding the lock: the victim must give up (a live
	 * victim would block here and the run would deadlock). */
	vfiosim_thread_join(t);
	vfiosim_mmap_write_unlock(c->mm);
}

START_TEST(killable_lock_eintr)
{
	struct vfiosim_world *w = mkworld();
	struct order_ctx c = { 0 };

	c.w = w;
	c.mm = vfiosim_current_mm(w);
	c.victim = vfiosim_task_create(w, "victim");
	c.killed_rc = 1;
	ck_assert_int_eq(vfiosim_world_run(w, killer_main, &c), 0);
	/* Contended and a fatal signal pending: -EINTR (vfio_lock_acct). */
	ck_assert_int_eq(c.killed_rc, -EINTR);
	ck_assert_int_eq(vfiosim_world_destroy(w), 0);
}
END_TEST

/* --------------------------------------------------------- lifetime, exec */

START_TEST(exec_with_pinned_old_mm)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_task *t = vfiosim_task_create(w, "qemu");
	struct vfiosim_mm *old = vfiosim_task_mm(t), *held, *neu;
	struct vfiosim_page_info in;
	uint64_t a, pfns[4];

	ck_assert_int_eq(vfiosim_mmap(old, 0, 4 * PAGE, RW, PRIV, &a), 0);
	ck_assert_int_eq(vfiosim_mm_write(old, a, "data", 5), 5);
	ck_assert_int_eq(vfiosim_pin_user_pages(old, a, 4, LTW, pfns), 4);
	ck_assert_int_eq(
		vfiosim_account_locked_vm_locked(old, 4, true, t, false), 0);
	/* type1 <= 6.1 keeps the task and uses get_task_mm() later; 6.2+
	 * keeps the mm itself.  Either way the old mm lives on. */
	held = vfiosim_get_task_mm(t);
	vfiosim_mmgrab(old); /* keep the struct to look at it afterwards */
	ck_assert_ptr_eq(held, old);
	ck_assert_uint_eq(vfiosim_mm_users(old), 2);
	ck_assert_int_eq(vfiosim_task_exec(t), 0);
	neu = vfiosim_task_mm(t);
	ck_assert_ptr_ne(neu, old);
	ck_assert_uint_gt(vfiosim_mm_id(neu), vfiosim_mm_id(old));
	ck_assert_uint_eq(vfiosim_mm_users(old), 1);
	ck_assert_uint_eq(vfiosim_mm_locked_vm(neu), 0);
	ck_assert_uint_eq(vfiosim_mm_locked_vm(old), 4);
	/* The new mm has nothing at the old address. */
	ck_assert_neg_errno(vfiosim_pin_user_pages(neu, a, 1, LTW, pfns),
			    EFAULT);
	ck_assert_str_eq(vfiosim_page_bytes(w, pfns[0]), "data");
	/* The old mm is still intact for the holder. */
	ck_assert_int_eq(vfiosim_mm_lookup_pfn(old, a, &a), 0);
	ck_assert_int_eq(
		vfiosim_account_locked_vm_locked(old, 4, false, t, false), 0);
	vfiosim_mmput(held);
	ck_assert_uint_eq(vfiosim_mm_users(old), 0);
	ck_assert(!vfiosim_mmget_not_zero(old));
	vfiosim_mmdrop(old);
	/* The pins outlive the mm. */
	in = query(w, pfns[0]);
	ck_assert_uint_eq(in.refcount, 1);
	ck_assert_uint_eq(in.pincount, 1);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns, 4), 0);
	ck_assert_uint_eq(query(w, pfns[0]).refcount, 0);
	/* exit_mm: once. */
	ck_assert_int_eq(vfiosim_task_exit_mm(t), 0);
	ck_assert_ptr_null(vfiosim_task_mm(t));
	ck_assert_ptr_null(vfiosim_get_task_mm(t));
	ck_assert_neg_errno(vfiosim_task_exit_mm(t), ESRCH);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(mm_reference_leaks)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *mm, *grabbed;

	ck_assert_int_eq(vfiosim_mm_create(w, &mm), 0);
	vfiosim_mmget(mm);
	vfiosim_mmput(mm);
	ck_assert_uint_eq(vfiosim_mm_users(mm), 1);
	/* Leaked: one user reference. */
	ck_assert_int_eq(vfiosim_mm_create(w, &grabbed), 0);
	vfiosim_mmgrab(grabbed);
	vfiosim_mmput(grabbed);
	ck_assert(!vfiosim_mmget_not_zero(grabbed));
	ck_assert_neg_errno(vfiosim_munmap(grabbed, 0x10000, PAGE), EINVAL);
	ck_assert_neg_errno(vfiosim_mm_create(NULL, &mm), EINVAL);
	/* Leaked: mm_count.  Two LEAK reports. */
	ck_assert_int_eq(destroy(w), 2);
}
END_TEST

/* --------------------------------------------------------------- host mm */

/*
 * The program unmaps real pages the model still holds (pinned): the
 * pinned frame keeps a copy of its page, as the kernel keeps the page
 * alive, and a new mapping at the same address gets new frames; the
 * unpinned page's frame goes with the mapping.
 */
START_TEST(host_mm_munmap_keeps_pinned_page)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *h;
	struct vfiosim_phys_stats st;
	struct vfiosim_page_info in;
	uint64_t pfns[2], fresh;
	char *buf, *kept;

	if (sysconf(_SC_PAGESIZE) != 4096) {
		fprintf(stderr, "skipped: the host page size is not 4 KiB\n");
		ck_assert_int_eq(destroy(w), 0);
		return;
	}
	ck_assert_int_eq(vfiosim_mm_host(w, &h), 0);
	buf = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(buf, MAP_FAILED);
	strcpy(buf + 16, "pinned page");
	strcpy(buf + PAGE, "unpinned page");
	ck_assert_int_eq(
		vfiosim_pin_user_pages(h, (uintptr_t)buf, 2, LTW, pfns), 2);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns + 1, 1), 0);
	/* As the shim does: the model first, then the real munmap(). */
	ck_assert_int_eq(vfiosim_munmap(h, (uintptr_t)buf, 2 * PAGE), 0);
	ck_assert_int_eq(munmap(buf, 2 * PAGE), 0);
	kept = vfiosim_page_bytes(w, pfns[0]);
	ck_assert_ptr_nonnull(kept);
	ck_assert_ptr_ne(kept, buf);
	ck_assert_str_eq(kept + 16, "pinned page");
	strcpy(kept + 100, "DMA after munmap"); /* must not fault */
	in = query(w, pfns[0]);
	ck_assert_uint_eq(in.pincount, 1);
	ck_assert_uint_eq(in.refcount, 1);
	ck_assert(in.flags & VFIOSIM_PAGE_HOST);
	ck_assert(vfiosim_page_query(w, pfns[1], &in) || !in.refcount);
	/* The address mapped again: a new frame, the real new page. */
	/* (MAP_FIXED is safe: the test's process is single-threaded and
	 * the range was this test's own.) */
	ck_assert_ptr_eq(mmap(buf, PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
			 buf);
	ck_assert_int_eq(
		vfiosim_pin_user_pages(h, (uintptr_t)buf, 1, LTW, &fresh), 1);
	ck_assert_uint_ne(fresh, pfns[0]);
	ck_assert_ptr_eq(vfiosim_page_bytes(w, fresh), buf);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, &fresh, 1), 0);
	ck_assert_int_eq(vfiosim_munmap(h, (uintptr_t)buf, PAGE), 0);
	munmap(buf, PAGE);
	/* The last unpin frees the frame and its copy. */
	ck_assert_int_eq(vfiosim_phys_stats(w, &st), 0);
	ck_assert_uint_ge(st.backed_bytes, PAGE);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns, 1), 0);
	ck_assert(vfiosim_page_query(w, pfns[0], &in) || !in.refcount);
	ck_assert_int_eq(vfiosim_phys_stats(w, &st), 0);
	ck_assert_uint_eq(st.backed_bytes, 0);
	vfiosim_mmput(h);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(host_mm_real_buffer)
{
	struct vfiosim_world *w = mkworld();
	struct vfiosim_mm *h;
	struct vfiosim_vma_info vi;
	uint64_t pfns[4], again;
	char *buf, tmp[8];
	long ps = sysconf(_SC_PAGESIZE);

	if (ps != 4096) {
		fprintf(stderr, "skipped: the host page size is not 4 KiB\n");
		ck_assert_int_eq(destroy(w), 0);
		return;
	}
	ck_assert_int_eq(vfiosim_mm_host(w, &h), 0);
	buf = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(buf, MAP_FAILED);
	strcpy(buf + PAGE + 8, "program data");
	ck_assert_int_eq(
		vfiosim_pin_user_pages(h, (uintptr_t)buf, 4, LTW, pfns), 4);
	/* The frame's bytes are the real bytes. */
	ck_assert_ptr_eq(vfiosim_page_bytes(w, pfns[1]), buf + PAGE);
	ck_assert_str_eq((char *)vfiosim_page_bytes(w, pfns[1]) + 8,
			 "program data");
	ck_assert(query(w, pfns[1]).flags & VFIOSIM_PAGE_HOST);
	/* A "device" writes through the frame; the program sees it. */
	memcpy((char *)vfiosim_page_bytes(w, pfns[3]) + 5, "DMA!", 5);
	ck_assert_str_eq(buf + 3 * PAGE + 5, "DMA!");
	/* Pinning the same page again gives the same frame. */
	ck_assert_int_eq(vfiosim_pin_user_pages(h, (uintptr_t)buf + PAGE, 1, LT,
						&again),
			 1);
	ck_assert_uint_eq(again, pfns[1]);
	ck_assert_uint_eq(query(w, again).pincount, 2);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, &again, 1), 0);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns, 4), 0);
	/* Real protections and holes are checked. */
	ck_assert_int_eq(mprotect(buf + 2 * PAGE, PAGE, PROT_READ), 0);
	ck_assert_int_eq(
		vfiosim_pin_user_pages(h, (uintptr_t)buf, 4, LTW, pfns), 2);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns, 2), 0);
	ck_assert_int_eq(vfiosim_pin_user_pages(h, (uintptr_t)buf, 4, LT, pfns),
			 4);
	ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns, 4), 0);
	ck_assert_int_eq(vfiosim_mm_find_vma(h, (uintptr_t)buf + 2 * PAGE, &vi),
			 0);
	ck_assert_uint_eq(vi.kind, VFIOSIM_VMA_HOST);
	ck_assert_uint_eq(vi.prot, VFIOSIM_PROT_READ);
	ck_assert_int_eq(vfiosim_mm_read(h, (uintptr_t)buf + PAGE + 8, tmp, 8),
			 8);
	ck_assert_int_eq(memcmp(tmp, "program ", 8), 0);
	ck_assert_neg_errno(
		vfiosim_mm_write(h, (uintptr_t)buf + 2 * PAGE, "x", 1), EFAULT);
	ck_assert_int_eq(vfiosim_mm_write(h, (uintptr_t)buf, "hi", 3), 3);
	ck_assert_str_eq(buf, "hi");
	ck_assert_neg_errno(vfiosim_mmap(h, 0, PAGE, RW, PRIV, &again), EINVAL);
	ck_assert_int_eq(vfiosim_munmap(h, (uintptr_t)buf, 4 * PAGE), 0);
	ck_assert_neg_errno(vfiosim_mm_lookup_pfn(h, (uintptr_t)buf, &again),
			    ENOENT);
	munmap(buf, 4 * PAGE);
	ck_assert_neg_errno(
		vfiosim_pin_user_pages(h, (uintptr_t)buf, 1, LT, pfns), EFAULT);
	vfiosim_mmput(h);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

START_TEST(host_mm_page_size)
{
	struct vfiosim_config c;
	struct vfiosim_world *w;
	struct vfiosim_mm *h = NULL;

	vfiosim_config_init(&c);
	c.mm.page_shift = 16;
	w = tu_world(&c);
	if (sysconf(_SC_PAGESIZE) != 65536)
		ck_assert_neg_errno(vfiosim_mm_host(w, &h), EINVAL);
	ck_assert_neg_errno(vfiosim_mm_host(w, NULL), EINVAL);
	vfiosim_mmput(h);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

static Suite *mm_suite(void)
{
	Suite *s = suite_create("mm");
	TCase *tc = tcase_create("mm");

	tcase_add_test(tc, mmap_errors);
	tcase_add_test(tc, munmap_mprotect_split);
	tcase_add_test(tc, hugetlb_vmas);
	tcase_add_test(tc, faults_zero_page_cow);
	tcase_add_test(tc, populate_shared);
	tcase_add_test(tc, range_unpin_runs);
	tcase_add_test(tc, pin_semantics);
	tcase_add_test(tc, pin_with_fatal_signal);
	tcase_add_test(tc, pinned_zero_page_leaks);
	tcase_add_test(tc, put_page_under_pin_is_bug);
	tcase_add_test(tc, pfnmap_follow);
	tcase_add_test(tc, locked_vm_limit_and_cap);
	tcase_add_test(tc, account_locked_vm_current_task);
	tcase_add_test(tc, mmap_lock_asserted);
	tcase_add_test(tc, lockdep_sees_mmap_lock);
	tcase_add_test(tc, killable_lock_eintr);
	tcase_add_test(tc, exec_with_pinned_old_mm);
	tcase_add_test(tc, mm_reference_leaks);
	tcase_add_test(tc, host_mm_real_buffer);
	tcase_add_test(tc, host_mm_munmap_keeps_pinned_page);
	tcase_add_test(tc, host_mm_page_size);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(mm_suite)
