#!/bin/sh
# runs import / runs export: an llm.c fp32 model file in, the same bytes out;
# safetensors header and offsets; errors.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "SKIP: python3 is needed to write and check the files"; echo "1..0"; exit 0; }

expect "init" "$RUNS" init
# A tiny llm.c file: L=2, NH=2, C=8, V=50 (padded to 128), maxT=16; padded rows zero.
python3 - <<'PY'
import struct, random
L, NH, C, V, Vp, T = 2, 2, 8, 50, 128, 16
random.seed(7)
hdr = [20240326, 3, T, V, L, NH, C, Vp] + [0] * 248
sizes = [Vp*C, T*C, L*C, L*C, L*3*C*C, L*3*C, L*C*C, L*C, L*C, L*C, L*4*C*C, L*4*C, L*4*C*C, L*C, C, C]
vals = []
for i, n in enumerate(sizes):
    if i == 0:
        vals += [random.uniform(-1, 1) for _ in range(V*C)] + [0.0] * ((Vp - V) * C)
    else:
        vals += [random.uniform(-1, 1) for _ in range(n)]
with open("in.bin", "wb") as f:
    f.write(struct.pack("<256i", *hdr))
    f.write(struct.pack("<%df" % len(vals), *vals))
PY
expect "import an llm.c model file" "$RUNS" import in.bin --run imp
# through `runs show --json` only: when it fails, the python below reads nothing and
# the comparison fails (no fallback that reads the store behind the CLI's back)
expect "show --json of the imported node" "$RUNS" show imp@step_0 --json
expect_eq "the root node is recorded as kind import" "$("$RUNS" show imp@step_0 --json | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["kind"], m["step"], m["config"]["model"]["n_layer"], m["config"]["model"]["vocab_size"], m["config"]["model"]["block_size"])')" "import 0 2 50 16"
expect_match "log calls the root an import, not a start" "$("$RUNS" log imp)" "^[0-9a-f]+ +import +imp +step_0"
expect_match "gc pins the import root" "$("$RUNS" gc --dry-run)" "1 nodes \\(1 pinned"
expect "export llmc" "$RUNS" export imp --format llmc --out out.bin
expect "round trip: the same bytes" cmp in.bin out.bin

expect "export safetensors" "$RUNS" export imp --format safetensors --out w.safetensors
check=$(python3 - <<'PY'
import json, struct
b = open("w.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8+n])
md = h.pop("__metadata__")
cfg = json.loads(md["runs.config"])
ts = sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0])
end = 0
for name, t in ts:
    beg, e = t["data_offsets"]
    assert beg == end, (name, beg, end)
    count = 1
    for d in t["shape"]: count *= d
    assert e - beg == 4 * count and t["dtype"] == "F32", name
    end = e
assert 8 + n + end == len(b)
# wte and h.1.attn.c_attn.w against the llm.c file
m = open("in.bin", "rb").read()[1024:]
C, V, Vp, T, L = 8, 50, 128, 16, 2
data = b[8+n:]
w = h["wte"]; assert data[w["data_offsets"][0]:w["data_offsets"][1]] == m[:V*C*4]
qkvw = (Vp*C + T*C + 2*L*C) * 4 + 3*C*C*4
q = h["h.1.attn.c_attn.w"]; assert q["shape"] == [24, 8]
assert data[q["data_offsets"][0]:q["data_offsets"][1]] == m[qkvw:qkvw + 3*C*C*4]
print(len(ts), n % 8, md["format"], cfg["model"]["n_embd"])
PY
)
expect_eq "safetensors: contiguous offsets, F32, data as in llm.c's layout" "$check" "28 0 runs 8"

printf 'not a model' > junk.bin
expect_exit 1 "import refuses a file that is not llm.c's" "$RUNS" import junk.bin --run j
expect_exit 1 "import refuses an existing run" "$RUNS" import in.bin --run imp
expect_exit 129 "import needs --run" "$RUNS" import in.bin
expect_exit 129 "export needs a known format" "$RUNS" export imp --format onnx --out x
expect_exit 1 "export of an unknown node" "$RUNS" export nosuch --format llmc --out x
expect_match "export --help" "$("$RUNS" export --help)" "safetensors"
expect_match "import --help" "$("$RUNS" import --help)" "llm.c"
done_testing
