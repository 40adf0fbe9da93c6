#include "lv_dataform.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"

#include <stdio.h>
#include <string.h>

#define AREA "dataform"

/* ---- building ---- */

/* The text of one scalar JSON value as a form value, or NULL when the value
 * is of a type a form cannot hold (null, object, array). Caller frees. */
static char *scalar_text(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return lv_xstrndup(json_string_value(v), json_string_length(v));
    case JSON_TRUE:
        return lv_xstrdup("1");
    case JSON_FALSE:
        return lv_xstrdup("0");
    case JSON_INTEGER:
        return lv_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        /* 15 significant digits: 0.1 stays "0.1", not its binary expansion. */
        return lv_xasprintf("%.15g", json_real_value(v));
    default:
        return NULL;
    }
}

static int add_value(struct lv_xml *field, json_t *v, const char *var, struct lv_error *err)
{
    char *text = scalar_text(v);
    if (!text)
        return lv_error_set(err, LV_ERR_INVAL, "form field %s: unsupported JSON value", var);
    lv_xml_new_child_text(field, "value", NULL, text);
    free(text);
    return 0;
}

static int add_field(struct lv_xml *form, const char *var, json_t *v, struct lv_error *err)
{
    if (!*var)
        return lv_error_set(err, LV_ERR_INVAL, "form field with an empty name");
    struct lv_xml *field = lv_xml_new_child(form, "field", NULL);
    lv_xml_set_attr(field, "var", var);
    if (strcmp(var, "FORM_TYPE") == 0)
        lv_xml_set_attr(field, "type", "hidden");
    if (!json_is_array(v))
        return add_value(field, v, var, err);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        int rc = add_value(field, e, var, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A FORM_TYPE key among the values must agree with form_type: two
 * different FORM_TYPEs in one form would be a caller bug. */
static int check_form_type(const char *form_type, json_t *values, struct lv_error *err)
{
    json_t *ft = json_object_get(values, "FORM_TYPE");
    if (!form_type || !ft)
        return 0;
    if (json_is_string(ft) && strcmp(json_string_value(ft), form_type) == 0)
        return 0;
    return lv_error_set(err, LV_ERR_INVAL, "FORM_TYPE in the values differs from %s", form_type);
}

int lv_form_submit_new(const char *form_type, json_t *values, struct lv_xml **out,
                       struct lv_error *err)
{
    *out = NULL;
    if (values && !json_is_object(values))
        return lv_error_set(err, LV_ERR_INVAL, "form values must be a JSON object");
    if (check_form_type(form_type, values, err) != 0)
        return LV_ERR_INVAL;
    struct lv_xml *form = lv_xml_new("x", LV_NS_DATA);
    lv_xml_set_attr(form, "type", "submit");
    if (form_type) {
        struct lv_xml *f = lv_xml_new_child(form, "field", NULL);
        lv_xml_set_attr(f, "var", "FORM_TYPE");
        lv_xml_set_attr(f, "type", "hidden");
        lv_xml_new_child_text(f, "value", NULL, form_type);
    }
    const char *var;
    json_t *v;
    json_object_foreach(values, var, v)
    {
        if (form_type && strcmp(var, "FORM_TYPE") == 0)
            continue;
        if (add_field(form, var, v, err) != 0) {
            lv_xml_unref(form);
            return LV_ERR_INVAL;
        }
    }
    *out = form;
    return 0;
}

/* ---- reading ---- */

static bool multi_type(const char *type)
{
    return type && (strcmp(type, "list-multi") == 0 || strcmp(type, "jid-multi") == 0 ||
                    strcmp(type, "text-multi") == 0);
}

/* The field's value: an array for multi-valued types (or when the peer sent
 * several values anyway, so that none is lost), else a string ("" when the
 * field has no value). */
static json_t *field_value(const struct lv_xml *field)
{
    json_t *arr = json_array();
    for (struct lv_xml *v = lv_xml_find(field, "value", LV_NS_DATA); v;
         v = lv_xml_find_next(v, "value", LV_NS_DATA)) {
        char *t = lv_xml_text(v);
        json_array_append_new(arr, json_string(t));
        free(t);
    }
    if (multi_type(lv_xml_attr(field, "type")) || json_array_size(arr) > 1)
        return arr;
    json_t *one = json_array_size(arr) ? json_incref(json_array_get(arr, 0)) : json_string("");
    json_decref(arr);
    return one;
}

static json_t *field_options(const struct lv_xml *field)
{
    json_t *opts = NULL;
    for (struct lv_xml *o = lv_xml_find(field, "option", LV_NS_DATA); o;
         o = lv_xml_find_next(o, "option", LV_NS_DATA)) {
        char *v = lv_xml_child_text(o, "value", LV_NS_DATA);
        if (!v)
            continue;
        if (!opts)
            opts = json_array();
        json_array_append_new(opts, json_string(v));
        free(v);
    }
    return opts;
}

/* {type, label, options} of a field, or NULL when it has none of them. */
static json_t *field_meta(const struct lv_xml *field)
{
    json_t *m = json_object();
    const char *type = lv_xml_attr(field, "type");
    const char *label = lv_xml_attr(field, "label");
    if (type)
        json_object_set_new(m, "type", json_string(type));
    if (label)
        json_object_set_new(m, "label", json_string(label));
    json_t *opts = field_options(field);
    if (opts)
        json_object_set_new(m, "options", opts);
    if (json_object_size(m) == 0) {
        json_decref(m);
        return NULL;
    }
    return m;
}

json_t *lv_form_to_json(const struct lv_xml *x, json_t **meta)
{
    json_t *values = json_object();
    if (meta)
        *meta = json_object();
    for (struct lv_xml *f = lv_xml_find(x, "field", LV_NS_DATA); f;
         f = lv_xml_find_next(f, "field", LV_NS_DATA)) {
        const char *var = lv_xml_attr(f, "var");
        /* Fields without var are instructions ("fixed"); a repeated var is
         * the peer's mistake: the first one counts. */
        if (!var || json_object_get(values, var)) {
            lv_debug(AREA, "form field without var or repeated (%s) skipped", var ? var : "-");
            continue;
        }
        json_object_set_new(values, var, field_value(f));
        json_t *m = meta ? field_meta(f) : NULL;
        if (m)
            json_object_set_new(*meta, var, m);
    }
    return values;
}

struct lv_xml *lv_form_find(const struct lv_xml *parent)
{
    return parent ? lv_xml_find(parent, "x", LV_NS_DATA) : NULL;
}
