/* tests/unit/test_dp_shards.c — the manifest's "shards" field (which rank of a
 * data-parallel job wrote each tensors[] object, runner/dp_loop.h): accepted when it
 * names one rank in [0, ranks) per tensors entry, refused naming the field otherwise;
 * optional (a one-rank node has none). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/manifest.h"

#define SHA "ab00000000000000000000000000000000000000000000000000000000000000"

static int check(const char *shards)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"schema\":\"runs.manifest/1\",\"kind\":\"checkpoint\",\"run\":\"dp\",\"step\":6,\"tokens\":192,"
             "\"parent\":\"0123456789abcdef0123456789abcdef01234567\",\"config\":{},\"tensors\":["
             "{\"name\":\"wte\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[4,2],\"bytes\":32,\"sha256\":\"" SHA
             "\"},{\"name\":\"wte\",\"group\":\"adam_m\",\"dtype\":\"f32\",\"shape\":[4,2],\"bytes\":32,\"sha256\":"
             "\"" SHA "\"}]%s%s}",
             shards ? ",\"shards\":" : "", shards ? shards : "");
    cJSON *m = NULL;
    assert_int_equal(runs_json_parse(&m, text, "manifest"), 0);
    runs_error_clear();
    int rc = runs_manifest_validate(m);
    cJSON_Delete(m);
    return rc;
}

static void test_shards(void **state)
{
    (void)state;
    assert_int_equal(check(NULL), 0);
    assert_int_equal(check("{\"ranks\":2,\"rank\":[0,1]}"), 0);
    assert_int_equal(check("{\"ranks\":1,\"rank\":[0,0]}"), 0);
    static const char *bad[] = {"[]",
                                "{\"ranks\":0,\"rank\":[]}",
                                "{\"rank\":[0,1]}",
                                "{\"ranks\":2,\"rank\":[0]}",
                                "{\"ranks\":2,\"rank\":[0,2]}",
                                "{\"ranks\":2,\"rank\":[0,-1]}",
                                "{\"ranks\":2,\"rank\":\"01\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (check(bad[i]) != RUNS_EINVALID)
            fail_msg("shards %s was accepted", bad[i]);
        if (!strstr(runs_error_message(), "manifest.shards"))
            fail_msg("shards %s: the message \"%s\" does not name the field", bad[i], runs_error_message());
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_shards)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
