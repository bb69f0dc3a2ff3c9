/* table.c - kubectl-style text tables (see table.h). */
#include "table.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEPARATOR "   "
#define NONE "<none>"

struct ride_ctl_table {
    size_t columns;
    size_t rows; /* the header row included */
    size_t capacity;
    char **cells; /* rows * columns, row-major */
};

/* A copy with every control character replaced by '?'. */
static char *clean_copy(const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return NULL;
    for (unsigned char *c = (unsigned char *)copy; *c; c++) {
        if (*c < 0x20 || *c == 0x7f)
            *c = '?';
    }
    return copy;
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t display_width(const char *text)
{
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if ((*c & 0xC0) != 0x80)
            n++;
    }
    return n;
}

static int append_row(ride_ctl_table *t, const char *const cells[])
{
    if (t->rows == t->capacity) {
        size_t capacity = t->capacity ? t->capacity * 2 : 8;
        char **grown = realloc(t->cells, capacity * t->columns * sizeof *grown);
        if (grown == NULL)
            return -1;
        t->cells = grown;
        t->capacity = capacity;
    }
    char **row = t->cells + t->rows * t->columns;
    for (size_t c = 0; c < t->columns; c++) {
        row[c] = clean_copy(cells[c] ? cells[c] : NONE);
        if (row[c] == NULL) {
            while (c > 0)
                free(row[--c]);
            return -1;
        }
    }
    t->rows++;
    return 0;
}

ride_ctl_table *ride_ctl_table_new(size_t columns, const char *const headers[])
{
    ride_ctl_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->columns = columns;
    if (append_row(t, headers) != 0) {
        ride_ctl_table_free(t);
        return NULL;
    }
    return t;
}

int ride_ctl_table_add(ride_ctl_table *t, const char *const cells[])
{
    return append_row(t, cells);
}

char *ride_ctl_table_render(const ride_ctl_table *t, const char *indent)
{
    size_t *widths = calloc(t->columns, sizeof *widths);
    if (widths == NULL)
        return NULL;
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->columns; c++) {
            size_t w = display_width(t->cells[r * t->columns + c]);
            if (w > widths[c])
                widths[c] = w;
        }
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL) {
        free(widths);
        return NULL;
    }
    for (size_t r = 0; r < t->rows; r++) {
        fputs(indent, out);
        for (size_t c = 0; c < t->columns; c++) {
            const char *cell = t->cells[r * t->columns + c];
            fputs(cell, out);
            /* The last column is not padded: no trailing spaces. */
            if (c + 1 < t->columns)
                fprintf(out, "%*s" SEPARATOR, (int)(widths[c] - display_width(cell)), "");
        }
        fputc('\n', out);
    }
    free(widths);
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        free(text);
        return NULL;
    }
    return text;
}

void ride_ctl_table_free(ride_ctl_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->rows * t->columns; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}
