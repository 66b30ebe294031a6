/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common.h - small helpers shared by every layer of libvfiosim.
 */
#ifndef VFIOSIM_COMMON_H
#define VFIOSIM_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Marks a definition as part of the exported API (see libvfiosim.sym). */
#define VFIOSIM_EXPORT __attribute__((visibility("default")))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - (offsetof(type, member))))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define VFIOSIM_UNUSED __attribute__((unused))

/* splitmix64: the project's one PRNG step; deterministic and seedable. */
static inline uint64_t vfiosim_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A uniform value in [0, n) for n > 0. */
static inline uint64_t vfiosim_rand_below(uint64_t *state, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)vfiosim_splitmix64(state) * n) >>
			  64);
}

/* Mixes @v into the 64-bit hash @h (order-sensitive). */
static inline uint64_t vfiosim_hash_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

static inline uint64_t vfiosim_hash_str(uint64_t h, const char *s)
{
	if (!s)
		return vfiosim_hash_mix(h, 0);
	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
	return vfiosim_hash_mix(h, 1);
}

/* Basename of a __FILE__ path, for reports. */
const char *vfiosim_basename(const char *path);

#endif /* VFIOSIM_COMMON_H */
