/* tests/unit/test_manifests_config.c — config defaults, unknown keys, types, ranges, cross-field checks, files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/config.h"

static int from_text(runs_config *c, const char *text)
{
    cJSON *j = NULL;
    if (runs_json_parse(&j, text, "cfg.json"))
        fail_msg("parse of %s failed: %s", text, runs_error_message());
    runs_error_clear();
    int rc = runs_config_from_json(c, j, "cfg.json");
    cJSON_Delete(j);
    return rc;
}

static void expect_ok(const char *text)
{
    runs_config c;
    if (from_text(&c, text))
        fail_msg("config %s refused: %s", text, runs_error_message());
}

static void expect_error(const char *text, const char *want)
{
    runs_config c;
    int rc = from_text(&c, text);
    if (rc != RUNS_EINVALID)
        fail_msg("config %s: expected RUNS_EINVALID, got %d", text, rc);
    if (!strstr(runs_error_message(), want))
        fail_msg("config %s: message \"%s\" lacks \"%s\"", text, runs_error_message(), want);
    if (strncmp(runs_error_message(), "cfg.json: ", 10) != 0)
        fail_msg("message \"%s\" does not name the origin", runs_error_message());
}

static void test_defaults(void **state)
{
    runs_config c;
    assert_int_equal(from_text(&c, "{}"), 0);
    assert_int_equal(c.model.n_layer, 4);
    assert_int_equal(c.model.n_head, 4);
    assert_int_equal(c.model.n_embd, 128);
    assert_int_equal(c.model.vocab_size, 4096);
    assert_int_equal(c.model.block_size, 256);
    assert_int_equal(c.train.total_steps, 2000);
    assert_int_equal(c.train.batch_size, 8);
    assert_int_equal(c.train.seq_len, 256);
    assert_int_equal(c.train.seed, 1337);
    assert_string_equal(c.train.backend, "cpu");
    assert_true(c.optimizer.lr == 4e-4 && c.optimizer.beta1 == 0.9 && c.optimizer.beta2 == 0.95);
    assert_true(c.optimizer.eps == 1e-8 && c.optimizer.weight_decay == 0.01 && c.optimizer.grad_clip == 1.0);
    assert_string_equal(c.schedule.type, "cosine");
    assert_int_equal(c.schedule.warmup_steps, 200);
    assert_true(c.schedule.min_lr_factor == 0 && c.schedule.stable_ratio == 0.75 && c.schedule.exp_decay == 1e-3);
    assert_true(c.schedule.restart_step == 0 && c.schedule.restart_lr == 0 && c.schedule.stage_start == 0);
    assert_string_equal(c.schedule.stage_type, "constant");
    assert_string_equal(c.data.tokenizer, "data/tokenizer.bin");
    assert_int_equal(c.data.n_sources, 0);
    assert_string_equal(c.data.heldout, "");
    assert_string_equal(c.bandit.type, "ucb1");
    assert_true(c.bandit.pull_min == 7 && c.bandit.pull_max == 42 && c.bandit.exploration == 1.0);
    assert_true(c.sampling.every == 100 && c.sampling.tokens == 64 && c.sampling.temperature == 0.8);
    assert_true(c.sampling.top_k == 40 && c.sampling.seed == 42);
    assert_true(c.sampling.n_prompts > 0 && c.sampling.n_prompts <= RUNS_MAX_PROMPTS);
    assert_true(c.gate.threshold == 30 && c.gate.patience == 5);
    assert_true(c.checkpoint.every == 500 && c.checkpoint.boundary == 100);
    assert_true(c.checkpoint.keep_last == 10 && c.checkpoint.keep_every == 5000);

    /* the default JSON has every key and validates to the same struct */
    cJSON *d = runs_config_default_json();
    assert_non_null(d);
    const char *sections[] = {"model",  "train",    "optimizer", "schedule",  "data",
                              "bandit", "sampling", "gate",      "checkpoint"};
    for (size_t i = 0; i < 9; i++)
        assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(d, sections[i])));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(d, "data"), "curriculum_warmup_sources"));
    runs_config c2;
    assert_int_equal(runs_config_from_json(&c2, d, "defaults"), 0);
    assert_memory_equal(&c, &c2, sizeof c);
    runs_config c3;
    runs_config_default(&c3);
    assert_memory_equal(&c, &c3, sizeof c);
    cJSON_Delete(d);
}

static void test_design_example(void **state)
{
    runs_config c;
    const char *design =
        "{\"model\":{\"n_layer\":4,\"n_head\":4,\"n_embd\":128,\"vocab_size\":4096,\"block_size\":256},"
        "\"train\":{\"total_steps\":2000,\"batch_size\":8,\"seq_len\":256,\"seed\":1337,\"backend\":\"cpu\"},"
        "\"optimizer\":{\"lr\":4e-4,\"beta1\":0.9,\"beta2\":0.95,\"eps\":1e-8,\"weight_decay\":0.01,\"grad_clip\":1.0},"
        "\"schedule\":{\"type\":\"cosine\",\"warmup_steps\":200,\"min_lr_factor\":0.0,\"stable_ratio\":0.75},"
        "\"data\":{\"tokenizer\":\"data/tokenizer.bin\","
        "\"sources\":{\"repo-docs\":{\"path\":\"data/docs.tok\",\"cap\":0.0},"
        "\"chat\":{\"path\":\"data/chat.tok\",\"cap\":0.4,\"floor\":0.3}},"
        "\"exclude\":[\"repo-docstrings\"],\"curriculum_warmup_steps\":500,\"curriculum_warmup_sources\":[\"chat\"]},"
        "\"bandit\":{\"type\":\"ucb1\",\"pull_min\":7,\"pull_max\":42},"
        "\"sampling\":{\"every\":100,\"tokens\":64,\"temperature\":0.8,\"seed\":42,\"prompts\":[\"...\"]},"
        "\"gate\":{\"threshold\":30,\"patience\":5},"
        "\"checkpoint\":{\"every\":500,\"boundary\":100,\"keep_last\":10,\"keep_every\":5000}}";
    assert_int_equal(from_text(&c, design), 0);
    assert_int_equal(c.data.n_sources, 2);
    assert_string_equal(c.data.sources[0].name, "chat"); /* sorted by name */
    assert_string_equal(c.data.sources[0].path, "data/chat.tok");
    assert_true(c.data.sources[0].cap == 0.4 && c.data.sources[0].floor == 0.3);
    assert_string_equal(c.data.sources[1].name, "repo-docs");
    assert_true(c.data.sources[1].cap == 0.0 && c.data.sources[1].floor == 0.0);
    assert_int_equal(runs_config_source_index(&c, "repo-docs"), 1);
    assert_int_equal(runs_config_source_index(&c, "chat"), 0);
    assert_int_equal(runs_config_source_index(&c, "nope"), -1);
    assert_int_equal(c.data.n_exclude, 1);
    assert_string_equal(c.data.exclude[0], "repo-docstrings");
    assert_int_equal(c.data.curriculum_warmup_steps, 500);
    assert_int_equal(c.data.n_warmup_sources, 1);
    assert_string_equal(c.data.warmup_sources[0], "chat");
    assert_int_equal(c.sampling.n_prompts, 1);
    assert_string_equal(c.sampling.prompts[0], "...");

    /* struct -> JSON -> struct is the identity; a source without cap/floor gets 1 and 0 */
    expect_ok("{\"data\":{\"sources\":{\"a\":{\"path\":\"a.tok\"}}}}");
    assert_int_equal(from_text(&c, "{\"data\":{\"sources\":{\"b\":{\"path\":\"b.tok\"},\"a\":{\"path\":\"a.tok\"}}}}"),
                     0);
    assert_true(c.data.sources[0].cap == 1.0 && c.data.sources[0].floor == 0.0);
    cJSON *j = runs_config_to_json(&c);
    runs_config back;
    assert_int_equal(runs_config_from_json(&back, j, "roundtrip"), 0);
    assert_memory_equal(&c, &back, sizeof c);
    cJSON_Delete(j);
}

static void test_unknown_keys(void **state)
{
    expect_error("{\"train\":{\"totl_steps\":5}}", "train.totl_steps: unknown key (did you mean \"total_steps\"?)");
    expect_error("{\"moddel\":{}}", "moddel: unknown key (did you mean \"model\"?)");
    expect_error("{\"optimiser\":{}}", "optimiser: unknown key (did you mean \"optimizer\"?)");
    expect_error("{\"optimizer\":{\"betta1\":0.9}}", "optimizer.betta1: unknown key (did you mean \"beta1\"?)");
    expect_error("{\"schedule\":{\"tpye\":\"cosine\"}}", "schedule.tpye: unknown key (did you mean \"type\"?)");
    expect_error("{\"schedule\":{\"warmup\":10}}", "schedule.warmup: unknown key (did you mean \"warmup_steps\"?)");
    expect_error("{\"data\":{\"source\":{}}}", "data.source: unknown key (did you mean \"sources\"?)");
    expect_error("{\"data\":{\"curriculum_warmup_source\":[]}}",
                 "data.curriculum_warmup_source: unknown key (did you mean \"curriculum_warmup_sources\"?)");
    expect_error("{\"data\":{\"warmup_sources\":[]}}", "data.warmup_sources: unknown key (did you mean");
    expect_error("{\"data\":{\"sources\":{\"chat\":{\"path\":\"c\",\"flor\":0.1}}}}",
                 "data.sources.chat.flor: unknown key (did you mean \"floor\"?)");
    expect_error("{\"gate\":{\"zzzzzzzzzz\":1}}",
                 "gate.zzzzzzzzzz: unknown key (known: threshold, patience, loss_spike_factor, loss_spike_steps)");
    expect_error("{\"checkpoint\":{\"keeplast\":3}}", "checkpoint.keeplast: unknown key (did you mean \"keep_last\"?)");
    expect_error("{\"sampling\":{\"topk\":3}}", "sampling.topk: unknown key (did you mean \"top_k\"?)");
    expect_error("{\"bandit\":{\"pullmax\":3}}", "bandit.pullmax: unknown key (did you mean \"pull_max\"?)");
    /* a typo is reported even when another value is also wrong */
    expect_error("{\"optimizer\":{\"lr\":-1},\"train\":{\"sed\":1}}",
                 "train.sed: unknown key (did you mean \"seed\"?)");
}

static void test_wrong_types(void **state)
{
    expect_error("[]", "cfg.json: expected a JSON object");
    expect_error("{\"model\":5}", "model: expected an object, got 5");
    expect_error("{\"train\":{\"batch_size\":\"8\"}}",
                 "train.batch_size: expected an integer in [1, 1048576], got \"8\"");
    expect_error("{\"train\":{\"batch_size\":2.5}}", "train.batch_size: expected an integer in [1, 1048576], got 2.5");
    expect_error("{\"train\":{\"total_steps\":true}}", "train.total_steps: expected an integer >= 1, got true");
    expect_error("{\"train\":{\"seed\":-1}}", "train.seed: expected an integer in [0, 2^53], got -1");
    expect_error("{\"train\":{\"seed\":1e300}}", "train.seed: expected an integer in [0, 2^53]");
    expect_error("{\"optimizer\":{\"lr\":\"1e-3\"}}", "optimizer.lr: expected a number > 0, got \"1e-3\"");
    expect_error("{\"schedule\":{\"type\":3}}", "schedule.type: expected one of");
    expect_error("{\"data\":{\"tokenizer\":[]}}",
                 "data.tokenizer: expected a string of at most 511 bytes, got an array");
    expect_error("{\"data\":{\"sources\":[]}}",
                 "data.sources: expected an object NAME -> {\"path\", \"cap\", \"floor\"}, got an array");
    expect_error("{\"data\":{\"sources\":{\"chat\":\"data/chat.tok\"}}}", "data.sources.chat: expected an object");
    expect_error("{\"data\":{\"sources\":{\"chat\":{\"cap\":0.5}}}}",
                 "data.sources.chat.path: expected a token shard path");
    expect_error("{\"data\":{\"sources\":{\"chat\":{\"path\":\"\"}}}}", "data.sources.chat.path:");
    expect_error("{\"data\":{\"sources\":{\"chat\":{\"path\":\"c\",\"cap\":\"0.5\"}}}}",
                 "data.sources.chat.cap: expected a share of steps in [0, 1], got \"0.5\"");
    expect_error("{\"data\":{\"sources\":{\"a b\":{\"path\":\"c\"}}}}", "data.sources: source name \"a b\" must be");
    expect_error("{\"data\":{\"exclude\":\"x\"}}", "data.exclude: expected an array of source names, got \"x\"");
    expect_error("{\"data\":{\"exclude\":[1]}}", "data.exclude[0]: expected a source name");
    expect_error("{\"sampling\":{\"prompts\":\"hi\"}}", "sampling.prompts: expected an array");
    expect_error("{\"sampling\":{\"prompts\":[\"ok\",2]}}", "sampling.prompts[1]: expected a non-empty string, got 2");
    expect_error("{\"sampling\":{\"prompts\":[\"\"]}}", "sampling.prompts[0]: expected a non-empty string");
    expect_error("{\"gate\":{\"patience\":null,\"threshold\":\"high\"}}",
                 "gate.threshold: expected a number in [0, 100], got \"high\"");
}

static void test_ranges(void **state)
{
    static const struct {
        const char *cfg, *want;
    } cases[] = {
        {"{\"model\":{\"n_layer\":0}}", "model.n_layer: expected an integer in [1, 1024], got 0"},
        {"{\"model\":{\"n_head\":0}}", "model.n_head: expected an integer in [1, 1024], got 0"},
        {"{\"model\":{\"n_embd\":-8}}", "model.n_embd: expected an integer in [1, 65536], got -8"},
        {"{\"model\":{\"vocab_size\":65537}}", "model.vocab_size: expected an integer in [2, 65536], got 65537"},
        {"{\"model\":{\"block_size\":0}}", "model.block_size: expected an integer in [1, 1048576], got 0"},
        {"{\"train\":{\"total_steps\":0}}", "train.total_steps: expected an integer >= 1, got 0"},
        {"{\"train\":{\"batch_size\":0}}", "train.batch_size: expected an integer in [1, 1048576], got 0"},
        {"{\"train\":{\"seq_len\":0}}", "train.seq_len: expected an integer in [1, 1048576], got 0"},
        {"{\"train\":{\"backend\":\"gpu\"}}",
         "train.backend: expected one of \"cpu\", \"cuda\", \"auto\", got \"gpu\""},
        {"{\"optimizer\":{\"lr\":0}}", "optimizer.lr: expected a number > 0, got 0"},
        {"{\"optimizer\":{\"lr\":-1}}", "optimizer.lr: expected a number > 0, got -1"},
        {"{\"optimizer\":{\"beta1\":1}}", "optimizer.beta1: expected a number in [0, 1), got 1"},
        {"{\"optimizer\":{\"beta2\":-0.1}}", "optimizer.beta2: expected a number in [0, 1), got -0.1"},
        {"{\"optimizer\":{\"eps\":0}}", "optimizer.eps: expected a number > 0, got 0"},
        {"{\"optimizer\":{\"weight_decay\":-0.01}}", "optimizer.weight_decay: expected a number >= 0, got -0.01"},
        {"{\"optimizer\":{\"grad_clip\":-1}}", "optimizer.grad_clip: expected a number >= 0, got -1"},
        {"{\"schedule\":{\"type\":\"cosin\"}}", "schedule.type: expected one of \"constant\", \"cosine\", \"linear\", "
                                                "\"wsd\", \"wso\", \"exp\", got \"cosin\""},
        {"{\"schedule\":{\"warmup_steps\":-1}}", "schedule.warmup_steps: expected an integer >= 0, got -1"},
        {"{\"schedule\":{\"min_lr_factor\":1.5}}", "schedule.min_lr_factor: expected a number in [0, 1], got 1.5"},
        {"{\"schedule\":{\"stable_ratio\":-0.5}}", "schedule.stable_ratio: expected a number in [0, 1], got -0.5"},
        {"{\"schedule\":{\"exp_decay\":-1}}", "schedule.exp_decay: expected a number >= 0, got -1"},
        {"{\"schedule\":{\"restart_step\":-1}}", "schedule.restart_step: expected an integer >= 0, got -1"},
        {"{\"schedule\":{\"restart_lr\":-1}}", "schedule.restart_lr: expected a number >= 0, got -1"},
        {"{\"schedule\":{\"stage_start\":-1}}", "schedule.stage_start: expected an integer >= 0, got -1"},
        {"{\"schedule\":{\"stage_type\":\"cosine\"}}",
         "schedule.stage_type: expected one of \"constant\", \"linear\", got \"cosine\""},
        {"{\"data\":{\"curriculum_warmup_steps\":-5}}",
         "data.curriculum_warmup_steps: expected an integer >= 0, got -5"},
        {"{\"data\":{\"sources\":{\"c\":{\"path\":\"c\",\"cap\":1.5}}}}",
         "data.sources.c.cap: expected a share of steps in [0, 1], got 1.5"},
        {"{\"data\":{\"sources\":{\"c\":{\"path\":\"c\",\"floor\":-0.1}}}}",
         "data.sources.c.floor: expected a share of steps in [0, 1], got -0.1"},
        {"{\"bandit\":{\"type\":\"thompson\"}}", "bandit.type: expected one of \"ucb1\", got \"thompson\""},
        {"{\"bandit\":{\"pull_min\":0}}", "bandit.pull_min: expected an integer >= 1, got 0"},
        {"{\"bandit\":{\"exploration\":-1}}", "bandit.exploration: expected a number >= 0, got -1"},
        {"{\"sampling\":{\"every\":-1}}", "sampling.every: expected an integer >= 0, got -1"},
        {"{\"sampling\":{\"tokens\":0}}", "sampling.tokens: expected an integer in [1, 1048576], got 0"},
        {"{\"sampling\":{\"temperature\":-0.5}}", "sampling.temperature: expected a number >= 0, got -0.5"},
        {"{\"sampling\":{\"top_k\":-1}}", "sampling.top_k: expected an integer in [0, 65536], got -1"},
        {"{\"gate\":{\"threshold\":101}}", "gate.threshold: expected a number in [0, 100], got 101"},
        {"{\"gate\":{\"patience\":-1}}", "gate.patience: expected an integer >= 0, got -1"},
        {"{\"checkpoint\":{\"every\":-1}}", "checkpoint.every: expected an integer >= 0, got -1"},
        {"{\"checkpoint\":{\"boundary\":-1}}", "checkpoint.boundary: expected an integer >= 0, got -1"},
        {"{\"checkpoint\":{\"keep_last\":-1}}", "checkpoint.keep_last: expected an integer >= 0, got -1"},
        {"{\"checkpoint\":{\"keep_every\":1.5}}", "checkpoint.keep_every: expected an integer >= 0, got 1.5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].cfg, cases[i].want);

    /* edges that are allowed */
    expect_ok("{\"model\":{\"vocab_size\":65536},\"optimizer\":{\"beta1\":0,\"beta2\":0.999999,\"grad_clip\":0,"
              "\"weight_decay\":0},\"schedule\":{\"type\":\"wsd\",\"min_lr_factor\":1,\"stable_ratio\":0,"
              "\"warmup_steps\":0},\"gate\":{\"threshold\":100,\"patience\":0},\"sampling\":{\"every\":0,"
              "\"prompts\":[],\"temperature\":0,\"top_k\":0},\"checkpoint\":{\"every\":0}}");
    expect_ok("{\"train\":{\"backend\":\"auto\",\"seed\":9007199254740992},\"schedule\":{\"type\":\"exp\"}}");
    expect_ok("{\"schedule\":{\"stage_type\":\"linear\",\"stage_start\":1500,\"type\":\"wso\"}}");
}

static void test_list_limits(void **state)
{
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{\"sampling\":{\"prompts\":[");
    for (int i = 0; i <= RUNS_MAX_PROMPTS; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"p%d\"", i ? "," : "", i);
    snprintf(buf + n, sizeof buf - n, "]}}");
    expect_error(buf, "sampling.prompts: at most 16 entries, got 17");

    char longp[RUNS_PROMPT_MAX + 64];
    memset(longp, 'x', RUNS_PROMPT_MAX);
    longp[RUNS_PROMPT_MAX] = '\0';
    snprintf(buf, sizeof buf, "{\"sampling\":{\"prompts\":[\"%s\"]}}", longp);
    expect_error(buf, "sampling.prompts[0]: prompt is 256 bytes, the limit is 255");
    longp[RUNS_PROMPT_MAX - 1] = '\0';
    snprintf(buf, sizeof buf, "{\"sampling\":{\"prompts\":[\"%s\"]}}", longp);
    expect_ok(buf);

    n = (size_t)snprintf(buf, sizeof buf, "{\"data\":{\"sources\":{");
    for (int i = 0; i <= RUNS_MAX_SOURCES; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"s%02d\":{\"path\":\"p\",\"cap\":0.5}", i ? "," : "", i);
    snprintf(buf + n, sizeof buf - n, "}}}");
    expect_error(buf, "data.sources: more than 32 sources");

    char longname[RUNS_NAME_MAX + 8];
    memset(longname, 'n', RUNS_NAME_MAX);
    longname[RUNS_NAME_MAX] = '\0';
    snprintf(buf, sizeof buf, "{\"data\":{\"sources\":{\"%s\":{\"path\":\"p\"}}}}", longname);
    expect_error(buf, "must be 1-63 letters");
}

static void test_cross_field(void **state)
{
    expect_error("{\"model\":{\"n_embd\":130}}", "cfg.json: model.n_embd (130) is not divisible by model.n_head (4)");
    expect_error("{\"train\":{\"seq_len\":512}}", "train.seq_len (512) is longer than model.block_size (256)");
    expect_ok("{\"train\":{\"seq_len\":512},\"model\":{\"block_size\":512}}");
    expect_error("{\"schedule\":{\"warmup_steps\":2000}}",
                 "schedule.warmup_steps (2000) must be below train.total_steps (2000)");
    expect_ok("{\"schedule\":{\"warmup_steps\":0},\"train\":{\"total_steps\":1}}");
    expect_error("{\"schedule\":{\"restart_step\":3000,\"restart_lr\":1e-4}}",
                 "schedule.restart_step (3000) must be below train.total_steps (2000)");
    expect_error("{\"schedule\":{\"restart_step\":1000}}",
                 "schedule.restart_lr: expected a number > 0 when schedule.restart_step is set (1000), got 0");
    expect_ok("{\"schedule\":{\"restart_step\":1000,\"restart_lr\":2e-4}}");
    expect_error("{\"schedule\":{\"stage_start\":2000}}",
                 "schedule.stage_start (2000) must be below train.total_steps");
    expect_error("{\"bandit\":{\"pull_min\":50}}", "bandit.pull_min (50) is above bandit.pull_max (42)");
    expect_ok("{\"bandit\":{\"pull_min\":42}}");
    expect_error("{\"sampling\":{\"top_k\":5000}}", "sampling.top_k (5000) is above model.vocab_size (4096)");
    expect_error("{\"sampling\":{\"prompts\":[]}}",
                 "sampling.prompts: expected at least one prompt while sampling.every is 100");
    expect_error("{\"data\":{\"sources\":{\"c\":{\"path\":\"c\",\"cap\":0.2,\"floor\":0.3}}}}",
                 "data.sources.c: floor (0.3) is above cap (0.2)");
    expect_error("{\"data\":{\"sources\":{\"a\":{\"path\":\"a\",\"floor\":0.6},\"b\":{\"path\":\"b\",\"floor\":0.6}}}}",
                 "data.sources: the floors add up to 1.2, more than 1");
    expect_error("{\"data\":{\"curriculum_warmup_sources\":[\"chat\"]}}",
                 "data.curriculum_warmup_sources[0]: \"chat\" is not a source in data.sources");
    expect_error("{\"data\":{\"heldout\":\"val\"}}", "data.heldout: \"val\" is not a source in data.sources");
    expect_ok("{\"data\":{\"heldout\":\"val\",\"sources\":{\"val\":{\"path\":\"v.tok\",\"cap\":0}}}}");
}

/* A null in the file removes the key from the merged config, so the default stays. */
static void test_null_keeps_default(void **state)
{
    runs_config c;
    assert_int_equal(from_text(&c, "{\"optimizer\":{\"lr\":null},\"gate\":null}"), 0);
    assert_true(c.optimizer.lr == 4e-4);
    assert_true(c.gate.threshold == 30);
}

static char tmpdir[64];

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int setup_dir(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/runs-config-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_load_files(void **state)
{
    runs_config c;
    cJSON *j = NULL;
    const char *p =
        write_file("polish.json", "{\n  \"optimizer\": {\"lr\": 1e-4},\n  \"data\": {\"sources\": {\n"
                                  "    \"chat\": {\"path\": \"data/chat.tok\", \"cap\": 0.4, \"floor\": 0.3}}}\n}\n");
    assert_int_equal(runs_config_load(&c, &j, p), 0);
    assert_true(c.optimizer.lr == 1e-4);
    assert_int_equal(c.model.n_embd, 128);
    /* the effective config is complete: defaults filled in, file values applied */
    assert_non_null(j);
    cJSON *def = runs_config_default_json();
    for (cJSON *s = def->child; s; s = s->next)
        for (cJSON *k = s->child; k; k = k->next)
            if (!cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, s->string), k->string))
                fail_msg("effective config lacks %s.%s", s->string, k->string);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "optimizer"), "lr")->valuedouble == 1e-4);
    cJSON *chat = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "sources"), "chat");
    assert_non_null(chat);
    assert_true(cJSON_GetObjectItem(chat, "floor")->valuedouble == 0.3);
    /* loading the effective config again gives the same struct */
    char *text = runs_json_canonical(j);
    runs_config c2;
    assert_int_equal(runs_config_load(&c2, NULL, write_file("effective.json", text)), 0);
    assert_memory_equal(&c, &c2, sizeof c);
    free(text);
    cJSON_Delete(def);
    cJSON_Delete(j);

    /* syntax errors: file, line and column */
    p = write_file("bad.json", "{\n  \"train\": {\n    \"batch_size\": 8\n    \"seq_len\": 128\n  }\n}\n");
    j = (cJSON *)1;
    assert_int_equal(runs_config_load(&c, &j, p), RUNS_EINVALID);
    assert_null(j);
    char want[300];
    snprintf(want, sizeof want, "%s/bad.json:4:5: unexpected '\"', expected ',' or '}'", tmpdir);
    if (!strstr(runs_error_message(), want))
        fail_msg("got \"%s\", want \"%s\"", runs_error_message(), want);

    /* semantic errors name the file and the dotted key */
    p = write_file("typo.json", "{\"train\": {\"totl_steps\": 10}}");
    assert_int_equal(runs_config_load(&c, NULL, p), RUNS_EINVALID);
    snprintf(want, sizeof want, "%s/typo.json: train.totl_steps: unknown key (did you mean \"total_steps\"?)", tmpdir);
    assert_string_equal(runs_error_message(), want);

    p = write_file("duplicate.json", "{\"train\": {\"seed\": 1, \"seed\": 2}}");
    assert_int_equal(runs_config_load(&c, NULL, p), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "duplicate.json:1:23: duplicate key \"seed\""));

    p = write_file("empty.json", "");
    assert_int_equal(runs_config_load(&c, NULL, p), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "empty.json:1:1: empty input"));

    snprintf(want, sizeof want, "%s/missing.json", tmpdir);
    assert_int_equal(runs_config_load(&c, NULL, want), RUNS_ENOTFOUND);
    assert_non_null(strstr(runs_error_message(), "missing.json"));
}

static void test_schedule_only(void **state)
{
    runs_config c;
    /* other sections' values are not checked ... */
    const char *p = write_file("lr.json", "{\"schedule\": {\"type\": \"wsd\", \"warmup_steps\": 10},"
                                          " \"train\": {\"total_steps\": 100},"
                                          " \"model\": {\"n_embd\": 130, \"n_layer\": \"many\"},"
                                          " \"data\": {\"sources\": {\"x\": {\"cap\": 7}}}}");
    assert_int_equal(runs_config_load_schedule_only(&c, p), 0);
    assert_string_equal(c.schedule.type, "wsd");
    assert_int_equal(c.schedule.warmup_steps, 10);
    assert_int_equal(c.train.total_steps, 100);
    assert_true(c.optimizer.lr == 4e-4);
    /* ... but the full load refuses the same file */
    assert_int_equal(runs_config_load(&c, NULL, p), RUNS_EINVALID);
    /* unknown keys are refused everywhere, even in sections `runs lr` does not use */
    p = write_file("lr2.json", "{\"schedule\": {\"type\": \"wsd\"}, \"sampling\": {\"promts\": []}}");
    assert_int_equal(runs_config_load_schedule_only(&c, p), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "sampling.promts: unknown key (did you mean \"prompts\"?)"));
    p = write_file("lr3.json", "{\"data\": {\"sources\": {\"x\": {\"pth\": \"a\"}}}}");
    assert_int_equal(runs_config_load_schedule_only(&c, p), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "data.sources.x.pth: unknown key (did you mean \"path\"?)"));
    /* the schedule sections' ranges are checked */
    p = write_file("lr4.json", "{\"optimizer\": {\"lr\": 0}}");
    assert_int_equal(runs_config_load_schedule_only(&c, p), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "optimizer.lr: expected a number > 0, got 0"));
    p = write_file("lr5.json", "{\"schedule\": {\"warmup_steps\": 5000}}");
    assert_int_equal(runs_config_load_schedule_only(&c, p), RUNS_EINVALID);
    assert_non_null(
        strstr(runs_error_message(), "schedule.warmup_steps (5000) must be below train.total_steps (2000)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_unknown_keys), cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_ranges),       cmocka_unit_test(test_list_limits),
        cmocka_unit_test(test_cross_field),  cmocka_unit_test(test_null_keeps_default),
        cmocka_unit_test(test_load_files),   cmocka_unit_test(test_schedule_only),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
