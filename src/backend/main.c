/* libervia-backend: the daemon, and its few admin commands.
 *
 * Commands are a table (name, synopsis, help, examples, handler): --help,
 * `help COMMAND` and the man page (`libervia-backend manpage`) all come from
 * it. Exit codes are the reference's (as `li` uses them): 0 success, 1
 * failure, 2 bad usage, 3 not running (status, stop), 16 not found, 19
 * conflict. */
#include "backend/lv_backend.h"
#include "backend/lv_profile.h"
#include "bridge/lv_bridge.h"
#include "core/lv_config.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "libervia-backend"
#define VERSION "0.1.0"

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
    EXIT_NOT_RUNNING = 3,
    EXIT_NOT_FOUND = 16,
    EXIT_CONFLICT = 19
};

struct opts {
    const char *config;
    const char *log_level;
    bool json;
    bool force;
    bool daemon; /* fg/bg: log as configured */
    const char *jid, *password, *component;
    int autoconnect; /* -1 unset */
};

struct command {
    const char *name;
    const char *synopsis;
    const char *help;
    const char *examples;
    int (*run)(const struct opts *o, int argc, char **argv);
    int min_args, max_args;
};

static const struct command *commands(size_t *n);

/* ---- shared helpers ---- */

static int exit_for(int code)
{
    switch (code) {
    case 0:
        return EXIT_OK;
    case LV_ERR_NOT_FOUND:
        return EXIT_NOT_FOUND;
    case LV_ERR_CONFLICT:
        return EXIT_CONFLICT;
    case LV_ERR_INVAL:
        return EXIT_USAGE;
    default:
        return EXIT_FAIL;
    }
}

static int fail(int code, const char *msg)
{
    fprintf(stderr, PROG ": %s\n", msg);
    return exit_for(code);
}

static struct lv_config *load_config(const struct opts *o, int *exit_code)
{
    struct lv_config *cfg = lv_config_new();
    struct lv_error err;
    if (lv_config_load_default(cfg, o->config, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        lv_config_free(cfg);
        *exit_code = EXIT_FAIL;
        return NULL;
    }
    /* Admin commands only log warnings unless asked: their output is for
     * people; the daemon follows log_level. */
    const char *level = o->log_level ? o->log_level
                        : o->daemon  ? lv_config_str(cfg, "DEFAULT", "log_level")
                                     : "warning";
    lv_log_set_level(lv_log_level_parse(level));
    return cfg;
}

static struct lv_store *open_store(const struct lv_config *cfg, int *exit_code)
{
    struct lv_store *st = NULL;
    struct lv_error err;
    char *dir = lv_xstrdup(lv_config_str(cfg, "DEFAULT", "local_dir"));
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    mkdir(dir, 0700);
    free(dir);
    if (lv_store_open(lv_config_str(cfg, "storage", "uri"), &st, &err) != 0) {
        *exit_code = fail(err.code, err.msg);
        return NULL;
    }
    return st;
}

static char *pid_path(const struct lv_config *cfg)
{
    return lv_xasprintf("%s/" PROG ".pid", lv_config_str(cfg, "DEFAULT", "pid_dir"));
}

static pid_t read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    if (pid > 0 && kill((pid_t)pid, 0) == 0)
        return (pid_t)pid;
    return 0;
}

/* ---- the daemon ---- */

/* Takes the pid file; its lock is held for the process's life so that a
 * second daemon on the same data refuses to start. */
static int take_pid_file(const char *path, struct lv_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return lv_error_set(err, LV_ERR_IO, "cannot open pid file %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return lv_error_set(err, LV_ERR_CONFLICT, "already running (pid file %s is locked)", path);
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, buf, (size_t)n) != n)
        return lv_error_set(err, LV_ERR_IO, "cannot write pid file %s", path);
    return 0; /* fd stays open: the lock lives as long as we do */
}

static void report_ready(int fd, const char *msg)
{
    if (fd < 0)
        return;
    ssize_t n = write(fd, msg, strlen(msg));
    (void)n;
    close(fd);
}

static int run_daemon(struct lv_config *cfg, int ready_fd)
{
    struct lv_error err;
    char *pidf = pid_path(cfg);
    int rc = take_pid_file(pidf, &err);
    if (rc != 0) {
        free(pidf);
        lv_config_free(cfg);
        report_ready(ready_fd, err.msg);
        return fail(rc, err.msg);
    }
    /* A peer closing its socket must cost that connection only: without
     * this, a write to it would kill the daemon with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct lv_backend b;
    rc = lv_backend_init(&b, &loop, cfg, &err);
    if (rc != 0) {
        lv_error("backend", "cannot start: %s", err.msg);
        report_ready(ready_fd, err.msg);
        lv_backend_shutdown(&b);
    } else {
        lv_info("backend", PROG " " VERSION " started (pid %ld)", (long)getpid());
        lv_backend_autoconnect(&b);
        report_ready(ready_fd, "ok");
    }
    lv_backend_run(&b);
    lv_backend_release(&b);
    uv_loop_close(&loop);
    unlink(pidf);
    free(pidf);
    if (rc == 0)
        lv_info("backend", "stopped");
    return rc == 0 ? EXIT_OK : exit_for(rc);
}

static int cmd_fg(const struct opts *o, int argc, char **argv)
{
    int ec = 0;
    struct opts d = *o;
    d.daemon = true;
    struct lv_config *cfg = load_config(&d, &ec);
    return cfg ? run_daemon(cfg, -1) : ec;
}

static void daemon_child(struct lv_config *cfg, int ready_fd)
{
    setsid();
    char *log = lv_xasprintf("%s/" PROG ".log", lv_config_str(cfg, "DEFAULT", "log_dir"));
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nul = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
        dup2(nul, 0);
        dup2(fd, 1);
        dup2(fd, 2);
    }
    free(log);
    exit(run_daemon(cfg, ready_fd));
}

static int cmd_bg(const struct opts *o, int argc, char **argv)
{
    int ec = 0;
    struct opts d = *o;
    d.daemon = true;
    struct lv_config *cfg = load_config(&d, &ec);
    if (!cfg)
        return ec;
    int p[2];
    if (pipe(p) != 0)
        return fail(LV_ERR_IO, "pipe failed");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        daemon_child(cfg, p[1]);
    }
    close(p[1]);
    char msg[600] = "";
    ssize_t n = read(p[0], msg, sizeof(msg) - 1);
    close(p[0]);
    msg[n > 0 ? n : 0] = '\0';
    char *log = lv_xasprintf("%s/" PROG ".log", lv_config_str(cfg, "DEFAULT", "log_dir"));
    lv_config_free(cfg);
    if (strcmp(msg, "ok") != 0) {
        fprintf(stderr, PROG ": failed to start: %s (log: %s)\n", *msg ? msg : "it died", log);
        free(log);
        return EXIT_FAIL;
    }
    printf(PROG " started in the background (pid %ld, log %s)\n", (long)pid, log);
    free(log);
    return EXIT_OK;
}

static int cmd_stop(const struct opts *o, int argc, char **argv)
{
    int ec = 0;
    struct lv_config *cfg = load_config(o, &ec);
    if (!cfg)
        return ec;
    char *pidf = pid_path(cfg);
    lv_config_free(cfg);
    pid_t pid = read_pid(pidf);
    free(pidf);
    if (!pid) {
        fprintf(stderr, PROG " is not running\n");
        return EXIT_NOT_RUNNING;
    }
    kill(pid, SIGTERM);
    for (int i = 0; i < 200 && kill(pid, 0) == 0; i++) {
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (kill(pid, 0) == 0)
        return fail(LV_ERR_TIMEOUT, "the daemon did not stop within 10 s");
    printf(PROG " stopped (pid %ld)\n", (long)pid);
    return EXIT_OK;
}

static void print_session(json_t *s)
{
    const char *kind = json_string_value(json_object_get(s, "kind"));
    const char *comp = json_string_value(json_object_get(s, "component"));
    const char *error = json_string_value(json_object_get(s, "error"));
    char what[64];
    snprintf(what, sizeof(what), "%s%s%s%s", kind, comp ? " (" : "", comp ? comp : "",
             comp ? ")" : "");
    printf("  %-16s %-24s %-11s %s\n", json_string_value(json_object_get(s, "profile")), what,
           json_string_value(json_object_get(s, "state")),
           json_string_value(json_object_get(s, "jid")));
    if (error && strcmp(json_string_value(json_object_get(s, "state")), "online") != 0)
        printf("  %-16s last error: %s\n", "", error);
}

static int cmd_status(const struct opts *o, int argc, char **argv)
{
    int ec = 0;
    struct lv_config *cfg = load_config(o, &ec);
    if (!cfg)
        return ec;
    json_t *res = NULL;
    struct lv_error err;
    int rc =
        lv_bridge_call(lv_config_str(cfg, "bridge", "socket"), "status", NULL, 10000, &res, &err);
    lv_config_free(cfg);
    if (rc != 0) {
        if (o->json)
            printf("{\"running\": false}\n");
        else
            fprintf(stderr, PROG " is not running (%s)\n", err.msg);
        return EXIT_NOT_RUNNING;
    }
    if (o->json) {
        json_object_set_new(res, "running", json_true());
        char *s = json_dumps(res, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    } else {
        printf(PROG " %s is running (pid %lld)\n",
               json_string_value(json_object_get(res, "version")),
               (long long)json_integer_value(json_object_get(res, "pid")));
        json_t *sessions = json_object_get(res, "sessions");
        if (json_array_size(sessions) == 0)
            printf("  no profile connected\n");
        size_t i;
        json_t *s;
        json_array_foreach(sessions, i, s) print_session(s);
    }
    json_decref(res);
    return EXIT_OK;
}

/* ---- admin commands on profiles ----
 * They work on the store directly, so profiles can be prepared before the
 * daemon first starts; the logic itself is lv_profile's, which the bridge
 * (li profile ...) calls too. Each gets an open store and fills err. */

static int st_profile_create(struct lv_store *st, const struct opts *o, char **argv,
                             struct lv_error *err)
{
    int rc = lv_profile_create(st, argv[0], o->jid, o->password, o->component, o->autoconnect, err);
    if (rc == 0)
        printf("profile %s created\n", argv[0]);
    return rc;
}

static int st_profile_delete(struct lv_store *st, const struct opts *o, char **argv,
                             struct lv_error *err)
{
    int rc = lv_profile_delete(st, argv[0], err);
    if (rc == 0)
        printf("profile %s deleted\n", argv[0]);
    return rc;
}

static void print_profiles(json_t *arr, bool as_json)
{
    if (as_json) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        return;
    }
    size_t i;
    json_t *p;
    json_array_foreach(arr, i, p)
    {
        const char *comp = json_string_value(json_object_get(p, "component"));
        printf("%-16s %-32s %s\n", json_string_value(json_object_get(p, "profile")),
               json_string_value(json_object_get(p, "jid")), comp ? comp : "client");
    }
}

static int st_profile_list(struct lv_store *st, const struct opts *o, char **argv,
                           struct lv_error *err)
{
    struct lv_profile_rec *recs = NULL;
    size_t n = 0;
    int rc = lv_store_profile_list(st, &recs, &n, err);
    json_t *arr = json_array();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *jid = NULL;
        lv_profile_param_get(st, recs[i].name, "Connection", "JabberID", &jid, NULL);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s?}", "profile", recs[i].name, "jid",
                                             jid ? jid : "", "component", recs[i].component));
        free(jid);
        lv_profile_rec_release(&recs[i]);
    }
    free(recs);
    if (rc == 0)
        print_profiles(arr, o->json);
    json_decref(arr);
    return rc;
}

static int st_profile_default(struct lv_store *st, const struct opts *o, char **argv,
                              struct lv_error *err)
{
    if (argv[0])
        return lv_store_profile_default_set(st, argv[0], err);
    char *name = NULL;
    int rc = lv_store_profile_default_get(st, &name, err);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no default profile");
    if (rc == 0)
        printf("%s\n", name);
    free(name);
    return rc;
}

static int st_param_get(struct lv_store *st, const struct opts *o, char **argv,
                        struct lv_error *err)
{
    char *value = NULL;
    int rc = lv_profile_param_get(st, argv[0], argv[1], argv[2], &value, err);
    if (rc == 0) {
        /* Passwords are write-only from the command line. */
        bool secret = strcmp(argv[2], "Password") == 0;
        printf("%s\n", secret ? (*value ? "(set)" : "(unset)") : value);
    }
    free(value);
    return rc;
}

static int st_param_set(struct lv_store *st, const struct opts *o, char **argv,
                        struct lv_error *err)
{
    return lv_profile_param_set(st, argv[0], argv[1], argv[2], argv[3], err);
}

/* Opens the configuration and the store around a store command. */
static int run_with_store(const struct opts *o, char **argv,
                          int (*fn)(struct lv_store *, const struct opts *, char **,
                                    struct lv_error *))
{
    int ec = 0;
    struct lv_config *cfg = load_config(o, &ec);
    if (!cfg)
        return ec;
    struct lv_store *st = open_store(cfg, &ec);
    if (!st) {
        lv_config_free(cfg);
        return ec;
    }
    struct lv_error err;
    lv_error_clear(&err);
    int rc = fn(st, o, argv, &err);
    lv_store_close(st);
    lv_config_free(cfg);
    return rc != 0 ? fail(rc, err.msg) : EXIT_OK;
}

static int cmd_profile_create(const struct opts *o, int argc, char **argv)
{
    return run_with_store(o, argv, st_profile_create);
}

static int cmd_profile_delete(const struct opts *o, int argc, char **argv)
{
    if (!o->force && isatty(0)) {
        printf("delete profile %s and all its data? [y/N] ", argv[0]);
        fflush(stdout);
        char ans[8] = "";
        if (!fgets(ans, sizeof(ans), stdin) || (ans[0] != 'y' && ans[0] != 'Y'))
            return fail(LV_ERR_CANCELLED, "not deleted");
    }
    return run_with_store(o, argv, st_profile_delete);
}

static int cmd_profile_list(const struct opts *o, int argc, char **argv)
{
    return run_with_store(o, argv, st_profile_list);
}

static int cmd_profile_default(const struct opts *o, int argc, char **argv)
{
    return run_with_store(o, argv, st_profile_default);
}

static int cmd_param_get(const struct opts *o, int argc, char **argv)
{
    return run_with_store(o, argv, st_param_get);
}

static int cmd_param_set(const struct opts *o, int argc, char **argv)
{
    return run_with_store(o, argv, st_param_set);
}

static int bridge_simple(const struct opts *o, const char *method, const char *profile)
{
    int ec = 0;
    struct lv_config *cfg = load_config(o, &ec);
    if (!cfg)
        return ec;
    json_t *res = NULL;
    struct lv_error err;
    int rc = lv_bridge_call(lv_config_str(cfg, "bridge", "socket"), method,
                            json_pack("{s:s}", "profile", profile), 10000, &res, &err);
    lv_config_free(cfg);
    json_decref(res);
    if (rc == LV_ERR_IO)
        return fprintf(stderr, PROG ": %s\n", err.msg), EXIT_NOT_RUNNING;
    return rc != 0 ? fail(rc, err.msg) : EXIT_OK;
}

static int cmd_connect(const struct opts *o, int argc, char **argv)
{
    return bridge_simple(o, "connect", argv[0]);
}

static int cmd_disconnect(const struct opts *o, int argc, char **argv)
{
    return bridge_simple(o, "disconnect", argv[0]);
}

static int cmd_config_doc(const struct opts *o, int argc, char **argv)
{
    lv_config_write_doc(stdout);
    return EXIT_OK;
}

static int cmd_config_check(const struct opts *o, int argc, char **argv)
{
    int ec = 0;
    struct lv_config *cfg = load_config(o, &ec);
    if (!cfg)
        return ec;
    size_t n;
    const struct lv_opt *opts = lv_config_options(&n);
    for (size_t i = 0; i < n; i++)
        printf("[%s] %s = %s    (%s)\n", opts[i].section, opts[i].key,
               lv_config_str(cfg, opts[i].section, opts[i].key),
               lv_config_origin(cfg, opts[i].section, opts[i].key));
    lv_config_free(cfg);
    return EXIT_OK;
}

/* ---- help and man page, from the command table ---- */

static const char *const global_opts =
    "  -c, --config FILE      read only this configuration file\n"
    "      --log-level LEVEL  trace, debug, info, warning or error (overrides log_level)\n"
    "  -O, --output json      machine-readable output (status, profile list)\n"
    "  -h, --help             this help; `" PROG " help COMMAND` for one command\n"
    "  -V, --version          print the version\n";

static void usage(FILE *out)
{
    size_t n;
    const struct command *c = commands(&n);
    fprintf(out, "usage: " PROG " [OPTIONS] COMMAND [ARGS]\n\n"
                 "The Libervia backend daemon: holds the XMPP sessions of profiles and\n"
                 "components, the storage and the bridge that frontends (li) talk to.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %s\n      %s\n", c[i].synopsis, c[i].help);
    fprintf(out, "\nOptions:\n%s\nExamples:\n", global_opts);
    for (size_t i = 0; i < n; i++)
        if (c[i].examples)
            fprintf(out, "%s", c[i].examples);
    fprintf(out, "\nExit codes: 0 ok, 1 failure, 2 bad usage, 3 not running, 16 not found, "
                 "19 conflict.\n");
}

static void roff_escape(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s == '-')
            fputs("\\-", stdout);
        else
            putchar(*s);
    }
}

static int cmd_manpage(const struct opts *o, int argc, char **argv)
{
    size_t n;
    const struct command *c = commands(&n);
    printf(".TH LIBERVIA\\-BACKEND 1 \"\" \"" PROG " " VERSION "\" \"Libervia\"\n"
           ".SH NAME\n" PROG " \\- the Libervia backend daemon\n"
           ".SH SYNOPSIS\n.B " PROG "\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n"
           ".SH DESCRIPTION\nHolds the XMPP sessions of profiles and components, the storage "
           "and the bridge that frontends talk to.\n.SH COMMANDS\n");
    for (size_t i = 0; i < n; i++) {
        printf(".TP\n.B ");
        roff_escape(c[i].synopsis);
        printf("\n");
        roff_escape(c[i].help);
        printf("\n");
    }
    printf(".SH OPTIONS\n.nf\n");
    roff_escape(global_opts);
    printf(".fi\n.SH EXAMPLES\n.nf\n");
    for (size_t i = 0; i < n; i++)
        if (c[i].examples)
            roff_escape(c[i].examples);
    printf(".fi\n.SH FILES\n/etc/libervia.conf, /etc/libervia/libervia.conf, "
           "$XDG_CONFIG_HOME/libervia/libervia.conf: see doc/configuration.md.\n"
           ".SH EXIT STATUS\n0 ok, 1 failure, 2 bad usage, 3 not running, 16 not found, "
           "19 conflict.\n");
    return EXIT_OK;
}

static int cmd_help(const struct opts *o, int argc, char **argv)
{
    size_t n;
    const struct command *c = commands(&n);
    if (argc == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (strncmp(c[i].name, argv[0], strlen(argv[0])) == 0) {
            printf("usage: " PROG " %s\n\n%s\n", c[i].synopsis, c[i].help);
            if (c[i].examples)
                printf("\nExamples:\n%s", c[i].examples);
            return EXIT_OK;
        }
    fprintf(stderr, PROG ": no command %s\n", argv[0]);
    return EXIT_USAGE;
}

static const struct command command_table[] = {
    {"fg", "fg", "Run the daemon in the foreground, logging to stderr.",
     "  " PROG " -c ./libervia.conf fg\n", cmd_fg, 0, 0},
    {"bg", "bg", "Run the daemon in the background; returns once it is ready (log in log_dir).",
     "  " PROG " bg\n", cmd_bg, 0, 0},
    {"stop", "stop", "Stop the background daemon (SIGTERM, waits up to 10 s).", NULL, cmd_stop, 0,
     0},
    {"status", "status [-O json]",
     "Tell whether the daemon runs, and the connection state of each profile with its last "
     "error.",
     "  " PROG " status\n", cmd_status, 0, 0},
    {"profile create", "profile create NAME -j JID [-x PASSWORD] [-C ENTRY_POINT] [-A [BOOL]]",
     "Create a profile: an XMPP account, or with -C a component (ap-gateway, file-sharing) "
     "whose password is the component secret. -A connects it when the daemon starts.",
     "  " PROG " profile create louise -j louise@example.org -x secret -A\n"
     "  " PROG " profile create ap -j ap.example.org -x component-secret -C ap-gateway -A\n",
     cmd_profile_create, 1, 1},
    {"profile delete", "profile delete NAME [-f]",
     "Delete a profile and its data (asks unless -f).", NULL, cmd_profile_delete, 1, 1},
    {"profile list", "profile list [-O json]", "List profiles with their JID and kind.", NULL,
     cmd_profile_list, 0, 0},
    {"profile default", "profile default [NAME]", "Show, or set, the default profile.", NULL,
     cmd_profile_default, 0, 1},
    {"param get", "param get PROFILE CATEGORY NAME",
     "Show a profile parameter (passwords show only whether they are set).",
     "  " PROG " param get louise Connection 'Force server'\n", cmd_param_get, 3, 3},
    {"param set", "param set PROFILE CATEGORY NAME VALUE",
     "Set a profile parameter: Connection/JabberID, Password, Priority, 'Force server', "
     "'Force port', autoconnect_backend, check_certificate...",
     "  " PROG " param set louise Connection 'Force server' 127.0.0.1\n", cmd_param_set, 4, 4},
    {"connect", "connect PROFILE", "Ask the running daemon to connect a profile.", NULL,
     cmd_connect, 1, 1},
    {"disconnect", "disconnect PROFILE", "Ask the running daemon to disconnect a profile.", NULL,
     cmd_disconnect, 1, 1},
    {"config-check", "config-check",
     "Load the configuration, report errors, and show each value with where it came from.", NULL,
     cmd_config_check, 0, 0},
    {"config-doc", "config-doc", "Print the configuration reference (doc/configuration.md).", NULL,
     cmd_config_doc, 0, 0},
    {"manpage", "manpage", "Print this program's man page (roff).", NULL, cmd_manpage, 0, 0},
    {"help", "help [COMMAND]", "Show help, for everything or for one command.", NULL, cmd_help, 0,
     1},
};

static const struct command *commands(size_t *n)
{
    *n = LV_ARRAY_LEN(command_table);
    return command_table;
}

/* ---- argument parsing ---- */

static const struct command *find_command(int *argc, char ***argv)
{
    size_t n;
    const struct command *c = commands(&n);
    for (size_t i = 0; i < n; i++) {
        const char *sp = strchr(c[i].name, ' ');
        if (!sp && *argc >= 1 && strcmp((*argv)[0], c[i].name) == 0) {
            (*argc)--, (*argv)++;
            return &c[i];
        }
        size_t l = sp ? (size_t)(sp - c[i].name) : 0;
        if (sp && *argc >= 2 && strncmp((*argv)[0], c[i].name, l) == 0 && (*argv)[0][l] == '\0' &&
            strcmp((*argv)[1], sp + 1) == 0) {
            *argc -= 2, *argv += 2;
            return &c[i];
        }
    }
    return NULL;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'L'},
        {"output", required_argument, NULL, 'O'},
        {"jid", required_argument, NULL, 'j'},
        {"xmpp-password", required_argument, NULL, 'x'},
        {"component", required_argument, NULL, 'C'},
        {"autoconnect", optional_argument, NULL, 'A'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "+c:O:j:x:C:A::fhV", longs, NULL)) != -1) {
        bool b = true;
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'L':
            o->log_level = optarg;
            break;
        case 'O':
            o->json = strcmp(optarg, "json") == 0;
            break;
        case 'j':
            o->jid = optarg;
            break;
        case 'x':
            o->password = optarg;
            break;
        case 'C':
            o->component = optarg;
            break;
        case 'f':
            o->force = true;
            break;
        case 'A':
            if (optarg && lv_config_parse_bool(optarg, &b) != 0)
                return -1;
            o->autoconnect = b;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_OK);
        case 'V':
            printf(PROG " " VERSION "\n");
            exit(EXIT_OK);
        default:
            return -1;
        }
    }
    if (o->log_level && lv_log_level_parse(o->log_level) < 0) {
        fprintf(stderr, PROG ": unknown log level %s\n", o->log_level);
        return -1;
    }
    return optind;
}

int main(int argc, char **argv)
{
    struct opts o = {.autoconnect = -1};
    /* Options may come before and after the command words. */
    int first = parse_opts(argc, argv, &o);
    if (first < 0)
        return fail(LV_ERR_INVAL, "bad option (see --help)");
    int rest = argc - first;
    char **args = argv + first;
    if (rest == 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const struct command *cmd = find_command(&rest, &args);
    if (!cmd) {
        fprintf(stderr, PROG ": unknown command \"%s\" (see --help)\n", args[0]);
        return EXIT_USAGE;
    }
    /* Re-parse what follows the command words for its options. */
    char **sub = lv_xcalloc((size_t)rest + 2, sizeof(*sub));
    sub[0] = argv[0];
    memcpy(sub + 1, args, (size_t)rest * sizeof(*sub));
    optind = 1;
    char *positional[9] = {NULL}; /* NULL-terminated */
    int npos = 0;
    while (optind <= rest) {
        int r = parse_opts(rest + 1, sub, &o);
        if (r < 0) {
            free(sub);
            return fail(LV_ERR_INVAL, "bad option (see --help)");
        }
        if (r <= rest && npos < 8)
            positional[npos++] = sub[r];
        optind = r + 1;
    }
    free(sub);
    if (npos < cmd->min_args || npos > cmd->max_args) {
        fprintf(stderr, PROG ": usage: " PROG " %s\n", cmd->synopsis);
        return EXIT_USAGE;
    }
    return cmd->run(&o, npos, positional);
}
