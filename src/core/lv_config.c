#include "lv_config.h"
#include "lv_buf.h"
#include "lv_log.h"
#include "lv_mem.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define KIB 1024LL
#define MIB (1024LL * 1024)

/* The option table: the single declaration of every key the backend reads.
 * Keys of the reference Libervia keep its names and sections. */
static const struct lv_opt options[] = {
    {"DEFAULT", "local_dir", LV_OPT_PATH, "@XDG_DATA_HOME@/libervia", 0, 0, NULL,
     "Directory of the backend's own data: database, pid file, logs (reference key)."},
    {"DEFAULT", "pid_dir", LV_OPT_PATH, "%(local_dir)s", 0, 0, NULL,
     "Directory of the pid file `libervia-backend.pid` (reference key)."},
    {"DEFAULT", "log_dir", LV_OPT_PATH, "%(local_dir)s", 0, 0, NULL,
     "Directory of `libervia-backend.log` when the daemon runs in the background "
     "(reference key)."},
    {"DEFAULT", "log_level", LV_OPT_ENUM, "info", 0, 0, "trace|debug|info|warning|error|critical",
     "Lowest level that is logged (reference key; `trace` adds every stanza, with "
     "authentication exchanges left out)."},
    {"DEFAULT", "xmpp_domain", LV_OPT_STRING, "", 0, 0, NULL,
     "The XMPP domain this installation serves; used by components to find their server "
     "(reference key)."},
    {"storage", "uri", LV_OPT_STRING, "sqlite:%(local_dir)s/libervia.db", 0, 0, NULL,
     "Where the backend keeps its state: `sqlite:PATH` (the default) or a PostgreSQL "
     "connection URI."},
    {"bridge", "socket", LV_OPT_PATH, "@XDG_RUNTIME_DIR@/libervia/bridge.sock", 0, 0, NULL,
     "Unix socket on which the backend serves its JSON-RPC bridge to frontends "
     "(its directory is created with mode 0700)."},
    {"xmpp", "ca_file", LV_OPT_PATH, "", 0, 0, NULL,
     "PEM file of certificate authorities trusted for XMPP TLS, instead of the system's "
     "store (empty: the system's store)."},
    {"xmpp", "iq_timeout", LV_OPT_INT, "60", 1, 3600, NULL,
     "Seconds to wait for the answer to an iq before the caller gets a "
     "`remote-server-timeout` error."},
    {"xmpp", "connect_timeout", LV_OPT_INT, "30", 1, 600, NULL,
     "Seconds allowed to open the TCP connection and finish TLS and authentication."},
    {"xmpp", "reconnect_min_delay", LV_OPT_INT, "1", 1, 3600, NULL,
     "Seconds before the first reconnection attempt after a connection is lost; the "
     "delay doubles at each failure."},
    {"xmpp", "reconnect_max_delay", LV_OPT_INT, "300", 1, 86400, NULL,
     "Upper bound of the reconnection delay, in seconds."},
    {"xmpp", "ping_interval", LV_OPT_INT, "60", 0, 86400, NULL,
     "Seconds of silence from the server after which it is pinged (XEP-0199); a ping "
     "unanswered for `iq_timeout` seconds drops the connection, which is then re-opened. "
     "0 disables."},
    {"xmpp", "max_stanza_bytes", LV_OPT_SIZE, "16 MiB", 1 * KIB, 1024 * MIB, NULL,
     "Largest stanza accepted from the server once authenticated. Services without RSM "
     "answer a whole node in one stanza, so this bounds what can be fetched at once."},
    {"xmpp", "preauth_max_stanza_bytes", LV_OPT_SIZE, "64 KiB", 1 * KIB, 16 * MIB, NULL,
     "Largest stanza accepted before authentication."},
    {"xmpp", "max_depth", LV_OPT_INT, "64", 4, 1024, NULL,
     "Deepest element nesting accepted inside a stanza."},
    {"xmpp", "max_attrs", LV_OPT_INT, "64", 4, 4096, NULL,
     "Most attributes accepted on one element."},
    {"xmpp", "max_children", LV_OPT_INT, "100000", 16, 10000000, NULL,
     "Most child nodes accepted under one element (a pubsub answer holds one per item)."},
};

struct value {
    char *value; /* expanded and validated; never NULL */
    char *origin;
};

struct lv_config {
    struct value *values; /* parallel to options[] */
};

struct load_ctx {
    struct lv_config *cfg;
    const char *path;
    FILE *fp;
    int line;
    struct lv_error *err;
    int rc;
};

static size_t noptions(void)
{
    return LV_ARRAY_LEN(options);
}

const struct lv_opt *lv_config_options(size_t *count)
{
    *count = noptions();
    return options;
}

static int find_opt(const char *section, const char *key)
{
    for (size_t i = 0; i < noptions(); i++)
        if (strcmp(options[i].section, section) == 0 && strcasecmp(options[i].key, key) == 0)
            return (int)i;
    return -1;
}

static bool known_section(const char *section)
{
    for (size_t i = 0; i < noptions(); i++)
        if (strcmp(options[i].section, section) == 0)
            return true;
    return false;
}

static int must_find(const char *section, const char *key)
{
    int i = find_opt(section, key);
    if (i < 0) {
        fprintf(stderr, "libervia: option [%s] %s is not declared\n", section, key);
        abort();
    }
    return i;
}

int lv_config_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < LV_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return LV_ERR_INVAL;
}

static int parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return LV_ERR_INVAL;
    *out = v;
    return 0;
}

/* Multiplier for a size unit, as the reference's quota parser accepts them:
 * decimal (kB, ko), binary (KiB, Kio), case-insensitive, "b"/"o" alone = 1. */
static long long unit_factor(const char *u)
{
    static const char prefixes[] = "kmgtpezy";
    if (*u == '\0' || strcasecmp(u, "b") == 0 || strcasecmp(u, "o") == 0)
        return 1;
    const char *p = strchr(prefixes, tolower((unsigned char)u[0]));
    if (!p)
        return -1;
    int power = (int)(p - prefixes) + 1;
    const char *rest = u + 1;
    bool binary = (tolower((unsigned char)*rest) == 'i');
    if (binary)
        rest++;
    if (strcasecmp(rest, "b") != 0 && strcasecmp(rest, "o") != 0)
        return -1;
    long long base = binary ? 1024 : 1000, f = 1;
    for (int i = 0; i < power; i++) {
        if (f > (1LL << 62) / base)
            return -1;
        f *= base;
    }
    return f;
}

int lv_config_parse_size(const char *s, long long *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return LV_ERR_INVAL;
    while (*end == ' ')
        end++;
    long long f = unit_factor(end);
    if (f < 0 || v * (double)f > 9e18)
        return LV_ERR_INVAL;
    *out = (long long)(v * (double)f);
    return 0;
}

static int check_enum(const struct lv_opt *o, const char *v)
{
    size_t n = strlen(v);
    const char *p = o->choices;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncasecmp(p, v, n) == 0)
            return 0;
        p = bar ? bar + 1 : NULL;
    }
    return LV_ERR_INVAL;
}

/* Checks a value against its option's type; on error, fills why. */
static int validate(const struct lv_opt *o, const char *v, char *why, size_t whylen)
{
    long long n;
    bool b;
    switch (o->type) {
    case LV_OPT_STRING:
    case LV_OPT_PATH:
        return 0;
    case LV_OPT_BOOL:
        if (lv_config_parse_bool(v, &b) == 0)
            return 0;
        snprintf(why, whylen, "expected a boolean (true/false, yes/no, on/off, 1/0)");
        return LV_ERR_INVAL;
    case LV_OPT_ENUM:
        if (check_enum(o, v) == 0)
            return 0;
        snprintf(why, whylen, "expected one of %s", o->choices);
        return LV_ERR_INVAL;
    case LV_OPT_INT:
    case LV_OPT_SIZE:
        if ((o->type == LV_OPT_INT ? parse_int(v, &n) : lv_config_parse_size(v, &n)) != 0) {
            snprintf(why, whylen, "expected %s",
                     o->type == LV_OPT_INT ? "an integer" : "a size such as 512 KiB");
            return LV_ERR_INVAL;
        }
        if (n < o->min || n > o->max) {
            snprintf(why, whylen, "%lld is out of range [%lld, %lld]", n, o->min, o->max);
            return LV_ERR_INVAL;
        }
        return 0;
    }
    return LV_ERR_INVAL;
}

static const char *env_or(const char *name, const char *home_rel, struct lv_buf *tmp)
{
    const char *v = getenv(name);
    if (v && *v)
        return v;
    const char *home = getenv("HOME");
    lv_buf_reset(tmp);
    if (strcmp(name, "XDG_RUNTIME_DIR") == 0 && !home_rel) {
        lv_buf_addf(tmp, "/tmp/libervia-%u", (unsigned)getuid());
        return tmp->data;
    }
    lv_buf_addf(tmp, "%s/%s", home ? home : "/", home_rel);
    return tmp->data;
}

/* Expands @XDG_*@ tokens, %(key)s references to [DEFAULT] keys and, for
 * paths, a leading "~". */
static char *expand(const struct lv_config *cfg, const struct lv_opt *o, const char *v)
{
    struct lv_buf out = LV_BUF_INIT, tmp = LV_BUF_INIT;
    if (o->type == LV_OPT_PATH && v[0] == '~' && (v[1] == '/' || v[1] == '\0')) {
        const char *home = getenv("HOME");
        lv_buf_adds(&out, home ? home : "");
        v++;
    }
    while (*v) {
        const char *end;
        if (strncmp(v, "@XDG_DATA_HOME@", 15) == 0) {
            lv_buf_adds(&out, env_or("XDG_DATA_HOME", ".local/share", &tmp));
            v += 15;
        } else if (strncmp(v, "@XDG_RUNTIME_DIR@", 17) == 0) {
            lv_buf_adds(&out, env_or("XDG_RUNTIME_DIR", NULL, &tmp));
            v += 17;
        } else if (strncmp(v, "%(", 2) == 0 && (end = strstr(v, ")s")) != NULL) {
            char *key = lv_xstrndup(v + 2, (size_t)(end - v - 2));
            int i = find_opt("DEFAULT", key);
            lv_buf_adds(&out, i >= 0 && cfg->values[i].value ? cfg->values[i].value : "");
            free(key);
            v = end + 2;
        } else {
            lv_buf_addc(&out, *v++);
        }
    }
    lv_buf_release(&tmp);
    return lv_buf_detach(&out);
}

static void store_value(struct lv_config *cfg, int i, const char *v, const char *origin)
{
    free(cfg->values[i].value);
    free(cfg->values[i].origin);
    cfg->values[i].value = expand(cfg, &options[i], v);
    cfg->values[i].origin = lv_xstrdup(origin);
}

struct lv_config *lv_config_new(void)
{
    struct lv_config *cfg = lv_xcalloc(1, sizeof(*cfg));
    cfg->values = lv_xcalloc(noptions(), sizeof(*cfg->values));
    /* [DEFAULT] first so that other defaults can refer to its keys. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < noptions(); i++)
            if ((strcmp(options[i].section, "DEFAULT") == 0) == (pass == 0))
                store_value(cfg, (int)i, options[i].def, "default");
    return cfg;
}

void lv_config_free(struct lv_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < noptions(); i++) {
        free(cfg->values[i].value);
        free(cfg->values[i].origin);
    }
    free(cfg->values);
    free(cfg);
}

/* Re-expands defaults that refer to [DEFAULT] keys after a file changed them. */
static void refresh_defaults(struct lv_config *cfg)
{
    for (size_t i = 0; i < noptions(); i++)
        if (strcmp(cfg->values[i].origin, "default") == 0 && strstr(options[i].def, "%("))
            store_value(cfg, (int)i, options[i].def, "default");
}

static int set_at(struct lv_config *cfg, const char *section, const char *key, const char *value,
                  const char *origin, struct lv_error *err)
{
    int i = find_opt(section, key);
    if (i < 0)
        return lv_error_set(err, LV_ERR_CONFIG, "%s: [%s] %s: unknown option", origin, section,
                            key);
    char why[160];
    if (validate(&options[i], value, why, sizeof(why)) != 0)
        return lv_error_set(err, LV_ERR_CONFIG, "%s: [%s] %s: invalid value \"%s\": %s", origin,
                            section, key, value, why);
    store_value(cfg, i, value, origin);
    return 0;
}

int lv_config_set(struct lv_config *cfg, const char *section, const char *key, const char *value,
                  struct lv_error *err)
{
    int rc = set_at(cfg, section, key, value, "command line", err);
    if (rc == 0)
        refresh_defaults(cfg);
    return rc;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *ctx = user;
    if (ctx->rc != 0)
        return 0;
    if (!known_section(section)) {
        lv_debug("config", "%s:%d: section [%s] is not for the backend, ignored", ctx->path,
                 ctx->line, section);
        return 1;
    }
    char origin[512];
    snprintf(origin, sizeof(origin), "%s:%d", ctx->path, ctx->line);
    ctx->rc = set_at(ctx->cfg, section, name, value, origin, ctx->err);
    return ctx->rc == 0;
}

/* inih's line reader, wrapped to count lines so errors can name them. */
static char *read_line(char *str, int num, void *stream)
{
    struct load_ctx *ctx = stream;
    char *r = fgets(str, num, ctx->fp);
    if (r)
        ctx->line++;
    return r;
}

int lv_config_load_file(struct lv_config *cfg, const char *path, struct lv_error *err)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return lv_error_set(err, LV_ERR_NOT_FOUND, "cannot open configuration file %s: %s", path,
                            strerror(errno));
    struct load_ctx ctx = {cfg, path, fp, 0, err, 0};
    int r = ini_parse_stream(read_line, &ctx, on_entry, &ctx);
    fclose(fp);
    if (ctx.rc != 0)
        return ctx.rc;
    if (r != 0)
        return lv_error_set(err, LV_ERR_CONFIG, "%s:%d: syntax error (expected [section] or "
                            "key = value)", path, r);
    refresh_defaults(cfg);
    lv_debug("config", "loaded %s", path);
    return 0;
}

int lv_config_load_default(struct lv_config *cfg, const char *explicit_path, struct lv_error *err)
{
    if (explicit_path)
        return lv_config_load_file(cfg, explicit_path, err);
    struct lv_buf xdg = LV_BUF_INIT;
    const char *xdg_home = getenv("XDG_CONFIG_HOME");
    if (xdg_home && *xdg_home)
        lv_buf_addf(&xdg, "%s/libervia/libervia.conf", xdg_home);
    else
        lv_buf_addf(&xdg, "%s/.config/libervia/libervia.conf", getenv("HOME") ? getenv("HOME") : "");
    const char *paths[] = {"/etc/libervia.conf", "/etc/libervia/libervia.conf", xdg.data};
    int rc = 0;
    for (size_t i = 0; i < LV_ARRAY_LEN(paths) && rc == 0; i++) {
        rc = lv_config_load_file(cfg, paths[i], err);
        if (rc == LV_ERR_NOT_FOUND) {
            lv_error_clear(err);
            rc = 0;
        }
    }
    lv_buf_release(&xdg);
    return rc;
}

const char *lv_config_str(const struct lv_config *cfg, const char *section, const char *key)
{
    return cfg->values[must_find(section, key)].value;
}

long long lv_config_int(const struct lv_config *cfg, const char *section, const char *key)
{
    int i = must_find(section, key);
    long long v = 0;
    if (options[i].type == LV_OPT_SIZE)
        lv_config_parse_size(cfg->values[i].value, &v);
    else
        parse_int(cfg->values[i].value, &v);
    return v;
}

bool lv_config_bool(const struct lv_config *cfg, const char *section, const char *key)
{
    bool b = false;
    lv_config_parse_bool(cfg->values[must_find(section, key)].value, &b);
    return b;
}

const char *lv_config_origin(const struct lv_config *cfg, const char *section, const char *key)
{
    return cfg->values[must_find(section, key)].origin;
}

static const char *type_name(const struct lv_opt *o)
{
    static const char *const names[] = {"string", "path", "integer", "boolean", "choice",
                                        "size"};
    return names[o->type];
}

void lv_config_write_doc(FILE *out)
{
    fputs("# libervia.conf reference\n\n"
          "Generated from the option table in `src/core/lv_config.c` by\n"
          "`libervia-backend config-doc`: do not edit by hand.\n\n"
          "The file is INI, as the reference Libervia's: `[section]` headers, `key = value`\n"
          "lines, keys case-insensitive, `%(key)s` refers to a `[DEFAULT]` key and a path may\n"
          "start with `~`. Files read, lowest priority first: `/etc/libervia.conf`,\n"
          "`/etc/libervia/libervia.conf`, `$XDG_CONFIG_HOME/libervia/libervia.conf`; with\n"
          "`-c FILE`, only that file. In a section listed here an unknown key or a bad value\n"
          "stops the program with the file, line and key; other sections (those of the\n"
          "frontends) are ignored.\n",
          out);
    const char *section = "";
    for (size_t i = 0; i < noptions(); i++) {
        const struct lv_opt *o = &options[i];
        if (strcmp(o->section, section) != 0) {
            section = o->section;
            fprintf(out, "\n## [%s]\n", section);
        }
        fprintf(out, "\n### `%s`\n\n%s\n\n- type: %s", o->key, o->help, type_name(o));
        if (o->type == LV_OPT_ENUM)
            fprintf(out, " (`%s`)", o->choices);
        if (o->type == LV_OPT_INT || o->type == LV_OPT_SIZE)
            fprintf(out, ", from %lld to %lld", o->min, o->max);
        fprintf(out, "\n- default: `%s`\n", o->def);
    }
}
