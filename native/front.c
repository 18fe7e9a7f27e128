/*
 * kapsel-front: bin/kapsel-runtime. Hands its command line to a running `kapsel-runtime
 * daemon` (cli/runtime-daemon.ts) over a unix socket, passing argv, cwd, umask and its fds 0-2
 * (SCM_RIGHTS), and exits with the status the daemon reports. Every other command line, and
 * every one when no daemon answers, runs Node on kapsel-runtime's entry as the shell wrapper
 * did: execv, same pid, same fds, same environment less NODE_EXTRA_CA_CERTS (kapsel-runtime
 * makes no TLS connection; Node parses the file at start-up).
 *
 * For create, run and exec the daemon sends the sealed stage memfd and one end of the stage
 * socket; this process, a child subreaper, forks and execs the stage with its own fds, so the
 * container's init (or the exec'd process) is the caller's descendant as with Node, and is
 * reparented to the caller's subreaper when this process exits. For run and exec without
 * --detach this process waits for it, forwarding signals, and exits with its status.
 *
 * Paths come from `<this binary>.conf` (written by scripts/postbuild.mjs): line 1 node, line 2
 * the entry script. The socket is $KAPSEL_RUNTIME_DAEMON_SOCKET or /run/kapsel-runtime-daemon.sock.
 *
 * The daemon is used only when it runs as our euid, in the same mount, pid, net, ipc, uts,
 * user and cgroup namespaces and with the same root directory (SO_PEERCRED, /proc/<pid>/ns/...):
 * a caller in a private mount namespace (the conformance suite, crun-style wrappers) sees other
 * files, so it runs Node itself. Nothing is done by the daemon until it answers "A"; any failure
 * before that falls back to Node, so a missing, stale or broken daemon costs one connect(2).
 *
 * Protocol: see cli/runtime-daemon.ts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

#define DEFAULT_SOCKET "/run/kapsel-runtime-daemon.sock"
#define MAX_PAYLOAD (1 << 16)

static const char *const DAEMON_VERBS[] = {"create", "run", "exec", "start", "state", "kill", "delete", NULL};
/* global options that take a separate value (cli/runtime-argv.ts) */
static const char *const VALUED_GLOBALS[] = {"--root", "--log", "--log-format", "--criu", "--rootless", NULL};

static int in_list(const char *s, const char *const *list) {
  for (; *list; list++)
    if (strcmp(s, *list) == 0) return 1;
  return 0;
}

/* The verb of a runc command line, or NULL. */
static const char *verb_of(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] != '-') return argv[i];
    if (in_list(argv[i], VALUED_GLOBALS)) i++;
  }
  return NULL;
}

static void hold_forwarded(int hold);

/* execv of Node on kapsel-runtime's entry with argv[1..]; does not return. */
static void run_node(char **argv) {
  char conf[4096], self[4000];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) {
    perror("kapsel-runtime: readlink /proc/self/exe");
    exit(1);
  }
  self[n] = 0;
  snprintf(conf, sizeof conf, "%s.conf", self);
  FILE *f = fopen(conf, "re");
  static char node[4096], entry[4096];
  if (!f || !fgets(node, sizeof node, f) || !fgets(entry, sizeof entry, f)) {
    fprintf(stderr, "kapsel-runtime: cannot read %s (run npm run build)\n", conf);
    exit(1);
  }
  fclose(f);
  node[strcspn(node, "\n")] = 0;
  entry[strcspn(entry, "\n")] = 0;
  int argc = 0;
  while (argv[argc]) argc++;
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) exit(1);
  args[0] = node;
  args[1] = entry;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  unsetenv("NODE_EXTRA_CA_CERTS");
  hold_forwarded(0);
  execv(node, args);
  fprintf(stderr, "kapsel-runtime: exec %s: %s\n", node, strerror(errno));
  exit(1);
}

static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (stat(a, &sa) < 0 || stat(b, &sb) < 0) return 0;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The daemon runs as us, in our namespaces and under our root. */
static int same_world(int sock) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0) return 0;
  if (cred.uid != geteuid()) return 0;
  static const char *const ns[] = {"mnt", "pid", "net", "ipc", "uts", "user", "cgroup", NULL};
  char mine[64], theirs[64];
  for (int i = 0; ns[i]; i++) {
    snprintf(mine, sizeof mine, "/proc/self/ns/%s", ns[i]);
    snprintf(theirs, sizeof theirs, "/proc/%d/ns/%s", cred.pid, ns[i]);
    if (!same_file(mine, theirs)) return 0;
  }
  snprintf(theirs, sizeof theirs, "/proc/%d/root", cred.pid);
  return same_file("/proc/self/root", theirs);
}

/* send(2) of all `len` bytes (no SIGPIPE when the daemon is gone); 0, or -1. */
static int write_full(int fd, const void *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    done += (size_t)n;
  }
  return 0;
}

/* Sends the request; 0 when sent. */
static int send_request(int sock, int argc, char **argv) {
  static char payload[MAX_PAYLOAD];
  size_t off = 0;
  if (!getcwd(payload, sizeof payload)) return -1;
  off = strlen(payload) + 1;
  for (int i = 1; i < argc; i++) {
    size_t l = strlen(argv[i]) + 1;
    if (off + l > sizeof payload) return -1;
    memcpy(payload + off, argv[i], l);
    off += l;
  }
  mode_t mask = umask(0);
  umask(mask);
  unsigned char head[12] = {'K', 'R', 'T', '2'};
  put_le32(head + 4, (uint32_t)off);
  put_le32(head + 8, (uint32_t)mask);

  struct iovec iov[2] = {{head, sizeof head}, {payload, off}};
  union {
    char buf[CMSG_SPACE(3 * sizeof(int))];
    struct cmsghdr align;
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(3 * sizeof(int));
  int fds[3] = {0, 1, 2};
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  /* the rest, if the kernel took only part (the fds went with the first byte) */
  size_t sent = (size_t)n;
  if (sent < sizeof head) return write_full(sock, head + sent, sizeof head - sent) < 0 ? -1 : write_full(sock, payload, off);
  return write_full(sock, payload + (sent - sizeof head), off - (sent - sizeof head));
}


/* One byte of message type, with any fds sent along (close-on-exec); -1 when the daemon is gone. */
static int read_type(int sock, int fds[2], int *nfds) {
  char type;
  union {
    char buf[CMSG_SPACE(2 * sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {&type, 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n != 1) return -1;
  *nfds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*nfds < 2) fds[(*nfds)++] = fd;
      else close(fd);
    }
  }
  return (unsigned char)type;
}

/* Forks and execs the stage from `memfd` with `sock` at fd `syncfd`; its pid, or -1. */
static pid_t fork_stage(int memfd, int sock, int syncfd) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return -1;
  pid_t pid = fork();
  if (pid != 0) return pid;
  /* the child: both fds above syncfd first, so placing the socket cannot close the memfd */
  int exe = fcntl(memfd, F_DUPFD_CLOEXEC, syncfd + 1);
  int s = fcntl(sock, F_DUPFD_CLOEXEC, syncfd + 1);
  if (exe < 0 || s < 0 || dup2(s, syncfd) < 0) _exit(127);
  char arg[16];
  snprintf(arg, sizeof arg, "%d", syncfd);
  char *args[] = {"kapsel-stage", arg, NULL};
  char *env[] = {NULL};
  fexecve(exe, args, env);
  _exit(127);
}

static volatile sig_atomic_t forward_to;
static void forward(int sig) {
  if (forward_to > 0) kill(forward_to, sig);
}
/* the signals Node's runtime forwards too (runtime/signals.ts) */
static const int FORWARDED[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, 0};

static sigset_t forwarded_set(void) {
  sigset_t set;
  sigemptyset(&set);
  for (int i = 0; FORWARDED[i]; i++) sigaddset(&set, FORWARDED[i]);
  return set;
}

/* Held from the start of run/exec until the process to forward to is known, so that a signal
 * sent while the daemon starts it is delivered to it, not lost or fatal to us. */
static void hold_forwarded(int hold) {
  sigset_t set = forwarded_set();
  sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* Waits for our child `pid` forwarding signals to it; its exit code, or 128 + signal. */
static int wait_forwarding(pid_t pid) {
  forward_to = pid;
  struct sigaction sa = {.sa_handler = forward};
  sigemptyset(&sa.sa_mask);
  for (int i = 0; FORWARDED[i]; i++) sigaction(FORWARDED[i], &sa, NULL);
  hold_forwarded(0); /* what arrived meanwhile goes to pid now */
  int st;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "kapsel-runtime: wait for process %d: %s\n", (int)pid, strerror(errno));
      return 1;
    }
  }
  forward_to = 0;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + WTERMSIG(st);
}

static void reap(pid_t *pid) {
  if (*pid <= 0) return;
  while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR) {
  }
  *pid = 0;
}

static int try_daemon(int argc, char **argv);

/* Runs a follow-up command line (run's delete): through the daemon, else Node in a child. */
static void follow_up(char *payload, uint32_t len) {
  int argc = 1;
  for (uint32_t i = 0; i < len; i++)
    if (payload[i] == 0) argc++;
  char **args = calloc((size_t)argc + 1, sizeof *args);
  if (!args) return;
  args[0] = "kapsel-runtime";
  int k = 1;
  for (uint32_t i = 0; i < len; i += (uint32_t)strlen(payload + i) + 1) args[k++] = payload + i;
  args[k] = NULL;
  if (try_daemon(k, args) >= 0) return;
  pid_t pid = fork();
  if (pid == 0) run_node(args);
  if (pid > 0) reap(&pid);
}

/*
 * Serves the daemon's messages after "A" until its final "X": the status to exit with. Exits 1
 * when the daemon goes away during the command (its outcome is then unknown).
 */
static int follow_daemon(int sock) {
  pid_t stage = 0;
  for (;;) {
    int fds[2], nfds = 0;
    int type = read_type(sock, fds, &nfds);
    unsigned char body[12];
    if (type == 'S' && nfds == 2 && read_full(sock, body, 4) == 0) {
      uint32_t syncfd = get_le32(body);
      reap(&stage); /* one stage per request; never two */
      pid_t pid = syncfd >= 3 && syncfd < 4096 ? fork_stage(fds[0], fds[1], (int)syncfd) : -1;
      close(fds[0]);
      close(fds[1]);
      if (pid > 0) stage = pid;
      unsigned char reply[5] = {'P'};
      put_le32(reply + 1, pid > 0 ? (uint32_t)pid : 0);
      if (write_full(sock, reply, sizeof reply) < 0) break;
      continue;
    }
    for (int i = 0; i < nfds; i++) close(fds[i]);
    if (type == 'W' && read_full(sock, body, 4) == 0) {
      uint32_t pid = get_le32(body);
      reap(&stage); /* the stage's first process exits before its child is reparented to us */
      int st = -1;
      while (waitpid((pid_t)pid, &st, 0) < 0 && errno == EINTR) {
      }
      unsigned char reply[5] = {'w'};
      put_le32(reply + 1, (uint32_t)st);
      if (write_full(sock, reply, sizeof reply) < 0) break;
      continue;
    }
    if (type == 'X' && read_full(sock, body, 12) == 0) {
      int32_t status = (int32_t)get_le32(body);
      uint32_t wait_pid = get_le32(body + 4), len = get_le32(body + 8);
      char *follow = NULL;
      if (len > 0) {
        follow = len <= MAX_PAYLOAD ? malloc(len) : NULL;
        if (!follow || read_full(sock, follow, len) < 0 || follow[len - 1] != 0) break;
      }
      close(sock);
      reap(&stage);
      if (wait_pid > 0) status = wait_forwarding((pid_t)wait_pid);
      else hold_forwarded(0);
      if (follow) follow_up(follow, len);
      return status;
    }
    break;
  }
  fprintf(stderr, "kapsel-runtime: the daemon stopped during the command; its outcome is unknown\n");
  exit(1);
}

/* The exit status when the daemon did the work; -1 when it did nothing (run Node). */
static int try_daemon(int argc, char **argv) {
  const char *path = getenv("KAPSEL_RUNTIME_DAEMON_SOCKET");
  if (!path || !*path) path = DEFAULT_SOCKET;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0 || !same_world(sock) || send_request(sock, argc, argv) < 0) {
    close(sock);
    return -1;
  }
  char answer;
  if (read_full(sock, &answer, 1) < 0 || answer != 'A') {
    close(sock); /* declined or gone before doing anything: run Node */
    return -1;
  }
  return follow_daemon(sock);
}

int main(int argc, char **argv) {
  const char *verb = verb_of(argc, argv);
  if (verb && in_list(verb, DAEMON_VERBS)) {
    if (strcmp(verb, "run") == 0 || strcmp(verb, "exec") == 0) hold_forwarded(1);
    int status = try_daemon(argc, argv);
    if (status >= 0) return status;
  }
  run_node(argv);
  return 1;
}
