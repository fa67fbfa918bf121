/* tests/unit/test_export.c — safetensors and llm.c model files: layout, round trips,
 * and refusal of bad files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "tools/export.h"

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/runs-export-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
    }
    return 0;
}

static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    ((char *)b)[*len] = 0;
    return b;
}

static void test_table_matches_trainer(void **state)
{
    gpt_config c = {.n_layer = 3, .n_head = 2, .n_embd = 8, .vocab_size = 50, .block_size = 16};
    gpt_tensor_info *t = NULL;
    int nt = 0;
    assert_int_equal(runs_export_tensor_table(&t, &nt, &c), 0);
    gpt_model *m = NULL;
    assert_int_equal(gpt_create(&m, &c, 1, 4, GPT_BACKEND_CPU), 0);
    assert_int_equal(nt, gpt_num_tensors(m));
    assert_int_equal(runs_export_num_params(&c), gpt_num_params(m));
    for (int i = 0; i < nt; i++) {
        const gpt_tensor_info *g = gpt_tensor(m, i);
        assert_string_equal(t[i].name, g->name);
        assert_int_equal(t[i].offset, g->offset);
        assert_int_equal(t[i].numel, g->numel);
        assert_int_equal(t[i].ndim, g->ndim);
        assert_int_equal(t[i].shape[0], g->shape[0]);
    }
    gpt_free(m);
    free(t);
}

static void test_llmc_round_trip(void **state)
{
    gpt_config c = {.n_layer = 2, .n_head = 2, .n_embd = 8, .vocab_size = 50, .block_size = 16};
    size_t n = runs_export_num_params(&c), C = 8, L = 2, Vp = 128;
    float *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++)
        w[i] = (float)i * 0.001f - 1.0f;
    char path[128];
    snprintf(path, sizeof path, "%s/model.bin", dir);
    assert_int_equal(runs_export_llmc(path, &c, w), 0);
    size_t len;
    unsigned char *f = slurp(path, &len);
    int32_t *h = (int32_t *)f;
    assert_int_equal(h[0], 20240326);
    assert_int_equal(h[1], 3);
    assert_int_equal(h[2], 16);
    assert_int_equal(h[3], 50);
    assert_int_equal(h[4], 2);
    assert_int_equal(h[5], 2);
    assert_int_equal(h[6], 8);
    assert_int_equal(h[7], 128);
    size_t total = Vp * C + 16 * C + L * (12 * C * C + 13 * C) + 2 * C;
    assert_int_equal(len, 1024 + 4 * total);
    float *p = (float *)(f + 1024);
    /* wte rows as ours, then zero padding rows */
    assert_memory_equal(p, w, 50 * C * 4);
    for (size_t i = 50 * C; i < Vp * C; i++)
        assert_true(p[i] == 0.0f);
    /* wpe follows the padded wte */
    assert_memory_equal(p + Vp * C, w + 50 * C, 16 * C * 4);
    /* layer 1's qkvw: llm.c array 4 (after wte, wpe, ln1w[L], ln1b[L], qkvw of layer 0) */
    gpt_tensor_info *t = NULL;
    int nt = 0;
    assert_int_equal(runs_export_tensor_table(&t, &nt, &c), 0);
    size_t qkvw = Vp * C + 16 * C + 2 * L * C;
    assert_string_equal(t[2 + 12 + 2].name, "h.1.attn.c_attn.w");
    assert_memory_equal(p + qkvw + 3 * C * C, w + t[2 + 12 + 2].offset, 3 * C * C * 4);
    /* layer 0's ln_2.b: after qkvw, qkvb, attprojw, attprojb, ln2w */
    size_t ln2b = qkvw + L * 3 * C * C + L * 3 * C + L * C * C + L * C + L * C;
    assert_string_equal(t[2 + 7].name, "h.0.ln_2.b");
    assert_memory_equal(p + ln2b, w + t[2 + 7].offset, C * 4);
    /* lnfb last */
    assert_memory_equal(p + total - C, w + n - C, C * 4);
    free(t);

    gpt_config c2;
    float *w2 = NULL;
    size_t n2 = 0;
    assert_int_equal(runs_import_llmc(&c2, &w2, &n2, path), 0);
    assert_memory_equal(&c2, &c, sizeof c);
    assert_int_equal(n2, n);
    assert_memory_equal(w2, w, n * 4);
    free(w2); /* a failed import below starts by clearing w2 */
    w2 = NULL;

    /* bad files */
    FILE *o = fopen(path, "wb");
    h[1] = 5;
    fwrite(f, 1, len, o);
    fclose(o);
    assert_int_equal(runs_import_llmc(&c2, &w2, &n2, path), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "bf16"));
    h[1] = 3;
    h[0] = 1234;
    o = fopen(path, "wb");
    fwrite(f, 1, len, o);
    fclose(o);
    assert_int_equal(runs_import_llmc(&c2, &w2, &n2, path), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "magic"));
    h[0] = 20240326;
    o = fopen(path, "wb");
    fwrite(f, 1, len - 4, o);
    fclose(o);
    assert_int_equal(runs_import_llmc(&c2, &w2, &n2, path), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "bytes"));
    assert_int_equal(runs_import_llmc(&c2, &w2, &n2, "/nonexistent/x.bin"), RUNS_ENOTFOUND);
    free(f);
    free(w);
    free(w2);
}

static void test_safetensors(void **state)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {7, 8, 9}, c1[1] = {10};
    runs_tensor t[3] = {
        {.name = "wte", .group = "weights", .ndim = 2, .shape = {3, 2}, .data = a, .bytes = sizeof a},
        {.name = "h.0.ln_1.w", .group = "weights", .ndim = 1, .shape = {3}, .data = b, .bytes = sizeof b},
        {.name = "z", .group = "weights", .ndim = 1, .shape = {1}, .data = c1, .bytes = sizeof c1},
    };
    cJSON *md = NULL;
    assert_int_equal(runs_json_parse(&md, "{\"format\":\"runs\",\"config\":{\"model\":{\"n_layer\":1}}}", "t"), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    assert_int_equal(runs_export_safetensors(path, t, 3, md), 0);
    cJSON_Delete(md);
    size_t len;
    unsigned char *f = slurp(path, &len);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)f[i] << (8 * i);
    assert_int_equal(hl % 8, 0);
    assert_int_equal(len, 8 + hl + sizeof a + sizeof b + sizeof c1);
    char *hdr = strndup((char *)f + 8, hl);
    cJSON *h = cJSON_Parse(hdr);
    assert_non_null(h);
    const unsigned char *data = f + 8 + hl;
    float *want[3] = {a, b, c1};
    for (int i = 0; i < 3; i++) {
        cJSON *e = cJSON_GetObjectItem(h, t[i].name);
        assert_non_null(e);
        assert_string_equal(cJSON_GetObjectItem(e, "dtype")->valuestring, "F32");
        cJSON *sh = cJSON_GetObjectItem(e, "shape");
        assert_int_equal(cJSON_GetArraySize(sh), t[i].ndim);
        assert_int_equal(cJSON_GetArrayItem(sh, 0)->valueint, t[i].shape[0]);
        cJSON *off = cJSON_GetObjectItem(e, "data_offsets");
        int beg = cJSON_GetArrayItem(off, 0)->valueint, end = cJSON_GetArrayItem(off, 1)->valueint;
        assert_int_equal(end - beg, t[i].bytes);
        assert_memory_equal(data + beg, want[i], t[i].bytes);
    }
    cJSON *m = cJSON_GetObjectItem(h, "__metadata__");
    assert_string_equal(cJSON_GetObjectItem(m, "format")->valuestring, "runs");
    /* non-string metadata becomes JSON text (the format allows only strings) */
    assert_string_equal(cJSON_GetObjectItem(m, "config")->valuestring, "{\"model\":{\"n_layer\":1}}");
    cJSON_Delete(h);
    free(hdr);
    free(f);

    /* shape and bytes must agree */
    t[1].bytes = 8;
    assert_int_equal(runs_export_safetensors(path, t, 3, NULL), RUNS_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_trainer),
        cmocka_unit_test(test_llmc_round_trip),
        cmocka_unit_test(test_safetensors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
