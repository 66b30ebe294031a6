/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * notifier.c - blocking notifier chains (kernel/notifier.c's
 * blocking_notifier_*), the primitive the type1 DMA-unmap notification is
 * built on.
 *
 * What it models: callbacks sorted by priority (equal priorities keep
 * registration order), registered and unregistered under the chain's rwsem
 * held for writing, called under it held for reading, stopping after a
 * callback whose result has NOTIFY_STOP_MASK.  Registering a block twice is
 * a WARN and -EEXIST, as in 6.1.  Each callback is a scheduling point, and
 * lockdep sees the chain's rwsem, so "caller holds X, callback takes Y"
 * orders are checked like any other.
 *
 * Fields: head is protected by rwsem.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sync/sync_internal.h"

VFIOSIM_EXPORT struct vfiosim_notifier_head *
vfiosim_notifier_head_new_at(struct vfiosim_world *w, const char *name,
			     const char *file, int line)
{
	struct vfiosim_notifier_head *h;

	if (!w)
		return NULL;
	h = vfiosim_zalloc(w, sizeof(*h), "sync.notifier_head_new");
	if (!h)
		return NULL;
	h->w = w;
	snprintf(h->name, sizeof(h->name), "%s", name ? name : "(notifier)");
	snprintf(h->rwsem_name, sizeof(h->rwsem_name), "%s.rwsem", h->name);
	if (sync_rwsem_init(w, &h->rwsem, h->rwsem_name, file, line)) {
		vfiosim_free(w, h);
		return NULL;
	}
	h->allocated = true;
	return h;
}

VFIOSIM_EXPORT void vfiosim_notifier_head_free(struct vfiosim_notifier_head *h)
{
	if (!h)
		return;
	sync_rwsem_destroy(&h->rwsem);
	vfiosim_free(h->w, h);
}

VFIOSIM_EXPORT int
vfiosim_notifier_chain_register(struct vfiosim_notifier_head *h,
				struct vfiosim_notifier_block *nb)
{
	struct vfiosim_notifier_block **p;
	int rc = 0;

	if (!h || !nb || !nb->notifier_call)
		return -EINVAL;
	vfiosim_down_write(&h->rwsem);
	for (p = &h->head; *p; p = &(*p)->next) {
		if (*p == nb) {
			vfiosim_fail_at(
				h->w, VFIOSIM_FAIL_WARN, __FILE__, __LINE__,
				"notifier callback %p already registered "
				"on %s",
				(void *)nb, h->name);
			rc = -EEXIST;
			goto out;
		}
	}
	for (p = &h->head; *p && (*p)->priority >= nb->priority;
	     p = &(*p)->next)
		;
	nb->next = *p;
	*p = nb;
out:
	vfiosim_up_write(&h->rwsem);
	return rc;
}

VFIOSIM_EXPORT int
vfiosim_notifier_chain_unregister(struct vfiosim_notifier_head *h,
				  struct vfiosim_notifier_block *nb)
{
	struct vfiosim_notifier_block **p;
	int rc = -ENOENT;

	if (!h || !nb)
		return -EINVAL;
	vfiosim_down_write(&h->rwsem);
	for (p = &h->head; *p; p = &(*p)->next) {
		if (*p == nb) {
			*p = nb->next;
			nb->next = NULL;
			rc = 0;
			break;
		}
	}
	vfiosim_up_write(&h->rwsem);
	return rc;
}

VFIOSIM_EXPORT int
vfiosim_notifier_call_chain_at(struct vfiosim_notifier_head *h,
			       unsigned long action, void *data,
			       const char *file, int line)
{
	struct vfiosim_notifier_block *nb, *next;
	int ret = VFIOSIM_NOTIFY_DONE;

	if (!h)
		return VFIOSIM_NOTIFY_DONE;
	vfiosim_down_read_at(&h->rwsem, file, line);
	for (nb = h->head; nb; nb = next) {
		next = nb->next;
		sim_point(h->w, EV_NOTIFY, 0, h->name, file, line);
		ret = nb->notifier_call(nb, action, data);
		if (ret & VFIOSIM_NOTIFY_STOP_MASK)
			break;
	}
	vfiosim_up_read_at(&h->rwsem, file, line);
	return ret;
}

VFIOSIM_EXPORT bool
vfiosim_notifier_chain_empty(const struct vfiosim_notifier_head *h)
{
	return !h || !h->head;
}
