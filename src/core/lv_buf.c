#include "lv_buf.h"
#include "lv_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lv_buf_init(struct lv_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void lv_buf_release(struct lv_buf *b)
{
    free(b->data);
    lv_buf_init(b);
}

void lv_buf_reset(struct lv_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static void reserve(struct lv_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap *= 2;
    b->data = lv_xrealloc(b->data, ncap);
    b->cap = ncap;
}

void lv_buf_add(struct lv_buf *b, const void *data, size_t len)
{
    reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void lv_buf_adds(struct lv_buf *b, const char *s)
{
    lv_buf_add(b, s, strlen(s));
}

void lv_buf_addc(struct lv_buf *b, char c)
{
    lv_buf_add(b, &c, 1);
}

void lv_buf_vaddf(struct lv_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char probe[1];
    int n = vsnprintf(probe, sizeof(probe), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void lv_buf_addf(struct lv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lv_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void lv_buf_consume(struct lv_buf *b, size_t n)
{
    if (n >= b->len) {
        lv_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *lv_buf_detach(struct lv_buf *b)
{
    char *s = b->data ? b->data : lv_xstrdup("");
    lv_buf_init(b);
    return s;
}
