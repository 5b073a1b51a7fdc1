#!/usr/bin/env bash
# The generated man page renders without a warning, and names every command
# and every option that --help lists:
#   man_test.sh PAGE RESNET_CLI
set -euo pipefail
page=$1
binary=$2
warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
if [[ -n $warnings ]]; then
  echo "FAIL: man --warnings -l $page:" >&2
  echo "$warnings" >&2
  exit 1
fi
text=$(MANWIDTH=200 man -l "$page" 2>/dev/null)
missing=0
for command in "" classify preprocess "weights list" "weights info" \
  "weights download" "weights path" "weights verify" bench merge; do
  # shellcheck disable=SC2086  # a command path is words
  for option in $("$binary" $command --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
    if ! grep -qF -- "$option" <<<"$text"; then
      echo "FAIL: $option of 'resnet-cli $command' is not in the man page" >&2
      missing=1
    fi
  done
  if [[ -n $command ]] && ! grep -qF "resnet-cli $command" <<<"$text"; then
    echo "FAIL: 'resnet-cli $command' is not in the man page" >&2
    missing=1
  fi
done
# EXAMPLES: a section with examples of every command.
examples=$(sed -n '/^EXAMPLES/,/^[A-Z][A-Z ]*$/p' <<<"$text" | sed '$d')
for command in "" classify preprocess "weights list" "weights info" \
  "weights download" "weights path" "weights verify" bench merge serve \
  train quantize evaluate report; do
  if ! grep -qE -- "^ {4,}resnet-cli ${command:+$command( |\$)}" <<<"$examples"; then
    echo "FAIL: EXAMPLES shows no 'resnet-cli $command'" >&2
    missing=1
  fi
done
# SEE ALSO names pages, not only the README.
grep -A3 '^SEE ALSO' <<<"$text" | grep -q 'jq(1)' ||
  { echo "FAIL: SEE ALSO names no neighbouring page" >&2; missing=1; }
exit $missing
