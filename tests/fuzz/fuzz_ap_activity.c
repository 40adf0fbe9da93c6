/* libFuzzer target for lv_ap_json: activities as peers POST them.
 *
 * The input is an activity body. It is parsed with lv_ap_activity_parse();
 * when that succeeds and the object is embedded, the object goes through
 * lv_ap_mb_from_note() as an incoming Create or Update would. Beyond "does
 * not crash or leak":
 * - a parse either succeeds with id (http(s)), type and actor set and
 *   recipients as arrays of strings, or fails with LV_ERR_INVAL or
 *   LV_ERR_LIMIT, a message, and an empty result;
 * - post data made from a Note is accepted by lv_mb_entry_from_data() (the
 *   gateway publishes it), whose Atom entry serialises to XML our parser
 *   reads back;
 * - that post data makes a Note again (lv_ap_note_from_mb()), and an
 *   activity built around it parses as an activity. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ap/lv_ap_json.h"
#include "blog/lv_mb.h"
#include "core/lv_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what, const char *detail)
{
    if (!cond) {
        fprintf(stderr, "fuzz_ap_activity: property violated: %s\n%s\n", what,
                detail ? detail : "");
        abort();
    }
}

static void check_list(const json_t *list)
{
    size_t i;
    json_t *v;
    check(json_is_array(list), "recipients are an array", NULL);
    json_array_foreach(list, i, v)
    {
        check(json_is_string(v) && json_string_length(v) > 0, "recipients are strings", NULL);
    }
}

static void check_parsed(int rc, const struct lv_ap_activity *a, const struct lv_error *err)
{
    if (rc != 0) {
        check(rc == LV_ERR_INVAL || rc == LV_ERR_LIMIT, "parse fails with INVAL or LIMIT", NULL);
        check(err->code == rc && err->msg[0], "a failure has a message", NULL);
        check(!a->doc && !a->id && !a->actor && !a->object, "a failure leaves nothing", NULL);
        return;
    }
    check(json_is_object(a->doc), "the document is an object", NULL);
    check(a->id &&
              (strncasecmp(a->id, "http://", 7) == 0 || strncasecmp(a->id, "https://", 8) == 0),
          "the id is an http(s) URL", a->id);
    check(a->type && *a->type, "the type is set", NULL);
    check(a->actor && *a->actor, "the actor is set", NULL);
    check(!a->object_type || json_is_object(a->object), "object_type only for objects", NULL);
    check_list(a->to);
    check_list(a->cc);
    check_list(a->bto);
    check_list(a->bcc);
    check_list(a->audience);
}

/* The post data is what lv_mb publishes. */
static void check_entry(json_t *mb)
{
    static const struct lv_xml_limits lim = {1 << 24, 128, 128, 1 << 20};
    const char *id = json_string_value(json_object_get(mb, "id"));
    check(id && *id, "post data has an id", NULL);
    struct lv_xml *entry = NULL;
    struct lv_error err = {0};
    int rc = lv_mb_entry_from_data(mb, "peer@gw.example", LV_NS_MICROBLOG, id, NULL, &entry, &err);
    check(rc == 0, "lv_mb_entry_from_data accepts the post data", err.msg);
    char *xml = lv_xml_to_string(entry, NULL);
    struct lv_xml *back = NULL;
    rc = lv_xml_parse(xml, strlen(xml), &lim, &back, &err);
    check(rc == 0, "the Atom entry parses again", err.msg);
    json_t *d = NULL;
    rc = lv_mb_data_from_entry(back, "peer@gw.example", LV_NS_MICROBLOG, id, NULL, &d, &err);
    check(rc == 0, "the Atom entry reads back", err.msg);
    json_decref(d);
    lv_xml_unref(back);
    free(xml);
    lv_xml_unref(entry);
}

/* And it makes a Note again, in an activity that parses. */
static void check_note(const json_t *mb)
{
    static const struct lv_ap_mention mentions[] = {
        {"https://m.example/users/bob", "@bob@m.example", "bob@xmpp.example"},
    };
    const struct lv_ap_note_ctx ctx = {
        .object_id = "https://gw.example/_ap/item/x",
        .actor = "https://gw.example/_ap/actor/louise",
        .followers = "https://gw.example/_ap/followers/louise",
        .tag_base = "https://gw.example/_ap/tags/",
        .is_public = true,
        .mentions = mentions,
        .n_mentions = 1,
    };
    struct lv_error err = {0};
    json_t *note = lv_ap_note_from_mb(mb, &ctx, &err);
    check(note != NULL, "post data from a Note makes a Note", err.msg);
    check(json_is_string(json_object_get(note, "content")), "the Note has a content", NULL);
    json_t *act = lv_ap_activity_new("https://gw.example/_ap/a/1", "Create", ctx.actor, note,
                                     json_object_get(note, "to"), json_object_get(note, "cc"));
    char *s = json_dumps(act, JSON_COMPACT);
    check(s != NULL, "the activity serialises", NULL);
    struct lv_ap_activity a;
    int rc =
        lv_ap_activity_parse(s, strlen(s), &(struct lv_ap_limits){.max_body = 1 << 24}, &a, &err);
    check(rc == 0, "our activity parses", err.msg);
    check(a.is_public, "our public activity is public", NULL);
    lv_ap_activity_release(&a);
    free(s);
    json_decref(act);
    json_decref(note);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy so that a read past size is caught by ASan. */
    char *body = lv_xmalloc(size ? size : 1);
    if (size)
        memcpy(body, data, size);
    struct lv_ap_activity a;
    struct lv_error err = {0};
    int rc = lv_ap_activity_parse(body, size, NULL, &a, &err);
    check_parsed(rc, &a, &err);
    if (rc == 0 && json_is_object(a.object)) {
        json_t *mb = NULL;
        rc = lv_ap_mb_from_note(a.object, "peer@gw.example", "Peer", &mb, &err);
        check(rc == 0 || rc == LV_ERR_INVAL || rc == LV_ERR_LIMIT,
              "Note conversion fails with INVAL or LIMIT", err.msg);
        check((rc == 0) == (mb != NULL), "post data exactly on success", NULL);
        if (mb) {
            check_entry(mb);
            check_note(mb);
        }
        json_decref(mb);
    }
    lv_ap_activity_release(&a);
    free(body);
    return 0;
}
