/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/sync.h - kernel-style locking for simulated threads: mutex,
 * rw-semaphore, completion, blocking notifier chain, and lockdep.
 *
 * Every operation is a scheduling point in deterministic mode and maps onto a
 * real pthread primitive in free-running mode.  Each object belongs to a lock
 * class named by its name and the source line that created it, as in the
 * kernel's lockdep: one inversion seen on any two objects of two classes is
 * reported for all of them, before any thread blocks on it.
 *
 * Objects are created in a world and freed with it (or earlier with their
 * _free function).  Lock and unlock take no world argument: an object knows
 * its world.
 */
#ifndef LIBVFIOSIM_SYNC_H
#define LIBVFIOSIM_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <libvfiosim/sim.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vfiosim_mutex;
struct vfiosim_rwsem;
struct vfiosim_completion;
struct vfiosim_notifier_head;

/* ------------------------------------------------------------------ mutex */

/**
 * vfiosim_mutex_new() - create a mutex; its lock class is @name at this line.
 * @w: the world.
 * @name: the class name shown in reports, e.g. "iommu->lock" (not copied:
 *	use a string literal or one that outlives the world).
 *
 * Return: the mutex, or NULL on allocation failure.
 */
#define vfiosim_mutex_new(w, name) \
	vfiosim_mutex_new_at((w), (name), __FILE__, __LINE__)
struct vfiosim_mutex *vfiosim_mutex_new_at(struct vfiosim_world *w,
					   const char *name, const char *file,
					   int line);
/** vfiosim_mutex_free() - free an unlocked mutex; NULL is ignored. */
void vfiosim_mutex_free(struct vfiosim_mutex *m);

/** vfiosim_mutex_lock() - mutex_lock(): block until @m is ours. */
#define vfiosim_mutex_lock(m) vfiosim_mutex_lock_at((m), 0, __FILE__, __LINE__)
/**
 * vfiosim_mutex_lock_nested() - mutex_lock_nested(): lock @m as @subclass of
 * its class, telling lockdep that nesting two locks of one class is intended.
 */
#define vfiosim_mutex_lock_nested(m, subclass) \
	vfiosim_mutex_lock_at((m), (subclass), __FILE__, __LINE__)
void vfiosim_mutex_lock_at(struct vfiosim_mutex *m, unsigned int subclass,
			   const char *file, int line);
/**
 * vfiosim_mutex_trylock() - mutex_trylock().
 *
 * Return: 1 if @m was taken, 0 if it is held.  A failed trylock never
 * blocks and is never a deadlock.
 */
#define vfiosim_mutex_trylock(m) \
	vfiosim_mutex_trylock_at((m), __FILE__, __LINE__)
int vfiosim_mutex_trylock_at(struct vfiosim_mutex *m, const char *file,
			     int line);
/**
 * vfiosim_mutex_unlock() - mutex_unlock().  Unlocking a mutex the caller
 * does not hold is reported (WARN "bad unlock balance") and ignored.
 */
#define vfiosim_mutex_unlock(m) vfiosim_mutex_unlock_at((m), __FILE__, __LINE__)
void vfiosim_mutex_unlock_at(struct vfiosim_mutex *m, const char *file,
			     int line);
/** vfiosim_mutex_is_locked() - true while some thread holds @m. */
bool vfiosim_mutex_is_locked(const struct vfiosim_mutex *m);
/** vfiosim_mutex_name() - the class name of @m. */
const char *vfiosim_mutex_name(const struct vfiosim_mutex *m);

/* ------------------------------------------------------------ rw-semaphore */

/**
 * vfiosim_rwsem_new() - create a read-write semaphore (kernel rw_semaphore
 * semantics: writers exclude all; readers share; a reader arriving while a
 * writer waits queues behind it, so recursive read locking can deadlock).
 *
 * Return: the semaphore, or NULL on allocation failure.
 */
#define vfiosim_rwsem_new(w, name) \
	vfiosim_rwsem_new_at((w), (name), __FILE__, __LINE__)
struct vfiosim_rwsem *vfiosim_rwsem_new_at(struct vfiosim_world *w,
					   const char *name, const char *file,
					   int line);
/** vfiosim_rwsem_free() - free an unheld semaphore; NULL is ignored. */
void vfiosim_rwsem_free(struct vfiosim_rwsem *s);

#define vfiosim_down_read(s) vfiosim_down_read_at((s), __FILE__, __LINE__)
#define vfiosim_down_write(s) vfiosim_down_write_at((s), 0, __FILE__, __LINE__)
#define vfiosim_down_write_nested(s, subclass) \
	vfiosim_down_write_at((s), (subclass), __FILE__, __LINE__)
#define vfiosim_down_read_trylock(s) \
	vfiosim_down_read_trylock_at((s), __FILE__, __LINE__)
#define vfiosim_down_write_trylock(s) \
	vfiosim_down_write_trylock_at((s), __FILE__, __LINE__)
#define vfiosim_up_read(s) vfiosim_up_read_at((s), __FILE__, __LINE__)
#define vfiosim_up_write(s) vfiosim_up_write_at((s), __FILE__, __LINE__)
#define vfiosim_downgrade_write(s) \
	vfiosim_downgrade_write_at((s), __FILE__, __LINE__)

/** vfiosim_down_read_at() - down_read(): take @s shared. */
void vfiosim_down_read_at(struct vfiosim_rwsem *s, const char *file, int line);
/** vfiosim_down_write_at() - down_write(): take @s exclusive. */
void vfiosim_down_write_at(struct vfiosim_rwsem *s, unsigned int subclass,
			   const char *file, int line);
/** vfiosim_down_read_trylock_at() - Return: 1 if taken shared, else 0. */
int vfiosim_down_read_trylock_at(struct vfiosim_rwsem *s, const char *file,
				 int line);
/** vfiosim_down_write_trylock_at() - Return: 1 if taken exclusive, else 0. */
int vfiosim_down_write_trylock_at(struct vfiosim_rwsem *s, const char *file,
				  int line);
/** vfiosim_up_read_at() - up_read(); unbalanced calls are reported (WARN). */
void vfiosim_up_read_at(struct vfiosim_rwsem *s, const char *file, int line);
/** vfiosim_up_write_at() - up_write(); unbalanced calls are reported (WARN). */
void vfiosim_up_write_at(struct vfiosim_rwsem *s, const char *file, int line);
/** vfiosim_downgrade_write_at() - downgrade_write(): exclusive to shared. */
void vfiosim_downgrade_write_at(struct vfiosim_rwsem *s, const char *file,
				int line);
/** vfiosim_rwsem_readers() - threads holding @s shared now. */
unsigned int vfiosim_rwsem_readers(const struct vfiosim_rwsem *s);
/** vfiosim_rwsem_is_write_locked() - true while a writer holds @s. */
bool vfiosim_rwsem_is_write_locked(const struct vfiosim_rwsem *s);

/* ------------------------------------------------------------- completion */

/**
 * vfiosim_completion_new() - create a completion (kernel struct completion).
 *
 * Return: the completion, or NULL on allocation failure.
 */
#define vfiosim_completion_new(w, name) \
	vfiosim_completion_new_at((w), (name), __FILE__, __LINE__)
struct vfiosim_completion *vfiosim_completion_new_at(struct vfiosim_world *w,
						     const char *name,
						     const char *file,
						     int line);
/** vfiosim_completion_free() - free @c; NULL is ignored. */
void vfiosim_completion_free(struct vfiosim_completion *c);
/** vfiosim_wait_for_completion() - block until @c is completed. */
#define vfiosim_wait_for_completion(c) \
	vfiosim_wait_for_completion_at((c), __FILE__, __LINE__)
void vfiosim_wait_for_completion_at(struct vfiosim_completion *c,
				    const char *file, int line);
/**
 * vfiosim_wait_for_completion_timeout() - wait at most @timeout_ns of virtual
 * time.  In deterministic mode "woken" and "timed out" are both explored:
 * the scheduler may choose the timeout at any decision while the waiter
 * sleeps.
 *
 * Return: 0 on timeout, otherwise the virtual time left (at least 1).
 */
#define vfiosim_wait_for_completion_timeout(c, timeout_ns)                  \
	vfiosim_wait_for_completion_timeout_at((c), (timeout_ns), __FILE__, \
					       __LINE__)
uint64_t vfiosim_wait_for_completion_timeout_at(struct vfiosim_completion *c,
						uint64_t timeout_ns,
						const char *file, int line);
/** vfiosim_try_wait_for_completion() - Return: true if one done was consumed. */
bool vfiosim_try_wait_for_completion(struct vfiosim_completion *c);
/** vfiosim_complete() - complete(): release one waiter (or the next one). */
#define vfiosim_complete(c) vfiosim_complete_at((c), false, __FILE__, __LINE__)
/** vfiosim_complete_all() - complete_all(): release every waiter, forever. */
#define vfiosim_complete_all(c) \
	vfiosim_complete_at((c), true, __FILE__, __LINE__)
void vfiosim_complete_at(struct vfiosim_completion *c, bool all,
			 const char *file, int line);
/** vfiosim_reinit_completion() - reinit_completion(): forget past completes. */
void vfiosim_reinit_completion(struct vfiosim_completion *c);
/** vfiosim_completion_done() - true if a wait would not block. */
bool vfiosim_completion_done(const struct vfiosim_completion *c);

/* ----------------------------------------------- blocking notifier chains */

#define VFIOSIM_NOTIFY_DONE 0x0000
#define VFIOSIM_NOTIFY_OK 0x0001
#define VFIOSIM_NOTIFY_STOP_MASK 0x8000
#define VFIOSIM_NOTIFY_BAD (VFIOSIM_NOTIFY_STOP_MASK | 0x0002)
#define VFIOSIM_NOTIFY_STOP (VFIOSIM_NOTIFY_OK | VFIOSIM_NOTIFY_STOP_MASK)

/**
 * struct vfiosim_notifier_block - one callback on a chain, embedded by its
 * owner as in the kernel.
 * @notifier_call: the callback; returns a VFIOSIM_NOTIFY_* value.
 * @next: chain link, owned by the chain.
 * @priority: higher runs first; equal priorities run in registration order.
 */
struct vfiosim_notifier_block {
	int (*notifier_call)(struct vfiosim_notifier_block *nb,
			     unsigned long action, void *data);
	struct vfiosim_notifier_block *next;
	int priority;
};

/**
 * vfiosim_notifier_head_new() - create a blocking notifier chain, protected
 * by its own rw-semaphore (class "<name>.rwsem").
 *
 * Return: the head, or NULL on allocation failure.
 */
#define vfiosim_notifier_head_new(w, name) \
	vfiosim_notifier_head_new_at((w), (name), __FILE__, __LINE__)
struct vfiosim_notifier_head *
vfiosim_notifier_head_new_at(struct vfiosim_world *w, const char *name,
			     const char *file, int line);
/** vfiosim_notifier_head_free() - free @h; NULL is ignored. */
void vfiosim_notifier_head_free(struct vfiosim_notifier_head *h);
/**
 * vfiosim_notifier_chain_register() - add @nb (takes the chain's rwsem for
 * writing).
 *
 * Return: 0, -EINVAL for NULL arguments or a block without callback,
 * -EEXIST if @nb is already on the chain (also reported as WARN, like 6.1).
 */
int vfiosim_notifier_chain_register(struct vfiosim_notifier_head *h,
				    struct vfiosim_notifier_block *nb);
/**
 * vfiosim_notifier_chain_unregister() - remove @nb.
 *
 * Return: 0, -EINVAL for NULL arguments, -ENOENT if @nb is not on the chain.
 */
int vfiosim_notifier_chain_unregister(struct vfiosim_notifier_head *h,
				      struct vfiosim_notifier_block *nb);
/**
 * vfiosim_notifier_call_chain() - call every callback in priority order under
 * the chain's rwsem held for reading, stopping after one whose result has
 * VFIOSIM_NOTIFY_STOP_MASK.  Each call is a scheduling point.
 *
 * Return: the last callback's result, or VFIOSIM_NOTIFY_DONE if none ran.
 */
#define vfiosim_notifier_call_chain(h, action, data)                    \
	vfiosim_notifier_call_chain_at((h), (action), (data), __FILE__, \
				       __LINE__)
int vfiosim_notifier_call_chain_at(struct vfiosim_notifier_head *h,
				   unsigned long action, void *data,
				   const char *file, int line);
/** vfiosim_notifier_chain_empty() - true when no block is registered. */
bool vfiosim_notifier_chain_empty(const struct vfiosim_notifier_head *h);

/* ---------------------------------------------------------------- lockdep */

/**
 * struct vfiosim_pin_cookie - returned by vfiosim_lockdep_pin_lock().
 * @val: opaque value.
 */
struct vfiosim_pin_cookie {
	unsigned int val;
};

/**
 * vfiosim_lockdep_assert_held() - WARN unless the running thread holds @m.
 */
#define vfiosim_lockdep_assert_held(m) \
	vfiosim_mutex_assert_held_at((m), __FILE__, __LINE__)
void vfiosim_mutex_assert_held_at(const struct vfiosim_mutex *m,
				  const char *file, int line);
/** vfiosim_rwsem_assert_held() - WARN unless @s is held (shared or not). */
#define vfiosim_rwsem_assert_held(s) \
	vfiosim_rwsem_assert_held_at((s), false, __FILE__, __LINE__)
/** vfiosim_rwsem_assert_held_write() - WARN unless @s is held for writing. */
#define vfiosim_rwsem_assert_held_write(s) \
	vfiosim_rwsem_assert_held_at((s), true, __FILE__, __LINE__)
void vfiosim_rwsem_assert_held_at(const struct vfiosim_rwsem *s, bool write,
				  const char *file, int line);

/**
 * vfiosim_lockdep_pin_lock() - lockdep_pin_lock(): the caller relies on @m
 * staying held; a callee that releases it is reported (WARN "releasing a
 * pinned lock", naming where it was pinned).
 *
 * Return: a cookie for vfiosim_lockdep_unpin_lock().
 */
#define vfiosim_lockdep_pin_lock(m) \
	vfiosim_lockdep_pin_lock_at((m), __FILE__, __LINE__)
struct vfiosim_pin_cookie vfiosim_lockdep_pin_lock_at(struct vfiosim_mutex *m,
						      const char *file,
						      int line);
/** vfiosim_lockdep_unpin_lock() - end a pin; a wrong cookie is a WARN. */
#define vfiosim_lockdep_unpin_lock(m, cookie) \
	vfiosim_lockdep_unpin_lock_at((m), (cookie), __FILE__, __LINE__)
void vfiosim_lockdep_unpin_lock_at(struct vfiosim_mutex *m,
				   struct vfiosim_pin_cookie cookie,
				   const char *file, int line);

/**
 * vfiosim_lockdep_held_count() - locks the running thread holds now.
 *
 * Return: the count (0 outside simulated threads).
 */
unsigned int vfiosim_lockdep_held_count(struct vfiosim_world *w);

#ifdef __cplusplus
}
#endif

#endif /* LIBVFIOSIM_SYNC_H */
