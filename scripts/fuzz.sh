#!/usr/bin/env bash
# Runs every fuzz target in the module (each `func FuzzX(f *testing.F)` in a
# _test.go file) for FUZZTIME each, default 10s. `go test -fuzz` takes one
# target per run and links a fresh instrumented test binary each time, so
# each package's binary is built once (`go test -c -fuzz=.`) and its
# targets run from it, one after another, in the package's directory, with
# the go command's own fuzz cache. It goes on after a failure and exits
# non-zero at the end if any target failed. A failing input is written to
# the package's testdata/fuzz/<target>/; commit it with the fix and every
# later `go test` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fuzztime=${FUZZTIME:-10s}
module=$(go list -m)
cache=$(go env GOCACHE)/fuzz

dirs=()
while IFS= read -r dir; do
  dirs+=("$dir")
done < <({ git ls-files -co --exclude-standard '*_test.go' 2>/dev/null || find . -name '*_test.go'; } |
  xargs -r grep -lE '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' | xargs -r -n1 dirname | sort -u)

if [ ${#dirs[@]} -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/log
failed=()
count=0
for dir in "${dirs[@]}"; do
  dir=${dir#./}
  pkg=$module/$dir
  bin=$work/$(echo "$dir" | tr / _).test
  echo "fuzz: building ./$dir once for its targets"
  if ! go test -c -fuzz=. -o "$bin" "./$dir"; then
    failed+=("build of ./$dir")
    continue
  fi
  names=$(cat "$dir"/*_test.go | grep -oE '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' | sort)
  for name in $names; do
    count=$((count + 1))
    echo "fuzz: $name in ./$dir for $fuzztime"
    if (cd "$root/$dir" && "$bin" -test.run='^$' -test.fuzz="^${name}\$" -test.fuzztime="$fuzztime" \
      -test.fuzzcachedir="$cache/$pkg") 2>&1 | tee "$log"; then
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
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}; the failing inputs are under testdata/fuzz/ in those packages" >&2
  exit 1
fi
echo "fuzz: $count targets passed, $fuzztime each"
