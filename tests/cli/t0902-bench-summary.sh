#!/bin/sh
# scripts/bench-summary.sh, which ends `make bench`: from hand-made benchmark
# outputs it prints each group's headline lines under its goal, in file order,
# each once, and says which benchmark did not run.
. "$(dirname "$0")/lib.sh"

mkdir out
cat >out/bench_trainer.txt <<'TXT'
threads 2  GOMP_SPINCOUNT=1000
peak     2 threads: 400.0 GFLOP/s FP32 FMA (16-lane vectors); 200.0 GFLOP per CPU-second
bf16     2 threads: 800.0 GFLOP/s bf16 dot products into fp32 (vdpbf16ps) = 2.00x the FP32 FMA peak
gemm     1024x8192x128 CPU-ms (GFLOP per CPU-second): fwd 11.00 (190.0)
(a) L4 H4 C128 V8192 B4xT256  50.0 ms/step (fwd 15.0)  240.0 GFLOP/s = 60% of peak
(a) L4 H4 C128 V8192 B4xT256  paired per CPU-second: 66% of the FMA loop's (median of 8 steps, range 60-70%)
(a) L4 H4 C128 V8192 B4xT256  per CPU-second: 130.0 GFLOP = 65% of the FMA loop's (best step 90.0 CPU-ms)
TXT
cat >out/bench_store.txt <<'TXT'
save 1/5  1.000 s  1.50 GB/s   baseline write+fsync 1.100 s  1.36 GB/s   ratio 1.10
save     ratio median 1.10  range 0.90-1.30 over 5 runs  (target: median >= 0.9)
restore  1.000 s  1.50 GB/s   baseline read+SHA-256 0.90 GB/s   ratio 0.90  (target >= 0.8)
fork     8.00 ms  object bytes written 0  (target < 20 ms, 0 bytes)
TXT
cat >out/bench_startup.txt <<'TXT'
bench_startup: 50 starts each, alternating; load average 1.00
  runs --help                13.00 (      5.00)
  runs log (20 nodes)        26.00 (     10.00)
  /bin/true                   3.00 (      1.00)
  ratio runs --help / true (medians, [A]) 4.33; load average at the end 1.00
TXT
summary=$("$ROOT/scripts/bench-summary.sh" out)
expect "the summary exits 0" "$ROOT/scripts/bench-summary.sh" out
expect_match "group 1 says its goal" "$summary" '^1\. metadata .*0\.3 s at 10k'
expect_match "a missing benchmark is named" "$summary" '\(bench_lineage did not run\)'
expect_match "the trainer's paired ratio is shown" "$summary" 'paired per CPU-second: 66%'
expect_match "the bf16 ceiling is shown" "$summary" 'bf16 .*= 2\.00x the FP32 FMA peak'
expect_eq "the per-CPU-second line appears once" \
    "$(printf '%s\n' "$summary" | grep -c 'per CPU-second: 130')" 1
expect_eq "lines not asked for stay out" "$(printf '%s\n' "$summary" | grep -c '^ *gemm ')" 0
expect_match "start-up lines keep their order" "$(printf '%s\n' "$summary" | grep -E 'runs --help|/bin/true' | tr '\n' ' ')" \
    'runs --help .*/bin/true'
expect_match "the save median is shown" "$summary" 'save +ratio median 1\.10'
expect_eq "a save's single run is not" "$(printf '%s\n' "$summary" | grep -c 'save 1/5')" 0
expect_exit 2 "no directory: one usage line" "$ROOT/scripts/bench-summary.sh"

# with bench_lineage's output: its table, and verify's and gc's line with their memory
cat >out/bench_lineage.txt <<'TXT'
  10000        5.0      0.883      0.871    0.036    0.103    0.138   wall
                        0.882      0.871    0.036    0.103    0.138   cpu (user+sys)
          verify 2.032 s (cpu 2.033, peak RSS 61 MB), gc --dry-run 1.100 s (cpu 1.099, peak RSS 54 MB)
TXT
summary=$("$ROOT/scripts/bench-summary.sh" out)
expect_match "verify's and gc's line is shown" "$summary" 'gc --dry-run 1\.100 s .*peak RSS 54 MB'
expect_eq "the cpu row stays out" "$(printf '%s\n' "$summary" | grep -c 'cpu (user+sys)')" 0
done_testing
