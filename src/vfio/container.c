/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * container.c - the VFIO core's containers and groups (drivers/vfio/
 * container.c and group.c of Linux 6.1), with type1 as the one IOMMU
 * backend registered.
 *
 * What it models: a container has no backend until VFIO_SET_IOMMU, which
 * needs at least one group in it; CHECK_EXTENSION asks type1 with no data
 * before that; removing the last group releases the backend and the
 * container returns to "no backend".  A group file opens once; while it is
 * in a container it counts as a user of it; closing it leaves the
 * container.  Viability is 6.1's: no other owner claimed the group's DMA.
 *
 * Locking, as in the kernel: group->group_lock (mutex) -> container->
 * group_lock (rwsem, write for SET_IOMMU and group add/remove, read for
 * CHECK_EXTENSION) -> iommu->lock inside type1.  Backend ioctls reach
 * type1 without the container's lock, as in 6.1.
 * Fields: container->groups, ->t1 under container->group_lock; group->
 * container, ->opened, ->container_users under group->group_lock.
 */
#include <errno.h>
#include <string.h>

#include <libvfiosim/vfio.h>

#include "sync/sync_internal.h"

struct vfiosim_container {
	struct vfiosim_world *w;
	struct vfiosim_rwsem group_lock;
	struct vfiosim_vfio_group *groups;
	struct vfiosim_type1 *t1;
	unsigned int dma_entry_limit;
	unsigned int refs; /* the file, plus one per group */
};

struct vfiosim_vfio_group {
	struct vfiosim_world *w;
	struct vfiosim_iommu_group *iommu_group;
	int id;
	struct vfiosim_mutex group_lock;
	struct vfiosim_container *container;
	unsigned int container_users;
	unsigned int devices_open;
	bool opened;
	bool release_pending; /* closed while device files were open */
	struct vfiosim_vfio_group *container_next;
};

static void container_put(struct vfiosim_container *c)
{
	if (--c->refs)
		return;
	sync_rwsem_destroy(&c->group_lock);
	vfiosim_free(c->w, c);
}

VFIOSIM_EXPORT int vfiosim_container_open(struct vfiosim_world *w,
					  unsigned int dma_entry_limit,
					  struct vfiosim_container **out)
{
	struct vfiosim_container *c;

	if (!w || !out)
		return -EINVAL;
	*out = NULL;
	c = vfiosim_zalloc(w, sizeof(*c), "vfio.container_alloc");
	if (!c)
		return -ENOMEM;
	c->w = w;
	c->dma_entry_limit = dma_entry_limit;
	c->refs = 1;
	if (sync_rwsem_init(w, &c->group_lock, "container->group_lock",
			    __FILE__, __LINE__)) {
		vfiosim_free(w, c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

VFIOSIM_EXPORT void vfiosim_container_close(struct vfiosim_container *c)
{
	if (c)
		container_put(c);
}

VFIOSIM_EXPORT int
vfiosim_container_check_extension(struct vfiosim_container *c,
				  unsigned long ext)
{
	int ret;

	if (!c)
		return -EINVAL;
	vfiosim_down_read(&c->group_lock);
	ret = vfiosim_type1_check_extension(c->t1, ext);
	vfiosim_up_read(&c->group_lock);
	return ret;
}

VFIOSIM_EXPORT struct vfiosim_type1 *
vfiosim_container_type1(struct vfiosim_container *c)
{
	return c ? c->t1 : NULL;
}

/* __vfio_container_attach_groups(): all or nothing. */
static int attach_groups(struct vfiosim_container *c, struct vfiosim_type1 *t1)
{
	struct vfiosim_vfio_group *g, *u;
	int ret = 0;

	for (g = c->groups; g; g = g->container_next) {
		ret = vfiosim_type1_attach_group(t1, g->iommu_group);
		if (ret)
			break;
	}
	if (!ret)
		return 0;
	for (u = c->groups; u != g; u = u->container_next)
		vfiosim_type1_detach_group(t1, u->iommu_group);
	return ret;
}

VFIOSIM_EXPORT int vfiosim_container_set_iommu(struct vfiosim_container *c,
					       unsigned long type)
{
	struct vfiosim_type1 *t1;
	int ret = -ENODEV;

	if (!c)
		return -EINVAL;
	vfiosim_down_write(&c->group_lock);
	if (!c->groups || c->t1) {
		vfiosim_up_write(&c->group_lock);
		return -EINVAL;
	}
	/* The registered backends: type1 only. */
	if (vfiosim_type1_check_extension(NULL, type) > 0) {
		ret = vfiosim_type1_open(c->w, type, c->dma_entry_limit, &t1);
		if (!ret) {
			ret = attach_groups(c, t1);
			if (ret)
				vfiosim_type1_release(t1);
			else
				c->t1 = t1;
		}
	}
	vfiosim_up_write(&c->group_lock);
	return ret;
}

VFIOSIM_EXPORT int vfiosim_vfio_group_create(struct vfiosim_world *w,
					     struct vfiosim_iommu_group *ig,
					     int id,
					     struct vfiosim_vfio_group **out)
{
	struct vfiosim_vfio_group *g;

	if (!w || !ig || !out)
		return -EINVAL;
	g = vfiosim_zalloc(w, sizeof(*g), "vfio.group_alloc");
	if (!g)
		return -ENOMEM;
	g->w = w;
	g->iommu_group = ig;
	g->id = id;
	if (sync_mutex_init(w, &g->group_lock, "group->group_lock", __FILE__,
			    __LINE__)) {
		vfiosim_free(w, g);
		return -ENOMEM;
	}
	*out = g;
	return 0;
}

VFIOSIM_EXPORT void vfiosim_vfio_group_destroy(struct vfiosim_vfio_group *g)
{
	if (!g)
		return;
	if (VFIOSIM_WARN_ON(g->w, g->opened || g->container))
		return;
	sync_mutex_destroy(&g->group_lock);
	vfiosim_free(g->w, g);
}

VFIOSIM_EXPORT int vfiosim_vfio_group_open(struct vfiosim_vfio_group *g)
{
	int ret = 0;

	if (!g)
		return -EINVAL;
	vfiosim_mutex_lock(&g->group_lock);
	if (g->opened)
		ret = -EBUSY; /* one open file per group */
	else
		g->opened = true;
	vfiosim_mutex_unlock(&g->group_lock);
	return ret;
}

/* vfio_group_detach_container(); called with group->group_lock held. */
static void detach_container(struct vfiosim_vfio_group *g)
{
	struct vfiosim_container *c = g->container;
	struct vfiosim_vfio_group **p;

	vfiosim_down_write(&c->group_lock);
	if (c->t1)
		vfiosim_type1_detach_group(c->t1, g->iommu_group);
	for (p = &c->groups; *p; p = &(*p)->container_next)
		if (*p == g) {
			*p = g->container_next;
			break;
		}
	g->container = NULL;
	g->container_users = 0;
	g->container_next = NULL;
	/* The last group deprivileges the container: no backend. */
	if (c->t1 && !c->groups) {
		vfiosim_type1_release(c->t1);
		c->t1 = NULL;
	}
	vfiosim_up_write(&c->group_lock);
	container_put(c);
}

VFIOSIM_EXPORT void vfiosim_vfio_group_close(struct vfiosim_vfio_group *g)
{
	if (!g)
		return;
	vfiosim_mutex_lock(&g->group_lock);
	if (g->devices_open) {
		/* Device files hold the group file: release comes later. */
		g->release_pending = true;
	} else {
		if (g->container)
			detach_container(g);
		g->opened = false;
	}
	vfiosim_mutex_unlock(&g->group_lock);
}

VFIOSIM_EXPORT int vfiosim_vfio_group_device_open(struct vfiosim_vfio_group *g)
{
	int ret = 0;

	if (!g)
		return -EINVAL;
	vfiosim_mutex_lock(&g->group_lock);
	if (!g->container || !vfiosim_container_type1(g->container) ||
	    VFIOSIM_WARN_ON(g->w, !g->container_users)) {
		ret = -EINVAL;
	} else {
		g->container_users++;
		g->devices_open++;
	}
	vfiosim_mutex_unlock(&g->group_lock);
	return ret;
}

VFIOSIM_EXPORT void
vfiosim_vfio_group_device_close(struct vfiosim_vfio_group *g)
{
	if (!g)
		return;
	vfiosim_mutex_lock(&g->group_lock);
	if (!VFIOSIM_WARN_ON(g->w, !g->devices_open)) {
		g->devices_open--;
		g->container_users--;
		if (!g->devices_open && g->release_pending) {
			g->release_pending = false;
			if (g->container)
				detach_container(g);
			g->opened = false;
		}
	}
	vfiosim_mutex_unlock(&g->group_lock);
}

VFIOSIM_EXPORT int vfiosim_vfio_group_status(struct vfiosim_vfio_group *g,
					     uint32_t *flags)
{
	if (!g || !flags)
		return -EINVAL;
	vfiosim_mutex_lock(&g->group_lock);
	*flags = VFIOSIM_GROUP_FLAGS_VIABLE;
	if (g->container)
		*flags |= VFIOSIM_GROUP_FLAGS_CONTAINER_SET;
	vfiosim_mutex_unlock(&g->group_lock);
	return 0;
}

VFIOSIM_EXPORT int
vfiosim_vfio_group_set_container(struct vfiosim_vfio_group *g,
				 struct vfiosim_container *c)
{
	int ret = 0;

	if (!g || !c)
		return -EINVAL;
	vfiosim_mutex_lock(&g->group_lock);
	if (g->container) {
		ret = -EINVAL;
		goto out;
	}
	vfiosim_down_write(&c->group_lock);
	if (c->t1)
		ret = vfiosim_type1_attach_group(c->t1, g->iommu_group);
	if (!ret) {
		g->container = c;
		g->container_users = 1;
		g->container_next = c->groups;
		c->groups = g;
		c->refs++;
	}
	vfiosim_up_write(&c->group_lock);
out:
	vfiosim_mutex_unlock(&g->group_lock);
	return ret;
}

VFIOSIM_EXPORT int
vfiosim_vfio_group_unset_container(struct vfiosim_vfio_group *g)
{
	int ret = 0;

	if (!g)
		return -EINVAL;
	vfiosim_mutex_lock(&g->group_lock);
	if (!g->container)
		ret = -EINVAL;
	else if (g->container_users != 1)
		ret = -EBUSY;
	else
		detach_container(g);
	vfiosim_mutex_unlock(&g->group_lock);
	return ret;
}
