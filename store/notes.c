/* store/notes.c — per-node JSON notes under refs/notes/runs (see store/notes.h). */
#include "store/notes.h"

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/merge_patch.h"
#include "store/internal.h"

static int note_git_error(int code, const char *what)
{
    const git_error *e = git_error_last();
    return runs_error_set(code, "%s: %s", what, e && e->message ? e->message : "libgit2 failed");
}

/* The commit named by id, checked to exist, into oid; lineage.git is open after it
 * (s->lineage). */
static int node_oid(git_oid *oid, runs_store *s, const char *id)
{
    git_repository *repo;
    int rc = runs__store_git(&repo, s);
    if (rc)
        return rc;
    if (!id || strlen(id) != 40 || git_oid_fromstr(oid, id))
        return runs_error_set(RUNS_EINVALID, "note: \"%s\" is not a full node id (40 hex digits)", id ? id : "(null)");
    git_commit *c = NULL;
    if (git_commit_lookup(&c, repo, oid))
        return runs_error_set(RUNS_ENOTFOUND, "note: no node %s in %s/lineage.git", id, s->dir);
    git_commit_free(c);
    return 0;
}

/* Parses a note's text; NULL text = no note. */
static int parse_note(cJSON **out, const char *text, const char *id)
{
    *out = NULL;
    if (!text)
        return 0;
    cJSON *j = NULL;
    char origin[80];
    snprintf(origin, sizeof origin, "note of %.12s", id);
    int rc = runs_json_parse(&j, text, origin);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", runs_error_message());
        return runs_error_set(RUNS_ECORRUPT, "%s (fix it with `git notes --ref runs edit %s`)", msg, id);
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return runs_error_set(RUNS_ECORRUPT, "note of %s is not a JSON object", id);
    }
    *out = j;
    return 0;
}

int runs_note_get(cJSON **out, runs_store *s, const char *id)
{
    git_oid oid;
    git_note *note = NULL;
    *out = NULL;
    int rc = node_oid(&oid, s, id);
    if (rc)
        return rc;
    int g = git_note_read(&note, s->lineage, RUNS_NOTES_REF, &oid);
    if (g == GIT_ENOTFOUND)
        return 0;
    if (g)
        return note_git_error(RUNS_EIO, "reading the note of a node");
    rc = parse_note(out, git_note_message(note), id);
    git_note_free(note);
    return rc;
}

int runs_note_merge(runs_store *s, const char *id, const cJSON *patch)
{
    git_oid oid;
    int rc = node_oid(&oid, s, id);
    if (rc)
        return rc;
    if (!cJSON_IsObject(patch))
        return runs_error_set(RUNS_EINVALID, "note: the patch for %s must be a JSON object", id);
    if ((rc = runs__writer_begin(s)))
        return rc;
    git_signature *sig = NULL;
    if (git_signature_now(&sig, "runs", "runs@localhost"))
        return note_git_error(RUNS_ERROR, "note: making a signature");
    /* Compare-and-swap loop: read the notes commit, build a new one on top, move the
     * ref only if it still names what we read. */
    for (int attempt = 0; attempt < 400; attempt++) {
        git_oid head, new_commit, blob;
        git_commit *parent = NULL;
        git_note *note = NULL;
        cJSON *cur = NULL, *merged = NULL;
        char *text = NULL;
        git_reference *ref = NULL;
        int have_head = git_reference_name_to_id(&head, s->lineage, RUNS_NOTES_REF) == 0;
        if (have_head && git_commit_lookup(&parent, s->lineage, &head)) {
            rc = note_git_error(RUNS_ECORRUPT, "note: " RUNS_NOTES_REF " names no commit");
            goto step_done;
        }
        if (parent) {
            int g = git_note_commit_read(&note, s->lineage, parent, &oid);
            if (g && g != GIT_ENOTFOUND) {
                rc = note_git_error(RUNS_EIO, "note: reading the current note");
                goto step_done;
            }
        }
        if ((rc = parse_note(&cur, note ? git_note_message(note) : NULL, id)))
            goto step_done;
        merged = runs_merge_patch(cur, patch);
        if (!merged) {
            rc = RUNS_ENOMEM;
            goto step_done;
        }
        if (cJSON_GetArraySize(merged) == 0) {
            /* Nothing left: remove the note (if there was one). */
            if (!note) {
                rc = 0;
                goto step_done;
            }
            if (git_note_commit_remove(&new_commit, s->lineage, parent, sig, sig, &oid)) {
                rc = note_git_error(RUNS_EIO, "note: removing an empty note");
                goto step_done;
            }
        } else {
            char *canon = runs_json_canonical(merged);
            if (!canon) {
                rc = runs_error_code() ? runs_error_code() : RUNS_ENOMEM;
                goto step_done;
            }
            size_t n = strlen(canon);
            text = malloc(n + 2);
            if (!text) {
                free(canon);
                rc = runs_error_set(RUNS_ENOMEM, "note: out of memory");
                goto step_done;
            }
            memcpy(text, canon, n);
            text[n] = '\n';
            text[n + 1] = 0;
            free(canon);
            if (git_note_commit_create(&new_commit, &blob, s->lineage, parent, sig, sig, &oid, text, 1)) {
                rc = note_git_error(RUNS_EIO, "note: writing the note");
                goto step_done;
            }
        }
        int g = have_head ? git_reference_create_matching(&ref, s->lineage, RUNS_NOTES_REF, &new_commit, 1, &head,
                                                          "runs: note")
                          : git_reference_create(&ref, s->lineage, RUNS_NOTES_REF, &new_commit, 0, "runs: note");
        if (g == GIT_EMODIFIED || g == GIT_EEXISTS || g == GIT_ELOCKED) {
            rc = 1; /* someone else moved the ref: retry on top of theirs */
        } else if (g) {
            rc = note_git_error(RUNS_EIO, "note: moving " RUNS_NOTES_REF);
        } else {
            rc = 0;
        }
    step_done:
        git_reference_free(ref);
        free(text);
        cJSON_Delete(cur);
        cJSON_Delete(merged);
        git_note_free(note);
        git_commit_free(parent);
        if (rc != 1) {
            git_signature_free(sig);
            return rc;
        }
        /* Back off with jitter so writers holding the ref lock in turn get through. */
        unsigned cap_us = 1000u << (attempt < 6 ? attempt : 6);
        usleep(500 + (unsigned)((unsigned)getpid() * 2654435761u + (unsigned)attempt * 40503u) % cap_us);
    }
    git_signature_free(sig);
    return runs_error_set(RUNS_ELOCKED, "note: " RUNS_NOTES_REF " kept changing under 400 attempts; retry");
}
