#!/usr/bin/env bash
# Checks that setup (npm install, tool and code generation) leaves the work tree as committed:
# nothing that `git status --porcelain` would show, untracked files included.
#   scripts/check-clean-tree.sh               # the tree must be clean (a fresh clone, CI)
#   scripts/check-clean-tree.sh --save FILE   # before setup: note the changes already there
#   scripts/check-clean-tree.sh --since FILE  # after setup: fail only on changes made since --save
# FILE is a path from the repository's top. The second form suits a working copy with edits of
# its own: a changed file counts as new when its content differs from what --save saw.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# One line per changed path: git's two status letters, a hash of its content, the path. The
# saved list itself ($1) is left out, wherever it is kept.
changes() {
  git status --porcelain=v1 -z --no-renames --untracked-files=all | while IFS= read -r -d '' entry; do
    local path="${entry:3}" hash=-
    [ "$path" = "$1" ] && continue
    [ -f "$path" ] && hash=$(git hash-object --no-filters -- "$path")
    printf '%s %s %s\n' "${entry:0:2}" "$hash" "$path"
  done
}

case "${1:-}" in
  --save)
    [ -n "${2:-}" ] || { echo "usage: $0 --save FILE" >&2; exit 2; }
    mkdir -p "$(dirname "$2")"
    changes "$2" >"$2"
    ;;
  --since)
    [ -n "${2:-}" ] && [ -f "$2" ] || { echo "usage: $0 --since FILE (saved with --save)" >&2; exit 2; }
    new=$(changes "$2" | grep -vxF -f "$2" || true)
    if [ -n "$new" ]; then
      echo "setup changed the work tree (status, content hash, path):"
      echo "$new"
      exit 1
    fi
    echo "setup left the work tree as it found it"
    ;;
  "")
    dirty=$(git status --porcelain --untracked-files=all)
    if [ -n "$dirty" ]; then
      echo "the work tree is not clean after setup (commit what setup writes, or ignore it):"
      echo "$dirty"
      exit 1
    fi
    echo "the work tree is clean"
    ;;
  *)
    echo "usage: $0 [--save FILE | --since FILE]" >&2
    exit 2
    ;;
esac
