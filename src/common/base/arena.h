/* base/arena.h - an arena: many small allocations released together.
 *
 * Decoded manifests, daemon configs and cluster nodes own all their strings and
 * arrays through one arena each, so that a decoder failing halfway releases what
 * it built with one call, and a finished struct is freed with one call too.
 * Allocations are zeroed and aligned for any type. Not thread-safe. */
#ifndef RIDE_ARENA_H
#define RIDE_ARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ride_arena ride_arena;

/* An empty arena, or NULL when out of memory. */
ride_arena *ride_arena_new(void);
/* Releases the arena and everything allocated from it; NULL is fine. */
void ride_arena_free(ride_arena *arena);

/* size zeroed bytes (a distinct pointer even for 0), or NULL when out of memory. */
void *ride_arena_alloc(ride_arena *arena, size_t size);
/* count zeroed elements of size bytes, or NULL when out of memory or when
 * count * size overflows. */
void *ride_arena_array(ride_arena *arena, size_t count, size_t size);
/* A NUL-terminated copy of the len bytes at s, or NULL when out of memory. */
char *ride_arena_strndup(ride_arena *arena, const char *s, size_t len);
/* A copy of the string s, or NULL when out of memory. */
char *ride_arena_strdup(ride_arena *arena, const char *s);

#ifdef __cplusplus
}
#endif

#endif
