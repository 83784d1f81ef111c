#!/usr/bin/env bash
# Maintainers only: regenerate cpp/patches/*.patch from the edited trees in
# third_party/ against the pristine orig tarballs in third_party/.download/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for pair in x265:x265_3.5.orig.tar.gz libde265:libde265_1.0.11.orig.tar.gz; do
  name=${pair%%:*}; tarball=${pair#*:}
  mkdir -p "$tmp/$name"
  tar -xzf "$here/third_party/.download/$tarball" -C "$tmp/$name"
  mv "$tmp/$name"/* "$tmp/$name/a"
  cp -a "$here/third_party/$name" "$tmp/$name/b"
  rm -f "$tmp/$name/b/.hmcnn-patched"
  (cd "$tmp/$name" && diff -ruN a b > "$here/cpp/patches/$name-inloop-hook.patch") || true
  echo "$name: $(grep -c '^[+-][^+-]' "$here/cpp/patches/$name-inloop-hook.patch") changed lines"
done
