#!/usr/bin/env bash
# The generated shell completions complete what --help describes:
#   completion_test.sh DOCS_DIR
# bash: driven through COMP_WORDS/COMP_CWORD with and without
# bash-completion's helpers loaded; zsh and fish: the files parse, and fish
# completes through its own `complete -C`.
set -uo pipefail
docs=$1
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# bash_complete WORDS...: what the completion offers for the last word.
bash_complete() {
  bash --norc --noprofile -c '
    if [[ -n ${LOAD_BASH_COMPLETION:-} ]]; then
      source /usr/share/bash-completion/bash_completion
    fi
    source "$0"
    COMP_WORDS=("${@}")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    function=$(complete -p resnet-cli | sed -E "s/.* -F ([^ ]+) .*/\1/")
    "$function" resnet-cli "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort' "$docs/resnet-cli.bash" "$@"
}

expect_bash() {
  local expected=$1
  shift
  local got
  got=$(bash_complete "$@" | tr '\n' ' ' | sed 's/ $//')
  [[ $got == "$expected" ]] || fail "bash: '$*' offers '$got', expected '$expected'"
}

check_bash() {
  expect_bash "classify" resnet-cli cl
  expect_bash "--format" resnet-cli classify --for
  expect_bash "json jsonl" resnet-cli classify --format j
  expect_bash "json jsonl" resnet-cli classify --format = j
  expect_bash "embedding" resnet-cli classify --output-type e
  expect_bash "list" resnet-cli -v weights l
  expect_bash "--follow --format" resnet-cli classify --labels x.txt --fo
  expect_bash "resnet101 resnet152 resnet18" resnet-cli bench --arch resnet1
  expect_bash "ResNet18_QuantizedWeights.DEFAULT ResNet18_QuantizedWeights.IMAGENET1K_FBGEMM_V1 ResNet18_Weights.DEFAULT ResNet18_Weights.IMAGENET1K_V1" \
    resnet-cli weights info ResNet18
  expect_bash "download info list path verify" resnet-cli weights ''
  # File arguments: the files of the folder completed in.
  local folder
  folder=$(mktemp -d)
  touch "$folder/labels.txt" "$folder/photo.jpg"
  expect_bash "$folder/labels.txt" resnet-cli classify --labels "$folder/la"
  expect_bash "$folder/photo.jpg" resnet-cli classify "$folder/ph"
  expect_bash "$folder/labels.txt $folder/photo.jpg" \
    resnet-cli weights verify "$folder/"
  # A DIR value: the folders only.
  mkdir "$folder/maps"
  expect_bash "$folder/maps" resnet-cli classify --explain-dir "$folder/"
  rm -r "$folder"
}

check_bash
LOAD_BASH_COMPLETION=1 check_bash

zsh -n "$docs/_resnet-cli" || fail "zsh: _resnet-cli does not parse"
fish -n "$docs/resnet-cli.fish" || fail "fish: resnet-cli.fish does not parse"
fish_complete() {
  fish --no-config -c "source $docs/resnet-cli.fish; complete -C '$1'" |
    cut -f1 | sort | tr '\n' ' ' | sed 's/ $//'
}
[[ $(fish_complete "resnet-cli cl") == classify ]] || fail "fish: resnet-cli cl"
[[ $(fish_complete "resnet-cli classify --for") == --format ]] ||
  fail "fish: resnet-cli classify --for"
[[ $(fish_complete "resnet-cli classify -o x --format j") == "json jsonl" ]] ||
  fail "fish: --format j"
[[ $(fish_complete "resnet-cli weights l") == list ]] ||
  fail "fish: resnet-cli weights l"
fish_folder=$(mktemp -d)
mkdir "$fish_folder/maps" && touch "$fish_folder/photo.jpg"
[[ $(fish_complete "resnet-cli classify --explain-dir $fish_folder/") == "$fish_folder/maps/" ]] ||
  fail "fish: --explain-dir offers '$(fish_complete "resnet-cli classify --explain-dir $fish_folder/")'"
rm -r "$fish_folder"

if ((failures)); then exit 1; fi
echo "completions: bash (with and without bash-completion), zsh, fish ok"
