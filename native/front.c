/*
 * kapsel-front: bin/kapsel-runtime. Hands `start`, `state`, `kill` and `delete` to a running
 * `kapsel-runtime daemon` (cli/runtime-daemon.ts) over a unix socket, passing argv, cwd, umask
 * and its fds 0-2 (SCM_RIGHTS), and exits with the status the daemon reports. Every other
 * command line, and these too when no daemon answers, runs Node on kapsel-runtime's entry as
 * the shell wrapper did: execv, same pid, same fds, same environment less NODE_EXTRA_CA_CERTS
 * (kapsel-runtime makes no TLS connection; Node parses the file at start-up).
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/kapsel-runtime-daemon.sock"
#define MAX_PAYLOAD (1 << 16)

static const char *const DAEMON_VERBS[] = {"start", "state", "kill", "delete", NULL};
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

static int read_full(int fd, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    got += (size_t)n;
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
  unsigned char head[12] = {'K', 'R', 'T', '1'};
  uint32_t v[2] = {(uint32_t)off, (uint32_t)mask}; /* little-endian host (x86_64, aarch64) */
  memcpy(head + 4, v, sizeof v);

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
  size_t total = sizeof head + off;
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  /* the rest, if the kernel took only part (the fds went with the first byte) */
  size_t sent = (size_t)n;
  while (sent < total) {
    const char *p = sent < sizeof head ? (const char *)head + sent : payload + (sent - sizeof head);
    size_t len = sent < sizeof head ? sizeof head - sent : total - sent;
    n = send(sock, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    sent += (size_t)n;
  }
  return 0;
}

/* The exit status from the daemon; returns only when the daemon did the work. */
static void try_daemon(int argc, char **argv) {
  const char *path = getenv("KAPSEL_RUNTIME_DAEMON_SOCKET");
  if (!path || !*path) path = DEFAULT_SOCKET;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return;
  strcpy(addr.sun_path, path);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return;
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0 || !same_world(sock) || send_request(sock, argc, argv) < 0) {
    close(sock);
    return;
  }
  char answer;
  if (read_full(sock, &answer, 1) < 0 || answer != 'A') {
    close(sock); /* declined or gone before doing anything: run Node */
    return;
  }
  int32_t status;
  if (read_full(sock, &status, sizeof status) < 0) {
    fprintf(stderr, "kapsel-runtime: the daemon stopped during the command; its outcome is unknown\n");
    exit(1);
  }
  exit(status);
}

int main(int argc, char **argv) {
  const char *verb = verb_of(argc, argv);
  if (verb && in_list(verb, DAEMON_VERBS)) try_daemon(argc, argv);
  run_node(argv);
  return 1;
}
