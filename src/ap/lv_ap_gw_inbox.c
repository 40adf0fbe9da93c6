/* The gateway's inbox processing: activities already verified and stored
 * (lv_ap_gw_http.c), or left pending by a previous run. Each one ends with
 * its inbox row marked done or failed. */
#include "ap/lv_ap_gw_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "blog/lv_mb.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "xmpp/lv_jid.h"

#define RESUME_BATCH 1000
#define PENDING_MAX_S (2 * 86400)

void gw_inbox_done(struct lv_ap_gw *gw, int64_t row, const char *error)
{
    struct lv_error err = {0};
    if (lv_store_ap_inbox_set_state(gw->st, row, error ? LV_AP_INBOX_FAILED : LV_AP_INBOX_DONE,
                                    error, (int64_t)time(NULL), &err) != 0)
        lv_error(AP_AREA, "inbox: cannot mark activity %lld: %s", (long long)row, err.msg);
}

static void row_key(int64_t row, char out[24])
{
    snprintf(out, 24, "%lld", (long long)row);
}

/* Errors worth another try later (the XMPP server or the peer is away). */
static bool transient(const struct lv_error *err)
{
    return err && (err->code == LV_ERR_AGAIN || err->code == LV_ERR_TIMEOUT ||
                   err->code == LV_ERR_IO || err->code == LV_ERR_CANCELLED);
}

static void activity_free(struct gw_activity *a)
{
    lv_ap_activity_release(&a->act);
    free(a->inbox_account);
    free(a);
}

/* Leaves the row pending: processed again by the next gw_inbox_resume()
 * (every minute, and when the stream comes back online). */
static void finish_later(struct lv_ap_gw *gw, struct gw_activity *a, const char *why)
{
    char k[24];
    row_key(a->row, k);
    lv_map_del(&gw->inbox_inflight, k);
    lv_info(AP_AREA, "inbox: %s %s from %s will be tried again: %s", a->act.type, a->act.id,
            a->act.actor, why);
    activity_free(a);
}

static void finish(struct lv_ap_gw *gw, struct gw_activity *a, const char *error)
{
    char k[24];
    row_key(a->row, k);
    lv_map_del(&gw->inbox_inflight, k);
    if (gw->closing) /* cancelled: processed again at the next start */
        lv_debug(AP_AREA, "inbox: %s %s left pending", a->act.type, a->act.id);
    else if (error)
        lv_info(AP_AREA, "inbox: %s %s from %s not processed: %s", a->act.type, a->act.id,
                a->act.actor, error);
    else
        lv_debug(AP_AREA, "inbox: %s %s processed", a->act.type, a->act.id);
    if (!gw->closing)
        gw_inbox_done(gw, a->row, error);
    activity_free(a);
}

/* The host of an http(s) URL into out; "" when there is none. */
static void url_host(const char *url, char *out, size_t size)
{
    out[0] = '\0';
    const char *p = url ? strstr(url, "://") : NULL;
    if (!p)
        return;
    p += 3;
    size_t n = strcspn(p, "/?#");
    if (n >= size)
        n = size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

static bool same_origin(const char *a, const char *b)
{
    char ha[256], hb[256];
    url_host(a, ha, sizeof(ha));
    url_host(b, hb, sizeof(hb));
    return ha[0] && strcasecmp(ha, hb) == 0;
}

/* A copy of an embedded object fit for embedding again (no @context, no
 * LD signature). */
static json_t *embed_copy(json_t *obj)
{
    json_t *c = json_deep_copy(obj);
    json_object_del(c, "@context");
    json_object_del(c, "signature");
    json_object_del(c, "proof");
    return c;
}

/* ---- Follow of a local account ---- */

struct follow_ctx {
    struct lv_ap_gw *gw;
    struct gw_activity *a;
    char *local_account, *jid, *node, *follower_account, *follower_inbox;
};

static void follow_ctx_free(struct follow_ctx *f)
{
    free(f->local_account);
    free(f->jid);
    free(f->node);
    free(f->follower_account);
    free(f->follower_inbox);
    free(f);
}

static void send_answer(struct follow_ctx *f, const char *type)
{
    struct lv_ap_gw *gw = f->gw;
    char *actor = gw_actor_url(gw, f->local_account);
    char *id = lv_ap_new_activity_id(actor, type);
    json_t *follow = embed_copy(f->a->act.doc);
    json_t *to = json_pack("[s]", f->a->act.actor);
    json_t *ans = lv_ap_activity_new(id, type, actor, follow, to, NULL);
    const char *inboxes[1] = {f->follower_inbox};
    gw_deliver(gw, f->local_account, ans, inboxes, 1);
    lv_info(AP_AREA, "%s: %s the Follow of %s", f->local_account,
            strcmp(type, "Accept") == 0 ? "accepted" : "rejected", f->a->act.actor);
    json_decref(ans);
    json_decref(to);
    json_decref(follow);
    free(id);
    free(actor);
}

static void follow_subscribed(struct lv_ap_gw *gw, const struct lv_error *err, void *ud)
{
    struct follow_ctx *f = ud;
    const char *node = f->node ? f->node : LV_NS_MICROBLOG;
    struct lv_error serr = {0};
    if (transient(err)) {
        finish_later(gw, f->a, err->msg);
    } else if (err) {
        lv_store_ap_follow_delete(gw->st, LV_AP_FOLLOWER, f->jid, node, f->a->act.actor, NULL);
        send_answer(f, "Reject");
        char *why = lv_xasprintf("cannot subscribe to %s: %s", f->jid, err->msg);
        finish(gw, f->a, why);
        free(why);
    } else if (lv_store_ap_follow_put(gw->st, LV_AP_FOLLOWER, f->jid, node, f->a->act.actor,
                                      f->a->act.id, LV_AP_FOLLOW_ACCEPTED, &serr) != 0) {
        finish(gw, f->a, serr.msg);
    } else {
        send_answer(f, "Accept");
        finish(gw, f->a, NULL);
    }
    follow_ctx_free(f);
}

static void follow_account(const struct lv_ap_actor *actor, const struct lv_error *err, void *ud)
{
    struct follow_ctx *f = ud;
    struct lv_ap_gw *gw = f->gw;
    if (!actor) {
        char *why = lv_xasprintf("cannot verify the follower's account: %s", err->msg);
        if (transient(err))
            finish_later(gw, f->a, why);
        else
            finish(gw, f->a, why);
        free(why);
        follow_ctx_free(f);
        return;
    }
    f->follower_account = lv_xstrdup(actor->rec.account);
    f->follower_inbox = lv_xstrdup(actor->rec.inbox);
    const char *node = f->node ? f->node : LV_NS_MICROBLOG;
    struct lv_error serr = {0};
    if (lv_store_ap_follow_put(gw->st, LV_AP_FOLLOWER, f->jid, node, actor->rec.id, f->a->act.id,
                               LV_AP_FOLLOW_PENDING, &serr) != 0) {
        finish(gw, f->a, serr.msg);
        follow_ctx_free(f);
        return;
    }
    gw_xmpp_follow_local(gw, f->follower_account, f->jid, node, true, follow_subscribed, f);
}

/* The local account an actor URL of ours names, with its JID and node. */
static int local_of_actor(struct lv_ap_gw *gw, const char *url, char **account, char **jid,
                          char **node)
{
    struct lv_ap_url u;
    *account = *jid = *node = NULL;
    if (!url || lv_ap_url_parse(&gw->addr, url, strlen(url), &u, NULL) != 0)
        return -1;
    if (u.type != LV_AP_URL_ACTOR) {
        lv_ap_url_release(&u);
        return -1;
    }
    struct lv_jid j;
    int rc = lv_ap_jid_from_account(&gw->addr, u.args[0], strlen(u.args[0]), &j, node, NULL);
    if (rc == 0 && (lv_ap_is_virtual_jid(&gw->addr, &j) || !j.local)) {
        lv_jid_release(&j);
        free(*node);
        *node = NULL;
        rc = -1;
    }
    if (rc == 0) {
        *jid = lv_jid_bare(&j);
        *account = u.args[0];
        u.args[0] = NULL;
        lv_jid_release(&j);
    }
    lv_ap_url_release(&u);
    return rc == 0 ? 0 : -1;
}

static void proc_follow(struct lv_ap_gw *gw, struct gw_activity *a)
{
    struct follow_ctx *f = lv_xcalloc(1, sizeof(*f));
    f->gw = gw;
    f->a = a;
    if (local_of_actor(gw, a->act.object_id, &f->local_account, &f->jid, &f->node) != 0) {
        follow_ctx_free(f);
        finish(gw, a, "Follow of something that is not one of our actors");
        return;
    }
    lv_ap_actors_verify_account(gw->actors, a->act.actor, follow_account, f);
}

/* ---- Undo ---- */

static void undo_account(const struct lv_ap_actor *actor, const struct lv_error *err, void *ud)
{
    struct follow_ctx *f = ud;
    struct lv_ap_gw *gw = f->gw;
    if (actor && actor->rec.account)
        gw_xmpp_follow_local(gw, actor->rec.account, f->jid, f->node, false, NULL, NULL);
    finish(gw, f->a, actor ? NULL : err->msg);
    follow_ctx_free(f);
}

static void proc_undo(struct lv_ap_gw *gw, struct gw_activity *a)
{
    json_t *obj = a->act.object;
    const char *obj_type = a->act.object_type;
    struct lv_ap_follow_rec rec = {0};
    bool found = a->act.object_id &&
                 lv_store_ap_follow_by_activity(gw->st, a->act.object_id, &rec, NULL) == 0;
    if (!found && json_is_object(obj) && obj_type && strcmp(obj_type, "Follow") == 0) {
        /* A Follow we do not know by id: by what it followed. */
        char *account, *jid, *node;
        const char *target = lv_ap_ref_id(json_object_get(obj, "object"));
        if (local_of_actor(gw, target, &account, &jid, &node) == 0) {
            found =
                lv_store_ap_follow_get(gw->st, LV_AP_FOLLOWER, jid, node ? node : LV_NS_MICROBLOG,
                                       a->act.actor, &rec, NULL) == 0;
            free(account);
            free(jid);
            free(node);
        }
    }
    if (!found) {
        finish(gw, a,
               obj_type && strcmp(obj_type, "Follow") != 0
                   ? "Undo of an activity this gateway does not act upon"
                   : "Undo of an unknown activity");
        return;
    }
    if (rec.dir != LV_AP_FOLLOWER || strcmp(rec.remote, a->act.actor) != 0) {
        lv_ap_follow_rec_release(&rec);
        finish(gw, a, "Undo of a Follow made by another actor");
        return;
    }
    lv_store_ap_follow_delete(gw->st, LV_AP_FOLLOWER, rec.local, rec.node, rec.remote, NULL);
    lv_info(AP_AREA, "%s no longer follows %s", a->act.actor, rec.local);
    struct follow_ctx *f = lv_xcalloc(1, sizeof(*f));
    f->gw = gw;
    f->a = a;
    f->jid = lv_xstrdup(rec.local);
    f->node = lv_xstrdup(rec.node);
    lv_ap_follow_rec_release(&rec);
    lv_ap_actors_verify_account(gw->actors, a->act.actor, undo_account, f);
}

/* ---- Accept / Reject of our Follow ---- */

static void proc_answer(struct lv_ap_gw *gw, struct gw_activity *a, bool accepted)
{
    struct lv_ap_follow_rec rec = {0};
    if (!a->act.object_id ||
        lv_store_ap_follow_by_activity(gw->st, a->act.object_id, &rec, NULL) != 0) {
        finish(gw, a, "answer to an unknown Follow");
        return;
    }
    if (rec.dir != LV_AP_FOLLOWING || strcmp(rec.remote, a->act.actor) != 0) {
        lv_ap_follow_rec_release(&rec);
        finish(gw, a, "answer to a Follow of another actor");
        return;
    }
    struct lv_error err = {0};
    int rc = accepted
                 ? lv_store_ap_follow_put(gw->st, LV_AP_FOLLOWING, rec.local, rec.node, rec.remote,
                                          rec.activity_id, LV_AP_FOLLOW_ACCEPTED, &err)
                 : lv_store_ap_follow_delete(gw->st, LV_AP_FOLLOWING, rec.local, rec.node,
                                             rec.remote, &err);
    if (rc == 0) {
        lv_info(AP_AREA, "%s %s the Follow of %s", a->act.actor, accepted ? "accepted" : "rejected",
                rec.local);
        /* The virtual JID: from the actor's verified account. */
        struct lv_ap_actor_rec ar = {0};
        if (lv_store_ap_actor_get(gw->st, rec.remote, &ar, NULL) == 0 && ar.account)
            gw_xmpp_subscription_changed(gw, rec.local, ar.account, rec.node,
                                         accepted ? "subscribed" : "none");
        lv_ap_actor_rec_release(&ar);
    }
    lv_ap_follow_rec_release(&rec);
    finish(gw, a, rc == 0 ? NULL : err.msg);
}

/* ---- Create / Update / Delete of objects ---- */

struct obj_ctx {
    struct lv_ap_gw *gw;
    struct gw_activity *a;
};

static void object_account(const struct lv_ap_actor *actor, const struct lv_error *err, void *ud)
{
    struct obj_ctx *o = ud;
    struct lv_ap_gw *gw = o->gw;
    struct gw_activity *a = o->a;
    free(o);
    if (!actor) {
        char *why = lv_xasprintf("cannot verify the author's account: %s", err->msg);
        if (transient(err))
            finish_later(gw, a, why);
        else
            finish(gw, a, why);
        free(why);
        return;
    }
    if (strcmp(a->act.type, "Delete") == 0) {
        gw_xmpp_remote_item(gw, actor, actor->rec.account, a->act.object_id, NULL);
        finish(gw, a, NULL);
        return;
    }
    char *vjid = gw_virtual_jid(gw, actor->rec.account);
    json_t *mb = NULL;
    struct lv_error cerr = {0};
    int rc =
        vjid ? lv_ap_mb_from_note(a->act.object, vjid,
                                  actor->name ? actor->name : actor->preferred_username, &mb, &cerr)
             : lv_error_set(&cerr, LV_ERR_INVAL, "no virtual JID for %s", actor->rec.account);
    free(vjid);
    if (rc != 0) {
        finish(gw, a, cerr.msg);
        return;
    }
    gw_xmpp_remote_item(gw, actor, actor->rec.account, a->act.object_id, mb);
    json_decref(mb);
    finish(gw, a, NULL);
}

static void proc_object(struct lv_ap_gw *gw, struct gw_activity *a)
{
    bool del = strcmp(a->act.type, "Delete") == 0;
    if (!a->act.object_id) {
        finish(gw, a, "activity without an object id");
        return;
    }
    if (!same_origin(a->act.object_id, a->act.actor)) {
        finish(gw, a, "the object is not on the actor's server");
        return;
    }
    if (!del) {
        if (!json_is_object(a->act.object)) {
            finish(gw, a, "the object is not embedded");
            return;
        }
        const char *author = lv_ap_ref_id(json_object_get(a->act.object, "attributedTo"));
        if (author && strcmp(author, a->act.actor) != 0) {
            finish(gw, a, "the object is attributed to another actor");
            return;
        }
        if (a->act.object_type &&
            (lv_ap_has_type(a->act.object, "Person") || lv_ap_has_type(a->act.object, "Service") ||
             lv_ap_has_type(a->act.object, "Application"))) {
            finish(gw, a, "updates of actor profiles are not handled");
            return;
        }
    }
    struct lv_ap_follow_rec *recs = NULL;
    size_t nrec = 0;
    lv_store_ap_follow_list(gw->st, LV_AP_FOLLOWING, NULL, NULL, a->act.actor, 0, 1, 0, &recs,
                            &nrec, NULL);
    for (size_t i = 0; i < nrec; i++)
        lv_ap_follow_rec_release(&recs[i]);
    free(recs);
    if (nrec == 0) {
        finish(gw, a, NULL); /* not followed from XMPP: nothing to relay */
        return;
    }
    struct obj_ctx *o = lv_xcalloc(1, sizeof(*o));
    o->gw = gw;
    o->a = a;
    lv_ap_actors_verify_account(gw->actors, a->act.actor, object_account, o);
}

/* ---- dispatch ---- */

void gw_process(struct lv_ap_gw *gw, struct gw_activity *a)
{
    const char *t = a->act.type;
    if (gw->closing) {
        finish(gw, a, NULL);
        return;
    }
    char k[24];
    row_key(a->row, k);
    lv_map_put(&gw->inbox_inflight, k, (void *)1);
    if (strcmp(t, "Follow") == 0)
        proc_follow(gw, a);
    else if (strcmp(t, "Undo") == 0)
        proc_undo(gw, a);
    else if (strcmp(t, "Accept") == 0)
        proc_answer(gw, a, true);
    else if (strcmp(t, "Reject") == 0)
        proc_answer(gw, a, false);
    else if (strcmp(t, "Create") == 0 || strcmp(t, "Update") == 0 || strcmp(t, "Delete") == 0)
        proc_object(gw, a);
    else
        finish(gw, a, "activity type not acted upon by this version");
}

void gw_inbox_resume(struct lv_ap_gw *gw)
{
    struct lv_ap_inbox_rec *recs = NULL;
    size_t n = 0;
    struct lv_error err = {0};
    if (lv_store_ap_inbox_list(gw->st, LV_AP_INBOX_PENDING, RESUME_BATCH, 0, &recs, &n, &err) !=
        0) {
        lv_error(AP_AREA, "inbox: cannot read pending activities: %s", err.msg);
        return;
    }
    int64_t now = (int64_t)time(NULL);
    size_t todo = 0;
    for (size_t i = 0; i < n; i++) {
        char k[24];
        row_key(recs[i].id, k);
        if (lv_map_get(&gw->inbox_inflight, k)) {
            lv_ap_inbox_rec_release(&recs[i]);
            continue;
        }
        if (recs[i].received < now - PENDING_MAX_S) {
            gw_inbox_done(gw, recs[i].id, "still not processed after 2 days: given up");
            lv_ap_inbox_rec_release(&recs[i]);
            continue;
        }
        todo++;
        struct gw_activity *a = lv_xcalloc(1, sizeof(*a));
        a->row = recs[i].id;
        a->inbox_account = recs[i].inbox ? lv_xstrdup(recs[i].inbox) : NULL;
        if (lv_ap_activity_parse(recs[i].body, strlen(recs[i].body), &gw->limits, &a->act, &err) !=
            0) {
            gw_inbox_done(gw, a->row, err.msg);
            lv_ap_activity_release(&a->act);
            free(a->inbox_account);
            free(a);
        } else {
            gw_process(gw, a);
        }
        lv_ap_inbox_rec_release(&recs[i]);
    }
    free(recs);
    if (todo)
        lv_info(AP_AREA, "inbox: processing %zu activities left pending", todo);
}
