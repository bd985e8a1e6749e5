#!/usr/bin/env bash
# The whole test suite, as `npm test` and CI run it: system deps, lint and
# format, strict type check, the native engine under sanitizers and fuzzers,
# then every vitest project (last, so its summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/../.."

bash test/setup/system-deps.sh
echo "== biome (lint + format)"
npx biome check .
echo "== tsc --noEmit (strict)"
npx tsc --noEmit
echo "== tsc --noEmit -p web (the console: DOM, JSX)"
npx tsc --noEmit -p web
echo "== native: C unit tests, tcpdump corpus and fuzzers under ASan+UBSan"
[ -f native/build/Release/wirefleet_engine.node ] || npm run build:native
make -s -C native test FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
echo "== vitest"
npx vitest run "$@"
