/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommu_internal.h - the iommu layer's structures, for its own files and
 * for the dev layer's DMA engine.  Not installed.
 *
 * Locking (what protects what):
 *   - iommu->hw_lock (a host mutex, taken only in free-running mode; in
 *     deterministic mode nothing in this layer contains a scheduling point
 *     between reading and writing hardware state, so the scheduler's
 *     hand-off serialises it) protects everything the hardware owns: every
 *     domain's page table and counters, the domain and group lists, the
 *     IOTLB, the flush queue, the statistics and the fault log, and the
 *     context entries (idev->domain).  It is a leaf lock apart from the mm
 *     layer's phys lock, which may be taken inside it (table pages, frame
 *     checks of a DMA): order hw_lock -> phys lock -> world lock.
 *   - group->mutex (a vfiosim_mutex, so lockdep and the scheduler see it,
 *     like the kernel's group->mutex) serialises attach, detach, probe and
 *     release on the group: group->domain, group->devices and
 *     idev->released change only under it (and hw_lock for what the
 *     hardware reads).
 *   - Callers serialise map/unmap of overlapping ranges of one domain, as
 *     the kernel's callers must; the model still makes each call atomic.
 */
#ifndef VFIOSIM_IOMMU_INTERNAL_H
#define VFIOSIM_IOMMU_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <libvfiosim/iommu.h>
#include <libvfiosim/mm.h>

#include "sim/sim_internal.h"
#include "sync/sync_internal.h"

#define IOMMU_MAX_LEVELS 6

/*
 * Type-distinct addresses (design section 7): an IOVA and a physical
 * address are different types at every internal interface, so passing one
 * for the other (pt_map(d, paddr, iova, ...)) does not compile.  Functions
 * unwrap them into locals for arithmetic.  Page frame numbers stay plain
 * uint64_t named *pfn, as in the mm layer's API.
 */
struct iova {
	uint64_t v;
};

struct paddr {
	uint64_t v;
};

static inline struct iova mk_iova(uint64_t v)
{
	return (struct iova){ v };
}

static inline struct paddr mk_paddr(uint64_t v)
{
	return (struct paddr){ v };
}

/*
 * Entry format, one uint64_t in the table page's bytes (little-endian host
 * order).  Modelled on VT-d second-level entries: R/W permission bits, a
 * page-size bit for leaves above level 0, a snoop bit, a dirty bit and the
 * physical address of the page or next table in bits 12..55.  An entry is
 * present when it is non-zero.
 */
#define PTE_R (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_TABLE (1ull << 2) /* points to a next-level table */
#define PTE_LEAF (1ull << 7)  /* maps a page (any level) */
#define PTE_DIRTY (1ull << 9)
#define PTE_SNP (1ull << 11)
#define PTE_ADDR_MASK 0x00fffffffffff000ull

/* A table page: the frame(s) holding its entries plus a software shadow. */
struct pt_table {
	uint64_t pfn;		 /* first frame of the table page */
	uint64_t *ent;		 /* its entries (the frame bytes) */
	struct pt_table **child; /* level > 0: child of each table entry */
	uint32_t nlive;		 /* present entries */
	uint8_t level;		 /* 0 = smallest pages */
};

/*
 * Field tags: [const] set at creation, [hw] iommu->hw_lock, [grp]
 * group->mutex (and [hw] too where the hardware reads it).
 */
struct vfiosim_iommu_domain {
	struct vfiosim_iommu *iommu; /* [const] */
	unsigned int type;	     /* [const] */
	unsigned int id;	     /* [const] DID, never reused */
	struct pt_table *root;	     /* [hw] */
	uint64_t mapped_bytes;	     /* [hw] */
	uint64_t leaves;	     /* [hw] */
	uint64_t table_pages;	     /* [hw] */
	unsigned int ngroups;	     /* [grp]+[hw] */
	struct vfiosim_iommu_domain *prev, *next; /* [hw] iommu->domains */
};

struct iotlb_entry {
	uint64_t iova; /* leaf base */
	uint64_t size;
	uint64_t phys;
	uint64_t lru;
	unsigned int did;
	unsigned int prot;
	bool valid;
};

struct fq_entry {
	unsigned int did;
	uint64_t start, last;
};

struct vfiosim_iommu_device {
	struct vfiosim_iommu *iommu;	   /* [const] */
	struct vfiosim_iommu_group *group; /* [grp]+[hw]; NULL once released */
	struct vfiosim_iommu_domain *domain; /* [grp]+[hw] context entry */
	unsigned int rid;		     /* [const] requester id */
	bool released;			     /* [grp]+[hw] */
	char name[32];			     /* [const] */
	char requester[16];		     /* [const] */
	struct vfiosim_iommu_device *next;   /* [grp]+[hw] group->devices */
};

struct vfiosim_iommu_group {
	struct vfiosim_iommu *iommu;		     /* [const] */
	unsigned int id;			     /* [const] */
	struct vfiosim_mutex mutex;		     /* iommu_group->mutex */
	struct vfiosim_iommu_domain *default_domain; /* [const] */
	struct vfiosim_iommu_domain *domain;	     /* [grp]+[hw] */
	struct vfiosim_iommu_device *devices;	     /* [grp]+[hw] */
	unsigned int ndevices;			     /* [grp]+[hw] */
	struct vfiosim_iommu_group *prev, *next;     /* [hw] iommu->groups */
};

struct vfiosim_iommu {
	struct vfiosim_world *w;
	struct vfiosim_iommu_config cfg;
	pthread_mutex_t hw_lock;
	bool destroyed;

	/* Geometry ([const]). */
	unsigned int page_shift;    /* CPU page */
	unsigned int granule_shift; /* IO page = table page */
	unsigned int bits;	    /* index bits per level */
	unsigned int levels;
	unsigned int table_order; /* frames per table page, as an order */
	uint64_t iova_last;	  /* 2^addr_width - 1 */
	uint64_t leaf_ok;	  /* bit L: level L may hold leaves */

	/* Everything below: [hw]. */

	struct vfiosim_iommu_domain *domains; /* all, creation order */
	struct vfiosim_iommu_group *groups;
	unsigned int next_did, next_group, next_rid;

	struct iotlb_entry *iotlb;
	unsigned int iotlb_live; /* valid entries */
	uint64_t lru_clock;

	struct fq_entry *fq;
	unsigned int fq_n;
	uint64_t fq_first_ns;

	struct vfiosim_dma_fault *faults;
	size_t nfaults, faults_cap;

	struct vfiosim_iommu_stats st;
};

static inline void hw_lock(struct vfiosim_iommu *iommu)
{
	if (!sim_deterministic(iommu->w))
		pthread_mutex_lock(&iommu->hw_lock);
}

static inline void hw_unlock(struct vfiosim_iommu *iommu)
{
	if (!sim_deterministic(iommu->w))
		pthread_mutex_unlock(&iommu->hw_lock);
}

static inline uint64_t level_size(const struct vfiosim_iommu *iommu,
				  unsigned int level)
{
	return 1ull << (iommu->granule_shift + level * iommu->bits);
}

/* pgtable.c (hw_lock held) */
/* A new table; @filled: the caller writes all its entries at once, so a
 * reused frame need not be zeroed first. */
int pt_table_new(struct vfiosim_iommu_domain *d, unsigned int level,
		 bool filled, struct pt_table **out);
void pt_table_free(struct vfiosim_iommu_domain *d, struct pt_table *t);
/* Map; on failure *mapped bytes from @iova are mapped (caller unwinds). */
int pt_map(struct vfiosim_iommu_domain *d, struct iova iova, struct paddr paddr,
	   uint64_t size, uint64_t pte_flags, uint64_t *mapped);
/*
 * Unmap leaves touching [iova, last]; stops at the first hole (returns its
 * IOVA in *hole, else UINT64_MAX).  Adds removed ranges to @g if non-NULL.
 */
uint64_t pt_unmap(struct vfiosim_iommu_domain *d, struct iova iova,
		  struct iova last, uint64_t *hole,
		  struct vfiosim_iotlb_gather *g, uint64_t *whole_supers);
/*
 * Call @fn for every present leaf overlapping [iova, last], in IOVA order,
 * skipping empty subtrees.  @fn gets the leaf's first IOVA, its size and
 * its entry (which it may modify, but not clear).
 */
void pt_for_each_leaf(struct vfiosim_iommu_domain *d, struct iova iova,
		      struct iova last,
		      void (*fn)(void *arg, uint64_t leaf_iova, uint64_t size,
				 uint64_t *pte),
		      void *arg);
/* The leaf entry for @iova: returns a pointer to it (or NULL). */
uint64_t *pt_walk(struct vfiosim_iommu_domain *d, struct iova iova,
		  unsigned int *level);
/*
 * Where @iova maps (*@phys) and for how many bytes from it, at most @len,
 * the physical address follows the IOVA (*@run).  0 or -ENOENT.
 */
int pt_lookup_run(struct vfiosim_iommu_domain *d, uint64_t iova, uint64_t len,
		  uint64_t *phys, uint64_t *run);
/* Free every table (leaves dropped without checks). */
void pt_destroy(struct vfiosim_iommu_domain *d);

/* iommu.c */
struct iommu_xlate {
	struct paddr phys;     /* of the iova asked for */
	struct iova leaf_last; /* last IOVA of the leaf (inclusive) */
	unsigned int prot;
	unsigned int dom_type;
	unsigned int did;
	bool stale; /* IOTLB hit that the page table no longer backs */
};
/*
 * Translate one access of the device (hw_lock held).  On a fault the fault
 * is logged and -EFAULT / -EACCES returned.
 */
int iommu_translate(struct vfiosim_iommu_device *idev, struct iova iova,
		    bool write, struct iommu_xlate *x);

#endif /* VFIOSIM_IOMMU_INTERNAL_H */
