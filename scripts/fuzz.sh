#!/usr/bin/env bash
# Runs every fuzz target in the module (each `func FuzzX(f *testing.F)` in a
# _test.go file) for FUZZTIME each, default 10s: `go test -fuzz` takes one
# target per run. It goes on after a failure and exits non-zero at the end if
# any target failed. A failing input is written to the package's
# testdata/fuzz/<target>/; commit it with the fix and every later `go test`
# replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}

targets=()
while IFS= read -r file; do
  dir=$(dirname "$file")
  for name in $(grep -oE '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/'); do
    targets+=("$dir $name")
  done
done < <({ git ls-files -co --exclude-standard '*_test.go' 2>/dev/null || find . -name '*_test.go'; } |
  xargs -r grep -lE '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' | sort)

if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
for target in "${targets[@]}"; do
  read -r dir name <<<"$target"
  echo "fuzz: $name in ./$dir for $fuzztime"
  if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "./$dir" 2>&1 | tee "$log"; then
    continue
  fi
  # Go 1.26's fuzzing coordinator can report its own -fuzztime deadline as
  # a failure, "context deadline exceeded" with no failing input
  # (go.dev/issue/75804, fixed in Go 1.27). A real failure names its input
  # (a new file under testdata/fuzz/) or a failing seed (FuzzX/seed#N).
  if grep -q 'context deadline exceeded' "$log" && ! grep -qE 'Failing input written to|--- FAIL: [^ ]+/' "$log"; then
    echo "fuzz: $name: ignoring the end-of-run deadline report of go.dev/issue/75804; no failing input"
    continue
  fi
  failed+=("$name (./$dir)")
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}; the failing inputs are under testdata/fuzz/ in those packages" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets passed, $fuzztime each"
