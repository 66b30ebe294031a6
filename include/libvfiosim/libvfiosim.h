/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/libvfiosim.h - umbrella header: includes every layer.
 */
#ifndef LIBVFIOSIM_LIBVFIOSIM_H
#define LIBVFIOSIM_LIBVFIOSIM_H

#include <libvfiosim/config.h>
#include <libvfiosim/sim.h>
#include <libvfiosim/sync.h>
#include <libvfiosim/explore.h>
#include <libvfiosim/mm.h>
#include <libvfiosim/iommu.h>
#include <libvfiosim/dev.h>
#include <libvfiosim/edu.h>
#include <libvfiosim/vfio.h>
#include <libvfiosim/uapi.h>

#endif /* LIBVFIOSIM_LIBVFIOSIM_H */
