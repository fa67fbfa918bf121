/* runner/committer.c — the background commit; see committer.h for its states. */
#include "runner/committer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/gc.h"
#include "store/lineage.h"
#include "store/object.h"

int runs_seg_append(runs_seg *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return runs_error_set(RUNS_ENOMEM, "out of memory growing a log segment");
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return RUNS_OK;
}

static void *commit_thread(void *arg)
{
    runs_commit_job *job = arg;
    runs_oid oid;
    job->rc = RUNS_OK;
    if (job->loss_seg.len) {
        if ((job->rc = runs_object_put(&oid, job->store, job->loss_seg.buf, job->loss_seg.len)))
            goto done;
        cJSON_ReplaceItemInObjectCaseSensitive(job->manifest, "loss_log", cJSON_CreateString(oid.hex));
    }
    if (job->samples_seg.len) {
        if ((job->rc = runs_object_put(&oid, job->store, job->samples_seg.buf, job->samples_seg.len)))
            goto done;
        cJSON_ReplaceItemInObjectCaseSensitive(job->manifest, "samples_log", cJSON_CreateString(oid.hex));
    }
    if ((job->rc = runs_node_commit(job->id, job->store, job->manifest, job->tensors, job->n_tensors)))
        goto done;
    if (job->keep_last > 0 || job->keep_every > 0) {
        /* retention: thin checkpoints past keep_last / keep_every; when another
         * writer holds the store, the next checkpoint tries again */
        runs_gc_options go = {.keep_last = job->keep_last, .keep_every = job->keep_every};
        runs_gc_report gr;
        int grc = runs_gc(&gr, job->store, &go);
        if (grc == RUNS_ELOCKED)
            runs_error_clear();
        else
            job->rc = grc;
    }
done:
    if (job->rc)
        snprintf(job->err, sizeof job->err, "%s", runs_error_message());
    __atomic_store_n(&job->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

void runs_commit_job_free(runs_commit_job *job)
{
    if (!job)
        return;
    cJSON_Delete(job->manifest);
    free(job->tensors);
    free(job->loss_seg.buf);
    free(job->samples_seg.buf);
    free(job);
}

int runs_committer_start(runs_committer *c, runs_commit_job *job)
{
    if (c->job) {
        runs_commit_job_free(job);
        return runs_error_set(RUNS_ERROR, "checkpoint: a commit is still running (internal: wait first)");
    }
    c->job = job;
    if (pthread_create(&c->thread, NULL, commit_thread, job) != 0) {
        c->job = NULL;
        runs_commit_job_free(job);
        return runs_error_set(RUNS_ERROR, "could not start the checkpoint thread");
    }
    return RUNS_OK;
}

runs_commit_state runs_committer_state(const runs_committer *c)
{
    if (!c->job)
        return RUNS_COMMIT_IDLE;
    if (!__atomic_load_n(&c->job->finished, __ATOMIC_ACQUIRE))
        return RUNS_COMMIT_WRITING;
    return c->job->rc ? RUNS_COMMIT_FAILED : RUNS_COMMIT_COMMITTED;
}

int runs_committer_wait(runs_commit_job **out, runs_committer *c)
{
    *out = NULL;
    if (!c->job)
        return RUNS_OK;
    pthread_join(c->thread, NULL);
    runs_commit_job *job = c->job;
    c->job = NULL;
    *out = job;
    if (job->rc)
        return runs_error_set(job->rc, "checkpoint: %s", job->err);
    return RUNS_OK;
}
