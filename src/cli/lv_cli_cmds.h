/* The command groups of `li`; each registers its table with lv_cli. */
#ifndef LV_CLI_CMDS_H
#define LV_CLI_CMDS_H

void lv_cli_cmds_profile(void);
void lv_cli_cmds_pubsub(void);
void lv_cli_cmds_blog(void);
void lv_cli_cmds_cache(void);
void lv_cli_cmds_ap(void);

#endif
