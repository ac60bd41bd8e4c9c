#!/usr/bin/env bash
# Runs every Go fuzz target of the module briefly. go test -fuzz takes one target of one package at a time, so the
# targets are found by their declarations.
#
# FUZZTIME is an execution count per target (default 20000x) rather than a duration: a time-boxed run can end
# with "context deadline exceeded" on a loaded machine when the deadline falls inside a worker's execution, which
# is the fuzzing engine timing out, not a finding. Such a run is tried once more; a real finding writes its input
# under testdata/fuzz and always fails.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20000x}
found=0
while IFS=: read -r file _ decl; do
	target=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$decl")
	pkg=./$(dirname "$file")
	for attempt in 1 2; do
		echo "fuzz: $pkg $target ($fuzztime, attempt $attempt)"
		if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
			grep -v '^fuzz: elapsed' <<<"$out"
			break
		fi
		echo "$out"
		if [ "$attempt" = 2 ] || grep -q 'Failing input written' <<<"$out" || ! grep -q 'context deadline exceeded' <<<"$out"; then
			exit 1
		fi
		echo "fuzz: $target: the fuzzing engine's deadline, not a finding; trying once more"
	done
	found=$((found + 1))
done < <(git ls-files '*_test.go' | xargs grep -n -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' || true)
echo "fuzz: $found targets passed"
