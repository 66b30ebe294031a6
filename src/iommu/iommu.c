/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommu.c - the simulated IOMMU: geometry, domains, the iommu_map() /
 * iommu_unmap() contracts, the IOTLB and its flush queue, groups, devices,
 * translation of device accesses and the fault log.
 *
 * What it models (Linux 6.1, as Debian 12 ships it):
 *   - drivers/iommu/iommu.c: iommu_map() picks, piece by piece, the largest
 *     page size that the alignment of iova and paddr and the remaining size
 *     allow (iommu_pgsize()) and unmaps what it mapped when a piece fails;
 *     iommu_unmap() = iommu_unmap_fast() + iommu_iotlb_sync(), returns the
 *     bytes unmapped, and its loop stops when the driver unmaps nothing;
 *     iommu_attach_group() refuses a group that is not on its default
 *     domain (-EBUSY); iommu_detach_group() returns it there.
 *   - drivers/iommu/intel/iommu.c: unmapping inside a superpage removes the
 *     whole superpage and reports its full size ("cope with horrid API");
 *     VT-d fault reasons in the DMAR log line.
 *   - drivers/iommu/dma-iommu.c: the flush queue (deferred invalidation,
 *     IOMMU_DOMAIN_DMA_FQ) with a size and a timeout.  The kernel uses it
 *     only for DMA API domains; here vfiosim_iommu_config.deferred_flush
 *     applies it to every domain, because that is exactly the window in
 *     which a user that unpins right after unmap (VFIO type1) lets a
 *     device reach freed memory through a stale IOTLB entry.
 *   - drivers/iommu/iommufd/selftest.c: the mock domain checks its caller.
 *     Here mapping over a live entry is a WARN and -EEXIST, unmapping an
 *     IOVA that was never mapped is a WARN, freeing a domain that still
 *     maps something is a LEAK, detaching from the wrong domain is a WARN.
 *
 * IOTLB: a fully associative cache of iotlb_entries leaf translations
 * tagged with the domain id (DID), filled by device accesses that walk the
 * page table, replaced in LRU order (a logical clock, deterministic).
 * Strict mode invalidates the gathered range at iotlb_sync; deferred mode
 * queues it, and the queue is drained (domain-selective flushes) when it
 * holds flush_queue_size entries or when flush_timeout_ns of virtual time
 * have passed since its first entry (checked by map, unmap, iotlb_sync,
 * flush_queue_pending and every device access), or on
 * vfiosim_iommu_flush_queue_flush().
 *
 * Vocabulary: [start, last] ranges with @last inclusive; [iova, iova +
 * size) only at the API boundary, converted at once to last = iova +
 * size - 1 after checking size - 1 <= iova_last - iova, so a range that
 * ends at 2^addr_width - 1 is fine and nothing wraps.
 *
  * Locking: see iommu_internal.h (hw_lock for hardware state, group->mutex
 * for group membership and attachment).  Caller-check failures are raised
 * after the state is consistent again and hw_lock is dropped: a failure
 * kind in the abort mask unwinds the thread (deterministic mode, where
 * hw_lock is never taken), and the world lock that recording takes comes
 * after hw_lock in the lock order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/iommu_internal.h"
#include "mm/mm_internal.h"

#define PROT_KNOWN                                                        \
	(VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE | VFIOSIM_IOMMU_CACHE | \
	 VFIOSIM_IOMMU_NOEXEC | VFIOSIM_IOMMU_MMIO)

/* ------------------------------------------------------------- geometry */

static int geometry(struct vfiosim_iommu *iommu)
{
	const struct vfiosim_iommu_config *c = &iommu->cfg;
	unsigned int gs, aw = c->addr_width;
	uint64_t bm = c->pgsize_bitmap;

	if (aw != 39 && aw != 48 && aw != 57)
		return -EINVAL;
	if (!bm)
		return -EINVAL;
	gs = (unsigned int)__builtin_ctzll(bm);
	if (gs < 12 || gs > 16)
		return -EINVAL;
	iommu->granule_shift = gs;
	iommu->bits = gs - 3;
	iommu->levels = (aw - gs + iommu->bits - 1) / iommu->bits;
	if (iommu->levels > IOMMU_MAX_LEVELS)
		return -EINVAL;
	iommu->iova_last = (1ull << aw) - 1;
	iommu->leaf_ok = 0;
	for (unsigned int b = gs; b < 64; b++) {
		unsigned int level;

		if (!((bm >> b) & 1))
			continue;
		if ((b - gs) % iommu->bits || b >= aw)
			return -EINVAL;
		level = (b - gs) / iommu->bits;
		if (level >= iommu->levels)
			return -EINVAL;
		iommu->leaf_ok |= 1ull << level;
	}
	iommu->page_shift = vfiosim_world_config(iommu->w)->mm.page_shift;
	if (iommu->page_shift < 12 || iommu->page_shift > 30)
		return -EINVAL;
	iommu->table_order = gs > iommu->page_shift ? gs - iommu->page_shift :
						      0;
	if (c->nresv > VFIOSIM_IOMMU_MAX_RESV)
		return -EINVAL;
	for (unsigned int i = 0; i < c->nresv; i++)
		if (c->resv[i].start > c->resv[i].last ||
		    c->resv[i].last > iommu->iova_last || c->resv[i].type > 1)
			return -EINVAL;
	if (c->iotlb_entries > 65536)
		return -EINVAL;
	if (c->deferred_flush &&
	    (c->flush_queue_size == 0 || c->flush_queue_size > 65536))
		return -EINVAL;
	return 0;
}

/* ---------------------------------------------------------------- IOTLB */

static void count_flush(struct vfiosim_iommu *iommu, bool all)
{
	iommu->st.flushes++;
	if (all)
		iommu->st.flush_all++;
	else
		iommu->st.flush_ranges++;
	iommu->st.flush_cost_ns += iommu->cfg.flush_cost_ns;
}

/* An empty IOTLB (no device access since the last flushes) has nothing to
 * search: iotlb_live counts the valid entries. */
static void iotlb_inval_range(struct vfiosim_iommu *iommu, unsigned int did,
			      uint64_t start, uint64_t last)
{
	for (unsigned int i = 0;
	     iommu->iotlb_live && i < iommu->cfg.iotlb_entries; i++) {
		struct iotlb_entry *e = &iommu->iotlb[i];

		if (e->valid && e->did == did && e->iova <= last &&
		    start <= e->iova + (e->size - 1)) {
			e->valid = false;
			iommu->iotlb_live--;
		}
	}
	count_flush(iommu, false);
}

static void iotlb_inval_did(struct vfiosim_iommu *iommu, unsigned int did)
{
	for (unsigned int i = 0;
	     iommu->iotlb_live && i < iommu->cfg.iotlb_entries; i++)
		if (iommu->iotlb[i].valid && iommu->iotlb[i].did == did) {
			iommu->iotlb[i].valid = false;
			iommu->iotlb_live--;
		}
	count_flush(iommu, true);
}

static struct iotlb_entry *iotlb_find(struct vfiosim_iommu *iommu,
				      unsigned int did, uint64_t iova)
{
	/* After a flush the IOTLB is often empty: nothing to search. */
	for (unsigned int i = 0;
	     iommu->iotlb_live && i < iommu->cfg.iotlb_entries; i++) {
		struct iotlb_entry *e = &iommu->iotlb[i];

		if (e->valid && e->did == did && e->iova <= iova &&
		    iova <= e->iova + (e->size - 1)) {
			e->lru = ++iommu->lru_clock;
			return e;
		}
	}
	return NULL;
}

static void iotlb_fill(struct vfiosim_iommu *iommu, unsigned int did,
		       uint64_t iova, uint64_t size, uint64_t phys,
		       unsigned int prot)
{
	struct iotlb_entry *victim = NULL;

	if (!iommu->cfg.iotlb_entries)
		return;
	for (unsigned int i = 0; i < iommu->cfg.iotlb_entries; i++) {
		struct iotlb_entry *e = &iommu->iotlb[i];

		if (!e->valid) {
			victim = e;
			break;
		}
		if (!victim || e->lru < victim->lru)
			victim = e;
	}
	if (victim->valid)
		iommu->st.iotlb_evictions++;
	else
		iommu->iotlb_live++;
	*victim = (struct iotlb_entry){ .iova = iova,
					.size = size,
					.phys = phys,
					.lru = ++iommu->lru_clock,
					.did = did,
					.prot = prot,
					.valid = true };
}

/* ---------------------------------------------------------- flush queue */

static unsigned int fq_drain(struct vfiosim_iommu *iommu)
{
	unsigned int n = iommu->fq_n;

	/* One domain-selective flush per distinct DID, in queue order. */
	for (unsigned int i = 0; i < n; i++) {
		bool seen = false;

		for (unsigned int j = 0; j < i && !seen; j++)
			seen = iommu->fq[j].did == iommu->fq[i].did;
		if (!seen)
			iotlb_inval_did(iommu, iommu->fq[i].did);
	}
	iommu->fq_n = 0;
	if (n) {
		iommu->st.fq_flushes++;
		/* hw_lock -> world lock is the lock order: a note is fine. */
		vfiosim_trace_note(
			iommu->w, "flush queue drained: %u invalidation(s)", n);
	}
	return n;
}

/* Drain the flush queue if its timeout has expired (hw_lock held). */
static void iommu_fq_poll(struct vfiosim_iommu *iommu)
{
	if (iommu->fq_n && vfiosim_now(iommu->w) - iommu->fq_first_ns >=
				   iommu->cfg.flush_timeout_ns) {
		iommu->st.fq_timeouts++;
		fq_drain(iommu);
	}
}

static void fq_add(struct vfiosim_iommu *iommu, unsigned int did,
		   uint64_t start, uint64_t last)
{
	if (!iommu->fq_n)
		iommu->fq_first_ns = vfiosim_now(iommu->w);
	iommu->fq[iommu->fq_n++] = (struct fq_entry){ did, start, last };
	iommu->st.fq_queued++;
	if (iommu->fq_n >= iommu->cfg.flush_queue_size) {
		iommu->st.fq_full++;
		fq_drain(iommu);
	}
}

static void fq_forget_did(struct vfiosim_iommu *iommu, unsigned int did)
{
	unsigned int j = 0;

	for (unsigned int i = 0; i < iommu->fq_n; i++)
		if (iommu->fq[i].did != did)
			iommu->fq[j++] = iommu->fq[i];
	iommu->fq_n = j;
}

static void sync_locked(struct vfiosim_iommu_domain *d,
			struct vfiosim_iotlb_gather *g)
{
	struct vfiosim_iommu *iommu = d->iommu;

	if (g->empty)
		return;
	if (iommu->cfg.deferred_flush)
		fq_add(iommu, d->id, g->start, g->last);
	else
		iotlb_inval_range(iommu, d->id, g->start, g->last);
	vfiosim_iotlb_gather_init(g);
}

/* ------------------------------------------------------------ teardown */

static void domain_release_tables(struct vfiosim_iommu_domain *d,
				  const char *why)
{
	struct vfiosim_iommu *iommu = d->iommu;
	uint64_t leaves, bytes;

	hw_lock(iommu);
	leaves = d->leaves;
	bytes = d->mapped_bytes;
	fq_forget_did(iommu, d->id);
	if (iommu->iotlb)
		iotlb_inval_did(iommu, d->id);
	pt_destroy(d);
	hw_unlock(iommu);
	if (leaves)
		vfiosim_fail_at(iommu->w, VFIOSIM_FAIL_LEAK, __FILE__, __LINE__,
				"iommu: %s domain %u %s with %llu live "
				"mapping(s), %llu bytes",
				d->type == VFIOSIM_IOMMU_DOMAIN_DMA ?
					"default" :
					"unmanaged",
				d->id, why, (unsigned long long)leaves,
				(unsigned long long)bytes);
}

static void iommu_teardown(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu *iommu = arg;
	unsigned int ng = 0, nd = 0;

	(void)w;
	if (iommu->destroyed)
		return;
	for (struct vfiosim_iommu_group *g = iommu->groups; g; g = g->next)
		ng++;
	for (struct vfiosim_iommu_domain *d = iommu->domains; d; d = d->next)
		nd++;
	vfiosim_fail_at(iommu->w, VFIOSIM_FAIL_LEAK, __FILE__, __LINE__,
			"iommu: not destroyed at world teardown: %u group(s), "
			"%u domain(s) left",
			ng, nd);
	for (struct vfiosim_iommu_domain *d = iommu->domains; d; d = d->next)
		domain_release_tables(d, "left at world teardown");
	for (struct vfiosim_iommu_group *g = iommu->groups; g; g = g->next)
		sync_mutex_destroy(&g->mutex);
	free(iommu->faults);
	iommu->faults = NULL;
	if (!sim_deterministic(iommu->w))
		pthread_mutex_destroy(&iommu->hw_lock);
	iommu->destroyed = true;
}

/* ------------------------------------------------------------- hardware */

VFIOSIM_EXPORT int vfiosim_iommu_create(struct vfiosim_world *w,
					const struct vfiosim_iommu_config *cfg,
					struct vfiosim_iommu **out)
{
	struct vfiosim_iommu *iommu;
	int rc;

	if (!w || !out)
		return -EINVAL;
	if (!cfg)
		cfg = &vfiosim_world_config(w)->iommu;
	/* The mm layer's teardown must run after ours (newest first). */
	if (!mm_phys_get(w))
		return -ENOMEM;
	iommu = vfiosim_zalloc(w, sizeof(*iommu), "iommu.alloc");
	if (!iommu)
		return -ENOMEM;
	iommu->w = w;
	iommu->cfg = *cfg;
	rc = geometry(iommu);
	if (rc)
		goto err;
	rc = -ENOMEM;
	if (cfg->iotlb_entries) {
		iommu->iotlb = vfiosim_zalloc(
			w, sizeof(*iommu->iotlb) * cfg->iotlb_entries,
			"iommu.alloc");
		if (!iommu->iotlb)
			goto err;
	}
	if (cfg->deferred_flush) {
		iommu->fq = vfiosim_zalloc(
			w, sizeof(*iommu->fq) * cfg->flush_queue_size,
			"iommu.alloc");
		if (!iommu->fq)
			goto err;
	}
	if (sim_add_teardown(w, iommu_teardown, iommu))
		goto err;
	if (!sim_deterministic(w))
		pthread_mutex_init(&iommu->hw_lock, NULL);
	iommu->next_did = 1;
	*out = iommu;
	return 0;
err:
	vfiosim_free(w, iommu->fq);
	vfiosim_free(w, iommu->iotlb);
	vfiosim_free(w, iommu);
	return rc;
}

VFIOSIM_EXPORT int vfiosim_iommu_destroy(struct vfiosim_iommu *iommu)
{
	struct vfiosim_world *w;

	if (!iommu || iommu->destroyed)
		return 0;
	if (iommu->groups || iommu->domains)
		return -EBUSY;
	w = iommu->w;
	/*
	 * The struct stays (the teardown hook refers to it), and so do the
	 * released device handles (the dev layer may still log with them):
	 * both are world-owned memory.
	 */
	vfiosim_free(w, iommu->iotlb);
	vfiosim_free(w, iommu->fq);
	iommu->iotlb = NULL;
	iommu->fq = NULL;
	free(iommu->faults);
	iommu->faults = NULL;
	iommu->nfaults = iommu->faults_cap = 0;
	if (!sim_deterministic(w))
		pthread_mutex_destroy(&iommu->hw_lock);
	iommu->destroyed = true;
	return 0;
}

VFIOSIM_EXPORT bool vfiosim_iommu_capable(const struct vfiosim_iommu *iommu,
					  enum vfiosim_iommu_cap cap)
{
	if (!iommu)
		return false;
	switch (cap) {
	case VFIOSIM_IOMMU_CAP_CACHE_COHERENCY:
		return iommu->cfg.cache_coherent;
	case VFIOSIM_IOMMU_CAP_INTR_REMAP:
		return iommu->cfg.intr_remap;
	case VFIOSIM_IOMMU_CAP_DIRTY_TRACKING:
		return iommu->cfg.dirty_tracking;
	}
	return false;
}

VFIOSIM_EXPORT int vfiosim_iommu_get_stats(struct vfiosim_iommu *iommu,
					   struct vfiosim_iommu_stats *out)
{
	if (!iommu || !out)
		return -EINVAL;
	hw_lock(iommu);
	*out = iommu->st;
	hw_unlock(iommu);
	return 0;
}

VFIOSIM_EXPORT int vfiosim_iommu_flush_queue_flush(struct vfiosim_iommu *iommu)
{
	int n;

	if (!iommu)
		return -EINVAL;
	hw_lock(iommu);
	n = (int)fq_drain(iommu);
	hw_unlock(iommu);
	return n;
}

VFIOSIM_EXPORT unsigned int
vfiosim_iommu_flush_queue_pending(struct vfiosim_iommu *iommu)
{
	unsigned int n;

	if (!iommu)
		return 0;
	hw_lock(iommu);
	iommu_fq_poll(iommu);
	n = iommu->fq_n;
	hw_unlock(iommu);
	return n;
}

/* Readers of hardware state take hw_lock on a const object. */
static inline struct vfiosim_iommu *mut(const struct vfiosim_iommu *iommu)
{
	return (struct vfiosim_iommu *)iommu;
}

VFIOSIM_EXPORT size_t
vfiosim_iommu_fault_count(const struct vfiosim_iommu *iommu)
{
	size_t n;

	if (!iommu)
		return 0;
	hw_lock(mut(iommu));
	n = iommu->nfaults;
	hw_unlock(mut(iommu));
	return n;
}

VFIOSIM_EXPORT int vfiosim_iommu_fault_get(const struct vfiosim_iommu *iommu,
					   size_t i,
					   struct vfiosim_dma_fault *out)
{
	int rc = -ENOENT;

	if (!iommu || !out)
		return -EINVAL;
	hw_lock(mut(iommu));
	if (i < iommu->nfaults) {
		*out = iommu->faults[i];
		rc = 0;
	}
	hw_unlock(mut(iommu));
	return rc;
}

/* -------------------------------------------------------------- domains */

static int domain_new(struct vfiosim_iommu *iommu, unsigned int type,
		      struct vfiosim_iommu_domain **out)
{
	struct vfiosim_iommu_domain *d;
	int rc;

	d = vfiosim_zalloc(iommu->w, sizeof(*d), "iommu.alloc");
	if (!d)
		return -ENOMEM;
	d->iommu = iommu;
	d->type = type;
	hw_lock(iommu);
	rc = pt_table_new(d, iommu->levels - 1, false, &d->root);
	if (rc) {
		hw_unlock(iommu);
		vfiosim_free(iommu->w, d);
		return rc;
	}
	d->id = iommu->next_did++;
	/* Append: the list is walked in creation order. */
	if (!iommu->domains) {
		iommu->domains = d;
	} else {
		struct vfiosim_iommu_domain *t = iommu->domains;

		while (t->next)
			t = t->next;
		t->next = d;
		d->prev = t;
	}
	hw_unlock(iommu);
	*out = d;
	return 0;
}

static void domain_unlink_free(struct vfiosim_iommu_domain *d)
{
	struct vfiosim_iommu *iommu = d->iommu;

	domain_release_tables(d, "freed");
	hw_lock(iommu);
	if (d->prev)
		d->prev->next = d->next;
	else
		iommu->domains = d->next;
	if (d->next)
		d->next->prev = d->prev;
	hw_unlock(iommu);
	vfiosim_free(iommu->w, d);
}

VFIOSIM_EXPORT int vfiosim_iommu_domain_alloc(struct vfiosim_iommu *iommu,
					      struct vfiosim_iommu_domain **out)
{
	if (!iommu || !out || iommu->destroyed)
		return -EINVAL;
	return domain_new(iommu, VFIOSIM_IOMMU_DOMAIN_UNMANAGED, out);
}

VFIOSIM_EXPORT int vfiosim_iommu_domain_free(struct vfiosim_iommu_domain *d)
{
	if (!d)
		return 0;
	if (d->type != VFIOSIM_IOMMU_DOMAIN_UNMANAGED)
		return -EINVAL;
	if (d->ngroups) {
		vfiosim_fail_at(d->iommu->w, VFIOSIM_FAIL_WARN, __FILE__,
				__LINE__,
				"iommu: freeing domain %u while %u group(s) "
				"are attached",
				d->id, d->ngroups);
		return -EBUSY;
	}
	domain_unlink_free(d);
	return 0;
}

VFIOSIM_EXPORT int
vfiosim_iommu_domain_get_info(const struct vfiosim_iommu_domain *d,
			      struct vfiosim_iommu_domain_info *out)
{
	struct vfiosim_iommu *iommu;

	if (!d || !out)
		return -EINVAL;
	iommu = d->iommu;
	hw_lock(iommu);
	*out = (struct vfiosim_iommu_domain_info){
		.type = d->type,
		.id = d->id,
		.aperture_start = 0,
		.aperture_end = iommu->iova_last,
		.pgsize_bitmap = iommu->cfg.pgsize_bitmap,
		.levels = iommu->levels,
		.mapped_bytes = d->mapped_bytes,
		.leaves = d->leaves,
		.table_pages = d->table_pages,
		.groups = d->ngroups,
	};
	hw_unlock(iommu);
	return 0;
}

VFIOSIM_EXPORT struct vfiosim_iommu *
vfiosim_iommu_domain_iommu(const struct vfiosim_iommu_domain *d)
{
	return d ? d->iommu : NULL;
}

/*
 * Trace notes of the unmap path, formatted by hand: vsnprintf costs more
 * than unmapping a 512-page run, and type1 unmaps and syncs once per run.
 * The text is exactly what the printf format quoted at each use gives, and
 * the event is the one vfiosim_trace_note() adds (same text, so the same
 * trace hash).
 */
struct note {
	char s[SIM_NOTE_MAX + 1];
	size_t n;
};

static void note_str(struct note *b, const char *s)
{
	while (*s && b->n < SIM_NOTE_MAX)
		b->s[b->n++] = *s++;
}

static void note_digits(struct note *b, const char *tmp, size_t i)
{
	while (i && b->n < SIM_NOTE_MAX)
		b->s[b->n++] = tmp[--i];
}

/* "%u" */
static void note_dec(struct note *b, unsigned int v)
{
	char tmp[16];
	size_t i = 0;

	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	note_digits(b, tmp, i);
}

/* "0x%llx" */
static void note_hex(struct note *b, uint64_t v)
{
	char tmp[16];
	size_t i = 0;

	do {
		tmp[i++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	note_str(b, "0x");
	note_digits(b, tmp, i);
}

static void note_add(struct vfiosim_world *w, struct note *b, int line)
{
	char *text = sim_alloc_nofault(w, b->n + 1);

	if (!text)
		return;
	memcpy(text, b->s, b->n);
	text[b->n] = 0;
	sim_event(w, sim_current(w), EV_NOTE, 0, NULL, __FILE__, line, text);
}

/* Checks common to map and unmap; sets *last. */
static int range_check(const struct vfiosim_iommu *iommu, uint64_t iova,
		       uint64_t size, uint64_t *last)
{
	uint64_t gmask = (1ull << iommu->granule_shift) - 1;

	if (!size || ((iova | size) & gmask))
		return -EINVAL;
	if (iova > iommu->iova_last || size - 1 > iommu->iova_last - iova)
		return -EFAULT;
	*last = iova + (size - 1);
	return 0;
}

static const struct vfiosim_iommu_range *
resv_overlap(const struct vfiosim_iommu *iommu, uint64_t start, uint64_t last)
{
	for (unsigned int i = 0; i < iommu->cfg.nresv; i++) {
		const struct vfiosim_iommu_range *r = &iommu->cfg.resv[i];

		if (r->start <= last && start <= r->last)
			return r;
	}
	return NULL;
}

VFIOSIM_EXPORT int vfiosim_iommu_map(struct vfiosim_iommu_domain *d,
				     uint64_t iova, uint64_t paddr,
				     uint64_t size, unsigned int prot)
{
	struct vfiosim_iommu *iommu;
	const struct vfiosim_iommu_range *r;
	uint64_t last, mapped = 0, flags = 0, hole, whole = 0;
	uint64_t gmask;
	int rc;

	if (!d)
		return -EINVAL;
	iommu = d->iommu;
	gmask = (1ull << iommu->granule_shift) - 1;
	if ((prot & ~PROT_KNOWN) ||
	    !(prot & (VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE)))
		return -EINVAL;
	if (paddr & gmask)
		return -EINVAL;
	rc = range_check(iommu, iova, size, &last);
	if (rc)
		return rc;
	if (paddr > PTE_ADDR_MASK || size - 1 > PTE_ADDR_MASK - paddr)
		return -EINVAL;
	r = resv_overlap(iommu, iova, last);
	if (r) {
		vfiosim_fail_at(
			iommu->w, VFIOSIM_FAIL_WARN, __FILE__, __LINE__,
			"iommu_map: domain %u [0x%llx, 0x%llx] overlaps "
			"reserved region [0x%llx, 0x%llx]",
			d->id, (unsigned long long)iova,
			(unsigned long long)last, (unsigned long long)r->start,
			(unsigned long long)r->last);
		return -EINVAL;
	}
	if (vfiosim_fault(iommu->w, "iommu.map"))
		return -ENOMEM;
	if (prot & VFIOSIM_IOMMU_READ)
		flags |= PTE_R;
	if (prot & VFIOSIM_IOMMU_WRITE)
		flags |= PTE_W;
	if ((prot & VFIOSIM_IOMMU_CACHE) && iommu->cfg.cache_coherent)
		flags |= PTE_SNP;

	hw_lock(iommu);
	iommu_fq_poll(iommu);
	rc = pt_map(d, mk_iova(iova), mk_paddr(paddr), size, flags, &mapped);
	if (rc && mapped)
		pt_unmap(d, mk_iova(iova), mk_iova(iova + (mapped - 1)), &hole,
			 NULL, &whole);
	if (!rc)
		iommu->st.maps++;
	hw_unlock(iommu);
	/*
	 * Maps are not traced: they are the hot path of a type1 MAP_DMA
	 * (one call per physically contiguous run) and a note costs more
	 * than the map itself.  Unmaps, syncs, flushes, attach/detach and
	 * DMA are, so a use after unmap reads as a story in the trace.
	 */

	if (rc == -EEXIST)
		vfiosim_fail_at(iommu->w, VFIOSIM_FAIL_WARN, __FILE__, __LINE__,
				"iommu_map: domain %u IOVA 0x%llx is already "
				"mapped (map [0x%llx, 0x%llx] over a live "
				"entry)",
				d->id, (unsigned long long)(iova + mapped),
				(unsigned long long)iova,
				(unsigned long long)last);
	return rc;
}

static int64_t unmap_common(struct vfiosim_iommu_domain *d, uint64_t iova,
			    uint64_t size, struct vfiosim_iotlb_gather *g)
{
	struct vfiosim_iommu *iommu;
	struct vfiosim_iotlb_gather local;
	uint64_t last, hole, whole = 0, removed;
	int rc;

	if (!d)
		return -EINVAL;
	iommu = d->iommu;
	rc = range_check(iommu, iova, size, &last);
	if (rc)
		return rc;
	vfiosim_iotlb_gather_init(&local);
	hw_lock(iommu);
	iommu_fq_poll(iommu);
	removed = pt_unmap(d, mk_iova(iova), mk_iova(last), &hole,
			   g ? g : &local, &whole);
	if (removed)
		iommu->st.unmaps++;
	iommu->st.superpage_whole_unmaps += whole;
	if (!g)
		sync_locked(d, &local);
	hw_unlock(iommu);
	/* unmap_fast is traced by the iotlb_sync that follows it.  The
	 * note: "iommu_unmap d%u 0x%llx+0x%llx = 0x%llx%s". */
	if (!g) {
		struct note b = { .n = 0 };

		note_str(&b, "iommu_unmap d");
		note_dec(&b, d->id);
		note_str(&b, " ");
		note_hex(&b, iova);
		note_str(&b, "+");
		note_hex(&b, size);
		note_str(&b, " = ");
		note_hex(&b, removed);
		note_str(&b, !removed		       ? "" :
			     iommu->cfg.deferred_flush ? " (flush queued)" :
							 " (IOTLB flushed)");
		note_add(iommu->w, &b, __LINE__);
	}
	if (hole != UINT64_MAX) {
		if (!removed)
			vfiosim_fail_at(iommu->w, VFIOSIM_FAIL_WARN, __FILE__,
					__LINE__,
					"iommu_unmap: domain %u IOVA 0x%llx "
					"was never mapped",
					d->id, (unsigned long long)iova);
		else
			vfiosim_fail_at(iommu->w, VFIOSIM_FAIL_WARN, __FILE__,
					__LINE__,
					"iommu_unmap: domain %u [0x%llx, "
					"0x%llx] stopped at unmapped IOVA "
					"0x%llx after %llu bytes",
					d->id, (unsigned long long)iova,
					(unsigned long long)last,
					(unsigned long long)hole,
					(unsigned long long)removed);
	}
	return (int64_t)removed;
}

VFIOSIM_EXPORT int64_t vfiosim_iommu_unmap(struct vfiosim_iommu_domain *d,
					   uint64_t iova, uint64_t size)
{
	return unmap_common(d, iova, size, NULL);
}

VFIOSIM_EXPORT int64_t
vfiosim_iommu_unmap_fast(struct vfiosim_iommu_domain *d, uint64_t iova,
			 uint64_t size, struct vfiosim_iotlb_gather *gather)
{
	if (!gather)
		return -EINVAL;
	return unmap_common(d, iova, size, gather);
}

VFIOSIM_EXPORT int vfiosim_iommu_iotlb_sync(struct vfiosim_iommu_domain *d,
					    struct vfiosim_iotlb_gather *g)
{
	if (!d || !g)
		return -EINVAL;
	struct vfiosim_iotlb_gather was = *g;

	hw_lock(d->iommu);
	iommu_fq_poll(d->iommu);
	sync_locked(d, g);
	hw_unlock(d->iommu);
	/* The note: "iotlb_sync d%u [0x%llx, 0x%llx] %s". */
	if (!was.empty) {
		struct note b = { .n = 0 };

		note_str(&b, "iotlb_sync d");
		note_dec(&b, d->id);
		note_str(&b, " [");
		note_hex(&b, was.start);
		note_str(&b, ", ");
		note_hex(&b, was.last);
		note_str(&b, d->iommu->cfg.deferred_flush ? "] queued" :
							    "] flushed");
		note_add(d->iommu->w, &b, __LINE__);
	}
	return 0;
}

VFIOSIM_EXPORT int vfiosim_iommu_flush_iotlb_all(struct vfiosim_iommu_domain *d)
{
	if (!d)
		return -EINVAL;
	hw_lock(d->iommu);
	fq_forget_did(d->iommu, d->id);
	iotlb_inval_did(d->iommu, d->id);
	hw_unlock(d->iommu);
	return 0;
}

struct dirty_walk {
	uint64_t iova, last, pgsize;
	uint64_t *bitmap;
	int64_t ndirty;
};

static void dirty_leaf(void *arg, uint64_t leaf_iova, uint64_t size,
		       uint64_t *pte)
{
	struct dirty_walk *dw = arg;
	uint64_t first, last;

	if (!(*pte & PTE_DIRTY))
		return;
	*pte &= ~PTE_DIRTY;
	dw->ndirty++;
	/* The part of the leaf inside the range, in bitmap pages. */
	first = leaf_iova < dw->iova ? dw->iova : leaf_iova;
	last = leaf_iova + (size - 1);
	if (last > dw->last)
		last = dw->last;
	for (uint64_t b = (first - dw->iova) / dw->pgsize;
	     b <= (last - dw->iova) / dw->pgsize; b++)
		dw->bitmap[b / 64] |= 1ull << (b % 64);
}

VFIOSIM_EXPORT int64_t vfiosim_iommu_read_and_clear_dirty(
	struct vfiosim_iommu_domain *d, uint64_t iova, uint64_t size,
	uint64_t pgsize, uint64_t *bitmap)
{
	struct vfiosim_iommu *iommu;
	struct dirty_walk dw;
	uint64_t last;
	int rc;

	if (!d || !bitmap)
		return -EINVAL;
	iommu = d->iommu;
	if (!iommu->cfg.dirty_tracking)
		return -EOPNOTSUPP;
	if (!pgsize || (pgsize & (pgsize - 1)) ||
	    pgsize < (1ull << iommu->granule_shift) || (iova & (pgsize - 1)) ||
	    (size & (pgsize - 1)))
		return -EINVAL;
	rc = range_check(iommu, iova, size, &last);
	if (rc)
		return rc;
	dw = (struct dirty_walk){ iova, last, pgsize, bitmap, 0 };
	hw_lock(iommu);
	pt_for_each_leaf(d, mk_iova(iova), mk_iova(last), dirty_leaf, &dw);
	hw_unlock(iommu);
	return dw.ndirty;
}

VFIOSIM_EXPORT int vfiosim_iommu_lookup(struct vfiosim_iommu_domain *d,
					uint64_t iova,
					struct vfiosim_iommu_mapping *out)
{
	struct vfiosim_iommu *iommu;
	unsigned int level;
	uint64_t *pte, size;
	int rc = -ENOENT;

	if (!d || !out)
		return -EINVAL;
	iommu = d->iommu;
	hw_lock(iommu);
	pte = pt_walk(d, mk_iova(iova), &level);
	if (pte) {
		size = level_size(iommu, level);
		out->iova = iova & ~(size - 1);
		out->size = size;
		out->phys = *pte & PTE_ADDR_MASK;
		out->prot = ((*pte & PTE_R) ? VFIOSIM_IOMMU_READ : 0) |
			    ((*pte & PTE_W) ? VFIOSIM_IOMMU_WRITE : 0) |
			    ((*pte & PTE_SNP) ? VFIOSIM_IOMMU_CACHE : 0);
		out->level = level;
		out->dirty = (*pte & PTE_DIRTY) != 0;
		rc = 0;
	}
	hw_unlock(iommu);
	return rc;
}

VFIOSIM_EXPORT int vfiosim_iommu_lookup_run(struct vfiosim_iommu_domain *d,
					    uint64_t iova, uint64_t len,
					    uint64_t *phys, uint64_t *run)
{
	int rc;

	if (!d || !phys || !run || !len)
		return -EINVAL;
	hw_lock(d->iommu);
	rc = pt_lookup_run(d, iova, len, phys, run);
	hw_unlock(d->iommu);
	return rc;
}

VFIOSIM_EXPORT int vfiosim_iommu_iova_to_phys(struct vfiosim_iommu_domain *d,
					      uint64_t iova, uint64_t *phys)
{
	struct vfiosim_iommu_mapping m;
	int rc;

	if (!phys)
		return -EINVAL;
	rc = vfiosim_iommu_lookup(d, iova, &m);
	if (rc)
		return rc;
	*phys = m.phys + (iova - m.iova);
	return 0;
}

/* --------------------------------------------------------------- groups */

VFIOSIM_EXPORT int vfiosim_iommu_group_alloc(struct vfiosim_iommu *iommu,
					     struct vfiosim_iommu_group **out)
{
	struct vfiosim_iommu_group *g;
	int rc;

	if (!iommu || !out || iommu->destroyed)
		return -EINVAL;
	g = vfiosim_zalloc(iommu->w, sizeof(*g), "iommu.alloc");
	if (!g)
		return -ENOMEM;
	rc = domain_new(iommu, VFIOSIM_IOMMU_DOMAIN_DMA, &g->default_domain);
	if (rc) {
		vfiosim_free(iommu->w, g);
		return rc;
	}
	rc = sync_mutex_init(iommu->w, &g->mutex, "iommu_group->mutex",
			     __FILE__, __LINE__);
	if (rc) {
		domain_unlink_free(g->default_domain);
		vfiosim_free(iommu->w, g);
		return rc;
	}
	g->iommu = iommu;
	g->domain = g->default_domain;
	g->default_domain->ngroups = 1;
	hw_lock(iommu);
	g->id = iommu->next_group++;
	if (!iommu->groups) {
		iommu->groups = g;
	} else {
		struct vfiosim_iommu_group *t = iommu->groups;

		while (t->next)
			t = t->next;
		t->next = g;
		g->prev = t;
	}
	hw_unlock(iommu);
	*out = g;
	return 0;
}

VFIOSIM_EXPORT int vfiosim_iommu_group_free(struct vfiosim_iommu_group *g)
{
	struct vfiosim_iommu *iommu;

	if (!g)
		return 0;
	iommu = g->iommu;
	vfiosim_mutex_lock(&g->mutex);
	if (g->ndevices || g->domain != g->default_domain) {
		vfiosim_mutex_unlock(&g->mutex);
		return -EBUSY;
	}
	vfiosim_mutex_unlock(&g->mutex);
	sync_mutex_destroy(&g->mutex);
	hw_lock(iommu);
	if (g->prev)
		g->prev->next = g->next;
	else
		iommu->groups = g->next;
	if (g->next)
		g->next->prev = g->prev;
	hw_unlock(iommu);
	g->default_domain->ngroups = 0;
	domain_unlink_free(g->default_domain);
	vfiosim_free(iommu->w, g);
	return 0;
}

VFIOSIM_EXPORT int vfiosim_iommu_group_id(const struct vfiosim_iommu_group *g)
{
	return g ? (int)g->id : -EINVAL;
}

VFIOSIM_EXPORT struct vfiosim_iommu_domain *
vfiosim_iommu_group_default_domain(const struct vfiosim_iommu_group *g)
{
	return g ? g->default_domain : NULL;
}

VFIOSIM_EXPORT struct vfiosim_iommu_domain *
vfiosim_iommu_group_domain(const struct vfiosim_iommu_group *g)
{
	struct vfiosim_iommu_domain *d;

	if (!g)
		return NULL;
	hw_lock(g->iommu);
	d = g->domain;
	hw_unlock(g->iommu);
	return d;
}

VFIOSIM_EXPORT unsigned int
vfiosim_iommu_group_device_count(const struct vfiosim_iommu_group *g)
{
	unsigned int n;

	if (!g)
		return 0;
	hw_lock(g->iommu);
	n = g->ndevices;
	hw_unlock(g->iommu);
	return n;
}

VFIOSIM_EXPORT int
vfiosim_iommu_group_resv_regions(const struct vfiosim_iommu_group *g,
				 struct vfiosim_iommu_range *out,
				 unsigned int max)
{
	const struct vfiosim_iommu_config *c;
	struct vfiosim_iommu_range tmp[VFIOSIM_IOMMU_MAX_RESV];
	unsigned int n;

	if (!g || (!out && max))
		return -EINVAL;
	c = &g->iommu->cfg;
	n = c->nresv;
	memcpy(tmp, c->resv, sizeof(tmp[0]) * n);
	/* Insertion sort by start: at most 8 entries. */
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j && tmp[j - 1].start > tmp[j].start;
		     j--) {
			struct vfiosim_iommu_range x = tmp[j];

			tmp[j] = tmp[j - 1];
			tmp[j - 1] = x;
		}
	for (unsigned int i = 0; i < n && i < max; i++)
		out[i] = tmp[i];
	return (int)n;
}

static void group_set_domain(struct vfiosim_iommu_group *g,
			     struct vfiosim_iommu_domain *d)
{
	vfiosim_lockdep_assert_held(&g->mutex);
	hw_lock(g->iommu);
	g->domain->ngroups--;
	for (struct vfiosim_iommu_device *dev = g->devices; dev;
	     dev = dev->next)
		dev->domain = d;
	g->domain = d;
	d->ngroups++;
	hw_unlock(g->iommu);
}

VFIOSIM_EXPORT int vfiosim_iommu_attach_group(struct vfiosim_iommu_domain *d,
					      struct vfiosim_iommu_group *g)
{
	int rc = 0;

	if (!d || !g || d->type != VFIOSIM_IOMMU_DOMAIN_UNMANAGED)
		return -EINVAL;
	if (d->iommu != g->iommu)
		return -EMEDIUMTYPE;
	vfiosim_mutex_lock(&g->mutex);
	if (g->domain != g->default_domain)
		rc = -EBUSY;
	else if (vfiosim_fault(g->iommu->w, "iommu.attach"))
		rc = -ENOMEM;
	else
		group_set_domain(g, d);
	vfiosim_mutex_unlock(&g->mutex);
	if (!rc)
		vfiosim_trace_note(g->iommu->w, "attach group %u -> domain %u",
				   g->id, d->id);
	return rc;
}

VFIOSIM_EXPORT int vfiosim_iommu_detach_group(struct vfiosim_iommu_domain *d,
					      struct vfiosim_iommu_group *g)
{
	int rc = 0;

	if (!d || !g)
		return -EINVAL;
	vfiosim_mutex_lock(&g->mutex);
	if (g->domain != d || d == g->default_domain)
		rc = -EINVAL;
	else
		group_set_domain(g, g->default_domain);
	vfiosim_mutex_unlock(&g->mutex);
	if (!rc)
		vfiosim_trace_note(g->iommu->w,
				   "detach group %u from domain %u", g->id,
				   d->id);
	if (rc)
		vfiosim_fail_at(g->iommu->w, VFIOSIM_FAIL_WARN, __FILE__,
				__LINE__,
				"iommu_detach_group: group %u is not attached "
				"to domain %u",
				g->id, d->id);
	return rc;
}

/* -------------------------------------------------------------- devices */

VFIOSIM_EXPORT int vfiosim_iommu_probe_device(struct vfiosim_iommu_group *g,
					      const char *name,
					      struct vfiosim_iommu_device **out)
{
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_device *dev, **pp;

	if (!g || !name || !out)
		return -EINVAL;
	iommu = g->iommu;
	dev = vfiosim_zalloc(iommu->w, sizeof(*dev), "iommu.alloc");
	if (!dev)
		return -ENOMEM;
	dev->iommu = iommu;
	dev->group = g;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	vfiosim_mutex_lock(&g->mutex);
	hw_lock(iommu);
	dev->rid = iommu->next_rid++;
	snprintf(dev->requester, sizeof(dev->requester), "00:%02x.0",
		 dev->rid & 0xff);
	dev->domain = g->domain;
	for (pp = &g->devices; *pp; pp = &(*pp)->next)
		;
	*pp = dev;
	g->ndevices++;
	hw_unlock(iommu);
	vfiosim_mutex_unlock(&g->mutex);
	*out = dev;
	return 0;
}

VFIOSIM_EXPORT int
vfiosim_iommu_release_device(struct vfiosim_iommu_device *dev)
{
	struct vfiosim_iommu_group *g;
	struct vfiosim_iommu_device **pp;

	if (!dev)
		return -EINVAL;
	g = dev->group;
	if (!g)
		return -ENODEV;
	vfiosim_mutex_lock(&g->mutex);
	if (dev->released) {
		vfiosim_mutex_unlock(&g->mutex);
		return -ENODEV;
	}
	hw_lock(dev->iommu);
	for (pp = &g->devices; *pp && *pp != dev; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = dev->next;
	dev->next = NULL;
	g->ndevices--;
	dev->domain = NULL;
	dev->released = true;
	dev->group = NULL;
	hw_unlock(dev->iommu);
	vfiosim_mutex_unlock(&g->mutex);
	return 0;
}

VFIOSIM_EXPORT struct vfiosim_iommu_group *
vfiosim_iommu_device_group(const struct vfiosim_iommu_device *dev)
{
	return dev ? dev->group : NULL;
}

VFIOSIM_EXPORT const char *
vfiosim_iommu_device_name(const struct vfiosim_iommu_device *dev)
{
	return dev ? dev->name : "-";
}

/* ----------------------------------------------------------- translation */

static const char *reason_text(unsigned int reason)
{
	switch (reason) {
	case VFIOSIM_DMA_FAULT_NO_CONTEXT:
		return "Present bit in context entry is clear";
	case VFIOSIM_DMA_FAULT_BEYOND_AW:
		return "Access beyond MGAW";
	case VFIOSIM_DMA_FAULT_NO_WRITE:
		return "PTE Write access is not set";
	case VFIOSIM_DMA_FAULT_NO_READ:
		return "PTE Read access is not set";
	case VFIOSIM_DMA_FAULT_INTR:
		return "Interrupt request in the MSI window";
	}
	return "Unknown";
}

static void log_fault(struct vfiosim_iommu_device *idev, uint64_t iova,
		      bool write, bool present, unsigned int reason)
{
	struct vfiosim_iommu *iommu = idev->iommu;
	struct vfiosim_dma_fault *f;

	iommu->st.faults++;
	if (iommu->nfaults == iommu->faults_cap) {
		size_t cap = iommu->faults_cap ? iommu->faults_cap * 2 : 16;
		void *n = realloc(iommu->faults, cap * sizeof(*iommu->faults));

		if (!n)
			return; /* the log is lossy, like the hardware's */
		iommu->faults = n;
		iommu->faults_cap = cap;
	}
	f = &iommu->faults[iommu->nfaults++];
	memset(f, 0, sizeof(*f));
	snprintf(f->device, sizeof(f->device), "%s", idev->name);
	snprintf(f->requester, sizeof(f->requester), "%s", idev->requester);
	f->iova = iova;
	f->write = write;
	f->present = present;
	f->reason = reason;
	f->domain_id = idev->domain ? idev->domain->id : 0;
	f->time = vfiosim_now(iommu->w);
	snprintf(f->line, sizeof(f->line),
		 "DMAR: [DMA %s NO_PASID] Request device [%s] fault addr "
		 "0x%llx [fault reason 0x%02x] %s (%s, domain %u)",
		 write ? "Write" : "Read", idev->requester,
		 (unsigned long long)iova, reason, reason_text(reason),
		 idev->name, f->domain_id);
}

int iommu_translate(struct vfiosim_iommu_device *idev, struct iova addr,
		    bool write, struct iommu_xlate *x)
{
	uint64_t iova = addr.v;
	struct vfiosim_iommu *iommu = idev->iommu;
	struct vfiosim_iommu_domain *d = idev->domain;
	const struct vfiosim_iommu_range *r;
	struct iotlb_entry *e;
	unsigned int level = 0, reason;
	uint64_t *pte, size;

	iommu_fq_poll(iommu);
	memset(x, 0, sizeof(*x));
	if (!d || idev->released) {
		log_fault(idev, iova, write, false,
			  VFIOSIM_DMA_FAULT_NO_CONTEXT);
		return -EFAULT;
	}
	if (iova > iommu->iova_last) {
		log_fault(idev, iova, write, false,
			  VFIOSIM_DMA_FAULT_BEYOND_AW);
		return -EFAULT;
	}
	r = resv_overlap(iommu, iova, iova);
	if (r && r->type == 1) {
		log_fault(idev, iova, write, false, VFIOSIM_DMA_FAULT_INTR);
		return -EFAULT;
	}
	x->did = d->id;
	x->dom_type = d->type;
	pte = pt_walk(d, addr, &level);
	e = iommu->cfg.iotlb_entries ? iotlb_find(iommu, d->id, iova) : NULL;
	if (e) {
		iommu->st.iotlb_hits++;
		x->phys = mk_paddr(e->phys + (iova - e->iova));
		x->leaf_last = mk_iova(e->iova + (e->size - 1));
		x->prot = e->prot;
		size = pte ? level_size(iommu, level) : 0;
		if (!pte || size != e->size ||
		    (*pte & PTE_ADDR_MASK) != e->phys ||
		    ((*pte & (PTE_R | PTE_W)) != e->prot)) {
			x->stale = true;
			iommu->st.iotlb_stale_hits++;
			pte = NULL;
		}
	} else {
		iommu->st.iotlb_misses++;
		if (!pte) {
			reason = write ? VFIOSIM_DMA_FAULT_NO_WRITE :
					 VFIOSIM_DMA_FAULT_NO_READ;
			log_fault(idev, iova, write, false, reason);
			return -EFAULT;
		}
		size = level_size(iommu, level);
		x->phys =
			mk_paddr((*pte & PTE_ADDR_MASK) + (iova & (size - 1)));
		x->leaf_last = mk_iova((iova & ~(size - 1)) + (size - 1));
		x->prot = (unsigned int)(*pte & (PTE_R | PTE_W));
		iotlb_fill(iommu, d->id, iova & ~(size - 1), size,
			   *pte & PTE_ADDR_MASK, x->prot);
	}
	if (write && !(x->prot & PTE_W)) {
		log_fault(idev, iova, write, true, VFIOSIM_DMA_FAULT_NO_WRITE);
		return -EACCES;
	}
	if (!write && !(x->prot & PTE_R)) {
		log_fault(idev, iova, write, true, VFIOSIM_DMA_FAULT_NO_READ);
		return -EACCES;
	}
	if (write && pte && iommu->cfg.dirty_tracking)
		*pte |= PTE_DIRTY;
	return 0;
}
