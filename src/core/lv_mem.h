/* lv_mem: allocation that never returns NULL.
 *
 * Memory used on behalf of remote peers is bounded by configured limits, not by
 * malloc failing, so an allocation failure is a fatal condition: these wrappers
 * log and abort instead of returning NULL (as git's xmalloc does). */
#ifndef LV_MEM_H
#define LV_MEM_H

#include <stddef.h>

/* Each returns memory the caller owns and frees with free(). */
void *lv_xmalloc(size_t size);
void *lv_xcalloc(size_t nmemb, size_t size);
void *lv_xrealloc(void *ptr, size_t size);
char *lv_xstrdup(const char *s);
/* Copies at most n bytes of s and NUL-terminates. */
char *lv_xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *lv_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2), nonnull(1)));

/* Grows *arr (of *cap elements of elem_size) so that it can hold at least need
 * elements; doubles the capacity. */
void lv_grow(void **arr, size_t *cap, size_t need, size_t elem_size);

#define LV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
