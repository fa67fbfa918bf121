/* store/notes.h — per-node annotations kept in git notes (refs/notes/runs).
 *
 * Manifests are immutable (they are hashed into the node id), but some facts about
 * a node arrive later: its measured sharpness, a user's remark. Each node may carry
 * one JSON object as its note under refs/notes/runs in lineage.git; writers merge
 * their keys into it (JSON Merge Patch, RFC 7396), so independent tools do not
 * clobber each other. The note is canonical JSON plus a newline, so
 *   git --git-dir .runs/lineage.git notes --ref runs show <id>
 * prints it. Updates are compare-and-swap on the notes ref, retried when another
 * writer moved it in between: no update is lost and no lock is held.
 */
#ifndef RUNS_STORE_NOTES_H
#define RUNS_STORE_NOTES_H

#include <cJSON.h>

#include "store/store.h"

#define RUNS_NOTES_REF "refs/notes/runs"

/* The note of node id (40 hex) into *out (an object; the caller cJSON_Delete()s it),
 * or *out = NULL when the node has no note. RUNS_ENOTFOUND when id is no commit;
 * RUNS_ECORRUPT when the note is not a JSON object. */
int runs_note_get(cJSON **out, runs_store *s, const char *id);

/* Merges patch (an object; a key set to null removes that key) into node id's note,
 * creating it. A note left empty is removed. Returns 0 or a negative RUNS_E* code. */
int runs_note_merge(runs_store *s, const char *id, const cJSON *patch);

#endif
