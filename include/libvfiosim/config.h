/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/config.h - the configuration a world is created from.
 *
 * One plain struct for every layer, so that a test can describe the whole
 * simulated machine in one place.  Always start from vfiosim_config_init():
 * fields added later get sensible defaults that way.
 */
#ifndef LIBVFIOSIM_CONFIG_H
#define LIBVFIOSIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * enum vfiosim_mode - how simulated threads execute.
 * @VFIOSIM_MODE_DETERMINISTIC: one simulated thread runs at a time and the
 *	scheduler chooses who runs at every scheduling point.
 * @VFIOSIM_MODE_FREE: simulated threads are ordinary concurrent pthreads,
 *	locks are real pthread locks; lockdep still validates lock order.
 */
enum vfiosim_mode {
	VFIOSIM_MODE_DETERMINISTIC = 0,
	VFIOSIM_MODE_FREE = 1,
};

/**
 * struct vfiosim_fault_plan - which fault-injection points fail.
 * @point: name of the point the plan applies to, or NULL for every point.
 * @nth: fail the nth hit (1-based) of the matching points; 0 disables.
 * @probability_ppm: in addition, fail each matching hit with this
 *	probability (parts per million), drawn from the world's seeded PRNG.
 * @repeat: with @nth, keep failing every hit after the nth as well.
 */
struct vfiosim_fault_plan {
	const char *point;
	unsigned long nth;
	uint32_t probability_ppm;
	bool repeat;
};

/**
 * struct vfiosim_mm_config - the simulated memory (the mm layer).
 * @phys_size: bytes of simulated physical memory (default 64 GiB; up to at
 *	least 16 TiB: per-page metadata is created lazily).
 * @page_shift: CPU page size as a shift (default 12, 4 KiB).
 * @memlock_limit: RLIMIT_MEMLOCK of new tasks, bytes (default 8 MiB, as
 *	Debian 12 sets it).
 * @cap_ipc_lock: new tasks have CAP_IPC_LOCK (default false).
 */
struct vfiosim_mm_config {
	uint64_t phys_size;
	unsigned int page_shift;
	uint64_t memlock_limit;
	bool cap_ipc_lock;
};

/**
 * struct vfiosim_iommu_range - a reserved IOVA range, [start, last].
 * @start: first byte.
 * @last: last byte (inclusive).
 * @type: 0 = direct/reserved, 1 = MSI window.
 */
struct vfiosim_iommu_range {
	uint64_t start;
	uint64_t last;
	unsigned int type;
};

#define VFIOSIM_IOMMU_MAX_RESV 8

/**
 * struct vfiosim_iommu_config - the simulated IOMMU hardware (iommu layer).
 * @addr_width: IOVA width in bits: 39 (default, as the oracle VM's VT-d),
 *	48 or 57.
 * @pgsize_bitmap: supported IO page sizes (default 4K | 2M | 1G).  Its
 *	lowest bit is the IO page size, which may differ from the CPU page.
 * @resv: reserved regions (default: the x86 MSI window
 *	0xfee00000-0xfeefffff).
 * @nresv: entries used in @resv.
 * @cache_coherent: IOMMU_CAP_CACHE_COHERENCY (default true).
 * @intr_remap: interrupt remapping (default true).
 * @dirty_tracking: hardware dirty tracking (default false).
 * @iotlb_entries: IOTLB size (default 64).
 * @deferred_flush: queue invalidations instead of flushing on unmap
 *	(default false: strict).
 * @flush_queue_size: deferred mode: flush when this many are queued
 *	(default 256).
 * @flush_timeout_ns: deferred mode: flush this long after the first
 *	queued invalidation, on the virtual clock (default 10 ms).
 * @flush_cost_ns: virtual cost of one IOTLB invalidation command, counted
 *	in the IOMMU's statistics (default 1000 ns).
 */
struct vfiosim_iommu_config {
	unsigned int addr_width;
	uint64_t pgsize_bitmap;
	struct vfiosim_iommu_range resv[VFIOSIM_IOMMU_MAX_RESV];
	unsigned int nresv;
	bool cache_coherent;
	bool intr_remap;
	bool dirty_tracking;
	unsigned int iotlb_entries;
	bool deferred_flush;
	unsigned int flush_queue_size;
	uint64_t flush_timeout_ns;
	uint64_t flush_cost_ns;
};

/**
 * struct vfiosim_vfio_config - the VFIO core and type1 backend (vfio and
 * uapi layers).
 * @dma_entry_limit: vfio_iommu_type1's module parameter (default 65535).
 * @allow_unsafe_interrupts: vfio_iommu_type1's module parameter: attach
 *	groups whose IOMMU cannot remap interrupts (default false).
 * @fix_dirty_shift: the corrected dirty-bitmap report (default false: Linux
 *	6.1's behaviour, which leaves shifted bits behind a report whose base
 *	is not 64 pages below a mapping; see docs/uapi.md).
 */
struct vfiosim_vfio_config {
	unsigned int dma_entry_limit;
	bool allow_unsafe_interrupts;
	bool fix_dirty_shift;
};

/**
 * struct vfiosim_config - everything a world is created from.
 * @mode: deterministic (default) or free-running.
 * @seed: seed of the world's PRNG (fault probabilities, model randomness).
 * @lockdep: run the lock-order validator (default true).
 * @max_steps: scheduling points one run may take before it is reported as
 *	a LIVELOCK (default 100000; 0 = no bound).
 * @trace_tail: events quoted in a failure report (default 64).
 * @abort_mask: failure kinds (bit 1 << kind) that end the run at once and
 *	unwind every simulated thread.  Default: ASSERT, BUG, DEADLOCK,
 *	LIVELOCK, NONDETERMINISM.
 * @fault: the fault-injection plan.
 * @pin_cpu: in deterministic mode, pin all simulated threads of the world
 *	to the CPU the world was created on (default true).
 * @verbose: print failures to stderr as they are recorded.
 * @mm: the simulated memory.
 * @iommu: the simulated IOMMU hardware.
 * @vfio: the VFIO core and type1 backend.
 */
struct vfiosim_config {
	enum vfiosim_mode mode;
	uint64_t seed;
	bool lockdep;
	unsigned long max_steps;
	unsigned int trace_tail;
	uint32_t abort_mask;
	struct vfiosim_fault_plan fault;
	bool pin_cpu;
	bool verbose;
	struct vfiosim_mm_config mm;
	struct vfiosim_iommu_config iommu;
	struct vfiosim_vfio_config vfio;
};

/**
 * vfiosim_config_init() - fill @cfg with the defaults.
 * @cfg: the configuration to initialise.
 */
void vfiosim_config_init(struct vfiosim_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* LIBVFIOSIM_CONFIG_H */
