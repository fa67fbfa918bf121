/* manifests/config.h — the run configuration: JSON in, typed struct out.
 *
 * Shape (DESIGN.md "Config"): sections model, train, optimizer, schedule, data,
 * bandit, sampling, gate, checkpoint, eval. Every key is optional and takes the default
 * shown by runs_config_default_json(); unknown keys are refused with the nearest
 * known key suggested; types and ranges are checked and the message names the
 * dotted path ("optimizer.lr: expected a number > 0, got -1").
 */
#ifndef RUNS_MANIFESTS_CONFIG_H
#define RUNS_MANIFESTS_CONFIG_H

#include <stdint.h>
#include <cJSON.h>

#define RUNS_MAX_SOURCES 32
#define RUNS_MAX_PROMPTS 16
#define RUNS_NAME_MAX 64
#define RUNS_PATH_MAX 512
#define RUNS_PROMPT_MAX 256

typedef struct {
    int n_layer, n_head, n_embd, vocab_size, block_size;
} runs_model_config;

typedef struct {
    long total_steps;
    int batch_size, seq_len;
    int grad_accum; /* micro-batches per optimizer step (their gradients averaged) */
    uint64_t seed;
    char backend[8]; /* "cpu" | "cuda" | "auto" */
} runs_train_config;

typedef struct {
    double lr, beta1, beta2, eps, weight_decay, grad_clip;
} runs_optimizer_config;

/* Learning-rate schedule; see runner/schedule.h for the formulas. */
typedef struct {
    char type[16]; /* constant | cosine | linear | wsd | wso | exp */
    long warmup_steps;
    double min_lr_factor; /* α */
    double stable_ratio;  /* wsd: decay starts at floor(stable_ratio · T) */
    double exp_decay;     /* exp: k in P·exp(−k(t−W)) */
    long restart_step;    /* warm restart at R (0 = none) ... */
    double restart_lr;    /* ... to peak P′ */
    long stage_start;     /* mid-training stage from step S (0 = none) ... */
    char stage_type[16];  /* ... "constant" or "linear" (to 0 at total_steps) */
} runs_schedule_config;

typedef struct {
    char name[RUNS_NAME_MAX];
    char path[RUNS_PATH_MAX]; /* token shard */
    double cap;               /* max share of steps, 1.0 = none, 0.0 = never */
    double floor;             /* min share of steps, 0.0 = none */
} runs_source_config;

typedef struct {
    char tokenizer[RUNS_PATH_MAX];
    int n_sources;
    runs_source_config sources[RUNS_MAX_SOURCES]; /* in sorted name order */
    int n_exclude;
    char exclude[RUNS_MAX_SOURCES][RUNS_NAME_MAX];
    long curriculum_warmup_steps;
    int n_warmup_sources;
    char warmup_sources[RUNS_MAX_SOURCES][RUNS_NAME_MAX];
    char heldout[RUNS_NAME_MAX]; /* source used for held-out loss and sharpness ("" = none) */
} runs_data_config;

typedef struct {
    char type[16];          /* "ucb1" */
    int pull_min, pull_max; /* steps per pull */
    double exploration;     /* UCB exploration constant c */
} runs_bandit_config;

typedef struct {
    long every; /* 0 = no sample audit */
    int tokens;
    double temperature;
    int top_k;
    uint64_t seed;
    int n_prompts;
    char prompts[RUNS_MAX_PROMPTS][RUNS_PROMPT_MAX];
} runs_sampling_config;

typedef struct {
    double threshold;         /* coherence score 0..100 */
    int patience;             /* consecutive low scores before a halt; 0 = gate off */
    double loss_spike_factor; /* divergence: loss EMA above factor x its best (> 1) ... */
    long loss_spike_steps;    /* ... for this many consecutive steps halts; 0 = rule off
                               * (a non-finite loss or gradient norm always halts) */
} runs_gate_config;

typedef struct {
    long every, boundary, keep_last, keep_every;
} runs_checkpoint_config;

/* Held-out evaluation (runner/eval.h): every `every` steps and at each node, the mean
 * loss over `batches` fixed held-out batches of data.heldout. 0 = off; without
 * data.heldout it is off too (there is no held-out range to read). */
typedef struct {
    long every;
    int batches;
} runs_eval_config;

typedef struct {
    runs_model_config model;
    runs_train_config train;
    runs_optimizer_config optimizer;
    runs_schedule_config schedule;
    runs_data_config data;
    runs_bandit_config bandit;
    runs_sampling_config sampling;
    runs_gate_config gate;
    runs_checkpoint_config checkpoint;
    runs_eval_config eval;
} runs_config;

/* Fills *out with the defaults (the values runs_config_default_json shows). */
void runs_config_default(runs_config *out);

/* cfg as JSON, every key present, sources by name (the "effective config" that
 * manifests record). Caller frees with cJSON_Delete; NULL on out of memory. */
cJSON *runs_config_to_json(const runs_config *cfg);

/* The full default configuration as JSON (every key present). Caller frees with cJSON_Delete. */
cJSON *runs_config_default_json(void);

/* Parses j (a full or partial config) over the defaults into *out. origin names
 * the source in messages ("polish.json"). Returns RUNS_EINVALID with a message
 * naming the dotted key on any unknown key, wrong type or out-of-range value,
 * and for cross-field conflicts (n_embd % n_head, seq_len > block_size, ...). */
int runs_config_from_json(runs_config *out, const cJSON *j, const char *origin);

/* Reads path, parses JSON (errors give line and column), merges onto the defaults
 * and validates. *json_out (may be NULL) receives the full effective config as
 * JSON (defaults filled in); caller frees. */
int runs_config_load(runs_config *out, cJSON **json_out, const char *path);

/* Like runs_config_load but checks only the sections `runs lr` needs
 * (train, optimizer, schedule); other sections are still checked for unknown keys. */
int runs_config_load_schedule_only(runs_config *out, const char *path);

/* Index of source `name` in cfg->data.sources, or -1. */
int runs_config_source_index(const runs_config *cfg, const char *name);

#endif
