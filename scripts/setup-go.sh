#!/usr/bin/env bash
# Prepares the Go side: downloads the modules of go.mod and installs the pinned grpcurl into
# .tools/bin (used by test/reflection.test.ts). Idempotent: a second run does nothing and prints
# nothing. Then: `go test -json ./sdk/go/...` (the Go test also needs `npm install` for the server).
set -euo pipefail

GRPCURL_VERSION=v1.9.4

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "setup-go: go is not installed (want Go >= 1.25)" >&2; exit 1; }

go mod download

bin="$PWD/.tools/bin"
if ! go version -m "$bin/grpcurl" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/fullstorydev/grpcurl[[:space:]]+${GRPCURL_VERSION}([[:space:]]|$)"; then
  mkdir -p "$bin"
  GOBIN="$bin" go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@${GRPCURL_VERSION}"
  echo "setup-go: installed grpcurl ${GRPCURL_VERSION} into .tools/bin"
fi
