#!/bin/sh
# Runs check_layers.py on tests/data/layering, a tree and a targets file with one
# violation of each kind, and on a program that loads OpenCV, BLAS and FFTW: the check
# must fail and report each line of tests/data/layering/expected.txt.
#   selftest.sh PYTHON SOURCE_DIR HEAVY_PROGRAM
set -u
python=$1 source_dir=$2 heavy=$3
fixture=$source_dir/tests/data/layering
output=$("$python" "$source_dir/tests/layering/check_layers.py" --source-dir "$fixture" \
  --table "$source_dir/tests/layering/layers.txt" --targets "$fixture/targets.txt" \
  --check-closure ridectl --check-ldd "$heavy")
status=$?
printf '%s\n' "$output"
failed=0
if [ "$status" -ne 1 ]; then
  echo "selftest: check_layers.py exited $status, expected 1"
  failed=1
fi
while IFS= read -r line; do
  case $line in '#'* | '') continue ;; esac
  if ! printf '%s\n' "$output" | grep -qF -- "$line"; then
    echo "selftest: not reported: $line"
    failed=1
  fi
done < "$fixture/expected.txt"
exit $failed
