#!/usr/bin/env bash
# Fetch the codec sources (x265 3.5, libde265 1.0.11) into third_party/ and apply
# our patches from cpp/patches/.
#
# Sources come from Debian *source packages* by name (apt-get source). The system's
# apt configuration is never edited: a private sources dir + list dir mirror the
# configured binary repositories as deb-src for this one fetch.
# Only the upstream orig tarball is used (Debian's own patches are not needed); its
# sha256 is pinned in third_party/codecs.sha256, whatever Debian revision serves it.
#
# A user's own checkouts may be used instead:
#   X265_SOURCE_DIR=/path/to/x265  LIBDE265_SOURCE_DIR=/path/to/libde265  bash cpp/fetch_codecs.sh
# They are copied into third_party/ and patched there; the originals are not touched.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tp="$here/third_party"
patches="$here/cpp/patches"
mkdir -p "$tp"

log() { printf '[fetch_codecs] %s\n' "$*" >&2; }

# name, wanted apt version (empty = any), orig tarball, dir inside tarball pattern
fetch_one() {
  local pkg=$1 pin=$2 orig=$3 dest=$4 userdir=$5
  # the stamp names the patches (and user checkout) applied: a changed patch re-patches
  local stamp
  stamp="$(cat "$patches/$dest"-*.patch 2>/dev/null | sha256sum | cut -d' ' -f1) ${userdir:-$orig}"
  if [ -f "$tp/$dest/.hmcnn-patched" ] && [ "$(cat "$tp/$dest/.hmcnn-patched")" = "$stamp" ]; then
    log "$dest: already fetched and patched"
    return
  fi
  rm -rf "$tp/$dest"
  if [ -n "$userdir" ]; then
    [ -d "$userdir" ] || { log "ERROR: $userdir does not exist"; exit 1; }
    log "$dest: copying user checkout $userdir"
    cp -a "$userdir" "$tp/$dest"
  else
    local dl="$tp/.download"
    mkdir -p "$dl"
    if [ ! -f "$dl/$orig" ] || ! (cd "$dl" && grep " $orig\$" "$tp/codecs.sha256" | sha256sum -c --status); then
      apt_private_update
      log "$pkg: apt-get source --download-only"
      (cd "$dl" && { apt-get "${APT_OPTS[@]}" source --download-only "$pkg${pin:+=$pin}" >&2 \
                  || apt-get "${APT_OPTS[@]}" source --download-only "$pkg" >&2; })
    fi
    (cd "$dl" && grep " $orig\$" "$tp/codecs.sha256" | sha256sum -c -) >&2 \
      || { log "ERROR: sha256 of $orig does not match third_party/codecs.sha256"; exit 1; }
    mkdir -p "$tp/$dest.tmp"
    tar -xzf "$dl/$orig" -C "$tp/$dest.tmp"
    # the tarball holds one top-level directory
    mv "$tp/$dest.tmp"/* "$tp/$dest"
    rmdir "$tp/$dest.tmp"
  fi
  for p in "$patches/$dest"-*.patch; do
    [ -e "$p" ] || continue
    log "$dest: applying $(basename "$p")"
    patch -d "$tp/$dest" -p1 --forward --quiet < "$p"
  done
  echo "$stamp" > "$tp/$dest/.hmcnn-patched"
}

APT_READY=0
apt_private_update() {
  [ "$APT_READY" = 1 ] && return
  local priv="$tp/.apt"
  mkdir -p "$priv/sources" "$priv/lists/partial"
  # mirror every configured deb822 / one-line repository as deb-src
  : > "$priv/sources/src.sources"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] && sed 's/^Types:.*/Types: deb-src/' "$f" >> "$priv/sources/src.sources" && echo >> "$priv/sources/src.sources"
  done
  : > "$priv/sources/src.list"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] && grep -E '^deb ' "$f" | sed 's/^deb /deb-src /' >> "$priv/sources/src.list" || true
  done
  APT_OPTS=(-o "Dir::Etc::SourceList=$priv/sources/src.list"
            -o "Dir::Etc::SourceParts=$priv/sources"
            -o "Dir::State::Lists=$priv/lists"
            -o "APT::Sandbox::User=root")
  log "apt-get update (private deb-src lists in third_party/.apt)"
  apt-get "${APT_OPTS[@]}" update >&2
  APT_READY=1
}
APT_OPTS=()

fetch_one x265     "3.5-2"              x265_3.5.orig.tar.gz         x265     "${X265_SOURCE_DIR:-}"
fetch_one libde265 "1.0.11-1+deb12u2"   libde265_1.0.11.orig.tar.gz  libde265 "${LIBDE265_SOURCE_DIR:-}"
log "done: $tp/x265 $tp/libde265"
