/* lv_disco: XEP-0030 service discovery, both sides.
 *
 * lv_disco_new() installs answers to disco#info and disco#items on a stream
 * from the identities, features and items registered here (disco#info,
 * disco#items and XEP-0199 ping are always listed). lv_disco_query_info()
 * asks another entity. */
#ifndef LV_DISCO_H
#define LV_DISCO_H

#include <stddef.h>

#include "xmpp/lv_xmpp.h"

#define LV_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define LV_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"

struct lv_disco;

/* Answers disco queries on x; caller frees with lv_disco_free() before
 * freeing x. */
struct lv_disco *lv_disco_new(struct lv_xmpp *x);
void lv_disco_free(struct lv_disco *d);
void lv_disco_add_identity(struct lv_disco *d, const char *category, const char *type,
                           const char *name);
void lv_disco_add_feature(struct lv_disco *d, const char *var);
void lv_disco_add_item(struct lv_disco *d, const char *jid, const char *node, const char *name);

/* What an entity told about itself. Arrays owned by the struct. */
struct lv_disco_identity {
    char *category, *type, *name;
};
struct lv_disco_info {
    struct lv_disco_identity *identities;
    size_t nidentities;
    char **features;
    size_t nfeatures;
};
void lv_disco_info_release(struct lv_disco_info *info);
/* True if the info lists the feature. */
bool lv_disco_info_has(const struct lv_disco_info *info, const char *var);
/* True if it has an identity of that category and (if non-NULL) type. */
bool lv_disco_info_is(const struct lv_disco_info *info, const char *category, const char *type);

/* info is NULL on failure (err set); borrowed for the call. */
typedef void (*lv_disco_info_fn)(struct lv_xmpp *x, const struct lv_disco_info *info,
                                 const struct lv_error *err, void *ud);
/* Queries disco#info of jid (optionally at node). */
void lv_disco_query_info(struct lv_xmpp *x, const char *jid, const char *node, lv_disco_info_fn fn,
                         void *ud);

/* An item of a disco#items answer. */
struct lv_disco_item {
    char *jid, *node, *name; /* node and name may be NULL */
};
/* err is set on failure; otherwise items[0..n) (NULL when n is 0), borrowed
 * for the call. */
typedef void (*lv_disco_items_fn)(struct lv_xmpp *x, const struct lv_disco_item *items, size_t n,
                                  const struct lv_error *err, void *ud);
/* Queries disco#items of jid (optionally at node). */
void lv_disco_query_items(struct lv_xmpp *x, const char *jid, const char *node,
                          lv_disco_items_fn fn, void *ud);

#endif
