#!/usr/bin/env bash
# The whole suite, as `make test` runs it: migration check, unit tests on SQLite, then the integration
# tests against PostgreSQL, Redis and a real Celery worker (skipped with a reason where those are absent,
# never skipped under CI=true), one of them the production form started from a venv of requirements.txt alone.
# Prints one total line at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
RUNTIME_VENV=.venv-runtime
mkdir -p var/test-reports
what="${1:-all}"

ensure_chromium() {
  # Browser tests drive Debian's Chromium; install it when missing and we may (root), else they skip.
  command -v chromium >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's chromium for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >var/chromium-install.log 2>&1 \
      || echo "   could not install chromium (see var/chromium-install.log); browser tests will say so"
  fi
}

ensure_runtime_venv() {
  # The production form's own venv, from requirements.txt alone (tests/integration/test_production_form.py):
  # a runtime need that only the dev tools happen to bring fails there. Built anew, never updated in place,
  # when requirements.txt or the Python changes, so a package left by an earlier list hides nothing.
  local key stamp
  key=$({ cat requirements.txt; $PY -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)
  stamp="$RUNTIME_VENV/.installed-$key"
  if [ ! -e "$stamp" ]; then
    echo "== a venv of requirements.txt alone for the production form ($RUNTIME_VENV; a minute the first time)"
    rm -rf "$RUNTIME_VENV"
    if ! { $PY -m venv "$RUNTIME_VENV" \
      && "$RUNTIME_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt; } \
      >var/runtime-venv.log 2>&1; then
      echo "   requirements.txt does not install on its own (var/runtime-venv.log):"
      tail -n 20 var/runtime-venv.log
      return 1
    fi
    touch "$stamp"
  fi
  export CX_RUNTIME_PYTHON="$PWD/$RUNTIME_VENV/bin/python"
}

status=0
if [ "$what" = all ]; then
  rm -f var/test-reports/*.xml
  ensure_chromium
  echo "== migrations are up to date"
  DJANGO_SETTINGS_MODULE=cxconsole.settings_test $PY manage.py makemigrations --check --dry-run >/dev/null \
    || { echo "Model changes without a migration: run manage.py makemigrations"; status=1; }

  echo "== unit tests (SQLite, eager tasks, the API stand-in over HTTP)"
  $PY -m pytest tests --ignore=tests/integration --junitxml=var/test-reports/unit.xml -q || status=1
fi

rm -f var/test-reports/integration.xml
ensure_runtime_venv || status=1
echo "== integration tests (PostgreSQL, Redis, a real Celery worker)"
DATABASE_URL="${CX_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}" \
CELERY_BROKER_URL="${CX_TEST_BROKER_URL:-redis://127.0.0.1:6379/15}" \
CACHE_URL="${CX_TEST_CACHE_URL:-redis://127.0.0.1:6379/14}" \
CX_RUNTIME_BROKER_URL="${CX_TEST_RUNTIME_BROKER_URL:-redis://127.0.0.1:6379/11}" \
DJANGO_SECRET_KEY="integration-tests-only" \
DJANGO_SETTINGS_MODULE=cxconsole.settings \
  $PY -m pytest tests/integration --ds=cxconsole.settings --junitxml=var/test-reports/integration.xml -q \
  || status=1

$PY scripts/test_totals.py var/test-reports/*.xml || status=1
exit $status
