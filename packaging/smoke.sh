#!/usr/bin/env bash
# Run a built bundle's self-check and report what a release note needs: bundle size, smoke result, wall time.
#
#   packaging/smoke.sh [BUNDLE_DIR]     (default dist/gpt-studio; `make package-test` runs it after the build)
#
# The smoke opens the main window on the offline sample project (offscreen when there is no display), waits
# for torch to load and exits 0; see `gpt-studio --smoke` in gpt_studio/ui/app.py. Exit status: the smoke's.
set -euo pipefail

BUNDLE="${1:-dist/gpt-studio}"
TIMEOUT_S="${SMOKE_TIMEOUT_S:-300}"  # a first start reads ~1 GB of libraries from disk
EXE="$BUNDLE/gpt-studio"
[ -x "$EXE" ] || { echo "smoke.sh: no bundle at $BUNDLE (run 'make package')" >&2; exit 1; }

if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"; fi

echo "bundle: $BUNDLE, $(du -sh "$BUNDLE" | cut -f1) ($(du -sb "$BUNDLE" | cut -f1) bytes), $(find "$BUNDLE" -type f | wc -l) files"
start_ms=$(( $(date +%s%N) / 1000000 ))
status=0
out="$(timeout "$TIMEOUT_S" "$EXE" --smoke)" || status=$?
wall_ms=$(( $(date +%s%N) / 1000000 - start_ms ))
printf 'smoke: exit %d in %d.%01d s\n' "$status" $(( wall_ms / 1000 )) $(( wall_ms % 1000 / 100 ))
echo "$out" | tail -n 1
exit "$status"
