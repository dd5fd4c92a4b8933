#!/usr/bin/env bash
# Prepare a checkout: virtualenv, dependencies, .env with fresh secrets. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.requirements.sha256
wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$wanted" > "$stamp"
fi
.venv/bin/python scripts/ensure_env.py .env
mkdir -p var

# FFmpeg for the media pipeline (posters, durations, web renditions), from Debian's package when missing: it
# brings ffprobe and the decoders of what people upload (HEVC, ProRes, WMV...). Without it the portal still runs,
# with processing off (`manage.py check` says so).
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  echo "Installing FFmpeg from Debian's packages..."
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ffmpeg >/dev/null; } ||
    echo "FFmpeg could not be installed: media processing stays off until it is (apt-get install ffmpeg)." >&2
fi
