#!/usr/bin/env bash
# Builds FerretDB v1.24.0 (MongoDB wire protocol over SQLite or PostgreSQL) for the persistence
# tests, and installs Debian's PostgreSQL 15 for its second backend (test/support/mongo.ts starts a
# private cluster per test process; nothing here starts or configures a system cluster).
# Source comes from the Go module proxy; the binary lands in .tools/bin/ferretdb (gitignored).
# Skips what is done. Set FERRETDB_FORCE=1 to rebuild.
set -euo pipefail

VERSION="v1.24.0"
MODULE="github.com/FerretDB/FerretDB"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/.tools/bin/ferretdb"
PG_BIN=/usr/lib/postgresql/15/bin

if [[ ! -x "${PG_BIN}/initdb" || ! -x "${PG_BIN}/postgres" || ! -x "${PG_BIN}/psql" ]]; then
  echo "ferretdb: installing postgresql-15 (FerretDB's PostgreSQL backend)"
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  # Serialize with other setup runs; apt has its own lock but fails instead of waiting.
  mkdir -p "${ROOT}/.tools"
  (
    if command -v flock >/dev/null 2>&1; then
      exec 8>"${ROOT}/.tools/postgresql.lock"
      flock 8
    fi
    if [[ ! -x "${PG_BIN}/initdb" ]]; then
      "${sudo_cmd[@]}" apt-get update -qq
      # The package's own cluster (15/main) is not used; the tests run private ones.
      DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq postgresql-15 postgresql-client-15 >/dev/null
    fi
  )
  if [[ ! -x "${PG_BIN}/initdb" ]]; then
    echo "ferretdb: postgresql-15 did not install ${PG_BIN}/initdb" >&2
    exit 1
  fi
fi
if [[ "$(id -u)" = 0 ]] && ! id postgres >/dev/null 2>&1; then
  echo "ferretdb: running as root but there is no postgres user (initdb refuses root)" >&2
  exit 1
fi

if [[ -x "${BIN}" && "${FERRETDB_FORCE:-0}" != "1" ]]; then
  echo "ferretdb: ${BIN} already built"
  exit 0
fi

# Test files start in parallel: one build at a time, the others wait for it and reuse the binary.
mkdir -p "$(dirname "${BIN}")"
if command -v flock >/dev/null 2>&1; then
  exec 9>"${ROOT}/.tools/ferretdb.lock"
  flock 9
  if [[ -x "${BIN}" && "${FERRETDB_FORCE:-0}" != "1" ]]; then
    echo "ferretdb: ${BIN} built meanwhile"
    exit 0
  fi
fi

GO="${GO:-}"
if [[ -z "${GO}" ]]; then
  if [[ -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
  else
    GO="$(command -v go || true)"
  fi
fi
if [[ -z "${GO}" ]]; then
  echo "ferretdb: Go >= 1.22 is needed to build FerretDB (looked in /usr/local/go/bin and PATH)" >&2
  exit 1
fi

# Build outside any go.mod/go.work of this repository.
export GOWORK=off
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

echo "ferretdb: downloading ${MODULE}@${VERSION} with $("${GO}" version)"
MODDIR="$(cd "${ROOT}" && "${GO}" mod download -json "${MODULE}@${VERSION}" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [[ -z "${MODDIR}" || ! -d "${MODDIR}" ]]; then
  echo "ferretdb: go mod download did not give a module directory" >&2
  exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ferretdb-build.XXXXXX")"
trap 'chmod -R u+w "${WORK}" 2>/dev/null || true; rm -rf "${WORK}"' EXIT
# The module cache is read-only: copy it to a writable place.
cp -R "${MODDIR}" "${WORK}/src"
chmod -R u+w "${WORK}/src"
# Without this file the binary panics at start (FerretDB issue 2982).
printf '%s\n' "${VERSION}" >"${WORK}/src/build/version/version.txt"

echo "ferretdb: building (a few minutes on a fresh machine)"
(cd "${WORK}/src" && CGO_ENABLED=0 "${GO}" build -trimpath -o "${BIN}.tmp.$$" ./cmd/ferretdb)
mv "${BIN}.tmp.$$" "${BIN}"
"${BIN}" --version | head -n 3 || true
echo "ferretdb: built ${BIN}"
