#!/usr/bin/env python3
# scripts/study-collapse-doc.py — writes docs/collapse-study.md (to stdout) from what
# scripts/study-collapse.sh left in $W: each run's exit status and stderr line, its
# `runs log/show/eval --json`, both gates' `runs gate --backtest --json` over its logs,
# its .eval.json and .samples.json. Every number in the doc comes from those files.
import json
import os
import sys

e = os.environ
W, quick, steps = e["W"], e["QUICK"] == "1", int(e["STEPS"])
RUNS = [("broken", "broken.json", "both"),
        ("broken-loss-gate-only", "broken.json", "divergence gate only (`-S gate.patience=0`)"),
        ("broken-sample-gate-only", "broken.json", "sample gate only (`-S gate.loss_spike_steps=0`)"),
        ("fixed", "fixed.json", "both"),
        ("fixed-loss-gate-only", "fixed.json", "divergence gate only (`-S gate.patience=0`)")]


def load(name, what):
    return json.load(open(f"{W}/out/{name}.{what}.json", encoding="utf-8", errors="replace"))


def lines(path):
    try:
        return [json.loads(l) for l in open(path, encoding="utf-8", errors="replace") if l.strip()]
    except FileNotFoundError:
        return []


def code(text, width=72):
    """A sample as an inline code span: newlines shown, pipes and backticks made safe."""
    t = text.replace("\n", "⏎").replace("`", "'").replace("|", "¦")
    if len(t) > width:
        t = t[:width] + "…"
    return "`" + (t if t.strip() else t.replace(" ", "·") or "(empty)") + "`"


def flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        p = prefix + "." + k if prefix else k
        if isinstance(v, dict):
            out.update(flat(v, p))
        else:
            out[p] = v
    return out


R = {}
for name, cfg, gates in RUNS:
    r = {"cfg": cfg, "gates": gates}
    r["rc"] = int(open(f"{W}/out/{name}.rc").read())
    r["err"] = open(f"{W}/out/{name}.stderr").read().strip()
    r["tip"] = load(name, "tip")
    r["eval"] = load(name, "eval")
    r["bts"] = load(name, "bt-samples")
    r["btl"] = load(name, "bt-loss")
    r["evals"] = lines(f"{W}/runs/{name}/.eval.json")
    r["samples"] = lines(f"{W}/runs/{name}/.samples.json")
    r["steps"] = len(lines(f"{W}/runs/{name}/.loss.json"))
    r["end"] = r["tip"]["kind"] != "halt" and r["tip"]["step"] == steps
    R[name] = r

fixed_cfg = json.load(open(f"{W}/fixed.json"))
broken_cfg = json.load(open(f"{W}/broken.json"))
ff, fb = flat(fixed_cfg), flat(broken_cfg)
diff = [(k, fb.get(k), ff.get(k)) for k in sorted(set(ff) | set(fb)) if ff.get(k) != fb.get(k)]
m = fixed_cfg["model"]
g = fixed_cfg["gate"]


def fmt(x, f="%.4g"):
    return "—" if x is None else f % x


def who_fired(r):
    """'sample gate' / 'divergence gate (rule)' / None, from the halt node's note."""
    if r["tip"]["kind"] != "halt":
        return None
    note = r["tip"].get("note") or ""
    if note.startswith("coherence gate"):
        return "sample gate"
    if note.startswith("divergence gate"):
        rule = r["err"].split("(")[1].split(")")[0] if "divergence gate (" in r["err"] else "?"
        return f"divergence gate ({rule})"
    return note


def first_low(r):
    for s in r["bts"]["samples"]:
        if s["score"] < r["bts"]["threshold"]:
            return s["step"]
    return None


def bt_loss(r):
    b = r["btl"]
    if b["fired"]:
        return f"step {b['fired_step']} ({b['rule']})"
    return "does not fire"


def bt_samples(r):
    b = r["bts"]
    if b["fired"]:
        return f"step {b['fired_step']}"
    return "does not fire" if b["samples"] else "no samples"


P = print
mode = ("**quick mode** (`--quick`: a tiny model on a synthetic corpus; a check that the script works, "
        "not the study)" if quick else "the demo model")
P("# Collapse study: the seed's broken config against the fixed one")
P()
P(f"Written by `scripts/study-collapse.sh{' --quick' if quick else ''}` from what it measured "
  f"(runs built at commit `{e['COMMIT']}`); {mode}. Nothing below is typed by hand except this prose "
  "and the headings; rerun the script to regenerate it.")
P()
P("The seed's ANDREA-120M v1 collapsed from five compounding causes; three of them are in the "
  "optimizer config: no LR warmup, no gradient clipping, no weight decay (with a high peak LR). "
  "Issue 12 found that such a run could alternate two kinds of garbage and dodge the coherence "
  "gate. This study trains that config and the fixed one side by side with `runs` alone and records "
  "which gate stops the broken run, when, and what the fixed run does instead.")
P()
P("## What was run")
P()
P(f"Model {m['n_layer']} layers × {m['n_embd']} wide, {m['n_head']} heads, vocabulary {m['vocab_size']}, "
  f"block {m['block_size']}; batch {fixed_cfg['train']['batch_size']} × {fixed_cfg['train']['seq_len']} tokens; "
  f"schedule over {fixed_cfg['train']['total_steps']} steps, every run stopped at step {steps} at the latest "
  f"(`--steps {steps}`); sample audits every {fixed_cfg['sampling']['every']} steps "
  f"({len(fixed_cfg['sampling']['prompts'])} prompts, {fixed_cfg['sampling'].get('tokens', '?')} tokens each); "
  f"held-out eval every {fixed_cfg['eval']['every']} steps on {fixed_cfg['eval']['batches']} batches of "
  f"`{fixed_cfg['data']['heldout']}`'s held-out tail. Gates: sample gate threshold {g['threshold']}, "
  f"patience {g['patience']}; divergence gate {g['loss_spike_factor']} × best EMA for "
  f"{g['loss_spike_steps']} steps, judged after the warmup, and any non-finite loss or gradient norm.")
P()
P("`broken.json` differs from `fixed.json` only in these keys:")
P()
P("| key | broken | fixed |")
P("|---|---:|---:|")
for k, b, f in diff:
    P(f"| `{k}` | {json.dumps(b)} | {json.dumps(f)} |")
P()
P(f"{len(RUNS)} runs in one store, each `runs start --config C --name RUN --steps {steps}`:")
P()
P("| run | config | gates on |")
P("|---|---|---|")
for name, cfg, gates in RUNS:
    P(f"| `{name}` | `{cfg}` | {gates} |")
P()
P("After each run, `runs gate --backtest` replays both gates over its `.samples.json` and its "
  "`.loss.json` (with `--grace` = the config's warmup), whatever stopped it, and `runs eval` "
  "computes the held-out loss of its tip.")
P()
P("## Outcome")
P()
P("| run | exit | tip | stopped by | loss EMA at tip | val loss at tip |")
P("|---|---:|---|---|---:|---:|")
for name, _, _ in RUNS:
    r = R[name]
    t = r["tip"]
    P(f"| `{name}` | {r['rc']} | {t['kind']} @ step {t['step']} | {who_fired(r) or f'nothing (stopped at step {steps})'} | "
      f"{fmt(t['metrics'].get('loss_ema'))} | {fmt(r['eval']['val_loss'])} |")
P()
P("The line each halted run printed on stderr:")
P()
for name, _, _ in RUNS:
    if R[name]["err"]:
        P(f"- `{name}`: `{R[name]['err']}`")
P()
P("## Which gate fires when")
P()
P("Both gates replayed over each run's own logs (`runs gate --backtest`); a run that was halted "
  "has logs only up to its halt.")
P()
P("| run | steps trained | first sample below the threshold | sample gate fires at | divergence gate fires at | highest loss EMA / best |")
P("|---|---:|---:|---|---|---:|")
for name, _, _ in RUNS:
    r = R[name]
    P(f"| `{name}` | {r['steps']} | {fmt(first_low(r), '%d')} | {bt_samples(r)} | {bt_loss(r)} | "
      f"{fmt(r['btl'].get('worst_ratio'), '%.2f')} |")
P()
P("## Samples and their coherence scores")
P()
P("The texts as the runs wrote them to `.samples.json`, with the score `runs gate --backtest` "
  "gives them now (coherence v2; below the threshold is low).")
P()
for name in ("broken", "broken-loss-gate-only", "fixed", "fixed-loss-gate-only"):
    r = R[name]
    ss = r["bts"]["samples"]
    texts = r["samples"]
    if not ss:
        continue
    if name.startswith("fixed"):
        # the first audit, the audits with a low sample (up to 3), the last
        steps_ = sorted({s["step"] for s in ss})
        lowsteps = sorted({s["step"] for s in ss if s["score"] < r["bts"]["threshold"]})[:3]
        pick = {steps_[0], steps_[-1], *lowsteps}
        idx = [i for i, s in enumerate(ss) if s["step"] in pick]
    else:
        idx = list(range(min(len(ss), 8)))
    P(f"`{name}`:")
    P()
    P("| step | prompt | text | score |")
    P("|---:|---|---|---:|")
    for i in idx:
        s = ss[i]
        P(f"| {s['step']} | {code(s['prompt'], 20)} | {code(texts[i]['text'])} | {s['score']:.0f} |")
    P()
P("## Held-out loss")
P()
P("`.eval.json` of each run (the loss on held-out token ranges that training never reads), and the "
  "tip's value from `runs eval`:")
P()
allsteps = sorted({row["step"] for name, _, _ in RUNS for row in R[name]["evals"]})
P("| step | " + " | ".join(f"`{n}`" for n, _, _ in RUNS) + " |")
P("|---:|" + "---:|" * len(RUNS))
for s in allsteps:
    cells = []
    for name, _, _ in RUNS:
        v = [row["val_loss"] for row in R[name]["evals"] if row["step"] == s]
        cells.append(fmt(v[0]) if v else "")
    P(f"| {s} | " + " | ".join(cells) + " |")
agree = all(R[n]["eval"]["val_loss"] == R[n]["tip"]["metrics"].get("val_loss") for n, _, _ in RUNS)
P()
P(f"`runs eval` of each tip {'equals' if agree else 'does NOT equal'} the `val_loss` the run recorded "
  "in that node's metrics" + (" bit for bit." if agree else "."))
P()
P("## What it shows")
P()
b, bl, bs, f = R["broken"], R["broken-loss-gate-only"], R["broken-sample-gate-only"], R["fixed"]
if b["rc"] == 2:
    P(f"- **The broken config is halted**: exit 2 at step {b['tip']['step']}, a `halt` node, stopped by "
      f"the {who_fired(b)}.")
else:
    P(f"- **The broken config is NOT halted**: exit {b['rc']}, tip {b['tip']['kind']} at step {b['tip']['step']}.")
for r, n, other in ((bl, "broken-loss-gate-only", "divergence gate"), (bs, "broken-sample-gate-only", "sample gate")):
    if r["rc"] == 2:
        P(f"- With the {other} alone (`{n}`) it halts too: at step {r['tip']['step']}, by the {who_fired(r)}.")
    else:
        P(f"- With the {other} alone (`{n}`) the broken run is not halted (exit {r['rc']}, step {r['tip']['step']}).")
order = sorted(((bl["tip"]["step"], "divergence gate") if bl["rc"] == 2 else (10**9, "divergence gate"),
                (bs["tip"]["step"], "sample gate") if bs["rc"] == 2 else (10**9, "sample gate")))
if order[0][0] < order[1][0] < 10**9:
    P(f"- On this model the {order[0][1]} is the first line of defence ({order[0][0]} steps against "
      f"{order[1][0]}); each catches the collapse on its own.")
elif order[0][0] == order[1][0] < 10**9:
    P(f"- Both gates fire at the same step ({order[0][0]}).")
fl = R["fixed-loss-gate-only"]
lows = [(x, t) for x, t in zip(f["bts"]["samples"], f["samples"]) if x["score"] < f["bts"]["threshold"]]
eot = [t for x, t in lows if len(t["text"].replace("<|endoftext|>", "")) * 2 < len(t["text"])]
EOT = (f" {len(eot)} of those {len(lows)} are more than half `<|endoftext|>` by characters (the sampler does "
       "not stop at the end-of-text token, so a model that predicts it often writes runs of it)." if lows else "")
if f["rc"] == 0 and not f["bts"]["fired"] and not f["btl"]["fired"]:
    sc = [s["score"] for s in f["bts"]["samples"]]
    nlow = sum(1 for x in sc if x < f["bts"]["threshold"])
    run_, best = 0, 0
    for x in sc:
        run_ = run_ + 1 if x < f["bts"]["threshold"] else 0
        best = max(best, run_)
    P(f"- **The fixed config runs to step {f['tip']['step']}** (exit 0); neither gate would have "
      f"fired on its logs: {nlow} of its {len(sc)} samples score below {f['bts']['threshold']} (lowest "
      f"{fmt(min(sc, default=None), '%.0f')}), at most {best} in a row against a patience of "
      f"{f['bts']['patience']}; highest loss EMA / best {fmt(f['btl'].get('worst_ratio'), '%.2f')}." + EOT)
else:
    P(f"- **The fixed config is halted too**: exit {f['rc']}, {f['tip']['kind']} at step {f['tip']['step']}, "
      f"stopped by the {who_fired(f) or '?'} (sample gate on its logs: {bt_samples(f)}; divergence gate: "
      f"{bt_loss(f)}, highest loss EMA / best {fmt(f['btl'].get('worst_ratio'), '%.2f')}).")
    P(f"  Its loss says nothing is wrong; its samples are what the gate judged: {len(lows)} of its "
      f"{len(f['samples'])} samples score below {f['bts']['threshold']}." + EOT)
if fl["rc"] == 0:
    P(f"- With the sample gate off (`fixed-loss-gate-only`) the fixed config trains to step {fl['tip']['step']} "
      f"(exit 0); replayed over its samples, the sample gate {bt_samples(fl).replace('step', 'would fire at step')}"
      f"; its held-out loss ends at {fmt(fl['eval']['val_loss'])}.")
else:
    P(f"- With the sample gate off (`fixed-loss-gate-only`) the fixed config still stops: exit {fl['rc']}, "
      f"{who_fired(fl)} at step {fl['tip']['step']}.")
fv = {row["step"]: row["val_loss"] for row in f["evals"]}
bstep, bval = b["tip"]["step"], b["eval"]["val_loss"]
near = max((s for s in fv if s <= bstep), default=None)
if near is not None:
    P(f"- Held-out loss: the broken run's halt node scores {fmt(bval)} at step {bstep}; the fixed run scored "
      f"{fmt(fv[near])} at step {near} (its last evaluation at or before that step) and {fmt(f['eval']['val_loss'])} at its end (step {f['tip']['step']}). "
      f"Both started from {fmt(fv.get(0))} at step 0 (the same initial weights: same seed).")
P()
P("## Cost")
P()
P(f"{e['SECS']} s of wall time for the {len(RUNS)} runs and their measurements, on a 2-core machine shared with "
  f"other sessions (load average {e['LOAD0']} at the start, {e['LOAD1']} at the end), with "
  "`OMP_NUM_THREADS=1`.")
