#!/usr/bin/env bash
# The scaffolded workflow's cold job, outside GitHub: a fresh venv, `uv pip install` of this
# checkout (from PyPI, into an empty or a kept uv cache), then `llmctl lint` and `llmctl eval`
# of the example suite. Usage: benchmarks/cold_ci_job.sh [--keep-cache]   (needs uv on PATH)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
work="${TMPDIR:-/tmp}/llmctl-cold-job"
[ "${1:-}" = "--keep-cache" ] || rm -rf "$work/uvcache"
rm -rf "$work/venv" "$work/proj" && mkdir -p "$work/proj"
git -C "$src" archive HEAD | tar -x -C "$work/proj"
export UV_CACHE_DIR="$work/uvcache"
t0=$(date +%s.%N)
uv venv -q --python python3 "$work/venv"
uv pip install -q --python "$work/venv/bin/python" "$work/proj"
t1=$(date +%s.%N)
(cd "$work/proj" && "$work/venv/bin/llmctl" lint >/dev/null && "$work/venv/bin/llmctl" eval >/dev/null 2>&1)
t2=$(date +%s.%N)
python3 -c "import sys; a,b,c=map(float,sys.argv[1:]); print(f'install {b-a:.1f} s, lint+eval {c-b:.1f} s, total {c-a:.1f} s')" "$t0" "$t1" "$t2"
