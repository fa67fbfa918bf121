/* tests/unit/test_bandit.c — the curriculum bandit: caps, floors, excludes, the
 * zombie arm, curriculum warmup, the reward against repetition, JSON, determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/bandit.h"

/* ---- a synthetic model: per-source loss curves that respond to training ---- */

typedef struct {
    double hi, lo, tau, div; /* loss from hi to lo with e-folding tau steps; batch diversity */
} curve;

typedef struct {
    long trained[RUNS_MAX_SOURCES], total;
    uint64_t rng;
} sim;

static double sim_uniform(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

/* Loss of a step on source i: own training counts fully, other sources' 30%
 * (transfer), plus N(0, 0.05²) noise. */
static float sim_loss(sim *m, const curve *c, int i)
{
    double k = (double)m->trained[i] + 0.3 * (double)(m->total - m->trained[i]);
    double u1 = sim_uniform(&m->rng), u2 = sim_uniform(&m->rng);
    double z = sqrt(-2.0 * log(u1 + 1e-300)) * cos(2 * M_PI * u2);
    return (float)(c[i].lo + (c[i].hi - c[i].lo) * exp(-k / c[i].tau) + 0.05 * z);
}

static void sim_step(sim *m, int i)
{
    m->trained[i]++;
    m->total++;
}

/* ---- configs ---- */

static void add_source(runs_config *c, const char *name, double cap, double floor)
{
    runs_source_config *s = &c->data.sources[c->data.n_sources++];
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->path, sizeof s->path, "data/%s.tok", name);
    s->cap = cap;
    s->floor = floor;
}

static runs_config base_config(void)
{
    runs_config c;
    memset(&c, 0, sizeof c);
    c.train.total_steps = 20000;
    c.train.seed = 1337;
    strcpy(c.bandit.type, "ucb1");
    c.bandit.pull_min = 7;
    c.bandit.pull_max = 42;
    c.bandit.exploration = 1.0;
    return c;
}

/* Prose-like curves for every source except those named repetitive. */
static curve natural(double hi, double lo, double tau)
{
    return (curve){hi, lo, tau, 0.8};
}
static const curve repetitive = {1.0, 0.05, 300, 0.03};

/* Runs steps [from, to) feeding the simulated losses; counts picks per source. */
static void drive(runs_bandit *b, sim *m, const curve *c, long from, long to, long *picks, int *seq)
{
    for (long t = from; t < to; t++) {
        int s = runs_bandit_source_for_step(b, t);
        assert_true(s >= 0);
        assert_int_equal(runs_bandit_source_for_step(b, t), s); /* idempotent per step */
        if (picks)
            picks[s]++;
        if (seq)
            seq[t - from] = s;
        float loss = sim_loss(m, c, s);
        sim_step(m, s);
        runs_bandit_observe(b, s, t, loss, c[s].div);
    }
}

/* ---- tests ---- */

/* 20000 steps under caps and floors (sources in sorted name order as the loader
 * gives them). Checked at every step after the first 100:
 *   share_i <= cap_i + pull_max/n           (the bound bandit.h proves)
 *   share_i >= floor_i − k·pull_max/n        (k = number of floored sources)  */
static void caps_and_floors_hold(void **state)
{
    runs_config c = base_config();
    add_source(&c, "chat", 0.5, 0.3);
    add_source(&c, "dictionary", 0.25, 0.0);
    add_source(&c, "gutenberg", 0.7, 0.2);
    add_source(&c, "repo-commits", 0.2, 0.0);
    add_source(&c, "repo-docs", 0.3, 0.0); /* repetitive, loss low and easy */
    curve cv[] = {natural(5.5, 2.2, 3000), natural(6.5, 3.5, 2500), natural(6.0, 2.8, 4000), natural(6.0, 3.0, 2000),
                  repetitive};
    double pm = c.bandit.pull_max, k = 2;
    runs_bandit *b;
    assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
    sim m = {.rng = 7};
    double worst_cap = -1, worst_floor = -1;
    for (long t = 0; t < 20000; t++) {
        int s = runs_bandit_source_for_step(b, t);
        float loss = sim_loss(&m, cv, s);
        sim_step(&m, s);
        runs_bandit_observe(b, s, t, loss, cv[s].div);
        long n = runs_bandit_phase_steps(b);
        assert_int_equal(n, t + 1);
        if (n < 100)
            continue;
        for (int i = 0; i < c.data.n_sources; i++) {
            runs_bandit_arm_info a;
            runs_bandit_arm(b, i, &a);
            double share = (double)a.steps / (double)n;
            double over = (share - c.data.sources[i].cap) * n / pm; /* in pulls */
            double under = (c.data.sources[i].floor - share) * n / pm;
            if (over > worst_cap)
                worst_cap = over;
            if (c.data.sources[i].floor > 0 && under > worst_floor)
                worst_floor = under;
            if (share > c.data.sources[i].cap + pm / n)
                fail_msg("step %ld: %s share %.4f over cap %.2f + %.4f", t, a.name, share, c.data.sources[i].cap,
                         pm / n);
            if (share < c.data.sources[i].floor - k * pm / n)
                fail_msg("step %ld: %s share %.4f under floor %.2f - %.4f", t, a.name, share, c.data.sources[i].floor,
                         k * pm / n);
        }
    }
    /* at the end every share is within 0.5% of its bounds */
    for (int i = 0; i < c.data.n_sources; i++) {
        runs_bandit_arm_info a;
        runs_bandit_arm(b, i, &a);
        double share = a.steps / 20000.0;
        assert_true(share <= c.data.sources[i].cap + 0.005);
        assert_true(share >= c.data.sources[i].floor - 0.005);
    }
    print_message("# caps/floors: worst excess over a cap %.2f pulls, worst shortfall under a floor "
                  "%.2f pulls (pull_max %d steps)\n",
                  worst_cap, worst_floor, (int)pm);
    runs_bandit_free(b);
}

/* Seed 002, failure 5: a repetitive source whose loss is tiny must not take over. */
static void repetition_does_not_win(void **state)
{
    runs_config c = base_config();
    add_source(&c, "chat", 1.0, 0.0);
    add_source(&c, "gutenberg", 1.0, 0.0);
    add_source(&c, "repo-docs", 1.0, 0.0);
    curve cv[] = {natural(5.5, 2.2, 3000), natural(6.0, 2.8, 4000), repetitive};
    runs_bandit *b;
    assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
    sim m = {.rng = 11};
    long picks[3] = {0};
    drive(b, &m, cv, 0, 20000, picks, NULL);
    double rep = picks[2] / 20000.0;
    print_message("# shares: chat %.3f gutenberg %.3f repo-docs (repetitive, loss ~0.05) %.3f\n", picks[0] / 20000.0,
                  picks[1] / 20000.0, rep);
    assert_true(rep < 0.15);
    assert_true(picks[2] < picks[0] && picks[2] < picks[1]);
    runs_bandit_arm_info a, r;
    runs_bandit_arm(b, 0, &a);
    runs_bandit_arm(b, 2, &r);
    assert_true(r.value < a.value);
    runs_bandit_free(b);

    /* and the same source with prose-like diversity would be worth pulling while
     * it is still being learned: the discount is the diversity, not the name */
    assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
    cv[2].div = 0.8;
    memset(&m, 0, sizeof m);
    m.rng = 11;
    long picks2[3] = {0};
    drive(b, &m, cv, 0, 2000, picks2, NULL);
    long picks3[3] = {0};
    cv[2].div = 0.03;
    runs_bandit_free(b);
    assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
    memset(&m, 0, sizeof m);
    m.rng = 11;
    drive(b, &m, cv, 0, 2000, picks3, NULL);
    assert_true(picks2[2] > picks3[2]);
    runs_bandit_free(b);
}

static void diversity_ratio(void **state)
{
    int32_t rep[64], prose[64], two[2] = {5, 5};
    for (int i = 0; i < 64; i++) {
        rep[i] = 17;                     /* "region region region ..." */
        prose[i] = (i * 37 + 11) % 1000; /* all bigrams distinct */
    }
    assert_true(runs_batch_diversity(rep, 64) < 0.02);
    assert_true(fabs(runs_batch_diversity(prose, 64) - 1.0) < 1e-12);
    assert_true(runs_batch_diversity(two, 2) == 1.0);
    assert_true(runs_batch_diversity(two, 1) == 0.0);
    assert_true(runs_batch_diversity(NULL, 0) == 0.0);
    int32_t alt[100]; /* "games, games, games": 2 distinct bigrams out of 99 */
    for (int i = 0; i < 100; i++)
        alt[i] = i % 2 ? 44 : 9;
    assert_true(fabs(runs_batch_diversity(alt, 100) - 2.0 / 99) < 1e-12);
    int32_t big[4] = {-1, -1, 0x7fffffff, -1}; /* extreme ids do not collide into nonsense */
    assert_true(fabs(runs_batch_diversity(big, 4) - 1.0) < 1e-12);
}

/* The zombie arm (seed 002): a stale state with repo-docstrings at weight 1.546. */
static void zombie_arm_dropped(void **state)
{
    runs_config c = base_config();
    add_source(&c, "chat", 1.0, 0.0);
    add_source(&c, "gutenberg", 1.0, 0.0);
    add_source(&c, "hermes3", 1.0, 0.0);         /* its shard is empty */
    add_source(&c, "repo-docs", 0.0, 0.0);       /* cap 0.0 */
    add_source(&c, "repo-docstrings", 0.8, 0.0); /* excluded, cap left at 0.8 */
    strcpy(c.data.exclude[c.data.n_exclude++], "repo-docstrings");
    int has_data[] = {1, 1, 0, 1, 1};
    runs_bandit *b;
    assert_int_equal(runs_bandit_create(&b, &c, has_data), 0);
    const char *stale =
        "{\"schema\":\"runs.bandit/1\",\"type\":\"ucb1\",\"rng\":{\"seed\":12345,\"draws\":900},"
        "\"phase\":\"main\",\"phase_steps\":20000,\"total_pulls\":800,\"scored_pulls\":800,"
        "\"reward_scale\":0.01,\"last_step\":19999,\"last_source\":\"repo-docstrings\","
        "\"pull\":{\"source\":\"repo-docstrings\",\"start\":19990,\"end\":20030,\"observed\":10,"
        "\"loss_sum\":1.3,\"diversity_sum\":0.3,\"first_sum\":1.3,\"first_n\":10,\"second_sum\":0,"
        "\"second_n\":0},"
        "\"arms\":{\"chat\":{\"steps\":9000,\"total_steps\":9000,\"pulls\":300,\"value\":0.4,\"baseline\":2.5},"
        "\"gutenberg\":{\"steps\":5000,\"total_steps\":5000,\"pulls\":200,\"value\":0.3,\"baseline\":null},"
        "\"hermes3\":{\"steps\":1000,\"total_steps\":1000,\"pulls\":50,\"value\":0.9,\"baseline\":2},"
        "\"repo-docs\":{\"steps\":2000,\"total_steps\":2000,\"pulls\":80,\"value\":1.2,\"baseline\":0.2},"
        "\"repo-docstrings\":{\"steps\":3000,\"total_steps\":3000,\"pulls\":170,\"value\":1.546,\"baseline\":0.13},"
        "\"irc-legacy\":{\"steps\":1,\"total_steps\":1,\"pulls\":1,\"value\":0.5,\"baseline\":3}}}";
    cJSON *j = cJSON_Parse(stale);
    assert_non_null(j);
    char **w = NULL;
    size_t nw = 0;
    assert_int_equal(runs_bandit_load_json(b, j, &w, &nw), 0);
    cJSON_Delete(j);
    assert_int_equal(nw, 4);
    const char *expect[][2] = {{"'hermes3'", "no data"},
                               {"'repo-docs'", "cap 0.0"},
                               {"'repo-docstrings' (value 1.546)", "excluded"},
                               {"'irc-legacy'", "not in the config"}};
    for (size_t i = 0; i < nw; i++) {
        assert_non_null(strstr(w[i], expect[i][0]));
        assert_non_null(strstr(w[i], expect[i][1]));
        assert_non_null(strstr(w[i], "dropped"));
        free(w[i]);
    }
    free(w);
    /* the kept arms kept their statistics */
    runs_bandit_arm_info a;
    runs_bandit_arm(b, 0, &a);
    assert_int_equal(a.pulls, 300);
    assert_true(a.value == 0.4);
    /* never pulled, not even to finish the stale pull; never written back */
    curve cv[] = {natural(5.5, 2.2, 3000), natural(6.0, 2.8, 4000), natural(5, 2, 1000), repetitive, repetitive};
    sim m = {.rng = 3};
    long picks[5] = {0};
    drive(b, &m, cv, 20000, 30000, picks, NULL);
    assert_int_equal(picks[2], 0);
    assert_int_equal(picks[3], 0);
    assert_int_equal(picks[4], 0);
    assert_int_equal(picks[0] + picks[1], 10000);
    cJSON *out = runs_bandit_to_json(b);
    const cJSON *arms = cJSON_GetObjectItem(out, "arms");
    assert_int_equal(cJSON_GetArraySize(arms), 2);
    assert_null(cJSON_GetObjectItem(arms, "repo-docstrings"));
    /* reloading what we wrote gives no warnings */
    char **w2 = NULL;
    size_t nw2 = 9;
    assert_int_equal(runs_bandit_load_json(b, out, &w2, &nw2), 0);
    assert_int_equal(nw2, 0);
    assert_null(w2);
    cJSON_Delete(out);
    runs_bandit_free(b);
}

static void cap_zero_and_exclude_never_pulled(void **state)
{
    runs_config c = base_config();
    add_source(&c, "chat", 1.0, 0.0);
    add_source(&c, "repo-docs", 0.0, 0.0);
    add_source(&c, "repo-docstrings", 1.0, 0.0);
    add_source(&c, "zzz", 1.0, 0.0);
    strcpy(c.data.exclude[c.data.n_exclude++], "repo-docstrings");
    runs_bandit *b;
    assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
    /* make the forbidden arms look irresistible to a loss-based bandit */
    curve cv[] = {natural(5.5, 2.2, 3000), {0.1, 0.01, 10, 1.0}, {0.1, 0.01, 10, 1.0}, natural(6, 3, 2000)};
    sim m = {.rng = 5};
    long picks[4] = {0};
    drive(b, &m, cv, 0, 5000, picks, NULL);
    assert_int_equal(picks[1], 0);
    assert_int_equal(picks[2], 0);
    assert_true(picks[0] > 0 && picks[3] > 0);
    runs_bandit_arm_info a;
    runs_bandit_arm(b, 1, &a);
    assert_false(a.active);
    runs_bandit_free(b);

    /* nothing to draw from: refused at creation */
    runs_config d = base_config();
    add_source(&d, "chat", 1.0, 0.0);
    add_source(&d, "docs", 0.0, 0.0);
    strcpy(d.data.exclude[d.data.n_exclude++], "chat");
    assert_int_equal(runs_bandit_create(&b, &d, NULL), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "data.sources"));
}

static void curriculum_warmup(void **state)
{
    runs_config c = base_config();
    add_source(&c, "chat", 0.4, 0.3); /* DESIGN.md's example: the only warmup source has cap 0.4 */
    add_source(&c, "gutenberg", 1.0, 0.0);
    add_source(&c, "oasst", 1.0, 0.0);
    add_source(&c, "repo-docs", 0.3, 0.0);
    c.data.curriculum_warmup_steps = 500;
    strcpy(c.data.warmup_sources[c.data.n_warmup_sources++], "chat");
    strcpy(c.data.warmup_sources[c.data.n_warmup_sources++], "oasst");
    runs_bandit *b;
    assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
    curve cv[] = {natural(5.5, 2.2, 3000), natural(6.0, 2.8, 4000), natural(5, 2, 2000), repetitive};
    sim m = {.rng = 9};
    int seq[3000];
    drive(b, &m, cv, 0, 3000, NULL, seq);
    long after[4] = {0}, during[4] = {0};
    for (int t = 0; t < 3000; t++)
        (t < 500 ? during : after)[seq[t]]++;
    assert_int_equal(during[1] + during[3], 0);
    assert_true(during[0] > 0 && during[2] > 0);
    assert_true(after[1] > 0 && after[3] > 0);
    /* the phase restarted the share count at step 500 */
    assert_int_equal(runs_bandit_phase_steps(b), 2500);
    runs_bandit_free(b);

    /* DESIGN.md's example: the only warmup source has cap 0.4, which cannot hold
     * while it is the only source allowed; it is still drawn, never another */
    c.data.n_warmup_sources = 1;
    assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
    memset(&m, 0, sizeof m);
    drive(b, &m, cv, 0, 500, NULL, seq);
    for (int t = 0; t < 500; t++)
        assert_int_equal(seq[t], 0);
    /* a warmup list naming nothing drawable is refused */
    runs_bandit_free(b);
    strcpy(c.data.exclude[c.data.n_exclude++], "chat");
    strcpy(c.data.warmup_sources[1], "nosuch");
    assert_int_equal(runs_bandit_create(&b, &c, NULL), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "curriculum_warmup_sources"));
}

static char *state_string(const runs_bandit *b)
{
    cJSON *j = runs_bandit_to_json(b);
    assert_non_null(j);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static runs_config four_sources(void)
{
    runs_config c = base_config();
    add_source(&c, "chat", 0.5, 0.2);
    add_source(&c, "dictionary", 0.3, 0.0);
    add_source(&c, "gutenberg", 0.8, 0.1);
    add_source(&c, "repo-docs", 0.3, 0.0);
    return c;
}
static const curve four_curves[] = {
    {5.5, 2.2, 3000, 0.7}, {6.5, 3.5, 2500, 0.6}, {6.0, 2.8, 4000, 0.8}, {1.0, 0.05, 300, 0.03}};

/* Save mid-pull, reload into a fresh bandit (a resumed process), carry on: the
 * same text and the same choices as the bandit that never stopped. */
static void json_round_trip_exact(void **state)
{
    runs_config c = four_sources();
    runs_bandit *a, *b;
    assert_int_equal(runs_bandit_create(&a, &c, NULL), 0);
    sim m = {.rng = 21};
    drive(a, &m, four_curves, 0, 3001, NULL, NULL);
    char *s1 = state_string(a);
    cJSON *j = cJSON_Parse(s1);
    assert_non_null(cJSON_GetObjectItem(j, "pull"));
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(j, "pull"))); /* saved mid-pull (3001 steps) */
    assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
    assert_int_equal(runs_bandit_load_json(b, j, NULL, NULL), 0);
    cJSON_Delete(j);
    char *s2 = state_string(b);
    assert_string_equal(s1, s2);
    sim m2 = m;
    int sa[4000], sb[4000];
    drive(a, &m, four_curves, 3001, 7001, NULL, sa);
    drive(b, &m2, four_curves, 3001, 7001, NULL, sb);
    assert_memory_equal(sa, sb, sizeof sa);
    char *s3 = state_string(a), *s4 = state_string(b);
    assert_string_equal(s3, s4);
    free(s1), free(s2), free(s3), free(s4);
    runs_bandit_free(a);
    runs_bandit_free(b);
}

static void deterministic(void **state)
{
    runs_config c = four_sources();
    int s1[5000], s2[5000], s3[5000];
    runs_bandit *b;
    for (int r = 0; r < 3; r++) {
        if (r == 2)
            c.train.seed = 1338;
        assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
        sim m = {.rng = 33};
        drive(b, &m, four_curves, 0, 5000, NULL, r == 0 ? s1 : r == 1 ? s2 : s3);
        runs_bandit_free(b);
    }
    assert_memory_equal(s1, s2, sizeof s1);
    assert_true(memcmp(s1, s3, sizeof s1) != 0);
    /* pull lengths: every maximal run of one source, but the last, spans >= pull_min steps */
    int run = 1;
    for (int t = 1; t < 5000; t++) {
        if (s1[t] == s1[t - 1]) {
            run++;
            continue;
        }
        assert_true(run >= c.bandit.pull_min);
        run = 1;
    }
}

static void malformed_state_refused(void **state)
{
    runs_config c = four_sources();
    runs_bandit *b;
    assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
    sim m = {.rng = 1};
    drive(b, &m, four_curves, 0, 100, NULL, NULL);
    char *before = state_string(b);
    const char *bad[] = {
        "[]",
        "{\"schema\":\"other/1\"}",
        "{\"schema\":\"runs.bandit/1\",\"rng\":{\"seed\":1.5,\"draws\":0}}",
        "{\"schema\":\"runs.bandit/1\",\"rng\":{\"seed\":1,\"draws\":0},\"phase\":\"main\",\"phase_steps\":-1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cJSON *j = cJSON_Parse(bad[i]);
        assert_non_null(j);
        assert_int_equal(runs_bandit_load_json(b, j, NULL, NULL), RUNS_ECORRUPT);
        assert_non_null(strstr(runs_error_message(), "bandit state"));
        cJSON_Delete(j);
    }
    /* a bad arm after good ones: still nothing changes */
    cJSON *j = cJSON_Parse(before);
    cJSON *arms = cJSON_GetObjectItem(j, "arms");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(arms, "repo-docs"), "pulls", cJSON_CreateString("x"));
    assert_int_equal(runs_bandit_load_json(b, j, NULL, NULL), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "arms.repo-docs.pulls"));
    cJSON_Delete(j);
    char *after = state_string(b);
    assert_string_equal(before, after);
    free(before);
    free(after);
    runs_bandit_free(b);
}

/* Issue 12: a fork's patch that drops an arm (here excludes it) must leave no
 * residue in the totals: total_pulls (UCB's N) and the phase's step count (the
 * shares' denominator) are the kept arms' own, not the old run's. */
static long json_total_pulls(const runs_bandit *b)
{
    cJSON *j = runs_bandit_to_json(b);
    assert_non_null(j);
    long v = (long)cJSON_GetObjectItem(j, "total_pulls")->valuedouble;
    cJSON_Delete(j);
    return v;
}

static void dropped_arm_leaves_no_residue(void **state)
{
    runs_config c = base_config();
    add_source(&c, "chat", 1.0, 0.0);
    add_source(&c, "gutenberg", 1.0, 0.0);
    add_source(&c, "repo-docstrings", 1.0, 0.0);
    runs_bandit *b;
    assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
    curve cv[] = {natural(5.5, 2.2, 3000), natural(6.0, 2.8, 4000), repetitive};
    sim m = {.rng = 11};
    long picks[3] = {0};
    drive(b, &m, cv, 0, 3000, picks, NULL);
    assert_true(picks[2] > 0); /* the arm to drop was pulled */
    cJSON *saved = runs_bandit_to_json(b);
    assert_non_null(saved);
    runs_bandit_free(b);

    /* the fork: repo-docstrings excluded, the state kept (--keep-bandit) */
    strcpy(c.data.exclude[c.data.n_exclude++], "repo-docstrings");
    assert_int_equal(runs_bandit_create(&b, &c, NULL), 0);
    char **w = NULL;
    size_t nw = 0;
    assert_int_equal(runs_bandit_load_json(b, saved, &w, &nw), 0);
    assert_int_equal(nw, 1);
    assert_non_null(strstr(w[0], "'repo-docstrings'"));
    free(w[0]);
    free(w);
    long kept_pulls = 0, kept_steps = 0;
    for (int i = 0; i < 2; i++) {
        runs_bandit_arm_info a;
        runs_bandit_arm(b, i, &a);
        kept_pulls += a.pulls;
        kept_steps += a.steps;
    }
    runs_bandit_arm_info gone;
    runs_bandit_arm(b, 2, &gone);
    assert_int_equal(gone.pulls, 0);
    assert_int_equal(gone.steps, 0);
    assert_int_equal(gone.total_steps, 0);
    assert_int_equal(json_total_pulls(b), kept_pulls);
    assert_int_equal(runs_bandit_phase_steps(b), kept_steps);
    /* and the old totals were larger: the test would see a residue */
    assert_true((long)cJSON_GetObjectItem(saved, "total_pulls")->valuedouble > kept_pulls);
    assert_true((long)cJSON_GetObjectItem(saved, "phase_steps")->valuedouble > kept_steps);
    cJSON_Delete(saved);
    /* training on from there keeps the totals the kept arms' own */
    drive(b, &m, cv, 3000, 4000, picks, NULL);
    long pulls = 0, steps = 0;
    for (int i = 0; i < 3; i++) {
        runs_bandit_arm_info a;
        runs_bandit_arm(b, i, &a);
        pulls += a.pulls;
        steps += a.steps;
    }
    runs_bandit_arm(b, 2, &gone);
    assert_int_equal(gone.steps, 0);
    assert_int_equal(runs_bandit_phase_steps(b), steps);
    assert_int_equal(json_total_pulls(b), pulls); /* both count a pull when it ends */
    runs_bandit_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(caps_and_floors_hold),
        cmocka_unit_test(repetition_does_not_win),
        cmocka_unit_test(diversity_ratio),
        cmocka_unit_test(zombie_arm_dropped),
        cmocka_unit_test(cap_zero_and_exclude_never_pulled),
        cmocka_unit_test(curriculum_warmup),
        cmocka_unit_test(json_round_trip_exact),
        cmocka_unit_test(deterministic),
        cmocka_unit_test(malformed_state_refused),
        cmocka_unit_test(dropped_arm_leaves_no_residue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
