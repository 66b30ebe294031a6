/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/sim.h - the simulated machine: world, threads, scheduler,
 * virtual time, fault injection, failure records and the event trace.
 *
 * Everything hangs off a struct vfiosim_world; there is no global state.
 * In deterministic mode simulated threads are real pthreads of which exactly
 * one runs at a time; the others wait at scheduling points.  A failure never
 * aborts the process: it becomes a struct vfiosim_failure with a replay token.
 */
#ifndef LIBVFIOSIM_SIM_H
#define LIBVFIOSIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libvfiosim/config.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VFIOSIM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VFIOSIM_PRINTF(a, b)
#endif

struct vfiosim_world;
struct vfiosim_thread;
struct vfiosim_task;

/**
 * enum vfiosim_failure_kind - what went wrong.
 * @VFIOSIM_FAIL_ASSERT: the scenario's own VFIOSIM_ASSERT() failed.
 * @VFIOSIM_FAIL_WARN: the model hit the equivalent of a kernel WARN_ON().
 * @VFIOSIM_FAIL_BUG: the model hit the equivalent of a kernel BUG_ON().
 * @VFIOSIM_FAIL_DEADLOCK: every live simulated thread is blocked.
 * @VFIOSIM_FAIL_LOCK_ORDER: lockdep found a cycle in the lock-class graph,
 *	recursive locking, or another lock-usage rule broken.
 * @VFIOSIM_FAIL_LEAK: world teardown found a resource not given back.
 * @VFIOSIM_FAIL_INVARIANT: a model consistency check failed.
 * @VFIOSIM_FAIL_NONDETERMINISM: a replayed run diverged from its token.
 * @VFIOSIM_FAIL_LIVELOCK: the step bound was exceeded.
 * @VFIOSIM_FAIL_DMA: a device DMA reached memory it must not reach.
 */
enum vfiosim_failure_kind {
	VFIOSIM_FAIL_ASSERT = 0,
	VFIOSIM_FAIL_WARN,
	VFIOSIM_FAIL_BUG,
	VFIOSIM_FAIL_DEADLOCK,
	VFIOSIM_FAIL_LOCK_ORDER,
	VFIOSIM_FAIL_LEAK,
	VFIOSIM_FAIL_INVARIANT,
	VFIOSIM_FAIL_NONDETERMINISM,
	VFIOSIM_FAIL_LIVELOCK,
	VFIOSIM_FAIL_DMA,
	VFIOSIM_FAIL_NR_KINDS
};

/** VFIOSIM_FAIL_BIT() - the bit of @kind in vfiosim_config.abort_mask. */
#define VFIOSIM_FAIL_BIT(kind) (1u << (kind))

/**
 * struct vfiosim_failure - one recorded failure.  Strings live as long as
 * the world (or the exploration result they were copied into).
 * @kind: what went wrong.
 * @message: one line.
 * @file: source file that raised it.
 * @line: source line that raised it.
 * @thread: name of the simulated thread that raised it ("-" if none).
 * @token: replay token of the run (NULL outside deterministic mode).
 * @report: the full multi-line report: message, details (wait-for cycle,
 *	lockdep scenario, ...), the tail of the interleaving and the token.
 */
struct vfiosim_failure {
	enum vfiosim_failure_kind kind;
	const char *message;
	const char *file;
	int line;
	const char *thread;
	const char *token;
	const char *report;
};

/**
 * vfiosim_failure_kind_name() - upper-case name of a failure kind.
 * @kind: the kind.
 *
 * Return: "ASSERT", "WARN", ..., or "UNKNOWN".
 */
const char *vfiosim_failure_kind_name(enum vfiosim_failure_kind kind);

/**
 * vfiosim_world_create() - create a world.
 * @cfg: configuration; NULL means vfiosim_config_init() defaults.
 * @out: the new world.
 *
 * Return: 0, -EINVAL for an invalid configuration, -ENOMEM.
 */
int vfiosim_world_create(const struct vfiosim_config *cfg,
			 struct vfiosim_world **out);

/**
 * vfiosim_world_destroy() - tear a world down, check for leaks, free it.
 * @w: the world (NULL is allowed and does nothing).
 *
 * Runs the teardown checks of every layer (each can record LEAK failures),
 * then frees every allocation the world still tracks.  Must not be called
 * from a simulated thread of @w.
 *
 * Return: the number of failures recorded in the world's life (0 = clean),
 * or -EBUSY if called from one of its own simulated threads.
 */
int vfiosim_world_destroy(struct vfiosim_world *w);

/**
 * vfiosim_world_run() - run @fn as the first simulated thread ("main") and
 * every thread it starts, until all have exited or the run is aborted.
 * @w: the world; a world runs once.
 * @fn: the scenario.
 * @arg: passed to @fn.
 *
 * In deterministic mode the schedule is the non-preemptive one (a thread runs
 * until it blocks or exits) unless the world was made by the explorer.
 *
 * Return: the number of failures recorded so far (0 = clean), -EINVAL for a
 * NULL @fn, -EBUSY if the world has already run or is running, -ENOMEM,
 * -EAGAIN if a host thread could not be created.
 */
int vfiosim_world_run(struct vfiosim_world *w,
		      void (*fn)(struct vfiosim_world *w, void *arg),
		      void *arg);

/** vfiosim_world_config() - the configuration @w was created from. */
const struct vfiosim_config *
vfiosim_world_config(const struct vfiosim_world *w);

/** vfiosim_world_failure_count() - failures recorded in @w so far. */
size_t vfiosim_world_failure_count(const struct vfiosim_world *w);

/**
 * vfiosim_world_failure() - the @i-th failure recorded in @w.
 * @w: the world.
 * @i: index, 0 = first.
 *
 * Return: the failure, or NULL if @i is out of range.
 */
const struct vfiosim_failure *
vfiosim_world_failure(const struct vfiosim_world *w, size_t i);

/** vfiosim_world_aborted() - true once a fatal failure ended the run. */
bool vfiosim_world_aborted(const struct vfiosim_world *w);

/* ---------------------------------------------------------------- threads */

/**
 * vfiosim_thread_create() - start a simulated thread.
 * @w: the world; called from one of its simulated threads.
 * @name: name shown in traces and reports (copied; at most 31 bytes kept).
 * @fn: thread function.
 * @arg: passed to @fn.
 *
 * The new thread runs as the creator's task (a thread of the same process).
 * In deterministic mode this is a scheduling point.
 *
 * Return: the thread, or NULL (errno set: EINVAL, ENOMEM, EAGAIN, EPERM if
 * called from outside the world's threads).
 */
struct vfiosim_thread *vfiosim_thread_create(struct vfiosim_world *w,
					     const char *name,
					     void (*fn)(void *arg), void *arg);

/**
 * vfiosim_thread_create_task() - like vfiosim_thread_create(), but the new
 * thread runs as @task (another process).
 *
 * Return: the thread, or NULL with errno set as for vfiosim_thread_create().
 */
struct vfiosim_thread *vfiosim_thread_create_task(struct vfiosim_world *w,
						  const char *name,
						  struct vfiosim_task *task,
						  void (*fn)(void *arg),
						  void *arg);

/**
 * vfiosim_thread_join() - wait for @t to exit and release it.
 * @t: a thread of the caller's world, joined at most once.
 *
 * Return: 0, -EINVAL for NULL or an already joined thread, -EDEADLK when a
 * thread joins itself, -EPERM when not called from a simulated thread.
 */
int vfiosim_thread_join(struct vfiosim_thread *t);

/**
 * vfiosim_current() - the simulated thread running now.
 * @w: the world.
 *
 * Return: the thread, or NULL when the caller is not a thread of @w.
 */
struct vfiosim_thread *vfiosim_current(struct vfiosim_world *w);

/** vfiosim_thread_name() - name of @t ("-" for NULL). */
const char *vfiosim_thread_name(const struct vfiosim_thread *t);

/** vfiosim_thread_id() - small id of @t: 0 for "main", then creation order. */
unsigned int vfiosim_thread_id(const struct vfiosim_thread *t);

/** vfiosim_thread_world() - the world @t belongs to. */
struct vfiosim_world *vfiosim_thread_world(const struct vfiosim_thread *t);

/* ------------------------------------------------------------------ tasks */

/**
 * vfiosim_task_create() - create a task (a simulated process identity).
 * @w: the world.
 * @name: its comm, copied.
 *
 * Tasks carry what the kernel keeps in task_struct for type1: the mm (set by
 * the mm layer) and credentials and limits.
 *
 * Return: the task, or NULL (errno ENOMEM or EINVAL).
 */
struct vfiosim_task *vfiosim_task_create(struct vfiosim_world *w,
					 const char *name);

/**
 * vfiosim_world_main_task() - the world's first task (pid 1), which thread
 * "main" runs as and which stands for "current" while a deterministic world
 * is set up or torn down outside a run.
 * @w: the world.
 *
 * Return: the task, NULL for NULL.
 */
struct vfiosim_task *vfiosim_world_main_task(struct vfiosim_world *w);

/**
 * vfiosim_current_task() - the task of the running thread; outside a run of
 * a deterministic world, the main task; otherwise NULL.
 */
struct vfiosim_task *vfiosim_current_task(struct vfiosim_world *w);

/** vfiosim_task_name() - comm of @task. */
const char *vfiosim_task_name(const struct vfiosim_task *task);

/** vfiosim_task_pid() - pid of @task (1 for the initial task, then +1). */
int vfiosim_task_pid(const struct vfiosim_task *task);

/* ------------------------------------------------------- scheduling, time */

/**
 * vfiosim_sched_point() - an explicit scheduling point.
 * @w: the world.
 * @label: what the model is doing here (shown in the trace).
 *
 * Lets the scheduler switch to another thread.  Does nothing in free-running
 * mode or when called from outside the world's threads.
 */
#define vfiosim_sched_point(w, label) \
	vfiosim_sched_point_at((w), (label), __FILE__, __LINE__)
void vfiosim_sched_point_at(struct vfiosim_world *w, const char *label,
			    const char *file, int line);

/** vfiosim_now() - the virtual clock, in nanoseconds since world creation. */
uint64_t vfiosim_now(const struct vfiosim_world *w);

/**
 * vfiosim_sleep() - sleep @ns of virtual time.
 * @w: the world.
 * @ns: duration.
 *
 * In deterministic mode the sleeper may be woken at any later scheduling
 * decision; waking advances the clock to its deadline if it is behind.
 * In free-running mode the clock just advances.
 */
void vfiosim_sleep(struct vfiosim_world *w, uint64_t ns);

/* ------------------------------------------------------------- allocation */

/**
 * vfiosim_zalloc() - allocate zeroed memory owned by the world.
 * @w: the world.
 * @size: bytes.
 * @point: fault-injection point name ("sim.alloc" if NULL).
 *
 * Memory not freed by vfiosim_free() is freed by vfiosim_world_destroy(), so a
 * run unwound after a failure leaks nothing on the host.
 *
 * Return: the memory, or NULL (out of memory or injected failure).
 */
void *vfiosim_zalloc(struct vfiosim_world *w, size_t size, const char *point);

/** vfiosim_free() - free memory from vfiosim_zalloc(); NULL is ignored. */
void vfiosim_free(struct vfiosim_world *w, void *p);

/** vfiosim_strdup() - world-owned copy of @s, or NULL. */
char *vfiosim_strdup(struct vfiosim_world *w, const char *s);

/* -------------------------------------------------------- fault injection */

/**
 * vfiosim_fault() - a named fault-injection point.
 * @w: the world.
 * @point: static name such as "mm.alloc_page".
 *
 * Counts the hit and decides, by the world's fault plan, whether it fails.
 *
 * Return: true if the caller must take its failure path.
 */
bool vfiosim_fault(struct vfiosim_world *w, const char *point);

/**
 * vfiosim_fault_set_plan() - replace the world's fault plan (hit counters
 * are kept).
 * @w: the world.
 * @plan: the new plan, copied (its @point string must outlive the world).
 *
 * Return: 0 or -EINVAL.
 */
int vfiosim_fault_set_plan(struct vfiosim_world *w,
			   const struct vfiosim_fault_plan *plan);

/**
 * vfiosim_fault_hits() - hits of @point so far (all points if NULL).
 *
 * Return: the count.
 */
unsigned long vfiosim_fault_hits(const struct vfiosim_world *w,
				 const char *point);

/** vfiosim_fault_injected() - failures injected so far in @w. */
unsigned long vfiosim_fault_injected(const struct vfiosim_world *w);

/**
 * vfiosim_fault_point_name() - the @i-th fault point registered in @w,
 * in order of first hit.
 *
 * Return: its name, or NULL past the end.
 */
const char *vfiosim_fault_point_name(const struct vfiosim_world *w, size_t i);

/* -------------------------------------------------------------- failures */

/**
 * vfiosim_fail_at() - record a failure of @kind.
 * @w: the world.
 * @kind: the kind.
 * @file: source file.
 * @line: source line.
 * @fmt: message.
 *
 * If @kind is in the world's abort_mask and the caller is a simulated thread
 * in deterministic mode, the run is aborted and this does not return: the
 * thread unwinds to its start and every other thread is unwound as well.
 *
 * Return: 0 when the failure was recorded and the caller goes on.
 */
int vfiosim_fail_at(struct vfiosim_world *w, enum vfiosim_failure_kind kind,
		    const char *file, int line, const char *fmt, ...)
	VFIOSIM_PRINTF(5, 6);

/**
 * VFIOSIM_ASSERT() - a scenario's assertion.  Simulated threads use this
 * instead of ck_assert(): on failure it records an ASSERT failure with the
 * message and aborts the run.
 */
#define VFIOSIM_ASSERT(w, cond, ...)                                        \
	do {                                                                \
		if (!(cond))                                                \
			vfiosim_fail_at((w), VFIOSIM_FAIL_ASSERT, __FILE__, \
					__LINE__,                           \
					"assertion '" #cond                 \
					"' failed: " __VA_ARGS__);          \
	} while (0)

/* The body of VFIOSIM_WARN_ON(). */
static inline int vfiosim_warn_on_at(struct vfiosim_world *w, int cond,
				     const char *file, int line,
				     const char *text)
{
	if (cond)
		vfiosim_fail_at(w, VFIOSIM_FAIL_WARN, file, line, "WARN_ON(%s)",
				text);
	return cond;
}

/** VFIOSIM_WARN_ON() - the model's WARN_ON(): records WARN, yields @cond. */
#define VFIOSIM_WARN_ON(w, cond) \
	vfiosim_warn_on_at((w), !!(cond), __FILE__, __LINE__, #cond)

/** VFIOSIM_BUG() - the model's BUG(): records BUG and aborts the run. */
#define VFIOSIM_BUG(w, ...) \
	vfiosim_fail_at((w), VFIOSIM_FAIL_BUG, __FILE__, __LINE__, __VA_ARGS__)

/* ------------------------------------------------------------------ trace */

/**
 * vfiosim_trace_note() - add a free-form event to the trace of the current
 * thread (for example a value the scenario read).
 * @w: the world.
 * @fmt: message (at most 120 bytes kept).
 */
#define vfiosim_trace_note(w, ...) \
	vfiosim_trace_note_at((w), __FILE__, __LINE__, __VA_ARGS__)
void vfiosim_trace_note_at(struct vfiosim_world *w, const char *file, int line,
			   const char *fmt, ...) VFIOSIM_PRINTF(4, 5);

/** vfiosim_trace_length() - events recorded so far. */
size_t vfiosim_trace_length(const struct vfiosim_world *w);

/**
 * vfiosim_trace_write_text() - write the interleaving as text: one event a
 * line, indented into one column per thread.
 * @w: the world.
 * @f: the stream.
 * @tail: the last @tail events only (0 = all).
 *
 * Return: 0 or -EIO.
 */
int vfiosim_trace_write_text(const struct vfiosim_world *w, FILE *f,
			     size_t tail);

/**
 * vfiosim_trace_write_chrome() - write the trace as Chrome trace-event JSON
 * (one track per simulated thread, lock holds as slices); it opens in
 * Perfetto and chrome://tracing.
 *
 * Return: 0 or -EIO.
 */
int vfiosim_trace_write_chrome(const struct vfiosim_world *w, FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* LIBVFIOSIM_SIM_H */
