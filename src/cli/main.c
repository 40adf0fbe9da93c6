/* li / libervia-cli: the command-line frontend. */
#include "cli/lv_cli.h"
#include "cli/lv_cli_cmds.h"

int main(int argc, char **argv)
{
    lv_cli_cmds_profile();
    lv_cli_cmds_pubsub();
    lv_cli_cmds_blog();
    lv_cli_cmds_cache();
    lv_cli_cmds_ap();
    return lv_cli_main(argc, argv);
}
