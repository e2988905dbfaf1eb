#!/usr/bin/env bash
# The documentation the evaluation sets ask about: Debian's python3-doc (the Python 3 manual
# as HTML) and postgresql-doc-15 (the PostgreSQL 15 manual). Installs them when missing (as
# root, through apt-get) and prints where they are, one folder a line.
set -euo pipefail

python_docs() {  # python3.X/html (python3.X-doc/html and others link to it)
  for folder in /usr/share/doc/python3.*/html; do
    [ -f "$folder/library/functions.html" ] && readlink -f "$folder" && return
  done
  return 0
}
postgres_docs() { ls -d /usr/share/doc/postgresql-doc-15/html 2>/dev/null | head -n 1; }

if [ -z "$(python_docs)" ] || [ -z "$(postgres_docs)" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the Debian documentation is missing: run this script as root to install it" >&2
    exit 1
  fi
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-doc postgresql-doc-15 >/dev/null
fi
python_docs
postgres_docs
