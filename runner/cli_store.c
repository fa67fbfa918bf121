/* runner/cli_store.c — store access shared by the commands. */
#include "runner/cli_store.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "manifests/canon.h"

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
    /* arrays of records: one canonical record per line, easy to read and to grep */
    if (cJSON_IsArray(v)) {
        const cJSON *e;
        int first = 1;
        fputs("[", stdout);
        cJSON_ArrayForEach (e, v) {
            char *t = runs_json_canonical(e);
            if (!t)
                return runs_error_code() ? runs_error_code() : RUNS_ENOMEM;
            printf("%s\n  %s", first ? "" : ",", t);
            free(t);
            first = 0;
        }
        fputs(first ? "]\n" : "\n]\n", stdout);
        return 0;
    }
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
