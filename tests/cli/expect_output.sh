#!/usr/bin/env bash
# expect_output.sh TEXT COMMAND...: COMMAND must succeed and print TEXT on stdout.
set -u
text="$1"; shift
output=$("$@" 2>/tmp/x2v_cli_stderr.$$)
status=$?
if [ "$status" -ne 0 ] || ! printf '%s' "$output" | grep -qF -- "$text"; then
  echo "status $status; stdout:"; printf '%s\n' "$output"; echo "stderr:"; cat /tmp/x2v_cli_stderr.$$
  rm -f /tmp/x2v_cli_stderr.$$
  exit 1
fi
rm -f /tmp/x2v_cli_stderr.$$
