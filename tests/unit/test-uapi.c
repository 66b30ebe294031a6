/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-uapi.c - the uAPI façade: descriptors, argsz handling, copy-back
 * rules, the 6.1 capability chain, and errno -- checked against what the
 * oracle probe recorded on Linux 6.1 (tests/conformance/recorded).
 */
#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/vfio.h>

#include <libvfiosim/iommu.h>
#include <libvfiosim/mm.h>
#include <libvfiosim/uapi.h>

#include "testutil.h"

#define PG 0x1000ull

struct out {
	long rc[80];
	int err[80];
	int n;
	uint32_t info_argsz[4];
	uint32_t cap_offsets[3];
	uint32_t cap_next[3];
	uint32_t nr_iovas, avail;
	uint64_t iova_end1, mig_pgsize;
	uint64_t unmap_size_err, unmap_size_ok;
	uint32_t status_flags[3];
	uint64_t bitmap[4];
};

/* Records one call's rc and errno. */
#define CALL(o, expr)                           \
	do {                                    \
		errno = 0;                      \
		(o)->rc[(o)->n] = (long)(expr); \
		(o)->err[(o)->n] = errno;       \
		(o)->n++;                       \
	} while (0)

static long map(struct vfiosim_world *w, int c, uint64_t vaddr, uint64_t iova,
		uint64_t size, uint32_t flags, uint32_t argsz)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = argsz ? argsz : sizeof(m),
		.flags = flags,
		.vaddr = vaddr,
		.iova = iova,
		.size = size,
	};

	return vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_MAP_DMA, (unsigned long)&m);
}

static void uapi_body(struct vfiosim_world *w, void *arg)
{
	struct out *o = arg;
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_group *ig;
	struct vfio_group_status st = { .argsz = sizeof(st) };
	union {
		struct vfio_iommu_type1_info i;
		uint8_t raw[4096];
	} info;
	struct vfio_iommu_type1_dma_unmap un;
	uint64_t buf;
	int c, g, g2, ext;

	VFIOSIM_ASSERT(w, vfiosim_iommu_create(w, NULL, &iommu) == 0, "iommu");
	VFIOSIM_ASSERT(w, vfiosim_iommu_group_alloc(iommu, &ig) == 0, "group");
	VFIOSIM_ASSERT(w, vfiosim_uapi_add_group(w, 1, ig) == 0, "node");
	VFIOSIM_ASSERT(w,
		       vfiosim_mmap(vfiosim_current_mm(w), 0, 64 * PG,
				    VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
				    VFIOSIM_MAP_PRIVATE, &buf) == 0,
		       "mmap");

	c = vfiosim_uapi_open(w, "/dev/vfio/vfio", O_RDWR);
	CALL(o, c >= 0); /* 0 */
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_GET_API_VERSION, 0));
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_CHECK_EXTENSION,
				   VFIO_TYPE1v2_IOMMU));
	memset(&info, 0, sizeof(info));
	info.i.argsz = sizeof(info.i);
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_GET_INFO,
				   (unsigned long)&info));
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_SET_IOMMU,
				   VFIO_TYPE1v2_IOMMU)); /* 4 */
	CALL(o, vfiosim_uapi_open(w, "/dev/vfio/7", O_RDWR));
	g = vfiosim_uapi_open(w, "/dev/vfio/1", O_RDWR);
	CALL(o, g >= 0); /* 6 */
	CALL(o, g2 = vfiosim_uapi_open(w, "/dev/vfio/1", O_RDWR));
	CALL(o, vfiosim_uapi_ioctl(w, g, VFIO_GROUP_GET_STATUS,
				   (unsigned long)&st));
	o->status_flags[0] = st.flags;
	st.argsz = 4;
	st.flags = 0;
	CALL(o, vfiosim_uapi_ioctl(w, g, VFIO_GROUP_GET_STATUS,
				   (unsigned long)&st));
	o->status_flags[1] = st.flags;
	ext = 12345; /* not a descriptor */
	CALL(o, vfiosim_uapi_ioctl(w, g, VFIO_GROUP_SET_CONTAINER,
				   (unsigned long)&ext));
	ext = 1; /* stdout: open, but not a container */
	CALL(o, vfiosim_uapi_ioctl(w, g, VFIO_GROUP_SET_CONTAINER,
				   (unsigned long)&ext));
	CALL(o, vfiosim_uapi_ioctl(w, g, VFIO_GROUP_SET_CONTAINER,
				   (unsigned long)&c)); /* 12 */
	CALL(o, vfiosim_uapi_ioctl(w, g, VFIO_GROUP_SET_CONTAINER,
				   (unsigned long)&c));
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU));
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_SET_IOMMU,
				   VFIO_TYPE1v2_IOMMU)); /* 15 */
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	st.argsz = sizeof(st);
	vfiosim_uapi_ioctl(w, g, VFIO_GROUP_GET_STATUS, (unsigned long)&st);
	o->status_flags[2] = st.flags;

	/* GET_INFO: argsz 12 (EINVAL), 16, 24 (argsz grows), 4096 (caps). */
	for (int i = 0; i < 4; i++) {
		static const uint32_t sizes[] = { 12, 16, 24, 4096 };

		memset(&info, 0, sizeof(info));
		info.i.argsz = sizes[i];
		CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_GET_INFO,
					   (unsigned long)&info)); /* 17.. */
		o->info_argsz[i] = info.i.argsz;
	}
	{
		uint32_t off = info.i.cap_offset;

		/* 6.1's capabilities are misaligned: read them as bytes. */
		for (int k = 0; k < 3 && off; k++) {
			const uint8_t *p = info.raw + off;
			struct vfio_info_cap_header h;

			memcpy(&h, p, sizeof(h));
			o->cap_offsets[k] = off;
			o->cap_next[k] = h.next;
			if (h.id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
				memcpy(&o->nr_iovas, p + 8, 4);
				memcpy(&o->iova_end1, p + 16 + 16 + 8, 8);
			} else if (h.id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
				memcpy(&o->avail, p + 8, 4);
			} else if (h.id ==
				   VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
				memcpy(&o->mig_pgsize, p + 16, 8);
			}
			off = h.next;
		}
	}

	CALL(o, map(w, c, buf, 0x100000, 16 * PG, 3, 0));	  /* 21 */
	CALL(o, map(w, c, buf, 0x100000, PG, 3, 24));		  /* argsz */
	CALL(o, map(w, c, buf, 0x100000, PG, 0xb, 0));		  /* flags */
	CALL(o, map(w, c, buf, 0x100000, 16 * PG, 3, 0));	  /* EEXIST */
	CALL(o, map(w, c, 0x1000, 0x1000000, PG, 3, 0));	  /* EFAULT */
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_MAP_DMA, 0)); /* EFAULT */

	/* UNMAP: the size is copied back only on success. */
	un = (struct vfio_iommu_type1_dma_unmap){ .argsz = sizeof(un),
						  .iova = 0x101000,
						  .size = PG };
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_UNMAP_DMA,
				   (unsigned long)&un)); /* 27 */
	o->unmap_size_err = un.size;
	un = (struct vfio_iommu_type1_dma_unmap){ .argsz = sizeof(un),
						  .iova = 0x100000,
						  .size = 16 * PG };
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_UNMAP_DMA,
				   (unsigned long)&un));
	o->unmap_size_ok = un.size;
	un.argsz = 16;
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_UNMAP_DMA,
				   (unsigned long)&un));

	/* Dirty pages through the uAPI. */
	{
		struct vfio_iommu_type1_dirty_bitmap d = { .argsz = sizeof(d) };
		struct {
			struct vfio_iommu_type1_dirty_bitmap d;
			struct vfio_iommu_type1_dirty_bitmap_get g;
		} __attribute__((packed)) req;

		d.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
			  VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
		CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_DIRTY_PAGES,
					   (unsigned long)&d)); /* 30 */
		d.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
		CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_DIRTY_PAGES,
					   (unsigned long)&d));
		map(w, c, buf, 0x100000, 16 * PG, 3, 0);
		memset(&req, 0, sizeof(req));
		req.d.argsz = sizeof(req);
		req.d.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
		req.g.iova = 0xf0000;
		req.g.size = 0x30000;
		req.g.bitmap.pgsize = PG;
		req.g.bitmap.size = 8;
		req.g.bitmap.data = (__u64 *)o->bitmap;
		CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_DIRTY_PAGES,
					   (unsigned long)&req));
		req.g.bitmap.data = NULL;
		CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_DIRTY_PAGES,
					   (unsigned long)&req)); /* 33 */
		req.d.argsz = 32;
		CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_DIRTY_PAGES,
					   (unsigned long)&req));
	}
	CALL(o, vfiosim_uapi_ioctl(w, c, 0x3b99, 0)); /* 35 ENOTTY */
	CALL(o,
	     vfiosim_uapi_ioctl(w, 12345, VFIO_GET_API_VERSION, 0)); /* EBADF */
	CALL(o, vfiosim_uapi_pread(w, c, &ext, 4, 0)); /* EINVAL */
	CALL(o, vfiosim_uapi_ioctl(w, g, VFIO_GROUP_UNSET_CONTAINER, 0));
	CALL(o,
	     vfiosim_uapi_ioctl(w, g, VFIO_GROUP_UNSET_CONTAINER, 0)); /* 39 */
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_GET_INFO,
				   (unsigned long)&info));
	CALL(o, vfiosim_uapi_close(w, g));
	CALL(o, vfiosim_uapi_close(w, g)); /* 42 */
	(void)g2;
	vfiosim_uapi_close(w, c);
	vfiosim_iommu_group_free(ig);
	vfiosim_iommu_destroy(iommu);
}

START_TEST(uapi_container_group_type1)
{
	struct vfiosim_world *w;
	struct out o = { 0 };

	w = tu_run_clean(NULL, uapi_body, &o);
	ck_assert_int_eq(o.n, 43);
	ck_assert_int_eq(o.rc[0], 1);
	ck_assert_int_eq(o.rc[1], 0);
	ck_assert_int_eq(o.rc[2], 1);
	ck_assert_int_eq(o.rc[3], -1);
	ck_assert_int_eq(o.err[3], EINVAL); /* GET_INFO before SET_IOMMU */
	ck_assert_int_eq(o.err[4], EINVAL); /* SET_IOMMU without group */
	ck_assert_int_eq(o.err[5], ENOENT);
	ck_assert_int_eq(o.rc[6], 1);
	ck_assert_int_eq(o.err[7], EBUSY);
	ck_assert_int_eq(o.rc[8], 0);
	ck_assert_uint_eq(o.status_flags[0], VFIO_GROUP_FLAGS_VIABLE);
	ck_assert_int_eq(o.err[9], EINVAL);
	ck_assert_uint_eq(o.status_flags[1], 0);
	ck_assert_int_eq(o.err[10], EBADF);
	ck_assert_int_eq(o.err[11], EINVAL);
	ck_assert_int_eq(o.rc[12], 0);
	ck_assert_int_eq(o.err[13], EINVAL);
	ck_assert_int_eq(o.err[14], ENODEV);
	ck_assert_int_eq(o.rc[15], 0);
	ck_assert_int_eq(o.err[16], EINVAL);
	ck_assert_uint_eq(o.status_flags[2], 3);
	/* As recorded: 12 EINVAL; 16, 24 -> argsz 116; 4096 -> caps. */
	ck_assert_int_eq(o.err[17], EINVAL);
	ck_assert_uint_eq(o.info_argsz[0], 12);
	ck_assert_uint_eq(o.info_argsz[1], 116);
	ck_assert_uint_eq(o.info_argsz[2], 116);
	ck_assert_uint_eq(o.info_argsz[3], 4096);
	ck_assert_uint_eq(o.cap_offsets[0], 24);
	ck_assert_uint_eq(o.cap_next[0], 56);
	ck_assert_uint_eq(o.cap_offsets[1], 56);
	ck_assert_uint_eq(o.cap_next[1], 68);
	ck_assert_uint_eq(o.cap_offsets[2], 68);
	ck_assert_uint_eq(o.cap_next[2], 0);
	ck_assert_uint_eq(o.nr_iovas, 2);
	ck_assert_uint_eq(o.iova_end1, 0x7fffffffffull);
	ck_assert_uint_eq(o.avail, 65535);
	ck_assert_uint_eq(o.mig_pgsize, 0x1000);
	ck_assert_int_eq(o.rc[21], 0);
	ck_assert_int_eq(o.err[22], EINVAL);
	ck_assert_int_eq(o.err[23], EINVAL);
	ck_assert_int_eq(o.err[24], EEXIST);
	ck_assert_int_eq(o.err[25], EFAULT);
	ck_assert_int_eq(o.err[26], EFAULT);
	ck_assert_int_eq(o.err[27], EINVAL);
	ck_assert_uint_eq(o.unmap_size_err, PG); /* untouched */
	ck_assert_int_eq(o.rc[28], 0);
	ck_assert_uint_eq(o.unmap_size_ok, 16 * PG);
	ck_assert_int_eq(o.err[29], EINVAL);
	ck_assert_int_eq(o.err[30], EINVAL); /* START|STOP */
	ck_assert_int_eq(o.rc[31], 0);
	ck_assert_int_eq(o.rc[32], 0);
	ck_assert_uint_eq(o.bitmap[0], 0xffff0000ull);
	ck_assert_int_eq(o.err[33], EFAULT);
	ck_assert_int_eq(o.err[34], EINVAL);
	ck_assert_int_eq(o.err[35], ENOTTY);
	ck_assert_int_eq(o.err[36], EBADF);
	ck_assert_int_eq(o.err[37], EINVAL);
	ck_assert_int_eq(o.rc[38], 0);
	ck_assert_int_eq(o.err[39], EINVAL);
	ck_assert_int_eq(o.err[40], EINVAL); /* backend gone */
	ck_assert_int_eq(o.rc[41], 0);
	ck_assert_int_eq(o.err[42], EBADF);
	ck_assert_int_eq(vfiosim_world_destroy(w), 0);
}
END_TEST

/* ---------------------------------------------------------- device files */

struct edu_out {
	long rc[32];
	int err[32];
	int n;
	uint64_t bar0_size, bar0_off, cfg_off;
	uint16_t cmd;
	uint32_t ident, live;
	uint32_t got[3];
	uint64_t faults;
};

static uint32_t edu_r32(struct vfiosim_world *w, int d, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	vfiosim_uapi_pread(w, d, &v, 4, (off_t)off);
	return v;
}

static void edu_w32(struct vfiosim_world *w, int d, uint64_t off, uint32_t v)
{
	vfiosim_uapi_pwrite(w, d, &v, 4, (off_t)off);
}

/* The oracle probe's edu round trip: RAM -> device buffer -> RAM. */
static void edu_roundtrip(struct vfiosim_world *w, int d, uint64_t bar,
			  uint64_t src, uint64_t dst)
{
	edu_w32(w, d, bar + 0x80, (uint32_t)src);
	edu_w32(w, d, bar + 0x88, 0x40000);
	edu_w32(w, d, bar + 0x90, 64);
	edu_w32(w, d, bar + 0x98, 1);
	edu_w32(w, d, bar + 0x80, 0x40000);
	edu_w32(w, d, bar + 0x88, (uint32_t)dst);
	edu_w32(w, d, bar + 0x90, 64);
	edu_w32(w, d, bar + 0x98, 1 | 2);
}

/* One edu alone in IOMMU group 1, known to the uAPI as /dev/vfio/1. */
struct rig {
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_group *ig;
	struct vfiosim_edu *edu;
};

static void rig_up(struct vfiosim_world *w, struct rig *r)
{
	VFIOSIM_ASSERT(w, vfiosim_iommu_create(w, NULL, &r->iommu) == 0,
		       "iommu");
	VFIOSIM_ASSERT(w, vfiosim_iommu_group_alloc(r->iommu, &r->ig) == 0,
		       "group");
	VFIOSIM_ASSERT(
		w, vfiosim_edu_create(w, r->ig, "0000:00:01.0", &r->edu) == 0,
		"edu");
	VFIOSIM_ASSERT(w, vfiosim_uapi_add_group(w, 1, r->ig) == 0, "node");
	VFIOSIM_ASSERT(w, vfiosim_uapi_add_edu(w, 1, r->edu) == 0, "add edu");
}

static void rig_down(struct rig *r)
{
	vfiosim_edu_destroy(r->edu);
	vfiosim_iommu_group_free(r->ig);
	vfiosim_iommu_destroy(r->iommu);
}

static void edu_body(struct vfiosim_world *w, void *arg)
{
	struct edu_out *o = arg;
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	struct rig r;
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	uint32_t pattern[16], zero[16] = { 0 }, back[16];
	uint64_t buf;
	int c, g, d;

	rig_up(w, &r);
	VFIOSIM_ASSERT(w, vfiosim_uapi_add_edu(w, 1, r.edu) == -EEXIST, "dup");
	VFIOSIM_ASSERT(w,
		       vfiosim_mmap(mm, 0, 16 * PG,
				    VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
				    VFIOSIM_MAP_PRIVATE, &buf) == 0,
		       "mmap");
	for (int i = 0; i < 16; i++)
		pattern[i] = 0xc0de0000u + (uint32_t)i;
	vfiosim_mm_write(mm, buf, pattern, sizeof(pattern));

	c = vfiosim_uapi_open(w, "/dev/vfio/vfio", O_RDWR);
	g = vfiosim_uapi_open(w, "/dev/vfio/1", O_RDWR);
	vfiosim_uapi_ioctl(w, g, VFIO_GROUP_SET_CONTAINER, (unsigned long)&c);
	/* No backend yet: no device file. */
	CALL(o, vfiosim_uapi_ioctl(w, g, VFIO_GROUP_GET_DEVICE_FD,
				   (unsigned long)"0000:00:01.0")); /* 0 */
	vfiosim_uapi_ioctl(w, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
	CALL(o, vfiosim_uapi_ioctl(w, g, VFIO_GROUP_GET_DEVICE_FD,
				   (unsigned long)"0000:00:02.0")); /* ENODEV */
	CALL(o, d = (int)vfiosim_uapi_ioctl(w, g, VFIO_GROUP_GET_DEVICE_FD,
					    (unsigned long)"0000:00:01.0"));
	ri.index = VFIO_PCI_BAR0_REGION_INDEX;
	CALL(o, vfiosim_uapi_ioctl(w, d, VFIO_DEVICE_GET_REGION_INFO,
				   (unsigned long)&ri)); /* 3 */
	o->bar0_size = ri.size;
	o->bar0_off = ri.offset;
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	vfiosim_uapi_ioctl(w, d, VFIO_DEVICE_GET_REGION_INFO,
			   (unsigned long)&ri);
	o->cfg_off = ri.offset;
	ri.index = VFIO_PCI_VGA_REGION_INDEX;
	CALL(o, vfiosim_uapi_ioctl(w, d, VFIO_DEVICE_GET_REGION_INFO,
				   (unsigned long)&ri)); /* 4 */
	vfiosim_uapi_pread(w, d, &o->cmd, 2, (off_t)o->cfg_off + 4);
	o->cmd |= 0x4;
	CALL(o, vfiosim_uapi_pwrite(w, d, &o->cmd, 2, (off_t)o->cfg_off + 4));
	vfiosim_uapi_pread(w, d, &o->cmd, 2, (off_t)o->cfg_off + 4);
	o->ident = edu_r32(w, d, o->bar0_off);
	edu_w32(w, d, o->bar0_off + 4, 0x12345678);
	o->live = edu_r32(w, d, o->bar0_off + 4);

	CALL(o, map(w, c, buf, 0x100000, PG, 3, 0)); /* 6 */
	CALL(o, map(w, c, buf + 4 * PG, 0xc00000, PG, 3, 0));
	edu_roundtrip(w, d, o->bar0_off, 0x100000, 0xc00000);
	vfiosim_mm_read(mm, buf + 4 * PG, back, sizeof(back));
	o->got[0] = back[0];
	CALL(o, !memcmp(back, pattern, sizeof(back))); /* 8 */
	/* Destination unmapped: a fault, nothing lands. */
	vfiosim_mm_write(mm, buf + 4 * PG, zero, sizeof(zero));
	vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_UNMAP_DMA,
			   (unsigned long)&(struct vfio_iommu_type1_dma_unmap){
				   .argsz = 24, .iova = 0xc00000, .size = PG });
	edu_roundtrip(w, d, o->bar0_off, 0x100000, 0xc00000);
	vfiosim_mm_read(mm, buf + 4 * PG, back, sizeof(back));
	o->got[1] = back[0];
	/* Read-only destination: a permission fault, nothing lands. */
	map(w, c, buf + 4 * PG, 0xc00000, PG, VFIO_DMA_MAP_FLAG_READ, 0);
	edu_roundtrip(w, d, o->bar0_off, 0x100000, 0xc00000);
	vfiosim_mm_read(mm, buf + 4 * PG, back, sizeof(back));
	o->got[2] = back[0];
	o->faults = vfiosim_device_fault_count(vfiosim_edu_device(r.edu));

	CALL(o,
	     vfiosim_uapi_ioctl(w, g, VFIO_GROUP_UNSET_CONTAINER, 0)); /* 9 */
	CALL(o, vfiosim_uapi_ioctl(w, d, VFIO_DEVICE_RESET, 0));
	CALL(o, vfiosim_uapi_pread(w, c, back, 4, 0)); /* 11 */
	CALL(o, vfiosim_uapi_pread(w, d, back, 4, (off_t)(3ull << 40)));
	vfiosim_uapi_close(w, d);
	CALL(o,
	     vfiosim_uapi_ioctl(w, g, VFIO_GROUP_UNSET_CONTAINER, 0)); /* 13 */
	vfiosim_uapi_close(w, g);
	vfiosim_uapi_close(w, c);
	rig_down(&r);
}

START_TEST(uapi_edu_dma)
{
	struct vfiosim_world *w;
	struct edu_out o = { 0 };

	w = tu_run_clean(NULL, edu_body, &o);
	ck_assert_int_eq(o.n, 14);
	ck_assert_int_eq(o.err[0], EINVAL);
	ck_assert_int_eq(o.err[1], ENODEV);
	ck_assert_int_ge(o.rc[2], 3);
	ck_assert_int_eq(o.rc[3], 0);
	/* As recorded on Linux 6.1 in the oracle VM. */
	ck_assert_uint_eq(o.bar0_size, 0x100000);
	ck_assert_uint_eq(o.bar0_off, 0);
	ck_assert_uint_eq(o.cfg_off, 7ull << 40);
	ck_assert_int_eq(o.err[4], EINVAL);
	ck_assert_int_eq(o.rc[5], 2);
	ck_assert_uint_eq(o.cmd, 0x107);
	ck_assert_uint_eq(o.ident, 0x010000ed);
	ck_assert_uint_eq(o.live, 0xedcba987);
	ck_assert_int_eq(o.rc[6], 0);
	ck_assert_int_eq(o.rc[7], 0);
	ck_assert_uint_eq(o.got[0], 0xc0de0000u);
	ck_assert_int_eq(o.rc[8], 1);
	ck_assert_uint_eq(o.got[1], 0);
	ck_assert_uint_eq(o.got[2], 0);
	ck_assert_uint_eq(o.faults, 2);
	ck_assert_int_eq(o.err[9], EBUSY); /* device file open */
	/* No reset method on QEMU's edu: 6.1 refuses (probe info_bytes). */
	ck_assert_int_eq(o.rc[10], -1);
	ck_assert_int_eq(o.err[10], EINVAL);
	ck_assert_int_eq(o.err[11], EINVAL);
	ck_assert_int_eq(o.err[12], EINVAL); /* empty BAR3 */
	ck_assert_int_eq(o.rc[13], 0);
	ck_assert_int_eq(vfiosim_world_destroy(w), 0);
}
END_TEST

/*
 * mmap() of a device file: the BAR lands in the simulated mm as a PFNMAP of
 * frames with no struct page, and MAP_DMA of it maps them without pinning
 * or charging (peer-to-peer DMA).  The expected answers are what Linux 6.1
 * said in the oracle VM: both maps succeed with RLIMIT_MEMLOCK 0, UNMAP_ALL
 * reports 0x102000 bytes, and a write mapping of a read-only BAR mapping is
 * EFAULT.  The refusals are compared by the mmap_bar conformance probe.
 */
struct mmap_out {
	long rc[16];
	int err[16];
	int n;
	uint64_t pfn, npages, locked, unmapped;
};

static void mmap_body(struct vfiosim_world *w, void *arg)
{
	struct mmap_out *o = arg;
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	struct rig r;
	struct vfio_iommu_type1_dma_unmap un = {
		.argsz = sizeof(un), .flags = VFIO_DMA_UNMAP_FLAG_ALL
	};
	const int rw = PROT_READ | PROT_WRITE;
	uint8_t *bar, *tail;
	int c, g, d;

	rig_up(w, &r);
	VFIOSIM_ASSERT(w,
		       vfiosim_task_set_rlimit(vfiosim_current_task(w),
					       VFIOSIM_RLIMIT_MEMLOCK, 0) == 0,
		       "rlimit");
	c = vfiosim_uapi_open(w, "/dev/vfio/vfio", O_RDWR);
	g = vfiosim_uapi_open(w, "/dev/vfio/1", O_RDWR);
	VFIOSIM_ASSERT(w,
		       vfiosim_uapi_ioctl(w, g, VFIO_GROUP_SET_CONTAINER,
					  (unsigned long)&c) == 0 &&
			       vfiosim_uapi_ioctl(w, c, VFIO_SET_IOMMU,
						  VFIO_TYPE1v2_IOMMU) == 0,
		       "container");
	d = (int)vfiosim_uapi_ioctl(w, g, VFIO_GROUP_GET_DEVICE_FD,
				    (unsigned long)"0000:00:01.0");
	VFIOSIM_ASSERT(w, d >= 0, "device fd");

	bar = vfiosim_uapi_mmap(w, NULL, 1 << 20, rw, MAP_SHARED, d, 0);
	CALL(o, bar == MAP_FAILED ? -1 : 0); /* 0 */
	if (bar == MAP_FAILED)
		return;
	vfiosim_mmap_read_lock(mm);
	CALL(o, vfiosim_mm_lookup_pfn(mm, (uint64_t)(uintptr_t)bar + 0x3000,
				      &o->pfn));
	vfiosim_mmap_read_unlock(mm);
	o->npages = vfiosim_phys_npages(w);
	CALL(o, map(w, c, (uint64_t)(uintptr_t)bar, 0x100000, 1 << 20, 3, 0));
	CALL(o, map(w, c, (uint64_t)(uintptr_t)bar + 0x3000, 0x400000, 0x2000,
		    1, 0)); /* 3 */
	o->locked = vfiosim_mm_locked_vm(mm);
	CALL(o, vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_UNMAP_DMA,
				   (unsigned long)&un));
	o->unmapped = un.size;
	CALL(o, vfiosim_uapi_munmap(w, bar, 1 << 20)); /* 5 */

	tail = vfiosim_uapi_mmap(w, NULL, 0x2000, PROT_READ, MAP_SHARED, d,
				 0xfe000);
	CALL(o, tail == MAP_FAILED ? -1 : 0);
	CALL(o, map(w, c, (uint64_t)(uintptr_t)tail, 0x200000, PG, 1, 0));
	CALL(o, map(w, c, (uint64_t)(uintptr_t)tail, 0x300000, PG, 3, 0));
	/* The refusals the oracle recorded, and the simulator's own. */
	CALL(o, vfiosim_uapi_mmap(w, NULL, PG, rw, MAP_PRIVATE, d, 0) ==
				MAP_FAILED ?
			-1 :
			0); /* 9 */
	CALL(o, vfiosim_uapi_mmap(w, NULL, PG, rw, MAP_SHARED, c, 0) ==
				MAP_FAILED ?
			-1 :
			0);
	CALL(o, vfiosim_uapi_mmap(w, NULL, PG, rw, MAP_SHARED | MAP_ANONYMOUS,
				  d, 0) == MAP_FAILED ?
			-1 :
			0);
	CALL(o, vfiosim_uapi_mmap(w, tail, PG, rw,
				  MAP_SHARED | MAP_FIXED_NOREPLACE, d,
				  0) == MAP_FAILED ?
			-1 :
			0); /* 12 */
	CALL(o, vfiosim_uapi_mmap(w, NULL, PG, rw, MAP_SHARED, 12345, 0) ==
				MAP_FAILED ?
			-1 :
			0);
	vfiosim_uapi_close(w, d);
	vfiosim_uapi_close(w, g);
	vfiosim_uapi_close(w, c);
	rig_down(&r);
}

/*
 * The file allocation of each open ("uapi.file_alloc") fails in turn: the
 * open fails with ENOMEM and leaves nothing behind -- the same open then
 * succeeds (a group or device left marked open would give EBUSY).
 */
struct file_fault {
	unsigned long nth;
	int first_rc[3], first_err[3], retry_rc[3];
};

static void file_fault_body(struct vfiosim_world *w, void *arg)
{
	struct file_fault *o = arg;
	struct vfiosim_fault_plan plan = { .point = "uapi.file_alloc",
					   .nth = o->nth };
	int fd[3];
	struct rig r;

	rig_up(w, &r);
	VFIOSIM_ASSERT(w, vfiosim_fault_set_plan(w, &plan) == 0, "plan");
	for (int i = 0; i < 3; i++) {
		errno = 0;
		if (i == 0)
			fd[i] = vfiosim_uapi_open(w, "/dev/vfio/vfio", O_RDWR);
		else if (i == 1)
			fd[i] = vfiosim_uapi_open(w, "/dev/vfio/1", O_RDWR);
		else
			fd[i] = (int)vfiosim_uapi_ioctl(
				w, fd[1], VFIO_GROUP_GET_DEVICE_FD,
				(unsigned long)"0000:00:01.0");
		o->first_rc[i] = fd[i];
		o->first_err[i] = errno;
		if (fd[i] < 0) {
			if (i == 0)
				fd[i] = vfiosim_uapi_open(w, "/dev/vfio/vfio",
							  O_RDWR);
			else if (i == 1)
				fd[i] = vfiosim_uapi_open(w, "/dev/vfio/1",
							  O_RDWR);
			else
				fd[i] = (int)vfiosim_uapi_ioctl(
					w, fd[1], VFIO_GROUP_GET_DEVICE_FD,
					(unsigned long)"0000:00:01.0");
		}
		o->retry_rc[i] = fd[i];
		if (i == 1) {
			vfiosim_uapi_ioctl(w, fd[1], VFIO_GROUP_SET_CONTAINER,
					   (unsigned long)&fd[0]);
			vfiosim_uapi_ioctl(w, fd[0], VFIO_SET_IOMMU,
					   VFIO_TYPE1v2_IOMMU);
		}
	}
	for (int i = 2; i >= 0; i--)
		if (fd[i] >= 0)
			vfiosim_uapi_close(w, fd[i]);
	rig_down(&r);
}

START_TEST(uapi_open_file_alloc_fault)
{
	for (unsigned long nth = 1; nth <= 3; nth++) {
		struct file_fault o = { .nth = nth };

		tu_destroy(tu_run_clean(NULL, file_fault_body, &o));
		for (int i = 0; i < 3; i++) {
			if (i + 1 == (int)nth) {
				ck_assert_int_eq(o.first_rc[i], -1);
				ck_assert_int_eq(o.first_err[i], ENOMEM);
			} else {
				ck_assert_int_ge(o.first_rc[i], 0);
			}
			ck_assert_int_ge(o.retry_rc[i], 0);
		}
	}
}
END_TEST

/*
 * The edu's configuration space through the model's own API: the
 * firmware's assignment (vfiosim_edu_assign()), BAR0 sizing, read-only
 * bytes, and the command register's writable bits.
 */
struct cfg_out {
	int bad[3], good;
	uint32_t bar0, line, sized, vendor, cmd;
};

static uint32_t cfg32(struct vfiosim_edu *e, unsigned int off)
{
	uint32_t v = 0xdeadbeef;

	vfiosim_edu_config_read(e, off, &v, 4);
	return v;
}

static void edu_config_body(struct vfiosim_world *w, void *arg)
{
	struct cfg_out *o = arg;
	uint32_t ones = 0xffffffff;
	struct rig r;

	rig_up(w, &r);
	o->bad[0] = vfiosim_edu_assign(NULL, 0xfe900000, 11);
	o->bad[1] = vfiosim_edu_assign(r.edu, 0, 11);
	o->bad[2] = vfiosim_edu_assign(r.edu, 0xfe980000, 11);
	o->good = vfiosim_edu_assign(r.edu, 0xfe900000, 11);
	o->bar0 = cfg32(r.edu, 0x10);
	o->line = cfg32(r.edu, 0x3c);
	vfiosim_edu_config_write(r.edu, 0x10, &ones, 4);
	o->sized = cfg32(r.edu, 0x10);
	vfiosim_edu_config_write(r.edu, 0x00, &ones, 4);
	o->vendor = cfg32(r.edu, 0x00);
	vfiosim_edu_config_write(r.edu, 0x04, &ones, 2);
	o->cmd = cfg32(r.edu, 0x04);
	rig_down(&r);
}

START_TEST(edu_config_space)
{
	struct cfg_out o = { 0 };

	tu_destroy(tu_run_clean(NULL, edu_config_body, &o));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(o.bad[i], -EINVAL);
	ck_assert_int_eq(o.good, 0);
	ck_assert_uint_eq(o.bar0, 0xfe900000);
	ck_assert_uint_eq(o.line, 0x0000010b); /* pin A, line 11 */
	ck_assert_uint_eq(o.sized, 0xfff00000);
	ck_assert_uint_eq(o.vendor, 0x11e81234);
	ck_assert_uint_eq(o.cmd, 0x00100507); /* status: capability list */
}
END_TEST

/*
 * A DMA QEMU's edu refuses with a hardware error (stopping the VM): an
 * empty one, and one running past the end of its buffer.  The model
 * reports a WARN and moves nothing; the command's start bit clears.
 */
static void edu_bad_dma_body(struct vfiosim_world *w, void *arg)
{
	uint32_t *cmd_after = arg, one = 1;
	uint16_t cmd = 0x6; /* memory, bus master */
	struct rig r;

	rig_up(w, &r);
	vfiosim_edu_config_write(r.edu, 0x04, &cmd, 2);
	for (int i = 0; i < 2; i++) {
		uint32_t cnt = i ? 4096 : 0, addr = i ? 0x40008 : 0x40000;

		vfiosim_edu_mmio_write(r.edu, 0x80, &addr, 4);
		vfiosim_edu_mmio_write(r.edu, 0x88, &addr, 4);
		vfiosim_edu_mmio_write(r.edu, 0x90, &cnt, 4);
		vfiosim_edu_mmio_write(r.edu, 0x98, &one, 4);
		vfiosim_edu_mmio_read(r.edu, 0x98, &cmd_after[i], 4);
	}
	rig_down(&r);
}

START_TEST(edu_out_of_buffer_dma_warns)
{
	uint32_t cmd_after[2] = { 1, 1 };
	int rc;
	struct vfiosim_world *w =
		tu_run(NULL, edu_bad_dma_body, cmd_after, &rc);

	ck_assert_int_eq(rc, 2);
	ck_assert_uint_eq(vfiosim_world_failure_count(w), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct vfiosim_failure *f = vfiosim_world_failure(w, i);

		ck_assert_int_eq(f->kind, VFIOSIM_FAIL_WARN);
		ck_assert(tu_contains(f->message, "outside its buffer"));
		ck_assert_uint_eq(cmd_after[i], 0);
	}
	tu_destroy(w);
}
END_TEST

/*
 * Interrupts in a linked world: MSI and INTx through real eventfds, the
 * edu raising them from its registers, INTx's automask and unmask, and
 * everything off when the device file closes (the trigger no longer
 * fires).
 */
struct irq_out {
	long rc[4];
	uint64_t msi, intx_first, intx_masked, intx_unmasked, armed;
	uint64_t after_close;
};

static uint64_t drain(int e)
{
	uint64_t v = 0;

	if (read(e, &v, sizeof(v)) != sizeof(v))
		v = 0;
	return v;
}

static long set_trigger(struct vfiosim_world *w, int d, uint32_t index,
			int32_t fd)
{
	union {
		struct vfio_irq_set s;
		uint8_t raw[sizeof(struct vfio_irq_set) + 4];
	} u = { .s = { .argsz = sizeof(u),
		       .flags = VFIO_IRQ_SET_DATA_EVENTFD |
				VFIO_IRQ_SET_ACTION_TRIGGER,
		       .index = index,
		       .count = 1 } };

	memcpy(u.s.data, &fd, sizeof(fd));
	return vfiosim_uapi_ioctl(w, d, VFIO_DEVICE_SET_IRQS,
				  (unsigned long)&u);
}

static void irq_body(struct vfiosim_world *w, void *arg)
{
	struct irq_out *o = arg;
	struct vfio_irq_set off = { .argsz = sizeof(off),
				    .flags = VFIO_IRQ_SET_DATA_NONE |
					     VFIO_IRQ_SET_ACTION_TRIGGER,
				    .index = VFIO_PCI_MSI_IRQ_INDEX };
	struct vfio_irq_set unmask = { .argsz = sizeof(unmask),
				       .flags = VFIO_IRQ_SET_DATA_NONE |
						VFIO_IRQ_SET_ACTION_UNMASK,
				       .index = VFIO_PCI_INTX_IRQ_INDEX,
				       .count = 1 };
	int e = eventfd(0, EFD_NONBLOCK), c, g, d;
	struct rig r;

	rig_up(w, &r);
	c = vfiosim_uapi_open(w, "/dev/vfio/vfio", O_RDWR);
	g = vfiosim_uapi_open(w, "/dev/vfio/1", O_RDWR);
	vfiosim_uapi_ioctl(w, g, VFIO_GROUP_SET_CONTAINER, (unsigned long)&c);
	vfiosim_uapi_ioctl(w, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
	d = (int)vfiosim_uapi_ioctl(w, g, VFIO_GROUP_GET_DEVICE_FD,
				    (unsigned long)"0000:00:01.0");
	o->rc[0] = set_trigger(w, d, VFIO_PCI_MSI_IRQ_INDEX, e);
	edu_w32(w, d, 0x60, 1);
	edu_w32(w, d, 0x60, 2);
	o->msi = drain(e); /* two raises, two messages */
	edu_w32(w, d, 0x64, ~0u);
	o->rc[1] = vfiosim_uapi_ioctl(w, d, VFIO_DEVICE_SET_IRQS,
				      (unsigned long)&off);
	o->rc[2] = set_trigger(w, d, VFIO_PCI_INTX_IRQ_INDEX, e);
	edu_w32(w, d, 0x60, 1);
	o->intx_first = drain(e);
	edu_w32(w, d, 0x64, ~0u);
	edu_w32(w, d, 0x60, 1);
	o->intx_masked = drain(e);
	o->rc[3] = vfiosim_uapi_ioctl(w, d, VFIO_DEVICE_SET_IRQS,
				      (unsigned long)&unmask);
	o->intx_unmasked = drain(e);
	/* Re-armed (line low, unmasked), a raise fires once more... */
	edu_w32(w, d, 0x64, ~0u);
	vfiosim_uapi_ioctl(w, d, VFIO_DEVICE_SET_IRQS, (unsigned long)&unmask);
	edu_w32(w, d, 0x60, 1);
	o->armed = drain(e);
	/* ...and is left armed for the close below. */
	edu_w32(w, d, 0x64, ~0u);
	vfiosim_uapi_ioctl(w, d, VFIO_DEVICE_SET_IRQS, (unsigned long)&unmask);
	vfiosim_uapi_close(w, d);
	/* Closed: the device's interrupts go nowhere. */
	vfiosim_edu_mmio_write(r.edu, 0x60, &(uint32_t){ 1 }, 4);
	o->after_close = drain(e);
	vfiosim_uapi_close(w, g);
	vfiosim_uapi_close(w, c);
	close(e);
	rig_down(&r);
}

START_TEST(uapi_interrupts_through_eventfds)
{
	struct irq_out o = { 0 };

	tu_destroy(tu_run_clean(NULL, irq_body, &o));
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(o.rc[i], 0);
	ck_assert_uint_eq(o.msi, 2);
	ck_assert_uint_eq(o.intx_first, 1);
	ck_assert_uint_eq(o.intx_masked, 0);
	ck_assert_uint_eq(o.intx_unmasked, 1);
	ck_assert_uint_eq(o.armed, 1);
	ck_assert_uint_eq(o.after_close, 0);
}
END_TEST

START_TEST(uapi_mmap_bar)
{
	struct vfiosim_world *w;
	struct mmap_out o = { 0 };

	w = tu_run_clean(NULL, mmap_body, &o);
	ck_assert_int_eq(o.n, 14);
	ck_assert_int_eq(o.rc[0], 0);
	ck_assert_int_eq(o.rc[1], 0);
	ck_assert_uint_ge(o.pfn, o.npages); /* no struct page behind a BAR */
	ck_assert_int_eq(o.rc[2], 0);
	ck_assert_int_eq(o.rc[3], 0);
	ck_assert_uint_eq(o.locked, 0);
	ck_assert_int_eq(o.rc[4], 0);
	ck_assert_uint_eq(o.unmapped, 0x102000);
	ck_assert_int_eq(o.rc[5], 0);
	ck_assert_int_eq(o.rc[6], 0);
	ck_assert_int_eq(o.rc[7], 0);
	ck_assert_int_eq(o.rc[8], -1);
	ck_assert_int_eq(o.err[8], EFAULT);
	ck_assert_int_eq(o.err[9], EINVAL);
	ck_assert_int_eq(o.err[10], ENODEV);
	ck_assert_int_eq(o.err[11], EINVAL);
	ck_assert_int_eq(o.err[12], EEXIST);
	ck_assert_int_eq(o.err[13], EBADF);
	ck_assert_int_eq(vfiosim_world_destroy(w), 0);
}
END_TEST

static Suite *uapi_suite(void)
{
	Suite *s = suite_create("uapi");
	TCase *tc = tcase_create("uapi");

	tcase_add_test(tc, uapi_container_group_type1);
	tcase_add_test(tc, uapi_edu_dma);
	tcase_add_test(tc, uapi_mmap_bar);
	tcase_add_test(tc, uapi_open_file_alloc_fault);
	tcase_add_test(tc, edu_config_space);
	tcase_add_test(tc, edu_out_of_buffer_dma_warns);
	tcase_add_test(tc, uapi_interrupts_through_eventfds);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(uapi_suite)
