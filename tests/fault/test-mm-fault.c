/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-mm-fault.c - fail-nth sweep over every fault point of an mm
 * sequence (mm creation, mmap incl. hugetlb and PFNMAP, stores, pins that
 * fault pages in, mprotect and munmap splits, exec, the host mm).
 *
 * As iommufd's fail_nth selftest: run the sequence once to count the fault
 * points it hits, then once per n failing the nth hit.  Every step must
 * either succeed or fail with -ENOMEM; a failed step must leave the
 * address space as it was (VMAs, present pages where the step does not
 * fault pages in, locked_vm, pins); and at the end, after the sequence's
 * own clean-up, the world must report no LEAK.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../testutil.h"

#define PAGE 4096ull
#define RW (VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE)
#define MAXV 32

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

struct snap {
	struct vfiosim_vma_info v[MAXV];
	unsigned int nv;
	struct vfiosim_mm_stats st;
	uint64_t frames;
};

static void take(struct vfiosim_world *w, struct vfiosim_mm *mm, struct snap *s)
{
	struct vfiosim_phys_stats ps;
	uint64_t addr = 0;

	memset(s, 0, sizeof(*s));
	if (!mm)
		return;
	while (s->nv < MAXV && !vfiosim_mm_find_vma(mm, addr, &s->v[s->nv])) {
		addr = s->v[s->nv].end;
		s->nv++;
	}
	ck_assert_int_eq(vfiosim_mm_stats(mm, &s->st), 0);
	ck_assert_int_eq(vfiosim_phys_stats(w, &ps), 0);
	s->frames = ps.frames_inuse;
}

/* A failed step changed nothing (@faults: the step may fault pages in). */
static void same(const struct snap *a, const struct snap *b, bool faults,
		 const char *what, unsigned long n)
{
	ck_assert_msg(a->nv == b->nv, "n=%lu %s: %u VMAs, was %u", n, what,
		      b->nv, a->nv);
	ck_assert_msg(!memcmp(a->v, b->v, a->nv * sizeof(a->v[0])),
		      "n=%lu %s: VMAs changed", n, what);
	ck_assert_uint_eq(a->st.locked_vm, b->st.locked_vm);
	ck_assert_uint_eq(a->st.users, b->st.users);
	if (!faults) {
		ck_assert_msg(a->st.nr_pages == b->st.nr_pages,
			      "n=%lu %s: present pages %llu, was %llu", n, what,
			      (unsigned long long)b->st.nr_pages,
			      (unsigned long long)a->st.nr_pages);
		ck_assert_msg(a->frames == b->frames,
			      "n=%lu %s: frames %llu, was %llu", n, what,
			      (unsigned long long)b->frames,
			      (unsigned long long)a->frames);
	}
}

#define STEP(rc, faults, what)                                                \
	do {                                                                  \
		long _rc = (rc);                                              \
		struct snap _after;                                           \
		ck_assert_msg(_rc >= 0 || _rc == -ENOMEM, "n=%lu %s: %ld", n, \
			      what, _rc);                                     \
		if (_rc < 0) {                                                \
			take(w, mm, &_after);                                 \
			same(&before, &_after, faults, what, n);              \
			failed++;                                             \
		}                                                             \
		ok = _rc >= 0;                                                \
	} while (0)

/* Runs the sequence; returns the number of steps that failed. */
static unsigned int sequence(struct vfiosim_world *w, unsigned long n)
{
	struct vfiosim_task *t = vfiosim_task_create(w, "qemu");
	struct vfiosim_mm *mm = NULL, *host = NULL;
	uint64_t a = 0, h = 0, p = 0, pfns[64], pfn;
	unsigned int failed = 0;
	struct snap before;
	long got = 0;
	bool ok;
	char *buf;

	if (!t)
		return 1; /* "sim.task_create" failed: nothing to clean */
	memset(&before, 0, sizeof(before));
	mm = vfiosim_task_mm(t);
	if (!mm)
		return 1;
	take(w, mm, &before);
	STEP(vfiosim_mmap(mm, 0, 32 * PAGE, RW,
			  VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_POPULATE, &a),
	     true, "mmap populate");
	if (!ok)
		a = 0;
	take(w, mm, &before);
	STEP(vfiosim_mmap(mm, 0, 4ull << 20, RW,
			  VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_HUGETLB, &h),
	     false, "mmap hugetlb");
	if (!ok)
		h = 0;
	take(w, mm, &before);
	STEP(vfiosim_mmap_pfn(mm, 0, 8 * PAGE, RW, 0, 1ull << 40, &p), false,
	     "mmap pfn");
	if (ok) {
		ck_assert_int_eq(vfiosim_mm_follow_pfn(mm, p + PAGE, true, &pfn,
						       NULL),
				 0);
		ck_assert_uint_eq(pfn, (1ull << 40) + 1);
	}
	if (a) {
		take(w, mm, &before);
		STEP(vfiosim_mm_write(mm, a + 3 * PAGE + 5, "x", 1), true,
		     "store");
		take(w, mm, &before);
		got = vfiosim_pin_user_pages(
			mm, a, 32, VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM,
			pfns);
		STEP(got, true, "pin");
		if (got > 0) {
			ck_assert_int_eq(vfiosim_account_locked_vm_locked(
						 mm, (unsigned long)got, true,
						 t, false),
					 0);
		}
		take(w, mm, &before);
		STEP(vfiosim_mprotect(mm, a + 4 * PAGE, 4 * PAGE,
				      VFIOSIM_PROT_READ),
		     false, "mprotect split");
		take(w, mm, &before);
		STEP(vfiosim_munmap(mm, a + 10 * PAGE, 2 * PAGE), false,
		     "munmap split");
	}
	if (h) {
		long hg;

		take(w, mm, &before);
		hg = vfiosim_pin_user_pages(
			mm, h + (2ull << 20) - PAGE, 2,
			VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM, pfns + 32);
		STEP(hg, true, "pin hugetlb");
		if (ok)
			ck_assert_int_eq(
				vfiosim_unpin_user_pages(w, pfns + 32,
							 (unsigned long)hg),
				0);
	}
	/* exec: the old mm lives on while we hold it. */
	vfiosim_mmget(mm);
	take(w, mm, &before);
	STEP(vfiosim_task_exec(t), false, "exec");
	if (ok)
		ck_assert_ptr_ne(vfiosim_task_mm(t), mm);
	else
		ck_assert_ptr_eq(vfiosim_task_mm(t), mm);
	/* The host mm: a real buffer. */
	buf = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(buf, MAP_FAILED);
	if (sysconf(_SC_PAGESIZE) == (long)PAGE &&
	    vfiosim_mm_host(w, &host) == 0) {
		uint64_t hp[4];
		long hg = vfiosim_pin_user_pages(host, (uintptr_t)buf, 4,
						 VFIOSIM_FOLL_WRITE, hp);

		ck_assert(hg > 0 || hg == -ENOMEM);
		if (hg > 0)
			ck_assert_int_eq(vfiosim_unpin_user_pages(
						 w, hp, (unsigned long)hg),
					 0);
		vfiosim_mmput(host);
	}
	munmap(buf, 4 * PAGE);
	/* Clean-up. */
	if (got > 0) {
		ck_assert_int_eq(
			vfiosim_account_locked_vm_locked(mm, (unsigned long)got,
							 false, t, false),
			0);
		ck_assert_int_eq(vfiosim_unpin_user_pages(w, pfns,
							  (unsigned long)got),
				 0);
	}
	ck_assert_uint_eq(vfiosim_mm_locked_vm(mm), 0);
	vfiosim_mmput(mm);
	return failed;
}

START_TEST(fail_nth_sweep)
{
	struct vfiosim_config c;
	struct vfiosim_world *w;
	unsigned long hits, n;
	unsigned int failures = 0;

	vfiosim_config_init(&c);
	c.mm.phys_size = 1ull << 30;
	w = tu_world(&c);
	ck_assert_uint_eq(sequence(w, 0), 0);
	hits = vfiosim_fault_hits(w, NULL);
	ck_assert_int_eq(destroy(w), 0);
	ck_assert_uint_gt(hits, 10);
	fprintf(stderr, "mm sequence: %lu fault-point hits\n", hits);
	for (n = 1; n <= hits + 1; n++) {
		struct vfiosim_fault_plan plan = { .nth = n };

		w = tu_world(&c);
		ck_assert_int_eq(vfiosim_fault_set_plan(w, &plan), 0);
		failures += sequence(w, n);
		ck_assert_uint_eq(vfiosim_fault_injected(w), n <= hits ? 1 : 0);
		ck_assert_msg(destroy(w) == 0,
			      "n=%lu: the world reported "
			      "failures (leaks)",
			      n);
	}
	/* Injected faults do surface (populate ignores its own, as the
	 * kernel's mm_populate() does, so not every hit fails a step). */
	fprintf(stderr, "mm sequence: %u failed steps over %lu runs\n",
		failures, hits);
	ck_assert_uint_ge(failures, 8);
}
END_TEST

static Suite *fault_suite(void)
{
	Suite *s = suite_create("mm-fault");
	TCase *tc = tcase_create("fail-nth");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, fail_nth_sweep);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(fault_suite)
