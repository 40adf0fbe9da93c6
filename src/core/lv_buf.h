/* lv_buf: the one growable, length-carrying byte buffer.
 *
 * data is always NUL-terminated (when non-NULL) so it can be used as a C string,
 * but len is authoritative: the content may hold NUL bytes. */
#ifndef LV_BUF_H
#define LV_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct lv_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
};

#define LV_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void lv_buf_init(struct lv_buf *b);
/* Frees the content; the buffer can be reused after lv_buf_init(). */
void lv_buf_release(struct lv_buf *b);
/* Empties the buffer, keeping its allocation. */
void lv_buf_reset(struct lv_buf *b);
void lv_buf_add(struct lv_buf *b, const void *data, size_t len);
void lv_buf_adds(struct lv_buf *b, const char *s);
void lv_buf_addc(struct lv_buf *b, char c);
void lv_buf_addf(struct lv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lv_buf_vaddf(struct lv_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Removes the first n bytes (n is clamped to len). */
void lv_buf_consume(struct lv_buf *b, size_t n);
/* Returns the content as a heap string the caller owns (never NULL) and
 * leaves the buffer empty. */
char *lv_buf_detach(struct lv_buf *b);

#endif
