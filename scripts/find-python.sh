#!/usr/bin/env sh
# Prints an interpreter for the project: Python 3.12 (the Lambda runtime) when one can be
# found, on PATH or under pyenv, else python3 if it is 3.11 or newer. Exits 1 otherwise.
for candidate in "${PYTHON:-}" python3.12 "$(pyenv root 2>/dev/null)/versions/3.12"*/bin/python3.12 python3.13 python3; do
  [ -n "$candidate" ] || continue
  if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; then
    command -v "$candidate" 2>/dev/null || echo "$candidate"
    exit 0
  fi
done
echo "No Python 3.11+ found (3.12 preferred: it is the Lambda runtime)." >&2
exit 1
