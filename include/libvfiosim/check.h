/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/check.h - thin glue between libvfiosim and the Check unit-test
 * framework.  Header only: the library itself does not depend on Check.
 *
 * Use these from the test's own thread (Check's assertions are not thread
 * safe); simulated threads report through VFIOSIM_ASSERT() instead.
 */
#ifndef LIBVFIOSIM_CHECK_H
#define LIBVFIOSIM_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include <libvfiosim/explore.h>

/**
 * vfiosim_ck_print_failure() - print a failing result's report and token to
 * stderr, in the form a user pastes into VFIOSIM_REPLAY.
 */
static inline void
vfiosim_ck_print_failure(const char *name,
			 const struct vfiosim_explore_result *r)
{
	if (!r->failed)
		return;
	fprintf(stderr, "---- %s: %s after %lu schedule(s) ----\n%s\n", name,
		vfiosim_failure_kind_name(r->failure.kind), r->schedules,
		r->failure.report ? r->failure.report : "");
	fprintf(stderr, "replay: VFIOSIM_REPLAY='%s'\n",
		r->failure.token ? r->failure.token : "");
}

/**
 * vfiosim_ck_explore() - explore @scenario and assert that no schedule
 * fails; on failure the report and the replay token are printed.
 * @cfg: world configuration or NULL.
 * @opts: options or NULL; a NULL name becomes the scenario's name.
 * @scenario: the scenario function.
 * @arg: its argument.
 */
#define vfiosim_ck_explore(cfg, opts, scenario, arg)                          \
	do {                                                                  \
		struct vfiosim_explore_opts _vo;                              \
		struct vfiosim_explore_result _vr;                            \
		int _vrc;                                                     \
		if ((opts) != NULL)                                           \
			_vo = *(const struct vfiosim_explore_opts *)(opts);   \
		else                                                          \
			vfiosim_explore_opts_init(&_vo);                      \
		if (_vo.name == NULL)                                         \
			_vo.name = #scenario;                                 \
		_vrc = vfiosim_explore((cfg), &_vo, (scenario), (arg), &_vr); \
		ck_assert_msg(_vrc == 0, "vfiosim_explore(%s) returned %d",   \
			      #scenario, _vrc);                               \
		vfiosim_ck_print_failure(#scenario, &_vr);                    \
		ck_assert_msg(!_vr.failed, "%s: %s: %s", #scenario,           \
			      vfiosim_failure_kind_name(_vr.failure.kind),    \
			      _vr.failure.message);                           \
		vfiosim_explore_result_release(&_vr);                         \
	} while (0)

/**
 * vfiosim_ck_explore_finds() - explore @scenario and assert that it fails
 * with @want_kind; the report and token are printed and the result is left in
 * @res for further assertions (release it afterwards).
 */
#define vfiosim_ck_explore_finds(cfg, opts, scenario, arg, want_kind, res)     \
	do {                                                                   \
		struct vfiosim_explore_opts _vo;                               \
		int _vrc;                                                      \
		if ((opts) != NULL)                                            \
			_vo = *(const struct vfiosim_explore_opts *)(opts);    \
		else                                                           \
			vfiosim_explore_opts_init(&_vo);                       \
		if (_vo.name == NULL)                                          \
			_vo.name = #scenario;                                  \
		_vrc = vfiosim_explore((cfg), &_vo, (scenario), (arg), (res)); \
		ck_assert_msg(_vrc == 0, "vfiosim_explore(%s) returned %d",    \
			      #scenario, _vrc);                                \
		ck_assert_msg((res)->failed,                                   \
			      "%s: no failure in %lu schedules", #scenario,    \
			      (res)->schedules);                               \
		vfiosim_ck_print_failure(#scenario, (res));                    \
		ck_assert_msg((res)->failure.kind == (want_kind),              \
			      "%s: expected %s, found %s: %s", #scenario,      \
			      vfiosim_failure_kind_name(want_kind),            \
			      vfiosim_failure_kind_name((res)->failure.kind),  \
			      (res)->failure.message);                         \
	} while (0)

/**
 * ck_assert_neg_errno() - model-API convention: assert that @expr returns
 * the negative errno @err (or 0 / a count when @err is 0).
 */
#define ck_assert_neg_errno(expr, err)                                         \
	do {                                                                   \
		long _vv = (long)(expr);                                       \
		long _ve = (err);                                              \
		if (_ve == 0)                                                  \
			ck_assert_msg(_vv >= 0, "%s returned %ld (%s)", #expr, \
				      _vv, strerror((int)-_vv));               \
		else                                                           \
			ck_assert_msg(_vv == -_ve,                             \
				      "%s returned %ld, expected -(%s)",       \
				      #expr, _vv, strerror((int)_ve));         \
	} while (0)

/**
 * ck_assert_syscall_errno() - uAPI convention: assert that @expr returns -1
 * with errno == @err (or does not return -1 when @err is 0).
 */
#define ck_assert_syscall_errno(expr, err)                                    \
	do {                                                                  \
		long _vv;                                                     \
		int _ve = (err);                                              \
		errno = 0;                                                    \
		_vv = (long)(expr);                                           \
		if (_ve == 0)                                                 \
			ck_assert_msg(_vv != -1, "%s failed: errno %d (%s)",  \
				      #expr, errno, strerror(errno));         \
		else                                                          \
			ck_assert_msg(                                        \
				_vv == -1 && errno == _ve,                    \
				"%s returned %ld errno %d, expected -1 (%s)", \
				#expr, _vv, errno, strerror(_ve));            \
	} while (0)

#endif /* LIBVFIOSIM_CHECK_H */
