#!/bin/bash
# conformance/run.sh -- run the OCI runtime-tools validation suite against
# kapsel-runtime (or any OCI-CLI runtime) and compare the per-test-file results
# with conformance/expected.txt.  Used by CI.  Must run as root.
#
# Usage:
#   conformance/run.sh [RUNTIME]          RUNTIME: path or name of the runtime binary
#   RUNTIME=/usr/sbin/runc conformance/run.sh
# Default runtime: <repo>/bin/kapsel-runtime.  $1 wins over $RUNTIME.
#
# The suite itself is built and run by ../shared/conformance/run-validation.sh
# (found as ${KAPSEL_SHARED:-<repo>/../shared}/conformance/run-validation.sh;
# shared/ may be read-only).  Its build (Go test binaries, runtime-tools source)
# is cached in RTT_WORK [/var/tmp/kapsel-rtt], which must be outside shared/.
#
# stdout, one line per test file (in suite order):
#   ok <file>                              in expected.txt, STATUS PASS/PASS0
#   not ok <file> (<status>)               in expected.txt, did not pass (or MISSING)
#   known-failing <file> (<status>) — <reason>   not in expected.txt, did not pass
#   newly-passing <file> (<status>)        not in expected.txt, but passed now
# and last:  "N passed, M failed, K skipped"
#   N = expected files that passed, M = expected files that did not,
#   K = known-failing files (newly-passing files are in none of the three).
# With CONFORMANCE_DAEMON=1 (or one) also (after the files):
#   ok daemon-served (<counts per verb>)   counted in N
#   not ok daemon-served (<why>)           counted in M
# With CONFORMANCE_COMPARE: "differs <file> (<status> vs <status there>)", in none of the three.
# Diagnostics (suite log, leak checks, hints) go to stderr.
#
# Exit status: 0 = every expected file passed; 1 = M > 0 (or leaks with
# CONFORMANCE_LEAKS_FATAL=1); 2 = the suite could not be built/run/parsed.
#
# Environment:
#   RUNTIME                 runtime under test                   [<repo>/bin/kapsel-runtime]
#   KAPSEL_SHARED           directory holding conformance/run-validation.sh  [<repo>/../shared]
#   RTT_WORK                build cache + results                [/var/tmp/kapsel-rtt]
#   RTT_TESTS               run only these test files (space separated); expected
#                           files outside the subset are then not reported
#   RTT_RUNTIME_ARGS, RTT_TIMEOUT, RTT_REBUILD, RTT_APT_INSTALL, ...
#                           passed through to run-validation.sh (see its header)
#   CONFORMANCE_EXPECTED    [conformance/expected.txt]
#   CONFORMANCE_KNOWN       [conformance/known-failures.txt]
#   CONFORMANCE_BASELINE    [conformance/runc-baseline.txt]
#   CONFORMANCE_BASELINE_COLUMN  baseline column for the table     [runc_1.1.5]
#   CONFORMANCE_TABLE       if set: write the per-file markdown table there
#   CONFORMANCE_NAME        runtime column title in the table    [basename of RUNTIME]
#   CONFORMANCE_RESULTS     evaluate this existing results dir instead of running
#   CONFORMANCE_QUIET       1 = don't echo run-validation.sh output to stderr
#                           (it is always saved as <results>/run-validation.log)
#   CONFORMANCE_KEEP        keep the newest N results dirs of this script [10]
#   CONFORMANCE_LOCK_WAIT   seconds to wait for another suite run on this host [3600]
#   CONFORMANCE_LEAKS_FATAL 1 = leaked mounts/cgroups/processes make the run fail
#   CONFORMANCE_DAEMON      1 = run RUNTIME (kapsel-runtime) served by `kapsel-runtime daemon`:
#                           the suite gets conformance/daemon-runtime.sh, which starts a daemon
#                           inside each test file's mount namespace; run.sh stops them at the
#                           end and adds one more result, "daemon-served" (ok when the daemons'
#                           request logs show create, start, kill and delete)
#                           one = the same, but the whole suite runs in ONE private mount
#                           namespace (unshare -m around run-validation.sh, RTT_MOUNTNS=0), so
#                           one daemon serves every test file (and the suite's clean-up); the
#                           "host mount" leak check then sees mounts left in that namespace
#   CONFORMANCE_COMPARE     results dir of another run (e.g. the plain one): print a "differs"
#                           line for every test file whose STATUS is not the same
#   CONFORMANCE_RESULTS_FILE  write this run's results dir path to this file
set -u
set -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(dirname "$HERE")
SHARED=${KAPSEL_SHARED:-$REPO/../shared}
RV=$SHARED/conformance/run-validation.sh

RUNTIME=${1:-${RUNTIME:-$REPO/bin/kapsel-runtime}}
export RTT_WORK=${RTT_WORK:-/var/tmp/kapsel-rtt}
EXPECTED=${CONFORMANCE_EXPECTED:-$HERE/expected.txt}
KNOWN=${CONFORMANCE_KNOWN:-$HERE/known-failures.txt}
BASELINE=${CONFORMANCE_BASELINE:-$HERE/runc-baseline.txt}
BASECOL=${CONFORMANCE_BASELINE_COLUMN:-runc_1.1.5}
KEEP=${CONFORMANCE_KEEP:-10}

msg() { printf 'conformance: %s\n' "$*" >&2; }
fatal() { msg "ERROR: $*"; exit 2; }

[ -f "$EXPECTED" ] || fatal "no expected list: $EXPECTED"
[ -f "$KNOWN" ] || { msg "WARNING: no $KNOWN; known failures will have no reason"; KNOWN=/dev/null; }

# strip comments/blank lines; "<file> [rest]" -> file (and rest)
list_files() { sed -e 's/#.*//' "$1" | awk 'NF{print $1}'; }

passing() { case $1 in PASS|PASS0) return 0;; *) return 1;; esac; }

# ------------------------------------------------------------------ run
LEAKS=0
DDIR=

# CONFORMANCE_DAEMON=1: stop every daemon daemon-runtime.sh started (idle by now), keep their
# request log and output in the results, remove their sockets; a daemon that does not go away
# is a leak. Runs once (also on an early exit).
is_our_daemon() { case $(tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline") in *" daemon --socket $DDIR/"*) true;; *) false;; esac; }
stop_daemons() {
  [ -n "$DDIR" ] && [ -d "$DDIR" ] || return 0
  local p n=0 left=
  for p in $(awk '{print $1}' "$DDIR/started"); do
    is_our_daemon "$p" && kill -TERM "$p" 2>/dev/null && n=$((n+1))
  done
  for p in $(awk '{print $1}' "$DDIR/started"); do
    for _ in $(seq 100); do is_our_daemon "$p" || break; sleep 0.05; done
    is_our_daemon "$p" && { kill -KILL "$p" 2>/dev/null; left="$left $p"; }
  done
  cp "$DDIR/requests.log" "$RESULTS/daemon-requests.log" 2>/dev/null
  cp "$DDIR/daemon.log" "$RESULTS/daemon.log" 2>/dev/null
  cp "$DDIR/started" "$RESULTS/daemons.started" 2>/dev/null
  echo "$left" > "$RESULTS/daemons.leaked"
  msg "stopped $n kapsel-runtime daemon(s) ($(wc -l < "$DDIR/started") started during the run)${left:+; still running after SIGTERM, killed:$left}"
  rm -rf "$DDIR"
  DDIR=
}
if [ -n "${CONFORMANCE_RESULTS:-}" ]; then
  RESULTS=$CONFORMANCE_RESULTS
  [ -f "$RESULTS/summary.txt" ] || fatal "no summary.txt in $RESULTS"
  msg "evaluating existing results in $RESULTS (suite not run)"
  RUNTIME_NAME=${CONFORMANCE_NAME:-$(awk '/^runtime:/{print $2; exit}' "$RESULTS/env.txt" 2>/dev/null | xargs -r basename)}
else
  [ -f "$RV" ] || fatal "run-validation.sh not found at $RV (set KAPSEL_SHARED)"
  [ "$(id -u)" = 0 ] || fatal "must run as root (the suite creates real containers)"
  # resolve the runtime to an absolute path, keeping symlinks (argv[0] may matter)
  case $RUNTIME in
    */*) [ -x "$RUNTIME" ] && [ -f "$RUNTIME" ] || fatal "runtime $RUNTIME is not an executable file"
         case $RUNTIME in /*) ;; *) RUNTIME=$PWD/$RUNTIME;; esac ;;
    *)   R=$(command -v "$RUNTIME") || fatal "runtime $RUNTIME not found in PATH"; RUNTIME=$R ;;
  esac
  RUNTIME_NAME=${CONFORMANCE_NAME:-$(basename "$RUNTIME")}

  # the build cache must not live inside the (possibly read-only) shared/ tree;
  # check BEFORE creating anything (root can write into a 0555 directory)
  case $RTT_WORK in /*) ;; *) RTT_WORK=$PWD/$RTT_WORK;; esac
  s=$(cd "$SHARED" && pwd -P) || fatal "cannot resolve $SHARED"
  w=$RTT_WORK; while [ ! -e "$w" ]; do w=$(dirname "$w"); done   # deepest existing ancestor
  w=$(cd "$w" && pwd -P)/${RTT_WORK#"$w"}
  case $w/ in "$s"/*|"$s"//*) fatal "RTT_WORK=$RTT_WORK is inside $SHARED; use a directory outside it (default /var/tmp/kapsel-rtt)";; esac
  mkdir -p "$RTT_WORK" || fatal "cannot create RTT_WORK=$RTT_WORK"

  DMODE=${CONFORMANCE_DAEMON:-0}
  case $DMODE in 0|1|one) ;; *) fatal "CONFORMANCE_DAEMON=$DMODE: use 1 or one";; esac
  RESULTS=$RTT_WORK/results/kapsel-$(basename "$RUNTIME")$([ "$DMODE" != 0 ] && echo -daemon)-$(date +%Y%m%d-%H%M%S)-$$
  mkdir -p "$RESULTS" || fatal "cannot create $RESULTS"
  [ -n "${CONFORMANCE_RESULTS_FILE:-}" ] && echo "$RESULTS" > "$CONFORMANCE_RESULTS_FILE"

  # CONFORMANCE_DAEMON=1: the suite runs conformance/daemon-runtime.sh (through a launcher
  # holding its settings), which starts a daemon in each test file's mount namespace
  DDIR=
  if [ "$DMODE" != 0 ]; then
    "$RUNTIME" --version 2>/dev/null | grep -q '^kapsel-runtime' \
      || fatal "CONFORMANCE_DAEMON=$DMODE needs kapsel-runtime, not $RUNTIME"
    # sockets, pids, request log: a short path (a socket path must fit in sun_path, 108 bytes)
    DDIR=$(mktemp -d /tmp/kapsel-confd.XXXXXX) || fatal "cannot create a daemon dir in /tmp"
    ns=$(readlink /proc/self/ns/mnt | tr -dc 0-9)
    mkdir -p "$RESULTS/daemon-runtime"
    printf '#!/bin/sh\nKAPSEL_CONFD_RUNTIME=%s KAPSEL_CONFD_DIR=%s KAPSEL_CONFD_HOST_MNTNS=%s exec /bin/sh %s "$@"\n' \
      "$RUNTIME" "$DDIR" "$ns" "$HERE/daemon-runtime.sh" > "$RESULTS/daemon-runtime/kapsel-runtime"
    chmod 755 "$DDIR" "$RESULTS/daemon-runtime/kapsel-runtime"
    : > "$DDIR/requests.log"; : > "$DDIR/started"
    REAL=$RUNTIME RUNTIME=$RESULTS/daemon-runtime/kapsel-runtime
    RUNTIME_NAME=${CONFORMANCE_NAME:-$(basename "$REAL") + daemon}
    trap stop_daemons EXIT
  fi
  export RTT_RESULTS=$RESULTS RUNTIME
  LOG=$RESULTS/run-validation.log

  # host state before the run (run-validation.sh snapshots the mount table itself)
  findmnt -rno TARGET,PROPAGATION / > "$RESULTS/root-propagation.before" 2>/dev/null
  ls /proc | grep -E '^[0-9]+$' | sort > "$RESULTS/pids.before"

  # two suites on one host collide on the fixed cgroup paths (/cgrouptest,
  # testdir/cgrouptest): serialize runs of this script
  exec 9> "${TMPDIR:-/tmp}/kapsel-conformance.lock"
  if ! flock -n 9; then
    msg "another conformance run holds ${TMPDIR:-/tmp}/kapsel-conformance.lock; waiting up to ${CONFORMANCE_LOCK_WAIT:-3600}s"
    flock -w "${CONFORMANCE_LOCK_WAIT:-3600}" 9 || fatal "timed out waiting for the lock"
  fi

  msg "runtime $RUNTIME; suite $RV; build cache $RTT_WORK; results $RESULTS"
  t0=$(date +%s)
  # no positional args: run-validation.sh would take them as test names (RTT_TESTS is passed via env)
  RVCMD=(bash "$RV")
  if [ "$DMODE" = one ]; then
    RVCMD=(unshare --mount --propagation private env RTT_MOUNTNS=0 bash "$RV")
    ls -d "$RTT_WORK"/tmp/run.* 2>/dev/null | sort > "$RESULTS/rundirs.before"
  fi
  if [ "${CONFORMANCE_QUIET:-0}" = 1 ]; then
    "${RVCMD[@]}" > "$LOG" 2>&1 < /dev/null
  else
    "${RVCMD[@]}" < /dev/null 2>&1 | tee "$LOG" >&2
  fi
  rc=$?
  t1=$(date +%s)
  [ -n "$DDIR" ] && stop_daemons
  if [ "$DMODE" = one ]; then
    # run-validation.sh keeps its bundle dir when mounts were left in its (now gone) namespace
    ls -d "$RTT_WORK"/tmp/run.* 2>/dev/null | sort | comm -13 "$RESULTS/rundirs.before" - | while read -r d; do
      grep -q " $d/" /proc/self/mountinfo || { rm -rf --one-file-system "$d"; msg "removed $d (its mounts went with the suite's namespace)"; }
    done
  fi
  exec 9>&-
  msg "run-validation.sh exited $rc after $((t1 - t0))s"
  # rc 0/1 = ran (1: some TAP failure); anything else (2 = die) = not built / not run
  case $rc in 0|1) ;; *) grep -E 'ERROR|FAILED' "$LOG" | tail -5 >&2; fatal "the suite could not be built or run (exit $rc); log: $LOG";; esac
  [ -s "$RESULTS/summary.txt" ] || fatal "suite produced no summary.txt; log: $LOG"

  # ---------------------------------------------------------- leak checks
  if [ -f "$RESULTS/host-mounts.before" ] && ! cmp -s "$RESULTS/host-mounts.before" "$RESULTS/host-mounts.after"; then
    LEAKS=$((LEAKS+1)); msg "LEAK? host mount table / propagation changed during the run:"
    diff "$RESULTS/host-mounts.before" "$RESULTS/host-mounts.after" | grep '^[<>]' | head -20 >&2
  fi
  findmnt -rno TARGET,PROPAGATION / > "$RESULTS/root-propagation.after" 2>/dev/null
  if ! cmp -s "$RESULTS/root-propagation.before" "$RESULTS/root-propagation.after"; then
    LEAKS=$((LEAKS+1)); msg "LEAK: propagation of / changed: $(cat "$RESULTS/root-propagation.before") -> $(cat "$RESULTS/root-propagation.after")"
  fi
  if [ -s "$RESULTS/leftovers.log" ]; then
    LEAKS=$((LEAKS+1)); msg "LEAK: containers still existing after their test (force-deleted by the suite):"
    sed 's/^/    /' "$RESULTS/leftovers.log" >&2
  fi
  [ -s "$RESULTS/cgroups.removed" ] && msg "note: the suite rmdir'ed $(wc -l < "$RESULTS/cgroups.removed") empty cgrouptest/testdir dirs (runtimes remove only the leaf; expected)"
  # per-container cgroup dirs named after container IDs used in this run
  ids=$(cut -f3 "$RESULTS/cli.log" 2>/dev/null | grep -oE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' | sort -u)
  if [ -n "$ids" ]; then
    awk '{for(i=7;i<=NF;i++) if($i=="-"){ if($(i+1)=="cgroup"||$(i+1)=="cgroup2") print $5; break}}' /proc/self/mountinfo |
      while read -r m; do find "$m" -mindepth 1 -maxdepth 6 -type d 2>/dev/null; done |
      grep -F -f <(printf '%s\n' $ids | sed 's#^#/#; s#$##') > "$RESULTS/cgroups.leaked.tmp"
    # keep only dirs whose last component is an ID (or below one)
    grep -E '/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(/|$)' "$RESULTS/cgroups.leaked.tmp" | sort -r > "$RESULTS/cgroups.leaked"
    rm -f "$RESULTS/cgroups.leaked.tmp"
    if [ -s "$RESULTS/cgroups.leaked" ]; then
      LEAKS=$((LEAKS+1))
      msg "LEAK: $(wc -l < "$RESULTS/cgroups.leaked") cgroup dirs named after this run's container IDs remain (list: $RESULTS/cgroups.leaked); removing the empty ones:"
      while read -r d; do rmdir "$d" 2>/dev/null && echo "    removed $d" >&2 || echo "    NOT removed (busy?) $d" >&2; done < "$RESULTS/cgroups.leaked"
    fi
  fi
  # processes that appeared during the run and are still alive, and either live
  # in another root (= container processes) or mention the runtime / the
  # suite's work dir on their command line (= runtime helpers, e.g. a shim)
  ls /proc | grep -E '^[0-9]+$' | sort > "$RESULTS/pids.after"
  self_cmd=$(tr '\0' ' ' < /proc/$$/cmdline)
  comm -13 "$RESULTS/pids.before" "$RESULTS/pids.after" | while read -r p; do
    r=$(readlink "/proc/$p/root" 2>/dev/null) || continue
    c=$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null) || continue
    [ "$c" = "$self_cmd" ] && continue          # this script's own subshells
    if [ "$r" != / ] || case $c in *"$RUNTIME"*|*"$RTT_WORK"*) true;; *) false;; esac; then
      echo "$p root=$r ${c:0:120}"
    fi
  done > "$RESULTS/processes.leaked"
  if [ -s "$RESULTS/processes.leaked" ]; then
    LEAKS=$((LEAKS+1)); msg "LEAK?: processes started during the run still alive in a container root (not killed; another user of this host may own them):"
    sed 's/^/    /' "$RESULTS/processes.leaked" >&2
  fi

  if [ -n "$(tr -d ' \n' 2>/dev/null < "$RESULTS/daemons.leaked")" ]; then
    LEAKS=$((LEAKS+1)); msg "LEAK: kapsel-runtime daemons ignored SIGTERM (killed):$(cat "$RESULTS/daemons.leaked")"
  fi

  # ---------------------------------------------------------- prune old results
  ls -1dt "$RTT_WORK"/results/kapsel-* 2>/dev/null | tail -n +$((KEEP + 1)) | while read -r d; do rm -rf --one-file-system "$d"; done
fi

# ------------------------------------------------------------ compare
# summary.txt: header line, then "TEST STATUS OK SKIP NOTOK PLAN RC SECONDS"
awk 'NR>1 && NF>=2 {print $1, $2}' "$RESULTS/summary.txt" > "$RESULTS/status.txt"
[ -s "$RESULTS/status.txt" ] || fatal "empty summary in $RESULTS"

declare -A STATUS EXP REASON BASE
order=()
while read -r f st; do STATUS[$f]=$st; order+=("$f"); done < "$RESULTS/status.txt"
while read -r f; do EXP[$f]=1; done < <(list_files "$EXPECTED")
while read -r f r; do [ -n "$f" ] && REASON[$f]=$r; done < <(sed -e 's/^[[:space:]]*#.*//' "$KNOWN" | awk 'NF')
for f in "${!EXP[@]}"; do
  [ -n "${REASON[$f]:-}" ] && msg "note: $f is in both expected.txt and known-failures.txt; expected.txt wins"
done

# expected files the suite did not run: MISSING (only for full runs)
subset=${RTT_TESTS:-}
if [ -z "$subset" ]; then
  for f in $(list_files "$EXPECTED"); do
    [ -n "${STATUS[$f]:-}" ] || { STATUS[$f]=MISSING; order+=("$f"); }
  done
fi

n=0; m=0; k=0; newly=()
for f in "${order[@]}"; do
  st=${STATUS[$f]}
  if [ -n "${EXP[$f]:-}" ]; then
    if passing "$st"; then echo "ok $f"; n=$((n+1))
    else echo "not ok $f ($st)"; m=$((m+1)); fi
  elif passing "$st"; then
    echo "newly-passing $f ($st)"; newly+=("$f")
  else
    echo "known-failing $f ($st) — ${REASON[$f]:-no reason recorded in known-failures.txt}"; k=$((k+1))
  fi
done

# ------------------------------------------------------------ daemon served?
# One more result for a daemon run: the daemons' request logs must show create, start, kill
# and delete (else the front ran Node every time and the run proved nothing about the daemon).
# Also reported: how many of the test programs' calls of each verb (cli.log) a daemon served.
if [ -f "$RESULTS/daemon-requests.log" ] || [ "${CONFORMANCE_DAEMON:-0}" != 0 ]; then
  verbs="create start kill delete state exec run"
  count_verbs() { # file awk-field-of-argv-start -> "verb count" lines
    awk -v from="$2" -v verbs="$verbs" 'BEGIN{split(verbs, v, " "); for (i in v) want[v[i]]=1}
      {for (i=from; i<=NF; i++) if ($i in want) {n[$i]++; break}}
      END{for (k in n) print k, n[k]}' "$1" 2>/dev/null
  }
  declare -A SERVED CALLED
  while read -r v c; do SERVED[$v]=$c; done < <(count_verbs "$RESULTS/daemon-requests.log" 4)
  while read -r v c; do CALLED[$v]=$c; done < <(cut -f3 "$RESULTS/cli.log" 2>/dev/null | count_verbs /dev/stdin 1)
  detail=; missing=
  for v in $verbs; do
    [ -n "${SERVED[$v]:-}${CALLED[$v]:-}" ] && detail="$detail${detail:+, }$v ${SERVED[$v]:-0}/${CALLED[$v]:-0}"
  done
  for v in create start kill delete; do [ "${SERVED[$v]:-0}" -gt 0 ] || missing="$missing $v"; done
  if [ -z "$missing" ]; then
    echo "ok daemon-served (served/called by the tests: $detail)"; n=$((n+1))
  else
    echo "not ok daemon-served (no$missing request in $RESULTS/daemon-requests.log; served/called: ${detail:-none})"; m=$((m+1))
  fi
fi

# ------------------------------------------------------- compare with another run
if [ -n "${CONFORMANCE_COMPARE:-}" ]; then
  if [ -f "$CONFORMANCE_COMPARE/summary.txt" ]; then
    declare -A OTHER
    while read -r f st; do OTHER[$f]=$st; done < <(awk 'NR>1 && NF>=2 {print $1, $2}' "$CONFORMANCE_COMPARE/summary.txt")
    nd=0
    for f in "${order[@]}"; do
      [ -n "${OTHER[$f]:-}" ] || continue
      [ "${STATUS[$f]}" = "${OTHER[$f]}" ] || { echo "differs $f (${STATUS[$f]} vs ${OTHER[$f]} in $CONFORMANCE_COMPARE)"; nd=$((nd+1)); }
    done
    msg "$nd test file(s) differ from $CONFORMANCE_COMPARE"
  else
    msg "WARNING: no summary.txt in CONFORMANCE_COMPARE=$CONFORMANCE_COMPARE; not compared"
  fi
fi

# ------------------------------------------------------------ markdown table
if [ -n "${CONFORMANCE_TABLE:-}" ]; then
  declare -A BASE
  basetitle=${BASECOL//_/ }
  if [ -f "$BASELINE" ]; then
    col=$(sed -e 's/#.*//' "$BASELINE" | awk -v c="$BASECOL" 'NF && $1=="TEST" {for(i=2;i<=NF;i++) if($i==c) print i; exit}')
    [ -n "$col" ] || { msg "WARNING: column $BASECOL not in $BASELINE"; col=0; }
    while read -r f st; do BASE[$f]=$st; done < <(sed -e 's/#.*//' "$BASELINE" | awk -v c="$col" 'NF && $1!="TEST" && c>0 {print $1, $c}')
  else
    msg "WARNING: no baseline $BASELINE"
  fi
  {
    echo "| test file | $RUNTIME_NAME | $basetitle |"
    echo "|---|---|---|"
    for f in "${order[@]}"; do
      echo "| \`$f\` | ${STATUS[$f]} | ${BASE[$f]:-–} |"
    done
    nb=0; for f in "${order[@]}"; do passing "${BASE[$f]:-}" && nb=$((nb+1)); done
    np=0; for f in "${order[@]}"; do passing "${STATUS[$f]}" && np=$((np+1)); done
    echo "| **passing files** | **$np / ${#order[@]}** | **$nb / ${#order[@]}** |"
  } > "$CONFORMANCE_TABLE" || fatal "cannot write $CONFORMANCE_TABLE"
  msg "markdown table written to $CONFORMANCE_TABLE"
fi

[ ${#newly[@]} -gt 0 ] && msg "${#newly[@]} file(s) pass but are not in expected.txt (consider adding them): ${newly[*]}"
[ $LEAKS -gt 0 ] && msg "$LEAKS kind(s) of leak detected (see above; results in $RESULTS)"
msg "results: $RESULTS"
echo "$n passed, $m failed, $k skipped"
[ "$m" -eq 0 ] || exit 1
[ $LEAKS -gt 0 ] && [ "${CONFORMANCE_LEAKS_FATAL:-0}" = 1 ] && exit 1
exit 0
