#!/usr/bin/env bash
# Command (1): install what is needed, migrate, seed the demo if the database is empty, and
# serve eventapp on http://127.0.0.1:5000 under gunicorn. Safe to run again: it only does what
# is not done yet.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# Pango renders PDFs (WeasyPrint); Noto CJK draws Chinese in PDFs and posters.
ensure_system_packages libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk
ensure_python_env ""
compile_translations

say "Migrating the database"
"$VENV/bin/eventapp" db upgrade
say "Seeding the demo event (only into an empty database)"
"$VENV/bin/eventapp" seed-demo --if-empty

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
say "eventapp is starting on http://$HOST:$PORT  (Ctrl-C stops it)"
exec "$VENV/bin/gunicorn" --bind "$HOST:$PORT" --workers "${WEB_WORKERS:-$(nproc)}" \
  --access-logfile - --log-level warning "eventapp.wsgi:app"
