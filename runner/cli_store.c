/* runner/cli_store.c — store access shared by the commands. */
#include "runner/cli_store.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"

int runs_cli_open_store(runs_cli *cli, runs_store **out)
{
    *out = NULL;
    if (!cli->store_found)
        return runs_error_set(RUNS_ENOTFOUND, "no store at %s; run `runs init` there first or pass --store DIR",
                              cli->store_path);
    return runs_store_open(out, cli->store_path);
}

int runs_cli_print_json(const cJSON *v)
{
    char *t = cJSON_Print(v);
    if (!t)
        return runs_error_set(RUNS_ENOMEM, "out of memory printing JSON");
    fputs(t, stdout);
    fputc('\n', stdout);
    free(t);
    return 0;
}

const char *runs_cli_node_label(char *buf, size_t n, const cJSON *m)
{
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(m, "run");
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(m, "step");
    if (cJSON_IsNumber(step))
        snprintf(buf, n, "%s@step_%.0f", cJSON_IsString(run) ? run->valuestring : "?", step->valuedouble);
    else
        snprintf(buf, n, "%s@step_?", cJSON_IsString(run) ? run->valuestring : "?");
    return buf;
}
