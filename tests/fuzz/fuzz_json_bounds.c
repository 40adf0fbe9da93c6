/* libFuzzer target for lv_http_json_check, the bounds pre-scan run on
 * remote JSON before jansson parses it.
 *
 * Input: byte 0 picks max_depth (0-15), byte 1 max_values (0-255), the rest
 * is the would-be JSON. Beyond "does not crash", for every input that
 * jansson accepts it checks that the scan is exact: it accepts if and only
 * if the parsed document nests at most max_depth arrays/objects deep and
 * holds at most max_values values (object keys are not values). So the
 * scan never lets a deeper or bigger document through, and never refuses a
 * document within the limits. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ap/lv_http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Depth of containers and number of values of a parsed document. */
static void measure(json_t *v, size_t level, size_t *depth, size_t *values)
{
    (*values)++;
    if (!json_is_array(v) && !json_is_object(v))
        return;
    if (level + 1 > *depth)
        *depth = level + 1;
    size_t i;
    json_t *x;
    const char *k;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) measure(x, level + 1, depth, values);
    } else {
        json_object_foreach(v, k, x) measure(x, level + 1, depth, values);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned max_depth = data[0] % 16;
    size_t max_values = data[1];
    const char *json = (const char *)data + 2;
    size_t len = size - 2;
    int rc = lv_http_json_check(json, len, max_depth, max_values, NULL);
    if (rc != 0 && rc != LV_ERR_LIMIT)
        abort();
    /* Duplicate keys would be merged by jansson and counted once. */
    json_t *doc = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (!doc)
        return 0;
    size_t depth = 0, values = 0;
    measure(doc, 0, &depth, &values);
    json_decref(doc);
    int within = depth <= max_depth && values <= max_values;
    if (within != (rc == 0)) {
        fprintf(stderr, "fuzz_json_bounds: depth %zu/%u values %zu/%zu but check %d\n", depth,
                max_depth, values, max_values, rc);
        abort();
    }
    return 0;
}
