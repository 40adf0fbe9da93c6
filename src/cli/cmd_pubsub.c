/* li pubsub ... (being written) */
#include "cli/lv_cli_cmds.h"

void lv_cli_cmds_pubsub(void)
{
}
