#!/bin/sh
# tests/run-tests.sh's closing count on hand-made test outputs: TAP skips ("ok N - x
# # SKIP why") and cmocka skips ("[  SKIPPED ] name") are skips, not passes; a script
# planning "1..0" is one skip; cmocka's failures count once each (not once per line
# that names them); a crash without a failed case counts as one failure; each skip's
# reason is printed; the build directory comes from $B.
. "$(dirname "$0")/lib.sh"

mkdir -p fake/tests
cat >fake/tests/test_fake_tap <<'SH'
#!/bin/sh
echo "ok 1 - a"
echo "ok 2 - b # SKIP no chromium here"
echo "not ok 3 - c"
echo "1..3"
exit 1
SH
cat >fake/tests/test_fake_cmocka <<'SH'
#!/bin/sh
printf '[==========] Running 3 test(s).\n[ RUN      ] t1\n[       OK ] t1\n[ RUN      ] t2\n'
printf 'SKIP: no CUDA device\n[  SKIPPED ] t2\n[ RUN      ] t3\n[  ERROR   ] --- x\n[  FAILED  ] t3\n'
printf '[==========] 3 test(s) run.\n[  PASSED  ] 1 test(s).\n[  SKIPPED ] 1 test(s), listed below:\n'
printf '[  SKIPPED ] t2\n[  FAILED  ] 1 test(s), listed below:\n[  FAILED  ] t3\n\n 1 FAILED TEST(S)\n'
exit 1
SH
cat >fake/tests/test_fake_plan0 <<'SH'
#!/bin/sh
echo "SKIP: python3 is needed"; echo "1..0"
SH
cat >fake/tests/test_fake_crash <<'SH'
#!/bin/sh
echo "ok 1 - a"; kill -ABRT $$
SH
chmod +x fake/tests/*

out=$(B="$T/fake" "$ROOT/tests/run-tests.sh" test_fake_ 2>&1); rc=$?
expect_eq "run-tests fails when a test fails" "$rc" 1
expect_eq "closing line: passes, failures, skips" "$(printf '%s\n' "$out" | tail -1)" "3 passed, 3 failed, 3 skipped"
expect_match "a TAP skip's reason is shown" "$out" "test_fake_tap: skip: b # SKIP no chromium here"
expect_match "a cmocka skip is named" "$out" "test_fake_cmocka: skip: t2$"
expect_match "a cmocka test's printed reason is shown" "$out" "test_fake_cmocka: skip: no CUDA device"
expect_match "a 1..0 script's reason is shown" "$out" "test_fake_plan0: skip: python3 is needed"
expect_match "the crash is reported" "$out" "FAIL test_fake_crash"

out=$(B="$T/fake" "$ROOT/tests/run-tests.sh" test_fake_plan0 2>&1); rc=$?
expect_eq "only skips: success" "$rc" 0
expect_eq "only skips: counted" "$(printf '%s\n' "$out" | tail -1)" "0 passed, 0 failed, 1 skipped"
done_testing
