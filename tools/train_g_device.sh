#!/bin/bash
# G on a lent GPU machine: build the caches once, then the main run and the two ablations
# (--no-prior, --no-ssim-loss) side by side on the one GPU (16 CPU cores feed 3 x 4 loader workers).
#
# usage: bash tools/train_g_device.sh MINUTES [DEVICE]       (outputs under $OUT)
#   env: RUNS="full no_prior no_ssim"  BATCH=16  WORKERS=4  EXTRA="more train flags"  PY=python3
#
# The machine sees only the repository tree (64 MiB with the repo's own ~40 MB, counted in
# disk blocks, so many small files cost more than their bytes), never ../shared. Prepare:
#   python tools/pack_device_data.py --train-faces 1000 --asset-side 96 --out /tmp/pack/data
#   tar -C /tmp/pack -cf .device/data.tar data          # one file: no per-file block overhead
#   pip download --no-deps ... -d .device/whl kornia==0.9.0   # kornia_rs is stubbed below
# then run it with carry [".device"] (.device/ is git-ignored). Checked end to end on the CPU
# (PY=.venv/bin/python ... cpu); on the H200 the caches were ready after 50 s.
set -u
cd "$(dirname "$0")/.."  # the repo root
MIN=${1:-6.5}; DEV=${2:-cuda}; PY=${PY:-python3}; OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
if ! $PY -c "import kornia" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .device/whl/*.whl || exit 1
  mkdir -p /tmp/site/kornia_rs && touch /tmp/site/kornia_rs/__init__.py /tmp/site/kornia_rs/io.py  # kornia.io only
fi
export PYTHONPATH=$PWD/src:/tmp/site PYTHONUNBUFFERED=1 DEOCCLUDE_DATA=/tmp/data DEOCCLUDE_CACHE=${DEOCCLUDE_CACHE:-/tmp/cache}
[ -d /tmp/data ] || tar -C /tmp -xf .device/data.tar
nvidia-smi -L 2>/dev/null; nproc
COMMON="--device $DEV --amp false --batch-size ${BATCH:-16} --num-workers ${WORKERS:-4} --val-limit 64 --val-every-minutes 2.5
 --checkpoint-every-minutes 2 --log-every-steps 50 --generator.widths 16 32 64 128 ${EXTRA:-}"
start=$(date +%s)
$PY -m deocclude train inpaint --out /tmp/runs/warm --max-steps 1 $COMMON > /tmp/warm.log 2>&1 || { tail -40 /tmp/warm.log; exit 1; }
echo "caches ready after $(( $(date +%s) - start )) s"
for run in ${RUNS:-full no_prior no_ssim}; do
  flags=""; [ $run = no_prior ] && flags="--no-prior"; [ $run = no_ssim ] && flags="--no-ssim-loss"
  $PY -m deocclude train inpaint --out /tmp/runs/$run --max-minutes $MIN $flags $COMMON > /tmp/$run.log 2>&1 &
done
wait
echo "trained after $(( $(date +%s) - start )) s"
for run in ${RUNS:-full no_prior no_ssim}; do
  echo "== $run"; grep -v "━" /tmp/$run.log | tail -6
  cp /tmp/runs/$run/final/weights.safetensors "$OUT/g_$run.safetensors"
done
tar -C /tmp/runs -cf "$OUT/runs.tar" --exclude checkpoint --exclude final warm ${RUNS:-full no_prior no_ssim}
cp "$(ls /tmp/runs/full/grids/*.png | tail -1)" "$OUT/full_grid.png"
