/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * token.c - replay tokens.
 *
 * A token is one printable line:
 *
 *	vfs1:<scenario>:<seed>:<hash>:<decisions>
 *
 * vfs1      format version; another version is refused with a message.
 * scenario  the scenario's name ([A-Za-z0-9_.-], others become '_').
 * seed      the world seed of the run, hex.
 * hash      hash of the run's events, hex; a replay that produces another
 *           hash is a NONDETERMINISM failure.
 * decisions every choice among two or more candidates, as the index of the
 *           chosen thread among the candidates sorted by id: 'A'..'Z' are
 *           0..25, 'a'..'z' 26..51, "{n}" any index; a decimal count after a
 *           choice repeats it.  "-" when there was no choice at all.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

#define TOKEN_VERSION 1

static void put_name(FILE *f, const char *name)
{
	int n = 0;

	for (; *name && n < 63; name++, n++) {
		char c = *name;

		fputc(isalnum((unsigned char)c) || c == '_' || c == '.' ||
				      c == '-' ?
			      c :
			      '_',
		      f);
	}
	if (!n)
		fputs("_", f);
}

char *sim_token_encode(struct vfiosim_world *w)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	fprintf(f, "vfs%d:", TOKEN_VERSION);
	put_name(f, w->scenario_name);
	fprintf(f, ":%" PRIx64 ":%" PRIx64 ":", w->cfg.seed, w->trace_hash);
	if (!w->ndecisions)
		fputc('-', f);
	for (size_t i = 0; i < w->ndecisions;) {
		unsigned int d = w->decisions[i];
		size_t run = 1;

		while (i + run < w->ndecisions && w->decisions[i + run] == d)
			run++;
		if (d < 26)
			fputc('A' + (int)d, f);
		else if (d < 52)
			fputc('a' + (int)(d - 26), f);
		else
			fprintf(f, "{%u}", d);
		if (run > 1)
			fprintf(f, "%zu", run);
		i += run;
	}
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}

static int why_set(char *why, size_t whylen, const char *fmt, ...)
	VFIOSIM_PRINTF(3, 4);
static int why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int push(struct sim_token *t, size_t *cap, unsigned long d, size_t run)
{
	if (d > UINT16_MAX || run > 100000000)
		return -EINVAL;
	if (t->ndecisions + run > *cap) {
		size_t nc = (*cap ? *cap : 64);
		void *n;

		while (nc < t->ndecisions + run)
			nc *= 2;
		n = realloc(t->decisions, nc * sizeof(*t->decisions));
		if (!n)
			return -ENOMEM;
		t->decisions = n;
		*cap = nc;
	}
	while (run--)
		t->decisions[t->ndecisions++] = (uint16_t)d;
	return 0;
}

int sim_token_decode(const char *token, struct sim_token *out, char *why,
		     size_t whylen)
{
	const char *p = token, *q;
	size_t cap = 0;
	char *end;
	int ver;

	memset(out, 0, sizeof(*out));
	if (!token || !*token)
		return why_set(why, whylen, "empty replay token");
	if (strncmp(p, "vfs", 3) || !isdigit((unsigned char)p[3]))
		return why_set(why, whylen,
			       "not a libvfiosim replay token (it must start "
			       "with 'vfs%d:')",
			       TOKEN_VERSION);
	ver = (int)strtol(p + 3, &end, 10);
	if (*end != ':')
		return why_set(why, whylen, "malformed replay token header");
	if (ver != TOKEN_VERSION)
		return why_set(why, whylen,
			       "replay token is of format version %d; this "
			       "libvfiosim reads version %d only: re-run the "
			       "exploration to get a new token",
			       ver, TOKEN_VERSION);
	p = end + 1;
	q = strchr(p, ':');
	if (!q || q == p || (size_t)(q - p) >= sizeof(out->name))
		return why_set(why, whylen, "malformed scenario name in token");
	memcpy(out->name, p, (size_t)(q - p));
	out->name[q - p] = 0;
	p = q + 1;
	errno = 0;
	out->seed = strtoull(p, &end, 16);
	if (end == p || *end != ':' || errno)
		return why_set(why, whylen, "malformed seed in token");
	p = end + 1;
	out->hash = strtoull(p, &end, 16);
	if (end == p || *end != ':' || errno)
		return why_set(why, whylen, "malformed hash in token");
	p = end + 1;
	if (!strcmp(p, "-"))
		return 0;
	while (*p) {
		unsigned long d, run = 1;

		if (*p >= 'A' && *p <= 'Z') {
			d = (unsigned long)(*p++ - 'A');
		} else if (*p >= 'a' && *p <= 'z') {
			d = (unsigned long)(*p++ - 'a') + 26;
		} else if (*p == '{') {
			d = strtoul(p + 1, &end, 10);
			if (end == p + 1 || *end != '}')
				goto bad;
			p = end + 1;
		} else {
			goto bad;
		}
		if (isdigit((unsigned char)*p)) {
			run = strtoul(p, &end, 10);
			p = end;
			if (!run)
				goto bad;
		}
		if (push(out, &cap, d, run))
			goto bad;
	}
	return 0;
bad:
	sim_token_release(out);
	return why_set(why, whylen,
		       "malformed decision list in token near '%.10s'", p);
}

void sim_token_release(struct sim_token *t)
{
	free(t->decisions);
	t->decisions = NULL;
	t->ndecisions = 0;
}

VFIOSIM_EXPORT int vfiosim_token_check(const char *token, const char *name,
				       char *why, size_t whylen)
{
	struct sim_token t;
	char want[64];
	FILE *f;
	int rc;

	rc = sim_token_decode(token, &t, why, whylen);
	if (rc)
		return rc;
	sim_token_release(&t);
	if (!name)
		return 0;
	f = fmemopen(want, sizeof(want), "w");
	if (!f)
		return -ENOMEM;
	put_name(f, name);
	fputc(0, f);
	fclose(f);
	want[sizeof(want) - 1] = 0;
	if (strcmp(t.name, want))
		return why_set(why, whylen,
			       "replay token is for scenario '%s', not '%s'",
			       t.name, want);
	return 0;
}

VFIOSIM_EXPORT int vfiosim_token_scenario(const char *token, char *buf,
					  size_t len)
{
	struct sim_token t;
	int rc = sim_token_decode(token, &t, NULL, 0);

	if (rc)
		return rc;
	sim_token_release(&t);
	if (buf && len)
		snprintf(buf, len, "%s", t.name);
	return (int)strlen(t.name);
}
