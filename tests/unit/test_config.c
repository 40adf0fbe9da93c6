/* Unit tests for lv_config (option table, values, INI files, origins,
 * interpolation, generated doc) and lv_log_level_parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/lv_buf.h"
#include "core/lv_config.h"
#include "core/lv_err.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"

/* ---- fixture: a private temp dir and a saved environment ---- */

static const char *const env_names[] = {"HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME",
                                        "XDG_RUNTIME_DIR"};
#define NENV (sizeof(env_names) / sizeof(env_names[0]))
#define MAX_PATHS 32

struct fx {
    char dir[64];
    char *paths[MAX_PATHS]; /* created files and dirs, removed in reverse */
    size_t npaths;
    char *saved_env[NENV];
};

static int fx_setup(void **state)
{
    struct fx *fx = lv_xcalloc(1, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/lv-test-config-XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    for (size_t i = 0; i < NENV; i++) {
        const char *v = getenv(env_names[i]);
        fx->saved_env[i] = v ? lv_xstrdup(v) : NULL;
    }
    /* Start every test from a known environment. */
    setenv("HOME", fx->dir, 1);
    unsetenv("XDG_DATA_HOME");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("XDG_RUNTIME_DIR");
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *fx = *state;
    for (size_t i = fx->npaths; i-- > 0;) {
        remove(fx->paths[i]);
        free(fx->paths[i]);
    }
    rmdir(fx->dir);
    for (size_t i = 0; i < NENV; i++) {
        if (fx->saved_env[i])
            setenv(env_names[i], fx->saved_env[i], 1);
        else
            unsetenv(env_names[i]);
        free(fx->saved_env[i]);
    }
    free(fx);
    return 0;
}

static const char *fx_track(struct fx *fx, char *path)
{
    if (fx->npaths >= MAX_PATHS)
        fail_msg("too many temp paths");
    fx->paths[fx->npaths++] = path;
    return path;
}

static const char *fx_mkdir(struct fx *fx, const char *rel)
{
    char *path = lv_xasprintf("%s/%s", fx->dir, rel);
    if (mkdir(path, 0700) != 0)
        fail_msg("mkdir %s failed", path);
    return fx_track(fx, path);
}

/* Writes content to DIR/rel and returns the full path (owned by fx). */
static const char *fx_write(struct fx *fx, const char *rel, const char *content)
{
    char *path = lv_xasprintf("%s/%s", fx->dir, rel);
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("cannot create %s", path);
    fputs(content, f);
    fclose(f);
    return fx_track(fx, path);
}

/* ---- helpers ---- */

static void expect_str(const char *what, const char *got, const char *want)
{
    if (!got || strcmp(got, want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", what, got ? got : "(null)", want);
}

static void expect_origin(const struct lv_config *cfg, const char *section, const char *key,
                          const char *path, int line)
{
    char want[512];
    if (path)
        snprintf(want, sizeof(want), "%s:%d", path, line);
    else
        snprintf(want, sizeof(want), "default");
    const char *got = lv_config_origin(cfg, section, key);
    if (strcmp(got, want) != 0)
        fail_msg("origin of [%s] %s: got \"%s\", want \"%s\"", section, key, got, want);
}

static void expect_contains(const char *what, const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("%s: \"%s\" does not contain \"%s\"", what, hay, needle);
}

static const struct lv_opt *find_option(const char *section, const char *key)
{
    size_t n;
    const struct lv_opt *opts = lv_config_options(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(opts[i].section, section) == 0 && strcmp(opts[i].key, key) == 0)
            return &opts[i];
    return NULL;
}

static char *path_join(const char *a, const char *b)
{
    return lv_xasprintf("%s%s", a, b);
}

static bool etc_files_exist(void)
{
    return access("/etc/libervia.conf", F_OK) == 0 ||
           access("/etc/libervia/libervia.conf", F_OK) == 0;
}

/* ---- the option table and defaults ---- */

static void test_table_sane(void **state)
{
    (void)state;
    size_t n = 0;
    const struct lv_opt *opts = lv_config_options(&n);
    assert_non_null(opts);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        const struct lv_opt *o = &opts[i];
        assert_non_null(o->section);
        assert_non_null(o->key);
        assert_non_null(o->def);
        if (!o->help || !*o->help)
            fail_msg("[%s] %s has no help", o->section, o->key);
        if (o->type == LV_OPT_ENUM && (!o->choices || !*o->choices))
            fail_msg("[%s] %s: enum without choices", o->section, o->key);
        if ((o->type == LV_OPT_INT || o->type == LV_OPT_SIZE) && o->min > o->max)
            fail_msg("[%s] %s: min > max", o->section, o->key);
        for (size_t j = 0; j < i; j++)
            if (strcmp(opts[j].section, o->section) == 0 && strcasecmp(opts[j].key, o->key) == 0)
                fail_msg("[%s] %s declared twice", o->section, o->key);
    }
}

static void test_defaults_valid(void **state)
{
    (void)state;
    size_t n = 0;
    const struct lv_opt *opts = lv_config_options(&n);
    struct lv_config *cfg = lv_config_new();
    for (size_t i = 0; i < n; i++) {
        const struct lv_opt *o = &opts[i];
        const char *v = lv_config_str(cfg, o->section, o->key);
        assert_non_null(v);
        expect_origin(cfg, o->section, o->key, NULL, 0);
        /* every placeholder of the default is expanded */
        if (strstr(v, "%(") || strstr(v, "@XDG_"))
            fail_msg("[%s] %s: unexpanded default \"%s\"", o->section, o->key, v);
        if (o->type == LV_OPT_INT || o->type == LV_OPT_SIZE) {
            long long got = lv_config_int(cfg, o->section, o->key);
            if (got < o->min || got > o->max)
                fail_msg("[%s] %s: default %lld outside [%lld, %lld]", o->section, o->key, got,
                         o->min, o->max);
        }
    }
    /* each default, given back as a value, passes the option's own checks */
    for (size_t i = 0; i < n; i++) {
        const struct lv_opt *o = &opts[i];
        struct lv_error err = {0};
        if (lv_config_set(cfg, o->section, o->key, o->def, &err) != 0)
            fail_msg("default of [%s] %s rejected: %s", o->section, o->key, err.msg);
        expect_str("origin after set", lv_config_origin(cfg, o->section, o->key), "command line");
    }
    lv_config_free(cfg);
}

static void test_default_values(void **state)
{
    struct fx *fx = *state;
    char *xdg = lv_xasprintf("%s/data", fx->dir);
    setenv("XDG_DATA_HOME", xdg, 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
    struct lv_config *cfg = lv_config_new();

    char *local = path_join(xdg, "/libervia");
    char *uri = lv_xasprintf("sqlite:%s/libervia.db", local);
    expect_str("local_dir", lv_config_str(cfg, "DEFAULT", "local_dir"), local);
    expect_str("pid_dir", lv_config_str(cfg, "DEFAULT", "pid_dir"), local);
    expect_str("log_dir", lv_config_str(cfg, "DEFAULT", "log_dir"), local);
    expect_str("log_level", lv_config_str(cfg, "DEFAULT", "log_level"), "info");
    expect_str("xmpp_domain", lv_config_str(cfg, "DEFAULT", "xmpp_domain"), "");
    expect_str("uri", lv_config_str(cfg, "storage", "uri"), uri);
    expect_str("socket", lv_config_str(cfg, "bridge", "socket"),
               "/run/user/4242/libervia/bridge.sock");
    expect_str("ca_file", lv_config_str(cfg, "xmpp", "ca_file"), "");

    static const struct {
        const char *key;
        long long want;
    } ints[] = {
        {"iq_timeout", 60},
        {"connect_timeout", 30},
        {"reconnect_min_delay", 1},
        {"reconnect_max_delay", 300},
        {"ping_interval", 60},
        {"max_stanza_bytes", 16LL * 1024 * 1024},
        {"preauth_max_stanza_bytes", 64LL * 1024},
        {"max_depth", 64},
        {"max_attrs", 64},
        {"max_children", 100000},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        long long got = lv_config_int(cfg, "xmpp", ints[i].key);
        if (got != ints[i].want)
            fail_msg("[xmpp] %s = %lld, want %lld", ints[i].key, got, ints[i].want);
    }
    /* the typed getter and the string agree */
    expect_str("iq_timeout str", lv_config_str(cfg, "xmpp", "iq_timeout"), "60");
    expect_str("max_stanza_bytes str", lv_config_str(cfg, "xmpp", "max_stanza_bytes"), "16 MiB");
    lv_config_free(cfg);
    free(uri);
    free(local);
    free(xdg);
}

static void test_xdg_defaults(void **state)
{
    struct fx *fx = *state;
    /* XDG_DATA_HOME unset: $HOME/.local/share */
    struct lv_config *cfg = lv_config_new();
    char *want = lv_xasprintf("%s/.local/share/libervia", fx->dir);
    expect_str("local_dir from HOME", lv_config_str(cfg, "DEFAULT", "local_dir"), want);
    expect_str("pid_dir from HOME", lv_config_str(cfg, "DEFAULT", "pid_dir"), want);
    lv_config_free(cfg);

    /* set but empty counts as unset */
    setenv("XDG_DATA_HOME", "", 1);
    cfg = lv_config_new();
    expect_str("local_dir empty XDG", lv_config_str(cfg, "DEFAULT", "local_dir"), want);
    lv_config_free(cfg);
    free(want);

    /* XDG_DATA_HOME set */
    setenv("XDG_DATA_HOME", "/srv/xdg-data", 1);
    cfg = lv_config_new();
    expect_str("local_dir XDG", lv_config_str(cfg, "DEFAULT", "local_dir"),
               "/srv/xdg-data/libervia");
    expect_str("log_dir XDG", lv_config_str(cfg, "DEFAULT", "log_dir"), "/srv/xdg-data/libervia");
    expect_str("uri XDG", lv_config_str(cfg, "storage", "uri"),
               "sqlite:/srv/xdg-data/libervia/libervia.db");
    lv_config_free(cfg);

    /* XDG_RUNTIME_DIR unset: a per-user directory under /tmp */
    cfg = lv_config_new();
    want = lv_xasprintf("/tmp/libervia-%u/libervia/bridge.sock", (unsigned)getuid());
    expect_str("socket no runtime dir", lv_config_str(cfg, "bridge", "socket"), want);
    free(want);
    lv_config_free(cfg);
}

/* ---- lv_config_set ---- */

struct set_case {
    const char *section, *key, *value;
    int rc;
    const char *reason; /* substring of the error message when rc != 0 */
};

static const struct set_case set_cases[] = {
    /* integers: range is inclusive */
    {"xmpp", "iq_timeout", "1", 0, NULL},
    {"xmpp", "iq_timeout", "3600", 0, NULL},
    {"xmpp", "iq_timeout", "0", LV_ERR_CONFIG, "0 is out of range [1, 3600]"},
    {"xmpp", "iq_timeout", "3601", LV_ERR_CONFIG, "3601 is out of range [1, 3600]"},
    {"xmpp", "iq_timeout", "-5", LV_ERR_CONFIG, "out of range"},
    {"xmpp", "iq_timeout", "abc", LV_ERR_CONFIG, "expected an integer"},
    {"xmpp", "iq_timeout", "12x", LV_ERR_CONFIG, "expected an integer"},
    {"xmpp", "iq_timeout", "1.5", LV_ERR_CONFIG, "expected an integer"},
    {"xmpp", "iq_timeout", "", LV_ERR_CONFIG, "expected an integer"},
    {"xmpp", "iq_timeout", "99999999999999999999", LV_ERR_CONFIG, "expected an integer"},
    {"xmpp", "ping_interval", "0", 0, NULL},
    {"xmpp", "max_children", "10000000", 0, NULL},
    {"xmpp", "max_children", "10000001", LV_ERR_CONFIG, "out of range"},
    /* enums: any case, whole choices only */
    {"DEFAULT", "log_level", "debug", 0, NULL},
    {"DEFAULT", "log_level", "WARNING", 0, NULL},
    {"DEFAULT", "log_level", "Critical", 0, NULL},
    {"DEFAULT", "log_level", "trace", 0, NULL},
    {"DEFAULT", "log_level", "verbose", LV_ERR_CONFIG,
     "expected one of trace|debug|info|warning|error|critical"},
    {"DEFAULT", "log_level", "inf", LV_ERR_CONFIG, "expected one of"},
    {"DEFAULT", "log_level", "infos", LV_ERR_CONFIG, "expected one of"},
    {"DEFAULT", "log_level", "info|debug", LV_ERR_CONFIG, "expected one of"},
    {"DEFAULT", "log_level", "", LV_ERR_CONFIG, "expected one of"},
    /* sizes, with their range */
    {"xmpp", "max_stanza_bytes", "1 KiB", 0, NULL},
    {"xmpp", "max_stanza_bytes", "1024", 0, NULL},
    {"xmpp", "max_stanza_bytes", "1 GiB", 0, NULL},
    {"xmpp", "max_stanza_bytes", "1023", LV_ERR_CONFIG, "1023 is out of range [1024, 1073741824]"},
    {"xmpp", "max_stanza_bytes", "1025 MiB", LV_ERR_CONFIG, "out of range"},
    {"xmpp", "max_stanza_bytes", "5 XB", LV_ERR_CONFIG, "expected a size"},
    {"xmpp", "max_stanza_bytes", "lots", LV_ERR_CONFIG, "expected a size"},
    {"xmpp", "preauth_max_stanza_bytes", "16 MiB", 0, NULL},
    {"xmpp", "preauth_max_stanza_bytes", "17 MB", LV_ERR_CONFIG, "out of range"},
    /* strings and paths take anything */
    {"DEFAULT", "xmpp_domain", "example.org", 0, NULL},
    {"DEFAULT", "xmpp_domain", "", 0, NULL},
    {"storage", "uri", "postgresql://lv@localhost/lv", 0, NULL},
    {"xmpp", "ca_file", "/etc/ssl/ca.pem", 0, NULL},
    /* undeclared */
    {"xmpp", "no_such_key", "1", LV_ERR_CONFIG, "[xmpp] no_such_key: unknown option"},
    {"nosection", "iq_timeout", "1", LV_ERR_CONFIG, "[nosection] iq_timeout: unknown option"},
    {"XMPP", "iq_timeout", "1", LV_ERR_CONFIG, "unknown option"},
    {"storage", "iq_timeout", "1", LV_ERR_CONFIG, "unknown option"},
};

static void test_set_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
        const struct set_case *c = &set_cases[i];
        struct lv_config *cfg = lv_config_new();
        const struct lv_opt *o = find_option(c->section, c->key);
        char *before = o ? lv_xstrdup(lv_config_str(cfg, c->section, c->key)) : NULL;
        struct lv_error err = {0};
        int rc = lv_config_set(cfg, c->section, c->key, c->value, &err);
        if (rc != c->rc)
            fail_msg("[%s] %s = \"%s\": rc %d, want %d (%s)", c->section, c->key, c->value, rc,
                     c->rc, err.msg);
        if (rc == 0) {
            expect_str("stored value", lv_config_str(cfg, c->section, c->key), c->value);
            expect_str("origin", lv_config_origin(cfg, c->section, c->key), "command line");
        } else {
            assert_int_equal(err.code, c->rc);
            if (!strstr(err.msg, c->reason))
                fail_msg("[%s] %s = \"%s\": message \"%s\" lacks \"%s\"", c->section, c->key,
                         c->value, err.msg, c->reason);
            /* the error names the section and key */
            char where[128];
            snprintf(where, sizeof(where), "[%s] %s", c->section, c->key);
            expect_contains("error location", err.msg, where);
            /* a rejected value leaves the option untouched */
            if (o) {
                expect_str("unchanged", lv_config_str(cfg, c->section, c->key), before);
                expect_origin(cfg, c->section, c->key, NULL, 0);
            }
            /* and the same failure without an error struct */
            assert_int_equal(lv_config_set(cfg, c->section, c->key, c->value, NULL), c->rc);
        }
        free(before);
        lv_config_free(cfg);
    }
}

static void test_set_typed_getters(void **state)
{
    (void)state;
    struct lv_config *cfg = lv_config_new();
    struct lv_error err = {0};
    assert_int_equal(lv_config_set(cfg, "xmpp", "iq_timeout", "42", &err), 0);
    assert_int_equal(lv_config_int(cfg, "xmpp", "iq_timeout"), 42);
    assert_int_equal(lv_config_set(cfg, "xmpp", "max_stanza_bytes", "2 MiB", &err), 0);
    assert_int_equal(lv_config_int(cfg, "xmpp", "max_stanza_bytes"), 2 * 1024 * 1024);
    assert_int_equal(lv_config_set(cfg, "xmpp", "max_stanza_bytes", "1.5 MB", &err), 0);
    assert_int_equal(lv_config_int(cfg, "xmpp", "max_stanza_bytes"), 1500000);
    /* keys are case-insensitive, the getters too */
    assert_int_equal(lv_config_set(cfg, "xmpp", "IQ_Timeout", "7", &err), 0);
    assert_int_equal(lv_config_int(cfg, "xmpp", "iq_timeout"), 7);
    assert_int_equal(lv_config_int(cfg, "xmpp", "IQ_TIMEOUT"), 7);
    /* a later set replaces the string */
    assert_int_equal(lv_config_set(cfg, "DEFAULT", "xmpp_domain", "a.example", &err), 0);
    assert_int_equal(lv_config_set(cfg, "DEFAULT", "xmpp_domain", "b.example", &err), 0);
    expect_str("xmpp_domain", lv_config_str(cfg, "DEFAULT", "xmpp_domain"), "b.example");
    lv_config_free(cfg);
}

static void test_set_local_dir_refreshes(void **state)
{
    (void)state;
    struct lv_config *cfg = lv_config_new();
    struct lv_error err = {0};
    assert_int_equal(lv_config_set(cfg, "DEFAULT", "log_dir", "/var/log/lv", &err), 0);
    assert_int_equal(lv_config_set(cfg, "DEFAULT", "local_dir", "/opt/lv", &err), 0);
    /* defaults built on local_dir follow it, explicit values do not */
    expect_str("pid_dir", lv_config_str(cfg, "DEFAULT", "pid_dir"), "/opt/lv");
    expect_origin(cfg, "DEFAULT", "pid_dir", NULL, 0);
    expect_str("uri", lv_config_str(cfg, "storage", "uri"), "sqlite:/opt/lv/libervia.db");
    expect_str("log_dir", lv_config_str(cfg, "DEFAULT", "log_dir"), "/var/log/lv");
    /* interpolation in a set value */
    assert_int_equal(lv_config_set(cfg, "storage", "uri", "sqlite:%(local_dir)s/x.db", &err), 0);
    expect_str("uri set", lv_config_str(cfg, "storage", "uri"), "sqlite:/opt/lv/x.db");
    lv_config_free(cfg);
}

/* ---- parsers ---- */

struct size_case {
    const char *in;
    int rc;
    long long want;
};

static const struct size_case size_cases[] = {
    {"0", 0, 0},
    {"1048576", 0, 1048576},
    {"512 KiB", 0, 524288},
    {"512KiB", 0, 524288},
    {"1MB", 0, 1000000},
    {"1 mb", 0, 1000000},
    {"10 Mo", 0, 10000000},
    {"1.5 GiB", 0, 1610612736},
    {"2 kio", 0, 2048},
    {"2 Kio", 0, 2048},
    {"1 kB", 0, 1000},
    {"1 ko", 0, 1000},
    {"3 B", 0, 3},
    {"3 o", 0, 3},
    {"1 TiB", 0, 1099511627776LL},
    {"1 PB", 0, 1000000000000000LL},
    {"1 EB", 0, 1000000000000000000LL},
    {"", LV_ERR_INVAL, 0},
    {" ", LV_ERR_INVAL, 0},
    {"abc", LV_ERR_INVAL, 0},
    {"KiB", LV_ERR_INVAL, 0},
    {"-1", LV_ERR_INVAL, 0},
    {"-1 KiB", LV_ERR_INVAL, 0},
    {"5 XB", LV_ERR_INVAL, 0},
    {"1 KiBB", LV_ERR_INVAL, 0},
    {"1 K", LV_ERR_INVAL, 0},
    {"1 Ki", LV_ERR_INVAL, 0},
    {"1 iB", LV_ERR_INVAL, 0},
    {"1 KiB x", LV_ERR_INVAL, 0},
    {"1 bytes", LV_ERR_INVAL, 0},
    {"10 EiB", LV_ERR_INVAL, 0}, /* does not fit in a long long */
    {"1 ZB", LV_ERR_INVAL, 0},
    {"1 YiB", LV_ERR_INVAL, 0},
    {"inf", LV_ERR_INVAL, 0},
    {"nan", LV_ERR_INVAL, 0},
    {"nan KiB", LV_ERR_INVAL, 0},
};

static void test_parse_size(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(size_cases) / sizeof(size_cases[0]); i++) {
        const struct size_case *c = &size_cases[i];
        long long out = -12345;
        int rc = lv_config_parse_size(c->in, &out);
        if (rc != c->rc)
            fail_msg("parse_size(\"%s\"): rc %d, want %d (out %lld)", c->in, rc, c->rc, out);
        if (rc == 0 && out != c->want)
            fail_msg("parse_size(\"%s\") = %lld, want %lld", c->in, out, c->want);
        if (rc != 0 && out != -12345)
            fail_msg("parse_size(\"%s\") failed but wrote %lld", c->in, out);
    }
}

static void test_parse_bool(void **state)
{
    (void)state;
    static const char *const yes[] = {"true", "TRUE", "True", "yes", "YES",
                                      "Yes",  "on",   "ON",   "On",  "1"};
    static const char *const no[] = {"false", "FALSE", "False", "no",  "NO",
                                     "No",    "off",   "OFF",   "Off", "0"};
    static const char *const bad[] = {"",      "2",  "y",     "n",     "t",    "f", "enable",
                                      "truee", "01", " true", "true ", "none", "-1"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        bool b = false;
        if (lv_config_parse_bool(yes[i], &b) != 0 || !b)
            fail_msg("parse_bool(\"%s\") should be true", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        bool b = true;
        if (lv_config_parse_bool(no[i], &b) != 0 || b)
            fail_msg("parse_bool(\"%s\") should be false", no[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bool b = true;
        if (lv_config_parse_bool(bad[i], &b) != LV_ERR_INVAL)
            fail_msg("parse_bool(\"%s\") should fail", bad[i]);
        assert_true(b); /* untouched */
    }
}

static void test_log_level_parse(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int level;
    } cases[] = {
        {"error", LV_LOG_ERROR},
        {"ERROR", LV_LOG_ERROR},
        {"critical", LV_LOG_ERROR},
        {"CRITICAL", LV_LOG_ERROR},
        {"warning", LV_LOG_WARN},
        {"WARNING", LV_LOG_WARN},
        {"Warning", LV_LOG_WARN},
        {"warn", LV_LOG_WARN},
        {"WARN", LV_LOG_WARN},
        {"info", LV_LOG_INFO},
        {"INFO", LV_LOG_INFO},
        {"debug", LV_LOG_DEBUG},
        {"Debug", LV_LOG_DEBUG},
        {"trace", LV_LOG_TRACE},
        {"TRACE", LV_LOG_TRACE},
        {"", -1},
        {"verbose", -1},
        {"warnings", -1},
        {"err", -1},
        {"fatal", -1},
        {"info ", -1},
        {"notice", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = lv_log_level_parse(cases[i].name);
        if (got != cases[i].level)
            fail_msg("lv_log_level_parse(\"%s\") = %d, want %d", cases[i].name, got,
                     cases[i].level);
    }
    /* names round-trip */
    for (int l = LV_LOG_ERROR; l <= LV_LOG_TRACE; l++)
        assert_int_equal(lv_log_level_parse(lv_log_level_name(l)), l);
    expect_str("name(-1)", lv_log_level_name(-1), "?");
    expect_str("name(5)", lv_log_level_name(LV_LOG_TRACE + 1), "?");

    /* every log_level the config accepts is one the logger understands */
    const struct lv_opt *o = find_option("DEFAULT", "log_level");
    assert_non_null(o);
    char *choices = lv_xstrdup(o->choices);
    char *save = NULL;
    int count = 0;
    for (char *c = strtok_r(choices, "|", &save); c; c = strtok_r(NULL, "|", &save), count++)
        if (lv_log_level_parse(c) < 0)
            fail_msg("log_level choice \"%s\" is not a log level", c);
    assert_true(count >= 5);
    assert_true(lv_log_level_parse(o->def) >= 0);
    free(choices);
}

/* ---- files ---- */

static void test_load_unknown_key(void **state)
{
    struct fx *fx = *state;
    const char *p = fx_write(fx, "unknown.conf",
                             "# a comment\n"
                             "[DEFAULT]\n"
                             "\n"
                             "[xmpp]\n"
                             "iq_timeout = 10\n"
                             "bogus = 1\n"
                             "connect_timeout = 5\n");
    struct lv_config *cfg = lv_config_new();
    struct lv_error err = {0};
    assert_int_equal(lv_config_load_file(cfg, p, &err), LV_ERR_CONFIG);
    assert_int_equal(err.code, LV_ERR_CONFIG);
    char want[512];
    snprintf(want, sizeof(want), "%s:6: [xmpp] bogus: unknown option", p);
    expect_str("message", err.msg, want);
    lv_config_free(cfg);

    /* an unknown key in [DEFAULT] too; the key is named as written */
    p = fx_write(fx, "unknown2.conf", "[DEFAULT]\nLocal_Dirr = /x\n");
    cfg = lv_config_new();
    assert_int_equal(lv_config_load_file(cfg, p, &err), LV_ERR_CONFIG);
    snprintf(want, sizeof(want), "%s:2: [DEFAULT] Local_Dirr: unknown option", p);
    expect_str("message", err.msg, want);
    /* without an error struct */
    assert_int_equal(lv_config_load_file(cfg, p, NULL), LV_ERR_CONFIG);
    lv_config_free(cfg);
}

static void test_load_bad_value(void **state)
{
    struct fx *fx = *state;
    const char *p = fx_write(fx, "bad.conf",
                             "[xmpp]\n"
                             "; iq_timeout = 0 in a comment is fine\n"
                             "iq_timeout = 0\n");
    struct lv_config *cfg = lv_config_new();
    struct lv_error err = {0};
    assert_int_equal(lv_config_load_file(cfg, p, &err), LV_ERR_CONFIG);
    char want[512];
    snprintf(want, sizeof(want),
             "%s:3: [xmpp] iq_timeout: invalid value \"0\": "
             "0 is out of range [1, 3600]",
             p);
    expect_str("message", err.msg, want);
    assert_int_equal(lv_config_int(cfg, "xmpp", "iq_timeout"), 60);
    expect_origin(cfg, "xmpp", "iq_timeout", NULL, 0);
    lv_config_free(cfg);

    p = fx_write(fx, "bad2.conf", "[DEFAULT]\nlog_level = loud\n");
    cfg = lv_config_new();
    assert_int_equal(lv_config_load_file(cfg, p, &err), LV_ERR_CONFIG);
    snprintf(want, sizeof(want),
             "%s:2: [DEFAULT] log_level: invalid value \"loud\": "
             "expected one of trace|debug|info|warning|error|critical",
             p);
    expect_str("message", err.msg, want);
    lv_config_free(cfg);

    p = fx_write(fx, "bad3.conf", "[xmpp]\nmax_stanza_bytes = 12 parsecs\n");
    cfg = lv_config_new();
    assert_int_equal(lv_config_load_file(cfg, p, &err), LV_ERR_CONFIG);
    snprintf(want, sizeof(want),
             "%s:2: [xmpp] max_stanza_bytes: invalid value \"12 parsecs\": "
             "expected a size such as 512 KiB",
             p);
    expect_str("message", err.msg, want);
    lv_config_free(cfg);
}

static void test_load_syntax_error(void **state)
{
    struct fx *fx = *state;
    static const struct {
        const char *content;
        int line;
    } cases[] = {
        {"[xmpp]\niq_timeout = 5\n\nnot a key value\n", 4},
        {"[xmpp\niq_timeout = 5\n", 1},
        {"# c\n; c\n\n[xmpp]\n\n\niq_timeout\n", 7},
        /* also inside a section that is not the backend's */
        {"[libervia_web]\nport = 8080\njunk line\n", 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "syntax%zu.conf", i);
        const char *p = fx_write(fx, name, cases[i].content);
        struct lv_config *cfg = lv_config_new();
        struct lv_error err = {0};
        int rc = lv_config_load_file(cfg, p, &err);
        if (rc != LV_ERR_CONFIG)
            fail_msg("case %zu: rc %d, want LV_ERR_CONFIG", i, rc);
        char want[512];
        snprintf(want, sizeof(want), "%s:%d: syntax error", p, cases[i].line);
        if (strncmp(err.msg, want, strlen(want)) != 0)
            fail_msg("case %zu: message \"%s\" does not start with \"%s\"", i, err.msg, want);
        lv_config_free(cfg);
    }
}

static void test_load_missing_file(void **state)
{
    struct fx *fx = *state;
    char *p = lv_xasprintf("%s/does-not-exist.conf", fx->dir);
    struct lv_config *cfg = lv_config_new();
    struct lv_error err = {0};
    assert_int_equal(lv_config_load_file(cfg, p, &err), LV_ERR_NOT_FOUND);
    assert_int_equal(err.code, LV_ERR_NOT_FOUND);
    expect_contains("message", err.msg, p);
    assert_int_equal(lv_config_load_file(cfg, p, NULL), LV_ERR_NOT_FOUND);
    /* nothing changed */
    expect_origin(cfg, "xmpp", "iq_timeout", NULL, 0);
    lv_config_free(cfg);
    free(p);
}

static void test_load_unknown_section_and_case(void **state)
{
    struct fx *fx = *state;
    const char *p = fx_write(fx, "sections.conf",
                             "[libervia_web]\n"
                             "port = 8080\n"
                             "bogus = x\n"
                             "[component file-sharing]\n"
                             "whatever = 1\n"
                             "[xmpp]\n"
                             "IQ_TIMEOUT = 9\n"
                             "Connect_Timeout : 12\n"
                             "[DEFAULT]\n"
                             "LOCAL_DIR = /srv/case\n"
                             "[storage]\n"
                             "URI = sqlite:%(Local_Dir)s/db\n");
    struct lv_config *cfg = lv_config_new();
    struct lv_error err = {0};
    int rc = lv_config_load_file(cfg, p, &err);
    if (rc != 0)
        fail_msg("load: %s", err.msg);
    assert_int_equal(lv_config_int(cfg, "xmpp", "iq_timeout"), 9);
    expect_origin(cfg, "xmpp", "iq_timeout", p, 7);
    assert_int_equal(lv_config_int(cfg, "xmpp", "connect_timeout"), 12);
    expect_origin(cfg, "xmpp", "connect_timeout", p, 8);
    expect_str("local_dir", lv_config_str(cfg, "DEFAULT", "local_dir"), "/srv/case");
    expect_origin(cfg, "DEFAULT", "local_dir", p, 10);
    expect_str("uri", lv_config_str(cfg, "storage", "uri"), "sqlite:/srv/case/db");
    expect_origin(cfg, "storage", "uri", p, 12);
    lv_config_free(cfg);
}

static void test_load_interpolation(void **state)
{
    struct fx *fx = *state;
    const char *p1 = fx_write(fx, "interp1.conf", "[DEFAULT]\nlocal_dir = /srv/lv\n");
    const char *p2 = fx_write(fx, "interp2.conf",
                              "[DEFAULT]\n"
                              "local_dir = /data/new\n"
                              "pid_dir = %(local_dir)s/run\n"
                              "[storage]\n"
                              "uri = postgresql:///lv?host=%(local_dir)s\n");
    struct lv_config *cfg = lv_config_new();
    struct lv_error err = {0};
    assert_int_equal(lv_config_load_file(cfg, p1, &err), 0);
    expect_str("local_dir", lv_config_str(cfg, "DEFAULT", "local_dir"), "/srv/lv");
    expect_origin(cfg, "DEFAULT", "local_dir", p1, 2);
    /* defaults written as %(local_dir)s follow the new local_dir */
    expect_str("pid_dir", lv_config_str(cfg, "DEFAULT", "pid_dir"), "/srv/lv");
    expect_origin(cfg, "DEFAULT", "pid_dir", NULL, 0);
    expect_str("log_dir", lv_config_str(cfg, "DEFAULT", "log_dir"), "/srv/lv");
    expect_str("uri", lv_config_str(cfg, "storage", "uri"), "sqlite:/srv/lv/libervia.db");
    expect_origin(cfg, "storage", "uri", NULL, 0);

    assert_int_equal(lv_config_load_file(cfg, p2, &err), 0);
    expect_str("local_dir 2", lv_config_str(cfg, "DEFAULT", "local_dir"), "/data/new");
    expect_str("pid_dir 2", lv_config_str(cfg, "DEFAULT", "pid_dir"), "/data/new/run");
    expect_origin(cfg, "DEFAULT", "pid_dir", p2, 3);
    expect_str("log_dir 2", lv_config_str(cfg, "DEFAULT", "log_dir"), "/data/new");
    expect_origin(cfg, "DEFAULT", "log_dir", NULL, 0);
    expect_str("uri 2", lv_config_str(cfg, "storage", "uri"), "postgresql:///lv?host=/data/new");
    expect_origin(cfg, "storage", "uri", p2, 5);
    lv_config_free(cfg);
}

static void test_load_tilde(void **state)
{
    struct fx *fx = *state;
    setenv("HOME", "/home/tester", 1);
    const char *p = fx_write(fx, "tilde.conf",
                             "[DEFAULT]\n"
                             "local_dir = ~/data\n"
                             "log_dir = ~\n"
                             "[xmpp]\n"
                             "ca_file = ~/certs/ca.pem\n"
                             "[storage]\n"
                             "uri = ~/not-a-path\n"
                             "[bridge]\n"
                             "socket = /run/~/x.sock\n");
    struct lv_config *cfg = lv_config_new();
    struct lv_error err = {0};
    int rc = lv_config_load_file(cfg, p, &err);
    if (rc != 0)
        fail_msg("load: %s", err.msg);
    expect_str("local_dir", lv_config_str(cfg, "DEFAULT", "local_dir"), "/home/tester/data");
    expect_str("pid_dir", lv_config_str(cfg, "DEFAULT", "pid_dir"), "/home/tester/data");
    expect_str("log_dir", lv_config_str(cfg, "DEFAULT", "log_dir"), "/home/tester");
    expect_str("ca_file", lv_config_str(cfg, "xmpp", "ca_file"), "/home/tester/certs/ca.pem");
    /* not a path option, and "~" not at the start: left alone */
    expect_str("uri", lv_config_str(cfg, "storage", "uri"), "~/not-a-path");
    expect_str("socket", lv_config_str(cfg, "bridge", "socket"), "/run/~/x.sock");

    /* lv_config_set expands the same way */
    assert_int_equal(lv_config_set(cfg, "xmpp", "ca_file", "~/other.pem", &err), 0);
    expect_str("ca_file set", lv_config_str(cfg, "xmpp", "ca_file"), "/home/tester/other.pem");
    lv_config_free(cfg);
}

static void test_load_override_and_origins(void **state)
{
    struct fx *fx = *state;
    const char *p1 = fx_write(fx, "first.conf",
                              "[xmpp]\n"
                              "iq_timeout = 10\n"
                              "connect_timeout = 20\n"
                              "max_depth = 8\n"
                              "max_depth = 16\n");
    const char *p2 = fx_write(fx, "second.conf",
                              "; second file\n"
                              "[xmpp]\n"
                              "iq_timeout = 30\n");
    struct lv_config *cfg = lv_config_new();
    struct lv_error err = {0};
    assert_int_equal(lv_config_load_file(cfg, p1, &err), 0);
    assert_int_equal(lv_config_load_file(cfg, p2, &err), 0);
    assert_int_equal(lv_config_int(cfg, "xmpp", "iq_timeout"), 30);
    expect_origin(cfg, "xmpp", "iq_timeout", p2, 3);
    assert_int_equal(lv_config_int(cfg, "xmpp", "connect_timeout"), 20);
    expect_origin(cfg, "xmpp", "connect_timeout", p1, 3);
    /* the last occurrence in a file wins */
    assert_int_equal(lv_config_int(cfg, "xmpp", "max_depth"), 16);
    expect_origin(cfg, "xmpp", "max_depth", p1, 5);
    assert_int_equal(lv_config_int(cfg, "xmpp", "ping_interval"), 60);
    expect_origin(cfg, "xmpp", "ping_interval", NULL, 0);

    /* and a value set afterwards wins over both */
    assert_int_equal(lv_config_set(cfg, "xmpp", "iq_timeout", "31", &err), 0);
    expect_str("origin", lv_config_origin(cfg, "xmpp", "iq_timeout"), "command line");
    lv_config_free(cfg);
}

static void test_load_default_explicit(void **state)
{
    struct fx *fx = *state;
    fx_mkdir(fx, "cfg");
    fx_mkdir(fx, "cfg/libervia");
    char *xdg = lv_xasprintf("%s/cfg", fx->dir);
    fx_write(fx, "cfg/libervia/libervia.conf", "[xmpp]\niq_timeout = 11\n");
    setenv("XDG_CONFIG_HOME", xdg, 1);
    const char *explicit = fx_write(fx, "explicit.conf", "[xmpp]\n\nconnect_timeout = 22\n");

    /* with an explicit path, only that file is read */
    struct lv_config *cfg = lv_config_new();
    struct lv_error err = {0};
    assert_int_equal(lv_config_load_default(cfg, explicit, &err), 0);
    assert_int_equal(lv_config_int(cfg, "xmpp", "connect_timeout"), 22);
    expect_origin(cfg, "xmpp", "connect_timeout", explicit, 3);
    assert_int_equal(lv_config_int(cfg, "xmpp", "iq_timeout"), 60);
    expect_origin(cfg, "xmpp", "iq_timeout", NULL, 0);
    lv_config_free(cfg);

    /* and it must exist */
    char *missing = lv_xasprintf("%s/missing.conf", fx->dir);
    cfg = lv_config_new();
    assert_int_equal(lv_config_load_default(cfg, missing, &err), LV_ERR_NOT_FOUND);
    expect_contains("message", err.msg, missing);
    lv_config_free(cfg);
    free(missing);
    free(xdg);
}

static void test_load_default_xdg(void **state)
{
    struct fx *fx = *state;
    bool etc = etc_files_exist();
    fx_mkdir(fx, "cfg");
    fx_mkdir(fx, "cfg/libervia");
    fx_mkdir(fx, "empty");
    char *xdg = lv_xasprintf("%s/cfg", fx->dir);
    const char *user =
        fx_write(fx, "cfg/libervia/libervia.conf", "# user config\n[xmpp]\niq_timeout = 11\n");

    setenv("XDG_CONFIG_HOME", xdg, 1);
    struct lv_config *cfg = lv_config_new();
    struct lv_error err = {0};
    int rc = lv_config_load_default(cfg, NULL, &err);
    if (!etc || rc == 0) {
        /* the user's file is read last, so it wins over /etc */
        if (rc != 0)
            fail_msg("load_default: %s", err.msg);
        assert_int_equal(lv_config_int(cfg, "xmpp", "iq_timeout"), 11);
        expect_origin(cfg, "xmpp", "iq_timeout", user, 3);
    }
    lv_config_free(cfg);

    /* an XDG_CONFIG_HOME without the file: nothing read, no error */
    char *empty = lv_xasprintf("%s/empty", fx->dir);
    setenv("XDG_CONFIG_HOME", empty, 1);
    cfg = lv_config_new();
    rc = lv_config_load_default(cfg, NULL, &err);
    if (!etc) {
        assert_int_equal(rc, 0);
        expect_origin(cfg, "xmpp", "iq_timeout", NULL, 0);
    }
    lv_config_free(cfg);
    free(empty);

    /* a broken user file is reported */
    fx_mkdir(fx, "broken");
    fx_mkdir(fx, "broken/libervia");
    const char *broken =
        fx_write(fx, "broken/libervia/libervia.conf", "[xmpp]\niq_timeout = soon\n");
    char *bdir = lv_xasprintf("%s/broken", fx->dir);
    setenv("XDG_CONFIG_HOME", bdir, 1);
    cfg = lv_config_new();
    rc = lv_config_load_default(cfg, NULL, &err);
    if (!etc) {
        assert_int_equal(rc, LV_ERR_CONFIG);
        char want[512];
        snprintf(want, sizeof(want), "%s:2: [xmpp] iq_timeout: invalid value \"soon\"", broken);
        expect_contains("message", err.msg, want);
    }
    lv_config_free(cfg);
    free(bdir);
    free(xdg);
}

static void test_load_default_home(void **state)
{
    struct fx *fx = *state;
    /* XDG_CONFIG_HOME unset (or empty): $HOME/.config */
    fx_mkdir(fx, ".config");
    fx_mkdir(fx, ".config/libervia");
    const char *user =
        fx_write(fx, ".config/libervia/libervia.conf", "[xmpp]\nping_interval = 0\n");
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            setenv("XDG_CONFIG_HOME", "", 1);
        struct lv_config *cfg = lv_config_new();
        struct lv_error err = {0};
        int rc = lv_config_load_default(cfg, NULL, &err);
        if (!etc_files_exist() || rc == 0) {
            if (rc != 0)
                fail_msg("load_default: %s", err.msg);
            assert_int_equal(lv_config_int(cfg, "xmpp", "ping_interval"), 0);
            expect_origin(cfg, "xmpp", "ping_interval", user, 2);
        }
        lv_config_free(cfg);
    }
}

/* ---- generated documentation ---- */

static void test_write_doc(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    lv_config_write_doc(f);
    assert_int_equal(fflush(f), 0);
    rewind(f);
    struct lv_buf doc = LV_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        lv_buf_add(&doc, chunk, n);
    fclose(f);
    assert_non_null(doc.data);
    assert_int_equal(strlen(doc.data), doc.len);
    expect_contains("doc", doc.data, "\n## [xmpp]\n");
    expect_contains("doc", doc.data, "\n## [DEFAULT]\n");
    expect_contains("doc", doc.data, "\n## [storage]\n");
    expect_contains("doc", doc.data, "\n## [bridge]\n");

    size_t count;
    const struct lv_opt *opts = lv_config_options(&count);
    for (size_t i = 0; i < count; i++) {
        char heading[128], key[128];
        snprintf(heading, sizeof(heading), "\n## [%s]\n", opts[i].section);
        snprintf(key, sizeof(key), "\n### `%s`\n", opts[i].key);
        const char *sec = strstr(doc.data, heading);
        if (!sec) {
            fail_msg("no heading %s", heading);
            break;
        }
        /* each section has exactly one heading */
        if (strstr(sec + 1, heading))
            fail_msg("heading for [%s] appears twice", opts[i].section);
        /* the key is documented under its own section */
        const char *k = strstr(sec, key);
        if (!k) {
            fail_msg("key %s not documented after its section", opts[i].key);
            break;
        }
        const char *next = strstr(sec + strlen(heading), "\n## [");
        if (next && k > next)
            fail_msg("key %s documented outside [%s]", opts[i].key, opts[i].section);
        expect_contains("doc help", k, opts[i].help);
        char def[256];
        snprintf(def, sizeof(def), "- default: `%s`", opts[i].def);
        expect_contains("doc default", k, def);
    }
    lv_buf_release(&doc);
}

int main(void)
{
#define FX(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        FX(test_table_sane),
        FX(test_defaults_valid),
        FX(test_default_values),
        FX(test_xdg_defaults),
        FX(test_set_table),
        FX(test_set_typed_getters),
        FX(test_set_local_dir_refreshes),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_log_level_parse),
        FX(test_load_unknown_key),
        FX(test_load_bad_value),
        FX(test_load_syntax_error),
        FX(test_load_missing_file),
        FX(test_load_unknown_section_and_case),
        FX(test_load_interpolation),
        FX(test_load_tilde),
        FX(test_load_override_and_origins),
        FX(test_load_default_explicit),
        FX(test_load_default_xdg),
        FX(test_load_default_home),
        FX(test_write_doc),
    };
#undef FX
    return cmocka_run_group_tests(tests, NULL, NULL);
}
