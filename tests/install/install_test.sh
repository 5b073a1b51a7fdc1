#!/usr/bin/env bash
# README's install, `cmake --install build --prefix ~/.local`, for a fresh
# user (HOME=WORK_DIR/home), then what that user gets with ~/.local/bin on
# PATH:
#   install_test.sh BUILD_DIR WORK_DIR
# the files in their usual places, the binary finding its model module,
# `man resnet-cli` finding its page, and bash-completion and fish loading
# the completions on their own.
set -euo pipefail
build=$1
export HOME=$2/home
unset XDG_DATA_HOME XDG_DATA_DIRS BASH_COMPLETION_USER_DIR MANPATH
prefix=$HOME/.local
rm -rf "$HOME"
mkdir -p "$HOME"
cmake --install "$build" --prefix "$prefix" >/dev/null

for file in bin/resnet-cli \
  share/man/man1/resnet-cli.1.gz \
  share/bash-completion/completions/resnet-cli \
  share/zsh/vendor-completions/_resnet-cli \
  share/fish/vendor_completions.d/resnet-cli.fish \
  share/doc/resnet-cli/README.md \
  share/doc/resnet-cli/copyright \
  share/doc/resnet-cli/changelog.gz; do
  [[ -f $prefix/$file ]] || { echo "FAIL: $file not installed" >&2; exit 1; }
done

# Nothing that belongs to the Debian package only (lintian's overrides, the
# system unit): README's install is for a user's ~/.local too.
extra=$(find "$prefix" -path '*lintian*' -o -path '*systemd*')
[[ -z $extra ]] || { echo "FAIL: installed for the package only: $extra" >&2; exit 1; }

export PATH=$prefix/bin:$PATH
version=$(resnet-cli --version)
echo "$version"
if grep -q "^model: module" <<<"$version"; then
  grep -qx "model: module $prefix/lib/resnet-cli/libresnet_cli_model.so" \
    <<<"$version" || { echo "FAIL: the module is not found" >&2; exit 1; }
fi

# man-db derives the manual path from PATH (PREFIX/bin -> PREFIX/share/man).
page=$(man -w resnet-cli)
[[ $page == "$prefix/share/man/man1/resnet-cli.1.gz" ]] ||
  { echo "FAIL: man resnet-cli opens '$page'" >&2; exit 1; }

# bash-completion looks in ~/.local/share/bash-completion/completions (and
# in $XDG_DATA_DIRS, /usr/local/share by default, for a root install).
bash --norc --noprofile -c '
  source /usr/share/bash-completion/bash_completion
  __load_completion resnet-cli
  complete -p resnet-cli' | grep -q -- "-F _resnet_cli resnet-cli" ||
  { echo "FAIL: bash-completion does not load the completion" >&2; exit 1; }
# README: a user's ~/.bashrc from /etc/skel loads bash-completion; root's
# (Debian's base-files) does not, until the line README gives is added.
loads_bash_completion() {
  cp "$1" "$HOME/.bashrc"
  [[ -z ${2:-} ]] || echo "$2" >>"$HOME/.bashrc"
  bash -i -c 'declare -F __load_completion' </dev/null >/dev/null 2>&1
}
loads_bash_completion /etc/skel/.bashrc ||
  { echo "FAIL: /etc/skel/.bashrc does not load bash-completion" >&2; exit 1; }
if [[ -f /usr/share/base-files/dot.bashrc ]]; then
  ! loads_bash_completion /usr/share/base-files/dot.bashrc ||
    { echo "FAIL: root's .bashrc loads bash-completion (README says not)" >&2; exit 1; }
  loads_bash_completion /usr/share/base-files/dot.bashrc \
    ". /usr/share/bash-completion/bash_completion" ||
    { echo "FAIL: README's line for root does not load bash-completion" >&2; exit 1; }
fi
rm -f "$HOME/.bashrc"
# fish looks in ~/.local/share/fish/vendor_completions.d.
[[ $(fish -c 'complete -C "resnet-cli cl"' | cut -f1) == classify ]] ||
  { echo "FAIL: fish does not load the completion" >&2; exit 1; }
echo "install: $prefix ok"
