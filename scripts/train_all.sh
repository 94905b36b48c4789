#!/usr/bin/env bash
# Train the four separators of notebooks 07-10 on the rendered training music and write their weights files.
#
#   python data/build/render_training_set.py          # once: .cache/rendered_music/{train,valid}
#   bash scripts/train_all.sh                         # the four trainings side by side, logs in .cache/logs/
#   bash scripts/train_all.sh export                  # weights files from the best epochs so far (runs may go on)
#
# Every run checkpoints after each epoch under .cache/checkpoints/ and resumes where it stopped when started again
# (same command); checkpoints are chosen on the songs in .cache/rendered_music/valid, never on the test songs.
# The four runs share the CPU (one thread each); on 2 cores they take hours. TRAIN_ROOT overrides the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
ROOT=${TRAIN_ROOT:-.cache/rendered_music}
LOGS=.cache/logs
mkdir -p "$LOGS"

unet=(scripts/train_unet.py --train-root "$ROOT" --alphas 0.5 --init-dir weights --epochs 8 --steps-per-epoch 130
      --checkpoint-dir .cache/checkpoints/train_unet/rendered --threads 1 --no-progress)
mask_cnn=(scripts/train_mask_cnn.py --train-root "$ROOT" --validation-steps 30 --threads 1 --no-progress)
autoencoder=(scripts/train_autoencoder.py --train-root "$ROOT" --normalisations cmvn --steps-per-epoch 500
             --epochs 20 --lr-drop-epoch 5 --patience 6 --threads 1 --no-progress)
open_unmix=(scripts/train_open_unmix.py --train-root "$ROOT" --threads 1 --no-progress)

if [[ "${1:-}" == "export" ]]; then
    "$PY" "${unet[@]}" --export-best
    "$PY" "${mask_cnn[@]}" --export-best
    "$PY" "${open_unmix[@]}" --export-best
    echo "autoencoder: its weights file is written when its run ends (resume with --epochs <epochs done> to end it now)"
    exit 0
fi

for name in unet mask_cnn autoencoder open_unmix; do
    declare -n command="$name"
    nice -n 10 "$PY" "${command[@]}" --resume > "$LOGS/train_$name.log" 2>&1 &
    echo "train_$name: pid $!, log $LOGS/train_$name.log"
done
wait
echo "all four trainings ended; weights files in weights/"
