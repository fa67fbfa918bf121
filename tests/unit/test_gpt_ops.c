/* tests/unit/test_gpt_ops.c — each CPU op against a double-precision reference.
 *
 * For every op: the float kernel's forward is compared with a double reference
 * implementation, and its backward (driven by a random upstream gradient R, so
 * the scalar is L = Σ out·R) with central finite differences of that double
 * reference (h = 1e-5 on inputs of order 1, so the difference error is ~1e-9
 * and all the slack is the float kernel's rounding). Tolerance: |a − r| ≤
 * 1e-4 + 1e-3·|r| for forward values and 2e-4 + 2e-3·|r| for gradients; float
 * accumulations over ≤ 64 terms stay well inside that, and a wrong index or a
 * missing term is off by O(1). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "cuda/cpu/cpu_kernels.h"
#include "cuda/gpt.h"

#define H 1e-5

static uint64_t rs = 12345;
static float frand(void)
{
    return gpt_rng_uniform(&rs) * 2.0f - 1.0f;
}
static float *frandv(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = frand();
    return p;
}
static double *tod(const float *x, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

static void close_enough(const float *got, const double *want, size_t n, double atol, double rtol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        if (!(err <= atol + rtol * fabs(want[i])))
            fail_msg("%s[%zu]: got %.8g want %.8g (err %.3g)", what, i, got[i], want[i], err);
    }
}

/* Central differences of f (a scalar function of x[0..n)) in double. */
typedef double (*scalar_fn)(double *x, void *ctx);
static void fd_grad(double *g, double *x, size_t n, scalar_fn f, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + H;
        double fp = f(x, ctx);
        x[i] = x0 - H;
        double fm = f(x, ctx);
        x[i] = x0;
        g[i] = (fp - fm) / (2 * H);
    }
}

/* ---- matmul ---- */
typedef struct {
    int N, IC, OC, which;
    double *inp, *w, *b;
    const float *R;
} mm_ctx;
static void mm_ref(double *out, const mm_ctx *c)
{
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->OC; o++) {
            double s = c->b[o];
            for (int i = 0; i < c->IC; i++)
                s += c->inp[n * c->IC + i] * c->w[o * c->IC + i];
            out[n * c->OC + o] = s;
        }
}
static double mm_loss(double *x, void *vc)
{
    mm_ctx *c = vc;
    (void)x;
    double *out = malloc((size_t)c->N * c->OC * sizeof *out), L = 0;
    mm_ref(out, c);
    for (int i = 0; i < c->N * c->OC; i++)
        L += out[i] * c->R[i];
    free(out);
    return L;
}

static void check_matmul(int N, int IC, int OC)
{
    float *inp = frandv((size_t)N * IC), *w = frandv((size_t)OC * IC), *b = frandv(OC), *R = frandv((size_t)N * OC);
    float *out = malloc((size_t)N * OC * 4), *wt = malloc((size_t)IC * OC * 4);
    float *dinp = malloc((size_t)N * IC * 4), *dw = malloc((size_t)OC * IC * 4), *db = malloc((size_t)OC * 4);
    mm_ctx c = {N, IC, OC, 0, tod(inp, (size_t)N * IC), tod(w, (size_t)OC * IC), tod(b, OC), R};
    double *ref = malloc((size_t)N * OC * sizeof *ref);
    mm_ref(ref, &c);
    cpu_matmul_fwd(out, inp, w, b, N, IC, OC, wt);
    close_enough(out, ref, (size_t)N * OC, 1e-4, 1e-3, "matmul out");
    /* accumulate_dw: start dw at 1 and expect 1 + grad. */
    for (int i = 0; i < OC * IC; i++)
        dw[i] = 1.0f;
    cpu_matmul_bwd(dinp, dw, db, R, inp, w, N, IC, OC, 1);
    double *g = malloc((size_t)(N * IC + OC * IC + OC) * sizeof *g);
    fd_grad(g, c.inp, (size_t)N * IC, mm_loss, &c);
    close_enough(dinp, g, (size_t)N * IC, 2e-4, 2e-3, "matmul dinp");
    fd_grad(g, c.w, (size_t)OC * IC, mm_loss, &c);
    for (int i = 0; i < OC * IC; i++)
        g[i] += 1.0;
    close_enough(dw, g, (size_t)OC * IC, 2e-4, 2e-3, "matmul dw (accumulated)");
    fd_grad(g, c.b, OC, mm_loss, &c);
    close_enough(db, g, OC, 2e-4, 2e-3, "matmul db");
    free(inp);
    free(w);
    free(b);
    free(R);
    free(out);
    free(wt);
    free(dinp);
    free(dw);
    free(db);
    free(c.inp);
    free(c.w);
    free(c.b);
    free(ref);
    free(g);
}

static void test_matmul(void **state)
{
    (void)state;
    check_matmul(7, 5, 3);     /* everything smaller than one register tile */
    check_matmul(13, 19, 70);  /* partial tiles in M and N */
    check_matmul(100, 130, 9); /* K spans two KC blocks, M spans two MC blocks */
    check_matmul(3, 40, 50);   /* small batch: activations transposed instead of weights */
}

static void test_gemm_strides(void **state)
{
    (void)state;
    /* C = Aᵀ·B with A stored [K,M] (row stride 1, column stride M), accumulate. */
    int M = 17, N = 300, K = 33;
    float *A = frandv((size_t)K * M), *B = frandv((size_t)K * N), *C = frandv((size_t)M * N);
    double *want = malloc((size_t)M * N * sizeof *want);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = C[i * N + j];
            for (int p = 0; p < K; p++)
                s += (double)A[p * M + i] * B[p * N + j];
            want[i * N + j] = s;
        }
    cpu_gemm(C, N, A, 1, M, B, N, M, N, K, 1, NULL);
    close_enough(C, want, (size_t)M * N, 1e-4, 1e-4, "gemm");
    free(A);
    free(B);
    free(C);
    free(want);
}

/* The GEMM's bits: every element is init (0, the bias, or C when accumulating)
 * followed by one fused multiply-add per p = 0..K−1 in order, whatever the
 * blocking, the grouping of row blocks into tasks, packing, or the thread
 * count. Compared bit for bit with that loop written out with fmaf, on shapes
 * that span several KC slices, MC row blocks (grouped) and NC column blocks
 * with partial tiles, for row-major and transposed A, on 1 and 2 threads and
 * through cpu_gemm_serial. */
static void check_gemm_bits(int M, int N, int K, int transA, int accumulate, int with_bias)
{
    float *A = frandv((size_t)M * K), *B = frandv((size_t)K * N), *C0 = frandv((size_t)M * N),
          *bias = frandv((size_t)N), *want = malloc((size_t)M * N * 4), *got = malloc((size_t)M * N * 4);
    long a_rs = transA ? 1 : K, a_cs = transA ? M : 1;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float acc = accumulate ? C0[(long)i * N + j] : with_bias ? bias[j] : 0.0f;
            for (int p = 0; p < K; p++)
                acc = fmaf(A[i * a_rs + p * a_cs], B[(long)p * N + j], acc);
            want[(long)i * N + j] = acc;
        }
    int saved = omp_get_max_threads();
    for (int run = 0; run < 3; run++) {
        memcpy(got, C0, (size_t)M * N * 4);
        if (run < 2) {
            omp_set_num_threads(run + 1);
            cpu_gemm(got, N, A, a_rs, a_cs, B, N, M, N, K, accumulate, with_bias ? bias : NULL);
        } else {
            cpu_gemm_serial(got, N, A, a_rs, a_cs, B, N, M, N, K, accumulate, with_bias ? bias : NULL);
        }
        for (long e = 0; e < (long)M * N; e++)
            if (memcmp(&got[e], &want[e], 4) != 0)
                fail_msg("gemm %dx%dx%d transA %d acc %d bias %d run %d: C[%ld] = %.9g, want %.9g", M, N, K, transA,
                         accumulate, with_bias, run, e, got[e], want[e]);
    }
    omp_set_num_threads(saved);
    free(A);
    free(B);
    free(C0);
    free(bias);
    free(want);
    free(got);
}

static void test_gemm_bits(void **state)
{
    (void)state;
    check_gemm_bits(500, 300, 300, 0, 0, 1); /* 6 row blocks, 2 column blocks, 3 KC slices */
    check_gemm_bits(500, 300, 300, 1, 1, 0); /* transposed A (weight gradient), accumulate */
    check_gemm_bits(1000, 70, 40, 0, 0, 0);  /* one KC slice: many row blocks per task */
    check_gemm_bits(1000, 70, 260, 1, 0, 1); /* transposed A, partial panels in M and N */
}

/* dinp or dw may be NULL: only the other product is computed (the bench times
 * them apart). The old code always wrote dw. */
static void test_matmul_bwd_parts(void **state)
{
    (void)state;
    int N = 50, IC = 20, OC = 30;
    float *inp = frandv((size_t)N * IC), *w = frandv((size_t)OC * IC), *dout = frandv((size_t)N * OC);
    float *dinp = malloc((size_t)N * IC * 4), *dw = malloc((size_t)OC * IC * 4), *dinp2 = malloc((size_t)N * IC * 4),
          *dw2 = malloc((size_t)OC * IC * 4);
    cpu_matmul_bwd(dinp, dw, NULL, dout, inp, w, N, IC, OC, 0);
    cpu_matmul_bwd(dinp2, NULL, NULL, dout, inp, w, N, IC, OC, 0);
    cpu_matmul_bwd(NULL, dw2, NULL, dout, inp, w, N, IC, OC, 0);
    assert_memory_equal(dinp, dinp2, (size_t)N * IC * 4);
    assert_memory_equal(dw, dw2, (size_t)OC * IC * 4);
    free(inp);
    free(w);
    free(dout);
    free(dinp);
    free(dw);
    free(dinp2);
    free(dw2);
}

/* ---- layernorm ---- */
typedef struct {
    int N, C;
    double *x, *w, *b;
    const float *R;
} ln_ctx;
static void ln_ref(double *out, const ln_ctx *c)
{
    for (int n = 0; n < c->N; n++) {
        const double *x = c->x + n * c->C;
        double mu = 0, var = 0;
        for (int i = 0; i < c->C; i++)
            mu += x[i];
        mu /= c->C;
        for (int i = 0; i < c->C; i++)
            var += (x[i] - mu) * (x[i] - mu);
        var /= c->C;
        for (int i = 0; i < c->C; i++)
            out[n * c->C + i] = (x[i] - mu) / sqrt(var + 1e-5) * c->w[i] + c->b[i];
    }
}
static double ln_loss(double *x, void *vc)
{
    ln_ctx *c = vc;
    (void)x;
    double *out = malloc((size_t)c->N * c->C * sizeof *out), L = 0;
    ln_ref(out, c);
    for (int i = 0; i < c->N * c->C; i++)
        L += out[i] * c->R[i];
    free(out);
    return L;
}
static void test_layernorm(void **state)
{
    (void)state;
    int N = 6, C = 37;
    float *x = frandv((size_t)N * C), *w = frandv(C), *b = frandv(C), *R = frandv((size_t)N * C);
    float *out = malloc((size_t)N * C * 4), mean[6], rstd[6];
    float *dx = calloc((size_t)N * C, 4), *dw = malloc((size_t)C * 4), *db = malloc((size_t)C * 4);
    ln_ctx c = {N, C, tod(x, (size_t)N * C), tod(w, C), tod(b, C), R};
    double *ref = malloc((size_t)N * C * sizeof *ref), *g = malloc((size_t)N * C * sizeof *g);
    ln_ref(ref, &c);
    cpu_layernorm_fwd(out, mean, rstd, x, w, b, N, C);
    close_enough(out, ref, (size_t)N * C, 1e-4, 1e-3, "layernorm out");
    for (int i = 0; i < N * C; i++)
        dx[i] = 0.5f; /* dinp accumulates */
    cpu_layernorm_bwd(dx, dw, db, R, x, w, mean, rstd, N, C);
    fd_grad(g, c.x, (size_t)N * C, ln_loss, &c);
    for (int i = 0; i < N * C; i++)
        g[i] += 0.5;
    close_enough(dx, g, (size_t)N * C, 2e-4, 2e-3, "layernorm dx (accumulated)");
    fd_grad(g, c.w, C, ln_loss, &c);
    close_enough(dw, g, C, 2e-4, 2e-3, "layernorm dw");
    fd_grad(g, c.b, C, ln_loss, &c);
    close_enough(db, g, C, 2e-4, 2e-3, "layernorm db");
    free(x);
    free(w);
    free(b);
    free(R);
    free(out);
    free(dx);
    free(dw);
    free(db);
    free(c.x);
    free(c.w);
    free(c.b);
    free(ref);
    free(g);
}

/* ---- attention ---- */
typedef struct {
    int B, T, C, NH;
    double *qkv;
    const float *R;
} at_ctx;
static void at_ref(double *out, const at_ctx *c)
{
    int hd = c->C / c->NH, C3 = 3 * c->C;
    double *s = malloc((size_t)c->T * sizeof *s);
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->NH; h++)
            for (int t = 0; t < c->T; t++) {
                const double *q = c->qkv + (b * c->T + t) * C3 + h * hd;
                double mx = -1e300, sum = 0;
                for (int j = 0; j <= t; j++) {
                    const double *k = c->qkv + (b * c->T + j) * C3 + c->C + h * hd;
                    double d = 0;
                    for (int i = 0; i < hd; i++)
                        d += q[i] * k[i];
                    s[j] = d / sqrt((double)hd);
                    if (s[j] > mx)
                        mx = s[j];
                }
                for (int j = 0; j <= t; j++)
                    sum += (s[j] = exp(s[j] - mx));
                double *o = out + (b * c->T + t) * c->C + h * hd;
                for (int i = 0; i < hd; i++) {
                    double a = 0;
                    for (int j = 0; j <= t; j++)
                        a += s[j] / sum * c->qkv[(b * c->T + j) * C3 + 2 * c->C + h * hd + i];
                    o[i] = a;
                }
            }
    free(s);
}
static double at_loss(double *x, void *vc)
{
    at_ctx *c = vc;
    (void)x;
    size_t n = (size_t)c->B * c->T * c->C;
    double *out = malloc(n * sizeof *out), L = 0;
    at_ref(out, c);
    for (size_t i = 0; i < n; i++)
        L += out[i] * c->R[i];
    free(out);
    return L;
}
static void check_attention(int B, int T, int C, int NH)
{
    size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    float *qkv = frandv(nq), *R = frandv(no), *out = malloc(no * 4), *att = malloc(na * 4);
    float *dqkv = malloc(nq * 4), *scr = malloc(na * 4);
    at_ctx c = {B, T, C, NH, tod(qkv, nq), R};
    double *ref = malloc(no * sizeof *ref), *g = malloc(nq * sizeof *g);
    at_ref(ref, &c);
    cpu_attention_fwd(out, att, qkv, B, T, C, NH);
    close_enough(out, ref, no, 1e-4, 1e-3, "attention out");
    cpu_attention_bwd(dqkv, scr, R, qkv, att, B, T, C, NH);
    fd_grad(g, c.qkv, nq, at_loss, &c);
    close_enough(dqkv, g, nq, 2e-4, 2e-3, "attention dqkv");
    free(qkv);
    free(R);
    free(out);
    free(att);
    free(dqkv);
    free(scr);
    free(c.qkv);
    free(ref);
    free(g);
}

static void test_attention(void **state)
{
    (void)state;
    check_attention(2, 5, 12, 3);  /* one row block */
    check_attention(1, 100, 8, 2); /* T spans three causal row blocks of 48 */
}

/* ---- gelu ---- */
static double gelu_d(double x)
{
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
static void test_gelu(void **state)
{
    (void)state;
    enum { n = 9000 }; /* more than one elementwise chunk */
    float *x = malloc(n * 4), *y = malloc(n * 4), *R = frandv(n), *dx = malloc(n * 4);
    double *want = malloc(n * sizeof *want), *g = malloc(n * sizeof *g);
    for (int i = 0; i < n; i++) {
        x[i] = -6.0f + 12.0f * i / n;
        want[i] = gelu_d(x[i]);
        g[i] = (gelu_d(x[i] + H) - gelu_d(x[i] - H)) / (2 * H) * R[i];
    }
    cpu_gelu_fwd(y, x, n);
    close_enough(y, want, n, 1e-6, 1e-5, "gelu");
    cpu_gelu_bwd(dx, x, R, n);
    close_enough(dx, g, n, 1e-5, 1e-4, "gelu backward");
    free(x);
    free(y);
    free(R);
    free(dx);
    free(want);
    free(g);
}

/* ---- softmax cross-entropy ---- */
typedef struct {
    int N, V;
    double *x;
    const int32_t *tg;
} ce_ctx;
static double ce_loss(double *x, void *vc)
{
    ce_ctx *c = vc;
    double L = 0;
    for (int n = 0; n < c->N; n++) {
        const double *r = x + n * c->V;
        double mx = -1e300, s = 0;
        for (int j = 0; j < c->V; j++)
            mx = r[j] > mx ? r[j] : mx;
        for (int j = 0; j < c->V; j++)
            s += exp(r[j] - mx);
        L += log(s) + mx - r[c->tg[n]];
    }
    return L / c->N;
}
static void test_crossentropy(void **state)
{
    (void)state;
    int N = 5, V = 37;
    int32_t tg[5] = {0, 36, 3, 17, 3};
    float *x = frandv((size_t)N * V), losses[5];
    for (int i = 0; i < N * V; i++)
        x[i] *= 4.0f;
    ce_ctx c = {N, V, tod(x, (size_t)N * V), tg};
    double *g = malloc((size_t)N * V * sizeof *g);
    double want = ce_loss(c.x, &c);
    float loss = cpu_crossentropy(x, losses, tg, N, V, 1);
    assert_true(fabs(loss - want) <= 1e-5 * fabs(want));
    fd_grad(g, c.x, (size_t)N * V, ce_loss, &c);
    close_enough(x, g, (size_t)N * V, 1e-6, 1e-4, "crossentropy dlogits");
    free(x);
    free(c.x);
    free(g);
}

/* The fused output layer (cpu_classifier) against the unfused ops over the
 * whole batch, bit for bit: loss, per-row losses, dinp and dwte, with and
 * without backward, on 1 and 2 threads. Shapes: one split into row blocks
 * (2100 rows of a 4096 vocabulary: 8.6 M logits, two blocks), one where the
 * activations are transposed instead of the weights (8 rows), a plain one. */
static void classifier_case(int N, int C, int V, int want_blocks)
{
    float *inp = frandv((size_t)N * C), *wte = frandv((size_t)V * C);
    int32_t *tg = malloc((size_t)N * sizeof *tg);
    for (int n = 0; n < N; n++)
        tg[n] = (int32_t)((n * 7919) % V);
    int R = cpu_classifier_rows(N, C, V);
    assert_int_equal((N + R - 1) / R, want_blocks);
    size_t nv = (size_t)N * V, nc = (size_t)N * C, vc = (size_t)V * C;
    float *lg = malloc(nv * 4), *wt = malloc(vc * 4), *l_ref = malloc((size_t)N * 4), *dinp_ref = malloc(nc * 4),
          *dw_ref = malloc(vc * 4);
    cpu_matmul_fwd(lg, inp, wte, NULL, N, C, V, wt);
    float loss_ref = cpu_crossentropy(lg, l_ref, tg, N, V, 1);
    cpu_matmul_bwd(dinp_ref, dw_ref, NULL, lg, inp, wte, N, C, V, 0);
    int saved = omp_get_max_threads();
    for (int nt = 1; nt <= 2; nt++) {
        omp_set_num_threads(nt);
        float *scr = malloc((size_t)R * V * 4), *l = malloc((size_t)N * 4), *dinp = malloc(nc * 4),
              *dw = malloc(vc * 4);
        for (size_t i = 0; i < vc; i++)
            dw[i] = 123.0f; /* overwritten, not accumulated */
        float loss = cpu_classifier(dinp, dw, l, scr, wt, inp, wte, tg, N, C, V, 1);
        assert_memory_equal(&loss, &loss_ref, sizeof loss);
        assert_memory_equal(l, l_ref, (size_t)N * 4);
        assert_memory_equal(dinp, dinp_ref, nc * 4);
        assert_memory_equal(dw, dw_ref, vc * 4);
        /* Forward only: the same loss, the gradients untouched. */
        dinp[0] = 7.0f;
        dw[0] = 7.0f;
        loss = cpu_classifier(dinp, dw, l, scr, wt, inp, wte, tg, N, C, V, 0);
        assert_memory_equal(&loss, &loss_ref, sizeof loss);
        assert_true(dinp[0] == 7.0f && dw[0] == 7.0f);
        free(scr);
        free(l);
        free(dinp);
        free(dw);
    }
    omp_set_num_threads(saved);
    free(inp);
    free(wte);
    free(tg);
    free(lg);
    free(wt);
    free(l_ref);
    free(dinp_ref);
    free(dw_ref);
}

static void test_classifier_fused(void **state)
{
    (void)state;
    classifier_case(2100, 16, 4096, 2);
    classifier_case(8, 64, 3000, 1);
    classifier_case(40, 32, 300, 1);
}

/* ---- embedding ---- */
static void test_embedding(void **state)
{
    (void)state;
    int B = 2, T = 3, C = 70, V = 5, BS = 4;
    int32_t tok[6] = {1, 4, 1, 0, 1, 4};
    float *wte = frandv((size_t)V * C), *wpe = frandv((size_t)BS * C), *out = malloc((size_t)B * T * C * 4);
    float *R = frandv((size_t)B * T * C), *dwte = calloc((size_t)V * C, 4), *dwpe = calloc((size_t)BS * C, 4);
    cpu_embedding_fwd(out, tok, wte, wpe, B, T, C);
    for (int r = 0; r < B * T; r++)
        for (int c = 0; c < C; c++)
            assert_true(out[r * C + c] == wte[tok[r] * C + c] + wpe[(r % T) * C + c]);
    for (int i = 0; i < V * C; i++)
        dwte[i] = 2.0f; /* dwte accumulates */
    cpu_embedding_bwd(dwte, dwpe, R, tok, B, T, C);
    /* The op is linear, so its gradient is the adjoint: check it directly in double. */
    for (int v = 0; v < V; v++)
        for (int c = 0; c < C; c++) {
            double s = 2.0;
            for (int r = 0; r < B * T; r++)
                if (tok[r] == v)
                    s += R[r * C + c];
            assert_true(fabs(dwte[v * C + c] - s) <= 1e-5);
        }
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int b = 0; b < B; b++)
                s += R[(b * T + t) * C + c];
            assert_true(fabs(dwpe[t * C + c] - s) <= 1e-5);
        }
    free(wte);
    free(wpe);
    free(out);
    free(R);
    free(dwte);
    free(dwpe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul),    cmocka_unit_test(test_gemm_strides),
        cmocka_unit_test(test_gemm_bits), cmocka_unit_test(test_matmul_bwd_parts),
        cmocka_unit_test(test_layernorm), cmocka_unit_test(test_attention),
        cmocka_unit_test(test_gelu),      cmocka_unit_test(test_crossentropy),
        cmocka_unit_test(test_embedding), cmocka_unit_test(test_classifier_fused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
