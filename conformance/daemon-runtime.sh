#!/bin/sh
# conformance/daemon-runtime.sh -- the runtime conformance/run.sh hands the suite when
# CONFORMANCE_DAEMON=1: kapsel-runtime served by a warm `kapsel-runtime daemon`.
#
# run-validation.sh runs every test file in a private mount namespace (unshare -m), and the
# front (native/front.c) uses a daemon only when it shares all its namespaces and root. So a
# daemon on the host would (correctly) never be used. Instead this wrapper starts one, on first
# use, inside the mount namespace it finds itself in, and points the front at it:
#   - one socket per mount namespace, $KAPSEL_CONFD_DIR/<mnt ns inode>.sock;
#   - the daemon is started detached (new session, reparented at once, cwd /, fds 3-9 closed:
#     an inherited lock fd would stay held), so the suite's per-test timeout does not kill it
#     and no test process waits for it; its pid is appended to $KAPSEL_CONFD_DIR/started
#     ("pid ns") for run.sh, which stops every one at the end;
#   - one daemon at a time: test files run one after another, so starting the daemon for a new
#     namespace stops the previous test file's (idle) one;
#   - in run-validation's own namespace ($KAPSEL_CONFD_HOST_MNTNS: its cleanup of leftover
#     containers) no daemon is started and none is used: those calls run Node directly.
# Every request a daemon served is a line in $KAPSEL_CONFD_DIR/requests.log (--request-log).
#
# Environment (set by the launcher run.sh generates):
#   KAPSEL_CONFD_RUNTIME     the real bin/kapsel-runtime
#   KAPSEL_CONFD_DIR         sockets, pids, request log, daemon output (short path: sun_path)
#   KAPSEL_CONFD_HOST_MNTNS  inode of the mount namespace run.sh runs in
#   KAPSEL_CONFD_IDLE        the daemons' --idle-timeout in seconds [120]
set -u
rt=$KAPSEL_CONFD_RUNTIME
dir=$KAPSEL_CONFD_DIR
ns=$(readlink /proc/self/ns/mnt)
ns=${ns#mnt:\[}
ns=${ns%\]}
sock=$dir/$ns.sock

if [ "$ns" = "$KAPSEL_CONFD_HOST_MNTNS" ]; then
  # a path nobody listens on: not the host's default daemon either
  KAPSEL_RUNTIME_DAEMON_SOCKET=$dir/none.sock exec "$rt" "$@"
fi

alive() { # pid: running (not a zombie) and one of our daemons
  case $(cat "/proc/$1/cmdline" 2>/dev/null | tr '\0' ' ') in
    *" daemon --socket $dir/"*) ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null;;
    *) false;;
  esac
}

exec 8>>"$dir/lock"
flock 8
pid=$(cat "$dir/$ns.pid" 2>/dev/null)
if [ -z "$pid" ] || ! alive "$pid" || [ ! -S "$sock" ]; then
  for f in "$dir"/*.pid; do
    [ -e "$f" ] || continue
    p=$(cat "$f")
    [ -n "$p" ] && alive "$p" && kill -TERM "$p"
    rm -f "$f"
  done
  rm -f "$sock"
  # the subshell exits at once: the daemon is nobody's child here (no front or test waits for it)
  (
    cd / || exit 1
    setsid "$rt" daemon --socket "$sock" --idle-timeout "${KAPSEL_CONFD_IDLE:-120}" \
      --request-log "$dir/requests.log" < /dev/null >> "$dir/daemon.log" 2>&1 \
      3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
    echo "$!" > "$dir/$ns.pid"
    echo "$! $ns" >> "$dir/started"
  )
  pid=$(cat "$dir/$ns.pid")
  i=0
  while [ ! -S "$sock" ] && [ $i -lt 1000 ] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.01
    i=$((i + 1))
  done
  [ -S "$sock" ] || echo "daemon-runtime.sh: kapsel-runtime daemon $pid did not listen on $sock" >> "$dir/daemon.log"
fi
exec 8>&-
KAPSEL_RUNTIME_DAEMON_SOCKET=$sock exec "$rt" "$@"
