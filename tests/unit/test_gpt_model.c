/* tests/unit/test_gpt_model.c — the whole CPU trainer through gpt.h:
 * config refusal, tensor table, whole-model gradient check, AdamW and clipping
 * against a hand computation, thread-count determinism, bit-exact resume in a
 * fresh process, and generation. */
#include <math.h>
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cuda/gpt.h"

static const gpt_config tiny = {.n_layer = 2, .n_head = 2, .n_embd = 16, .vocab_size = 29, .block_size = 8};
enum { TB = 2, TT = 6 };

static gpt_model *make(const gpt_config *c, int B, int T, uint64_t seed)
{
    gpt_model *m = NULL;
    int rc = gpt_create(&m, c, B, T, GPT_BACKEND_CPU);
    if (rc)
        fail_msg("gpt_create: %s", gpt_last_error());
    assert_int_equal(gpt_init_weights(m, seed), 0);
    return m;
}

/* Batch for a step: a pure function of the step, so a resumed run sees the same data. */
static void batch(int step, int V, int32_t *in, int32_t *tg, int n)
{
    uint64_t s = 1000 + (uint64_t)step;
    for (int i = 0; i < n; i++)
        in[i] = (int32_t)(gpt_rng_next(&s) % (uint64_t)V);
    for (int i = 0; i < n; i++)
        tg[i] = (int32_t)(gpt_rng_next(&s) % (uint64_t)V);
}

static void expect_refused(gpt_config c, int B, int T, const char *needle)
{
    gpt_model *m = (gpt_model *)0x1;
    assert_int_equal(gpt_create(&m, &c, B, T, GPT_BACKEND_CPU), -1);
    assert_null(m);
    if (!strstr(gpt_last_error(), needle))
        fail_msg("message \"%s\" lacks \"%s\"", gpt_last_error(), needle);
}

static void test_refuses_bad_configs(void **state)
{
    (void)state;
    gpt_config c = tiny;
    c.n_embd = 130;
    c.n_head = 4;
    expect_refused(c, 1, 4, "model.n_embd (130) is not divisible by model.n_head (4)");
    expect_refused(tiny, 1, 9, "sequence length (9) exceeds model.block_size (8)");
    c = tiny;
    c.n_layer = 0;
    expect_refused(c, 1, 4, "model.n_layer (0)");
    c = tiny;
    c.n_head = -2;
    expect_refused(c, 1, 4, "model.n_head (-2)");
    c = tiny;
    c.n_embd = 0;
    expect_refused(c, 1, 4, "model.n_embd (0)");
    c = tiny;
    c.vocab_size = -1;
    expect_refused(c, 1, 4, "model.vocab_size (-1)");
    c = tiny;
    c.block_size = 0;
    expect_refused(c, 1, 1, "model.block_size (0)");
    c = tiny;
    c.vocab_size = 65537;
    expect_refused(c, 1, 4, "model.vocab_size (65537) exceeds 65536");
    expect_refused(tiny, 0, 4, "batch size (0)");
    expect_refused(tiny, 1, -3, "sequence length (-3)");
    /* A size that would need terabytes is refused by arithmetic, not by malloc. */
    c = tiny;
    c.n_embd = 65536;
    c.n_head = 1;
    c.n_layer = 100;
    expect_refused(c, 1, 4, "parameters");
    c = tiny;
    c.vocab_size = 65536;
    c.n_embd = 64;
    gpt_model *m = NULL;
    assert_int_equal(gpt_create(&m, &c, 1, 4, GPT_BACKEND_CPU), 0); /* 65536 itself is fine */
    gpt_free(m);
}

static void test_tensor_table(void **state)
{
    (void)state;
    gpt_model *m = make(&tiny, TB, TT, 1);
    int C = tiny.n_embd, L = tiny.n_layer;
    assert_int_equal(gpt_num_tensors(m), 4 + 12 * L);
    size_t off = 0;
    for (int i = 0; i < gpt_num_tensors(m); i++) {
        const gpt_tensor_info *t = gpt_tensor(m, i);
        assert_int_equal(t->offset, off);
        assert_int_equal(t->numel, (size_t)t->shape[0] * t->shape[1]);
        assert_int_equal(t->decay, t->ndim == 2);
        off += t->numel;
    }
    assert_int_equal(off, gpt_num_params(m));
    assert_string_equal(gpt_tensor(m, 4)->name, "h.0.attn.c_attn.w");
    assert_int_equal(gpt_tensor(m, 4)->shape[0], 3 * C);
    assert_string_equal(gpt_tensor(m, 2 + 12 * L)->name, "ln_f.w");
    assert_null(gpt_tensor(m, gpt_num_tensors(m)));
    /* Init: LayerNorm gains 1, biases 0, c_proj std smaller than c_fc's. */
    float *p = gpt_host_alloc(m, gpt_num_params(m) * sizeof *p);
    assert_int_equal(gpt_read(m, GPT_PARAM, p), 0);
    const gpt_tensor_info *lnw = gpt_tensor(m, 2), *lnb = gpt_tensor(m, 3);
    for (size_t i = 0; i < lnw->numel; i++)
        assert_true(p[lnw->offset + i] == 1.0f && p[lnb->offset + i] == 0.0f);
    /* The (parallel) init equals one sequential pass of the RNG over the
     * tensors in table order: N(0, 0.02), c_proj weights N(0, 0.02/sqrt(2L)). */
    uint64_t r = 1;
    for (int ti = 0; ti < gpt_num_tensors(m); ti++) {
        const gpt_tensor_info *t = gpt_tensor(m, ti);
        if (t->ndim != 2)
            continue;
        float sd = strstr(t->name, "c_proj.w") ? 0.02f / sqrtf(2.0f * L) : 0.02f;
        for (size_t i = 0; i < t->numel; i++) {
            float want = sd * gpt_rng_normal(&r);
            if (p[t->offset + i] != want)
                fail_msg("%s[%zu] = %g, sequential init gives %g", t->name, i, p[t->offset + i], want);
        }
    }
    gpt_host_free(m, p);
    gpt_free(m);
}

static float loss_at(gpt_model *m, const int32_t *in, const int32_t *tg)
{
    float l;
    assert_int_equal(gpt_forward(m, in, tg, TB, TT, 0, &l), 0);
    return l;
}

/* Whole model: for every tensor, the directional derivative along a random
 * direction d (entries ±1) from the analytic gradient against the central
 * difference (L(p + h·d) − L(p − h·d)) / 2h of the float forward, h = 1e-3.
 * Float loss rounding (~3e-7) over 2h gives ~2e-4 absolute noise; the
 * tolerance is 1e-3 + 3%. Weights are drawn at std 0.3 (not 0.02) so every
 * tensor's gradient is well above that noise. */
static void test_whole_model_gradcheck(void **state)
{
    (void)state;
    gpt_model *m = make(&tiny, TB, TT, 7);
    size_t n = gpt_num_params(m);
    float *p = malloc(n * 4), *g = malloc(n * 4), *q = malloc(n * 4);
    uint64_t r = 99;
    assert_int_equal(gpt_read(m, GPT_PARAM, p), 0);
    for (size_t i = 0; i < n; i++)
        p[i] += 0.3f * gpt_rng_normal(&r);
    assert_int_equal(gpt_write(m, GPT_PARAM, p), 0);
    int32_t in[TB * TT], tg[TB * TT];
    batch(0, tiny.vocab_size, in, tg, TB * TT);
    float l0;
    assert_int_equal(gpt_forward(m, in, tg, TB, TT, 1, &l0), 0);
    assert_int_equal(gpt_read(m, GPT_GRAD, g), 0);
    const float h = 1e-3f;
    for (int ti = 0; ti < gpt_num_tensors(m); ti++) {
        const gpt_tensor_info *t = gpt_tensor(m, ti);
        double analytic = 0;
        memcpy(q, p, n * 4);
        for (size_t i = 0; i < t->numel; i++) {
            float d = (gpt_rng_next(&r) & 1) ? 1.0f : -1.0f;
            if (ti == 1 && i >= (size_t)TT * tiny.n_embd)
                d = 0; /* unused wpe rows: checked below */
            analytic += (double)d * g[t->offset + i];
            q[t->offset + i] = p[t->offset + i] + h * d;
        }
        assert_int_equal(gpt_write(m, GPT_PARAM, q), 0);
        float lp = loss_at(m, in, tg);
        for (size_t i = 0; i < t->numel; i++)
            q[t->offset + i] = 2 * p[t->offset + i] - q[t->offset + i];
        assert_int_equal(gpt_write(m, GPT_PARAM, q), 0);
        float lm = loss_at(m, in, tg);
        double fd = ((double)lp - lm) / (2.0 * h);
        if (!(fabs(fd - analytic) <= 1e-3 + 0.03 * fabs(fd)))
            fail_msg("tensor %s: analytic %.6g, finite difference %.6g", t->name, analytic, fd);
    }
    const gpt_tensor_info *wpe = gpt_tensor(m, 1);
    for (size_t i = (size_t)TT * tiny.n_embd; i < wpe->numel; i++)
        assert_true(g[wpe->offset + i] == 0.0f);
    free(p);
    free(g);
    free(q);
    gpt_free(m);
}

/* AdamW against a hand computation in double at t = 1 and t = 2. */
static void test_adamw_hand(void **state)
{
    (void)state;
    gpt_model *m = make(&tiny, TB, TT, 3);
    size_t n = gpt_num_params(m);
    float *p0 = malloc(n * 4), *g = malloc(n * 4), *p = malloc(n * 4), *mm = malloc(n * 4), *vv = malloc(n * 4);
    double *em = calloc(n, 8), *ev = calloc(n, 8), *ep = malloc(n * 8);
    gpt_adamw hp = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 0.0f};
    uint64_t r = 5;
    assert_int_equal(gpt_read(m, GPT_PARAM, p0), 0);
    for (size_t i = 0; i < n; i++)
        ep[i] = p0[i];
    for (int t = 1; t <= 2; t++) {
        for (size_t i = 0; i < n; i++)
            g[i] = 0.01f * gpt_rng_normal(&r);
        assert_int_equal(gpt_write(m, GPT_GRAD, g), 0);
        float norm;
        assert_int_equal(gpt_update(m, &hp, 3e-3f, &norm), 0);
        assert_int_equal(gpt_adam_step(m), (uint64_t)t);
        double sq = 0;
        for (size_t i = 0; i < n; i++)
            sq += (double)g[i] * g[i];
        assert_true(fabs(norm - sqrt(sq)) <= 1e-6 * sqrt(sq));
        for (int ti = 0; ti < gpt_num_tensors(m); ti++) {
            const gpt_tensor_info *inf = gpt_tensor(m, ti);
            double wd = inf->ndim == 2 ? 0.1 : 0.0;
            for (size_t i = inf->offset; i < inf->offset + inf->numel; i++) {
                em[i] = 0.9 * em[i] + 0.1 * g[i];
                ev[i] = 0.95 * ev[i] + 0.05 * (double)g[i] * g[i];
                double mh = em[i] / (1 - pow(0.9, t)), vh = ev[i] / (1 - pow(0.95, t));
                if (t == 1)
                    assert_true(fabs(mh - g[i]) <= 1e-6 * fabs(g[i]) + 1e-12); /* bias correction */
                ep[i] -= 3e-3 * (mh / (sqrt(vh) + 1e-8) + wd * ep[i]);
            }
        }
        assert_int_equal(gpt_read(m, GPT_PARAM, p), 0);
        assert_int_equal(gpt_read(m, GPT_ADAM_M, mm), 0);
        assert_int_equal(gpt_read(m, GPT_ADAM_V, vv), 0);
        /* Float vs double: the update is ~lr per element; 1e-7 absolute is a few ulps of p. */
        for (size_t i = 0; i < n; i++) {
            if (fabs(p[i] - ep[i]) > 2e-7 + 1e-6 * fabs(ep[i]))
                fail_msg("p[%zu] %.9g want %.9g (t=%d)", i, p[i], ep[i], t);
            /* m and v: a few float roundings of terms of size |g| and g². */
            /* (1 − β) is itself rounded in float (0.1f·(1+2.4e-7)), hence 1e-6 relative. */
            double gm = fabs((double)g[i]);
            if (fabs(mm[i] - em[i]) > 1e-6 * (fabs(em[i]) + gm) + 1e-15 ||
                fabs(vv[i] - ev[i]) > 1e-6 * (ev[i] + gm * gm) + 1e-18)
                fail_msg("m/v[%zu]: %.9g %.9g want %.9g %.9g", i, mm[i], vv[i], em[i], ev[i]);
        }
    }
    /* No decay on 1-D tensors: with g = 0 and m = v = 0, a LayerNorm gain stays
     * put while a matrix shrinks by exactly lr·wd·p. */
    memset(g, 0, n * 4);
    float *z = calloc(n, 4);
    gpt_write(m, GPT_GRAD, g);
    gpt_write(m, GPT_ADAM_M, z);
    gpt_write(m, GPT_ADAM_V, z);
    gpt_read(m, GPT_PARAM, p0);
    assert_int_equal(gpt_update(m, &hp, 0.5f, NULL), 0);
    gpt_read(m, GPT_PARAM, p);
    const gpt_tensor_info *lnw = gpt_tensor(m, 2), *qkv = gpt_tensor(m, 4);
    for (size_t i = 0; i < lnw->numel; i++)
        assert_true(p[lnw->offset + i] == p0[lnw->offset + i]);
    for (size_t i = 0; i < qkv->numel; i++) {
        float a = p0[qkv->offset + i];
        assert_true(fabsf(p[qkv->offset + i] - (a - 0.5f * 0.1f * a)) <= 1e-7f + 1e-6f * fabsf(a));
    }
    free(z);
    free(p0);
    free(g);
    free(p);
    free(mm);
    free(vv);
    free(em);
    free(ev);
    free(ep);
    gpt_free(m);
}

static void test_clip(void **state)
{
    (void)state;
    gpt_model *m = make(&tiny, TB, TT, 3);
    size_t n = gpt_num_params(m);
    float *g = malloc(n * 4), *g2 = malloc(n * 4);
    /* Every gradient 0.5: norm = 0.5·sqrt(n). */
    for (size_t i = 0; i < n; i++)
        g[i] = 0.5f;
    double want = 0.5 * sqrt((double)n);
    gpt_adamw hp = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f, .grad_clip = 1.0f};
    float norm;
    gpt_write(m, GPT_GRAD, g);
    assert_int_equal(gpt_update(m, &hp, 1e-3f, &norm), 0);
    assert_true(fabs(norm - want) <= 1e-6 * want); /* reported before clipping */
    gpt_read(m, GPT_GRAD, g2);
    for (size_t i = 0; i < n; i++)
        assert_true(fabsf(g2[i] - (float)(0.5 / want)) <= 1e-7f); /* scaled to norm 1 */
    /* Below the threshold: untouched. */
    hp.grad_clip = (float)(2 * want);
    gpt_write(m, GPT_GRAD, g);
    assert_int_equal(gpt_update(m, &hp, 1e-3f, &norm), 0);
    gpt_read(m, GPT_GRAD, g2);
    assert_memory_equal(g, g2, n * 4);
    /* grad_clip 0 disables clipping. */
    hp.grad_clip = 0.0f;
    gpt_write(m, GPT_GRAD, g);
    assert_int_equal(gpt_update(m, &hp, 1e-3f, &norm), 0);
    gpt_read(m, GPT_GRAD, g2);
    assert_memory_equal(g, g2, n * 4);
    /* Bad hyper-parameters are refused and do not advance the step. */
    uint64_t t = gpt_adam_step(m);
    assert_int_equal(gpt_update(m, &hp, -1.0f, NULL), -1);
    assert_non_null(strstr(gpt_last_error(), "learning rate"));
    assert_int_equal(gpt_adam_step(m), t);
    free(g);
    free(g2);
    gpt_free(m);
}

/* Runs steps [from, to) of the reference schedule and stores the losses. */
static void train(gpt_model *m, int from, int to, float *losses)
{
    gpt_adamw hp = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f};
    int32_t in[TB * TT], tg[TB * TT];
    for (int s = from; s < to; s++) {
        batch(s, tiny.vocab_size, in, tg, TB * TT);
        assert_int_equal(gpt_forward(m, in, tg, TB, TT, 1, &losses[s - from]), 0);
        assert_int_equal(gpt_update(m, &hp, 1e-2f, NULL), 0);
    }
}

static void test_threads_same_bits(void **state)
{
    (void)state;
    /* A config whose matmuls span several GEMM tasks, so 2 threads really split work. */
    gpt_config c = {.n_layer = 2, .n_head = 4, .n_embd = 64, .vocab_size = 700, .block_size = 64};
    int B = 4, T = 64;
    float loss[2][3];
    float *p[2];
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        gpt_model *m = make(&c, B, T, 11);
        gpt_adamw hp = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f};
        int32_t *in = malloc((size_t)B * T * 4), *tg = malloc((size_t)B * T * 4);
        for (int s = 0; s < 3; s++) {
            batch(s, c.vocab_size, in, tg, B * T);
            assert_int_equal(gpt_forward(m, in, tg, B, T, 1, &loss[k][s]), 0);
            assert_int_equal(gpt_update(m, &hp, 1e-3f, NULL), 0);
        }
        p[k] = malloc(gpt_num_params(m) * 4);
        gpt_read(m, GPT_PARAM, p[k]);
        if (k == 1)
            assert_memory_equal(p[0], p[1], gpt_num_params(m) * 4);
        free(in);
        free(tg);
        gpt_free(m);
    }
    assert_memory_equal(loss[0], loss[1], sizeof loss[0]);
    omp_set_num_threads(2);
    free(p[0]);
    free(p[1]);
}

static const char *self_path;

static void test_resume_fresh_process(void **state)
{
    (void)state;
    enum { N = 6, K = 3 };
    float straight[N], first[K], rest[N - K];
    gpt_model *m = make(&tiny, TB, TT, 21);
    train(m, 0, N, straight);
    gpt_free(m);

    char path[] = "/tmp/test_gpt_model_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    m = make(&tiny, TB, TT, 21);
    train(m, 0, K, first);
    assert_memory_equal(first, straight, sizeof first);
    size_t n = gpt_num_params(m);
    float *buf = gpt_host_alloc(m, n * 4);
    FILE *f = fopen(path, "wb");
    uint64_t t = gpt_adam_step(m);
    fwrite(&t, sizeof t, 1, f);
    for (int s = GPT_PARAM; s <= GPT_ADAM_V; s++) {
        assert_int_equal(gpt_read(m, (gpt_slot)s, buf), 0);
        fwrite(buf, 4, n, f);
    }
    fclose(f);
    gpt_host_free(m, buf);
    gpt_free(m);

    /* A fresh process (re-exec of this binary) restores and trains N−K steps. */
    char out[] = "/tmp/test_gpt_model_out_XXXXXX";
    fd = mkstemp(out);
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self_path, self_path, "--resume-child", path, out, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    f = fopen(out, "rb");
    assert_int_equal(fread(rest, sizeof rest[0], N - K, f), N - K);
    fclose(f);
    unlink(path);
    unlink(out);
    assert_memory_equal(rest, straight + K, sizeof rest);
}

static int resume_child(const char *state_path, const char *out_path)
{
    enum { N = 6, K = 3 };
    gpt_model *m = NULL;
    if (gpt_create(&m, &tiny, TB, TT, GPT_BACKEND_CPU))
        return 1;
    size_t n = gpt_num_params(m);
    float *buf = gpt_host_alloc(m, n * 4);
    FILE *f = fopen(state_path, "rb");
    uint64_t t;
    if (!f || fread(&t, sizeof t, 1, f) != 1)
        return 2;
    for (int s = GPT_PARAM; s <= GPT_ADAM_V; s++) {
        if (fread(buf, 4, n, f) != n)
            return 3;
        if (gpt_write(m, (gpt_slot)s, buf))
            return 4;
    }
    fclose(f);
    gpt_set_adam_step(m, t);
    gpt_adamw hp = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f};
    int32_t in[TB * TT], tg[TB * TT];
    float losses[N - K];
    for (int s = K; s < N; s++) {
        batch(s, tiny.vocab_size, in, tg, TB * TT);
        if (gpt_forward(m, in, tg, TB, TT, 1, &losses[s - K]) || gpt_update(m, &hp, 1e-2f, NULL))
            return 5;
    }
    f = fopen(out_path, "wb");
    fwrite(losses, sizeof losses[0], N - K, f);
    fclose(f);
    gpt_host_free(m, buf);
    gpt_free(m);
    return 0;
}

static void test_generate(void **state)
{
    (void)state;
    gpt_model *m = make(&tiny, TB, TT, 5);
    int32_t prompt[3] = {1, 2, 3}, a[12], b[12], c[12], d[12];
    uint64_t s1 = 42, s2 = 42, s3 = 43;
    /* 12 new tokens with max_seq 6: the context slides. */
    assert_int_equal(gpt_generate(m, prompt, 3, 12, 1.0f, 0, &s1, a), 0);
    assert_int_equal(gpt_generate(m, prompt, 3, 12, 1.0f, 0, &s2, b), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_true(s1 == s2 && s1 != 42);
    assert_int_equal(gpt_generate(m, prompt, 3, 12, 1.0f, 0, &s3, c), 0);
    assert_memory_not_equal(a, c, sizeof a); /* 29^12 outcomes: a collision is not plausible */
    for (int i = 0; i < 12; i++)
        assert_true(a[i] >= 0 && a[i] < tiny.vocab_size);
    /* Greedy: deterministic and equal to top-k 1 at any temperature. */
    uint64_t g1 = 1, g2 = 99;
    assert_int_equal(gpt_generate(m, prompt, 3, 12, 0.0f, 0, &g1, c), 0);
    assert_int_equal(gpt_generate(m, prompt, 3, 12, 0.7f, 1, &g2, d), 0);
    assert_memory_equal(c, d, sizeof c);
    /* Top-k 3 at a high temperature: 40 draws of the first token land on at most
     * 3 distinct ids (the whole vocabulary would give ~20), one being the greedy one. */
    uint64_t s4 = 7, z = 0;
    int32_t one, greedy, seen[40];
    assert_int_equal(gpt_generate(m, prompt, 3, 1, 0.0f, 0, &z, &greedy), 0);
    int distinct = 0, has_greedy = 0;
    for (int rep = 0; rep < 40; rep++) {
        assert_int_equal(gpt_generate(m, prompt, 3, 1, 50.0f, 3, &s4, &one), 0);
        int dup = 0;
        for (int i = 0; i < distinct; i++)
            dup |= seen[i] == one;
        if (!dup)
            seen[distinct++] = one;
        has_greedy |= one == greedy;
    }
    assert_true(distinct >= 2 && distinct <= 3);
    assert_true(has_greedy);
    int32_t bad = 29;
    assert_int_equal(gpt_generate(m, &bad, 1, 1, 1.0f, 0, &s4, &one), -1);
    assert_int_equal(gpt_generate(m, prompt, 0, 1, 1.0f, 0, &s4, &one), -1);
    gpt_free(m);
}

static void test_forward_rejects_bad_input(void **state)
{
    (void)state;
    gpt_model *m = make(&tiny, TB, TT, 5);
    int32_t in[TB * TT] = {0}, tg[TB * TT] = {0};
    float l;
    assert_int_equal(gpt_forward(m, in, tg, TB + 1, TT, 0, &l), -1);
    assert_int_equal(gpt_forward(m, in, tg, TB, TT + 1, 0, &l), -1);
    tg[3] = tiny.vocab_size;
    assert_int_equal(gpt_forward(m, in, tg, TB, TT, 0, &l), -1);
    assert_non_null(strstr(gpt_last_error(), "targets[3] = 29"));
    /* Targets unlike the inputs (tied embeddings favour repeating the input). */
    for (int i = 0; i < TB * TT; i++)
        tg[i] = 1 + i % 20;
    assert_int_equal(gpt_forward(m, in, tg, TB, TT, 0, &l), 0);
    if (!(fabsf(l - logf((float)tiny.vocab_size)) < 0.1f))
        fail_msg("loss at init %g", l); /* near-uniform */
    gpt_free(m);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--resume-child") == 0)
        return resume_child(argv[2], argv[3]);
    self_path = argv[0];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_bad_configs),
        cmocka_unit_test(test_tensor_table),
        cmocka_unit_test(test_whole_model_gradcheck),
        cmocka_unit_test(test_adamw_hand),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_threads_same_bits),
        cmocka_unit_test(test_resume_fresh_process),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_forward_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
