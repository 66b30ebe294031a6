/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-mm-free.c - the mm layer in free-running mode: threads pin and
 * unpin the same pages, fault pages in, store, and map and unmap another
 * region, all at once on real locks.  CI runs the "free" suite under
 * ThreadSanitizer.
 */
#include "testutil.h"

#define PAGE 4096ull
#define NTHREADS 3
#define ROUNDS 300
#define NPAGES 64

struct shared {
	struct vfiosim_world *w;
	struct vfiosim_mm *mm;
	uint64_t a;
	long bad;
};

struct worker {
	struct shared *s;
	unsigned int idx;
};

static void pinner(void *p)
{
	struct worker *wk = p;
	struct shared *s = wk->s;
	uint64_t pfns[NPAGES];

	for (int i = 0; i < ROUNDS; i++) {
		uint64_t page;
		long n;

		vfiosim_mmap_read_lock(s->mm);
		n = vfiosim_pin_user_pages(
			s->mm, s->a, NPAGES,
			VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM, pfns);
		vfiosim_mmap_read_unlock(s->mm);
		if (n != NPAGES) {
			__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
			if (n > 0)
				vfiosim_unpin_user_pages(s->w, pfns,
							 (unsigned long)n);
			continue;
		}
		/* Each thread stores to its own pages (a store racing with
		 * another thread's is a data race in the user program). */
		page = wk->idx + NTHREADS * (uint64_t)(i % (NPAGES / NTHREADS));
		if (vfiosim_mm_write(s->mm, s->a + page * PAGE, "x", 1) != 1)
			__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
		if (vfiosim_unpin_user_pages_dirty_lock(s->w, pfns, NPAGES,
							true))
			__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
	}
}

static void mapper(void *p)
{
	struct shared *s = p;

	for (int i = 0; i < ROUNDS; i++) {
		uint64_t b;

		if (vfiosim_mmap(s->mm, 0, 8 * PAGE,
				 VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
				 VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_POPULATE,
				 &b) ||
		    vfiosim_account_locked_vm(s->mm, 8, true) ||
		    vfiosim_account_locked_vm(s->mm, 8, false) ||
		    vfiosim_munmap(s->mm, b, 8 * PAGE))
			__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
	}
}

static void scenario(struct vfiosim_world *w, void *arg)
{
	struct shared *s = arg;
	struct vfiosim_thread *t[NTHREADS + 1];
	struct worker wk[NTHREADS];

	for (unsigned int i = 0; i < NTHREADS; i++) {
		wk[i] = (struct worker){ s, i };
		t[i] = vfiosim_thread_create(w, "pinner", pinner, &wk[i]);
	}
	t[NTHREADS] = vfiosim_thread_create(w, "mapper", mapper, s);
	for (int i = 0; i <= NTHREADS; i++)
		vfiosim_thread_join(t[i]);
}

START_TEST(concurrent_pin_map)
{
	struct vfiosim_config c;
	struct vfiosim_world *w;
	struct shared s = { 0 };
	struct vfiosim_page_info in;
	uint64_t pfn;

	vfiosim_config_init(&c);
	c.mode = VFIOSIM_MODE_FREE;
	c.mm.phys_size = 1ull << 30;
	c.mm.cap_ipc_lock = true;
	w = tu_world(&c);
	s.w = w;
	s.mm = vfiosim_current_mm(w);
	ck_assert_int_eq(vfiosim_mmap(s.mm, 0, NPAGES * PAGE,
				      VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
				      VFIOSIM_MAP_PRIVATE, &s.a),
			 0);
	ck_assert_int_eq(vfiosim_world_run(w, scenario, &s), 0);
	ck_assert_int_eq(s.bad, 0);
	for (unsigned int i = 0; i < NPAGES; i++) {
		ck_assert_int_eq(
			vfiosim_mm_lookup_pfn(s.mm, s.a + i * PAGE, &pfn), 0);
		ck_assert_int_eq(vfiosim_page_query(w, pfn, &in), 0);
		ck_assert_uint_eq(in.pincount, 0);
		ck_assert_uint_eq(in.refcount, 1);
		ck_assert(in.flags & VFIOSIM_PAGE_DIRTY);
	}
	ck_assert_uint_eq(vfiosim_mm_locked_vm(s.mm), 0);
	ck_assert_int_eq(vfiosim_world_destroy(w), 0);
}
END_TEST

static Suite *free_suite(void)
{
	Suite *s = suite_create("mm-free");
	TCase *tc = tcase_create("free");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, concurrent_pin_map);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(free_suite)
