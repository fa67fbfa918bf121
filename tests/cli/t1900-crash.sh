#!/bin/bash
# t1900-crash: SIGKILLed writers never leave the store inconsistent (tests/crash/crash.sh).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/crash/crash.sh"
done_testing
