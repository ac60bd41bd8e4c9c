#!/usr/bin/env bash
# Runs every Go fuzz target of the module briefly (FUZZTIME each, default 5s). go test -fuzz takes one target of
# one package at a time, so the targets are found by their declarations.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
found=0
while IFS=: read -r file _ decl; do
	target=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$decl")
	pkg=./$(dirname "$file")
	echo "fuzz: $pkg $target ($fuzztime)"
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
	found=$((found + 1))
done < <(git ls-files '*_test.go' | xargs grep -n -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' || true)
echo "fuzz: $found targets passed"
