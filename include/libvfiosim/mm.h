/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/mm.h - simulated physical memory and address spaces.
 *
 * Vocabulary: a pfn is a page frame number of the CPU page size
 * (vfiosim_config.mm.page_shift); "order" n means 2^n contiguous frames
 * (order 9 is a 2 MiB huge page with 4 KiB pages, order 18 a 1 GiB one).
 * Ranges are [start, last] with @last inclusive, or [start, end) with @end
 * exclusive, and the names say which.
 *
 * The model is Linux 6.1's: struct page refcounts and FOLL_PIN pins, the
 * zero page, compound pages, VMAs under mmap_lock, pin_user_pages_remote(),
 * account_locked_vm().  Every function returns 0, a count or a negative
 * errno; a bad argument changes nothing.  Functions that need mmap_lock
 * take it, or say "caller holds mmap_lock"; called from outside the
 * world's simulated threads (test set-up while the world is not running)
 * they take and check no lock.  The user guide is docs/memory.md.
 */
#ifndef LIBVFIOSIM_MM_H
#define LIBVFIOSIM_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvfiosim/sim.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ physical frames */

#define VFIOSIM_PFN_INVALID UINT64_MAX

/**
 * enum vfiosim_page_flags - what a frame is.
 * @VFIOSIM_PAGE_BACKED: the frame owns bytes (vfiosim_page_bytes() works);
 *	DMA data through it is real.
 * @VFIOSIM_PAGE_RESERVED: PageReserved(): never freed, never accounted.
 * @VFIOSIM_PAGE_MMIO: device memory without a struct page (pfn_valid() is
 *	false in the kernel); refcounts do not apply.
 * @VFIOSIM_PAGE_ZERO: the shared zero page.
 * @VFIOSIM_PAGE_HEAD: first frame of a compound (huge) page.
 * @VFIOSIM_PAGE_TAIL: a later frame of a compound page; refcounts live on
 *	the head.
 * @VFIOSIM_PAGE_DIRTY: PageDirty(): written through a mapping, or
 *	released by vfiosim_unpin_user_pages_dirty_lock() with @make_dirty.
 * @VFIOSIM_PAGE_HOST: a frame of a host mm (vfiosim_mm_host()) whose bytes
 *	are the calling process's own memory.
 */
enum vfiosim_page_flags {
	VFIOSIM_PAGE_BACKED = 1u << 0,
	VFIOSIM_PAGE_RESERVED = 1u << 1,
	VFIOSIM_PAGE_MMIO = 1u << 2,
	VFIOSIM_PAGE_ZERO = 1u << 3,
	VFIOSIM_PAGE_HEAD = 1u << 4,
	VFIOSIM_PAGE_TAIL = 1u << 5,
	VFIOSIM_PAGE_DIRTY = 1u << 6,
	VFIOSIM_PAGE_HOST = 1u << 7,
};

/**
 * struct vfiosim_page_info - a frame's metadata, as vfiosim_page_query()
 * reports it.
 * @refcount: page_ref_count() of the (head) page; 0 = free.
 * @pincount: pins taken by vfiosim_pin_user_pages() and not yet released.
 * @flags: enum vfiosim_page_flags.
 * @order: order of the compound page the frame belongs to (0 if none).
 * @head_pfn: pfn of that compound page's head (the frame itself if none).
 */
struct vfiosim_page_info {
	unsigned long refcount;
	unsigned long pincount;
	unsigned int flags;
	unsigned int order;
	uint64_t head_pfn;
};

/**
 * vfiosim_phys_alloc() - allocate 2^@order contiguous frames as one
 * (compound, if @order > 0) page with refcount 1.
 * @w: the world.
 * @order: 0 .. 18 (with 4 KiB pages); the block is naturally aligned.
 * @flags: VFIOSIM_PAGE_BACKED for frames with bytes (zeroed), 0 for
 *	metadata-only frames; optionally | VFIOSIM_PAGE_RESERVED (a page that
 *	is never freed and never accounted: its baseline refcount is 1).
 * @pfn: the first frame.
 *
 * Lowest free block first; allocation is O(log n) in the number of free
 * blocks whatever the order (an order-18 page does no per-frame work).
 * Fault point "mm.phys_alloc".
 *
 * Return: 0, -EINVAL (bad order, flags or NULL @pfn; or an invalid
 * vfiosim_mm_config), -ENOMEM (no free block or injected failure).
 */
int vfiosim_phys_alloc(struct vfiosim_world *w, unsigned int order,
		       unsigned int flags, uint64_t *pfn);

/**
 * vfiosim_page_get() - get_page(): take a reference on the page of @pfn.
 * @w: the world.
 * @pfn: any frame of the page (a tail frame refers to its head).
 *
 * Return: 0, -EINVAL for a pfn outside memory or an MMIO frame (no struct
 * page), -ENOENT for a free frame, -EOVERFLOW if the count would overflow.
 */
int vfiosim_page_get(struct vfiosim_world *w, uint64_t pfn);

/**
 * vfiosim_page_put() - put_page(): drop a reference; the page is freed
 * when the count reaches zero.
 * @w: the world.
 * @pfn: any frame of the page.
 *
 * Dropping a reference that a pin holds (refcount would fall to the pin
 * count) or freeing a reserved page is a BUG failure and changes nothing.
 *
 * Return: 0, -EINVAL for a pfn outside memory or an MMIO frame, -ENOENT for
 * a free frame.
 */
int vfiosim_page_put(struct vfiosim_world *w, uint64_t pfn);

/**
 * vfiosim_page_query() - read a frame's metadata without touching it.
 * @w: the world.
 * @pfn: the frame.
 * @info: filled in; a free frame reads as all zero (flags
 *	VFIOSIM_PAGE_MMIO if it was declared device memory).
 *
 * Return: 0, -EINVAL for a pfn outside memory or a NULL @info.
 */
int vfiosim_page_query(struct vfiosim_world *w, uint64_t pfn,
		       struct vfiosim_page_info *info);

/**
 * vfiosim_page_bytes() - the bytes of a backed frame (page size long).
 * @w: the world.
 * @pfn: the frame (a tail frame of a compound page gives its own bytes).
 *
 * For a frame of a host mm the pointer is the real virtual address in the
 * calling process.
 *
 * Return: a pointer valid until the frame is freed, or NULL for an unbacked,
 * free or MMIO frame or a pfn outside memory.
 */
void *vfiosim_page_bytes(struct vfiosim_world *w, uint64_t pfn);

/**
 * vfiosim_phys_add_mmio() - declare [@pfn, @pfn + @npages) device memory
 * (no struct page), for PFNMAP mappings and BARs.
 * @w: the world.
 * @pfn: first frame.
 * @npages: frames.
 *
 * The range is taken out of the allocator.  Pfns at or above
 * vfiosim_phys_npages() need no declaration: they have no struct page
 * either (pfn_valid() is false), so a BAR can simply live there.
 *
 * Return: 0, -EINVAL (empty, outside memory, or overlapping allocated
 * frames or an earlier MMIO range), -ENOMEM.
 */
int vfiosim_phys_add_mmio(struct vfiosim_world *w, uint64_t pfn,
			  uint64_t npages);

/**
 * vfiosim_pfn_invalid_or_reserved() - type1's is_invalid_reserved_pfn():
 * true if @pfn has no struct page (MMIO, or past the end of memory) or its
 * page is reserved (which includes the zero page).  Such frames are never
 * reference counted or charged to locked_vm by type1.
 * @w: the world.
 * @pfn: the frame.
 *
 * Return: the predicate (true also if the world's memory cannot be set up).
 */
bool vfiosim_pfn_invalid_or_reserved(struct vfiosim_world *w, uint64_t pfn);

/**
 * vfiosim_pfn_reserved_run() - vfiosim_pfn_invalid_or_reserved() for a run
 * of frames: the answer for @pfn and how many frames from @pfn give the
 * same answer, so that a loop over many frames asks once per run.
 * @w: the world.
 * @pfn: first frame.
 * @max: the most frames to look at.
 * @rsvd: out, the answer for @pfn (and for every frame of the run).
 *
 * The run is as long as possible: a shorter run than @max ends just before
 * a frame that answers differently.  With no memory (NULL @w, or a
 * configuration it cannot be set up from) every frame answers true, as
 * vfiosim_pfn_invalid_or_reserved() does, and the run is @max.
 *
 * Return: the run length, between 1 and @max; 0 if @max is 0 or @rsvd is
 * NULL (then *@rsvd is untouched).
 */
uint64_t vfiosim_pfn_reserved_run(struct vfiosim_world *w, uint64_t pfn,
				  uint64_t max, bool *rsvd);

/**
 * vfiosim_phys_npages() - frames of simulated physical memory.
 * @w: the world.
 *
 * Return: the count, 0 if the memory cannot be set up (invalid config).
 */
uint64_t vfiosim_phys_npages(const struct vfiosim_world *w);

/**
 * struct vfiosim_phys_stats - what the physical memory costs.
 * @frames_inuse: frames of allocated pages.
 * @meta_bytes: host bytes of per-frame metadata (chunks, sections, huge
 *	page descriptors); 0 when nothing is allocated.
 * @fixed_bytes: host bytes paid once per world (the section index).
 * @table_bytes: host bytes of all mms' page tables.
 * @backed_bytes: host address space reserved for backed frames' bytes
 *	(filled lazily by the host kernel); the backings of up to four
 *	emptied 512-frame chunks, kept for reuse until the world ends, are
 *	not counted.
 * @free_blocks: nodes of the allocator's free lists.
 * @high_water_pfn: frames at or above this were never handed out.
 */
struct vfiosim_phys_stats {
	uint64_t frames_inuse;
	uint64_t meta_bytes;
	uint64_t fixed_bytes;
	uint64_t table_bytes;
	uint64_t backed_bytes;
	uint64_t free_blocks;
	uint64_t high_water_pfn;
};

/**
 * vfiosim_phys_stats() - read the physical memory's figures.
 * @w: the world.
 * @st: filled in.
 *
 * Return: 0, -EINVAL (NULL @st, invalid config), -ENOMEM.
 */
int vfiosim_phys_stats(struct vfiosim_world *w, struct vfiosim_phys_stats *st);

/**
 * vfiosim_page_size() - the CPU page size of @w.
 * @w: the world.
 *
 * Return: bytes (1 << vfiosim_config.mm.page_shift), 0 for NULL.
 */
uint64_t vfiosim_page_size(const struct vfiosim_world *w);

/* ---------------------------------------------------- tasks: credentials */

/** VFIOSIM_RLIM_INFINITY - RLIM_INFINITY: no limit. */
#define VFIOSIM_RLIM_INFINITY UINT64_MAX

/**
 * enum vfiosim_rlimit - resource limits a task carries (numbered as Linux's
 * RLIMIT_*).
 * @VFIOSIM_RLIMIT_MEMLOCK: RLIMIT_MEMLOCK, bytes of locked memory
 *	(default vfiosim_mm_config.memlock_limit).
 */
enum vfiosim_rlimit {
	VFIOSIM_RLIMIT_MEMLOCK = 8,
};

/**
 * enum vfiosim_cap - capabilities a task may have (numbered as Linux's).
 * @VFIOSIM_CAP_IPC_LOCK: CAP_IPC_LOCK, lock memory beyond RLIMIT_MEMLOCK
 *	(default vfiosim_mm_config.cap_ipc_lock).
 */
enum vfiosim_cap {
	VFIOSIM_CAP_IPC_LOCK = 14,
};

/**
 * vfiosim_task_set_rlimit() - setrlimit() for @task (soft = hard).
 * @task: the task.
 * @resource: enum vfiosim_rlimit.
 * @bytes: the limit, or VFIOSIM_RLIM_INFINITY.
 *
 * Return: 0, -EINVAL (NULL @task, unknown @resource), -ENOMEM.
 */
int vfiosim_task_set_rlimit(struct vfiosim_task *task, int resource,
			    uint64_t bytes);

/**
 * vfiosim_task_rlimit() - task_rlimit(): the current limit of @task.
 * @task: the task.
 * @resource: enum vfiosim_rlimit.
 *
 * Return: the limit in bytes; 0 for a NULL @task or unknown @resource.
 */
uint64_t vfiosim_task_rlimit(struct vfiosim_task *task, int resource);

/**
 * vfiosim_task_set_cap() - give or take a capability.
 * @task: the task.
 * @cap: enum vfiosim_cap.
 * @on: whether @task has it.
 *
 * Return: 0, -EINVAL (NULL @task, unknown @cap), -ENOMEM.
 */
int vfiosim_task_set_cap(struct vfiosim_task *task, int cap, bool on);

/**
 * vfiosim_task_capable() - has_capability(): whether @task has @cap.
 * @task: the task.
 * @cap: enum vfiosim_cap.
 *
 * Return: the predicate; false for NULL or an unknown capability.
 */
bool vfiosim_task_capable(struct vfiosim_task *task, int cap);

/**
 * vfiosim_capable() - capable(): whether the current task has @cap.
 * @w: the world; outside simulated threads its init task is "current".
 * @cap: enum vfiosim_cap.
 *
 * Return: the predicate.
 */
bool vfiosim_capable(struct vfiosim_world *w, int cap);

/**
 * vfiosim_task_kill() - send @task a fatal signal (SIGKILL): from now on
 * killable waits of its threads (vfiosim_mmap_write_lock_killable()) and
 * pins that must fault pages in (vfiosim_pin_user_pages()) fail with
 * -EINTR.
 * @task: the task.
 *
 * Return: 0, -EINVAL for NULL, -ENOMEM.
 */
int vfiosim_task_kill(struct vfiosim_task *task);

/**
 * vfiosim_fatal_signal_pending() - fatal_signal_pending(@task).
 * @task: the task.
 *
 * Return: the predicate.
 */
bool vfiosim_fatal_signal_pending(struct vfiosim_task *task);

/* --------------------------------------------------------- address spaces */

struct vfiosim_mm;
struct vfiosim_rwsem;

/** VFIOSIM_TASK_SIZE - user addresses are below 2^47 (x86-64, 4 levels). */
#define VFIOSIM_TASK_SIZE (1ull << 47)
/** VFIOSIM_MMAP_MIN_ADDR - vm.mmap_min_addr: lowest mappable address. */
#define VFIOSIM_MMAP_MIN_ADDR 0x10000ull
/** VFIOSIM_MMAP_BASE - mmap() without MAP_FIXED searches down from here. */
#define VFIOSIM_MMAP_BASE 0x7f0000000000ull

/* Protections, as PROT_*. */
#define VFIOSIM_PROT_NONE 0x0u
#define VFIOSIM_PROT_READ 0x1u
#define VFIOSIM_PROT_WRITE 0x2u
#define VFIOSIM_PROT_EXEC 0x4u

/* mmap() flags, with Linux's values; MAP_ANONYMOUS is implied. */
#define VFIOSIM_MAP_SHARED 0x01u
#define VFIOSIM_MAP_PRIVATE 0x02u
#define VFIOSIM_MAP_FIXED 0x10u
#define VFIOSIM_MAP_ANONYMOUS 0x20u
#define VFIOSIM_MAP_POPULATE 0x8000u
#define VFIOSIM_MAP_HUGETLB 0x40000u
#define VFIOSIM_MAP_FIXED_NOREPLACE 0x100000u
/** VFIOSIM_MAP_UNBACKED - simulator only: pages faulted into this mapping
 * are metadata-only frames (no bytes), for scale tests. */
#define VFIOSIM_MAP_UNBACKED 0x200000u
#define VFIOSIM_MAP_HUGE_SHIFT 26
/* Huge page sizes: page size << 9 and << 18 (2 MiB, 1 GiB at 4 KiB). */
#define VFIOSIM_MAP_HUGE_2MB (21u << VFIOSIM_MAP_HUGE_SHIFT)
#define VFIOSIM_MAP_HUGE_1GB (30u << VFIOSIM_MAP_HUGE_SHIFT)

/**
 * vfiosim_mm_create() - mm_alloc(): a new, empty address space with one
 * user, not attached to any task.
 * @w: the world.
 * @out: the mm; release with vfiosim_mmput().
 *
 * Fault point "mm.mm_alloc".
 *
 * Return: 0, -EINVAL (NULL argument or invalid memory config), -ENOMEM.
 */
int vfiosim_mm_create(struct vfiosim_world *w, struct vfiosim_mm **out);

/**
 * vfiosim_mm_host() - an mm that is the calling process's own memory.
 * @w: the world; its page size must be the host's.
 * @out: the mm; release with vfiosim_mmput().
 *
 * Its VMAs are the real mappings of this process (read from
 * /proc/self/maps at each lookup): a pointer from malloc() or mmap() can be
 * pinned, protections and holes are those of the real mapping, and each
 * real page touched gets a frame whose vfiosim_page_bytes() is the real
 * address, so a device DMA into the frame lands in the program's buffer.
 * vfiosim_mmap() and vfiosim_mprotect() are refused; vfiosim_munmap() only
 * forgets the model's frames of the range -- call it before the real
 * munmap(): a frame still held (pinned) keeps a copy of its page, as the
 * kernel keeps a pinned page alive.  See docs/memory.md for the
 * limitations.
 *
 * Return: 0, -EINVAL (NULL argument, page size differs from the host's),
 * -ENOMEM.
 */
int vfiosim_mm_host(struct vfiosim_world *w, struct vfiosim_mm **out);

/**
 * vfiosim_task_mm() - @task->mm: the task's address space, created empty on
 * first use.  No reference is taken.
 * @task: the task.
 *
 * Return: the mm, or NULL (NULL @task, the task has exited its mm, or
 * allocation failed).
 */
struct vfiosim_mm *vfiosim_task_mm(struct vfiosim_task *task);

/**
 * vfiosim_task_set_mm() - give @task the address space @mm (for example a
 * host mm from vfiosim_mm_host()), taking over the caller's reference; the
 * task's previous mm loses one user.
 * @task: the task.
 * @mm: an mm of the same world.
 *
 * Return: 0, -EINVAL (NULL, or @mm of another world), -ENOMEM.
 */
int vfiosim_task_set_mm(struct vfiosim_task *task, struct vfiosim_mm *mm);

/**
 * vfiosim_current_mm() - current->mm.
 * @w: the world; outside simulated threads its init task is "current".
 *
 * Return: as vfiosim_task_mm().
 */
struct vfiosim_mm *vfiosim_current_mm(struct vfiosim_world *w);

/**
 * vfiosim_get_task_mm() - get_task_mm(): @task's mm with a user reference.
 * @task: the task.
 *
 * Return: the mm (release with vfiosim_mmput()), or NULL if the task has
 * exited its mm (or its mm could not be created).
 */
struct vfiosim_mm *vfiosim_get_task_mm(struct vfiosim_task *task);

/** vfiosim_mmget() - mmget(): take a user reference on a live @mm. */
void vfiosim_mmget(struct vfiosim_mm *mm);

/**
 * vfiosim_mmget_not_zero() - mmget_not_zero().
 * @mm: an mm kept alive by vfiosim_mmgrab().
 *
 * Return: true and a user reference if the address space is still alive.
 */
bool vfiosim_mmget_not_zero(struct vfiosim_mm *mm);

/**
 * vfiosim_mmput() - mmput(): drop a user reference.  The last one tears the
 * address space down (every VMA unmapped, every page reference dropped; pins
 * keep their pages).  Dropping one that was not taken is a BUG failure.
 * @mm: the mm (NULL is ignored).
 */
void vfiosim_mmput(struct vfiosim_mm *mm);

/** vfiosim_mmgrab() - mmgrab(): keep the struct (not the address space). */
void vfiosim_mmgrab(struct vfiosim_mm *mm);

/** vfiosim_mmdrop() - mmdrop(): release vfiosim_mmgrab()'s reference. */
void vfiosim_mmdrop(struct vfiosim_mm *mm);

/**
 * vfiosim_mm_users() - atomic_read(&mm->mm_users).
 * @mm: the mm.
 *
 * Return: the count, 0 once the address space is gone.
 */
unsigned long vfiosim_mm_users(const struct vfiosim_mm *mm);

/**
 * vfiosim_mm_id() - a small number naming @mm in reports (1, 2, ... in
 * creation order).
 * @mm: the mm.
 *
 * Return: the id, 0 for NULL.
 */
unsigned int vfiosim_mm_id(const struct vfiosim_mm *mm);

/**
 * vfiosim_task_exec() - execve(): @task gets a new, empty mm; the old one
 * loses the task's reference and lives on while others hold it.
 * @task: the task.
 *
 * Fault point "mm.mm_alloc" (then nothing changes).
 *
 * Return: 0, -EINVAL (NULL), -ENOMEM.
 */
int vfiosim_task_exec(struct vfiosim_task *task);

/**
 * vfiosim_task_exit_mm() - exit_mm(): @task drops its mm for good.
 * @task: the task.
 *
 * Return: 0, -EINVAL (NULL), -ESRCH if it already had none.
 */
int vfiosim_task_exit_mm(struct vfiosim_task *task);

/**
 * vfiosim_mm_mmap_lock() - &mm->mmap_lock, a struct vfiosim_rwsem of lock
 * class "mm->mmap_lock": take it with vfiosim_down_read() and friends.
 * @mm: the mm.
 *
 * Functions documented "caller holds mmap_lock" check it (WARN) when called
 * from a simulated thread.  Called from outside the world's threads (test
 * set-up while the world is not running), no lock is needed or taken.
 *
 * Return: the lock.
 */
struct vfiosim_rwsem *vfiosim_mm_mmap_lock(struct vfiosim_mm *mm);

/**
 * vfiosim_mmap_read_lock() - mmap_read_lock(): down_read(&mm->mmap_lock),
 * or nothing when called from outside the world's simulated threads (as
 * every mm function does, so that test set-up needs no thread).
 * @mm: the mm.
 */
#define vfiosim_mmap_read_lock(mm) \
	vfiosim_mmap_lock_at((mm), false, true, __FILE__, __LINE__)
/** vfiosim_mmap_read_unlock() - mmap_read_unlock(), pairs with the above. */
#define vfiosim_mmap_read_unlock(mm) \
	vfiosim_mmap_lock_at((mm), false, false, __FILE__, __LINE__)
/** vfiosim_mmap_write_lock() - mmap_write_lock(), same rule. */
#define vfiosim_mmap_write_lock(mm) \
	vfiosim_mmap_lock_at((mm), true, true, __FILE__, __LINE__)
/** vfiosim_mmap_write_unlock() - mmap_write_unlock(), same rule. */
#define vfiosim_mmap_write_unlock(mm) \
	vfiosim_mmap_lock_at((mm), true, false, __FILE__, __LINE__)
/**
 * vfiosim_mmap_lock_at() - the body of the four macros above.
 * @mm: the mm (NULL is ignored).
 * @write: the write side.
 * @lock: take (true) or release (false).
 * @file: caller's file.
 * @line: caller's line.
 */
void vfiosim_mmap_lock_at(struct vfiosim_mm *mm, bool write, bool lock,
			  const char *file, int line);

/**
 * vfiosim_mmap_write_lock_killable() - mmap_write_lock_killable().
 * @mm: the mm.
 *
 * Release with vfiosim_mmap_write_unlock() (outside simulated threads no
 * lock is taken, as for vfiosim_mmap_write_lock()).
 *
 * Return: 0 with the lock held for writing, or -EINTR (lock not held) if
 * the current task has a fatal signal pending and the lock was contended
 * (the fast path succeeds regardless, as in the kernel), or the signal came
 * while waiting; -EINVAL for NULL.
 */
#define vfiosim_mmap_write_lock_killable(mm) \
	vfiosim_mmap_write_lock_killable_at((mm), __FILE__, __LINE__)
int vfiosim_mmap_write_lock_killable_at(struct vfiosim_mm *mm, const char *file,
					int line);

/**
 * vfiosim_mmap() - mmap() of anonymous memory.
 * @mm: the address space (not a host mm).
 * @addr: hint, or the address with VFIOSIM_MAP_FIXED[_NOREPLACE].
 * @len: bytes, rounded up to the page (or huge page) size.
 * @prot: VFIOSIM_PROT_*.
 * @flags: exactly one of VFIOSIM_MAP_SHARED, VFIOSIM_MAP_PRIVATE; optional
 *	VFIOSIM_MAP_FIXED, VFIOSIM_MAP_FIXED_NOREPLACE, VFIOSIM_MAP_POPULATE,
 *	VFIOSIM_MAP_ANONYMOUS, VFIOSIM_MAP_UNBACKED, VFIOSIM_MAP_HUGETLB with
 *	VFIOSIM_MAP_HUGE_2MB or VFIOSIM_MAP_HUGE_1GB (default 2 MiB).
 * @out: the address of the mapping.
 *
 * Takes mmap_lock for writing.  MAP_FIXED replaces what was there.  Without
 * it the hint is used if free, else the highest free gap below
 * VFIOSIM_MMAP_BASE.  MAP_POPULATE faults every page in (writable private
 * pages get their own frames); as the kernel's mm_populate(), it ignores
 * failures: the mapping stays, partly populated.
 * Fault points "mm.vma_alloc", and those of faulting in with POPULATE.
 *
 * Return: 0, -EINVAL (zero @len, unknown @prot or @flags bits, not exactly
 * one of SHARED/PRIVATE, unaligned FIXED @addr, bad huge size, host mm),
 * NULL @mm or @out, dead mm), -ENOMEM (@len too large, no room, FIXED
 * range beyond VFIOSIM_TASK_SIZE, allocation failure), -EPERM (FIXED
 * @addr below VFIOSIM_MMAP_MIN_ADDR, as security_mmap_addr()), -EEXIST
 * (FIXED_NOREPLACE over a mapping).  Unknown @prot or @flags bits are
 * refused with -EINVAL where the kernel would ignore them.
 */
int vfiosim_mmap(struct vfiosim_mm *mm, uint64_t addr, uint64_t len,
		 unsigned int prot, unsigned int flags, uint64_t *out);

/**
 * vfiosim_mmap_pfn() - an mmap() of device memory as a driver's mmap
 * handler makes it with remap_pfn_range(): a VM_IO | VM_PFNMAP VMA mapping
 * [@pfn, @pfn + @len / page size) with no struct pages behind it as far as
 * GUP is concerned.
 * @mm: the address space (not a host mm).
 * @addr: as for vfiosim_mmap().
 * @len: as for vfiosim_mmap().
 * @prot: VFIOSIM_PROT_*.
 * @flags: VFIOSIM_MAP_SHARED (implied), VFIOSIM_MAP_FIXED[_NOREPLACE];
 *	VFIOSIM_MAP_HUGE_2MB / _1GB say at which level the range is mapped
 *	(vfiosim_mm_follow_pfn() reports runs up to that size).
 * @pfn: first frame; any pfn (MMIO, past the end of memory, even RAM).
 * @out: the address of the mapping.
 *
 * Return: as vfiosim_mmap(); also -EINVAL if @pfn + pages overflows.
 */
int vfiosim_mmap_pfn(struct vfiosim_mm *mm, uint64_t addr, uint64_t len,
		     unsigned int prot, unsigned int flags, uint64_t pfn,
		     uint64_t *out);

/**
 * vfiosim_munmap() - munmap().
 * @mm: the address space.
 * @addr: page-aligned start (huge-page aligned inside hugetlb VMAs).
 * @len: bytes, rounded up to the page size; holes are fine.
 *
 * Takes mmap_lock for writing.  Page references of the mapping are
 * dropped; pinned pages stay allocated until unpinned.  On a host mm, only
 * the model's frames of the range are forgotten.  Fault point
 * "mm.vma_alloc" when a VMA must be split (then nothing changes).
 *
 * Return: 0, -EINVAL (unaligned @addr, zero @len, range beyond
 * VFIOSIM_TASK_SIZE, a hugetlb VMA cut off its huge page boundary),
 * -ENOMEM (split failed).
 */
int vfiosim_munmap(struct vfiosim_mm *mm, uint64_t addr, uint64_t len);

/**
 * vfiosim_mprotect() - mprotect().
 * @mm: the address space (not a host mm).
 * @addr: page-aligned start.
 * @len: bytes, rounded up to the page size (0 does nothing).
 * @prot: VFIOSIM_PROT_*.
 *
 * Takes mmap_lock for writing.  Unlike the kernel, which may change the
 * VMAs before the hole it then reports, a failure changes nothing.
 * Pins survive a protection change (as in the kernel).
 *
 * Return: 0, -EINVAL (unaligned @addr, unknown @prot bits, a hugetlb VMA
 * cut off its huge page boundary, host mm), -ENOMEM (the range is not
 * fully mapped, overflows, or a VMA split failed).
 */
int vfiosim_mprotect(struct vfiosim_mm *mm, uint64_t addr, uint64_t len,
		     unsigned int prot);

/**
 * enum vfiosim_vma_kind - what a VMA maps.
 * @VFIOSIM_VMA_ANON: private anonymous memory.
 * @VFIOSIM_VMA_SHARED: shared anonymous memory (no zero page).
 * @VFIOSIM_VMA_HUGETLB: hugetlb pages of vfiosim_vma_info.order.
 * @VFIOSIM_VMA_PFNMAP: VM_IO | VM_PFNMAP device frames.
 * @VFIOSIM_VMA_HOST: a real mapping of the process (host mm).
 */
enum vfiosim_vma_kind {
	VFIOSIM_VMA_ANON = 0,
	VFIOSIM_VMA_SHARED,
	VFIOSIM_VMA_HUGETLB,
	VFIOSIM_VMA_PFNMAP,
	VFIOSIM_VMA_HOST,
};

/**
 * struct vfiosim_vma_info - a VMA as vfiosim_mm_find_vma() reports it.
 * @start: first byte.
 * @end: end (exclusive).
 * @prot: VFIOSIM_PROT_*.
 * @kind: enum vfiosim_vma_kind.
 * @order: hugetlb page order, or the mapping level of a PFNMAP (0, 9, 18).
 * @pfn: PFNMAP: the frame mapped at @start.
 * @unbacked: pages faulted in are metadata-only.
 */
struct vfiosim_vma_info {
	uint64_t start;
	uint64_t end;
	unsigned int prot;
	unsigned int kind;
	unsigned int order;
	uint64_t pfn;
	bool unbacked;
};

/**
 * vfiosim_mm_find_vma() - find_vma(): the first VMA that ends above @addr.
 * @mm: the address space; caller holds mmap_lock.
 * @addr: the address.
 * @info: filled in.
 *
 * To test whether @addr is mapped (vma_lookup()), check info->start <= addr.
 *
 * Return: 0, -EINVAL (NULL argument), -ENOENT (no VMA at or above @addr),
 * -EFAULT (host mm: /proc/self/maps unreadable).
 */
int vfiosim_mm_find_vma(struct vfiosim_mm *mm, uint64_t addr,
			struct vfiosim_vma_info *info);

/**
 * struct vfiosim_mm_stats - an address space's figures.
 * @users: mm_users.
 * @nr_vmas: VMAs (0 for a host mm).
 * @nr_pages: present page-table entries, in pages of the CPU page size.
 * @locked_vm: mm->locked_vm, pages.
 */
struct vfiosim_mm_stats {
	unsigned long users;
	uint64_t nr_vmas;
	uint64_t nr_pages;
	uint64_t locked_vm;
};

/**
 * vfiosim_mm_stats() - read @mm's figures.
 * @mm: the mm.
 * @st: filled in.
 *
 * Return: 0, -EINVAL for NULL.
 */
int vfiosim_mm_stats(const struct vfiosim_mm *mm, struct vfiosim_mm_stats *st);

/* ------------------------------------------------------------- locked_vm */

/**
 * vfiosim_mm_locked_vm() - mm->locked_vm, in pages.
 * @mm: the mm.
 *
 * Return: the count (0 for NULL).
 */
uint64_t vfiosim_mm_locked_vm(const struct vfiosim_mm *mm);

/**
 * vfiosim_account_locked_vm_locked() - __account_locked_vm() of Linux 6.1.
 * @mm: the mm; caller holds its mmap_lock for writing.
 * @pages: pages to charge or refund.
 * @inc: charge (true) or refund (false).
 * @task: whose RLIMIT_MEMLOCK applies.
 * @bypass_rlim: skip the limit (the caller's CAP_IPC_LOCK).
 *
 * A charge fails unless @bypass_rlim or locked_vm + @pages <=
 * RLIMIT_MEMLOCK >> PAGE_SHIFT.  A refund larger than locked_vm is an
 * INVARIANT failure (the kernel WARNs once) and leaves locked_vm at 0.
 *
 * Return: 0, -ENOMEM (over the limit; nothing changes), -EINVAL (NULL @mm,
 * or NULL @task when charging without @bypass_rlim).
 */
int vfiosim_account_locked_vm_locked(struct vfiosim_mm *mm, unsigned long pages,
				     bool inc, struct vfiosim_task *task,
				     bool bypass_rlim);

/**
 * vfiosim_account_locked_vm() - account_locked_vm(): take mmap_lock for
 * writing and charge or refund @pages against the current task's
 * RLIMIT_MEMLOCK, bypassed if it has CAP_IPC_LOCK.
 * @mm: the mm (NULL does nothing, as in the kernel).
 * @pages: pages; 0 does nothing.
 * @inc: charge or refund.
 *
 * Return: 0, -ENOMEM (over the limit).
 */
int vfiosim_account_locked_vm(struct vfiosim_mm *mm, unsigned long pages,
			      bool inc);

/* --------------------------------------------------------------- pinning */

/* GUP flags, with Linux's values. */
#define VFIOSIM_FOLL_WRITE 0x01u
#define VFIOSIM_FOLL_FORCE 0x10u
#define VFIOSIM_FOLL_NOFAULT 0x80u
#define VFIOSIM_FOLL_REMOTE 0x2000u
#define VFIOSIM_FOLL_LONGTERM 0x10000u
#define VFIOSIM_FOLL_PIN 0x40000u

/**
 * vfiosim_pin_user_pages() - pin_user_pages_remote() of Linux 6.1: fault in
 * and pin @npages pages from @vaddr.
 * @mm: the address space; caller holds its mmap_lock (read is enough).
 * @vaddr: user address; rounded down to its page.
 * @npages: pages wanted.
 * @gup_flags: VFIOSIM_FOLL_WRITE, _LONGTERM, _NOFAULT (fail rather than
 *	fault in), _FORCE (as ptrace: read PROT_NONE memory, write read-only
 *	private mappings through COW), _REMOTE, _PIN (implied).
 * @pfns: out, one pfn per page pinned (tail frames of huge pages are
 *	reported as themselves; the pin lands on the head).
 *
 * Each pinned page gets one reference and one pin; release with
 * vfiosim_unpin_user_pages().  Pinning crosses VMA boundaries as the
 * kernel's __get_user_pages() does and stops early at the first page it
 * cannot pin: a hole, a VM_IO/VM_PFNMAP VMA (GUP never pins those: use
 * vfiosim_mm_follow_pfn(), as type1 does), a missing permission, or an
 * allocation failure.  A page never touched in a private anonymous VMA is
 * faulted in as its own frame when FOLL_WRITE is set, and otherwise is the
 * shared zero page, which is pinned too (as 6.1 does; it is a reserved page,
 * so type1 never unpins it -- the leak that the 6.1 stable "unpin zero
 * pages" fix addresses).
 *
 * Fault points: "mm.phys_alloc" and "mm.pte_alloc" when faulting in.
 *
 * Return: the number of pages pinned (> 0; may be short), or when none
 * could be: -EFAULT (no VMA, PFNMAP, PROT_NONE, write to a read-only
 * mapping, FOLL_NOFAULT and not present), -ENOMEM (allocation failure,
 * refcount overflow), -EINTR (a page needs faulting in and the current task
 * has a fatal signal pending, as __get_user_pages() checks), -EINVAL (NULL @mm, NULL @pfns with @npages > 0, or
 * unsupported @gup_flags bits); 0 for @npages == 0.
 */
long vfiosim_pin_user_pages(struct vfiosim_mm *mm, uint64_t vaddr,
			    unsigned long npages, unsigned int gup_flags,
			    uint64_t *pfns);

/**
 * vfiosim_pin_user_pages_unlocked() - as vfiosim_pin_user_pages(), taking
 * mmap_lock for reading around the call.
 *
 * Return: as vfiosim_pin_user_pages().
 */
long vfiosim_pin_user_pages_unlocked(struct vfiosim_mm *mm, uint64_t vaddr,
				     unsigned long npages,
				     unsigned int gup_flags, uint64_t *pfns);

/**
 * vfiosim_unpin_user_pages_dirty_lock() - unpin_user_pages_dirty_lock():
 * drop one pin and its reference of each page; the last reference frees.
 * @w: the world.
 * @pfns: frames as vfiosim_pin_user_pages() returned them.
 * @npages: entries.
 * @make_dirty: mark the pages dirty first (type1 does for IOMMU_WRITE).
 *
 * Contiguous runs are released in blocks of up to 128 pages.  An
 * entry that is not pinned (free, MMIO, pin count 0) is a WARN failure and
 * is skipped; the others are still released.
 *
 * Return: 0, -EINVAL (NULL @pfns with @npages > 0, or a bad entry).
 */
int vfiosim_unpin_user_pages_dirty_lock(struct vfiosim_world *w,
					const uint64_t *pfns,
					unsigned long npages, bool make_dirty);

/**
 * vfiosim_unpin_user_pages() - unpin_user_pages(): as
 * vfiosim_unpin_user_pages_dirty_lock() without dirtying.
 *
 * Return: as vfiosim_unpin_user_pages_dirty_lock().
 */
int vfiosim_unpin_user_pages(struct vfiosim_world *w, const uint64_t *pfns,
			     unsigned long npages);

/**
 * vfiosim_unpin_user_page_range_dirty_lock() - unpin
 * [@pfn, @pfn + @npages), pinned once each (type1's contiguous runs).
 *
 * Return: as vfiosim_unpin_user_pages_dirty_lock().
 */
int vfiosim_unpin_user_page_range_dirty_lock(struct vfiosim_world *w,
					     uint64_t pfn, unsigned long npages,
					     bool make_dirty);

/**
 * vfiosim_mm_follow_pfn() - the pfn behind @vaddr in a VM_IO | VM_PFNMAP
 * VMA, without pinning: type1's follow_fault_pfn() (follow_pte() /
 * follow_pfnmap_start() after fixup_user_fault()).  PFNMAP VMAs are always
 * populated here, so no fault and no -EAGAIN retry is modelled.
 * @mm: the address space; caller holds its mmap_lock.
 * @vaddr: user address.
 * @write: the caller needs write access.
 * @pfn: out, the frame.
 * @run: out (may be NULL), pages from @vaddr's page to the end of its
 *	mapping-level block (1 for 4K-level mappings; up to 512 or 262144 for
 *	2M/1G levels) clipped to the VMA end -- the E4 "addr_mask" run.
 *
 * Return: 0, -EFAULT (no VMA at @vaddr, or @write to a mapping without
 * PROT_WRITE), -EINVAL (the VMA is not PFNMAP -- the kernel's follow_pfn()
 * answer -- or NULL arguments).
 */
int vfiosim_mm_follow_pfn(struct vfiosim_mm *mm, uint64_t vaddr, bool write,
			  uint64_t *pfn, uint64_t *run);

/**
 * vfiosim_mm_lookup_pfn() - what the page table maps at @vaddr now, without
 * faulting anything in (a PFNMAP VMA answers its frame).
 * @mm: the address space; caller holds mmap_lock.
 * @vaddr: user address.
 * @pfn: out.
 *
 * Return: 0, -EFAULT (no VMA), -ENOENT (mapped but not present), -EINVAL.
 */
int vfiosim_mm_lookup_pfn(struct vfiosim_mm *mm, uint64_t vaddr, uint64_t *pfn);

/**
 * vfiosim_mm_write() - the task stores @len bytes at @vaddr (a user store):
 * pages are faulted in writable, marked dirty, and their bytes written.
 * @mm: the address space; takes mmap_lock for reading.
 * @vaddr: user address.
 * @buf: the data.
 * @len: bytes.
 *
 * Fault points as for faulting in.
 *
 * Return: bytes written (== @len), or -EFAULT (a page unmapped, not
 * writable, PFNMAP, or unbacked -- nothing is written then), -ENOMEM,
 * -EINVAL.
 */
long vfiosim_mm_write(struct vfiosim_mm *mm, uint64_t vaddr, const void *buf,
		      size_t len);

/**
 * vfiosim_mm_read() - the task loads @len bytes from @vaddr (a user load):
 * untouched private anonymous pages read as the zero page.
 * @mm: the address space; takes mmap_lock for reading.
 * @vaddr: user address.
 * @buf: out.
 * @len: bytes.
 *
 * Return: bytes read (== @len), or -EFAULT (a page unmapped, not readable,
 * PFNMAP, or unbacked), -ENOMEM, -EINVAL.
 */
long vfiosim_mm_read(struct vfiosim_mm *mm, uint64_t vaddr, void *buf,
		     size_t len);

#ifdef __cplusplus
}
#endif

#endif /* LIBVFIOSIM_MM_H */
