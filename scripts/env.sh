# shellcheck shell=bash
# Source me:  . scripts/env.sh   (from any directory)
#
# Puts the project's virtualenv and tool binaries first on PATH and names the
# local base image. Safe to source more than once (no duplicate PATH entries).
# No `set -e` here: this runs inside the caller's shell.

if [ -n "${BASH_VERSION:-}" ]; then
    _bayat_env_src="${BASH_SOURCE[0]}"
elif [ -n "${ZSH_VERSION:-}" ]; then
    eval '_bayat_env_src="${(%):-%x}"'
else
    _bayat_env_src="$0"
fi

_bayat_repo="$(cd "$(dirname "$_bayat_env_src")/.." && pwd -P)"

_bayat_path=":${PATH:-}:"
for _bayat_dir in "$_bayat_repo/.venv/bin" "$_bayat_repo/.tools/bin"; do
    while case "$_bayat_path" in *":$_bayat_dir:"*) true ;; *) false ;; esac; do
        _bayat_path="${_bayat_path/":$_bayat_dir:"/:}"
    done
done
_bayat_path="${_bayat_path#:}"
_bayat_path="${_bayat_path%:}"
export PATH="$_bayat_repo/.venv/bin:$_bayat_repo/.tools/bin${_bayat_path:+:$_bayat_path}"

export BAYAT_BASE_IMAGE="${BAYAT_BASE_IMAGE:-bayat/python-base:bookworm}"

unset _bayat_env_src _bayat_repo _bayat_path _bayat_dir
