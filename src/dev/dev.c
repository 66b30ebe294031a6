/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dev.c - mock DMA: a device that reads and writes memory through the
 * simulated IOMMU, and the checks that make a use after unmap visible.
 *
 * What it models: a bus master behind a VT-d unit.  Each access is
 * translated by iommu_translate() (the page-table walk, then the IOTLB: a
 * hit the table no longer backs is a stale entry; a miss fills it); a missing or forbidden translation is logged in the
 * IOMMU's fault log, as the kernel's DMAR driver prints it, and ends the
 * DMA (the bytes before the faulting leaf have moved, like on real
 * hardware).  Nothing in the kernel checks what a successful translation
 * reaches; the model does, because that is the bug class the simulator
 * exists for:
 *
 *   A frame reached by a DMA must be held by the owner of the domain.
 *   Unmanaged domains (VFIO type1 and its kin): the frame is pinned
 *   (vfiosim_page_info.pincount > 0: FOLL_PIN|FOLL_LONGTERM by
 *   vfio_pin_pages_remote()), or it is a frame without a refcount to hold
 *   (VFIOSIM_PAGE_RESERVED, VFIOSIM_PAGE_MMIO: is_invalid_reserved_pfn(),
 *   which type1 maps without pinning), or the zero page for reads.
 *   Default (DMA API) domains: the frame is allocated (refcount > 0: a
 *   kernel driver's dma_map_page() holds no pin, only the page it owns),
 *   or reserved / MMIO as above.
 *
 * Anything else - a frame whose pin was dropped while a stale IOTLB entry
 * (or, worse, the page table) still pointed at it, a freed frame, memory
 * that does not exist, a write to the zero page - is a VFIOSIM_FAIL_DMA
 * failure with the replay token (one per DMA call, the first frame found),
 * and the transfer still happens, because the hardware would do it.
 *
 * Every CPU page a DMA writes is recorded per device, keyed by (DID, IOVA
 * page) in a tree ordered by those values (never by host address, so the
 * order is deterministic): the ground truth dirty tracking is checked
 * against.
 *
 * Vocabulary: [iova, iova + len) at the API, translated leaf by leaf; a
 * DMA may end at 2^64 - 1 (len - 1 <= UINT64_MAX - iova).
 *
 * Locking: a DMA runs under the IOMMU's hw_lock (free-running mode) from
 * the first translation to the last byte, so an unmap cannot interleave
 * inside one DMA call; in deterministic mode the "dma" scheduling point at
 * its start is where other threads interleave.  The written-pages tree and
 * the counters are protected by hw_lock as well.  Failures are raised
 * after hw_lock is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/tree.h>

#include <libvfiosim/dev.h>

#include "iommu/iommu_internal.h"

struct written {
	RB_ENTRY(written) rb;
	struct vfiosim_dma_written v;
};
RB_HEAD(written_tree, written);

static int written_cmp(const struct written *a, const struct written *b)
{
	if (a->v.domain_id != b->v.domain_id)
		return a->v.domain_id < b->v.domain_id ? -1 : 1;
	if (a->v.iova != b->v.iova)
		return a->v.iova < b->v.iova ? -1 : 1;
	return 0;
}

RB_GENERATE_INTERNAL(written_tree, written, rb, written_cmp,
		     static __attribute__((unused)))

struct vfiosim_device {
	struct vfiosim_world *w;
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_device *idev;
	unsigned int flags;
	uint64_t faults;
	uint64_t dma_failures;
	struct written_tree written;
	uint64_t nwritten;
};

VFIOSIM_EXPORT int vfiosim_device_create(struct vfiosim_iommu_group *group,
					 const char *name,
					 struct vfiosim_device **out)
{
	struct vfiosim_iommu *iommu;
	struct vfiosim_device *dev;
	int rc;

	if (!group || !name || !out)
		return -EINVAL;
	iommu = group->iommu;
	dev = vfiosim_zalloc(iommu->w, sizeof(*dev), "dev.alloc");
	if (!dev)
		return -ENOMEM;
	dev->w = iommu->w;
	dev->iommu = iommu;
	RB_INIT(&dev->written);
	rc = vfiosim_iommu_probe_device(group, name, &dev->idev);
	if (rc) {
		vfiosim_free(iommu->w, dev);
		return rc;
	}
	*out = dev;
	return 0;
}

static void written_free_all(struct vfiosim_device *dev)
{
	struct written *n;

	while ((n = RB_MIN(written_tree, &dev->written))) {
		RB_REMOVE(written_tree, &dev->written, n);
		vfiosim_free(dev->w, n);
	}
	dev->nwritten = 0;
}

VFIOSIM_EXPORT int vfiosim_device_destroy(struct vfiosim_device *dev)
{
	if (!dev)
		return 0;
	if (!dev->idev->released)
		vfiosim_iommu_release_device(dev->idev);
	hw_lock(dev->iommu);
	written_free_all(dev);
	hw_unlock(dev->iommu);
	vfiosim_free(dev->w, dev);
	return 0;
}

VFIOSIM_EXPORT int vfiosim_device_release(struct vfiosim_device *dev)
{
	if (!dev)
		return -EINVAL;
	return vfiosim_iommu_release_device(dev->idev);
}

VFIOSIM_EXPORT struct vfiosim_iommu_device *
vfiosim_device_iommu_device(const struct vfiosim_device *dev)
{
	return dev ? dev->idev : NULL;
}

VFIOSIM_EXPORT int vfiosim_device_set_flags(struct vfiosim_device *dev,
					    unsigned int flags)
{
	if (!dev || (flags & ~(unsigned int)VFIOSIM_DEVICE_FAULT_FAILS))
		return -EINVAL;
	dev->flags = flags;
	return 0;
}

/* What is wrong with a DMA reaching @pfn, or NULL if nothing; *@flags
 * gets the frame's flags (0 if it has none). */
static const char *frame_problem(struct vfiosim_world *w, unsigned int type,
				 uint64_t pfn, bool write, unsigned int *flags)
{
	struct vfiosim_page_info info;

	*flags = 0;
	if (vfiosim_page_query(w, pfn, &info))
		return "does not exist (beyond physical memory)";
	*flags = info.flags;
	if (info.flags & (VFIOSIM_PAGE_MMIO | VFIOSIM_PAGE_RESERVED))
		return NULL;
	if (info.flags & VFIOSIM_PAGE_ZERO)
		return write ? "is the shared zero page" : NULL;
	if (!info.refcount)
		return "is free (use after free)";
	if (type == VFIOSIM_IOMMU_DOMAIN_UNMANAGED && !info.pincount)
		return "is not pinned (use after unpin)";
	return NULL;
}

/* Record a written CPU page (hw_lock held).  Not a fault point. */
static void record_written(struct vfiosim_device *dev, unsigned int did,
			   uint64_t iova_page, uint64_t pfn)
{
	struct written key = { .v = { .domain_id = did, .iova = iova_page } };
	struct written *n = RB_FIND(written_tree, &dev->written, &key);

	if (!n) {
		n = sim_alloc_nofault(dev->w, sizeof(*n));
		if (!n)
			return;
		n->v = key.v;
		RB_INSERT(written_tree, &dev->written, n);
		dev->nwritten++;
	}
	n->v.pfn = pfn;
	n->v.writes++;
}

/*
 * A DMA into or out of a page of the real process (a host mm's frame): the
 * program may have unmapped or protected it behind the model's back
 * (free() of a large buffer unmaps it inside the C library), where the
 * kernel keeps the pinned page alive and the IOMMU ignores CPU page
 * protections.  Copy through process_vm_readv/writev, which fail instead
 * of faulting; if that fails, through /proc/self/mem, which reaches
 * read-only and PROT_NONE pages as the device would.  A page no longer
 * there at all: the write is lost, a read gets zeros.
 */
static void host_copy(uint8_t *host, uint8_t *dev_buf, size_t n, bool write)
{
	int rc = write ? sim_copy_to_user((uint64_t)(uintptr_t)host, dev_buf,
					  n) :
			 sim_copy_from_user(dev_buf, (uint64_t)(uintptr_t)host,
					    n);
	int fd;

	if (!rc)
		return;
	fd = open("/proc/self/mem", (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t got =
			write ? pwrite(fd, dev_buf, n, (off_t)(uintptr_t)host) :
				pread(fd, dev_buf, n, (off_t)(uintptr_t)host);

		close(fd);
		if (got == (ssize_t)n)
			return;
	}
	if (!write)
		memset(dev_buf, 0, n);
}

VFIOSIM_EXPORT int vfiosim_device_dma(struct vfiosim_device *dev, uint64_t iova,
				      void *buf, size_t len,
				      enum vfiosim_dma_dir dir)
{
	struct vfiosim_iommu *iommu;
	struct vfiosim_world *w;
	uint64_t psize, pos = 0, bad_iova = 0, bad_pfn = 0;
	const char *problem = NULL;
	bool write, bad_stale = false;
	unsigned int bad_did = 0;
	size_t nfaults;
	int rc = 0;

	if (!dev || (dir != VFIOSIM_DMA_READ && dir != VFIOSIM_DMA_WRITE) ||
	    (len && !buf))
		return -EINVAL;
	if (!len)
		return 0;
	if ((uint64_t)len - 1 > UINT64_MAX - iova)
		return -EINVAL;
	if (dev->idev->released)
		return -ENODEV;
	w = dev->w;
	iommu = dev->iommu;
	write = dir == VFIOSIM_DMA_WRITE;
	psize = vfiosim_page_size(w);
	vfiosim_sched_point(w, "dma");

	hw_lock(iommu);
	nfaults = iommu->nfaults;
	while (pos < len) {
		uint64_t cur = iova + pos, chunk, done = 0;
		struct iommu_xlate x;

		rc = iommu_translate(dev->idev, mk_iova(cur), write, &x);
		if (rc) {
			dev->faults++;
			/* What moved before the fault stays moved; a read
			 * returns zeros from the fault on, as a read of
			 * unassigned memory does on QEMU's bus (probe
			 * dma_edges). */
			if (!write)
				memset((uint8_t *)buf + pos, 0, len - pos);
			break;
		}
		chunk = x.leaf_last.v - cur;
		if (chunk >= len - pos)
			chunk = len - pos;
		else
			chunk++;
		while (done < chunk) {
			uint64_t phys = x.phys.v + done;
			uint64_t pfn = phys / psize, off = phys % psize;
			uint64_t n = psize - off;
			const char *why;
			unsigned int fflags;
			uint8_t *bytes;

			if (n > chunk - done)
				n = chunk - done;
			why = frame_problem(w, x.dom_type, pfn, write, &fflags);
			if (why && !problem) {
				problem = why;
				bad_iova = cur + done;
				bad_pfn = pfn;
				bad_stale = x.stale;
				bad_did = x.did;
			}
			bytes = vfiosim_page_bytes(w, pfn);
			if (bytes && (fflags & VFIOSIM_PAGE_HOST))
				host_copy(bytes + off,
					  (uint8_t *)buf + pos + done, n,
					  write);
			else if (write && bytes)
				memcpy(bytes + off, (uint8_t *)buf + pos + done,
				       n);
			else if (bytes)
				memcpy((uint8_t *)buf + pos + done, bytes + off,
				       n);
			else if (!write)
				memset((uint8_t *)buf + pos + done, 0, n);
			if (write)
				record_written(dev, x.did,
					       (cur + done) & ~(psize - 1),
					       pfn);
			done += n;
		}
		iommu->st.dma_bytes += chunk;
		pos += chunk;
	}
	if (problem || (rc && (dev->flags & VFIOSIM_DEVICE_FAULT_FAILS)))
		dev->dma_failures++;
	hw_unlock(iommu);
	vfiosim_trace_note(w, "dma %s %s 0x%llx+0x%llx = %d", dev->idev->name,
			   write ? "write" : "read", (unsigned long long)iova,
			   (unsigned long long)len, rc);

	if (problem) {
		vfiosim_fail_at(w, VFIOSIM_FAIL_DMA, __FILE__, __LINE__,
				"DMA %s by %s at IOVA 0x%llx (domain %u) "
				"reached pfn 0x%llx, which %s, %s",
				write ? "write" : "read", dev->idev->name,
				(unsigned long long)bad_iova, bad_did,
				(unsigned long long)bad_pfn, problem,
				bad_stale ?
					"through a stale IOTLB entry: the "
					"IOVA was unmapped and the IOTLB "
					"not yet flushed (use after unmap)" :
					"through the live page table (the "
					"frame was released while mapped)");
	}
	if (rc && (dev->flags & VFIOSIM_DEVICE_FAULT_FAILS)) {
		struct vfiosim_dma_fault f;

		if (!vfiosim_iommu_fault_get(iommu, nfaults, &f))
			vfiosim_fail_at(w, VFIOSIM_FAIL_DMA, __FILE__, __LINE__,
					"unexpected DMA fault: %s", f.line);
		else
			vfiosim_fail_at(w, VFIOSIM_FAIL_DMA, __FILE__, __LINE__,
					"unexpected DMA fault by %s (%d)",
					dev->idev->name, rc);
	}
	return rc;
}

/* A counter of @dev read under hw_lock (free-running mode). */
static uint64_t read_locked(const struct vfiosim_device *dev,
			    const uint64_t *field)
{
	uint64_t v;

	hw_lock(dev->iommu);
	v = *field;
	hw_unlock(dev->iommu);
	return v;
}

VFIOSIM_EXPORT uint64_t
vfiosim_device_fault_count(const struct vfiosim_device *dev)
{
	return dev ? read_locked(dev, &dev->faults) : 0;
}

VFIOSIM_EXPORT uint64_t
vfiosim_device_dma_failures(const struct vfiosim_device *dev)
{
	return dev ? read_locked(dev, &dev->dma_failures) : 0;
}

VFIOSIM_EXPORT size_t
vfiosim_device_written_count(const struct vfiosim_device *dev)
{
	return dev ? (size_t)read_locked(dev, &dev->nwritten) : 0;
}

VFIOSIM_EXPORT int vfiosim_device_written_get(const struct vfiosim_device *dev,
					      size_t i,
					      struct vfiosim_dma_written *out)
{
	struct vfiosim_device *d = (struct vfiosim_device *)dev;
	struct written *n;
	int rc = -ENOENT;

	if (!dev || !out)
		return -EINVAL;
	hw_lock(d->iommu);
	RB_FOREACH(n, written_tree, &d->written) {
		if (!i--) {
			*out = n->v;
			rc = 0;
			break;
		}
	}
	hw_unlock(d->iommu);
	return rc;
}

VFIOSIM_EXPORT bool
vfiosim_device_written_test(const struct vfiosim_device *dev,
			    unsigned int domain_id, uint64_t iova)
{
	struct vfiosim_device *d = (struct vfiosim_device *)dev;
	struct written key;
	bool found;

	if (!dev)
		return false;
	key.v.domain_id = domain_id;
	key.v.iova = iova & ~(vfiosim_page_size(d->w) - 1);
	hw_lock(d->iommu);
	found = RB_FIND(written_tree, &d->written, &key) != NULL;
	hw_unlock(d->iommu);
	return found;
}

VFIOSIM_EXPORT int vfiosim_device_written_clear(struct vfiosim_device *dev)
{
	if (!dev)
		return -EINVAL;
	hw_lock(dev->iommu);
	written_free_all(dev);
	hw_unlock(dev->iommu);
	return 0;
}
