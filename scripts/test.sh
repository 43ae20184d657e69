#!/usr/bin/env bash
# Command (2): run the whole test suite, on SQLite and PostgreSQL, with a real Redis broker and
# Celery worker, a real SMTP server and headless Chromium. It installs what is missing (as root)
# and the tests start and stop their own servers on loopback. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_system_packages postgresql redis-server chromium fonts-noto-cjk \
  libpango-1.0-0 libpangoft2-1.0-0 zbar-tools poppler-utils
ensure_python_env "test"
compile_translations

say "Running the test suite${CI:+ (CI: a missing server fails the run instead of skipping)}"
exec "$PY" -m pytest -p no:cacheprovider "$@"
