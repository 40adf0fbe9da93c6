/* lv_dataform: XEP-0004 data forms, as used by pubsub node configuration,
 * publish-options and subscription options.
 *
 * Forms travel through the bridge as JSON objects {var: value} where value
 * is a string, or an array of strings for multi-valued fields. */
#ifndef LV_DATAFORM_H
#define LV_DATAFORM_H

#include <jansson.h>

#include "core/lv_err.h"
#include "xml/lv_xml.h"

#define LV_NS_DATA "jabber:x:data"

/* A submit form (<x xmlns='jabber:x:data' type='submit'>) whose FORM_TYPE
 * hidden field is form_type (if non-NULL) and whose other fields come from
 * the JSON object values ({var: "v"} or {var: ["v1", "v2"]}; booleans and
 * numbers are written as "1"/"0" and decimal). Caller owns the result.
 * LV_ERR_INVAL (and *out NULL) if a value is of another JSON type. */
int lv_form_submit_new(const char *form_type, json_t *values, struct lv_xml **out,
                       struct lv_error *err);
/* Reads a form element into {var: value or [values]}; the FORM_TYPE field is
 * included. Caller owns the result. With meta non-NULL, *meta gets
 * {var: {"type":…, "label":…, "options":[…]}} for fields that have them
 * (caller owns); "options" lists the option values. A field's value is an
 * array for list-multi, jid-multi and text-multi fields (and whenever the
 * peer sent several values), else a string ("" for a field without value).
 * Fields without var are skipped; for a repeated var the first one counts. */
json_t *lv_form_to_json(const struct lv_xml *x, json_t **meta);
/* The first <x xmlns='jabber:x:data'> child of parent, or NULL. Borrowed. */
struct lv_xml *lv_form_find(const struct lv_xml *parent);

#endif
