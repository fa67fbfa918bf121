/* Fuzz target: the llm.c model importer (tools/export.h, runs_import_llmc).
 * The input is written to a file and imported. Properties, for any file that imports:
 *   - the weight count is runs_export_num_params of the header's model,
 *   - export -> import gives the same config and bit-identical weights,
 *   - export -> import -> export gives the same file bytes,
 * and a refusal carries a message. */
#include "tests/fuzz/fuzz_util.h"

#include "common/error.h"
#include "tools/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = fuzz_path(0, "in.bin"), *o1 = fuzz_path(1, "o1.bin"), *o2 = fuzz_path(2, "o2.bin");
    gpt_config c = {0}, c2 = {0};
    float *w = NULL, *w2 = NULL;
    size_t n = 0, n2 = 0;
    uint8_t *f1 = NULL, *f2 = NULL;
    fuzz_write(in, data, size);
    int rc = runs_import_llmc(&c, &w, &n, in);
    if (rc != 0) {
        FUZZ_CHECK(w == NULL && n == 0, "a refused import returned weights");
        FUZZ_CHECK(runs_error_message()[0], "a refusal without a message");
        goto done;
    }
    FUZZ_CHECK(n == runs_export_num_params(&c), "%zu weights for a model of %zu", n, runs_export_num_params(&c));
    FUZZ_CHECK(runs_export_llmc(o1, &c, w) == 0, "export of an imported model failed: %s", runs_error_message());
    FUZZ_CHECK(runs_import_llmc(&c2, &w2, &n2, o1) == 0, "re-import failed: %s", runs_error_message());
    FUZZ_CHECK(memcmp(&c, &c2, sizeof c) == 0 && n2 == n, "re-import changed the model shape");
    FUZZ_CHECK(memcmp(w, w2, n * sizeof *w) == 0, "re-import changed the weights");
    FUZZ_CHECK(runs_export_llmc(o2, &c2, w2) == 0, "second export failed: %s", runs_error_message());
    size_t n1b, n2b;
    f1 = fuzz_read(o1, &n1b);
    f2 = fuzz_read(o2, &n2b);
    FUZZ_CHECK(n1b == n2b && memcmp(f1, f2, n1b) == 0, "export -> import -> export changed the file");
done:
    free(w);
    free(w2);
    free(f1);
    free(f2);
    return 0;
}
