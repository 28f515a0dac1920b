#!/usr/bin/env bash
# Install the GPT Studio bundle (dist/gpt-studio from `make package`) for one user or system-wide, with its
# menu entry and icons; or remove them again. Running it twice gives the same result (idempotent).
#
#   packaging/install-linux.sh                      # bundle -> ~/.local/opt/gpt-studio, menu entry, icons
#   packaging/install-linux.sh --prefix /usr/local  # system-wide (as root)
#   packaging/install-linux.sh --bundle DIR         # a bundle elsewhere (e.g. unpacked from a release archive)
#   packaging/install-linux.sh --desktop-only       # menu entry and icons for a pip install (gpt-studio on PATH)
#   packaging/install-linux.sh --uninstall [--prefix DIR]
#
# Layout under PREFIX (default ~/.local): opt/gpt-studio/ (the bundle), bin/gpt-studio (a symlink),
# share/applications/gpt-studio.desktop, share/icons/hicolor/{NxN,scalable}/apps/gpt-studio.{png,svg}.
# The target needs glibc >= 2.34 and the libraries in packaging/README.md ("Target systems").
set -euo pipefail

APP=gpt-studio
SIZES="16 24 32 48 64 128 256 512"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${PREFIX:-$HOME/.local}"
BUNDLE="$HERE/../dist/$APP"
ACTION=install
DESKTOP_ONLY=0

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "install-linux.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; PREFIX="$2"; shift 2 ;;
    --bundle) [ $# -ge 2 ] || die "--bundle needs a folder"; BUNDLE="$2"; shift 2 ;;
    --desktop-only) DESKTOP_ONLY=1; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

OPT="$PREFIX/opt/$APP"
BIN="$PREFIX/bin"
APPS="$PREFIX/share/applications"
ICONS="$PREFIX/share/icons/hicolor"

# Icons and the .desktop file come from the bundle being installed (so they match its version); for
# --desktop-only, from the source tree this script sits in.
resources_of() {
  local dir
  for dir in "$1/_internal/gpt_studio/resources" "$1/gpt_studio/resources"; do
    [ -f "$dir/$APP.desktop" ] && { echo "$dir"; return 0; }
  done
  return 1
}

refresh_caches() {  # menus pick changes up without a log-out; absent tools are fine
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$APPS" 2>/dev/null || true
  # Only where a theme index (and so usually a cache) exists, e.g. /usr/share; elsewhere GTK scans the folders.
  if [ -f "$ICONS/index.theme" ] && command -v gtk-update-icon-cache >/dev/null; then
    gtk-update-icon-cache -q "$ICONS" 2>/dev/null || true
  fi
}

install_bundle() {  # copy beside the target, then swap, so a failed copy never leaves half an app
  [ -x "$BUNDLE/$APP" ] || die "no bundle at $BUNDLE (run 'make package' first, or pass --bundle DIR)"
  mkdir -p "$PREFIX/opt" "$BIN"
  local staging="$PREFIX/opt/.$APP.new" old="$PREFIX/opt/.$APP.old"
  rm -rf "$staging" "$old"
  cp -a "$BUNDLE" "$staging"
  [ -e "$OPT" ] && mv "$OPT" "$old"
  mv "$staging" "$OPT"
  rm -rf "$old"
  ln -sfn "$OPT/$APP" "$BIN/$APP"
}

exec_quote() {  # a path as one Exec argument (desktop entry spec: double quotes, \ before " ` $ \)
  case "$1" in
    *[[:space:]\"\`\$\\]*) printf '"%s"' "$(printf '%s' "$1" | sed 's/[\"`$\\]/\\&/g')" ;;
    *) printf '%s' "$1" ;;
  esac
}

install_desktop_entry() {  # $1: resources folder, $2: the command for Exec/TryExec
  local res="$1" command="$2" tmp
  mkdir -p "$APPS"
  tmp="$(mktemp "$APPS/.$APP.desktop.XXXXXX")"
  # An absolute Exec: a desktop session's PATH often lacks ~/.local/bin. awk, not sed: paths may hold | or &.
  awk -v exec="$(exec_quote "$command")" -v try="$command" -v app="$APP" '
    index($0, "Exec=" app " ") == 1 { print "Exec=" exec substr($0, length("Exec=" app) + 1); next }
    $0 == "TryExec=" app { print "TryExec=" try; next }
    { print }' "$res/$APP.desktop" > "$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$APPS/$APP.desktop"
}

install_icons() {  # $1: resources folder
  local res="$1" size
  for size in $SIZES; do
    install -D -m 644 "$res/icons/hicolor/${size}x${size}/apps/$APP.png" "$ICONS/${size}x${size}/apps/$APP.png"
  done
  install -D -m 644 "$res/$APP.svg" "$ICONS/scalable/apps/$APP.svg"
}

do_install() {
  local res command
  if [ "$DESKTOP_ONLY" = 1 ]; then
    res="$HERE/../gpt_studio/resources"
    command="$(command -v "$APP" || true)"
    [ -n "$command" ] || die "gpt-studio is not on PATH; install it (pip install ...) or drop --desktop-only"
  else
    install_bundle
    res="$(resources_of "$OPT")" || res="$HERE/../gpt_studio/resources"
    command="$OPT/$APP"
  fi
  [ -f "$res/$APP.desktop" ] || die "icons and .desktop file not found in $res"
  install_desktop_entry "$res" "$command"
  install_icons "$res"
  refresh_caches
  echo "Installed GPT Studio: $command (menu entry $APPS/$APP.desktop)"
}

do_uninstall() {
  local size
  rm -f "$APPS/$APP.desktop" "$ICONS/scalable/apps/$APP.svg"
  for size in $SIZES; do rm -f "$ICONS/${size}x${size}/apps/$APP.png"; done
  # Only our own symlink: a bin/gpt-studio from pip stays.
  if [ -L "$BIN/$APP" ] && [ "$(readlink "$BIN/$APP")" = "$OPT/$APP" ]; then rm -f "$BIN/$APP"; fi
  rm -rf "$OPT" "$PREFIX/opt/.$APP.new" "$PREFIX/opt/.$APP.old"
  refresh_caches
  echo "Removed GPT Studio from $PREFIX (projects and settings are kept)"
}

if [ "$ACTION" = uninstall ]; then do_uninstall; else do_install; fi
