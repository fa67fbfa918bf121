/* manifests/setpath.c — see setpath.h. */
#include "manifests/setpath.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/config.h"
#include "manifests/suggest.h"

#define MAX_DEPTH 8
#define MAX_KEYS 64

/* The value text as JSON when it parses as a whole, else as a string: users
 * write -S train.backend=cpu without quoting for the shell twice. */
static cJSON *parse_value(const char *text)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithOpts(text, &end, 1);
    return v ? v : cJSON_CreateString(text);
}

/* Checks the path against the schema, so a typo fails here with a hint rather
 * than later as a vaguer "unknown key in the patched config". */
static int check_path(char **parts, int n, const char *assignment)
{
    cJSON *def = runs_config_default_json();
    int rc = 0;
    if (!def) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory checking -S %s", assignment);
        goto done;
    }
    const cJSON *at = def;
    for (int i = 0; i < n; i++) {
        if (i == 2 && !strcmp(parts[0], "data") && !strcmp(parts[1], "sources")) {
            /* sources are keyed by the user's own names; only their fields are fixed */
            static const char *const source_keys[] = {"path", "cap", "floor"};
            if (n == 3)
                break;
            char hint[256] = "";
            if (n > 4)
                rc = runs_error_set(RUNS_EINVALID, "-S %s: 'data.sources.%s.%s' holds a value, not keys; set it whole",
                                    assignment, parts[2], parts[3]);
            else if (strcmp(parts[3], "path") && strcmp(parts[3], "cap") && strcmp(parts[3], "floor"))
                rc = runs_error_set(RUNS_EINVALID, "-S %s: unknown config key 'data.sources.%s.%s'%s", assignment,
                                    parts[2], parts[3], runs_suggest_hint(hint, sizeof hint, parts[3], source_keys, 3));
            goto done;
        }
        const cJSON *next = cJSON_IsObject(at) ? cJSON_GetObjectItemCaseSensitive(at, parts[i]) : NULL;
        if (!next) {
            const char *names[MAX_KEYS];
            size_t k = 0;
            const cJSON *c;
            cJSON_ArrayForEach (c, at) {
                if (k < MAX_KEYS && c->string)
                    names[k++] = c->string;
            }
            char prefix[512] = "";
            for (int j = 0; j < i; j++) {
                if (j)
                    strncat(prefix, ".", sizeof prefix - strlen(prefix) - 1);
                strncat(prefix, parts[j], sizeof prefix - strlen(prefix) - 1);
            }
            if (!cJSON_IsObject(at)) {
                rc = runs_error_set(RUNS_EINVALID, "-S %s: '%s' holds a value, not keys; set it whole (-S %s=VALUE)",
                                    assignment, prefix, prefix);
                goto done;
            }
            char hint[256] = "";
            runs_suggest_hint(hint, sizeof hint, parts[i], names, k);
            rc = runs_error_set(RUNS_EINVALID,
                                "-S %s: unknown config key '%s%s%s'%s; `runs show NODE --config` lists every key",
                                assignment, prefix, i ? "." : "", parts[i], hint);
            goto done;
        }
        at = next;
    }
done:
    cJSON_Delete(def);
    return rc;
}

int runs_config_set_path(cJSON *patch, const char *assignment)
{
    char *copy = NULL;
    cJSON *value = NULL;
    int rc = 0;
    const char *eq = assignment ? strchr(assignment, '=') : NULL;
    if (!cJSON_IsObject(patch)) {
        rc = runs_error_set(RUNS_EINVALID, "-S: the patch is not a JSON object (a caller bug)");
        goto done;
    }
    if (!eq || eq == assignment) {
        rc = runs_error_set(RUNS_EINVALID, "-S %s: expected PATH=VALUE (e.g. -S optimizer.lr=1e-3)",
                            assignment ? assignment : "");
        goto done;
    }
    if (!(copy = strdup(assignment))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory reading -S %s", assignment);
        goto done;
    }
    copy[eq - assignment] = '\0';
    char *parts[MAX_DEPTH];
    int n = 0;
    for (char *p = copy;;) {
        char *dot = strchr(p, '.');
        if (dot)
            *dot = '\0';
        if (!*p || n == MAX_DEPTH) {
            rc = runs_error_set(RUNS_EINVALID, "-S %s: %s in the path; write dotted keys like optimizer.lr", assignment,
                                *p ? "too many keys" : "an empty key");
            goto done;
        }
        parts[n++] = p;
        if (!dot)
            break;
        p = dot + 1;
    }
    if ((rc = check_path(parts, n, assignment)))
        goto done;
    if (!(value = parse_value(eq + 1))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory reading -S %s", assignment);
        goto done;
    }
    /* every check is done: only now touch patch, so a failure leaves it as it was */
    cJSON *at = patch;
    for (int i = 0; i < n - 1; i++) {
        cJSON *next = cJSON_GetObjectItemCaseSensitive(at, parts[i]);
        if (!cJSON_IsObject(next)) {
            cJSON *obj = cJSON_CreateObject();
            if (!obj) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory applying -S %s", assignment);
                goto done;
            }
            if (next)
                cJSON_ReplaceItemInObjectCaseSensitive(at, parts[i], obj);
            else
                cJSON_AddItemToObject(at, parts[i], obj);
            next = obj;
        }
        at = next;
    }
    if (cJSON_GetObjectItemCaseSensitive(at, parts[n - 1]))
        cJSON_ReplaceItemInObjectCaseSensitive(at, parts[n - 1], value);
    else
        cJSON_AddItemToObject(at, parts[n - 1], value);
    value = NULL;
done:
    cJSON_Delete(value);
    free(copy);
    return rc;
}

int runs_config_assignment_check(const char *assignment)
{
    const char *eq = assignment ? strchr(assignment, '=') : NULL;
    if (!eq || eq == assignment)
        return runs_error_set(RUNS_EINVALID, "-S %s: expected PATH=VALUE (e.g. -S optimizer.lr=1e-3)",
                              assignment ? assignment : "");
    for (const char *p = assignment, *end = eq; p < end;) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        if ((dot ? dot : end) == p)
            return runs_error_set(RUNS_EINVALID, "-S %s: an empty key in the path; write dotted keys like optimizer.lr",
                                  assignment);
        if (!dot)
            break;
        p = dot + 1;
        if (p == end)
            return runs_error_set(RUNS_EINVALID, "-S %s: an empty key in the path; write dotted keys like optimizer.lr",
                                  assignment);
    }
    return 0;
}
