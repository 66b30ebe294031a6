/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uapi.c - the VFIO uAPI of Linux 6.1 over the vfio model: file
 * descriptors, ioctl argument handling (argsz, minsz, copy-in and
 * copy-out), the type1 capability chain, and errno.
 *
 * What it models: the ioctl wrappers of drivers/vfio/container.c,
 * group.c and vfio_iommu_type1.c -- vfio_fops_unl_ioctl(),
 * vfio_group_fops_unl_ioctl(), vfio_iommu_type1_ioctl() and its
 * get_info/map_dma/unmap_dma/dirty_pages helpers -- down to what is copied
 * back when.  6.1 does not align capabilities: they sit at offsets 24, 56
 * and 68 of the GET_INFO buffer.
 *
 * Descriptors are real: each reserves a descriptor of /dev/null
 * (F_DUPFD_CLOEXEC), so the numbers are the process's own; an fd that is
 * not open answers -EBADF, one that is open but not ours ENOTTY from ioctl
 * (-EINVAL where a VFIO descriptor is expected, as in SET_CONTAINER), as
 * fdget() and the file's ops would.  User memory is this process's memory, read and
 * written with sim_copy_to_user()/sim_copy_from_user() so a bad pointer
 * is EFAULT.
 *
 * Locking: none of its own.  The descriptor table and the devices'
 * interrupt state are used by one caller at a time: the scheduler's
 * hand-off in deterministic mode, the caller's serialisation otherwise
 * (the preload shim holds its lock around every call); objects behind
 * descriptors have their own locks (see container.c, type1.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include <libvfiosim/uapi.h>
#include <libvfiosim/vfio.h>

#include "mm/mm_internal.h"
#include "sim/sim_internal.h"
#include "vfio/vfio_internal.h"

enum file_kind { F_CONTAINER = 1, F_GROUP, F_DEVICE };

struct uapi_dev {
	struct vfiosim_edu *edu;
	uint64_t bar0_pfn;  /* where BAR0 sits in physical memory */
	unsigned int nopen; /* device files open */
	/* Interrupts (vfio_pci_intrs.c): the type in use (-1: none, or
	 * VFIO_PCI_INTX/MSI_IRQ_INDEX), our duplicates of the user's eventfds
	 * (-1: none), INTx's mask and the line the device drives. */
	int irq_type;
	int intx_fd, msi_fd, req_fd;
	bool intx_masked, intx_line;
	bool low_power; /* VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY in force */
	struct uapi_dev *next;
};

struct uapi_file {
	int fd;
	enum file_kind kind;
	struct vfiosim_container *container;
	struct uapi_node *node;
	struct uapi_dev *dev;
};

struct uapi_node {
	int id;
	struct vfiosim_vfio_group *group;
	struct uapi_dev *devs;
	struct uapi_node *next;
};

#define PCI_OFFSET_SHIFT 40
#define PCI_OFFSET_MASK ((1ull << PCI_OFFSET_SHIFT) - 1)

struct uapi {
	struct vfiosim_world *w;
	struct uapi_file *files;
	unsigned int nfiles, cap;
	struct uapi_node *nodes;
	unsigned int dma_entry_limit;
	unsigned int ndevs; /* devices ever added: BAR placement */
	int devnull;
};

/* access_ok(): the range lies below the top of user space. */
static bool access_ok(uint64_t addr, uint64_t size)
{
	const uint64_t task_size = 0x7ffffffff000ull;

	return size <= task_size && addr <= task_size - size;
}

/* ----------------------------------------------------------- the table */

/* Raw system calls: an LD_PRELOAD shim in front of libc must not see them. */
static int sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

VFIOSIM_EXPORT void vfiosim_uapi_close_all(struct vfiosim_world *w)
{
	struct uapi *u = w ? w->uapi : NULL;

	/* Newest first, like exit(): device files before their group. */
	while (u && u->nfiles)
		vfiosim_uapi_close(w, u->files[u->nfiles - 1].fd);
}

static void uapi_teardown(struct vfiosim_world *w, void *arg)
{
	struct uapi *u = arg;

	vfiosim_uapi_close_all(w);
	for (struct uapi_node *n = u->nodes; n; n = n->next)
		vfiosim_vfio_group_destroy(n->group);
	if (u->devnull >= 0)
		sys_close(u->devnull);
	free(u->files);
	w->uapi = NULL;
}

static struct uapi *uapi_get(struct vfiosim_world *w)
{
	struct uapi *u = w->uapi;

	if (u)
		return u;
	u = sim_alloc_nofault(w, sizeof(*u));
	if (!u)
		return NULL;
	u->w = w;
	u->dma_entry_limit = vfiosim_world_config(w)->vfio.dma_entry_limit;
	u->devnull = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null",
				  O_RDONLY | O_CLOEXEC);
	if (u->devnull < 0 || sim_add_teardown(w, uapi_teardown, u)) {
		if (u->devnull >= 0)
			sys_close(u->devnull);
		vfiosim_free(w, u);
		return NULL;
	}
	w->uapi = u;
	return u;
}

static struct uapi_file *file_of(struct uapi *u, int fd)
{
	for (unsigned int i = 0; u && i < u->nfiles; i++)
		if (u->files[i].fd == fd)
			return &u->files[i];
	return NULL;
}

/* What fdget() says of a descriptor that is not one of ours. */
static int foreign_fd_errno(int fd)
{
	return fcntl(fd, F_GETFD) < 0 ? EBADF : EINVAL;
}

static int add_file(struct uapi *u, enum file_kind kind,
		    struct vfiosim_container *c, struct uapi_node *node,
		    struct uapi_dev *dev)
{
	int fd;

	/* The struct file of anon_inode_getfile() and the table slot. */
	if (vfiosim_fault(u->w, "uapi.file_alloc"))
		return -ENOMEM;
	if (u->nfiles == u->cap) {
		unsigned int cap = u->cap ? u->cap * 2 : 8;
		void *n = realloc(u->files, cap * sizeof(*u->files));

		if (!n)
			return -ENOMEM;
		u->files = n;
		u->cap = cap;
	}
	fd = fcntl(u->devnull, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	u->files[u->nfiles++] = (struct uapi_file){ fd, kind, c, node, dev };
	return fd;
}

static void del_file(struct uapi *u, struct uapi_file *f)
{
	sys_close(f->fd);
	*f = u->files[--u->nfiles];
}

static long fail(int err)
{
	errno = err;
	return -1;
}

static long result(long rc)
{
	return rc < 0 ? fail((int)-rc) : rc;
}

VFIOSIM_EXPORT int vfiosim_uapi_add_group(struct vfiosim_world *w, int id,
					  struct vfiosim_iommu_group *group)
{
	struct uapi_node *n;
	struct uapi *u;
	int rc;

	if (!w || !group || id < 0)
		return -EINVAL;
	u = uapi_get(w);
	if (!u)
		return -ENOMEM;
	for (n = u->nodes; n; n = n->next)
		if (n->id == id)
			return -EEXIST;
	n = vfiosim_zalloc(w, sizeof(*n), "uapi.node_alloc");
	if (!n)
		return -ENOMEM;
	rc = vfiosim_vfio_group_create(w, group, id, &n->group);
	if (rc) {
		vfiosim_free(w, n);
		return rc;
	}
	n->id = id;
	n->next = u->nodes;
	u->nodes = n;
	return 0;
}

/* eventfd_signal(): add 1 to the user's eventfd counter. */
static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && syscall(SYS_write, fd, &one, sizeof(one)) < 0)
		return; /* a full counter: the kernel would warn, not fail */
}

/* The device's interrupt output (vfio_intx_handler(), the MSI irqfd). */
static void dev_irq(void *arg, bool msi, bool level)
{
	struct uapi_dev *d = arg;

	if (msi) {
		if (d->irq_type == VFIO_PCI_MSI_IRQ_INDEX)
			signal_fd(d->msi_fd);
		return;
	}
	d->intx_line = level;
	if (level && d->irq_type == VFIO_PCI_INTX_IRQ_INDEX &&
	    !d->intx_masked) {
		d->intx_masked = true; /* automasked until unmasked */
		signal_fd(d->intx_fd);
	}
}

/* Replace *@slot by a duplicate of the user's eventfd @fd (-1: none). */
static int set_eventfd(int *slot, int32_t fd)
{
	char path[64], link[64];
	ssize_t n;
	int dup = -1;

	if (fd >= 0) {
		/* eventfd_ctx_fdget(): EBADF, or EINVAL for another file. */
		if (fcntl(fd, F_GETFD) < 0)
			return -EBADF;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			return -EBADF;
		link[n] = 0;
		if (strcmp(link, "anon_inode:[eventfd]"))
			return -EINVAL;
		dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (dup < 0)
			return -errno;
	}
	if (*slot >= 0)
		sys_close(*slot);
	*slot = dup;
	return 0;
}

/* vfio_intx_disable() / vfio_msi_disable(): back to no interrupts. */
static void irqs_disable(struct uapi_dev *d)
{
	if (d->irq_type == VFIO_PCI_MSI_IRQ_INDEX)
		vfiosim_edu_set_msi(d->edu, false);
	d->irq_type = -1;
	d->intx_masked = false;
	set_eventfd(&d->intx_fd, -1);
	set_eventfd(&d->msi_fd, -1);
}

VFIOSIM_EXPORT int vfiosim_uapi_add_edu(struct vfiosim_world *w, int id,
					struct vfiosim_edu *edu)
{
	struct uapi_node *n;
	struct uapi_dev *d;
	struct uapi *u;

	if (!w || !edu)
		return -EINVAL;
	u = uapi_get(w);
	if (!u)
		return -ENOMEM;
	for (n = u->nodes; n && n->id != id; n = n->next)
		;
	if (!n)
		return -ENOENT;
	for (d = n->devs; d; d = d->next)
		if (!strcmp(vfiosim_edu_name(d->edu), vfiosim_edu_name(edu)))
			return -EEXIST;
	d = vfiosim_zalloc(w, sizeof(*d), "uapi.dev_alloc");
	if (!d)
		return -ENOMEM;
	d->edu = edu;
	d->irq_type = -1;
	d->intx_fd = d->msi_fd = d->req_fd = -1;
	vfiosim_edu_set_irq_handler(edu, dev_irq, d);
	/*
	 * BARs live past the end of memory (pfn_valid() is false there, as
	 * for real MMIO), 1 MiB apart and 1 MiB aligned.
	 */
	d->bar0_pfn = ((vfiosim_phys_npages(w) + 255) & ~255ull) +
		      256ull * u->ndevs++;
	d->next = n->devs;
	n->devs = d;
	return 0;
}

VFIOSIM_EXPORT int vfiosim_uapi_set_dma_entry_limit(struct vfiosim_world *w,
						    unsigned int limit)
{
	struct uapi *u = w ? uapi_get(w) : NULL;

	if (!w)
		return -EINVAL;
	if (!u)
		return -ENOMEM;
	u->dma_entry_limit = limit;
	return 0;
}

VFIOSIM_EXPORT int vfiosim_uapi_is_vfio_fd(struct vfiosim_world *w, int fd)
{
	return w && file_of(w->uapi, fd) != NULL;
}

VFIOSIM_EXPORT int vfiosim_uapi_open(struct vfiosim_world *w, const char *path,
				     int flags)
{
	struct vfiosim_container *c;
	struct uapi_node *n;
	struct uapi *u;
	char *end;
	long id;
	int fd, rc;

	(void)flags;
	if (!w || !path)
		return (int)fail(EINVAL);
	u = uapi_get(w);
	if (!u)
		return (int)fail(ENOMEM);
	if (!strcmp(path, "/dev/vfio/vfio")) {
		rc = vfiosim_container_open(w, u->dma_entry_limit, &c);
		if (rc)
			return (int)fail(-rc);
		fd = add_file(u, F_CONTAINER, c, NULL, NULL);
		if (fd < 0) {
			vfiosim_container_close(c);
			return (int)fail(-fd);
		}
		return fd;
	}
	if (strncmp(path, "/dev/vfio/", 10))
		return (int)fail(ENOENT);
	id = strtol(path + 10, &end, 10);
	if (end == path + 10 || *end)
		return (int)fail(ENOENT);
	for (n = u->nodes; n && n->id != id; n = n->next)
		;
	if (!n)
		return (int)fail(ENOENT);
	rc = vfiosim_vfio_group_open(n->group);
	if (rc)
		return (int)fail(-rc);
	fd = add_file(u, F_GROUP, NULL, n, NULL);
	if (fd < 0) {
		vfiosim_vfio_group_close(n->group);
		return (int)fail(-fd);
	}
	return fd;
}

VFIOSIM_EXPORT int vfiosim_uapi_close(struct vfiosim_world *w, int fd)
{
	struct uapi_file *f;
	struct uapi *u;

	if (!w)
		return (int)fail(EBADF);
	u = w->uapi;
	f = file_of(u, fd);
	if (!f)
		return (int)fail(EBADF);
	if (f->kind == F_CONTAINER)
		vfiosim_container_close(f->container);
	else if (f->kind == F_GROUP)
		vfiosim_vfio_group_close(f->node->group);
	else
		vfiosim_vfio_group_device_close(f->node->group);
	/* vfio_pci_core_close_device(): the last close turns interrupts
	 * off and drops the request trigger. */
	if (f->kind == F_DEVICE && !--f->dev->nopen) {
		f->dev->low_power = false;
		irqs_disable(f->dev);
		set_eventfd(&f->dev->req_fd, -1);
	}
	del_file(u, f);
	return 0;
}

/* __vfio_pci_memory_enabled(): the command register's memory bit. */
static bool memory_enabled(struct uapi_dev *d)
{
	uint16_t cmd = 0;

	vfiosim_edu_config_read(d->edu, PCI_COMMAND, &cmd, sizeof(cmd));
	return cmd & PCI_COMMAND_MEMORY;
}

/* vfio-pci's region read/write for the edu device. */
static ssize_t device_rw(struct uapi_dev *d, void *buf, size_t count,
			 uint64_t pos, bool write)
{
	unsigned int index = (unsigned int)(pos >> PCI_OFFSET_SHIFT);
	uint64_t off = pos & PCI_OFFSET_MASK;
	uint8_t tmp[8];
	size_t done = 0;

	if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
		uint8_t cfg[VFIOSIM_EDU_CONFIG_SIZE];
		size_t n = count;

		/*
		 * vfio_pci_config_rw() goes dword by dword and fails with
		 * -EFAULT at the end of config space: the part before it is
		 * read or written, the call fails.
		 */
		if (off >= sizeof(cfg))
			return -EFAULT;
		if (n > sizeof(cfg) - off)
			n = sizeof(cfg) - off;
		if (write) {
			if (sim_copy_from_user(cfg, (unsigned long)buf, n))
				return -EFAULT;
			vfiosim_edu_config_write(d->edu, off, cfg, n);
		} else {
			vfiosim_edu_config_read(d->edu, off, cfg, n);
			if (sim_copy_to_user((unsigned long)buf, cfg, n))
				return -EFAULT;
		}
		return n < count ? -EFAULT : (ssize_t)n;
	}
	if (index != VFIO_PCI_BAR0_REGION_INDEX)
		return -EINVAL;
	if (off >= VFIOSIM_EDU_BAR0_SIZE)
		return -EINVAL;
	if (count > VFIOSIM_EDU_BAR0_SIZE - off)
		count = VFIOSIM_EDU_BAR0_SIZE - off;
	if (!memory_enabled(d))
		return -EIO;
	/* Naturally aligned accesses of at most 4 bytes, as 6.1 does. */
	while (done < count) {
		size_t n = 1;

		if (count - done >= 4 && !((off + done) % 4))
			n = 4;
		else if (count - done >= 2 && !((off + done) % 2))
			n = 2;
		if (write) {
			if (sim_copy_from_user(tmp, (unsigned long)buf + done,
					       n))
				return -EFAULT;
			vfiosim_edu_mmio_write(d->edu, off + done, tmp,
					       (unsigned int)n);
		} else {
			vfiosim_edu_mmio_read(d->edu, off + done, tmp,
					      (unsigned int)n);
			if (sim_copy_to_user((unsigned long)buf + done, tmp, n))
				return -EFAULT;
		}
		done += n;
	}
	return (ssize_t)count;
}

VFIOSIM_EXPORT ssize_t vfiosim_uapi_pread(struct vfiosim_world *w, int fd,
					  void *buf, size_t count, off_t offset)
{
	struct uapi_file *f = w ? file_of(w->uapi, fd) : NULL;

	if (!f)
		return fail(EBADF);
	if (f->kind != F_DEVICE || offset < 0)
		return fail(EINVAL);
	return result(device_rw(f->dev, buf, count, (uint64_t)offset, false));
}

VFIOSIM_EXPORT ssize_t vfiosim_uapi_pwrite(struct vfiosim_world *w, int fd,
					   const void *buf, size_t count,
					   off_t offset)
{
	struct uapi_file *f = w ? file_of(w->uapi, fd) : NULL;

	if (!f)
		return fail(EBADF);
	if (f->kind != F_DEVICE || offset < 0)
		return fail(EINVAL);
	return result(
		device_rw(f->dev, (void *)buf, count, (uint64_t)offset, true));
}

/* ------------------------------------------------------------- mmap */

/* The flags mmap() knew before MAP_SHARED_VALIDATE (0x4000000 is
 * MAP_UNINITIALIZED, which glibc does not define). */
#define LEGACY_MAP_MASK                                               \
	(MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS |       \
	 MAP_DENYWRITE | MAP_EXECUTABLE | 0x4000000 | MAP_GROWSDOWN | \
	 MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK |   \
	 MAP_STACK | MAP_HUGETLB)

/*
 * mmap(2) of a VFIO file: the checks of ksys_mmap_pgoff() and do_mmap()
 * that can fail for a device file, in their order, then
 * vfio_pci_core_mmap()'s: a region index below the PCI regions, MAP_SHARED,
 * a BAR (not ROM, config or VGA) that allows mmap, the request within the
 * page-aligned BAR.  The mapping is a VM_IO | VM_PFNMAP VMA of the BAR's
 * frames in the calling task's simulated mm.
 */
static long uapi_mmap(struct vfiosim_world *w, uint64_t addr, uint64_t len,
		      int prot, int flags, int fd, uint64_t offset,
		      uint64_t *out)
{
	struct uapi_file *f = file_of(w->uapi, fd);
	uint64_t psz = vfiosim_page_size(w), pgoff, req_start, phys_len;
	unsigned int index, vflags = VFIOSIM_MAP_SHARED;
	struct vfiosim_mm *mm;
	int rc, type = flags & MAP_TYPE;

	if (offset & (psz - 1))
		return -EINVAL;
	if (flags & MAP_ANONYMOUS)
		return -EINVAL; /* not a file mapping: use vfiosim_mmap() */
	if (!f)
		return -EBADF;
	if (flags & MAP_HUGETLB)
		return -EINVAL; /* not a hugetlbfs file */
	if (!len)
		return -EINVAL;
	len = (len + psz - 1) & ~(psz - 1);
	if (!len)
		return -ENOMEM;
	pgoff = offset / psz;
	if (pgoff + len / psz < pgoff)
		return -EOVERFLOW;
	/* MAP_SHARED ignores unknown flags, but MAP_FIXED_NOREPLACE has
	 * placed the mapping by then: the placement flags stay in @flags. */
	switch (type) {
	case MAP_SHARED:
		break;
	case MAP_SHARED_VALIDATE:
		if (flags & ~LEGACY_MAP_MASK)
			return -EOPNOTSUPP;
		break;
	case MAP_PRIVATE:
		break;
	default:
		return -EINVAL;
	}
	if (f->kind != F_DEVICE)
		return -ENODEV; /* container and group files have no mmap */
	if (flags & MAP_GROWSDOWN)
		return -EINVAL; /* VM_GROWSDOWN on a file mapping */
	/* vfio_pci_core_mmap() */
	index = (unsigned int)(offset >> PCI_OFFSET_SHIFT);
	if (index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL; /* edu has no device-specific regions */
	if (type == MAP_PRIVATE)
		return -EINVAL;
	if (index != VFIO_PCI_BAR0_REGION_INDEX)
		return -EINVAL; /* ROM, config, VGA; BARs 1-5 do not exist */
	phys_len = (VFIOSIM_EDU_BAR0_SIZE + psz - 1) & ~(psz - 1);
	req_start = offset & PCI_OFFSET_MASK;
	if (req_start > phys_len || len > phys_len - req_start)
		return -EINVAL;
	mm = vfiosim_current_mm(w);
	if (!mm || mm->host)
		return -ENODEV; /* see docs/uapi.md: no BAR in a real process */
	if (flags & MAP_FIXED)
		vflags |= VFIOSIM_MAP_FIXED;
	if (flags & MAP_FIXED_NOREPLACE)
		vflags |= VFIOSIM_MAP_FIXED_NOREPLACE;
	rc = vfiosim_mmap_pfn(mm, addr, len,
			      (unsigned int)prot &
				      (VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE |
				       VFIOSIM_PROT_EXEC),
			      vflags, f->dev->bar0_pfn + req_start / psz, out);
	return rc;
}

VFIOSIM_EXPORT void *vfiosim_uapi_mmap(struct vfiosim_world *w, void *addr,
				       size_t len, int prot, int flags, int fd,
				       off_t offset)
{
	uint64_t out = 0;
	long rc;

	if (!w)
		return fail(EBADF), MAP_FAILED;
	if (offset < 0)
		return fail(EINVAL), MAP_FAILED;
	rc = uapi_mmap(w, (uint64_t)(uintptr_t)addr, len, prot, flags, fd,
		       (uint64_t)offset, &out);
	if (rc)
		return fail((int)-rc), MAP_FAILED;
	return (void *)(uintptr_t)out;
}

VFIOSIM_EXPORT int vfiosim_uapi_munmap(struct vfiosim_world *w, void *addr,
				       size_t len)
{
	struct vfiosim_mm *mm = w ? vfiosim_current_mm(w) : NULL;

	if (!mm || mm->host)
		return (int)fail(EINVAL);
	return (int)result(vfiosim_munmap(mm, (uint64_t)(uintptr_t)addr, len));
}

/*
 * The first @minsz bytes of a uAPI struct (argsz first, as in every
 * struct of <linux/vfio.h>) copied in, and its argsz checked: 0, -EFAULT,
 * or -EINVAL for an argsz below @minsz.
 */
static int copy_head(void *dst, unsigned long arg, size_t minsz)
{
	uint32_t argsz;

	if (sim_copy_from_user(dst, arg, minsz))
		return -EFAULT;
	memcpy(&argsz, dst, sizeof(argsz));
	return argsz < minsz ? -EINVAL : 0;
}

/* ------------------------------------------------------------ type1 */

/*
 * vfio_info_cap_add() of 6.1: no alignment, next is buffer-relative.  The
 * capability (header included) is copied in as bytes: 6.1's offsets leave
 * its 64-bit fields misaligned.
 */
struct caps {
	uint8_t buf[512];
	size_t size;
	size_t last; /* offset of the last header + 1, 0 if none */
};

static int cap_add(struct caps *c, void *cap, size_t size, uint16_t id)
{
	struct vfio_info_cap_header h = { .id = id, .version = 1, .next = 0 };

	if (c->size + size > sizeof(c->buf))
		return -ENOMEM;
	memcpy(cap, &h, sizeof(h));
	memcpy(c->buf + c->size, cap, size);
	if (c->last) {
		uint32_t next = (uint32_t)c->size;

		memcpy(c->buf + c->last - 1 +
			       offsetof(struct vfio_info_cap_header, next),
		       &next, sizeof(next));
	}
	c->last = c->size + 1;
	c->size += size;
	return 0;
}

/* vfio_info_cap_shift(): make the next links relative to the info. */
static void cap_shift(struct caps *c, uint32_t offset)
{
	const size_t at_next = offsetof(struct vfio_info_cap_header, next);
	size_t at = 0;

	while (c->size) {
		uint32_t next, shifted;

		memcpy(&next, c->buf + at + at_next, sizeof(next));
		if (!next)
			break;
		shifted = next + offset;
		memcpy(c->buf + at + at_next, &shifted, sizeof(shifted));
		at = next;
	}
}

static long type1_get_info(struct vfiosim_type1 *t1, unsigned long arg)
{
	struct vfio_iommu_type1_info info;
	struct vfiosim_type1_info ti;
	size_t minsz = offsetof(struct vfio_iommu_type1_info, cap_offset);
	struct caps caps = { .size = 0 };
	struct vfio_iommu_type1_info_cap_migration mig = { 0 };
	struct vfio_iommu_type1_info_dma_avail avail = { 0 };
	int rc;

	/* cap_offset is written back only when argsz covers it, and the pad
	 * after it never (6.1's capsz: offsetofend of cap_offset). */
	const size_t capsz =
		offsetof(struct vfio_iommu_type1_info, cap_offset) +
		sizeof(info.cap_offset);

	memset(&info, 0, sizeof(info));
	rc = copy_head(&info, arg, minsz);
	if (rc)
		return rc;
	if (info.argsz >= capsz)
		minsz = capsz;
	rc = vfiosim_type1_get_info(t1, &ti);
	if (rc)
		return rc;
	info.flags = VFIO_IOMMU_INFO_PGSIZES;
	info.iova_pgsizes = ti.iova_pgsizes;
	mig.flags = 0;
	mig.pgsize_bitmap = ti.migration_pgsize;
	mig.max_dirty_bitmap_size = ti.max_dirty_bitmap_size;
	avail.avail = ti.dma_avail;
	if (cap_add(&caps, &mig, sizeof(mig),
		    VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) ||
	    cap_add(&caps, &avail, sizeof(avail),
		    VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL))
		return -ENOMEM;
	if (ti.nr_iovas) {
		/* Header, nr_iovas, reserved, then {start, end} pairs. */
		const size_t head =
			sizeof(struct vfio_iommu_type1_info_cap_iova_range);
		uint32_t n = ti.nr_iovas < VFIOSIM_TYPE1_MAX_IOVA_RANGES ?
				     ti.nr_iovas :
				     VFIOSIM_TYPE1_MAX_IOVA_RANGES;
		uint8_t cap[sizeof(struct vfio_iommu_type1_info_cap_iova_range) +
			    VFIOSIM_TYPE1_MAX_IOVA_RANGES * 16];

		memset(cap, 0, sizeof(cap));
		memcpy(cap + offsetof(
				     struct vfio_iommu_type1_info_cap_iova_range,
				     nr_iovas),
		       &n, sizeof(n));
		for (uint32_t i = 0; i < n; i++) {
			memcpy(cap + head + i * 16, &ti.iovas[i].start, 8);
			memcpy(cap + head + i * 16 + 8, &ti.iovas[i].last, 8);
		}
		if (cap_add(&caps, cap, head + n * 16,
			    VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE))
			return -ENOMEM;
	}
	if (caps.size) {
		info.flags |= VFIO_IOMMU_INFO_CAPS;
		if (info.argsz < sizeof(info) + caps.size) {
			info.argsz = (uint32_t)(sizeof(info) + caps.size);
		} else {
			cap_shift(&caps, sizeof(info));
			if (sim_copy_to_user(arg + sizeof(info), caps.buf,
					     caps.size))
				return -EFAULT;
			info.cap_offset = sizeof(info);
		}
	}
	return sim_copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static long type1_map_dma(struct vfiosim_type1 *t1, unsigned long arg)
{
	struct vfio_iommu_type1_dma_map map;
	int rc = copy_head(&map, arg, sizeof(map));

	/* Unknown flags: vfiosim_type1_map_dma() refuses them first. */
	if (rc)
		return rc;
	return vfiosim_type1_map_dma(t1, map.vaddr, map.iova, map.size,
				     map.flags);
}

/* verify_bitmap_size(). */
static int verify_bitmap_size(uint64_t npages, uint64_t bitmap_size)
{
	if (!npages || !bitmap_size || bitmap_size > DIRTY_BITMAP_SIZE_MAX ||
	    bitmap_size < DIRTY_BITMAP_BYTES(npages))
		return -EINVAL;
	return 0;
}

static long type1_unmap_dma(struct vfiosim_type1 *t1, unsigned long arg)
{
	int rc;
	struct vfio_iommu_type1_dma_unmap unmap;
	size_t minsz = offsetof(struct vfio_iommu_type1_dma_unmap, data);
	struct vfiosim_type1_bitmap bm = { 0 }, *bmp = NULL;
	uint32_t mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
			VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR;
	uint64_t unmapped = 0;
	int ret;

	rc = copy_head(&unmap, arg, minsz);
	if (rc)
		return rc;
	if (unmap.flags & ~mask)
		return -EINVAL;
	if ((unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
	    (unmap.flags &
	     (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)))
		return -EINVAL;
	if (unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
		struct vfio_bitmap b;
		unsigned int pgshift;

		if (unmap.argsz < minsz + sizeof(b))
			return -EINVAL;
		if (sim_copy_from_user(&b, arg + minsz, sizeof(b)))
			return -EFAULT;
		if (!access_ok((uint64_t)(uintptr_t)b.data, b.size))
			return -EINVAL;
		pgshift = sim_ffs64(b.pgsize);
		if (pgshift >= 64)
			return -EINVAL; /* __ffs(0): undefined in the kernel */
		ret = verify_bitmap_size(unmap.size >> pgshift, b.size);
		if (ret)
			return ret;
		bm = (struct vfiosim_type1_bitmap){ b.pgsize, b.size, b.data };
		bmp = &bm;
	}
	ret = vfiosim_type1_unmap_dma(t1, unmap.iova, unmap.size, unmap.flags,
				      bmp, &unmapped);
	if (ret)
		return ret; /* nothing is copied back on error */
	unmap.size = unmapped;
	return sim_copy_to_user(arg, &unmap, minsz) ? -EFAULT : 0;
}

static long type1_dirty_pages(struct vfiosim_type1 *t1, unsigned long arg)
{
	int rc;
	struct vfio_iommu_type1_dirty_bitmap dirty;
	size_t minsz = offsetof(struct vfio_iommu_type1_dirty_bitmap, data);
	uint32_t mask = VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
			VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
			VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;

	/* v1 is refused before anything is read. */
	if (!vfiosim_type1_is_v2(t1))
		return -EACCES;
	rc = copy_head(&dirty, arg, minsz);
	if (rc)
		return rc;
	if (dirty.flags & ~mask)
		return -EINVAL;
	/* Exactly one flag (flags == 0 is undefined in the kernel). */
	if (!dirty.flags || (dirty.flags & (dirty.flags - 1)))
		return -EINVAL;
	if (dirty.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_START)
		return vfiosim_type1_dirty_start(t1);
	if (dirty.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP)
		return vfiosim_type1_dirty_stop(t1);
	{
		struct vfio_iommu_type1_dirty_bitmap_get range;
		struct vfiosim_type1_bitmap bm;
		size_t data_size = dirty.argsz - minsz;
		unsigned int pgshift;
		int ret;

		if (!data_size || data_size < sizeof(range))
			return -EINVAL;
		if (sim_copy_from_user(&range, arg + minsz, sizeof(range)))
			return -EFAULT;
		if (range.iova + range.size < range.iova)
			return -EINVAL;
		if (!access_ok((uint64_t)(uintptr_t)range.bitmap.data,
			       range.bitmap.size))
			return -EINVAL;
		pgshift = sim_ffs64(range.bitmap.pgsize);
		if (pgshift >= 64)
			return -EINVAL;
		ret = verify_bitmap_size(range.size >> pgshift,
					 range.bitmap.size);
		if (ret)
			return ret;
		bm = (struct vfiosim_type1_bitmap){ range.bitmap.pgsize,
						    range.bitmap.size,
						    range.bitmap.data };
		return vfiosim_type1_dirty_get(t1, range.iova, range.size, &bm);
	}
}

static long type1_ioctl(struct vfiosim_type1 *t1, unsigned long request,
			unsigned long arg)
{
	switch (request) {
	case VFIO_IOMMU_GET_INFO:
		return type1_get_info(t1, arg);
	case VFIO_IOMMU_MAP_DMA:
		return type1_map_dma(t1, arg);
	case VFIO_IOMMU_UNMAP_DMA:
		return type1_unmap_dma(t1, arg);
	case VFIO_IOMMU_DIRTY_PAGES:
		return type1_dirty_pages(t1, arg);
	default:
		return -ENOTTY;
	}
}

/* ------------------------------------------------------------- ioctls */

static long container_ioctl(struct vfiosim_container *c, unsigned long request,
			    unsigned long arg)
{
	struct vfiosim_type1 *t1;

	switch (request) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return vfiosim_container_check_extension(c, arg);
	case VFIO_SET_IOMMU:
		return vfiosim_container_set_iommu(c, arg);
	default:
		t1 = vfiosim_container_type1(c);
		return t1 ? type1_ioctl(t1, request, arg) : -EINVAL;
	}
}

/*
 * vfio_pci_get_irq_count() for the edu: one INTx pin, one MSI vector (its
 * MSI capability), no MSI-X, no error interrupt (not PCIe), one request
 * interrupt.
 */
static uint32_t irq_count(uint32_t index)
{
	return index == VFIO_PCI_INTX_IRQ_INDEX ||
			       index == VFIO_PCI_MSI_IRQ_INDEX ||
			       index == VFIO_PCI_REQ_IRQ_INDEX ?
		       1 :
		       0;
}

/* INTx's unmask: a line still asserted fires again at once. */
static void intx_unmask(struct uapi_dev *d)
{
	if (!d->intx_masked)
		return;
	d->intx_masked = false;
	if (d->intx_line) {
		d->intx_masked = true;
		signal_fd(d->intx_fd);
	}
}

/* What DATA_NONE or DATA_BOOL asks: act (an unset bool does nothing). */
static bool data_says_act(uint32_t dtype, const uint8_t *data)
{
	return dtype == VFIO_IRQ_SET_DATA_NONE ||
	       (dtype == VFIO_IRQ_SET_DATA_BOOL && data[0]);
}

/* vfio_pci_set_intx_mask/unmask/trigger(). */
static long set_intx(struct uapi_dev *d, const struct vfio_irq_set *h,
		     uint32_t action, uint32_t dtype, const uint8_t *data)
{
	const bool intx = d->irq_type == VFIO_PCI_INTX_IRQ_INDEX;
	int32_t fd;
	int rc;

	if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
		if (!intx || h->start || h->count != 1)
			return -EINVAL;
		if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
			int32_t fd;

			/* 6.1 has no mask irqfd; an unmask irqfd (KVM's) is
			 * not modelled: only switching it off works. */
			if (action == VFIO_IRQ_SET_ACTION_MASK)
				return -ENOTTY;
			memcpy(&fd, data, sizeof(fd));
			return fd < 0 ? 0 : -EINVAL;
		}
		if (data_says_act(dtype, data)) {
			if (action == VFIO_IRQ_SET_ACTION_MASK)
				d->intx_masked = true;
			else
				intx_unmask(d);
		}
		return 0;
	}
	if (intx && !h->count && dtype == VFIO_IRQ_SET_DATA_NONE) {
		irqs_disable(d);
		return 0;
	}
	if (!(intx || d->irq_type < 0) || h->start || h->count != 1)
		return -EINVAL;
	if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
		memcpy(&fd, data, sizeof(fd));
		if (intx)
			return set_eventfd(&d->intx_fd, fd);
		d->irq_type = VFIO_PCI_INTX_IRQ_INDEX;
		d->intx_masked = false;
		rc = set_eventfd(&d->intx_fd, fd);
		if (rc)
			irqs_disable(d);
		else if (d->intx_line) /* the handler runs at once */
			dev_irq(d, false, true);
		return rc;
	}
	if (!intx)
		return -EINVAL;
	if (data_says_act(dtype, data)) /* loopback: no masking */
		signal_fd(d->intx_fd);
	return 0;
}

/* vfio_pci_set_msi_trigger() for the edu's one MSI vector. */
static long set_msi(struct uapi_dev *d, const struct vfio_irq_set *h,
		    uint32_t dtype, const uint8_t *data)
{
	const bool msi = d->irq_type == (int)h->index;
	int32_t fd;
	int rc;

	if (msi && !h->count && dtype == VFIO_IRQ_SET_DATA_NONE) {
		irqs_disable(d);
		return 0;
	}
	if (!(msi || d->irq_type < 0))
		return -EINVAL;
	if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
		if (!h->count)
			return msi ? 0 : -EINVAL;
		memcpy(&fd, data, sizeof(fd));
		if (msi)
			return set_eventfd(&d->msi_fd, fd);
		d->irq_type = (int)h->index;
		vfiosim_edu_set_msi(d->edu, true);
		rc = set_eventfd(&d->msi_fd, fd);
		if (rc)
			irqs_disable(d);
		return rc;
	}
	if (!msi)
		return -EINVAL;
	if (h->count && data_says_act(dtype, data)) /* loopback */
		signal_fd(d->msi_fd);
	return 0;
}

/* vfio_pci_set_ctx_trigger_single() for the request interrupt. */
static long set_req(struct uapi_dev *d, const struct vfio_irq_set *h,
		    uint32_t dtype, const uint8_t *data)
{
	int32_t fd;

	if (h->start || h->count > 1)
		return -EINVAL;
	if (dtype == VFIO_IRQ_SET_DATA_NONE) {
		if (d->req_fd < 0)
			return -EINVAL;
		if (h->count)
			signal_fd(d->req_fd);
		else
			set_eventfd(&d->req_fd, -1);
		return 0;
	}
	if (!h->count)
		return -EINVAL;
	if (dtype == VFIO_IRQ_SET_DATA_BOOL) {
		if (data[0] && d->req_fd >= 0)
			signal_fd(d->req_fd);
		return 0;
	}
	memcpy(&fd, data, sizeof(fd));
	if (fd == -1)
		set_eventfd(&d->req_fd, -1);
	else if (fd >= 0)
		return set_eventfd(&d->req_fd, fd);
	return 0;
}

/*
 * VFIO_DEVICE_SET_IRQS: vfio_pci_ioctl_set_irqs() with
 * vfio_set_irqs_validate_and_prepare(), then vfio_pci_set_irqs_ioctl()'s
 * dispatch (ENOTTY for an action an index does not have).  The edu has
 * one INTx, one MSI vector, no MSI-X, no error interrupt (not PCIe) and
 * the request interrupt; the probe irqs compares all of it with 6.1.
 */
static long set_irqs(struct uapi_dev *d, unsigned long arg)
{
	const size_t minsz =
		offsetof(struct vfio_irq_set, count) + sizeof(uint32_t);
	struct vfio_irq_set h;
	int rc;
	uint32_t max, dtype, action;
	uint8_t data[4] = { 0 };
	size_t size;

	rc = copy_head(&h, arg, minsz);
	if (rc)
		return rc;
	if (h.index >= VFIO_PCI_NUM_IRQS || h.count >= UINT32_MAX - h.start ||
	    (h.flags & ~(uint32_t)(VFIO_IRQ_SET_DATA_TYPE_MASK |
				   VFIO_IRQ_SET_ACTION_TYPE_MASK)))
		return -EINVAL;
	max = irq_count(h.index);
	if (h.start >= max || h.start + h.count > max)
		return -EINVAL;
	dtype = h.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	action = h.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	switch (dtype) {
	case VFIO_IRQ_SET_DATA_NONE:
		size = 0;
		break;
	case VFIO_IRQ_SET_DATA_BOOL:
		size = 1;
		break;
	case VFIO_IRQ_SET_DATA_EVENTFD:
		size = 4;
		break;
	default:
		return -EINVAL;
	}
	/* max is 1, so count is 0 or 1: at most 4 bytes of data. */
	if (size && h.argsz - minsz < h.count * size)
		return -EINVAL;
	if (size && h.count &&
	    sim_copy_from_user(data, arg + minsz, h.count * size))
		return -EFAULT;
	switch (h.index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_MASK ||
		    action == VFIO_IRQ_SET_ACTION_UNMASK ||
		    action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return set_intx(d, &h, action, dtype, data);
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return set_msi(d, &h, dtype, data);
		break;
	case VFIO_PCI_REQ_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return set_req(d, &h, dtype, data);
		break;
	default:
		break;
	}
	return -ENOTTY;
}

/* vfio_check_feature(): 1 to go on, 0 for a probe, or -EINVAL. */
static int check_feature(uint32_t flags, uint32_t argsz, uint32_t ops,
			 size_t minsz)
{
	if ((flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) &
	    ~ops)
		return -EINVAL;
	if (flags & VFIO_DEVICE_FEATURE_PROBE)
		return 0;
	if (!(flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) ||
	    argsz < minsz)
		return -EINVAL;
	return 1;
}

/*
 * VFIO_DEVICE_FEATURE: vfio_ioctl_device_feature()'s checks, no
 * migration (ENOTTY), and vfio-pci's low-power entry and exit (the device
 * wakes for every access, so nothing else changes here); entry with a
 * wake-up eventfd is not modelled (EOPNOTSUPP after its checks).  Other
 * features: ENOTTY.
 */
static long device_feature(struct uapi_dev *d, unsigned long arg)
{
	const size_t minsz =
		offsetof(struct vfio_device_feature, flags) + sizeof(uint32_t);
	const uint32_t known =
		VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET |
		VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE;
	struct vfio_device_feature f;
	int rc;

	rc = copy_head(&f, arg, minsz);
	if (rc)
		return rc;
	if ((f.flags & ~known))
		return -EINVAL;
	if (!(f.flags & VFIO_DEVICE_FEATURE_PROBE) &&
	    (f.flags & VFIO_DEVICE_FEATURE_SET) &&
	    (f.flags & VFIO_DEVICE_FEATURE_GET))
		return -EINVAL;
	switch (f.flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY:
	case VFIO_DEVICE_FEATURE_LOW_POWER_EXIT:
		rc = check_feature(f.flags, f.argsz - (uint32_t)minsz,
				   VFIO_DEVICE_FEATURE_SET, 0);
		if (rc != 1)
			return rc;
		if ((f.flags & VFIO_DEVICE_FEATURE_MASK) ==
		    VFIO_DEVICE_FEATURE_LOW_POWER_EXIT) {
			d->low_power = false;
			return 0;
		}
		if (d->low_power)
			return -EINVAL;
		d->low_power = true;
		return 0;
	case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP:
		rc = check_feature(
			f.flags, f.argsz - (uint32_t)minsz,
			VFIO_DEVICE_FEATURE_SET,
			sizeof(struct vfio_device_low_power_entry_with_wakeup));
		return rc != 1 ? rc : -EOPNOTSUPP;
	default: /* no migration, no VF token */
		return -ENOTTY;
	}
}

/*
 * VFIO_DEVICE_IOEVENTFD: vfio_pci_ioctl_ioeventfd()'s checks; with none
 * registered, removing one (fd -1) is ENODEV.  Registering one is not
 * modelled (EOPNOTSUPP after the checks).
 */
static long device_ioeventfd(unsigned long arg)
{
	int rc;
	const size_t minsz =
		offsetof(struct vfio_device_ioeventfd, fd) + sizeof(int32_t);
	struct vfio_device_ioeventfd io;
	uint32_t count;
	unsigned int bar;
	uint64_t pos, len;

	rc = copy_head(&io, arg, minsz);
	if (rc)
		return rc;
	if ((io.flags & ~(uint32_t)VFIO_DEVICE_IOEVENTFD_SIZE_MASK))
		return -EINVAL;
	count = io.flags & VFIO_DEVICE_IOEVENTFD_SIZE_MASK;
	if (__builtin_popcount(count) != 1 || io.fd < -1)
		return -EINVAL;
	bar = (unsigned int)(io.offset >> PCI_OFFSET_SHIFT);
	pos = io.offset & PCI_OFFSET_MASK;
	if (bar > VFIO_PCI_BAR5_REGION_INDEX)
		return -EINVAL;
	len = bar == VFIO_PCI_BAR0_REGION_INDEX ? VFIOSIM_EDU_BAR0_SIZE : 0;
	if (pos + count > len)
		return -EINVAL;
	return io.fd < 0 ? -ENODEV : -EOPNOTSUPP;
}

/*
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO and VFIO_DEVICE_PCI_HOT_RESET: the
 * edu sits on the root bus with neither a slot nor a bus reset, so
 * vfio-pci answers ENODEV after the header's checks (both headers are
 * argsz, flags, count; a reset takes no flags).
 */
static long hot_reset(unsigned long arg, bool do_reset)
{
	int rc;
	struct vfio_pci_hot_reset_info h;
	const size_t minsz = offsetof(struct vfio_pci_hot_reset_info, count) +
			     sizeof(h.count);

	_Static_assert(offsetof(struct vfio_pci_hot_reset, count) ==
			       offsetof(struct vfio_pci_hot_reset_info, count),
		       "one header for both");
	rc = copy_head(&h, arg, minsz);
	if (rc)
		return rc;
	if ((do_reset && h.flags))
		return -EINVAL;
	return -ENODEV;
}

static long device_ioctl(struct uapi_dev *d, unsigned long request,
			 unsigned long arg)
{
	int rc;
	struct vfio_device_info info;
	struct vfio_region_info ri;
	struct vfio_irq_info ii;
	size_t minsz;

	switch (request) {
	case VFIO_DEVICE_GET_INFO:
		minsz = offsetof(struct vfio_device_info, num_irqs) +
			sizeof(info.num_irqs);
		rc = copy_head(&info, arg, minsz);
		if (rc)
			return rc;
		/* Like GET_INFO of type1: cap_offset (0, no chain) goes back
		 * when argsz covers it, the padding never. */
		if (info.argsz >=
		    offsetof(struct vfio_device_info, cap_offset) +
			    sizeof(info.cap_offset)) {
			minsz = offsetof(struct vfio_device_info, cap_offset) +
				sizeof(info.cap_offset);
			info.cap_offset = 0;
		}
		/* QEMU's edu has neither FLR nor PM reset: 6.1 finds no reset
		 * method, so no RESET flag and VFIO_DEVICE_RESET fails. */
		info.flags = VFIO_DEVICE_FLAGS_PCI;
		info.num_regions = VFIO_PCI_NUM_REGIONS;
		info.num_irqs = VFIO_PCI_NUM_IRQS;
		return sim_copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
	case VFIO_DEVICE_GET_REGION_INFO:
		minsz = offsetof(struct vfio_region_info, offset) +
			sizeof(ri.offset);
		rc = copy_head(&ri, arg, minsz);
		if (rc)
			return rc;
		switch (ri.index) {
		case VFIO_PCI_CONFIG_REGION_INDEX:
			ri.size = VFIOSIM_EDU_CONFIG_SIZE;
			ri.flags = VFIO_REGION_INFO_FLAG_READ |
				   VFIO_REGION_INFO_FLAG_WRITE;
			break;
		case VFIO_PCI_BAR0_REGION_INDEX:
			ri.size = VFIOSIM_EDU_BAR0_SIZE;
			ri.flags = VFIO_REGION_INFO_FLAG_READ |
				   VFIO_REGION_INFO_FLAG_WRITE |
				   VFIO_REGION_INFO_FLAG_MMAP;
			break;
		case VFIO_PCI_BAR1_REGION_INDEX ... VFIO_PCI_BAR5_REGION_INDEX:
		case VFIO_PCI_ROM_REGION_INDEX:
			ri.size = 0;
			ri.flags = 0;
			break;
		default: /* no VGA, no device-specific regions */
			return -EINVAL;
		}
		ri.offset = (uint64_t)ri.index << PCI_OFFSET_SHIFT;
		/* No capability chain here: 6.1 copies the whole struct back
		 * as read, so the caller's cap_offset comes back unchanged
		 * (probe info_bytes). */
		return sim_copy_to_user(arg, &ri, minsz) ? -EFAULT : 0;
	case VFIO_DEVICE_GET_IRQ_INFO:
		minsz = offsetof(struct vfio_irq_info, count) +
			sizeof(ii.count);
		rc = copy_head(&ii, arg, minsz);
		if (rc)
			return rc;
		/* ERR needs PCIe, which QEMU's edu is not. */
		if (ii.index >= VFIO_PCI_NUM_IRQS ||
		    ii.index == VFIO_PCI_ERR_IRQ_INDEX)
			return -EINVAL;
		ii.flags = VFIO_IRQ_INFO_EVENTFD;
		if (ii.index == VFIO_PCI_INTX_IRQ_INDEX)
			ii.flags |= VFIO_IRQ_INFO_MASKABLE |
				    VFIO_IRQ_INFO_AUTOMASKED;
		else
			ii.flags |= VFIO_IRQ_INFO_NORESIZE;
		ii.count = irq_count(ii.index);
		return sim_copy_to_user(arg, &ii, minsz) ? -EFAULT : 0;
	case VFIO_DEVICE_SET_IRQS:
		return set_irqs(d, arg);
	case VFIO_DEVICE_FEATURE:
		return device_feature(d, arg);
	case VFIO_DEVICE_IOEVENTFD:
		return device_ioeventfd(arg);
	case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
		return hot_reset(arg, false);
	case VFIO_DEVICE_PCI_HOT_RESET:
		return hot_reset(arg, true);
	case VFIO_DEVICE_RESET:
		/* !vdev->reset_works (see GET_INFO); vfiosim_edu_reset() is
		 * the model's own way to reset the device. */
		return -EINVAL;
	default:
		return -ENOTTY;
	}
}

/* strndup_user(arg, PAGE_SIZE) into @buf. */
static int name_from_user(char *buf, size_t len, unsigned long arg)
{
	for (size_t i = 0; i < len; i++) {
		if (sim_copy_from_user(&buf[i], arg + i, 1))
			return -EFAULT;
		if (!buf[i])
			return 0;
	}
	return -EINVAL;
}

static long get_device_fd(struct uapi *u, struct uapi_node *n,
			  unsigned long arg)
{
	char name[4096];
	struct uapi_dev *d;
	int rc, fd;

	rc = name_from_user(name, sizeof(name), arg);
	if (rc)
		return rc;
	for (d = n->devs; d; d = d->next)
		if (!strcmp(vfiosim_edu_name(d->edu), name))
			break;
	if (!d)
		return -ENODEV;
	rc = vfiosim_vfio_group_device_open(n->group);
	if (rc)
		return rc;
	fd = add_file(u, F_DEVICE, NULL, n, d);
	if (fd < 0)
		vfiosim_vfio_group_device_close(n->group);
	else
		d->nopen++;
	return fd;
}

static long group_ioctl(struct uapi *u, struct uapi_node *n,
			unsigned long request, unsigned long arg)
{
	struct vfio_group_status status;
	struct uapi_file *cf;
	size_t minsz;
	int32_t fd;
	int rc;

	switch (request) {
	case VFIO_GROUP_GET_STATUS:
		minsz = offsetof(struct vfio_group_status, flags) +
			sizeof(status.flags);
		rc = copy_head(&status, arg, minsz);
		if (rc)
			return rc;
		rc = vfiosim_vfio_group_status(n->group, &status.flags);
		if (rc)
			return rc;
		return sim_copy_to_user(arg, &status, minsz) ? -EFAULT : 0;
	case VFIO_GROUP_SET_CONTAINER:
		if (sim_copy_from_user(&fd, arg, sizeof(fd)))
			return -EFAULT;
		cf = file_of(u, fd);
		if (!cf)
			return -foreign_fd_errno(fd);
		if (cf->kind != F_CONTAINER)
			return -EINVAL;
		return vfiosim_vfio_group_set_container(n->group,
							cf->container);
	case VFIO_GROUP_UNSET_CONTAINER:
		return vfiosim_vfio_group_unset_container(n->group);
	case VFIO_GROUP_GET_DEVICE_FD:
		return get_device_fd(u, n, arg);
	default:
		return -ENOTTY;
	}
}

VFIOSIM_EXPORT long vfiosim_uapi_ioctl(struct vfiosim_world *w, int fd,
				       unsigned long request, unsigned long arg)
{
	struct uapi_file *f;
	struct uapi *u;

	if (!w)
		return fail(EBADF);
	u = w->uapi;
	f = file_of(u, fd);
	if (!f)
		return fail(foreign_fd_errno(fd) == EBADF ? EBADF : ENOTTY);
	if (f->kind == F_CONTAINER)
		return result(container_ioctl(f->container, request, arg));
	if (f->kind == F_DEVICE)
		return result(device_ioctl(f->dev, request, arg));
	return result(group_ioctl(u, f->node, request, arg));
}
