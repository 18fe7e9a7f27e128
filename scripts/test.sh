#!/usr/bin/env bash
# The test command (`npm test`): builds nothing, runs every tier and prints one total.
#   1. unit tests        dist/**/*.test.js (not *.root.test.js, not bundle-tests): unprivileged
#   2. kernel tests      dist/**/*.root.test.js: root, real cgroups/seccomp/mounts
#   3. bundle tests      dist/bundle-tests/*.test.js: the built kapsel-runtime on real bundles
#   4. conformance       OCI runtime-tools validation suite (conformance/run.sh)
#   5. conformance-daemon the same suite, kapsel-runtime served by `kapsel-runtime daemon`
#                        (CONFORMANCE_DAEMON=1; a file differing from tier 4's result fails)
# Each tier's counts are summed; the last line is "N passed, M failed, K skipped".
# KAPSEL_TEST_TIERS="unit root bundle conformance conformance-daemon" selects tiers.
set -u
cd "$(dirname "$0")/.."
tiers=${KAPSEL_TEST_TIERS:-deps unit root bundle conformance conformance-daemon}
out=$(mktemp -d /tmp/kapsel-test.XXXXXX)
trap 'rm -rf "$out"' EXIT
passed=0 failed=0 skipped=0 status=0

if [ ! -x bin/kapsel-runtime ] || [ ! -x native/build/kapsel-stage ]; then
  echo "kapsel is not built: run 'npm ci' (or 'npm run build') first" >&2
  exit 2
fi
if [ "$(id -u)" != 0 ]; then
  case " $tiers " in *" root "*|*" bundle "*|*" conformance "*|*" conformance-daemon "*)
    echo "the root, bundle and conformance tiers need root; run as root or set KAPSEL_TEST_TIERS=unit" >&2
    exit 2;;
  esac
fi

# node's test runner: spec output for people, TAP to a file for the counts
node_tier() {
  local name=$1; shift
  local files=("$@")
  if [ ${#files[@]} -eq 0 ]; then
    echo "== $name: no test files found" >&2
    failed=$((failed + 1)); status=1; return
  fi
  echo "== $name tests (${#files[@]} files)"
  node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
       --test-reporter=tap --test-reporter-destination="$out/$name.tap" "${files[@]}"
  local rc=$?
  local p f s t
  p=$(awk '/^# pass /{print $3}' "$out/$name.tap" | tail -1)
  f=$(awk '/^# fail /{print $3}' "$out/$name.tap" | tail -1)
  s=$(awk '/^# skipped /{print $3}' "$out/$name.tap" | tail -1)
  t=$(awk '/^# todo /{print $3}' "$out/$name.tap" | tail -1)
  p=${p:-0} f=${f:-0} s=$(( ${s:-0} + ${t:-0} ))
  # a runner that died without a summary counts as one failure
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "== $name: $p passed, $f failed, $s skipped"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  [ $rc -eq 0 ] || status=1
}

for tier in $tiers; do
  case $tier in
    unit)   mapfile -t f < <(find dist -name '*.test.js' ! -name '*.root.test.js' ! -path 'dist/bundle-tests/*' | sort); node_tier unit "${f[@]}";;
    root)   mapfile -t f < <(find dist -name '*.root.test.js' ! -path 'dist/bundle-tests/*' | sort); node_tier root "${f[@]}";;
    bundle) mapfile -t f < <(find dist/bundle-tests -name '*.test.js' | sort); node_tier bundle "${f[@]}";;
    conformance|conformance-daemon)
      if [ "$tier" = conformance ]; then
        echo "== conformance (OCI runtime-tools validation suite)"
        CONFORMANCE_QUIET=1 CONFORMANCE_TABLE=${CONFORMANCE_TABLE:-$out/conformance.md} CONFORMANCE_RESULTS_FILE=$out/conformance.dir \
          bash conformance/run.sh "$PWD/bin/kapsel-runtime" | tee "$out/$tier.txt"
      else
        # the same suite, kapsel-runtime served by `kapsel-runtime daemon`; compared file by
        # file with the plain run when that ran too ("differs" lines)
        echo "== conformance-daemon (the same suite through kapsel-runtime daemon)"
        CONFORMANCE_QUIET=1 CONFORMANCE_DAEMON=1 CONFORMANCE_COMPARE=$(cat "$out/conformance.dir" 2>/dev/null) \
          bash conformance/run.sh "$PWD/bin/kapsel-runtime" | tee "$out/$tier.txt"
      fi
      rc=${PIPESTATUS[0]}
      line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/$tier.txt" | tail -1)
      if [ -z "$line" ]; then
        echo "== $tier: the suite did not run (exit $rc)"
        failed=$((failed + 1)); status=1
      else
        p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}'); s=$(echo "$line" | sed -n 's/.*, \([0-9]*\) skipped.*/\1/p')
        # a file whose result differs from the plain run's is a daemon bug: one failure each
        # (unless already counted as "not ok")
        d=$(awk '$1=="not" {bad[$3]=1} $1=="differs" && !($2 in bad) {n++} END {print n+0}' "$out/$tier.txt")
        passed=$((passed + p)); failed=$((failed + f + d)); skipped=$((skipped + ${s:-0}))
        [ "$rc" -eq 0 ] && [ "$d" -eq 0 ] || status=1
      fi;;
    deps)
      if node scripts/check-deps.mjs; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi;;
    *) echo "unknown test tier '$tier'" >&2; exit 2;;
  esac
done

[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
