#include "lv_cli.h"
#include "bridge/lv_bridge.h"
#include "core/lv_buf.h"
#include "core/lv_config.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "li"
#define VERSION "0.1.0"
#define MAX_CMDS 256
#define CALL_TIMEOUT_MS 120000

struct value {
    const struct lv_cli_opt *opt;
    const char **vals;
    size_t n, cap;
    unsigned count; /* occurrences */
};

struct lv_cli {
    const struct lv_cli_cmd *cmd;
    struct value *values;
    size_t nvalues;
    const char **args;
    size_t nargs;
    char *socket;
    bool tty;
};

static const struct lv_cli_cmd *registry[MAX_CMDS];
static size_t nregistry;

void lv_cli_register(const struct lv_cli_cmd *cmds, size_t n)
{
    for (size_t i = 0; i < n && nregistry < MAX_CMDS; i++)
        registry[nregistry++] = &cmds[i];
}

/* ---- option groups ---- */

static const struct lv_cli_opt g_profile[] = {
    {"profile", 'p', LV_ARG_VALUE, "PROFILE", "use PROFILE (default: the default profile)"},
    {"pwd", 0, LV_ARG_VALUE, "PASSWORD", "password of the profile"},
    {"connect", 'c', LV_ARG_FLAG, NULL, "connect the profile before doing anything else"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt g_output[] = {
    {"output", 'O', LV_ARG_VALUE, "OUTPUT", "output format"},
    {"output-option", 0, LV_ARG_MULTI, "OPTION", "option for the output format (--oo)"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt g_pubsub[] = {
    {"pubsub-url", 'u', LV_ARG_VALUE, "URL", "xmpp: URI of the pubsub node (or item)"},
    {"service", 's', LV_ARG_VALUE, "JID", "pubsub service (default: your own PEP service)"},
    {"node", 'n', LV_ARG_VALUE, "NODE", "pubsub node"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt g_item[] = {
    {"item", 'i', LV_ARG_VALUE, "ITEM", "item id"},
    {"last-item", 'L', LV_ARG_FLAG, NULL, "use the last item"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt g_items[] = {
    {"item", 'i', LV_ARG_MULTI, "ITEM", "item to retrieve (repeatable; default: all)"},
    {"max-items", 'M', LV_ARG_INT, "N", "maximum number of items to get (-1: all)"},
    {"max", 'm', LV_ARG_INT, "N", "maximum number of items per page (RSM, default 10)"},
    {"after", 'a', LV_ARG_VALUE, "ITEM", "page after this item (RSM)"},
    {"before", 'b', LV_ARG_VALUE, "ITEM", "page before this item (RSM; \"\" = last page)"},
    {"index", 0, LV_ARG_INT, "N", "index of the first item (RSM)"},
    {"order-by", 'o', LV_ARG_VALUE, "ORDER", "creation or modification"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt g_cache[] = {
    {"no-cache", 'C', LV_ARG_FLAG, NULL, "don't use the pubsub cache"},
    LV_CLI_OPT_END,
};

struct group {
    unsigned bit;
    const char *title;
    const struct lv_cli_opt *opts;
};
static const struct group groups[] = {
    {LV_G_PROFILE, "profile", g_profile}, {LV_G_OUTPUT, "output", g_output},
    {LV_G_PUBSUB, "pubsub", g_pubsub},    {LV_G_ITEM, "item", g_item},
    {LV_G_ITEMS, "items", g_items},       {LV_G_CACHE, "cache", g_cache},
};

static const struct lv_cli_opt g_help[] = {
    {"help", 'h', LV_ARG_FLAG, NULL, "show this help and exit"},
    LV_CLI_OPT_END,
};

/* Calls fn for every option a command accepts, its own first. */
static const struct lv_cli_opt *find_opt(const struct lv_cli_cmd *c, const char *lname, char sname)
{
    const struct lv_cli_opt *lists[LV_ARRAY_LEN(groups) + 2];
    size_t n = 0;
    if (c->opts)
        lists[n++] = c->opts;
    for (size_t i = 0; i < LV_ARRAY_LEN(groups); i++)
        if (c->groups & groups[i].bit)
            lists[n++] = groups[i].opts;
    lists[n++] = g_help;
    for (size_t l = 0; l < n; l++)
        for (const struct lv_cli_opt *o = lists[l]; o->name; o++) {
            if (lname && strcmp(o->name, lname) == 0)
                return o;
            if (lname && strcmp(lname, "oo") == 0 && strcmp(o->name, "output-option") == 0)
                return o;
            if (!lname && sname && o->short_name == sname)
                return o;
        }
    return NULL;
}

/* ---- values ---- */

static struct value *value_for(struct lv_cli *cli, const struct lv_cli_opt *o)
{
    for (size_t i = 0; i < cli->nvalues; i++)
        if (cli->values[i].opt == o || strcmp(cli->values[i].opt->name, o->name) == 0)
            return &cli->values[i];
    cli->values = lv_xrealloc(cli->values, (cli->nvalues + 1) * sizeof(*cli->values));
    struct value *v = &cli->values[cli->nvalues++];
    memset(v, 0, sizeof(*v));
    v->opt = o;
    return v;
}

static void push(struct value *v, const char *s)
{
    lv_grow((void **)&v->vals, &v->cap, v->n + 1, sizeof(*v->vals));
    v->vals[v->n++] = s;
}

static const struct value *lookup(const struct lv_cli *cli, const char *name)
{
    for (size_t i = 0; i < cli->nvalues; i++)
        if (strcmp(cli->values[i].opt->name, name) == 0)
            return &cli->values[i];
    return NULL;
}

const char *lv_cli_arg(const struct lv_cli *cli, size_t i)
{
    return i < cli->nargs ? cli->args[i] : NULL;
}

const char *lv_cli_str(const struct lv_cli *cli, const char *name)
{
    const struct value *v = lookup(cli, name);
    return v && v->n ? v->vals[v->n - 1] : NULL;
}

bool lv_cli_flag(const struct lv_cli *cli, const char *name)
{
    const struct value *v = lookup(cli, name);
    return v && v->count > 0;
}

bool lv_cli_given(const struct lv_cli *cli, const char *name)
{
    return lookup(cli, name) != NULL;
}

long lv_cli_int(const struct lv_cli *cli, const char *name, long def)
{
    const char *s = lv_cli_str(cli, name);
    return s ? strtol(s, NULL, 10) : def;
}

size_t lv_cli_values(const struct lv_cli *cli, const char *name, const char *const **vals)
{
    const struct value *v = lookup(cli, name);
    *vals = v ? v->vals : NULL;
    return v ? v->n : 0;
}

const char *lv_cli_output(const struct lv_cli *cli)
{
    const char *o = lv_cli_str(cli, "output");
    return o ? o : "default";
}

bool lv_cli_json(const struct lv_cli *cli)
{
    return strcmp(lv_cli_output(cli), "json") == 0;
}

bool lv_cli_tty(const struct lv_cli *cli)
{
    return cli->tty;
}

int lv_cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* ---- parsing ---- */

static bool is_int(const char *s)
{
    char *end;
    errno = 0;
    strtol(s, &end, 10);
    return *s && !*end && !errno;
}

/* Takes the option's value(s) from argv; returns how many were consumed or
 * -1 (message printed). */
static int take_values(struct lv_cli *cli, const struct lv_cli_opt *o, const char *inline_val,
                       int argc, char **argv, int i)
{
    struct value *v = value_for(cli, o);
    v->count++;
    switch (o->kind) {
    case LV_ARG_FLAG:
        return 0;
    case LV_ARG_OPTVAL:
        if (inline_val)
            push(v, inline_val);
        else if (i + 1 < argc && argv[i + 1][0] != '-' &&
                 (strcmp(argv[i + 1], "true") == 0 || strcmp(argv[i + 1], "false") == 0)) {
            push(v, argv[i + 1]);
            return 1;
        }
        return 0;
    case LV_ARG_PAIR:
    case LV_ARG_TRIPLE: {
        int k = o->kind == LV_ARG_PAIR ? 2 : 3;
        if (i + k >= argc)
            return lv_cli_fail(-1, "option --%s needs %d values (%s)", o->name, k, o->metavar);
        for (int j = 1; j <= k; j++)
            push(v, argv[i + j]);
        return k;
    }
    default:
        break;
    }
    const char *val = inline_val;
    int used = 0;
    if (!val) {
        if (i + 1 >= argc)
            return lv_cli_fail(-1, "option --%s needs a value (%s)", o->name, o->metavar);
        val = argv[i + 1];
        used = 1;
    }
    if (o->kind == LV_ARG_INT && !is_int(val))
        return lv_cli_fail(-1, "option --%s expects an integer, not \"%s\"", o->name, val);
    push(v, val);
    return used;
}

static int parse_long(struct lv_cli *cli, int argc, char **argv, int i)
{
    char *name = lv_xstrdup(argv[i] + 2);
    char *eq = strchr(name, '=');
    if (eq)
        *eq = '\0';
    const struct lv_cli_opt *o = find_opt(cli->cmd, name, 0);
    int r;
    if (!o)
        r = lv_cli_fail(-1, "unknown option --%s for \"%s\" (see %s %s --help)", name,
                        cli->cmd->path, PROG, cli->cmd->path);
    else
        r = take_values(cli, o, eq ? argv[i] + 2 + (eq - name) + 1 : NULL, argc, argv, i);
    free(name);
    return r;
}

/* "-abc": flags may be bundled; a value option takes the rest or the next
 * argument. */
static int parse_short(struct lv_cli *cli, int argc, char **argv, int i)
{
    for (const char *p = argv[i] + 1; *p; p++) {
        const struct lv_cli_opt *o = find_opt(cli->cmd, NULL, *p);
        if (!o)
            return lv_cli_fail(-1, "unknown option -%c for \"%s\" (see %s %s --help)", *p,
                               cli->cmd->path, PROG, cli->cmd->path);
        if (o->kind == LV_ARG_FLAG || o->kind == LV_ARG_OPTVAL) {
            int r = take_values(cli, o, NULL, argc, argv, i);
            if (r != 0 || o->kind == LV_ARG_OPTVAL)
                return r;
            continue;
        }
        return take_values(cli, o, p[1] ? p + 1 : NULL, argc, argv, i);
    }
    return 0;
}

static int parse_args(struct lv_cli *cli, int argc, char **argv)
{
    bool only_args = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int used = 0;
        if (!only_args && strcmp(a, "--") == 0)
            only_args = true;
        else if (!only_args && a[0] == '-' && a[1] == '-')
            used = parse_long(cli, argc, argv, i);
        else if (!only_args && a[0] == '-' && a[1] && !is_int(a))
            used = parse_short(cli, argc, argv, i);
        else {
            cli->args = lv_xrealloc(cli->args, (cli->nargs + 1) * sizeof(*cli->args));
            cli->args[cli->nargs++] = a;
        }
        if (used < 0)
            return -1;
        i += used;
    }
    return 0;
}

/* ---- help, man page, completion ---- */

static void print_opts(FILE *out, const struct lv_cli_opt *opts, const char *title)
{
    fprintf(out, "\n%s options:\n", title);
    for (const struct lv_cli_opt *o = opts; o->name; o++) {
        char left[64];
        const char *mv = o->metavar ? o->metavar : "";
        const char *sep = o->kind == LV_ARG_FLAG ? "" : " ";
        if (o->short_name)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name, sep, mv);
        else
            snprintf(left, sizeof(left), "    --%s%s%s", o->name, sep, mv);
        fprintf(out, "  %-30s %s\n", left, o->help);
    }
}

static void cmd_help(FILE *out, const struct lv_cli_cmd *c)
{
    fprintf(out, "usage: %s %s [OPTIONS]%s%s\n\n%s\n", PROG, c->path, c->args ? " " : "",
            c->args ? c->args : "", c->summary);
    if (c->help)
        fprintf(out, "\n%s\n", c->help);
    if (c->opts && c->opts->name)
        print_opts(out, c->opts, "Command");
    for (size_t i = 0; i < LV_ARRAY_LEN(groups); i++)
        if (c->groups & groups[i].bit)
            print_opts(out, groups[i].opts, groups[i].title);
    if (c->outputs)
        fprintf(out, "\nOutputs (-O): %s\n", c->outputs);
    if (c->examples)
        fprintf(out, "\nExamples:\n%s", c->examples);
}

/* Commands whose path starts with prefix words (prefix "" = all). */
static void list_commands(FILE *out, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < nregistry; i++) {
        const char *p = registry[i]->path;
        if (pl == 0 || (strncmp(p, prefix, pl) == 0 && (p[pl] == ' ' || p[pl] == '\0')))
            fprintf(out, "  %-34s %s\n", p, registry[i]->summary);
    }
}

static void main_help(FILE *out)
{
    fprintf(out,
            "usage: %s COMMAND [SUBCOMMAND...] [OPTIONS] [ARGS]\n\n"
            "Libervia command-line frontend: blogs, pubsub, profiles... It talks to a\n"
            "running libervia-backend through its bridge socket.\n\nCommands:\n",
            PROG);
    list_commands(out, "");
    fprintf(out, "\nEvery command takes --help. Global options (before the command):\n"
                 "  --config FILE   read this libervia.conf (also: $LIBERVIA_CONFIG)\n"
                 "  --version       print the version\n\n"
                 "Examples:\n"
                 "  echo 'Hello *world*' | li blog set -T 'First post' -t news\n"
                 "  li blog get -m 5 -O json\n"
                 "  li pubsub get -s pubsub.example.org -n news -M 10\n\n"
                 "Exit codes: 0 ok, 1 error, 2 bad arguments, 3 backend not running, 4 backend\n"
                 "error, 16 not found, 17 invalid data, 19 conflict, 20 cancelled, 21 permission\n"
                 "denied.\n");
}

static void roff(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s == '-')
            fputs("\\-", stdout);
        else if (*s == '.' && (s == 0 || s[-1] == '\n'))
            fputs("\\&.", stdout);
        else
            putchar(*s);
    }
}

static void roff_opts(const struct lv_cli_opt *opts)
{
    for (const struct lv_cli_opt *o = opts; o->name; o++) {
        printf(".TP\n.B ");
        if (o->short_name)
            printf("\\-%c, ", o->short_name);
        printf("\\-\\-");
        roff(o->name);
        if (o->metavar && o->kind != LV_ARG_FLAG)
            printf(" \\fI%s\\fR", o->metavar);
        printf("\n");
        roff(o->help);
        printf("\n");
    }
}

static int man_page(void)
{
    printf(".TH LI 1 \"\" \"libervia-cli " VERSION "\" \"Libervia\"\n.SH NAME\n"
           "li, libervia\\-cli \\- Libervia command\\-line frontend\n.SH SYNOPSIS\n"
           ".B li\n\\fICOMMAND\\fR [\\fISUBCOMMAND\\fR...] [\\fIOPTIONS\\fR] "
           "[\\fIARGS\\fR]\n.SH DESCRIPTION\nTalks to a running libervia\\-backend through "
           "its bridge socket.\n.SH COMMANDS\n");
    for (size_t i = 0; i < nregistry; i++) {
        const struct lv_cli_cmd *c = registry[i];
        printf(".SS \"li ");
        roff(c->path);
        if (c->args) {
            printf(" ");
            roff(c->args);
        }
        printf("\"\n");
        roff(c->summary);
        printf("\n");
        if (c->help) {
            printf(".PP\n");
            roff(c->help);
            printf("\n");
        }
        if (c->opts && c->opts->name)
            roff_opts(c->opts);
        if (c->examples) {
            printf(".PP\nExamples:\n.nf\n");
            roff(c->examples);
            printf(".fi\n");
        }
    }
    printf(".SH COMMON OPTIONS\n");
    for (size_t i = 0; i < LV_ARRAY_LEN(groups); i++)
        roff_opts(groups[i].opts);
    printf(".SH EXIT STATUS\n0 ok, 1 error, 2 bad arguments, 3 backend not running, 4 backend "
           "error, 16 not found, 17 invalid data, 19 conflict, 20 cancelled, 21 permission "
           "denied.\n.SH FILES\nlibervia.conf: see libervia\\-backend(1).\n");
    return LV_EXIT_OK;
}

static void completion_words(const struct lv_cli_cmd *c)
{
    if (c->opts)
        for (const struct lv_cli_opt *o = c->opts; o->name; o++)
            printf(" --%s", o->name);
    for (size_t g = 0; g < LV_ARRAY_LEN(groups); g++)
        if (c->groups & groups[g].bit)
            for (const struct lv_cli_opt *o = groups[g].opts; o->name; o++)
                printf(" --%s", o->name);
    printf(" --help");
}

/* bash completion: the command tree and each command's options. */
static int completion(void)
{
    printf("# bash completion for li, generated by `li completion bash`\n"
           "_li_complete() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} path=\"\" w\n"
           "    for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n"
           "        [[ $w == -* ]] && break\n"
           "        path=\"${path:+$path }$w\"\n"
           "    done\n"
           "    local words\n"
           "    case \"$path\" in\n");
    /* Words that may follow each prefix of every command path. */
    for (size_t i = 0; i < nregistry; i++) {
        printf("    \"%s\") words=\"", registry[i]->path);
        completion_words(registry[i]);
        printf("\" ;;\n");
    }
    printf("    *) words=\"$(li _words \"$path\" 2>/dev/null)\" ;;\n"
           "    esac\n"
           "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
           "}\n"
           "complete -F _li_complete li libervia-cli\n");
    return LV_EXIT_OK;
}

/* Next words after a partial command path (used by the completion), each
 * once. */
static int next_words(const char *prefix)
{
    size_t pl = strlen(prefix);
    char *seen[MAX_CMDS];
    size_t nseen = 0;
    for (size_t i = 0; i < nregistry; i++) {
        const char *p = registry[i]->path;
        if (pl && (strncmp(p, prefix, pl) != 0 || p[pl] != ' '))
            continue;
        const char *w = p + (pl ? pl + 1 : 0);
        const char *sp = strchr(w, ' ');
        char *word = lv_xstrndup(w, sp ? (size_t)(sp - w) : strlen(w));
        bool dup = false;
        for (size_t k = 0; k < nseen && !dup; k++)
            dup = strcmp(seen[k], word) == 0;
        if (dup) {
            free(word);
            continue;
        }
        printf("%s\n", word);
        seen[nseen++] = word;
    }
    for (size_t k = 0; k < nseen; k++)
        free(seen[k]);
    return LV_EXIT_OK;
}

/* ---- finding the command ---- */

/* The longest registered path made of argv's leading words. */
static const struct lv_cli_cmd *find_command(int argc, char **argv, int *consumed)
{
    const struct lv_cli_cmd *best = NULL;
    struct lv_buf path = LV_BUF_INIT;
    for (int i = 0; i < argc && argv[i][0] != '-'; i++) {
        if (i)
            lv_buf_addc(&path, ' ');
        lv_buf_adds(&path, argv[i]);
        for (size_t c = 0; c < nregistry; c++)
            if (strcmp(registry[c]->path, path.data) == 0) {
                best = registry[c];
                *consumed = i + 1;
            }
    }
    lv_buf_release(&path);
    return best;
}

/* Help for a group ("li blog --help") or an unknown command. */
static int group_help(int argc, char **argv, bool asked)
{
    struct lv_buf path = LV_BUF_INIT;
    for (int i = 0; i < argc && argv[i][0] != '-'; i++) {
        if (i)
            lv_buf_addc(&path, ' ');
        lv_buf_adds(&path, argv[i]);
    }
    bool known = false;
    size_t pl = path.len;
    for (size_t c = 0; c < nregistry && pl; c++)
        if (strncmp(registry[c]->path, path.data, pl) == 0 && registry[c]->path[pl] == ' ')
            known = true;
    FILE *out = asked ? stdout : stderr;
    if (!known) {
        if (pl)
            fprintf(stderr, PROG ": unknown command \"%s\"\n\n", path.data);
        main_help(out);
    } else {
        fprintf(out, "usage: %s %s SUBCOMMAND [OPTIONS]\n\nSubcommands:\n", PROG, path.data);
        list_commands(out, path.data);
    }
    lv_buf_release(&path);
    return asked ? LV_EXIT_OK : LV_EXIT_BAD_ARG;
}

/* ---- bridge calls ---- */

static int exit_for(int code)
{
    switch (code) {
    case LV_ERR_NOT_FOUND:
        return LV_EXIT_NOT_FOUND;
    case LV_ERR_CONFLICT:
        return LV_EXIT_CONFLICT;
    case LV_ERR_PERM:
    case LV_ERR_AUTH:
        return LV_EXIT_PERMISSION;
    case LV_ERR_INVAL:
    case LV_ERR_LIMIT:
        return LV_EXIT_DATA;
    case LV_ERR_CANCELLED:
        return LV_EXIT_CANCELLED;
    case LV_ERR_INTERNAL:
        return LV_EXIT_INTERNAL;
    default:
        return LV_EXIT_ERRBACK;
    }
}

static int raw_call(struct lv_cli *cli, const char *method, json_t *params, json_t **result)
{
    struct lv_error err;
    json_t *res = NULL;
    int rc = lv_bridge_call(cli->socket, method, params, CALL_TIMEOUT_MS, &res, &err);
    if (rc == LV_ERR_IO && strstr(err.msg, "not running"))
        return lv_cli_fail(LV_EXIT_BRIDGE, "%s", err.msg);
    if (rc != 0)
        return lv_cli_fail(exit_for(rc), "%s", err.msg);
    if (result)
        *result = res;
    else
        json_decref(res);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* -c: connect the profile and wait until it is online (or failed). */
static int ensure_connected(struct lv_cli *cli)
{
    json_t *p = json_object();
    if (lv_cli_str(cli, "profile"))
        json_object_set_new(p, "profile", json_string(lv_cli_str(cli, "profile")));
    if (lv_cli_str(cli, "pwd"))
        json_object_set_new(p, "password", json_string(lv_cli_str(cli, "pwd")));
    int rc = raw_call(cli, "connect", json_deep_copy(p), NULL);
    for (int i = 0; rc == 0 && i < 300; i++) {
        json_t *res = NULL;
        rc = raw_call(cli, "isConnected", json_deep_copy(p), &res);
        bool ok = json_is_true(res);
        json_decref(res);
        if (rc != 0 || ok)
            break;
        sleep_ms(100);
    }
    json_decref(p);
    return rc;
}

int lv_cli_call(struct lv_cli *cli, const char *method, json_t *params, json_t **result)
{
    if (!params)
        params = json_object();
    if ((cli->cmd->groups & LV_G_PROFILE) && lv_cli_str(cli, "profile") &&
        !json_object_get(params, "profile"))
        json_object_set_new(params, "profile", json_string(lv_cli_str(cli, "profile")));
    return raw_call(cli, method, params, result);
}

void lv_cli_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    printf("%s\n", s ? s : "null");
    free(s);
}

/* ---- helpers for commands ---- */

char *lv_cli_read_stdin(size_t max)
{
    struct lv_buf b = LV_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        lv_buf_add(&b, chunk, n);
        if (b.len > max) {
            lv_buf_release(&b);
            return NULL;
        }
    }
    return lv_buf_detach(&b);
}

int lv_cli_edit_file(const char *path)
{
    const char *ed = getenv("VISUAL");
    if (!ed || !*ed)
        ed = getenv("EDITOR");
    if (!ed || !*ed)
        ed = "vi";
    pid_t pid = fork();
    if (pid == 0) {
        /* Through the shell, as $EDITOR may carry arguments ("code -w"). */
        execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", ed, path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

json_t *lv_cli_pubsub_target(struct lv_cli *cli)
{
    json_t *t = json_object();
    const char *s = lv_cli_str(cli, "service");
    const char *n = lv_cli_str(cli, "node");
    if (s)
        json_object_set_new(t, "service", json_string(s));
    if (n)
        json_object_set_new(t, "node", json_string(n));
    const char *u = lv_cli_str(cli, "pubsub-url");
    if (u)
        json_object_set_new(t, "uri", json_string(u));
    return t;
}

/* ---- main ---- */

static char *socket_path(const char *config_path, int *rc)
{
    struct lv_config *cfg = lv_config_new();
    struct lv_error err;
    if (!config_path)
        config_path = getenv("LIBERVIA_CONFIG");
    if (lv_config_load_default(cfg, config_path, &err) != 0) {
        *rc = lv_cli_fail(LV_EXIT_BAD_ARG, "%s", err.msg);
        lv_config_free(cfg);
        return NULL;
    }
    char *s = lv_xstrdup(lv_config_str(cfg, "bridge", "socket"));
    lv_config_free(cfg);
    return s;
}

static int check_output(struct lv_cli *cli)
{
    const char *o = lv_cli_str(cli, "output");
    if (!o)
        return 0;
    const char *allowed = cli->cmd->outputs ? cli->cmd->outputs : "default";
    size_t n = strlen(o);
    for (const char *p = allowed; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
        if (strncmp(p, o, n) == 0 && (p[n] == '|' || p[n] == '\0'))
            return 0;
    return lv_cli_fail(LV_EXIT_BAD_ARG, "output \"%s\" is not available here (choose from %s)", o,
                       allowed);
}

static int run_command(const struct lv_cli_cmd *cmd, const char *config, int argc, char **argv)
{
    struct lv_cli cli = {0};
    cli.cmd = cmd;
    cli.tty = isatty(1);
    int rc = 0;
    if (parse_args(&cli, argc, argv) != 0) {
        rc = LV_EXIT_BAD_ARG;
    } else if (lv_cli_flag(&cli, "help")) {
        cmd_help(stdout, cmd);
    } else if ((int)cli.nargs < cmd->min_args ||
               (cmd->max_args >= 0 && (int)cli.nargs > cmd->max_args)) {
        rc = lv_cli_fail(LV_EXIT_BAD_ARG, "usage: %s %s [OPTIONS]%s%s (see --help)", PROG,
                         cmd->path, cmd->args ? " " : "", cmd->args ? cmd->args : "");
    } else if ((rc = check_output(&cli)) == 0) {
        cli.socket = socket_path(config, &rc);
        if (cli.socket && (cmd->groups & LV_G_PROFILE) && lv_cli_flag(&cli, "connect"))
            rc = ensure_connected(&cli);
        if (cli.socket && rc == 0)
            rc = cmd->run(&cli);
    }
    for (size_t i = 0; i < cli.nvalues; i++)
        free(cli.values[i].vals);
    free(cli.values);
    free(cli.args);
    free(cli.socket);
    return rc;
}

int lv_cli_main(int argc, char **argv)
{
    lv_log_set_level(LV_LOG_WARN);
    const char *config = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--version") == 0)
            return printf("li (libervia-cli) " VERSION "\n"), LV_EXIT_OK;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return main_help(stdout), LV_EXIT_OK;
        else
            return lv_cli_fail(LV_EXIT_BAD_ARG, "unknown option %s (see li --help)", argv[i]);
    }
    argc -= i;
    argv += i;
    if (argc >= 1 && strcmp(argv[0], "manpage") == 0)
        return man_page();
    if (argc >= 2 && strcmp(argv[0], "completion") == 0 && strcmp(argv[1], "bash") == 0)
        return completion();
    if (argc >= 1 && strcmp(argv[0], "_words") == 0)
        return next_words(argc > 1 ? argv[1] : "");
    int consumed = 0;
    const struct lv_cli_cmd *cmd = find_command(argc, argv, &consumed);
    if (!cmd) {
        bool asked = false;
        for (int a = 0; a < argc; a++)
            asked |= strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0;
        return group_help(argc, argv, asked);
    }
    return run_command(cmd, config, argc - consumed, argv + consumed);
}
