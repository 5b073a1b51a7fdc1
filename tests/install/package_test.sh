#!/usr/bin/env bash
# The Debian package, made and installed as a user would:
#   package_test.sh build BUILD_DIR WORK_DIR
#     `cpack -G DEB`, the control fields and the files, then `dpkg -i` into
#     a fresh root and the installed binary's --version;
#   package_test.sh lintian WORK_DIR HARDENED
#     lintian on the package made by the first: no error, no warning, and,
#     where HARDENED is ON (a build with RESNET_CLI_HARDENING's flags: not
#     the sanitizers' or the fuzzers', which leave them out), none of the
#     hardening-* tags (even informational ones).
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

build_and_install() {
  local build=$1 work=$2
  rm -rf "$work"
  mkdir -p "$work"
  (cd "$build" && cpack -G DEB -B "$work" >"$work/cpack.log" 2>&1) ||
    { cat "$work/cpack.log"; fail "cpack -G DEB"; }
  local deb
  deb=$(echo "$work"/resnet-cli_*.deb)
  [[ -f $deb ]] || fail "no package in $work"
  dpkg-deb --info "$deb"

  # Depends: dpkg-shlibdeps' answer for the binary and the module.
  local depends version
  depends=$(dpkg-deb --field "$deb" Depends)
  [[ $depends == *libc6* && $depends == *libtorch* ]] ||
    fail "Depends lacks libc6 or LibTorch: $depends"
  # The Description's extended part names every command resnet-cli has.
  local description command
  description=$(dpkg-deb --field "$deb" Description)
  for command in $("$build/cli/resnet-cli" --help |
    sed -n '/^Commands:/,/^$/p' | awk '/^  [a-z]/ { print $1 }'); do
    grep -qw -- "$command" <<<"$description" ||
      fail "the package's Description does not name '$command'"
  done
  (($(wc -l <<<"$description") > 5)) ||
    fail "the package's Description is short: $description"
  version=$(dpkg-deb --field "$deb" Version)
  local changelog
  changelog=$(dpkg-deb --fsys-tarfile "$deb" |
    tar -xOf - ./usr/share/doc/resnet-cli/changelog.gz | gzip -dc | head -1)
  [[ $changelog == "resnet-cli ($version) "* ]] ||
    fail "packaging/changelog's latest entry is not $version: $changelog"

  # A fresh root whose dpkg database knows this machine's packages, so that
  # Depends are checked against what is installed here, and nothing else.
  local root=$work/root
  mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" \
    "$root/var/log"
  cp /var/lib/dpkg/status "$root/var/lib/dpkg/status"
  # Those packages' files are not there: empty file lists say so.
  dpkg-query -W -f='${binary:Package}\n' | while read -r package; do
    : >"$root/var/lib/dpkg/info/$package.list"
  done
  touch "$root/var/lib/dpkg/available"
  dpkg --root="$root" --force-not-root --force-script-chrootless \
    --log="$work/dpkg.log" -i "$deb" || fail "dpkg -i into $root"
  dpkg --root="$root" -L resnet-cli

  # The systemd unit: shipped, naming the installed binary, valid, and
  # disabled (no link enables it) after the maintainer scripts ran.
  local unit=$root/usr/lib/systemd/system/resnet-cli.service
  [[ -f $unit ]] || fail "no systemd unit at $unit"
  grep -qx "ExecStart=/usr/bin/resnet-cli serve.*" "$unit" ||
    fail "the unit does not start /usr/bin/resnet-cli serve"
  if [[ -n $(find "$root/etc" -name 'resnet-cli.service' 2>/dev/null) ]]; then
    fail "the unit is enabled: $(find "$root/etc" -name 'resnet-cli.service')"
  fi
  # Within the root (its binary); the root has no targets of its own nor a
  # man database, so those are not followed.
  SYSTEMD_LOG_LEVEL=err systemd-analyze verify --root="$root" --man=no \
    --recursive-errors=no /usr/lib/systemd/system/resnet-cli.service ||
    fail "systemd-analyze verify rejects the unit"
  # No ldconfig: a private module, opened by its path.
  if dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - | grep -qE '^[^#]*ldconfig'; then
    fail "a maintainer script calls ldconfig"
  fi

  file "$root/usr/bin/resnet-cli" | grep -q ", stripped" ||
    fail "the installed binary is not stripped"
  local output
  output=$("$root/usr/bin/resnet-cli" --version) ||
    fail "the installed binary's --version"
  echo "$output"
  if grep -q "^model: module" <<<"$output"; then
    grep -qx "model: module $root/usr/lib/resnet-cli/libresnet_cli_model.so" \
      <<<"$output" || fail "the installed binary does not find its module"
  fi
  MANWIDTH=80 man --warnings -l "$root/usr/share/man/man1/resnet-cli.1.gz" \
    >/dev/null || fail "the installed man page"
}

run_lintian() {
  local deb
  deb=$(echo "$1"/resnet-cli_*.deb)
  [[ -f $deb ]] || fail "no package in $1 (run the package test first)"
  local report
  report=$(lintian --fail-on error,warning --display-info "$deb" 2>&1) ||
    { echo "$report"; fail "lintian reports an error or a warning"; }
  echo "$report"
  if [[ $2 != ON ]]; then
    echo "lintian: $deb has no error and no warning; hardening tags not" \
      "checked: this build leaves the hardening flags out (sanitizers," \
      "fuzzers or RESNET_CLI_HARDENING=OFF)"
    return
  fi
  if grep -q "hardening-" <<<"$report"; then
    fail "lintian reports a hardening tag"
  fi
  echo "lintian: $deb has no error, no warning and no hardening tag"
}

case $1 in
  build) build_and_install "$2" "$3" ;;
  lintian) run_lintian "$2" "$3" ;;
  *) fail "usage: package_test.sh build BUILD_DIR WORK_DIR | lintian WORK_DIR HARDENED" ;;
esac
