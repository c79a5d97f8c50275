#!/usr/bin/env bash
# Leak check of the native client lifecycle: runs the cargo test native/tests/lifecycle.rs
# (50 rounds of create / submit valid, malformed and partly invalid batches / close, and a close
# while a batch waits in a one-hour backoff) under valgrind memcheck.
#
# Fails (non-zero exit) on any memory error (invalid read or write, use of uninitialised memory,
# bad free, ...) and on any "definitely lost" or "indirectly lost" block, or when the test
# itself fails.
#
# "Possibly lost" and "still reachable" blocks do not fail the check, on purpose: the test's
# scripted HTTP receiver (native/tests/support/mod.rs) runs detached threads that never end (its
# accept loop blocks in accept() for ever, holding its listener, script and records), and the
# Rust test harness leaves its own threads and process-wide state (stdout buffer, thread-locals
# of live threads) at exit. Valgrind reports the memory those live threads still point into
# (their stacks and thread-control blocks, sometimes through interior pointers) as "possibly
# lost" or "still reachable". A client that forgets to free something has no pointer left to it
# and shows up as "definitely lost" (or "indirectly lost" beneath it), which does fail the
# check. Worker threads are joined on close; the test also checks that the process's thread
# count goes back to where it was.
#
# Usage: scripts/leak-check.sh            (PROMSINK_LIFECYCLE_ROUNDS=N to change the rounds)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
  echo "== installing valgrind"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q valgrind
fi

echo "== building the lifecycle test"
# cargo reports the test executable in a JSON "compiler-artifact" message; take the one of the
# test target named "lifecycle" (its "executable" field is non-null only for runnable targets).
json=$(cargo test -p promsink --test lifecycle --no-run --message-format=json)
test_bin=$(printf '%s\n' "$json" \
  | grep '"reason":"compiler-artifact"' \
  | grep '"name":"lifecycle"' \
  | grep '"kind":\["test"\]' \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' \
  | tail -n 1)
if [ -z "$test_bin" ] || [ ! -x "$test_bin" ]; then
  echo "cannot find the lifecycle test executable in cargo's output" >&2
  exit 1
fi
echo "   $test_bin"

log=$(mktemp "${TMPDIR:-/tmp}/promsink-valgrind.XXXXXX")
trap 'rm -f "$log"' EXIT

echo "== valgrind (a few minutes at most)"
status=0
valgrind \
  --leak-check=full \
  --show-leak-kinds=definite,indirect,possible \
  --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=1 \
  --num-callers=40 \
  --log-file="$log" \
  "$test_bin" --test-threads=1 || status=$?

if [ "$status" -ne 0 ]; then
  echo "== valgrind log (errors and leaks in full)"
  # Every record but the "possibly lost" ones (see above); records end with an empty "==pid== ".
  awk '/possibly lost in loss record/ { skip = 1 } !skip { print } /^==[0-9]+== $/ { skip = 0 }' \
    "$log" | head -n 3000 || true
fi
echo "== valgrind summary"
grep -E 'LEAK SUMMARY|definitely lost:|indirectly lost:|possibly lost:|still reachable:|suppressed:|ERROR SUMMARY' "$log" || true

# Belt and braces: check the numbers ourselves too.
definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | tail -n 1)
indirect=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | tail -n 1)
errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$log" | tr -d , | tail -n 1)

if [ "$status" -ne 0 ]; then
  echo "FAIL: valgrind or the test exited with status $status" >&2
  exit 1
fi
if [ -z "$errors" ] || [ "$errors" != 0 ] || [ "${definite:-0}" != 0 ] || [ "${indirect:-0}" != 0 ]; then
  echo "FAIL: ${errors:-?} errors, ${definite:-0} bytes definitely and ${indirect:-0} bytes indirectly lost" >&2
  exit 1
fi
echo "OK: no memory errors, nothing definitely or indirectly lost"
