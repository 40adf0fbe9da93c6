#include "lv_config.h"
#include "lv_buf.h"
#include "lv_log.h"
#include "lv_mem.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
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
    {"DEFAULT", "pubsub_cache_strategy", LV_OPT_ENUM, "cache", 0, 0, "cache|no_cache",
     "`no_cache` turns the pubsub cache off: every read goes to the pubsub service "
     "(reference key)."},
    {"cache", "sync_max_items", LV_OPT_INT, "5000", 1, 1000000, NULL,
     "Most items of one node that the cache fetches when it syncs the node."},
    {"cache", "page_size", LV_OPT_INT, "100", 1, 1000, NULL,
     "Items asked per request (RSM page) while syncing."},
    {"cache", "retry_delay", LV_OPT_INT, "300", 1, 604800, NULL,
     "Seconds before a failed sync is tried again."},
    {"cache", "max_items", LV_OPT_INT, "100000", 0, 1000000000, NULL,
     "Most items the pubsub cache keeps, all nodes and profiles together (0: no bound). "
     "Over it, the oldest items (by date) are deleted; a node that loses items this way "
     "stays synced but is shown as trimmed, and reads that need its older items go to the "
     "pubsub service."},
    {"component ap-gateway", "public_url", LV_OPT_STRING, "%(xmpp_domain)s", 0, 0, NULL,
     "Public host (and port, if not 443) of the gateway's HTTPS URLs, without scheme (empty: the "
     "XMPP server's domain): "
     "actor ids are `https://{public_url}/{ap_path}/actor/...` (reference key; the "
     "reverse proxy serves this host)."},
    {"component ap-gateway", "http_port", LV_OPT_INT, "8123", 0, 65535, NULL,
     "TCP port of the gateway's HTTP listener, which the reverse proxy forwards to "
     "(reference key; 0 picks a free port, shown by `li ap status`)."},
    {"component ap-gateway", "http_address", LV_OPT_STRING, "127.0.0.1", 0, 0, NULL,
     "Address the HTTP listener binds to (an IPv4 or IPv6 literal)."},
    {"component ap-gateway", "http_connection_type", LV_OPT_ENUM, "http", 0, 0, "http|https",
     "Reference key. Only `http` is served: TLS is the reverse proxy's job; `https` "
     "is refused at start with an explanation."},
    {"component ap-gateway", "ap_path", LV_OPT_STRING, "_ap", 0, 0, NULL,
     "Path prefix of the gateway's URLs (reference key)."},
    {"component ap-gateway", "local_only", LV_OPT_BOOL, "true", 0, 0, NULL,
     "Only XMPP accounts of this server (and its subdomains) get an ActivityPub actor "
     "(reference key)."},
    {"component ap-gateway", "auto_mentions", LV_OPT_BOOL, "true", 0, 0, NULL,
     "Turn `@user@host` written in public XMPP posts into ActivityPub mentions: the "
     "account is looked up and the post is also sent to it (reference key)."},
    {"component ap-gateway", "html_redirect_dict", LV_OPT_STRING, "{}", 0, 0, NULL,
     "JSON object mapping a URL type (`actor`, `item`, `outbox`, ...) to a URL "
     "template (`{jid}`, `{jid_user}`, `{node}`, `{item}`) or to "
     "`{\"url\": template}`: a browser (an Accept without ActivityPub types) is "
     "redirected there; without an entry it gets a small HTML page (reference key)."},
    {"component ap-gateway", "comments_max_depth", LV_OPT_INT, "0", 0, 1000, NULL,
     "Reference key, accepted for compatibility; replies are not threaded into comments "
     "nodes by this version."},
    {"component ap-gateway", "new_node_max_items", LV_OPT_INT, "50", 0, 1000000, NULL,
     "Reference key, accepted for compatibility (the reference reads it and never uses "
     "it)."},
    {"component ap-gateway", "trust_proxy", LV_OPT_BOOL, "false", 0, 0, NULL,
     "Take the host, scheme and client address from X-Forwarded-Host/-Proto/-For (or "
     "Forwarded). Set it only when the listener is reachable by the proxy alone."},
    {"component ap-gateway", "allow_private_networks", LV_OPT_BOOL, "false", 0, 0, NULL,
     "Allow fetching and delivering to loopback and private addresses (tests, LAN "
     "deployments). Off, such peers are refused (protection against SSRF)."},
    {"component ap-gateway", "allowed_ranges", LV_OPT_STRING, "", 0, 0, NULL,
     "Comma-separated CIDR ranges reachable even when `allow_private_networks` is off."},
    {"component ap-gateway", "ca_file", LV_OPT_PATH, "", 0, 0, NULL,
     "PEM file of extra certificate authorities trusted for HTTPS to peers (in "
     "addition to the system's store)."},
    {"component ap-gateway", "max_body", LV_OPT_SIZE, "1 MiB", 1 * KIB, 64 * MIB, NULL,
     "Largest request body accepted by the inboxes (413 beyond)."},
    {"component ap-gateway", "max_recipients", LV_OPT_INT, "1000", 1, 100000, NULL,
     "Most recipients (to, cc, bto, bcc, audience) of one incoming activity."},
    {"component ap-gateway", "signature_window", LV_OPT_INT, "3600", 30, 86400, NULL,
     "Seconds of clock skew or age accepted on an incoming signature's date."},
    {"component ap-gateway", "actors_cache_size", LV_OPT_INT, "10000", 16, 10000000, NULL,
     "Remote actors (with their public keys) kept in memory; the others are read back "
     "from the database when needed."},
    {"component ap-gateway", "delivery_parallel", LV_OPT_INT, "16", 1, 1024, NULL,
     "Outgoing deliveries in flight at once."},
    {"component ap-gateway", "delivery_retry_min", LV_OPT_INT, "60", 1, 86400, NULL,
     "Seconds before the first retry of a failed delivery; the delay doubles at each "
     "failure."},
    {"component ap-gateway", "delivery_retry_max", LV_OPT_INT, "21600", 1, 604800, NULL,
     "Upper bound of the delay between two attempts of a delivery, in seconds."},
    {"component ap-gateway", "delivery_give_up", LV_OPT_INT, "172800", 60, 2592000, NULL,
     "Seconds after which an undelivered activity is given up (state failed)."},
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
    char *raw;    /* as written (or the default), before interpolation */
    char *origin; /* "FILE:LINE", "command line" or "default" */
    char *value;  /* expanded and validated; never NULL after a successful resolve */
};

struct lv_config {
    struct value *values; /* parallel to options[] */
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
    if (errno || end == s || !(v >= 0)) /* also refuses NaN */
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

static void home_dir(struct lv_buf *out)
{
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw && pw->pw_dir ? pw->pw_dir : "/";
    }
    lv_buf_adds(out, home);
}

static void xdg_dir(struct lv_buf *out, const char *var, const char *home_rel)
{
    const char *v = getenv(var);
    if (v && *v)
        lv_buf_adds(out, v);
    else if (home_rel) {
        home_dir(out);
        lv_buf_addf(out, "/%s", home_rel);
    } else /* no XDG_RUNTIME_DIR: a private directory per user */
        lv_buf_addf(out, "/tmp/libervia-%u", (unsigned)getuid());
}

#define MAX_INTERPOLATION_DEPTH 10

static int expand_into(const struct lv_config *cfg, const char *v, struct lv_buf *out, int depth,
                       char *why, size_t whylen);

/* %(key)s: the [DEFAULT] key's value, itself expanded (as ConfigParser's
 * BasicInterpolation, at read time, so the latest value of the key counts). */
static int expand_ref(const struct lv_config *cfg, const char *key, struct lv_buf *out, int depth,
                      char *why, size_t whylen)
{
    int i = find_opt("DEFAULT", key);
    if (i < 0) {
        snprintf(why, whylen, "%%(%s)s refers to no [DEFAULT] option", key);
        return LV_ERR_INVAL;
    }
    if (depth >= MAX_INTERPOLATION_DEPTH) {
        snprintf(why, whylen, "interpolation of %%(%s)s is too deep (a loop?)", key);
        return LV_ERR_INVAL;
    }
    return expand_into(cfg, cfg->values[i].raw, out, depth + 1, why, whylen);
}

static int expand_into(const struct lv_config *cfg, const char *v, struct lv_buf *out, int depth,
                       char *why, size_t whylen)
{
    while (*v) {
        const char *end;
        if (strncmp(v, "%%", 2) == 0) {
            lv_buf_addc(out, '%');
            v += 2;
        } else if (strncmp(v, "%(", 2) == 0 && (end = strstr(v, ")s")) != NULL) {
            char *key = lv_xstrndup(v + 2, (size_t)(end - v - 2));
            int rc = expand_ref(cfg, key, out, depth, why, whylen);
            free(key);
            if (rc != 0)
                return rc;
            v = end + 2;
        } else if (*v == '%') {
            snprintf(why, whylen, "'%%' must be written '%%%%' or start %%(key)s");
            return LV_ERR_INVAL;
        } else if (strncmp(v, "@XDG_DATA_HOME@", 15) == 0) {
            xdg_dir(out, "XDG_DATA_HOME", ".local/share");
            v += 15;
        } else if (strncmp(v, "@XDG_RUNTIME_DIR@", 17) == 0) {
            xdg_dir(out, "XDG_RUNTIME_DIR", NULL);
            v += 17;
        } else {
            lv_buf_addc(out, *v++);
        }
    }
    return 0;
}

/* Expands and validates one option's raw value into its cached value. */
static int resolve_one(struct lv_config *cfg, size_t i, struct lv_error *err)
{
    const struct lv_opt *o = &options[i];
    struct value *val = &cfg->values[i];
    struct lv_buf out = LV_BUF_INIT;
    char why[200];
    int rc = expand_into(cfg, val->raw, &out, 0, why, sizeof(why));
    lv_buf_addc(&out, '\0');
    out.len--;
    /* "~" after interpolation, as the reference's expanduser on paths. */
    if (rc == 0 && o->type == LV_OPT_PATH && out.data[0] == '~' &&
        (out.data[1] == '/' || out.data[1] == '\0')) {
        struct lv_buf home = LV_BUF_INIT;
        home_dir(&home);
        lv_buf_add(&home, out.data + 1, out.len - 1);
        lv_buf_release(&out);
        out = home;
    }
    if (rc == 0)
        rc = validate(o, out.data, why, sizeof(why));
    if (rc != 0) {
        lv_buf_release(&out);
        return lv_error_set(err, LV_ERR_CONFIG, "%s: [%s] %s: invalid value \"%s\": %s",
                            val->origin, o->section, o->key, val->raw, why);
    }
    free(val->value);
    val->value = lv_buf_detach(&out);
    return 0;
}

/* Recomputes every value: any option may refer to a [DEFAULT] key that just
 * changed. */
static int resolve(struct lv_config *cfg, struct lv_error *err)
{
    for (size_t i = 0; i < noptions(); i++) {
        int rc = resolve_one(cfg, i, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Raw values and origins, to undo a load or set that turned out invalid:
 * a bad file or value changes nothing. */
struct snapshot {
    char **raw, **origin;
};

static struct snapshot take_snapshot(const struct lv_config *cfg)
{
    struct snapshot sn = {lv_xcalloc(noptions(), sizeof(char *)),
                          lv_xcalloc(noptions(), sizeof(char *))};
    for (size_t i = 0; i < noptions(); i++) {
        sn.raw[i] = lv_xstrdup(cfg->values[i].raw);
        sn.origin[i] = lv_xstrdup(cfg->values[i].origin);
    }
    return sn;
}

/* Puts the snapshot back (restore) or just drops it; frees it either way. */
static void end_snapshot(struct lv_config *cfg, struct snapshot *sn, bool restore)
{
    for (size_t i = 0; i < noptions(); i++) {
        if (restore) {
            free(cfg->values[i].raw);
            free(cfg->values[i].origin);
            cfg->values[i].raw = sn->raw[i];
            cfg->values[i].origin = sn->origin[i];
        } else {
            free(sn->raw[i]);
            free(sn->origin[i]);
        }
    }
    free(sn->raw);
    free(sn->origin);
    if (restore)
        resolve(cfg, NULL); /* the previous values were valid */
}

static void store_raw(struct lv_config *cfg, int i, const char *raw, const char *origin)
{
    free(cfg->values[i].raw);
    free(cfg->values[i].origin);
    cfg->values[i].raw = lv_xstrdup(raw);
    cfg->values[i].origin = lv_xstrdup(origin);
}

struct lv_config *lv_config_new(void)
{
    struct lv_config *cfg = lv_xcalloc(1, sizeof(*cfg));
    cfg->values = lv_xcalloc(noptions(), sizeof(*cfg->values));
    for (size_t i = 0; i < noptions(); i++)
        store_raw(cfg, (int)i, options[i].def, "default");
    struct lv_error err;
    if (resolve(cfg, &err) != 0) { /* the table's own defaults are wrong: a bug */
        fprintf(stderr, "libervia: %s\n", err.msg);
        abort();
    }
    return cfg;
}

void lv_config_free(struct lv_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < noptions(); i++) {
        free(cfg->values[i].raw);
        free(cfg->values[i].value);
        free(cfg->values[i].origin);
    }
    free(cfg->values);
    free(cfg);
}

static int set_raw(struct lv_config *cfg, const char *section, const char *key, const char *value,
                   const char *origin, struct lv_error *err)
{
    int i = find_opt(section, key);
    if (i < 0)
        return lv_error_set(err, LV_ERR_CONFIG, "%s: [%s] %s: unknown option", origin, section,
                            key);
    store_raw(cfg, i, value, origin);
    return 0;
}

int lv_config_set(struct lv_config *cfg, const char *section, const char *key, const char *value,
                  struct lv_error *err)
{
    struct snapshot sn = take_snapshot(cfg);
    int rc = set_raw(cfg, section, key, value, "command line", err);
    if (rc == 0)
        rc = resolve(cfg, err);
    end_snapshot(cfg, &sn, rc != 0);
    return rc;
}

/* ---- the INI reader, as Python's ConfigParser reads libervia.conf ----
 * "[section]" lines; "key = value" or "key: value"; lines starting with # or
 * ; are comments (no inline comments); an indented line continues the
 * previous value (joined with "\n"); no limit on line length. */

#define MAX_CONFIG_FILE (1024 * 1024)

struct ini {
    struct lv_config *cfg;
    const char *path;
    struct lv_error *err;
    char *section;
    int key_line; /* line of the pending key, 0 if none */
    char *key;
    struct lv_buf value;
};

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int ini_error(struct ini *p, int line, const char *what)
{
    return lv_error_set(p->err, LV_ERR_CONFIG, "%s:%d: %s", p->path, line, what);
}

/* Hands the pending key/value to the configuration. */
static int flush_key(struct ini *p)
{
    if (!p->key_line)
        return 0;
    int rc = 0;
    char origin[600];
    snprintf(origin, sizeof(origin), "%s:%d", p->path, p->key_line);
    if (!known_section(p->section))
        lv_debug("config", "%s: section [%s] is not for the backend, ignored", origin, p->section);
    else
        rc =
            set_raw(p->cfg, p->section, p->key, p->value.data ? p->value.data : "", origin, p->err);
    free(p->key);
    p->key = NULL;
    p->key_line = 0;
    lv_buf_reset(&p->value);
    return rc;
}

static int ini_line(struct ini *p, char *line, int lineno)
{
    bool indented = (line[0] == ' ' || line[0] == '\t');
    char *t = trim(line);
    if (*t == '\0' || *t == '#' || *t == ';')
        return *t ? 0 : flush_key(p); /* a blank line ends a value */
    if (indented && p->key_line) {
        lv_buf_addc(&p->value, '\n');
        lv_buf_adds(&p->value, t);
        return 0;
    }
    int rc = flush_key(p);
    if (rc != 0)
        return rc;
    if (*t == '[') {
        char *close = strchr(t, ']');
        if (!close || close[1] != '\0')
            return ini_error(p, lineno, "syntax error: a section header is \"[name]\"");
        *close = '\0';
        free(p->section);
        p->section = lv_xstrdup(t + 1);
        return 0;
    }
    char *delim = strpbrk(t, "=:");
    if (!delim)
        return ini_error(p, lineno, "syntax error (expected [section] or key = value)");
    if (!p->section)
        return ini_error(p, lineno, "key outside of any [section]");
    *delim = '\0';
    p->key = lv_xstrdup(trim(t));
    p->key_line = lineno;
    lv_buf_adds(&p->value, trim(delim + 1));
    return 0;
}

static int parse_ini(struct ini *p, char *text)
{
    int lineno = 0, rc = 0;
    for (char *line = text; line && rc == 0;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        rc = ini_line(p, line, ++lineno);
        line = nl ? nl + 1 : NULL;
    }
    return rc ? rc : flush_key(p);
}

static int read_file(const char *path, struct lv_buf *out, struct lv_error *err)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return lv_error_set(err, errno == ENOENT ? LV_ERR_NOT_FOUND : LV_ERR_CONFIG,
                            "cannot open configuration file %s: %s", path, strerror(errno));
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && out->len <= MAX_CONFIG_FILE)
        lv_buf_add(out, chunk, n);
    bool bad = ferror(fp) != 0;
    fclose(fp);
    if (bad)
        return lv_error_set(err, LV_ERR_CONFIG, "cannot read configuration file %s", path);
    if (out->len > MAX_CONFIG_FILE)
        return lv_error_set(err, LV_ERR_CONFIG, "configuration file %s is larger than 1 MiB", path);
    if (memchr(out->data ? out->data : "", '\0', out->len))
        return lv_error_set(err, LV_ERR_CONFIG, "%s is not a text file", path);
    return 0;
}

int lv_config_load_file(struct lv_config *cfg, const char *path, struct lv_error *err)
{
    struct lv_buf text = LV_BUF_INIT;
    struct snapshot sn = take_snapshot(cfg);
    int rc = read_file(path, &text, err);
    if (rc == 0) {
        struct ini p = {cfg, path, err, NULL, 0, NULL, LV_BUF_INIT};
        char *copy = lv_buf_detach(&text);
        rc = parse_ini(&p, copy);
        free(copy);
        free(p.section);
        free(p.key);
        lv_buf_release(&p.value);
    }
    lv_buf_release(&text);
    if (rc == 0)
        rc = resolve(cfg, err);
    end_snapshot(cfg, &sn, rc != 0);
    if (rc == 0)
        lv_debug("config", "loaded %s", path);
    return rc;
}

int lv_config_load_default(struct lv_config *cfg, const char *explicit_path, struct lv_error *err)
{
    if (explicit_path)
        return lv_config_load_file(cfg, explicit_path, err);
    struct lv_buf xdg = LV_BUF_INIT;
    xdg_dir(&xdg, "XDG_CONFIG_HOME", ".config");
    lv_buf_adds(&xdg, "/libervia/libervia.conf");
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
    static const char *const names[] = {"string", "path", "integer", "boolean", "choice", "size"};
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
