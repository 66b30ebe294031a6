/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * preload.c - libvfiosim-preload.so: run an unmodified VFIO program on the
 * simulator.
 *
 *   LD_PRELOAD=libvfiosim-preload.so ./program /dev/vfio/1 0000:00:01.0
 *
 * The shim interposes open/openat (and their 64-bit and fortified forms),
 * close, ioctl, pread/pwrite and mmap (and 64) for /dev/vfio/vfio, /dev/vfio/N and
 * the device files; every other path and descriptor goes to libc
 * untouched.  Behind them is one simulated world whose task "main" uses
 * the host mm: the program's own memory is pinned and an edu device's DMA
 * lands in the program's buffers.
 *
 * The machine comes from VFIOSIM_TOPOLOGY (see docs/preload.md); unset, it
 * is the kernel oracle's VM: one edu at 0000:00:01.0 alone in IOMMU group
 * 1, VT-d geometry (39-bit, 4K|2M|1G pages, MSI window reserved, no snoop
 * control, interrupt remapping).  VFIOSIM_DMA_ENTRY_LIMIT sets type1's
 * dma_entry_limit; VFIOSIM_FIX_DIRTY_SHIFT=1 the corrected dirty report.  At exit, failures the model recorded are printed to
 * stderr (and VFIOSIM_PRELOAD_STRICT=1 turns them into exit status 70).
 *
 * Calls are serialised by one mutex: the world runs no simulated threads,
 * so the program's threads act as the world's set-up thread, one at a time.
 */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <libvfiosim/edu.h>
#include <libvfiosim/iommu.h>
#include <libvfiosim/mm.h>
#include <libvfiosim/uapi.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_GROUPS 16
#define MAX_DEVICES 32

/*
 * Recursive: the model itself calls libc functions the shim interposes
 * (close() of a reserved descriptor, fopen("/proc/self/maps") of the host
 * mm) while the shim holds the lock.
 */
static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct vfiosim_world *world;
static struct vfiosim_mm *host_mm; /* the process's memory, in the model */
static bool init_failed;
/* How deep this thread is in the lock: > 0 while the model runs here. */
static __thread int lock_depth;

static void shim_lock(void)
{
	pthread_mutex_lock(&lock);
	lock_depth++;
}

static void shim_unlock(void)
{
	lock_depth--;
	pthread_mutex_unlock(&lock);
}

static struct {
	struct vfiosim_iommu *iommu;
	struct {
		int id;
		struct vfiosim_iommu_group *group;
	} groups[MAX_GROUPS];
	int ngroups;
	struct vfiosim_edu *edus[MAX_DEVICES];
	int nedus;
} topo;

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static int (*real_ioctl)(int, unsigned long, ...);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);

static void resolve(void)
{
	if (real_open)
		return;
	real_open = dlsym(RTLD_NEXT, "open");
	real_openat = dlsym(RTLD_NEXT, "openat");
	real_close = dlsym(RTLD_NEXT, "close");
	real_ioctl = dlsym(RTLD_NEXT, "ioctl");
	real_pread = dlsym(RTLD_NEXT, "pread");
	real_pwrite = dlsym(RTLD_NEXT, "pwrite");
	real_mmap = dlsym(RTLD_NEXT, "mmap");
	real_munmap = dlsym(RTLD_NEXT, "munmap");
}

static void warnx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vfiosim-preload: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int find_group(int id)
{
	for (int i = 0; i < topo.ngroups; i++)
		if (topo.groups[i].id == id)
			return i;
	return -1;
}

/*
 * VFIOSIM_TOPOLOGY: entries separated by ';' or ',', each
 * "edu@BDF:group=N" (a device of that group).  Example:
 * "edu@0000:00:01.0:group=1;edu@0000:00:02.0:group=2".
 */
static int build_topology(const char *spec)
{
	char *copy = strdup(spec), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ";,", &save); tok && !rc;
	     tok = strtok_r(NULL, ";,", &save)) {
		char *bdf, *g;
		int id, gi;

		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		if (strncmp(tok, "edu@", 4) || !(g = strstr(tok, ":group="))) {
			warnx("VFIOSIM_TOPOLOGY: cannot parse '%s' "
			      "(expected edu@BDF:group=N)",
			      tok);
			rc = -EINVAL;
			break;
		}
		*g = 0;
		bdf = tok + 4;
		id = atoi(g + 7);
		gi = find_group(id);
		if (gi < 0) {
			if (topo.ngroups == MAX_GROUPS) {
				rc = -ENOSPC;
				break;
			}
			gi = topo.ngroups++;
			topo.groups[gi].id = id;
			rc = vfiosim_iommu_group_alloc(topo.iommu,
						       &topo.groups[gi].group);
			if (!rc)
				rc = vfiosim_uapi_add_group(
					world, id, topo.groups[gi].group);
		}
		if (!rc && topo.nedus == MAX_DEVICES)
			rc = -ENOSPC;
		if (!rc)
			rc = vfiosim_edu_create(world, topo.groups[gi].group,
						bdf, &topo.edus[topo.nedus]);
		if (!rc)
			rc = vfiosim_uapi_add_edu(world, id,
						  topo.edus[topo.nedus++]);
	}
	free(copy);
	/*
	 * BAR0 addresses and interrupt lines as the oracle VM's firmware
	 * hands them out: 1 MiB BARs downwards from 0xfea00000, the last
	 * device in the list highest; lines 10 and 11 alternating (recorded
	 * for one edu at 00:01.0 and for two at 00:01.0 and 00:02.0).
	 */
	for (int i = 0; !rc && i < topo.nedus; i++)
		rc = vfiosim_edu_assign(
			topo.edus[i],
			0xfea00000u -
				0x100000u * (unsigned int)(topo.nedus - 1 - i),
			(uint8_t)(10 + i % 2));
	return rc;
}

static void report_and_destroy(void)
{
	size_t n;
	int failures;

	if (!world)
		return;
	shim_lock();
	/* Close what the program left open; then tear the machine down. */
	vfiosim_uapi_close_all(world);
	for (int i = topo.nedus - 1; i >= 0; i--)
		vfiosim_edu_destroy(topo.edus[i]);
	for (int i = topo.ngroups - 1; i >= 0; i--)
		vfiosim_iommu_group_free(topo.groups[i].group);
	vfiosim_iommu_destroy(topo.iommu);
	n = vfiosim_world_failure_count(world);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "vfiosim-preload: %s\n",
			vfiosim_world_failure(world, i)->report);
	host_mm = NULL;
	failures = vfiosim_world_destroy(world);
	__atomic_store_n(&world, NULL, __ATOMIC_RELEASE);
	shim_unlock();
	if (failures > 0) {
		warnx("%d failure(s) recorded by the model", failures);
		if (getenv("VFIOSIM_PRELOAD_STRICT"))
			_exit(70);
	}
}

/* The world, made on first use of a VFIO path; NULL if it cannot be. */
static struct vfiosim_world *get_world(void)
{
	struct vfiosim_config cfg;
	struct vfiosim_world *nw;
	struct vfiosim_mm *mm;
	const char *spec, *limit, *fix;
	int rc;

	if (world || init_failed)
		return world;
	vfiosim_config_init(&cfg);
	cfg.pin_cpu = false;
	/* The oracle VM's VT-d: no snoop control, so DMA_CC is 0. */
	cfg.iommu.cache_coherent = false;
	limit = getenv("VFIOSIM_DMA_ENTRY_LIMIT");
	if (limit && *limit)
		cfg.vfio.dma_entry_limit =
			(unsigned int)strtoul(limit, NULL, 0);
	fix = getenv("VFIOSIM_FIX_DIRTY_SHIFT");
	cfg.vfio.fix_dirty_shift = fix && *fix && strcmp(fix, "0");
	rc = vfiosim_world_create(&cfg, &nw);
	if (rc)
		goto fail;
	__atomic_store_n(&world, nw, __ATOMIC_RELEASE);
	rc = vfiosim_mm_host(world, &mm);
	if (!rc)
		rc = vfiosim_task_set_mm(vfiosim_world_main_task(world), mm);
	if (rc)
		goto fail;
	host_mm = mm;
	rc = vfiosim_iommu_create(world, NULL, &topo.iommu);
	if (rc)
		goto fail;
	spec = getenv("VFIOSIM_TOPOLOGY");
	rc = build_topology(spec && *spec ? spec : "edu@0000:00:01.0:group=1");
	if (rc)
		goto fail;
	atexit(report_and_destroy);
	return world;
fail:
	warnx("cannot set the simulated machine up: %s", strerror(-rc));
	if (world)
		vfiosim_world_destroy(world);
	__atomic_store_n(&world, NULL, __ATOMIC_RELEASE);
	init_failed = true;
	return NULL;
}

static bool vfio_path(const char *path)
{
	return path && !strncmp(path, "/dev/vfio/", 10);
}

static int sim_open(const char *path, int flags)
{
	int fd;

	shim_lock();
	if (!get_world()) {
		shim_unlock();
		errno = ENODEV;
		return -1;
	}
	fd = vfiosim_uapi_open(world, path, flags);
	shim_unlock();
	return fd;
}

/*
 * True, with the lock held, if @fd is one of the model's descriptors: the
 * caller makes its call into the model and unlocks, so the descriptor
 * cannot be closed (and its number reused by a real file) or the world
 * torn down between the check and the call.  False, unlocked, for any
 * other descriptor; a program that never opened a VFIO path does not even
 * take the lock.
 */
static bool enter_ours(int fd)
{
	if (!__atomic_load_n(&world, __ATOMIC_ACQUIRE))
		return false;
	shim_lock();
	if (world && vfiosim_uapi_is_vfio_fd(world, fd))
		return true;
	shim_unlock();
	return false;
}

/* Does open(2) read a mode argument?  (glibc's __OPEN_NEEDS_MODE:
 * O_TMPFILE contains O_DIRECTORY, so test all its bits.) */
static bool needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/* openat() with the mode already read; AT_FDCWD for open(). */
static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	resolve();
	if (vfio_path(path))
		return sim_open(path, flags);
	return dirfd == AT_FDCWD ? real_open(path, flags, mode) :
				   real_openat(dirfd, path, flags, mode);
}

EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (needs_mode(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return do_openat(AT_FDCWD, path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
	__attribute__((alias("open")));

EXPORT int __open_2(const char *path, int flags)
{
	return do_openat(AT_FDCWD, path, flags, 0);
}

EXPORT int __open64_2(const char *path, int flags)
	__attribute__((alias("__open_2")));

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (needs_mode(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return do_openat(dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
	__attribute__((alias("openat")));

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return do_openat(dirfd, path, flags, 0);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
	__attribute__((alias("__openat_2")));

EXPORT int close(int fd)
{
	int rc;

	resolve();
	if (!enter_ours(fd))
		return real_close(fd);
	rc = vfiosim_uapi_close(world, fd);
	shim_unlock();
	return rc;
}

/*
 * The process's RLIMIT_MEMLOCK and CAP_IPC_LOCK are the main task's: read
 * them afresh before each VFIO call, so setrlimit() and capset() by the
 * program count as they would on the kernel.
 */
static void sync_credentials(void)
{
	struct vfiosim_task *task = vfiosim_world_main_task(world);
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	struct rlimit rl;

	if (!getrlimit(RLIMIT_MEMLOCK, &rl))
		vfiosim_task_set_rlimit(task, VFIOSIM_RLIMIT_MEMLOCK,
					rl.rlim_cur == RLIM_INFINITY ?
						VFIOSIM_RLIM_INFINITY :
						(uint64_t)rl.rlim_cur);
	if (!syscall(SYS_capget, &h, d))
		vfiosim_task_set_cap(task, VFIOSIM_CAP_IPC_LOCK,
				     d[0].effective & (1u << CAP_IPC_LOCK));
}

EXPORT int ioctl(int fd, unsigned long request, ...)
{
	unsigned long arg;
	va_list ap;
	long rc;

	resolve();
	va_start(ap, request);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	if (!enter_ours(fd))
		return real_ioctl(fd, request, arg);
	sync_credentials();
	rc = vfiosim_uapi_ioctl(world, fd, request, arg);
	shim_unlock();
	return (int)rc;
}

EXPORT ssize_t pread(int fd, void *buf, size_t count, off_t offset)
{
	ssize_t rc;

	resolve();
	if (!enter_ours(fd))
		return real_pread(fd, buf, count, offset);
	rc = vfiosim_uapi_pread(world, fd, buf, count, offset);
	shim_unlock();
	return rc;
}

EXPORT ssize_t pread64(int fd, void *buf, size_t count, off_t offset)
	__attribute__((alias("pread")));

EXPORT ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	ssize_t rc;

	resolve();
	if (!enter_ours(fd))
		return real_pwrite(fd, buf, count, offset);
	rc = vfiosim_uapi_pwrite(world, fd, buf, count, offset);
	shim_unlock();
	return rc;
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset)
	__attribute__((alias("pwrite")));

/*
 * mmap() of a VFIO descriptor: Linux's descriptor and flag checks, in its
 * order; a BAR mapping that passes them is refused with ENODEV (the
 * registers cannot be put into this process; see docs/uapi.md).
 */
EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t offset)
{
	void *p;

	resolve();
	if (fd < 0 || (flags & MAP_ANONYMOUS) || !enter_ours(fd))
		return real_mmap(addr, len, prot, flags, fd, offset);
	p = vfiosim_uapi_mmap(world, addr, len, prot, flags, fd, offset);
	shim_unlock();
	return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t offset) __attribute__((alias("mmap")));

/*
 * munmap() of the program's memory: the model forgets its frames of the
 * range first, and a frame still held (DMA-mapped, so pinned) keeps a copy
 * of its page, as the kernel keeps a pinned page alive after munmap() --
 * a later DMA lands there, not in whatever the program maps next at that
 * address.  The model's own munmap()s (lock_depth > 0) are left alone.
 * (free() of a large buffer unmaps inside the C library, which the shim
 * cannot see; a DMA into such a page is then lost, see docs/preload.md.)
 */
EXPORT int munmap(void *addr, size_t len)
{
	resolve();
	if (!lock_depth && __atomic_load_n(&world, __ATOMIC_ACQUIRE)) {
		shim_lock();
		int rc;

		if (world && host_mm)
			(void)vfiosim_munmap(host_mm, (uint64_t)(uintptr_t)addr,
					     len);
		/* Still under the lock: no MAP_DMA of another thread can pin
		 * the pages between the model forgetting them and their
		 * going. */
		rc = real_munmap(addr, len);
		shim_unlock();
		return rc;
	}
	return real_munmap(addr, len);
}
