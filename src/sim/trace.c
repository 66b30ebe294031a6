/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trace.c - the event trace of a run.
 *
 * Every scheduling point and every lock, wait, notifier and failure event
 * is appended to the world's trace with its thread, object, source line and
 * virtual time.  The trace is what a failure report quotes (the
 * interleaving), what a replay is checked against (a hash over the events'
 * threads, kinds and notes -- not their source lines, so a token survives
 * edits that only move code),
 * and what vfiosim replay --trace writes as Chrome trace-event JSON.
 *
 * Locking: world->lock in free-running mode; the hand-off otherwise.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

void sim_event(struct vfiosim_world *w, struct vfiosim_thread *t, uint8_t kind,
	       uint8_t arg, const char *obj, const char *file, int line,
	       const char *text)
{
	struct sim_event *e;
	uint64_t h;

	if (w->trace_off)
		return;
	sim_lock(w);
	if (unlikely(w->nev == w->ev_cap)) {
		size_t cap = w->ev_cap ? w->ev_cap * 2 : 256;
		void *n = realloc(w->ev, cap * sizeof(*w->ev));

		if (!n) {
			sim_unlock(w);
			return;
		}
		w->ev = n;
		w->ev_cap = cap;
	}
	e = &w->ev[w->nev++];
	e->time = w->now;
	e->obj = obj;
	e->file = file;
	e->text = text;
	e->line = line;
	e->tid = t ? (uint16_t)t->id : UINT16_MAX;
	e->kind = kind;
	e->arg = arg;
	h = vfiosim_hash_mix(w->trace_hash, ((uint64_t)e->tid << 48) |
						    ((uint64_t)kind << 40) |
						    ((uint64_t)arg << 32));
	if (text)
		h = vfiosim_hash_str(h, text);
	w->trace_hash = h;
	sim_unlock(w);
}

VFIOSIM_EXPORT void vfiosim_trace_note_at(struct vfiosim_world *w,
					  const char *file, int line,
					  const char *fmt, ...)
{
	char buf[SIM_NOTE_MAX + 1];
	va_list ap;
	char *text;
	size_t n;

	if (!w || !fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf) + 1;
	text = sim_alloc_nofault(w, n);
	if (!text)
		return;
	memcpy(text, buf, n);
	sim_event(w, sim_current(w), EV_NOTE, 0, NULL, file, line, text);
}

VFIOSIM_EXPORT size_t vfiosim_trace_length(const struct vfiosim_world *w)
{
	return w ? w->nev : 0;
}

static const char *const lock_verbs[3][2] = {
	[LM_EXCL] = { "lock", "unlock" },
	[LM_READ] = { "down_read", "up_read" },
	[LM_WRITE] = { "down_write", "up_write" },
};

static void describe(const struct sim_event *e, char *buf, size_t len)
{
	const char *o = e->obj ? e->obj : "?";
	unsigned int m = e->arg < 3 ? e->arg : 0;

	switch (e->kind) {
	case EV_START:
		snprintf(buf, len, "start");
		break;
	case EV_EXIT:
		snprintf(buf, len, "exit");
		break;
	case EV_CREATE:
		snprintf(buf, len, "create %s", o);
		break;
	case EV_JOIN:
		snprintf(buf, len, "join %s", o);
		break;
	case EV_POINT:
		snprintf(buf, len, "point: %s", o);
		break;
	case EV_ACQUIRE:
		snprintf(buf, len, "%s %s", lock_verbs[m][0], o);
		break;
	case EV_RELEASE:
		snprintf(buf, len, "%s %s", lock_verbs[m][1], o);
		break;
	case EV_BLOCK:
		snprintf(buf, len, "blocks on %s", o);
		break;
	case EV_TRYFAIL:
		snprintf(buf, len, "trylock %s failed", o);
		break;
	case EV_WAIT:
		snprintf(buf, len, "wait %s", o);
		break;
	case EV_WOKEN:
		snprintf(buf, len, "woken by %s", o);
		break;
	case EV_TIMEOUT:
		snprintf(buf, len, "timed out on %s", o);
		break;
	case EV_COMPLETE:
		snprintf(buf, len, "complete %s", o);
		break;
	case EV_NOTIFY:
		snprintf(buf, len, "notify %s", o);
		break;
	case EV_SLEEP:
		snprintf(buf, len, "sleep");
		break;
	case EV_NOTE:
		if (e->obj)
			snprintf(buf, len, "%s: %s", e->text ? e->text : "", o);
		else
			snprintf(buf, len, "note: %s", e->text ? e->text : "");
		break;
	case EV_FAIL:
		snprintf(buf, len, "FAILURE %s", o);
		break;
	default:
		snprintf(buf, len, "event %u", e->kind);
		break;
	}
}

static const char *thread_label(const struct vfiosim_world *w, unsigned int tid)
{
	if (tid < w->nthreads)
		return w->threads[tid]->name;
	return "host";
}

static void write_line(const struct vfiosim_world *w, FILE *f, size_t i,
		       unsigned int col, unsigned int ncols)
{
	const struct sim_event *e = &w->ev[i];
	unsigned int c = e->tid < ncols ? e->tid : ncols - 1;
	char d[160];
	int used;

	describe(e, d, sizeof(d));
	fprintf(f, "%6zu ", i + 1);
	for (unsigned int k = 0; k < c * col; k++)
		fputc(' ', f);
	used = fprintf(f, "%.*s", (int)(col * (ncols - c)) - 1, d);
	for (int k = used; k < (int)(col * (ncols - c)); k++)
		fputc(' ', f);
	if (e->file)
		fprintf(f, " %s:%d\n", vfiosim_basename(e->file), e->line);
	else
		fprintf(f, " -\n");
}

VFIOSIM_EXPORT int vfiosim_trace_write_text(const struct vfiosim_world *w,
					    FILE *f, size_t tail)
{
	unsigned int ncols, col;
	size_t from = 0;

	if (!w || !f)
		return -EINVAL;
	ncols = w->nthreads ? w->nthreads : 1;
	if (ncols > 8)
		ncols = 8;
	col = ncols <= 3 ? 30 : ncols <= 5 ? 20 : 14;
	if (tail && w->nev > tail)
		from = w->nev - tail;
	fprintf(f, "%6s ", "event");
	for (unsigned int c = 0; c < ncols; c++) {
		char h[64];

		snprintf(h, sizeof(h), "T%u %s", c,
			 c == ncols - 1 && w->nthreads > ncols ?
				 "(and later)" :
				 thread_label(w, c));
		fprintf(f, "%-*.*s", (int)col, (int)col - 1, h);
	}
	fprintf(f, " site\n");
	for (size_t i = from; i < w->nev; i++)
		write_line(w, f, i, col, ncols);
	return ferror(f) ? -EIO : 0;
}

char *sim_trace_text(const struct vfiosim_world *w, size_t tail)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	vfiosim_trace_write_text(w, f, tail);
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

struct open_slice {
	const char *obj;
	uint8_t mode;
};

#define MAX_OPEN 64

VFIOSIM_EXPORT int vfiosim_trace_write_chrome(const struct vfiosim_world *w,
					      FILE *f)
{
	struct open_slice(*open)[MAX_OPEN];
	unsigned int *nopen;
	unsigned int nt;
	bool first = true;

	if (!w || !f)
		return -EINVAL;
	nt = w->nthreads + 1;
	open = calloc(nt, sizeof(*open));
	nopen = calloc(nt, sizeof(*nopen));
	if (!open || !nopen) {
		free(open);
		free(nopen);
		return -ENOMEM;
	}
	fprintf(f,
		"{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":"
		"\"libvfiosim\",\"ts\":\"event index\"},\"traceEvents\":[\n");
	for (unsigned int i = 0; i < w->nthreads; i++) {
		char label[64];

		snprintf(label, sizeof(label), "T%u %s", i,
			 w->threads[i]->name);
		fprintf(f,
			"%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,"
			"\"tid\":%u,\"args\":{\"name\":",
			first ? "" : ",\n", i);
		json_str(f, label);
		fprintf(f, "}}");
		first = false;
	}
	for (size_t i = 0; i < w->nev; i++) {
		const struct sim_event *e = &w->ev[i];
		unsigned int tid = e->tid < w->nthreads ? e->tid : w->nthreads;
		char d[160], site[200];

		describe(e, d, sizeof(d));
		if (e->file)
			snprintf(site, sizeof(site), "%s:%d",
				 vfiosim_basename(e->file), e->line);
		else
			snprintf(site, sizeof(site), "-");
		if (e->kind == EV_ACQUIRE && nopen[tid] < MAX_OPEN) {
			open[tid][nopen[tid]++] =
				(struct open_slice){ e->obj, e->arg };
			fprintf(f,
				",\n{\"ph\":\"B\",\"pid\":1,\"tid\":%u,\"ts\":%zu,"
				"\"name\":",
				tid, i);
			json_str(f, e->obj);
			fprintf(f, ",\"args\":{\"op\":");
			json_str(f, d);
			fprintf(f, ",\"site\":");
			json_str(f, site);
			fprintf(f, ",\"vtime_ns\":%llu}}",
				(unsigned long long)e->time);
			continue;
		}
		if (e->kind == EV_RELEASE) {
			int k;

			for (k = (int)nopen[tid] - 1; k >= 0; k--)
				if (open[tid][k].obj == e->obj)
					break;
			if (k >= 0) {
				/* Close inner slices, then reopen them, so
				 * out-of-order releases stay well nested. */
				for (int j = (int)nopen[tid] - 1; j >= k; j--)
					fprintf(f,
						",\n{\"ph\":\"E\",\"pid\":1,"
						"\"tid\":%u,\"ts\":%zu}",
						tid, i);
				for (int j = k + 1; j < (int)nopen[tid]; j++) {
					open[tid][j - 1] = open[tid][j];
					fprintf(f,
						",\n{\"ph\":\"B\",\"pid\":1,"
						"\"tid\":%u,\"ts\":%zu,\"name\":",
						tid, i);
					json_str(f, open[tid][j].obj);
					fprintf(f, "}");
				}
				nopen[tid]--;
				continue;
			}
		}
		fprintf(f,
			",\n{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":%u,"
			"\"ts\":%zu,\"name\":",
			tid, i);
		json_str(f, d);
		fprintf(f, ",\"args\":{\"site\":");
		json_str(f, site);
		fprintf(f, ",\"vtime_ns\":%llu}}", (unsigned long long)e->time);
	}
	for (unsigned int t = 0; t < nt; t++)
		while (nopen[t]--)
			fprintf(f,
				",\n{\"ph\":\"E\",\"pid\":1,\"tid\":%u,\"ts\":%zu}",
				t, w->nev);
	fprintf(f, "\n]}\n");
	free(open);
	free(nopen);
	return ferror(f) ? -EIO : 0;
}
