/* base/buffer.c - the growable buffer of base/buffer.h. Capacities double, so n
 * appends cost O(n) copies in all; the limit caps the last doubling. */
#include "base/buffer.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAPACITY 1024

/* Doubles cap until it holds need bytes, within limit (need <= limit). */
static size_t grown_capacity(size_t cap, size_t need, size_t limit)
{
    if (!cap)
        cap = FIRST_CAPACITY;
    while (cap < need && cap <= limit / 2)
        cap *= 2;
    return cap < need || cap > limit ? limit : cap;
}

int ride_buffer_append(ride_buffer *b, const void *src, size_t n, size_t max)
{
    if (max == SIZE_MAX)
        max = SIZE_MAX - 1; /* the NUL needs its byte */
    if (b->len > max || n > max - b->len) {
        errno = EMSGSIZE;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = grown_capacity(b->cap, need, max + 1);
        char *grown = realloc(b->data, cap);
        if (!grown) {
            errno = ENOMEM;
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, src, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void ride_buffer_clear(ride_buffer *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void ride_buffer_free(ride_buffer *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
