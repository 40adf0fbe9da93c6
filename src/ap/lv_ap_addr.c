/* lv_ap_addr: addresses of the ActivityPub gateway (see lv_ap_addr.h). */
#include "ap/lv_ap_addr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/lv_buf.h"
#include "core/lv_mem.h"

static const char HEX_UPPER[] = "0123456789ABCDEF";
static const char HEX_LOWER[] = "0123456789abcdef";

/* ---- small byte helpers ---- */

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool ieq_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    return true;
}

static bool ieq(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && ieq_n(a, b, n);
}

static size_t count_byte(const char *s, size_t len, char c)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == c;
    return n;
}

static const char *find_last(const char *s, size_t len, const char *needle)
{
    size_t nlen = strlen(needle);
    if (len < nlen)
        return NULL;
    for (size_t i = len - nlen + 1; i-- > 0;)
        if (memcmp(s + i, needle, nlen) == 0)
            return s + i;
    return NULL;
}

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF), as
 * Python's decode(errors="strict") wants. NUL is refused too: our strings are
 * C strings. */
static bool valid_text(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static void add_pct(struct lv_buf *b, char mark, unsigned char c)
{
    char e[3] = {mark, HEX_UPPER[c >> 4], HEX_UPPER[c & 0xF]};
    lv_buf_add(b, e, 3);
}

/* Python's urllib.parse.quote_plus(s, safe=""): the always-safe bytes stay,
 * space becomes "+", the rest "%XX". */
static void quote_plus(struct lv_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alnum(c) || c == '_' || c == '.' || c == '-' || c == '~')
            lv_buf_addc(b, (char)c);
        else if (c == ' ')
            lv_buf_addc(b, '+');
        else
            add_pct(b, '%', c);
    }
}

/* unquote_plus, strict: a "%" must start a valid escape, and the result must
 * be text. */
static int form_decode(const char *s, size_t len, char **out, struct lv_error *err)
{
    struct lv_buf b = LV_BUF_INIT;
    *out = NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            lv_buf_addc(&b, ' ');
        } else if (c == '%') {
            int hi = i + 2 < len ? hex_val((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_val((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                lv_buf_release(&b);
                return lv_error_set(err, LV_ERR_INVAL, "invalid %%-escape");
            }
            lv_buf_addc(&b, (char)(hi << 4 | lo));
            i += 2;
        } else {
            lv_buf_addc(&b, (char)c);
        }
    }
    if (!valid_text(b.data ? b.data : "", b.len)) {
        lv_buf_release(&b);
        return lv_error_set(err, LV_ERR_INVAL, "decoded text is not valid UTF-8 or holds NUL");
    }
    *out = lv_buf_detach(&b);
    return 0;
}

/* ---- JIDs ---- */

bool lv_ap_is_local(const struct lv_ap_addr_cfg *cfg, const char *domain)
{
    size_t dlen, llen;
    if (!domain || !cfg->local_host || !*cfg->local_host)
        return false;
    dlen = strlen(domain);
    llen = strlen(cfg->local_host);
    if (dlen < llen || !ieq_n(domain + dlen - llen, cfg->local_host, llen))
        return false;
    return dlen == llen || domain[dlen - llen - 1] == '.';
}

bool lv_ap_is_virtual_jid(const struct lv_ap_addr_cfg *cfg, const struct lv_jid *jid)
{
    return jid && jid->domain && cfg->gateway_jid && ieq(jid->domain, cfg->gateway_jid);
}

static int escaped_jid(const struct lv_ap_addr_cfg *cfg, const char *account, size_t len,
                       struct lv_jid *out, struct lv_error *err)
{
    char *esc = lv_xep0106_escape(account, len);
    char *s = lv_xasprintf("%s@%s", esc, cfg->gateway_jid);
    int rc = lv_jid_parse_str(s, out, err);
    free(s);
    free(esc);
    if (rc == 0 && (!out->local || out->resource)) {
        lv_jid_release(out);
        rc = lv_error_set(err, LV_ERR_INVAL, "account does not make a virtual JID");
    }
    return rc;
}

int lv_ap_virtual_jid_from_account(const struct lv_ap_addr_cfg *cfg, const char *account,
                                   size_t len, struct lv_jid *out, struct lv_error *err)
{
    struct lv_jid again;
    char *back;
    int rc;
    memset(out, 0, sizeof(*out));
    if (len > LV_AP_ACCOUNT_MAX)
        return lv_error_set(err, LV_ERR_LIMIT, "account longer than %d bytes", LV_AP_ACCOUNT_MAX);
    if (len == 0 || !valid_text(account, len))
        return lv_error_set(err, LV_ERR_INVAL, "account is empty or not valid UTF-8");
    rc = escaped_jid(cfg, account, len, out, err);
    if (rc != 0)
        return rc;
    /* Normalisation can eat an escape: NFC composes the "e" of ">" -> "\3e"
     * with a following combining mark. Such a JID would map back to another
     * account, so refuse it. */
    back = lv_xep0106_unescape(out->local, strlen(out->local));
    rc = escaped_jid(cfg, back, strlen(back), &again, NULL);
    if (rc != 0 || !lv_jid_equal(out, &again)) {
        lv_jid_release(out);
        rc = lv_error_set(err, LV_ERR_INVAL, "account does not map to a stable virtual JID");
    }
    lv_jid_release(&again);
    free(back);
    return rc;
}

int lv_ap_account_from_virtual_jid(const struct lv_ap_addr_cfg *cfg, const struct lv_jid *jid,
                                   char **account, struct lv_error *err)
{
    *account = NULL;
    if (!lv_ap_is_virtual_jid(cfg, jid) || !jid->local)
        return lv_error_set(err, LV_ERR_INVAL, "not a virtual JID of the gateway");
    *account = lv_xep0106_unescape(jid->local, strlen(jid->local));
    return 0;
}

/* ---- period encoding ---- */

bool lv_ap_must_encode(const char *text, size_t len)
{
    if (len == 0)
        return true;
    if (len >= 3 && memcmp(text, "___", 3) == 0)
        return true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!is_alnum(c) && c != '_' && c != '-')
            return true;
        if (c == '-' && i + 2 < len && text[i + 1] == '-' && text[i + 2] == '-')
            return true;
    }
    return false;
}

/* The reference quotes, then replaces "---", "___", ".", "~" and finally
 * "%" by ".". "-" and "_" only ever come from themselves in the quoted text,
 * so its left-to-right replacement of triples equals this scan over runs. */
static void period_encode(struct lv_buf *b, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c == '-' || c == '_') && i + 2 < len && text[i + 1] == (char)c &&
            text[i + 2] == (char)c) {
            lv_buf_adds(b, c == '-' ? ".2d.2d.2d" : ".5f.5f.5f");
            i += 2;
        } else if (is_alnum(c) || c == '-' || c == '_') {
            lv_buf_addc(b, (char)c);
        } else if (c == '.') {
            lv_buf_adds(b, ".2e");
        } else if (c == '~') {
            lv_buf_adds(b, ".7e");
        } else {
            add_pct(b, '.', c);
        }
    }
}

char *lv_ap_period_encode(const char *text, size_t len)
{
    struct lv_buf b = LV_BUF_INIT;
    period_encode(&b, text, len);
    return lv_buf_detach(&b);
}

int lv_ap_period_decode(const char *text, size_t len, char **out, struct lv_error *err)
{
    struct lv_buf b = LV_BUF_INIT;
    *out = NULL;
    /* One pass equals the reference's ".HH" -> "%HH" substitution followed by
     * unquote(): neither can create an escape for the other. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c == '.' || c == '%') && i + 2 < len && hex_val((unsigned char)text[i + 1]) >= 0 &&
            hex_val((unsigned char)text[i + 2]) >= 0) {
            lv_buf_addc(&b, (char)(hex_val((unsigned char)text[i + 1]) << 4 |
                                   hex_val((unsigned char)text[i + 2])));
            i += 2;
        } else {
            lv_buf_addc(&b, (char)c);
        }
    }
    if (!valid_text(b.data ? b.data : "", b.len)) {
        lv_buf_release(&b);
        return lv_error_set(err, LV_ERR_INVAL,
                            "period-decoded text is not valid UTF-8 or holds NUL");
    }
    *out = lv_buf_detach(&b);
    return 0;
}

/* ---- (JID, node) -> account ---- */

static int ask_pubsub(const struct lv_ap_addr_cfg *cfg, const char *domain, struct lv_error *err)
{
    int rc;
    if (!cfg->is_pubsub)
        return 0;
    rc = cfg->is_pubsub(cfg->is_pubsub_ud, domain);
    if (rc < 0)
        return lv_error_set(err, rc, "is %s a pubsub service? %s", domain, lv_err_str(rc));
    return rc > 0;
}

/* The user part of the handle for jid (before encoding), possibly taking the
 * node as the user of a pubsub service (then *node becomes NULL). *force
 * tells that encoding is needed whatever lv_ap_must_encode() says. */
static int pick_user(const struct lv_ap_addr_cfg *cfg, const struct lv_jid *jid, const char **node,
                     bool is_local, char **user, bool *force, struct lv_error *err)
{
    const char *local = jid->local && *jid->local ? jid->local : NULL;
    *user = NULL;
    *force = false;
    if (!local && *node && !lv_ap_must_encode(*node, strlen(*node))) {
        int rc = ask_pubsub(cfg, jid->domain, err);
        if (rc < 0)
            return rc;
        if (rc) {
            local = *node;
            *node = NULL;
        }
    }
    if (!local) {
        /* Deviation: "@domain" decodes (in the reference too) to the bare
         * domain; the reference raises here or names <domain>@<gateway>. */
        *user = lv_xasprintf("@%s", jid->domain);
        *force = true;
    } else if (is_local) {
        *user = lv_xstrdup(local);
    } else {
        *user = lv_xasprintf("%s@%s", local, jid->domain);
    }
    /* Deviation: "node" + "---" + "-user" would split as "node-" / "user". */
    if (*node && (*user)[0] == '-')
        *force = true;
    return 0;
}

/* "[___][<node>---]<user>" */
static void write_handle(struct lv_buf *b, const char *node, const char *user, bool encode)
{
    if (!encode) {
        if (node)
            lv_buf_addf(b, "%s---", node);
        lv_buf_adds(b, user);
        return;
    }
    lv_buf_adds(b, "___");
    if (node) {
        period_encode(b, node, strlen(node));
        lv_buf_adds(b, "---");
    }
    if (node && user[0] == '-' && strncmp(user, "---", 3) != 0) {
        lv_buf_adds(b, ".2d");
        user++;
    }
    period_encode(b, user, strlen(user));
}

int lv_ap_account_from_jid(const struct lv_ap_addr_cfg *cfg, const struct lv_jid *jid,
                           const char *node, char **account, struct lv_error *err)
{
    struct lv_buf b = LV_BUF_INIT;
    char *user;
    bool is_local, force;
    int rc;

    *account = NULL;
    if (!jid || !jid->domain)
        return lv_error_set(err, LV_ERR_INVAL, "JID without domain");
    if (node && (!*node || strcmp(node, LV_AP_NS_MICROBLOG) == 0))
        node = NULL;
    if (lv_ap_is_virtual_jid(cfg, jid))
        return lv_ap_account_from_virtual_jid(cfg, jid, account, err);
    if (node && !valid_text(node, strlen(node)))
        return lv_error_set(err, LV_ERR_INVAL, "node is not valid UTF-8");

    is_local = lv_ap_is_local(cfg, jid->domain);
    rc = pick_user(cfg, jid, &node, is_local, &user, &force, err);
    if (rc != 0)
        return rc;
    write_handle(&b, node, user,
                 force || (node && lv_ap_must_encode(node, strlen(node))) ||
                     lv_ap_must_encode(user, strlen(user)));
    lv_buf_addf(&b, "@%s", is_local ? jid->domain : cfg->gateway_jid);
    free(user);
    if (b.len > LV_AP_ACCOUNT_MAX) {
        lv_buf_release(&b);
        return lv_error_set(err, LV_ERR_LIMIT, "account longer than %d bytes", LV_AP_ACCOUNT_MAX);
    }
    *account = lv_buf_detach(&b);
    return 0;
}

/* ---- account -> (JID, node) ---- */

/* The pieces of a handle, decoded: user and domain before JID checks. */
struct handle {
    char *node; /* NULL if none (or empty) */
    char *user; /* may be "" after "@domain" decoding */
    char *domain;
};

static void handle_release(struct handle *h)
{
    free(h->node);
    free(h->user);
    free(h->domain);
    memset(h, 0, sizeof(*h));
}

static int take_part(const char *s, size_t len, bool encoded, char **out, struct lv_error *err)
{
    if (encoded)
        return lv_ap_period_decode(s, len, out, err);
    *out = lv_xstrndup(s, len);
    return 0;
}

/* Splits and decodes account[0..len) (already checked: text, one "@"). */
static int split_handle(const char *account, size_t len, struct handle *h, struct lv_error *err)
{
    const char *p = account, *end = account + len, *at, *sep;
    bool encoded = len >= 3 && memcmp(account, "___", 3) == 0;
    int rc;

    if (encoded)
        p += 3;
    at = memchr(p, '@', (size_t)(end - p));
    sep = find_last(p, (size_t)(at - p), "---");
    const char *user = sep ? sep + 3 : p;
    if (user == at)
        return lv_error_set(err, LV_ERR_INVAL, "account without user part");
    if (sep && sep > p) {
        rc = take_part(p, (size_t)(sep - p), encoded, &h->node, err);
        if (rc != 0)
            return rc;
    }
    rc = take_part(user, (size_t)(at - user), encoded, &h->user, err);
    if (rc != 0)
        return rc;
    char *uat = strrchr(h->user, '@');
    if (uat) {
        h->domain = lv_xstrdup(uat + 1);
        *uat = '\0';
    } else {
        h->domain = lv_xstrndup(at + 1, (size_t)(end - at - 1));
    }
    /* Deviation: the reference would read a "/" as the start of a resource.
     * The user part is checked in make_jid(): as a pubsub node it may hold
     * anything. */
    if (strchr(h->domain, '/'))
        return lv_error_set(err, LV_ERR_INVAL, "account domain holds a \"/\"");
    return 0;
}

static int make_jid(const struct handle *h, const struct lv_jid *dom, struct lv_jid *out,
                    struct lv_error *err)
{
    char *s;
    int rc;
    if (!h->user || !*h->user) {
        lv_jid_copy(out, dom);
        return 0;
    }
    if (strpbrk(h->user, "@/"))
        return lv_error_set(err, LV_ERR_INVAL, "account user part holds a \"/\" or \"@\"");
    s = lv_xasprintf("%s@%s", h->user, dom->domain);
    rc = lv_jid_parse_str(s, out, err);
    free(s);
    if (rc == 0 && (!out->local || out->resource)) {
        lv_jid_release(out);
        rc = lv_error_set(err, LV_ERR_INVAL, "account does not map to a bare JID");
    }
    return rc;
}

static int resolve_handle(const struct lv_ap_addr_cfg *cfg, struct handle *h, struct lv_jid *jid,
                          struct lv_error *err)
{
    struct lv_jid dom;
    int rc = lv_jid_parse_str(h->domain, &dom, err);
    if (rc != 0)
        return rc;
    if (dom.local || dom.resource) {
        lv_jid_release(&dom);
        return lv_error_set(err, LV_ERR_INVAL, "invalid domain in account");
    }
    /* Locality depends only on the domain, so refusing first spares a disco
     * query to a foreign domain the answer would not change. */
    if (cfg->local_only && !lv_ap_is_local(cfg, dom.domain)) {
        lv_jid_release(&dom);
        return lv_error_set(err, LV_ERR_PERM,
                            "This gateway is configured to map only local entities and services");
    }
    if (!h->node) {
        rc = ask_pubsub(cfg, dom.domain, err);
        if (rc < 0) {
            lv_jid_release(&dom);
            return rc;
        }
        if (rc) {
            /* The user part names a node of the service. */
            if (*h->user)
                h->node = h->user;
            else
                free(h->user);
            h->user = NULL;
        }
    }
    rc = make_jid(h, &dom, jid, err);
    lv_jid_release(&dom);
    return rc;
}

int lv_ap_jid_from_account(const struct lv_ap_addr_cfg *cfg, const char *account, size_t len,
                           struct lv_jid *jid, char **node, struct lv_error *err)
{
    struct handle h = {0};
    int rc;

    memset(jid, 0, sizeof(*jid));
    *node = NULL;
    if (len > LV_AP_ACCOUNT_MAX)
        return lv_error_set(err, LV_ERR_LIMIT, "account longer than %d bytes", LV_AP_ACCOUNT_MAX);
    if (!valid_text(account, len))
        return lv_error_set(err, LV_ERR_INVAL, "account is not valid UTF-8");
    if (count_byte(account, len, '@') != 1)
        return lv_error_set(err, LV_ERR_INVAL, "invalid AP account: needs exactly one \"@\"");
    rc = split_handle(account, len, &h, err);
    if (rc == 0)
        rc = resolve_handle(cfg, &h, jid, err);
    if (rc == 0) {
        *node = h.node;
        h.node = NULL;
    }
    handle_release(&h);
    return rc;
}

/* ---- URLs ---- */

static const struct {
    const char *name;
    size_t nargs;
} url_types[] = {
    [LV_AP_URL_ACTOR] = {"actor", 1},         [LV_AP_URL_INBOX] = {"inbox", 1},
    [LV_AP_URL_OUTBOX] = {"outbox", 1},       [LV_AP_URL_FOLLOWERS] = {"followers", 1},
    [LV_AP_URL_FOLLOWING] = {"following", 1}, [LV_AP_URL_SHARED_INBOX] = {"shared_inbox", 0},
    [LV_AP_URL_ITEM] = {"item", 2},           [LV_AP_URL_AVATAR] = {"avatar", 1},
    [LV_AP_URL_LIKE] = {"like", 2},           [LV_AP_URL_REACTION] = {"reaction", 3},
    [LV_AP_URL_JOIN] = {"join", 2},           [LV_AP_URL_LEAVE] = {"leave", 2},
};

static bool type_known(enum lv_ap_url_type type)
{
    return (unsigned)type < LV_ARRAY_LEN(url_types);
}

const char *lv_ap_url_type_name(enum lv_ap_url_type type)
{
    return type_known(type) ? url_types[type].name : "?";
}

size_t lv_ap_url_type_nargs(enum lv_ap_url_type type)
{
    return type_known(type) ? url_types[type].nargs : 0;
}

/* ap_path without its leading and trailing slashes. */
static void ap_path_trimmed(const struct lv_ap_addr_cfg *cfg, const char **p, size_t *len)
{
    const char *s = cfg->ap_path ? cfg->ap_path : "";
    size_t n;
    while (*s == '/')
        s++;
    n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    *p = s;
    *len = n;
}

/* "/{ap_path}/" or "/". */
static void add_path_prefix(struct lv_buf *b, const struct lv_ap_addr_cfg *cfg)
{
    const char *p;
    size_t n;
    ap_path_trimmed(cfg, &p, &n);
    lv_buf_addc(b, '/');
    if (n) {
        lv_buf_add(b, p, n);
        lv_buf_addc(b, '/');
    }
}

char *lv_ap_base_url(const struct lv_ap_addr_cfg *cfg)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "https://");
    lv_buf_adds(&b, cfg->public_url ? cfg->public_url : "");
    add_path_prefix(&b, cfg);
    return lv_buf_detach(&b);
}

int lv_ap_url_build(const struct lv_ap_addr_cfg *cfg, enum lv_ap_url_type type,
                    const char *const *args, size_t nargs, char **url, struct lv_error *err)
{
    struct lv_buf b = LV_BUF_INIT;
    *url = NULL;
    if (!type_known(type) || nargs != url_types[type].nargs)
        return lv_error_set(err, LV_ERR_INVAL, "wrong argument count for URL type %s",
                            lv_ap_url_type_name(type));
    for (size_t i = 0; i < nargs; i++) {
        size_t n = args[i] ? strlen(args[i]) : 0;
        if (n == 0 || !valid_text(args[i], n))
            return lv_error_set(err, LV_ERR_INVAL, "URL argument %zu is empty or not UTF-8", i);
    }
    char *base = lv_ap_base_url(cfg);
    lv_buf_adds(&b, base);
    free(base);
    lv_buf_adds(&b, url_types[type].name);
    for (size_t i = 0; i < nargs && b.len <= LV_AP_URL_MAX; i++) {
        lv_buf_addc(&b, '/');
        /* Deviation: dot segments would be dropped or resolved. */
        if (strcmp(args[i], ".") == 0)
            lv_buf_adds(&b, "%2E");
        else if (strcmp(args[i], "..") == 0)
            lv_buf_adds(&b, "%2E%2E");
        else
            quote_plus(&b, args[i], strlen(args[i]));
    }
    if (b.len > LV_AP_URL_MAX) {
        lv_buf_release(&b);
        return lv_error_set(err, LV_ERR_LIMIT, "URL longer than %d bytes", LV_AP_URL_MAX);
    }
    *url = lv_buf_detach(&b);
    return 0;
}

bool lv_ap_url_is_local(const struct lv_ap_addr_cfg *cfg, const char *url, size_t len)
{
    char *base = lv_ap_base_url(cfg);
    size_t blen = strlen(base);
    bool ok = len >= blen && memcmp(url, base, blen) == 0;
    free(base);
    return ok;
}

void lv_ap_url_release(struct lv_ap_url *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->nargs; i++)
        free(u->args[i]);
    memset(u, 0, sizeof(*u));
}

static int find_type(const char *s, size_t len, enum lv_ap_url_type *type)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(url_types); i++) {
        if (strlen(url_types[i].name) == len && memcmp(url_types[i].name, s, len) == 0) {
            *type = (enum lv_ap_url_type)i;
            return 0;
        }
    }
    return LV_ERR_INVAL;
}

/* Parses "type/arg/..." (the path after the base, query and fragment
 * included). */
static int parse_rel(const char *s, size_t len, struct lv_ap_url *out, struct lv_error *err)
{
    const char *seg[LV_AP_URL_MAX_SEGMENTS];
    size_t seglen[LV_AP_URL_MAX_SEGMENTS], nseg = 0;
    const char *cut = s;

    while (cut < s + len && *cut != '?' && *cut != '#')
        cut++;
    len = (size_t)(cut - s);
    for (size_t start = 0;;) {
        const char *slash = memchr(s + start, '/', len - start);
        size_t stop = slash ? (size_t)(slash - s) : len;
        if (nseg == LV_AP_URL_MAX_SEGMENTS)
            return lv_error_set(err, LV_ERR_LIMIT, "more than %d path segments",
                                LV_AP_URL_MAX_SEGMENTS);
        if (stop == start)
            return lv_error_set(err, LV_ERR_INVAL, "empty path segment");
        seg[nseg] = s + start;
        seglen[nseg++] = stop - start;
        if (!slash)
            break;
        start = stop + 1;
    }
    if (find_type(seg[0], seglen[0], &out->type) != 0)
        return lv_error_set(err, LV_ERR_INVAL, "unknown endpoint type \"%.*s\"",
                            (int)(seglen[0] > 40 ? 40 : seglen[0]), seg[0]);
    if (nseg - 1 != url_types[out->type].nargs)
        return lv_error_set(err, LV_ERR_INVAL, "%s takes %zu argument(s), not %zu",
                            url_types[out->type].name, url_types[out->type].nargs, nseg - 1);
    for (size_t i = 1; i < nseg; i++) {
        int rc = form_decode(seg[i], seglen[i], &out->args[out->nargs], err);
        if (rc != 0) {
            lv_ap_url_release(out);
            return rc;
        }
        out->nargs++;
    }
    return 0;
}

int lv_ap_url_parse(const struct lv_ap_addr_cfg *cfg, const char *url, size_t len,
                    struct lv_ap_url *out, struct lv_error *err)
{
    char *base;
    size_t blen;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > LV_AP_URL_MAX)
        return lv_error_set(err, LV_ERR_LIMIT, "URL longer than %d bytes", LV_AP_URL_MAX);
    base = lv_ap_base_url(cfg);
    blen = strlen(base);
    if (len < blen || memcmp(url, base, blen) != 0)
        rc = lv_error_set(err, LV_ERR_NOT_FOUND, "not a URL of this gateway");
    else
        rc = parse_rel(url + blen, len - blen, out, err);
    free(base);
    return rc;
}

int lv_ap_path_parse(const struct lv_ap_addr_cfg *cfg, const char *path, size_t len,
                     struct lv_ap_url *out, struct lv_error *err)
{
    struct lv_buf prefix = LV_BUF_INIT;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > LV_AP_URL_MAX)
        return lv_error_set(err, LV_ERR_LIMIT, "path longer than %d bytes", LV_AP_URL_MAX);
    add_path_prefix(&prefix, cfg);
    if (len < prefix.len || memcmp(path, prefix.data, prefix.len) != 0)
        rc = lv_error_set(err, LV_ERR_NOT_FOUND, "not a path of this gateway");
    else
        rc = parse_rel(path + prefix.len, len - prefix.len, out, err);
    lv_buf_release(&prefix);
    return rc;
}

char *lv_ap_hex(const char *s, size_t len)
{
    char *out = lv_xmalloc(len * 2 + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        out[2 * i] = HEX_LOWER[c >> 4];
        out[2 * i + 1] = HEX_LOWER[c & 0xF];
    }
    out[len * 2] = '\0';
    return out;
}

/* ---- WebFinger ---- */

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* user@host with one "@", non-empty parts, no "/", spaces or controls. */
static bool plausible_account(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    if (!at || at == s || at == s + len - 1 || count_byte(s, len, '@') != 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '/' || c <= 0x20 || c == 0x7F)
            return false;
    }
    return true;
}

int lv_ap_webfinger_account(const struct lv_ap_addr_cfg *cfg, const char *res, size_t len,
                            char **account, struct lv_error *err)
{
    char *dec;
    const char *p, *end;
    int rc;

    *account = NULL;
    if (len > LV_AP_URL_MAX)
        return lv_error_set(err, LV_ERR_LIMIT, "resource longer than %d bytes", LV_AP_URL_MAX);
    rc = form_decode(res, len, &dec, err);
    if (rc != 0)
        return rc;
    p = dec;
    end = dec + strlen(dec);
    while (p < end && is_space((unsigned char)*p))
        p++;
    while (end > p && is_space((unsigned char)end[-1]))
        end--;
    if (end - p >= 5 && ieq_n(p, "acct:", 5)) {
        p += 5;
        while (p < end && is_space((unsigned char)*p))
            p++;
        if (end - p > LV_AP_ACCOUNT_MAX)
            rc = lv_error_set(err, LV_ERR_LIMIT, "account longer than %d bytes", LV_AP_ACCOUNT_MAX);
        else if (!plausible_account(p, (size_t)(end - p)))
            rc = lv_error_set(err, LV_ERR_INVAL, "invalid account in WebFinger resource");
        else
            *account = lv_xstrndup(p, (size_t)(end - p));
    } else if (end - p >= 8 && (ieq_n(p, "https://", 8) || ieq_n(p, "http://", 7))) {
        struct lv_ap_url u;
        rc = lv_ap_url_parse(cfg, p, (size_t)(end - p), &u, err);
        if (rc == 0 && u.type != LV_AP_URL_ACTOR)
            rc = lv_error_set(err, LV_ERR_NOT_FOUND, "not an actor URL of this gateway");
        if (rc == 0 && !plausible_account(u.args[0], strlen(u.args[0])))
            rc = lv_error_set(err, LV_ERR_INVAL, "invalid account in actor URL");
        if (rc == 0) {
            *account = u.args[0];
            u.args[0] = NULL;
        }
        lv_ap_url_release(&u);
    } else {
        rc = lv_error_set(err, LV_ERR_INVAL, "WebFinger resource is neither acct: nor a URL");
    }
    free(dec);
    return rc;
}

static bool host_char_ok(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '-' || c == ':' || c >= 0x80;
}

int lv_ap_webfinger_url(const char *account, size_t len, char **url, struct lv_error *err)
{
    struct lv_buf b = LV_BUF_INIT;
    const char *at;

    *url = NULL;
    if (len > LV_AP_ACCOUNT_MAX)
        return lv_error_set(err, LV_ERR_LIMIT, "account longer than %d bytes", LV_AP_ACCOUNT_MAX);
    if (!valid_text(account, len) || !plausible_account(account, len))
        return lv_error_set(err, LV_ERR_INVAL, "invalid account");
    at = memchr(account, '@', len);
    for (const char *h = at + 1; h < account + len; h++)
        if (!host_char_ok((unsigned char)*h))
            return lv_error_set(err, LV_ERR_INVAL, "invalid host in account");
    lv_buf_adds(&b, "https://");
    lv_buf_add(&b, at + 1, (size_t)(account + len - at - 1));
    lv_buf_adds(&b, "/.well-known/webfinger?resource=acct:");
    quote_plus(&b, account, len);
    *url = lv_buf_detach(&b);
    return 0;
}
