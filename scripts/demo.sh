#!/usr/bin/env bash
# The main job: a small real design-space study end to end on Fashion-MNIST.
# Sets up what is missing (as scripts/test.sh does), samples two spaces, trains every model on a seeded
# subset, then prints the EDF comparison, a bootstrap table and the refinement proposals, and writes
# report.html. About 3 minutes on 2 CPU cores; uses a GPU automatically when there is one.
#
# Scale it with environment variables:
#   DSE_DEMO_SPACES       the two (or more) spaces to compare      (default: "anynet_a anynet_e")
#   DSE_DEMO_N            models per space                         (default: 12)
#   DSE_DEMO_EPOCHS       epochs per model                         (default: 2; the paper: 10)
#   DSE_DEMO_TRAIN_SIZE   training images, 0 = all 60,000          (default: 5000)
#   DSE_DEMO_TEST_SIZE    test images, 0 = all 10,000              (default: 2000)
#   DSE_DEMO_FLOPS        complexity window at 28 px               (default: 2M:8M)
#   DSE_DEMO_DIR          where the store, pictures and report go  (default: ./dse-demo)
#   DSE_DEMO_DATA_DIR     a folder with the Fashion-MNIST IDX files (default: Debian's, else tests/data)
#   DSE_DEMO_QUICK=1      a one-minute smoke run (4 models per space, 1 epoch on 1,000 images)
set -euo pipefail
source "$(dirname "$0")/_env.sh"

spaces=(${DSE_DEMO_SPACES:-anynet_a anynet_e})
n="${DSE_DEMO_N:-12}"; epochs="${DSE_DEMO_EPOCHS:-2}"
train="${DSE_DEMO_TRAIN_SIZE:-5000}"; test="${DSE_DEMO_TEST_SIZE:-2000}"
if [ "${DSE_DEMO_QUICK:-0}" = 1 ]; then n=4; epochs=1; train=1000; test=300; fi
flops="${DSE_DEMO_FLOPS:-2M:8M}"
dir="${DSE_DEMO_DIR:-$PWD/dse-demo}"
mkdir -p "$dir"
export DSE_DB="$dir/dse.sqlite"

# Fashion-MNIST: Debian's package if present (installed here when we may), else the subset shipped in tests/
data_args=()
fm="${DSE_DEMO_DATA_DIR:-/usr/share/datasets/fashion-mnist}"
[ -z "${DSE_DEMO_DATA_DIR:-}" ] || data_args=(--data-dir "$fm")
if [ ! -e "$fm/train-images-idx3-ubyte.gz" ] && [ -z "${DSE_DEMO_DATA_DIR:-}" ] && [ "$(id -u)" = 0 ] \
    && command -v apt-get >/dev/null 2>&1; then
  echo "[demo] installing Debian's dataset-fashion-mnist" >&2
  (apt-get install -y -qq dataset-fashion-mnist || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)) \
    >/dev/null 2>&1 || true
fi
if [ ! -e "$fm/train-images-idx3-ubyte.gz" ]; then
  echo "[demo] Fashion-MNIST not installed: using the 3,600-image subset in tests/data" >&2
  data_args=(--data-dir "$DSE_ROOT/tests/data/fashion-mnist")
  [ "$train" = 0 ] || [ "$train" -gt 3000 ] && train=3000
  [ "$test" = 0 ] || [ "$test" -gt 600 ] && test=600
fi
# SR and denoising's offline photographs (docs/lowlevel.md): Debian's mate-backgrounds, scikit-image's bundled ones
if [ ! -d /usr/share/backgrounds/mate/nature ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[demo] installing Debian's mate-backgrounds (photographs for super-resolution)" >&2
  (apt-get install -y -qq mate-backgrounds || (apt-get update -qq && apt-get install -y -qq mate-backgrounds)) \
    >/dev/null 2>&1 || true
fi
python -c "import skimage" 2>/dev/null || python -m pip --disable-pip-version-check -q install "scikit-image>=0.21" \
  >/dev/null 2>&1 || echo "[demo] scikit-image not installed (SR validation photographs)" >&2
size_args=()
[ "$train" = 0 ] || size_args+=(--train-size "$train")
[ "$test" = 0 ] || size_args+=(--test-size "$test")

regime=(--flops "$flops" --resolution 28 --stem cifar --in-channels 1 --num-classes 10)
for s in "${spaces[@]}"; do
  echo "== dse sample --space $s -n $n ${regime[*]}"
  dse sample --space "$s" -n "$n" "${regime[@]}"
done
echo
echo "== dse train --budget ${epochs}ep ${size_args[*]}"
dse train --budget "${epochs}ep" "${data_args[@]}" "${size_args[@]}" --plain
echo
echo "== dse edf --compare ${spaces[*]}"
dse edf --compare "${spaces[@]}" --plot "$dir/edf.png"
echo
echo "== dse bootstrap --param depth --param w4 --param flops"
dse bootstrap --param depth --param w4 --param flops --n-boot 10000 --plot "$dir/bootstrap.png"
echo
support=$(( n / 3 > 2 ? n / 3 : 2 ))
echo "== dse refine --sweep ${spaces[0]} --min-support $support"
dse refine --sweep "${spaces[0]}" --min-support "$support" --out "$dir/${spaces[0]}_refined.toml"
echo
dse report -o "$dir/report.html"
echo
echo "store: $DSE_DB"
echo "open $dir/report.html in a browser; next: dse sample --space $dir/${spaces[0]}_refined.toml -n $n ${regime[*]}"
