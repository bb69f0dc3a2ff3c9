/* base/buffer.h - a growable byte buffer for text and bodies whose size is known
 * only at the end (HTTP bodies, the metrics page).
 *
 * The content is always followed by a NUL, so it can be handed on as a C string.
 * A zeroed ride_buffer is empty and ready; ride_buffer_free() releases it. */
#ifndef RIDE_BUFFER_H
#define RIDE_BUFFER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ride_buffer {
    char *data; /* NULL until the first append; then data[len] == '\0' */
    size_t len;
    size_t cap; /* bytes allocated at data, the NUL's included */
} ride_buffer;

/* Appends the n bytes at src. The capacity doubles from 1 KiB but never goes past
 * max + 1, so a buffer bounded by a small limit stays small. Returns 0, or -1 with
 * the buffer unchanged and errno EMSGSIZE when the content would be longer than
 * max bytes, ENOMEM when memory runs out. */
int ride_buffer_append(ride_buffer *b, const void *src, size_t n, size_t max);
/* Empties the buffer, keeping its memory for the next content. */
void ride_buffer_clear(ride_buffer *b);
/* Releases the memory and leaves the buffer zeroed (empty and ready). */
void ride_buffer_free(ride_buffer *b);

#ifdef __cplusplus
}
#endif

#endif
