#include "lv_bridge.h"
#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define AREA "bridge"

struct method_entry {
    char *name;
    lv_bridge_method_fn fn;
    void *ud;
};

struct conn {
    uv_pipe_t pipe;
    struct lv_bridge *b;
    struct lv_buf in;
    bool closing;
    unsigned refs; /* the connection itself + pending calls */
    struct conn *next;
};

struct lv_bridge_call {
    struct conn *conn; /* NULL once the connection is gone */
    json_t *id;
};

struct lv_bridge {
    uv_loop_t *loop;
    uv_pipe_t server;
    char *path;
    struct method_entry *methods;
    size_t nmethods, methods_cap;
    struct conn *conns;
};

/* ---- connections ---- */

static void conn_unref(struct conn *c)
{
    if (--c->refs == 0) {
        lv_buf_release(&c->in);
        free(c);
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    for (struct conn **p = &c->b->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static void on_written(uv_write_t *req, int status)
{
    free(req);
}

static void conn_send(struct conn *c, json_t *msg)
{
    if (c->closing)
        return;
    char *s = json_dumps(msg, JSON_COMPACT);
    size_t len = strlen(s);
    uv_write_t *req = lv_xmalloc(sizeof(*req) + len + 1);
    char *data = (char *)(req + 1);
    memcpy(data, s, len);
    data[len] = '\n';
    free(s);
    uv_buf_t buf = uv_buf_init(data, (unsigned)(len + 1));
    if (uv_write(req, (uv_stream_t *)&c->pipe, &buf, 1, on_written) < 0) {
        free(req);
        conn_close(c);
    }
}

static json_t *error_obj(int code, const char *msg, const char *cond)
{
    json_t *e = json_pack("{s:i, s:s}", "code", code, "message", msg);
    if (cond && *cond)
        json_object_set_new(e, "data", json_pack("{s:s}", "condition", cond));
    return e;
}

static void send_error(struct conn *c, json_t *id, int code, const char *msg)
{
    json_t *r = json_pack("{s:s, s:O?, s:o}", "jsonrpc", "2.0", "id", id, "error",
                          error_obj(code, msg, NULL));
    conn_send(c, r);
    json_decref(r);
}

static struct method_entry *find_method(struct lv_bridge *b, const char *name)
{
    for (size_t i = 0; i < b->nmethods; i++)
        if (strcmp(b->methods[i].name, name) == 0)
            return &b->methods[i];
    return NULL;
}

static void handle_request(struct conn *c, json_t *req)
{
    json_t *id = json_object_get(req, "id");
    json_t *method = json_object_get(req, "method");
    json_t *params = json_object_get(req, "params");
    if (!json_is_string(method) || (params && !json_is_object(params) && !json_is_array(params))) {
        send_error(c, id, -32600, "invalid request: needs a method name and object/array params");
        return;
    }
    struct method_entry *m = find_method(c->b, json_string_value(method));
    if (!m) {
        char msg[300];
        snprintf(msg, sizeof(msg), "unknown method %.200s", json_string_value(method));
        send_error(c, id, -32601, msg);
        return;
    }
    struct lv_bridge_call *call = lv_xcalloc(1, sizeof(*call));
    call->conn = c;
    call->id = id ? json_incref(id) : NULL;
    c->refs++;
    json_t *empty = params ? NULL : json_object();
    lv_debug(AREA, "call %s", m->name);
    m->fn(call, params ? params : empty, m->ud);
    json_decref(empty);
}

static void handle_line(struct conn *c, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req) {
        char msg[300];
        snprintf(msg, sizeof(msg), "parse error: %s", jerr.text);
        send_error(c, NULL, -32700, msg);
        return;
    }
    if (!json_is_object(req))
        send_error(c, NULL, -32600, "invalid request: not a JSON object");
    else
        handle_request(c, req);
    json_decref(req);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    static char scratch[65536]; /* only ever used on the loop thread, one read at a time */
    *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    lv_buf_add(&c->in, buf->base, (size_t)nread);
    size_t start = 0;
    for (;;) {
        char *nl = memchr(c->in.data + start, '\n', c->in.len - start);
        if (!nl)
            break;
        size_t len = (size_t)(nl - (c->in.data + start));
        if (len > 0)
            handle_line(c, c->in.data + start, len);
        start += len + 1;
        if (c->closing)
            return;
    }
    lv_buf_consume(&c->in, start);
    if (c->in.len > LV_BRIDGE_MAX_LINE) {
        send_error(c, NULL, -32600, "request too large");
        conn_close(c);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct lv_bridge *b = server->data;
    if (status < 0)
        return;
    struct conn *c = lv_xcalloc(1, sizeof(*c));
    c->b = b;
    c->refs = 1;
    uv_pipe_init(b->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
        return;
    }
    c->next = b->conns;
    b->conns = c;
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* ---- replies ---- */

static void finish_call(struct lv_bridge_call *call, json_t *msg)
{
    if (call->conn) {
        if (call->id)
            conn_send(call->conn, msg); /* a notification-style call gets no answer */
        conn_unref(call->conn);
    }
    json_decref(msg);
    json_decref(call->id);
    free(call);
}

void lv_bridge_reply(struct lv_bridge_call *call, json_t *result)
{
    json_t *r = json_pack("{s:s, s:O?, s:o}", "jsonrpc", "2.0", "id", call->id, "result",
                          result ? result : json_null());
    finish_call(call, r);
}

void lv_bridge_reply_error(struct lv_bridge_call *call, const struct lv_error *err)
{
    int code = LV_BRIDGE_APP_ERROR_BASE + (err->code < 0 ? err->code : LV_ERR_INTERNAL);
    json_t *r =
        json_pack("{s:s, s:O?, s:o}", "jsonrpc", "2.0", "id", call->id, "error",
                  error_obj(code, err->msg[0] ? err->msg : lv_err_str(err->code), err->cond));
    finish_call(call, r);
}

void lv_bridge_notify(struct lv_bridge *b, const char *method, json_t *params)
{
    json_t *n = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method, "params",
                          params ? params : json_object());
    for (struct conn *c = b->conns; c; c = c->next)
        conn_send(c, n);
    json_decref(n);
}

/* ---- server lifecycle ---- */

static int make_dir(const char *path, struct lv_error *err)
{
    char *dir = lv_xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; *p; p++)
            if (*p == '/') {
                *p = '\0';
                mkdir(dir, 0700);
                *p = '/';
            }
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            rc = lv_error_set(err, LV_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    }
    free(dir);
    return rc;
}

/* True if a backend answers on path. */
static bool socket_alive(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    bool alive = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return alive;
}

int lv_bridge_new(uv_loop_t *loop, const char *socket_path, struct lv_bridge **out,
                  struct lv_error *err)
{
    if (strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return lv_error_set(err, LV_ERR_CONFIG, "bridge socket path too long: %s", socket_path);
    int rc = make_dir(socket_path, err);
    if (rc != 0)
        return rc;
    if (socket_alive(socket_path))
        return lv_error_set(err, LV_ERR_CONFLICT,
                            "another backend already listens on %s (stop it first)", socket_path);
    unlink(socket_path);
    struct lv_bridge *b = lv_xcalloc(1, sizeof(*b));
    b->loop = loop;
    b->path = lv_xstrdup(socket_path);
    uv_pipe_init(loop, &b->server, 0);
    b->server.data = b;
    mode_t old = umask(0077); /* the socket itself: owner only */
    int r = uv_pipe_bind(&b->server, socket_path);
    umask(old);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&b->server, 64, on_connection);
    if (r != 0) {
        rc = lv_error_set(err, LV_ERR_IO, "cannot listen on %s: %s", socket_path, uv_strerror(r));
        b->methods = NULL;
        lv_bridge_free(b);
        return rc;
    }
    lv_info(AREA, "listening on %s", socket_path);
    *out = b;
    return 0;
}

static void on_server_closed(uv_handle_t *h)
{
    struct lv_bridge *b = h->data;
    free(b->path);
    free(b);
}

void lv_bridge_free(struct lv_bridge *b)
{
    if (!b)
        return;
    while (b->conns)
        conn_close(b->conns);
    for (size_t i = 0; i < b->nmethods; i++)
        free(b->methods[i].name);
    free(b->methods);
    unlink(b->path);
    uv_close((uv_handle_t *)&b->server, on_server_closed);
}

void lv_bridge_add_methods(struct lv_bridge *b, const struct lv_bridge_method *m, size_t n,
                           void *ud)
{
    lv_grow((void **)&b->methods, &b->methods_cap, b->nmethods + n, sizeof(*b->methods));
    for (size_t i = 0; i < n; i++)
        b->methods[b->nmethods++] = (struct method_entry){lv_xstrdup(m[i].name), m[i].fn, ud};
}

/* ---- client ---- */

static int client_connect(const char *path, struct lv_error *err)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return lv_error_set(err, LV_ERR_IO, "socket: %s", strerror(errno));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return lv_error_set(err, LV_ERR_IO,
                            "the backend is not running (nothing listens on %s): start it "
                            "with `libervia-backend bg`",
                            path);
    }
    return fd;
}

static int write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return LV_ERR_IO;
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads lines until the answer to our id; notifications are skipped. */
static int read_answer(int fd, int timeout_ms, json_t **answer, struct lv_error *err)
{
    struct lv_buf in = LV_BUF_INIT;
    long long deadline = mono_ms() + timeout_ms;
    int rc = 0;
    for (;;) {
        char *nl = in.data ? memchr(in.data, '\n', in.len) : NULL;
        if (nl) {
            json_t *msg = json_loadb(in.data, (size_t)(nl - in.data), 0, NULL);
            lv_buf_consume(&in, (size_t)(nl - in.data) + 1);
            if (msg && json_object_get(msg, "id") && !json_object_get(msg, "method")) {
                *answer = msg;
                break;
            }
            json_decref(msg);
            continue;
        }
        long long left = deadline - mono_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            rc = lv_error_set(err, LV_ERR_TIMEOUT, "the backend did not answer in %d s",
                              timeout_ms / 1000);
            break;
        }
        char chunk[65536];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n <= 0 || in.len > LV_BRIDGE_MAX_LINE) {
            rc = lv_error_set(err, LV_ERR_IO, "the backend closed the connection");
            break;
        }
        lv_buf_add(&in, chunk, (size_t)n);
    }
    lv_buf_release(&in);
    return rc;
}

static int answer_to_result(json_t *answer, json_t **result, struct lv_error *err)
{
    json_t *e = json_object_get(answer, "error");
    if (!e) {
        *result = json_incref(json_object_get(answer, "result"));
        return 0;
    }
    json_int_t code = json_integer_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *cond = json_string_value(json_object_get(json_object_get(e, "data"), "condition"));
    int lv = LV_ERR_PROTO;
    if (code <= LV_BRIDGE_APP_ERROR_BASE && code > LV_BRIDGE_APP_ERROR_BASE - 100)
        lv = (int)(code - LV_BRIDGE_APP_ERROR_BASE);
    else if (code == -32602 || code == -32600)
        lv = LV_ERR_INVAL;
    else if (code == -32601)
        lv = LV_ERR_NOT_FOUND;
    return lv_error_set_cond(err, lv, cond, "%s", msg ? msg : "error");
}

int lv_bridge_call(const char *socket_path, const char *method, json_t *params, int timeout_ms,
                   json_t **result, struct lv_error *err)
{
    *result = NULL;
    int fd = client_connect(socket_path, err);
    if (fd < 0) {
        json_decref(params);
        return fd;
    }
    json_t *req = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", 1, "method", method,
                            "params", params ? params : json_object());
    char *line = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    struct lv_buf out = LV_BUF_INIT;
    lv_buf_adds(&out, line);
    lv_buf_addc(&out, '\n');
    free(line);
    int rc = write_all(fd, out.data, out.len);
    lv_buf_release(&out);
    json_t *answer = NULL;
    if (rc != 0)
        rc = lv_error_set(err, LV_ERR_IO, "cannot send to the backend");
    else
        rc = read_answer(fd, timeout_ms, &answer, err);
    close(fd);
    if (rc == 0) {
        rc = answer_to_result(answer, result, err);
        json_decref(answer);
    }
    return rc;
}
