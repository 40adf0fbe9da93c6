/* lv_config: libervia.conf, declared once in a table.
 *
 * Every option the programs read is declared in one table (lv_config.c):
 * section, key, type, default, limits and help. The INI parser, the
 * `--help-config` output and doc/configuration.md are all generated from that
 * table. The file format is the reference's (Python ConfigParser, read by our
 * own small reader rather than inih, whose 200-byte line limit cut long
 * values and whose syntax differs): sections [DEFAULT] and [component NAME],
 * "key = value" or "key: value", keys case-insensitive, indented lines
 * continue a value, `%(key)s` refers to a [DEFAULT] key (expanded when read,
 * so the latest value counts; `%%` is a literal %), `~` starts a path with
 * $HOME.
 *
 * In a section that this program knows, an unknown key or a bad value is an
 * error naming the file, the line and the key. Sections of other programs
 * (frontends) are ignored with a debug message. */
#ifndef LV_CONFIG_H
#define LV_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "core/lv_err.h"

enum lv_opt_type {
    LV_OPT_STRING,
    LV_OPT_PATH, /* string, "~" expanded */
    LV_OPT_INT,  /* within [min, max] */
    LV_OPT_BOOL, /* true/false, yes/no, on/off, 1/0 */
    LV_OPT_ENUM, /* one of the '|'-separated choices */
    LV_OPT_SIZE, /* bytes: an integer or "500 KiB", "1 MB", "10 Mo" */
};

struct lv_opt {
    const char *section; /* "DEFAULT", "storage", "component ap-gateway"... */
    const char *key;
    enum lv_opt_type type;
    const char *def;     /* default; may use %(key)s and @XDG_DATA_HOME@ / @XDG_RUNTIME_DIR@ */
    long long min, max;  /* INT and SIZE */
    const char *choices; /* ENUM: "a|b|c" */
    const char *help;
};

struct lv_config;

/* A config holding every option at its default. Caller frees. */
struct lv_config *lv_config_new(void);
void lv_config_free(struct lv_config *cfg);

/* Loads the standard files, lowest priority first: /etc/libervia.conf,
 * /etc/libervia/libervia.conf, $XDG_CONFIG_HOME/libervia/libervia.conf
 * (~/.config when unset). With explicit_path non-NULL only that file is read
 * (and it must exist). Missing standard files are skipped. */
int lv_config_load_default(struct lv_config *cfg, const char *explicit_path, struct lv_error *err);
/* Loads one file on top of what is there. LV_ERR_NOT_FOUND if it can't be
 * opened, LV_ERR_CONFIG for a syntax error, unknown key or bad value
 * ("FILE:LINE: [section] key: reason"). */
int lv_config_load_file(struct lv_config *cfg, const char *path, struct lv_error *err);
/* Sets one option from a string, validated as if read from a file. */
int lv_config_set(struct lv_config *cfg, const char *section, const char *key, const char *value,
                  struct lv_error *err);

/* Typed getters. The (section, key) pair must be declared in the table:
 * asking for an undeclared option is a programming error and aborts.
 * Strings are borrowed from cfg and live until the option changes. */
const char *lv_config_str(const struct lv_config *cfg, const char *section, const char *key);
long long lv_config_int(const struct lv_config *cfg, const char *section, const char *key);
bool lv_config_bool(const struct lv_config *cfg, const char *section, const char *key);
/* Where the value came from: "FILE:LINE" or "default". Borrowed. */
const char *lv_config_origin(const struct lv_config *cfg, const char *section, const char *key);

/* Parses a size ("1048576", "500 KiB", "1GB", "10 Mo"; decimal kB..EB and
 * ko..Eo, binary KiB..EiB; larger units overflow and are refused). Returns 0
 * or LV_ERR_INVAL. */
int lv_config_parse_size(const char *s, long long *out);
/* Parses a boolean as the reference does. Returns 0 or LV_ERR_INVAL. */
int lv_config_parse_bool(const char *s, bool *out);

/* The option table and its size. */
const struct lv_opt *lv_config_options(size_t *count);
/* Writes doc/configuration.md's content (markdown, key by key). */
void lv_config_write_doc(FILE *out);

#endif
