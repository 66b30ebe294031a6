/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mm_internal.h - the mm layer's private structures, for its own files and
 * for the layers above (iommu, vfio, dev, uapi) that need faster or lower-level
 * access than the public API gives.  Not installed.
 *
 * Where the mm layer keeps its state (sim has no per-world layer slot):
 *   - task->layer_data[0] is a struct mm_task (credentials and limits),
 *     created on first need; absent means "the config's defaults";
 *   - task->mm is the task's current struct vfiosim_mm (NULL until first
 *     use, NULL again after vfiosim_task_exit_mm());
 *   - the world's physical memory (struct mm_phys) hangs off the init
 *     task's struct mm_task, created on first use by mm_phys_get().
 * Layers above that free frames in their own teardown check must call
 * mm_phys_get() before sim_add_teardown(), so that their check runs before
 * the mm layer's (teardown runs newest first).
 *
 * Vocabulary: [start, end) has @end exclusive, [start, last] has @last
 * inclusive; pfn, vpn (virtual page number) and byte addresses are never
 * mixed in one variable.
 */
#ifndef VFIOSIM_MM_INTERNAL_H
#define VFIOSIM_MM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/tree.h>

#include <libvfiosim/mm.h>

#include "sim/sim_internal.h"
#include "sync/sync_internal.h"

/* ------------------------------------------------------ physical memory */

#define PHYS_MAX_ORDER 18u  /* largest block: 2^18 frames (1 GiB at 4 KiB) */
#define PHYS_CHUNK_SHIFT 9u /* 512 frames per chunk */
#define PHYS_CHUNK_FRAMES (1u << PHYS_CHUNK_SHIFT)
#define PHYS_SECT_SHIFT 18u /* 512 chunks per section */
#define PHYS_SECT_CHUNKS (1u << (PHYS_SECT_SHIFT - PHYS_CHUNK_SHIFT))
#define PHYS_SPARES 4u /* backings of emptied chunks kept for reuse */

/* Private frame flags, above the public enum vfiosim_page_flags. */
#define PHYS_USED \
	(1u << 11)	      /* handed out since the chunk's bytes were
			       * mapped: zero it on reuse */
#define PHYS_HOST (1u << 12)  /* bytes are the host process's memory */
#define PHYS_INUSE (1u << 13) /* allocated (head and tails) */
/* phys_alloc() only, never stored: the caller writes every byte of the
 * new page before anything reads it, so a reused frame need not be
 * zeroed first. */
#define PHYS_ALLOC_NOZERO (1u << 14)
/* A host frame whose real page the program unmapped while the frame was
 * still held: its bytes are now a copy the model owns (phys_host_keep()),
 * freed with the frame. */
#define PHYS_HOST_KEPT (1u << 15)

/*
 * Per-frame metadata: 16 bytes.  For a compound page, refcount, pin count
 * and who live on the head; tails only carry flags and order.  Pages of
 * order >= 9 have no per-frame metadata at all: one struct phys_huge stands
 * for every frame of the page.  A backed frame's bytes are at
 * chunk->bytes + index * page size, a host frame's at chunk->host[index].
 */
struct phys_page {
	union {
		struct {
			uint32_t ref; /* head: page_ref_count() */
			uint32_t pin; /* head: pins (FOLL_PIN) */
		};
		uint64_t refpin; /* both, for one-step pin and unpin */
	};
	uint16_t flags; /* enum vfiosim_page_flags | PHYS_* */
	uint16_t who;	/* thread id + 1 of the last taker, 0 = host */
	uint8_t order;	/* order of the compound page */
	uint8_t pad[3];
};

/* Added to refpin: one reference and one pin (little-endian layout). */
#define PHYS_REFPIN_ONE ((1ull << 32) | 1ull)
_Static_assert(sizeof(struct phys_page) == 16, "phys_page is 16 bytes");

/* A 512-frame chunk of per-frame metadata; exists while nlive > 0. */
struct phys_chunk {
	struct phys_page pg[PHYS_CHUNK_FRAMES];
	uint8_t *bytes; /* backing of the chunk's backed frames (mmap) */
	void **host;	/* bytes of host frames (PHYS_HOST), or NULL */
	uint32_t nlive; /* frames in use */
};

/* One compound page of order >= 9, standing for all of its frames. */
struct phys_huge {
	struct phys_page head;
	uint64_t head_pfn;
	uint8_t *bytes; /* backed: 2^order pages (mmap) */
	size_t bytes_len;
};

/* Slots are tagged: 0 = nothing, ptr = table, ptr | 1 = struct phys_huge. */
struct phys_section {
	uintptr_t chunk[PHYS_SECT_CHUNKS];
	uint32_t nused; /* non-zero slots */
};

struct phys_free {
	RB_ENTRY(phys_free) rb;
	uint64_t pfn;
};
RB_HEAD(phys_free_tree, phys_free);

struct phys_mmio {
	RB_ENTRY(phys_mmio) rb;
	uint64_t start, end; /* pfns, end exclusive */
};
RB_HEAD(phys_mmio_tree, phys_mmio);

struct vfiosim_mm;

/* Figures for vfiosim_phys_stats(). */
struct mm_phys {
	struct vfiosim_world *w;
	unsigned int page_shift;
	uint64_t page_size;
	uint64_t npages;
	uint64_t nsect;
	uintptr_t *sect; /* tagged, see struct phys_section */
	/* Buddy allocator: free blocks of each order, plus [wm, npages)
	 * that was never handed out. */
	struct phys_free_tree free[PHYS_MAX_ORDER + 1];
	uint64_t wm;
	struct phys_free *node_cache; /* singly linked through rb.rbe_left */
	struct phys_mmio_tree mmio;
	uint64_t zero_pfn; /* VFIOSIM_PFN_INVALID until first use */
	/* Statistics. */
	uint64_t frames_inuse; /* frames of allocated pages */
	uint64_t meta_bytes;   /* frame metadata (chunks, huge, sections) */
	uint64_t table_bytes;  /* mm page tables (counted here for bench) */
	uint64_t backed_bytes; /* host memory reserved for backed frames */
	uint64_t free_nodes;
	/* Host backing of chunks that emptied, kept for the next chunk that
	 * needs bytes (re-mapping would cost a host page fault a frame);
	 * used[] tells which frames were written (zeroed on reuse). */
	struct phys_spare {
		uint8_t *bytes;
		uint64_t used[PHYS_CHUNK_FRAMES / 64];
	} spare[PHYS_SPARES];
	unsigned int nspare;
	/* Every struct vfiosim_mm of the world, oldest first. */
	struct vfiosim_mm *mm_first, *mm_last;
	unsigned int next_mm_id;
	pthread_mutex_t lock; /* free-running mode: everything above */
};

/* The world's physical memory, created on first use (NULL on ENOMEM). */
struct mm_phys *mm_phys_get(struct vfiosim_world *w);

static inline void phys_lock(struct mm_phys *p)
{
	if (!sim_deterministic(p->w))
		pthread_mutex_lock(&p->lock);
}

static inline void phys_unlock(struct mm_phys *p)
{
	if (!sim_deterministic(p->w))
		pthread_mutex_unlock(&p->lock);
}

/* Where a frame's metadata lives (phys_lookup()). */
struct phys_ref {
	struct phys_page *head; /* the (compound) page's head metadata */
	struct phys_page *pg;	/* the frame's own metadata, or NULL (huge) */
	struct phys_huge *huge; /* order >= 9 */
	struct phys_chunk *chunk;
	uint64_t head_pfn;
	unsigned int order;
};

/* Caller holds phys_lock.  False if the frame has no metadata. */
bool phys_lookup(struct mm_phys *p, uint64_t pfn, struct phys_ref *r);
/* Allocate with the "mm.phys_alloc" fault point; caller holds no lock. */
int phys_alloc(struct mm_phys *p, unsigned int order, unsigned int flags,
	       uint64_t *pfn);
/*
 * The real page behind host frame @pfn (found as @r) is about to go while
 * the frame is still held: give the frame a copy of the page's bytes as it
 * is now, owned by the model, as the kernel keeps a pinned page alive
 * after munmap().  Nothing for other frames or one already kept.  Lock
 * held.
 */
void phys_host_keep(struct mm_phys *p, struct phys_ref *r, uint64_t pfn);
/* Drop one reference of a page found by phys_lookup (lock held). */
void phys_put_locked(struct mm_phys *p, struct phys_ref *r);
/* Free a page whose refcount reached zero (lock held). */
void phys_free_page_locked(struct mm_phys *p, struct phys_ref *r);
/* The shared zero page (allocated on first use). */
int phys_zero_pfn(struct mm_phys *p, uint64_t *pfn);
bool phys_is_mmio(struct mm_phys *p, uint64_t pfn);
/* The bytes of frame @pfn of a page found by phys_lookup. */
void *phys_frame_bytes(struct mm_phys *p, const struct phys_ref *r,
		       uint64_t pfn);
/* Make a frame's bytes the host memory at @bytes (lock held). */
int phys_set_host_bytes(struct mm_phys *p, uint64_t pfn, void *bytes);
/* Thread id + 1 of the caller, 0 outside simulated threads. */
uint16_t phys_who(struct vfiosim_world *w);

/* -------------------------------------------------------- address spaces */

/* Page tables: 512 entries a level, enough levels for 47 bits of VA. */
#define PT_ENTRIES 512u
#define PT_SHIFT 9u

static inline unsigned int pt_levels(const struct mm_phys *p)
{
	unsigned int bits = 47 - p->page_shift;

	return (bits + PT_SHIFT - 1) / PT_SHIFT;
}

enum mm_vma_kind {
	VMA_ANON = 0, /* private anonymous */
	VMA_SHARED,   /* shared anonymous (shmem): no zero page */
	VMA_HUGE,     /* hugetlb, order vma->order */
	VMA_PFNMAP,   /* VM_IO | VM_PFNMAP: device frames, no struct page */
};

struct mm_vma {
	RB_ENTRY(mm_vma) rb;
	uint64_t start, end; /* bytes, end exclusive */
	unsigned int prot;   /* VFIOSIM_PROT_* */
	unsigned int kind;   /* enum mm_vma_kind */
	unsigned int order;  /* VMA_HUGE: page order; VMA_PFNMAP: map level */
	bool unbacked;	     /* faulted pages get metadata-only frames */
	uint64_t pfn;	     /* VMA_PFNMAP: pfn at start */
};
RB_HEAD(mm_vma_tree, mm_vma);

/*
 * struct vfiosim_mm - mm_struct.
 *
 * Locking: @vmas, @pgd and page-table contents, @locked_vm: mmap_lock
 * (read to look, write to change the VMA set or locked_vm).  Faulting a page
 * in under the read lock changes the page table: in free-running mode that
 * is serialised by @ptl (page_table_lock); in deterministic mode a fault
 * contains no scheduling point.  @users, @count: phys lock.
 */
struct vfiosim_mm {
	struct vfiosim_world *w;
	struct mm_phys *phys;
	unsigned int id;
	unsigned long users; /* mm_users: address space alive while > 0 */
	unsigned long count; /* mm_count: struct alive while > 0 */
	struct vfiosim_rwsem mmap_lock;
	pthread_mutex_t ptl;
	struct mm_vma_tree vmas;
	uint64_t *pgd;
	uint64_t locked_vm; /* pages */
	uint64_t nr_ptes;   /* pages mapped by present leaves (any level) */
	bool host;
	bool dead; /* address space torn down */
	char owner_name[SIM_NAME_MAX];
	struct vfiosim_mm *prev, *next; /* phys->mm_first list */
};

/* Per-task credentials and limits (task->layer_data[0]). */
struct mm_task {
	struct mm_phys *phys; /* init task only */
	uint64_t rlimit_memlock;
	bool cap_ipc_lock;
	bool fatal_signal;
	bool exited;	/* vfiosim_task_exit_mm() ran */
	bool phys_gone; /* init task: world memory torn down */
};

struct mm_task *mm_task_data(struct vfiosim_task *t, bool create);
/* current: the running thread's task, the init task outside threads. */
struct vfiosim_task *mm_current_task(struct vfiosim_world *w);

/* Page table (mm.c). */
#define PTE_PRESENT 1ull
static inline uint64_t pte_mk(uint64_t pfn)
{
	return (pfn << 1) | PTE_PRESENT;
}
static inline uint64_t pte_pfn(uint64_t e)
{
	return e >> 1;
}
/* The leaf entry mapping @vpn and the order of its page, or 0. */
uint64_t mm_pt_lookup(struct vfiosim_mm *mm, uint64_t vpn, unsigned int *order);
int mm_pt_set(struct vfiosim_mm *mm, uint64_t vpn, unsigned int order,
	      uint64_t pfn);
/* Clear leaves in [vpn, vpn_end), dropping the page references. */
void mm_pt_clear(struct vfiosim_mm *mm, uint64_t vpn, uint64_t vpn_end);
struct mm_vma *mm_find_vma(struct vfiosim_mm *mm, uint64_t addr);
void mm_lock_ptl(struct vfiosim_mm *mm);
void mm_unlock_ptl(struct vfiosim_mm *mm);
/* Fault the page at @addr of @vma in; returns the pfn of the 4K frame. */
int mm_fault(struct vfiosim_mm *mm, struct mm_vma *vma, uint64_t addr,
	     bool write, uint64_t *pfn);
/* Teardown of the address space (users reached 0). */
void mm_exit_mmap(struct vfiosim_mm *mm);
void mm_teardown_all(struct mm_phys *p);

/* host.c */
int mm_host_check(struct vfiosim_world *w);
/* find_vma() on the real mappings: the first region ending above @addr. */
int mm_host_region(struct vfiosim_mm *mm, uint64_t addr, uint64_t *start,
		   uint64_t *end, unsigned int *prot);
/* The region containing @addr if it allows the access: -EFAULT if not. */
int mm_host_resolve(struct vfiosim_mm *mm, uint64_t addr, bool write,
		    uint64_t *end, unsigned int *prot);
int mm_host_fault(struct vfiosim_mm *mm, uint64_t addr, uint64_t *pfn);

/* Assert mmap_lock is held when the caller is a simulated thread. */
void mm_assert_locked(struct vfiosim_mm *mm, bool write, const char *file,
		      int line);

#endif /* VFIOSIM_MM_INTERNAL_H */
