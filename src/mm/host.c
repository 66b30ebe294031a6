/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host.c - the host mm backend: an address space that is the calling
 * process's own memory.
 *
 * What it models: a VFIO user's real address space, so that a program (or
 * the uAPI façade and the preload shim) can hand the simulator pointers it
 * got from malloc() or mmap().  The VMAs are the process's real mappings,
 * read from /proc/self/maps at each lookup (deterministic for a given
 * process state; the read is an ordinary non-blocking file read).  A real
 * page is given a frame on first use (pinning, or vfiosim_mm_lookup_pfn()
 * after a pin); the frame is metadata plus a bytes pointer that IS the real
 * virtual address, so vfiosim_page_bytes() and a mock device's DMA read and
 * write the program's buffer.  The model's page table remembers vpn -> pfn
 * until vfiosim_munmap() on this mm or the mm's teardown.
 *
 * vfiosim_munmap() of a host range that still has a held (pinned) frame
 * gives the frame a copy of its page first (phys_host_keep(), in
 * put_mapped_page()), as the kernel keeps a pinned page alive.
 *
 * Limitations (documented in docs/memory.md): a pinned real page is not
 * really pinned -- if the program unmaps it without vfiosim_munmap(), a
 * device's DMA into it is lost (dev.c copies into host pages without
 * faulting); remapping the same address without vfiosim_munmap() reuses
 * the old frame; [vvar]/[vsyscall] are treated as PFNMAP (GUP refuses
 * them); the world's page size must equal the host's.
 *
 * Locking: as mm.c; the page table under mm->ptl in free-running mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mm/mm_internal.h"

int mm_host_check(struct vfiosim_world *w)
{
	long hps = sysconf(_SC_PAGESIZE);

	if (hps <= 0 || (1ull << w->cfg.mm.page_shift) != (uint64_t)hps)
		return -EINVAL;
	return mm_phys_get(w) ? 0 : -EINVAL;
}

/* Read all of /proc/self/maps; NULL on failure.  Caller frees. */
static char *read_maps(void)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap);
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (!buf || fd < 0)
		goto fail;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				goto fail;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

struct host_region {
	uint64_t start, end;
	unsigned int prot;
	bool special; /* [vvar], [vsyscall]: VM_IO | VM_PFNMAP */
};

/* find_vma() on the real mappings: the first region that ends above @addr. */
static int host_region(uint64_t addr, struct host_region *out)
{
	char *maps = read_maps(), *line, *save = NULL;
	int rc = -ENOENT;

	if (!maps)
		return -EFAULT;
	for (line = strtok_r(maps, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long s, e;
		char perms[5] = "";
		int pos = 0;

		if (sscanf(line, "%llx-%llx %4s %n", &s, &e, perms, &pos) < 3)
			continue;
		if (e <= addr)
			continue;
		out->start = s;
		out->end = e;
		out->prot = (perms[0] == 'r' ? VFIOSIM_PROT_READ : 0) |
			    (perms[1] == 'w' ? VFIOSIM_PROT_WRITE : 0) |
			    (perms[2] == 'x' ? VFIOSIM_PROT_EXEC : 0);
		out->special = strstr(line, "[vvar") ||
			       strstr(line, "[vsyscall]");
		rc = 0;
		break;
	}
	free(maps);
	return rc;
}

int mm_host_region(struct vfiosim_mm *mm, uint64_t addr, uint64_t *start,
		   uint64_t *end, unsigned int *prot)
{
	struct host_region r;
	int rc;

	(void)mm;
	rc = host_region(addr, &r);
	if (rc)
		return rc;
	*start = r.start;
	*end = r.end;
	*prot = r.prot;
	return 0;
}

int mm_host_resolve(struct vfiosim_mm *mm, uint64_t addr, bool write,
		    uint64_t *end, unsigned int *prot)
{
	struct host_region r;
	int rc;

	(void)mm;
	rc = host_region(addr, &r);
	if (rc)
		return -EFAULT;
	if (r.start > addr || r.special)
		return -EFAULT;
	if (!(r.prot & VFIOSIM_PROT_READ) ||
	    (write && !(r.prot & VFIOSIM_PROT_WRITE)))
		return -EFAULT;
	*end = r.end;
	*prot = r.prot;
	return 0;
}

int mm_host_fault(struct vfiosim_mm *mm, uint64_t addr, uint64_t *pfn)
{
	struct mm_phys *p = mm->phys;
	uint64_t vpn = addr >> p->page_shift, e, npfn;
	unsigned int order;
	int rc;

	mm_lock_ptl(mm);
	e = mm_pt_lookup(mm, vpn, &order);
	if (e) {
		mm_unlock_ptl(mm);
		*pfn = pte_pfn(e);
		return 0;
	}
	rc = phys_alloc(p, 0, 0, &npfn);
	if (rc)
		goto out;
	phys_lock(p);
	rc = phys_set_host_bytes(p, npfn,
				 (void *)(uintptr_t)(vpn << p->page_shift));
	phys_unlock(p);
	if (!rc)
		rc = mm_pt_set(mm, vpn, 0, npfn);
	if (rc) {
		vfiosim_page_put(mm->w, npfn);
		goto out;
	}
	*pfn = npfn;
out:
	mm_unlock_ptl(mm);
	return rc;
}
