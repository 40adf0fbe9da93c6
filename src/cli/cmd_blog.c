/* li blog ...: XEP-0277 microblogging. */
#include "cli/lv_cli.h"
#include "cli/lv_cli_cmds.h"
#include "cli/lv_cli_pubsub.h"
#include "core/lv_buf.h"
#include "core/lv_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_POST_BYTES (8u * 1024 * 1024)
#define NS_MICROBLOG "urn:xmpp:microblog:0"

static json_t *blog_params(struct lv_cli *cli)
{
    json_t *p = lv_cli_ps_params(cli);
    if (!json_object_get(p, "node") && !json_object_get(p, "uri"))
        json_object_set_new(p, "node", json_string(NS_MICROBLOG));
    return p;
}

/* ---- li blog set ---- */

static int check_syntax(const char *syntax)
{
    static const char *const known[] = {"markdown", "text", "xhtml"};
    for (size_t i = 0; i < LV_ARRAY_LEN(known); i++)
        if (strcasecmp(syntax, known[i]) == 0)
            return 0;
    return lv_cli_fail(LV_EXIT_BAD_ARG, "unknown syntax \"%s\" (markdown, text or xhtml)", syntax);
}

/* Post data from the options and a content. */
static json_t *post_data(struct lv_cli *cli, const char *content, const char *syntax)
{
    json_t *d = json_object();
    if (lv_cli_str(cli, "title"))
        json_object_set_new(d, "title", json_string(lv_cli_str(cli, "title")));
    if (content && *content) {
        if (strcasecmp(syntax, "text") == 0) {
            json_object_set_new(d, "content", json_string(content));
        } else {
            json_object_set_new(d, "content_rich", json_string(content));
            json_object_set_new(d, "syntax", json_string(syntax));
        }
    }
    const char *const *tags;
    size_t n = lv_cli_values(cli, "tag", &tags);
    if (n) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_string(tags[i]));
        json_object_set_new(d, "tags", arr);
    }
    if (lv_cli_str(cli, "language"))
        json_object_set_new(d, "language", json_string(lv_cli_str(cli, "language")));
    if (lv_cli_flag(cli, "comments"))
        json_object_set_new(d, "allow_comments", json_true());
    if (lv_cli_flag(cli, "no-comments"))
        json_object_set_new(d, "allow_comments", json_false());
    if (lv_cli_flag(cli, "no-friendly-id"))
        json_object_set_new(d, "user_friendly_id", json_false());
    return d;
}

static int send_post(struct lv_cli *cli, json_t *data)
{
    json_t *p = blog_params(cli);
    json_object_set_new(p, "data", data);
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "mbSend", p, &res);
    if (rc == 0)
        printf(lv_cli_tty(cli) ? "published: %s\n" : "%s\n", json_string_value(res));
    json_decref(res);
    return rc;
}

static int run_set(struct lv_cli *cli)
{
    const char *syntax = lv_cli_str(cli, "syntax") ? lv_cli_str(cli, "syntax") : "markdown";
    if (check_syntax(syntax) != 0)
        return LV_EXIT_BAD_ARG;
    if (lv_cli_flag(cli, "comments") && lv_cli_flag(cli, "no-comments"))
        return lv_cli_fail(LV_EXIT_BAD_ARG, "--comments and --no-comments contradict each other");
    if (isatty(0))
        fprintf(stderr, "Type the post (%s), then Ctrl-D:\n", syntax);
    char *content = lv_cli_read_stdin(MAX_POST_BYTES);
    if (!content)
        return lv_cli_fail(LV_EXIT_DATA, "the post is larger than %u bytes", MAX_POST_BYTES);
    json_t *d = post_data(cli, content, syntax);
    free(content);
    if (!json_object_get(d, "title") && !json_object_get(d, "content") &&
        !json_object_get(d, "content_rich")) {
        json_decref(d);
        return lv_cli_fail(LV_EXIT_DATA, "empty post: give a title (-T) or some content on stdin");
    }
    int rc = 0;
    if (lv_cli_str(cli, "item") || lv_cli_flag(cli, "last-item")) {
        char *id = lv_cli_ps_item_id(cli, "mbGet", &rc);
        if (id)
            json_object_set_new(d, "id", json_string(id));
        free(id);
    }
    if (rc != 0) {
        json_decref(d);
        return rc;
    }
    return send_post(cli, d);
}

/* ---- li blog get ---- */

static void print_time(const char *label, json_t *v)
{
    if (!json_is_number(v))
        return;
    time_t t = (time_t)json_number_value(v);
    struct tm tm;
    char buf[64];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
    printf("%s: %s\n", label, buf);
}

static void print_tags(json_t *tags)
{
    if (!json_array_size(tags))
        return;
    printf("tags: ");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) printf("%s%s", i ? ", " : "", json_string_value(t));
    printf("\n");
}

static void print_post(json_t *post, bool first)
{
    const char *title = json_string_value(json_object_get(post, "title"));
    const char *content = json_string_value(json_object_get(post, "content"));
    const char *author = json_string_value(json_object_get(post, "author_jid"));
    const char *lang = json_string_value(json_object_get(post, "language"));
    if (!first)
        printf("\n");
    printf("── %s ──\n", json_string_value(json_object_get(post, "id")));
    if (title)
        printf("title: %s\n", title);
    if (author)
        printf("author: %s%s\n", author,
               json_is_true(json_object_get(post, "author_jid_verified")) ? "" : " (unverified)");
    print_time("published", json_object_get(post, "published"));
    json_t *pub = json_object_get(post, "published"), *upd = json_object_get(post, "updated");
    if (json_is_number(upd) && json_number_value(upd) != json_number_value(pub))
        print_time("updated", upd);
    print_tags(json_object_get(post, "tags"));
    if (lang)
        printf("language: %s\n", lang);
    json_t *comments = json_array_get(json_object_get(post, "comments"), 0);
    if (comments)
        printf("comments: %s\n", json_string_value(json_object_get(comments, "uri")));
    json_t *rep = json_object_get(json_object_get(post, "extra"), "repeated");
    if (rep)
        printf("repeated by %s from %s\n", json_string_value(json_object_get(rep, "by")),
               json_string_value(json_object_get(rep, "uri")));
    if (content && (!title || strcmp(content, title) != 0))
        printf("\n%s\n", content);
}

/* -k KEY: only these keys of each post, one "key: value" per line. */
static void print_keys(json_t *post, const char *const *keys, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        json_t *v = json_object_get(post, keys[k]);
        if (!v)
            continue;
        char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%s: %s\n", keys[k], s ? s : json_string_value(v));
        free(s);
    }
}

/* --tag: the cache knows the tags of every post it holds; the node is synced
 * first if needed, so the search sees all of it. */
static int tagged_posts(struct lv_cli *cli, json_t **items)
{
    json_t *target = blog_params(cli), *synced = NULL;
    int rc = lv_cli_call(cli, "psCacheSync", json_deep_copy(target), &synced);
    json_t *node = json_object_get(target, "node");
    json_t *q = json_pack("{s:[O], s:[{s:[s], s:s, s:o}], s:[{s:s, s:s}], s:I}", "nodes", node,
                          "parsed", "path", "tags", "op", "ioverlap", "value", json_array(),
                          "order_by", "order", "published", "direction", "asc", "limit",
                          (json_int_t)lv_cli_int(cli, "max-items", 1000) > 0
                              ? (json_int_t)lv_cli_int(cli, "max-items", 1000)
                              : 1000);
    const char *const *tags;
    size_t n = lv_cli_values(cli, "tag", &tags);
    json_t *vals = json_object_get(json_array_get(json_object_get(q, "parsed"), 0), "value");
    for (size_t i = 0; i < n; i++)
        json_array_append_new(vals, json_string(tags[i]));
    /* The synced node names the real service (our own JID for our blog). */
    if (json_object_get(synced, "service"))
        json_object_set_new(q, "services", json_pack("[O]", json_object_get(synced, "service")));
    json_decref(synced);
    if (lv_cli_str(cli, "profile"))
        json_object_set_new(q, "profiles", json_pack("[s]", lv_cli_str(cli, "profile")));
    json_decref(target);
    if (rc == 0)
        rc = lv_cli_call(cli, "psCacheSearch", json_pack("{s:o}", "query", q), items);
    else
        json_decref(q);
    return rc;
}

static int run_get(struct lv_cli *cli)
{
    json_t *items, *rsm = NULL;
    int rc = lv_cli_given(cli, "tag")
                 ? tagged_posts(cli, &items)
                 : lv_cli_ps_fetch(cli, "mbGet", blog_params(cli), &items, &rsm);
    if (rc != 0)
        return rc;
    const char *const *keys;
    size_t nkeys = lv_cli_values(cli, "key", &keys);
    size_t i;
    json_t *post;
    if (lv_cli_json(cli)) {
        lv_cli_print_json(items);
    } else if (strcmp(lv_cli_output(cli), "simple") == 0) {
        json_array_foreach(items, i, post)
        {
            const char *title = json_string_value(json_object_get(post, "title"));
            printf("%s\t%s\n", json_string_value(json_object_get(post, "id")), title ? title : "");
        }
    } else {
        json_array_foreach(items, i, post)
        {
            if (nkeys) {
                if (i)
                    printf("\n");
                print_keys(post, keys, nkeys);
            } else {
                print_post(post, i == 0);
            }
        }
    }
    if (!lv_cli_json(cli) && json_array_size(items) == 0 && lv_cli_tty(cli))
        fprintf(stderr, "no post\n");
    json_decref(items);
    json_decref(rsm);
    return 0;
}

/* ---- li blog edit ---- */

/* The draft file: a few "Key: value" header lines, a "---" line, then the
 * body in the given syntax. */
static void write_draft(FILE *f, json_t *post)
{
    const char *title = post ? json_string_value(json_object_get(post, "title")) : NULL;
    const char *xhtml = post ? json_string_value(json_object_get(post, "content_xhtml")) : NULL;
    const char *text = post ? json_string_value(json_object_get(post, "content")) : NULL;
    const char *lang = post ? json_string_value(json_object_get(post, "language")) : NULL;
    fprintf(f, "Title: %s\nTags: ", title ? title : "");
    json_t *tags = post ? json_object_get(post, "tags") : NULL;
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) fprintf(f, "%s%s", i ? ", " : "", json_string_value(t));
    /* An existing post's rich content is kept as XHTML so that nothing is
     * lost; change the syntax line to rewrite it in markdown. */
    fprintf(f, "\nLanguage: %s\nSyntax: %s\n---\n", lang ? lang : "", xhtml ? "xhtml" : "markdown");
    if (xhtml)
        fprintf(f, "%s\n", xhtml);
    else if (text && (!title || strcmp(text, title) != 0))
        fprintf(f, "%s\n", text);
}

static char *header_value(char *line, const char *key)
{
    size_t n = strlen(key);
    if (strncasecmp(line, key, n) != 0 || line[n] != ':')
        return NULL;
    char *v = line + n + 1;
    while (*v == ' ')
        v++;
    return v;
}

/* Reads the draft back into post data (keeping id and comments). */
static json_t *read_draft(const char *path, json_t *old, struct lv_cli *cli)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    json_t *d = json_object();
    char line[4096];
    const char *syntax = "markdown";
    char syntax_buf[32];
    while (fgets(line, sizeof(line), f) && strcmp(line, "---\n") != 0) {
        line[strcspn(line, "\n")] = '\0';
        char *v;
        if ((v = header_value(line, "Title")) && *v)
            json_object_set_new(d, "title", json_string(v));
        else if ((v = header_value(line, "Language")) && *v)
            json_object_set_new(d, "language", json_string(v));
        else if ((v = header_value(line, "Syntax")) && *v)
            syntax = strncpy(syntax_buf, v, sizeof(syntax_buf) - 1);
        else if ((v = header_value(line, "Tags"))) {
            json_t *tags = json_array();
            for (char *tok = strtok(v, ","); tok; tok = strtok(NULL, ",")) {
                while (*tok == ' ')
                    tok++;
                if (*tok)
                    json_array_append_new(tags, json_string(tok));
            }
            json_object_set_new(d, "tags", tags);
        }
    }
    syntax_buf[sizeof(syntax_buf) - 1] = '\0';
    struct lv_buf body = LV_BUF_INIT;
    size_t n;
    while ((n = fread(line, 1, sizeof(line), f)) > 0)
        lv_buf_add(&body, line, n);
    fclose(f);
    if (body.len)
        json_object_set_new(d, strcasecmp(syntax, "text") ? "content_rich" : "content",
                            json_string(body.data));
    json_object_set_new(d, "syntax", json_string(syntax));
    lv_buf_release(&body);
    if (old) {
        static const char *const keep[] = {"id", "atom_id", "comments", "published"};
        for (size_t i = 0; i < LV_ARRAY_LEN(keep); i++)
            if (json_object_get(old, keep[i]))
                json_object_set(d, keep[i], json_object_get(old, keep[i]));
    }
    (void)cli;
    return d;
}

static json_t *fetch_post(struct lv_cli *cli, int *rc)
{
    *rc = 0;
    if (!lv_cli_str(cli, "item") && !lv_cli_flag(cli, "last-item"))
        return NULL; /* a new post */
    char *id = lv_cli_ps_item_id(cli, "mbGet", rc);
    if (!id)
        return NULL;
    json_t *p = blog_params(cli);
    json_object_set_new(p, "item_ids", json_pack("[s]", id));
    json_t *res = NULL;
    *rc = lv_cli_call(cli, "mbGet", p, &res);
    json_t *post = json_incref(json_array_get(json_object_get(res, "items"), 0));
    json_decref(res);
    if (*rc == 0 && !post)
        *rc = lv_cli_fail(LV_EXIT_NOT_FOUND, "no blog post %s", id);
    free(id);
    return post;
}

static int run_edit(struct lv_cli *cli)
{
    int rc;
    json_t *post = fetch_post(cli, &rc);
    if (rc != 0)
        return rc;
    char path[] = "/tmp/li-blog-XXXXXX.md";
    int fd = mkstemps(path, 3);
    if (fd < 0) {
        json_decref(post);
        return lv_cli_fail(LV_EXIT_ERROR, "cannot create a draft file");
    }
    FILE *f = fdopen(fd, "w");
    write_draft(f, post);
    fclose(f);
    if (lv_cli_edit_file(path) != 0) {
        json_decref(post);
        return lv_cli_fail(LV_EXIT_CANCELLED, "the editor failed; draft kept in %s", path);
    }
    json_t *d = read_draft(path, post, cli);
    json_decref(post);
    if (!d || (!json_object_get(d, "title") && !json_object_get(d, "content_rich") &&
               !json_object_get(d, "content"))) {
        json_decref(d);
        unlink(path);
        return lv_cli_fail(LV_EXIT_CANCELLED, "empty post, nothing published");
    }
    if (lv_cli_flag(cli, "no-publish")) {
        json_decref(d);
        printf("draft kept in %s (not published)\n", path);
        return 0;
    }
    rc = send_post(cli, d);
    if (rc == 0)
        unlink(path);
    else
        fprintf(stderr, "li: the draft is kept in %s\n", path);
    return rc;
}

/* ---- delete, rename, repeat ---- */

static int run_delete(struct lv_cli *cli)
{
    if (!lv_cli_str(cli, "item") && !lv_cli_flag(cli, "last-item"))
        return lv_cli_fail(LV_EXIT_BAD_ARG, "which post? use -i ITEM or -L");
    int rc;
    char *id = lv_cli_ps_item_id(cli, "mbGet", &rc);
    if (!id)
        return rc;
    if (!lv_cli_flag(cli, "force")) {
        char ans[8] = "";
        if (isatty(0)) {
            printf("delete post %s? [y/N] ", id);
            fflush(stdout);
        }
        if (!isatty(0) || !fgets(ans, sizeof(ans), stdin) || (ans[0] != 'y' && ans[0] != 'Y')) {
            free(id);
            return lv_cli_fail(LV_EXIT_CANCELLED, "not deleted (confirm with -f)");
        }
    }
    json_t *p = blog_params(cli);
    json_object_set_new(p, "item_id", json_string(id));
    rc = lv_cli_call(cli, "psItemRetract", p, NULL);
    if (rc == 0)
        printf("post %s deleted\n", id);
    free(id);
    return rc;
}

static int run_rename(struct lv_cli *cli)
{
    int rc;
    char *id = lv_cli_ps_item_id(cli, "mbGet", &rc);
    if (!id)
        return rc;
    json_t *p = blog_params(cli);
    json_object_set_new(p, "item_id", json_string(id));
    json_object_set_new(p, "new_id", json_string(lv_cli_arg(cli, 0)));
    json_object_set_new(p, "force", json_boolean(lv_cli_flag(cli, "force")));
    rc = lv_cli_call(cli, "psItemRename", p, NULL);
    if (rc == 0)
        printf("post %s renamed to %s\n", id, lv_cli_arg(cli, 0));
    free(id);
    return rc;
}

static int run_repeat(struct lv_cli *cli)
{
    int rc;
    char *id = lv_cli_ps_item_id(cli, "mbGet", &rc);
    if (!id)
        return rc;
    json_t *p = blog_params(cli);
    json_object_set_new(p, "item_id", json_string(id));
    json_t *res = NULL;
    rc = lv_cli_call(cli, "mbRepeat", p, &res);
    if (rc == 0)
        printf("repeated as %s\n", json_is_string(res) ? json_string_value(res) : "(new item)");
    json_decref(res);
    free(id);
    return rc;
}

/* ---- tables ---- */

#define POST_OPTS                                                                                  \
    {"title", 'T', LV_ARG_VALUE, "TITLE", "title of the post"},                                    \
        {"tag", 't', LV_ARG_MULTI, "TAG", "tag (category) of the post (repeatable)"},              \
        {"language", 'l', LV_ARG_VALUE, "LANG", "language of the post (ISO 639 code)"},            \
        {"comments", 'C', LV_ARG_FLAG, NULL, "enable comments"},                                   \
        {"no-comments", 0, LV_ARG_FLAG, NULL, "disable comments"},                                 \
        {"syntax", 'S', LV_ARG_VALUE, "SYNTAX", "markdown (default), text or xhtml"},              \
    {                                                                                              \
        "no-friendly-id", 0, LV_ARG_FLAG, NULL,                                                    \
            "use a random id instead of one made from the title (user_friendly_id: false)"         \
    }

static const struct lv_cli_opt set_opts[] = {POST_OPTS, LV_CLI_OPT_END};
static const struct lv_cli_opt edit_opts[] = {
    POST_OPTS,
    {"no-publish", 0, LV_ARG_FLAG, NULL, "keep the draft, don't publish"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt get_opts[] = {
    {"key", 'k', LV_ARG_MULTI, "KEY", "post data key to show (repeatable)"},
    {"tag", 0, LV_ARG_MULTI, "TAG",
     "only posts with this tag (any of them if repeated; case ignored), from the cache"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt force_opts[] = {
    {"force", 'f', LV_ARG_FLAG, NULL, "don't ask / replace an existing item"},
    LV_CLI_OPT_END,
};

#define BLOG (LV_G_PROFILE | LV_G_PUBSUB)

static const struct lv_cli_cmd cmds[] = {
    {"blog set", "publish a blog post (content read from stdin)",
     "Without -i, the post gets a readable id made from its title (\"my-title-x9Fz\"), never "
     "overwriting another post. With -i ITEM (or -L), that post is replaced.",
     NULL, 0, 0, BLOG | LV_G_ITEM, NULL, set_opts,
     "  echo 'Hello *world*' | li blog set -T 'First post' -t news -t xmpp\n"
     "  li blog set -C -l fr < post.md\n"
     "  echo 'plain words' | li blog set -S text -s pubsub.example.org -n news\n",
     run_set},
    {"blog get", "show blog posts", NULL, NULL, 0, 0, BLOG | LV_G_ITEMS | LV_G_OUTPUT | LV_G_CACHE,
     "default|json|simple", get_opts,
     "  li blog get -m 5\n  li blog get -s louise@example.org -M -1 -O simple\n"
     "  li blog get -i my-title-x9Fz -k title -k tags\n",
     run_get},
    {"blog edit", "edit a post (or write a new one) in $EDITOR", NULL, NULL, 0, 0, BLOG | LV_G_ITEM,
     NULL, edit_opts, "  li blog edit -L\n  EDITOR=nano li blog edit\n", run_edit},
    {"blog rename", "give a post a new id",
     "Copies the post under the new id, then retracts the old one only if the copy "
     "succeeded; its comments node stays attached. Refused if the id exists, unless -f.",
     "NEW_ID", 1, 1, BLOG | LV_G_ITEM, NULL, force_opts,
     "  li blog rename -i hello-world-f5WL hello-world\n", run_rename},
    {"blog delete", "delete a post", NULL, NULL, 0, 0, BLOG | LV_G_ITEM, NULL, force_opts,
     "  li blog delete -L -f\n", run_delete},
    {"blog repeat", "repeat (share) a post on your own blog", NULL, NULL, 0, 0, BLOG | LV_G_ITEM,
     NULL, NULL, "  li blog repeat -s pierre@example.org -i his-post-AbCd\n", run_repeat},
};

void lv_cli_cmds_blog(void)
{
    lv_cli_register(cmds, LV_ARRAY_LEN(cmds));
}
