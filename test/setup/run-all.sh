#!/usr/bin/env bash
# The whole test suite, as `npm test` and CI run it: system deps, lint and
# format, strict type check, then every vitest project.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash test/setup/system-deps.sh
echo "== biome (lint + format)"
npx biome check .
echo "== tsc --noEmit (strict)"
npx tsc --noEmit
echo "== vitest"
npx vitest run "$@"
