/* base/arena.c - the arena of base/arena.h: bump allocation from a list of blocks.
 * Blocks start small and double, so that the many arenas of small decoded nodes
 * (one per cluster node a master holds) cost little, and a large manifest still
 * needs few blocks. */
#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct arena_block {
    struct arena_block *next;
    size_t used; /* in units of max_align_t */
    size_t cap;
    max_align_t data[];
} arena_block;

struct ride_arena {
    arena_block *head; /* the block allocations come from; older ones follow */
};

#define UNIT sizeof(max_align_t)
#define FIRST_BLOCK_UNITS (512 / UNIT)
#define LARGEST_BLOCK_UNITS (16384 / UNIT)

ride_arena *ride_arena_new(void) { return calloc(1, sizeof(ride_arena)); }

void ride_arena_free(ride_arena *arena)
{
    if (!arena)
        return;
    arena_block *b = arena->head;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(arena);
}

/* Twice the last block, up to LARGEST_BLOCK_UNITS, or more when one request needs it. */
static arena_block *add_block(ride_arena *arena, size_t units)
{
    size_t cap = FIRST_BLOCK_UNITS;
    if (arena->head)
        cap = arena->head->cap < LARGEST_BLOCK_UNITS / 2 ? arena->head->cap * 2
                                                         : LARGEST_BLOCK_UNITS;
    if (cap < units)
        cap = units;
    arena_block *b = malloc(sizeof *b + cap * UNIT);
    if (!b)
        return NULL;
    b->next = arena->head;
    b->used = 0;
    b->cap = cap;
    arena->head = b;
    return b;
}

void *ride_arena_alloc(ride_arena *arena, size_t size)
{
    if (size > SIZE_MAX - sizeof(arena_block) - UNIT)
        return NULL;
    size_t units = size ? (size + UNIT - 1) / UNIT : 1;
    arena_block *b = arena->head;
    if ((!b || b->cap - b->used < units) && !(b = add_block(arena, units)))
        return NULL;
    void *p = &b->data[b->used];
    b->used += units;
    memset(p, 0, units * UNIT);
    return p;
}

void *ride_arena_array(ride_arena *arena, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    return ride_arena_alloc(arena, count * size);
}

char *ride_arena_strndup(ride_arena *arena, const char *s, size_t len)
{
    char *copy = len < SIZE_MAX ? ride_arena_alloc(arena, len + 1) : NULL;
    if (copy)
        memcpy(copy, s, len);
    return copy;
}

char *ride_arena_strdup(ride_arena *arena, const char *s)
{
    return ride_arena_strndup(arena, s, strlen(s));
}
