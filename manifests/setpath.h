/* manifests/setpath.h — `-S path=value` command-line overrides as a merge patch. */
#ifndef RUNS_MANIFESTS_SETPATH_H
#define RUNS_MANIFESTS_SETPATH_H

#include <cJSON.h>

/* Adds one assignment "a.b.c=VALUE" to patch (a JSON object, the merge patch
 * being built; later assignments to the same path win). VALUE is parsed as
 * JSON when it is valid JSON (1e-3, true, ["x"], {"k":1}), else taken as a
 * string. The dotted path must name a key of the config schema (the default
 * config's keys); an unknown key fails with RUNS_EINVALID and a "did you mean"
 * hint. A missing '=' or an empty path component is RUNS_EINVALID too (callers
 * that treat a malformed assignment as a usage error check the form first with
 * runs_config_assignment_check). Values are
 * checked later, when the patched config is validated. patch stays owned by
 * the caller; on error it is left as it was. */
int runs_config_set_path(cJSON *patch, const char *assignment);

/* 0 when assignment has the form PATH=VALUE with no empty key in PATH, else
 * RUNS_EINVALID with a message. Checks only the form, not the keys. */
int runs_config_assignment_check(const char *assignment);

#endif
