#!/usr/bin/env bash
# System packages and code generators: bubblewrap (local sandbox), protoc and grpc_python_plugin
# (Python gencode), and the pinned Go protoc plugins in .tools/bin. Idempotent and quiet when done.
# The local sandbox also uses util-linux (prlimit, nsenter, unshare), mount (mount, umount, loop
# devices) and e2fsprogs (mkfs.ext4) for its size-limited workspace images; the seccomp test reads
# the kernel's system call tables from linux-libc-dev. openssl makes the TLS tests' certificate.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(bubblewrap util-linux mount e2fsprogs linux-libc-dev protobuf-compiler protobuf-compiler-grpc openssl)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup-system: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Go protoc plugins, pinned: their versions are written into gen/go headers.
export PATH="/usr/local/go/bin:$PATH"
bin="$PWD/.tools/bin"
install_plugin() { # module@version binary
  local want="${1##*@}" name="$2"
  if ! go version -m "$bin/$name" 2>/dev/null | grep -q "[[:space:]]${want}\([[:space:]]\|$\)"; then
    mkdir -p "$bin"
    GOBIN="$bin" GOFLAGS=-buildvcs=false go install "$1"
    echo "setup-system: installed $name $want"
  fi
}
install_plugin google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11 protoc-gen-go
install_plugin google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0 protoc-gen-go-grpc
install_plugin connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.19.1 protoc-gen-connect-go
