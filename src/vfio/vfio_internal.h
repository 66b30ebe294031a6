/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio_internal.h - what the vfio layer shares with the uAPI above it:
 * the dirty-bitmap sizes of 6.1's vfio_iommu_type1.c.
 */
#ifndef VFIOSIM_VFIO_INTERNAL_H
#define VFIOSIM_VFIO_INTERNAL_H

#include <stdint.h>

/* Bytes of a bitmap of @n bits, in 64-bit words (DIRTY_BITMAP_BYTES). */
#define DIRTY_BITMAP_BYTES(n) ((((n) + 63) / 64) * 8)
/* The largest bitmap a request may give: INT_MAX bits, 256 MiB. */
#define DIRTY_BITMAP_SIZE_MAX DIRTY_BITMAP_BYTES((uint64_t)INT32_MAX)

#endif /* VFIOSIM_VFIO_INTERNAL_H */
