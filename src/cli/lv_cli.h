/* lv_cli: the command framework of `li` (libervia-cli).
 *
 * Every command is a row of a table: its words ("blog set"), help, examples,
 * options and a handler. The option parser, `--help` at every level, the man
 * page (`li manpage`) and the bash completion (`li completion bash`) are all
 * generated from the tables, so they cannot disagree.
 *
 * Option groups shared by many commands follow the reference CLI: profile
 * (-p/--profile, --pwd, -c/--connect), output (-O/--output, --oo), pubsub
 * (-u/--pubsub-url, -s/--service, -n/--node), single item (-i/--item,
 * -L/--last-item), several items (-i, -M/--max-items, -m/--max, -a/--after,
 * -b/--before, --index, -o/--order-by), cache (-C/--no-cache).
 *
 * Exit codes are the reference's: 0 ok, 1 error, 2 bad arguments, 3 backend
 * not running, 4 the backend failed the call, 16 not found, 17 invalid data,
 * 18 missing feature, 19 conflict, 20 cancelled by the user, 21 permission
 * denied (ours: the reference has none), 111 internal error. */
#ifndef LV_CLI_H
#define LV_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum lv_cli_exit {
    LV_EXIT_OK = 0,
    LV_EXIT_ERROR = 1,
    LV_EXIT_BAD_ARG = 2,
    LV_EXIT_BRIDGE = 3,
    LV_EXIT_ERRBACK = 4,
    LV_EXIT_NOT_FOUND = 16,
    LV_EXIT_DATA = 17,
    LV_EXIT_FEATURE = 18,
    LV_EXIT_CONFLICT = 19,
    LV_EXIT_CANCELLED = 20,
    LV_EXIT_PERMISSION = 21,
    LV_EXIT_INTERNAL = 111,
};

enum lv_cli_opt_kind {
    LV_ARG_FLAG,   /* no value; may repeat */
    LV_ARG_VALUE,  /* one value; the last one given wins */
    LV_ARG_MULTI,  /* one value each time; all are kept */
    LV_ARG_PAIR,   /* two values each time (-f KEY VALUE); all are kept */
    LV_ARG_TRIPLE, /* three values each time (-F PATH OP VALUE); all are kept */
    LV_ARG_OPTVAL, /* optional value (-A [true|false]) */
    LV_ARG_INT,    /* one integer value */
};

struct lv_cli_opt {
    const char *name; /* key for lookups (also the long name, without "--") */
    char short_name;  /* 0 for none */
    enum lv_cli_opt_kind kind;
    const char *metavar;
    const char *help;
};
#define LV_CLI_OPT_END                                                                             \
    {                                                                                              \
        NULL, 0, 0, NULL, NULL                                                                     \
    }

/* Option groups, set in struct lv_cli_cmd.groups. */
enum {
    LV_G_PROFILE = 1 << 0,
    LV_G_OUTPUT = 1 << 1,
    LV_G_PUBSUB = 1 << 2,
    LV_G_ITEM = 1 << 3,
    LV_G_ITEMS = 1 << 4,
    LV_G_CACHE = 1 << 5,
};

struct lv_cli;

struct lv_cli_cmd {
    const char *path;    /* "blog set" */
    const char *summary; /* one line */
    const char *help;    /* paragraph, may be NULL */
    const char *args;    /* positional synopsis ("NAME", "[ITEM]"), NULL = none */
    int min_args, max_args;
    unsigned groups;
    const char *outputs;           /* "default|json|simple", NULL = default only */
    const struct lv_cli_opt *opts; /* terminated by LV_CLI_OPT_END, may be NULL */
    const char *examples;          /* lines "  li ...\n", may be NULL */
    int (*run)(struct lv_cli *cli);
};

/* Registers a table of commands (called at start by each command module). */
void lv_cli_register(const struct lv_cli_cmd *cmds, size_t n);

/* Runs `li` with argv. Returns the exit code. */
int lv_cli_main(int argc, char **argv);

/* ---- for command handlers ---- */

/* Positional arguments (i from 0; NULL past the last). */
const char *lv_cli_arg(const struct lv_cli *cli, size_t i);
/* Option values (name = the option's name). NULL/false/0 when absent. */
const char *lv_cli_str(const struct lv_cli *cli, const char *name);
bool lv_cli_flag(const struct lv_cli *cli, const char *name);
bool lv_cli_given(const struct lv_cli *cli, const char *name);
long lv_cli_int(const struct lv_cli *cli, const char *name, long def);
/* All values of a MULTI (or PAIR: 2 per occurrence) option. Borrowed. */
size_t lv_cli_values(const struct lv_cli *cli, const char *name, const char *const **vals);
/* The selected output ("default", "json", "simple"). */
const char *lv_cli_output(const struct lv_cli *cli);
bool lv_cli_json(const struct lv_cli *cli);
/* True when stdout is a terminal (progress and colours only then). */
bool lv_cli_tty(const struct lv_cli *cli);

/* Calls a bridge method; the profile (-p) and, for pubsub commands, service
 * and node are added to params unless present. Takes params. On error, the
 * message is printed ("li: …") and the exit code returned; on success 0 and
 * *result (caller decrefs; may be NULL if result is not wanted). With -c,
 * the profile is connected first. */
int lv_cli_call(struct lv_cli *cli, const char *method, json_t *params, json_t **result);
/* Prints a JSON value on stdout (indented), for -O json. */
void lv_cli_print_json(json_t *v);
/* Prints "li: <message>" on stderr and returns code. */
int lv_cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The pubsub target from -u/-s/-n: a JSON object {service?, node?} (new
 * reference). An xmpp: URI in -u fills service, node and (if present) item. */
json_t *lv_cli_pubsub_target(struct lv_cli *cli);
/* Reads all of stdin into a new string (caller frees); NULL on error. */
char *lv_cli_read_stdin(size_t max);
/* Opens $VISUAL/$EDITOR (default "vi") on path and waits; returns 0 if the
 * editor exited 0. */
int lv_cli_edit_file(const char *path);

#endif
