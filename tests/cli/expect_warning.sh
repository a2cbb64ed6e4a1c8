#!/usr/bin/env bash
# expect_warning.sh TEXT COMMAND...: COMMAND must succeed (status 0) and print a warning line
# ("x2v warn ...") on stderr that contains TEXT. With X2V_EXPECT_STDERR_ORDER="A|B" the stderr line
# holding A must come before the one holding B.
set -u
text="$1"; shift
stderr_file=$(mktemp)
"$@" >/dev/null 2>"$stderr_file"
status=$?
fail=0
if [ "$status" -ne 0 ]; then echo "expected exit status 0, got $status"; fail=1; fi
if [ -n "$text" ] && ! grep '^x2v warn ' "$stderr_file" | grep -qF -- "$text"; then
  echo "no warning line holds '$text'"; fail=1
fi
if [ -n "${X2V_EXPECT_STDERR_ORDER:-}" ]; then
  first="${X2V_EXPECT_STDERR_ORDER%%|*}"; second="${X2V_EXPECT_STDERR_ORDER#*|}"
  a=$(grep -nF -- "$first" "$stderr_file" | head -1 | cut -d: -f1)
  b=$(grep -nF -- "$second" "$stderr_file" | head -1 | cut -d: -f1)
  if [ -z "$a" ] || [ -z "$b" ] || [ "$a" -ge "$b" ]; then
    echo "expected a line with '$first' before one with '$second'"; fail=1
  fi
fi
if [ "$fail" -ne 0 ]; then echo "--- stderr:"; cat "$stderr_file"; fi
rm -f "$stderr_file"
exit "$fail"
