/* table.h - kubectl-style text tables: upper-case headers, each column as wide
 * as its widest cell, columns separated by three spaces, no trailing spaces.
 *
 * Cells are copied; control characters in them (which a server could use to
 * move the terminal's cursor) are shown as '?'. Widths count UTF-8 characters. */
#ifndef RIDE_CTL_TABLE_H
#define RIDE_CTL_TABLE_H

#include <stddef.h>

typedef struct ride_ctl_table ride_ctl_table;

/* A table with `columns` headers. NULL when out of memory. */
ride_ctl_table *ride_ctl_table_new(size_t columns, const char *const headers[]);
/* Appends a row of exactly `columns` cells (NULL cells print as "<none>").
 * Returns 0, or -1 when out of memory. */
int ride_ctl_table_add(ride_ctl_table *t, const char *const cells[]);
/* The table as text, every line (the header's too) prefixed by `indent` and ending
 * in '\n'; malloc'ed, NULL when out of memory. */
char *ride_ctl_table_render(const ride_ctl_table *t, const char *indent);
void ride_ctl_table_free(ride_ctl_table *t);

#endif
