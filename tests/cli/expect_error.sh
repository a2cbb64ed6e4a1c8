#!/usr/bin/env bash
# expect_error.sh TEXT COMMAND...: COMMAND must exit with status 2, print exactly one line on stderr that
# contains TEXT, and (when X2V_EXPECT_NO_FILE is set) leave no file at that path. With
# X2V_EXPECT_BEFORE_WORK=1 the error must come before any model stage starts (no weights loaded).
set -u
text="$1"; shift
stderr_file=$(mktemp)
"$@" >/dev/null 2>"$stderr_file"
status=$?
# Log lines from x2v ("x2v info ...") are progress, not the error line.
error_lines=$(grep -v '^x2v \(info\|debug\|warn\) ' "$stderr_file" | grep -v '^\[' )
count=$(printf '%s' "$error_lines" | grep -c '' || true)
fail=0
if [ "$status" -ne 2 ]; then echo "expected exit status 2, got $status"; fail=1; fi
if [ "$count" -ne 1 ]; then echo "expected one error line, got $count"; fail=1; fi
if ! printf '%s' "$error_lines" | grep -qF -- "$text"; then echo "error line lacks '$text'"; fail=1; fi
if [ -n "${X2V_EXPECT_NO_FILE:-}" ] && ls "${X2V_EXPECT_NO_FILE}"* >/dev/null 2>&1; then
  echo "a file was left at ${X2V_EXPECT_NO_FILE}"; fail=1
fi
if [ -n "${X2V_EXPECT_BEFORE_WORK:-}" ] && grep -q 'stage .*: started' "$stderr_file"; then
  echo "the error came after a model stage started; it must be found before any weights load"; fail=1
fi
if [ "$fail" -ne 0 ]; then echo "--- stderr:"; cat "$stderr_file"; fi
rm -f "$stderr_file"
exit "$fail"
