#!/usr/bin/env bash
# Real-data training recipe (CPU, under an hour on 2 cores): a small CLaMP 3 trained from scratch
# to align text with interleaved ABC on the local music21 benchmark, then evaluated on held-out
# tunes (text -> ABC retrieval, MRR against the random baseline).
#
#   scripts/recipes/train_music21.sh [RUN_DIR] [MAX_STEPS]
#
# Needs: the music21 corpus (scripts/benchmark/fetch_corpus.sh), abc2midi, the XLM-R tokenizer
# (scripts/fetch-test-data.sh). Steps:
#   1. clamp3 benchmark build: ~12,700 folk tunes -> interleaved ABC + MTF + four texts each
#   2. every 50th tune is held out (benchmark.eval.jsonl), the rest is training data
#   3. clamp3 train with the small configuration below (symbolic stage, nothing frozen)
#   4. clamp3 eval --jsonl on the held-out tunes with the trained model
set -euo pipefail
cd "$(dirname "$0")/../.."
RUN="${1:-runs/music21-small}"
STEPS="${2:-1200}"
BIN="${CLAMP3:-target/release/clamp3}"
[ -x "$BIN" ] || cargo build --release -p clamp3-cli
mkdir -p "$RUN"

"$BIN" benchmark build --corpus testdata/music21/corpus --out "$RUN/data"
awk 'NR % 50 == 0' "$RUN/data/benchmark.jsonl" > "$RUN/data/benchmark.eval.jsonl"
awk 'NR % 50 != 0' "$RUN/data/benchmark.jsonl" > "$RUN/data/benchmark.train.jsonl"
echo "train: $(wc -l < "$RUN/data/benchmark.train.jsonl") tunes, held out: $(wc -l < "$RUN/data/benchmark.eval.jsonl")"

cat > "$RUN/small.json" <<'JSON'
{
  "text_config": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                  "intermediate_size": 128, "max_position_embeddings": 130},
  "symbolic_config": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                      "intermediate_size": 256, "max_position_embeddings": 128},
  "audio_config": {"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4,
                   "intermediate_size": 128, "max_position_embeddings": 16},
  "projection_dim": 64, "max_text_length": 128, "patch_length": 128, "max_audio_length": 16
}
JSON

cat > "$RUN/train.toml" <<TOML
[model]
config = "small.json"
tokenizer = "../../testdata/xlm-roberta/tokenizer.json"

[data]
train = "data/benchmark.train.jsonl"
eval = "data/benchmark.eval.jsonl"

[stage]
modality = "symbolic"

[optim]
lr = 1e-3
warmup_steps = 100

[train]
batch_size = 64
micro_batch = 64
epochs = 1000
max_steps = $STEPS
eval_every = 200
checkpoint_every = 200
seed = 42
dropout = false                 # a small model from scratch in a short run: no dropout

[output]
dir = "out"
tensorboard = true
TOML
# Relative paths in train.toml are taken from its folder.
sed -i "s#../../testdata#$(realpath testdata)#" "$RUN/train.toml"

/usr/bin/time -v "$BIN" train --config "$RUN/train.toml" 2> >(tee "$RUN/train.log" >&2)
"$BIN" eval --jsonl "$RUN/data/benchmark.eval.jsonl" --text-field analysis --music abc --model "$RUN/out" \
  --out "$RUN/heldout_ranks.jsonl" | tee "$RUN/heldout_eval.txt"
