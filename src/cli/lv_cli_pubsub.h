/* Pubsub helpers shared by li pubsub and li blog (cmd_pubsub.c). */
#ifndef LV_CLI_PUBSUB_H
#define LV_CLI_PUBSUB_H

#include <jansson.h>
#include <stdbool.h>

#include "cli/lv_cli.h"

/* {service?, node?, uri?} from -s/-n/-u. New reference. */
json_t *lv_cli_ps_params(struct lv_cli *cli);
/* Fetches items with method ("psItemsGet", "mbGet") on base params (taken),
 * paging with RSM for -M/-m. *items and *last_rsm are new references. */
int lv_cli_ps_fetch(struct lv_cli *cli, const char *method, json_t *base, json_t **items,
                    json_t **last_rsm);
/* The id named by -i, or the last item's (-L), fetched with method. Caller
 * frees; NULL with *rc set on failure. */
char *lv_cli_ps_item_id(struct lv_cli *cli, const char *method, int *rc);

#endif
