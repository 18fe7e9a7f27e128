/*
 * kapsel-vmm: the host side of a VM container; its pid is the container's pid.
 *
 *   kapsel-vmm --pid-file FILE --fifo FIFO --log FILE [--error-file FILE] [--cgroup-procs FILE]...
 *              -- VMM ARGS...
 *
 * The first process forks the supervisor and exits once the VMM runs (0, pid file written) or
 * failed (1, the error in the error file, else on stderr), so the runtime's create returns while the VM boots. The
 * supervisor: setsid, joins the container's cgroups (every process after it is in them), then
 * runs the VMM (QEMU) with one end of a socketpair as fd 3, the other end being the VM's
 * virtio-serial port "kapsel" (native/guest-init.c describes the frames). A helper child blocks
 * opening the exec fifo for writing: `start` opens it for reading, the helper exits, and the
 * supervisor sends the guest 'S' (start). Then it relays stdin to the guest, the guest's stdout
 * and stderr to fds 1 and 2, and the signals it receives to the guest process; when the guest
 * reports the wait status it kills the VMM and ends the same way (exit code or signal).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define MAX_PROCS 16

static int report_fd = -1;

static void die(const char *what) {
  char msg[512];
  int n = snprintf(msg, sizeof msg, "kapsel-vmm: %s: %s\n", what, strerror(errno));
  if (n < 0) _exit(1);
  write_all(report_fd >= 0 ? report_fd : 2, msg, (size_t)n);
  _exit(1);
}

static int is_forwarded(int sig) {
  switch (sig) {
  case SIGKILL: case SIGSTOP: case SIGCHLD: case SIGPIPE: case SIGSEGV: case SIGBUS:
  case SIGFPE: case SIGILL: case SIGTRAP: case SIGABRT: case SIGSYS:
    return 0;
  default:
    return 1;
  }
}

/* Ends this process the way the guest process ended. */
static void end_like(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
    _exit(128 + sig);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 255);
}

static void copy_log_tail(const char *log) {
  int fd = open(log, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  off_t end = lseek(fd, 0, SEEK_END);
  lseek(fd, end > 4096 ? end - 4096 : 0, SEEK_SET);
  char buf[4096];
  ssize_t n = read_retry(fd, buf, sizeof buf);
  if (n > 0) write_all(2, buf, (size_t)n);
  close(fd);
}

int main(int argc, char **argv) {
  const char *pid_file = NULL, *fifo = NULL, *log = "/dev/null", *error_file = NULL;
  const char *procs[MAX_PROCS];
  int n_procs = 0, i = 1;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--")) { i++; break; }
    if (i + 1 >= argc) break;
    if (!strcmp(argv[i], "--pid-file")) pid_file = argv[++i];
    else if (!strcmp(argv[i], "--fifo")) fifo = argv[++i];
    else if (!strcmp(argv[i], "--log")) log = argv[++i];
    else if (!strcmp(argv[i], "--error-file")) error_file = argv[++i];
    else if (!strcmp(argv[i], "--cgroup-procs") && n_procs < MAX_PROCS) procs[n_procs++] = argv[++i];
    else break;
  }
  if (i >= argc || !pid_file || !fifo) {
    fprintf(stderr, "usage: kapsel-vmm --pid-file FILE --fifo FIFO [--log FILE] [--cgroup-procs FILE]... -- VMM ARGS...\n");
    return 2;
  }
  char **vmm_argv = argv + i;

  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) die("pipe");
  pid_t sup = fork();
  if (sup < 0) die("fork");
  if (sup > 0) {
    close(report[1]);
    char msg[1024];
    size_t n = 0;
    for (;;) {
      ssize_t r = read_retry(report[0], msg + n, sizeof msg - 1 - n);
      if (r <= 0) break;
      n += (size_t)r;
      if (n == sizeof msg - 1 || (n >= 2 && !strncmp(msg, "ok", 2))) break;
    }
    if (n == 0) n = (size_t)snprintf(msg, sizeof msg, "kapsel-vmm: the supervisor exited before the VMM ran\n");
    if (strncmp(msg, "ok", 2) != 0) {
      int efd = error_file ? open(error_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
      write_all(efd >= 0 ? efd : 2, msg, n);
      return 1;
    }
    char text[32];
    int len = snprintf(text, sizeof text, "%d", sup);
    int fd = open(pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die("write the pid file");
    write_all(fd, text, (size_t)len);
    close(fd);
    return 0;
  }

  /* the supervisor */
  close(report[0]);
  report_fd = report[1];
  setsid();
  char self[32];
  int self_len = snprintf(self, sizeof self, "%d", getpid());
  for (int k = 0; k < n_procs; k++) {
    int fd = open(procs[k], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write_all(fd, self, (size_t)self_len) < 0) die(procs[k]);
    close(fd);
  }
  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  for (int s = 1; s < 32; s++)
    if (is_forwarded(s) || s == SIGCHLD) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");
  int exec_check[2];
  if (pipe2(exec_check, O_CLOEXEC) < 0) die("pipe");
  pid_t vmm = fork();
  if (vmm < 0) die("fork the VMM");
  if (vmm == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int null = open("/dev/null", O_RDONLY);
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (null < 0 || out < 0) die(log);
    dup2(null, 0);
    dup2(out, 1);
    dup2(out, 2);
    dup2(sv[1], 3); /* dup2 clears FD_CLOEXEC on the copy */
    execvp(vmm_argv[0], vmm_argv);
    int e = errno;
    char msg[512];
    int n = snprintf(msg, sizeof msg, "kapsel-vmm: run %s: %s\n", vmm_argv[0], strerror(e));
    if (n > 0) write_all(exec_check[1], msg, (size_t)n);
    _exit(127);
  }
  close(sv[1]);
  close(exec_check[1]);
  char msg[512];
  ssize_t n = read_retry(exec_check[0], msg, sizeof msg);
  if (n > 0) {
    write_all(report_fd, msg, (size_t)n);
    _exit(1);
  }
  close(exec_check[0]);

  pid_t opener = fork();
  if (opener < 0) die("fork");
  if (opener == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(report_fd);
    int fd = open(fifo, O_WRONLY | O_CLOEXEC);
    if (fd < 0) _exit(1);
    write_all(fd, "0", 1);
    _exit(0);
  }
  write_all(report_fd, "ok", 2);
  close(report_fd);
  report_fd = -1;

  int ctl = sv[0];
  static unsigned char in[(1 << 17) + 5];
  size_t in_len = 0;
  int started = 0, stdin_open = 0, vmm_status = 0, vmm_gone = 0;
  for (;;) {
    struct pollfd p[3] = {{ctl, POLLIN, 0}, {sfd, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (p[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD) continue;
        if (started) {
          unsigned char s[4];
          put_le32(s, (uint32_t)sig);
          write_frame(ctl, 'K', s, 4);
        } else if (sig != SIGWINCH && sig != SIGCONT && sig != SIGURG) {
          /* not started: the process does not exist yet, so the signal ends the container */
          kill(vmm, SIGKILL);
          kill(opener, SIGKILL);
          waitpid(vmm, NULL, 0);
          end_like(sig);
        }
      }
      int ws;
      pid_t w;
      while ((w = waitpid(-1, &ws, WNOHANG)) > 0) {
        if (w == opener && WIFEXITED(ws) && WEXITSTATUS(ws) == 0 && !started) {
          started = 1;
          stdin_open = 1;
          write_frame(ctl, 'S', NULL, 0);
        } else if (w == vmm) {
          vmm_gone = 1;
          vmm_status = ws;
        }
      }
    }
    if (p[2].revents) {
      static char buf[65536];
      ssize_t r = read(0, buf, sizeof buf);
      if (r > 0) {
        write_frame(ctl, 'I', buf, (uint32_t)r);
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        stdin_open = 0;
        write_frame(ctl, 'E', NULL, 0);
      }
    }
    int eof = 0;
    if (p[0].revents) {
      ssize_t r = read(ctl, in + in_len, sizeof in - in_len);
      if (r > 0) in_len += (size_t)r;
      else if (r == 0 || (errno != EINTR && errno != EAGAIN)) eof = 1;
      size_t off = 0;
      while (in_len - off >= 5) {
        uint32_t len = get_le32(in + off + 1);
        if (len > sizeof in - 5) {
          errno = EPROTO;
          die("a frame from the guest is too long");
        }
        if (in_len - off < 5 + len) break;
        unsigned char type = in[off];
        unsigned char *data = in + off + 5;
        off += 5 + len;
        if (type == 'O') write_all(1, data, len);
        else if (type == 'R') write_all(2, data, len);
        else if (type == 'X' && len == 4) {
          int status = (int)get_le32(data);
          kill(vmm, SIGKILL);
          kill(opener, SIGKILL);
          while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {}
          end_like(status);
        }
      }
      memmove(in, in + off, in_len - off);
      in_len -= off;
    }
    if (eof || vmm_gone) {
      kill(vmm, SIGKILL);
      kill(opener, SIGKILL);
      if (!vmm_gone) waitpid(vmm, &vmm_status, 0);
      char m[256];
      int k = snprintf(m, sizeof m, "kapsel-vmm: the VM stopped without reporting an exit status (VMM %s %d); its log (%s) ends:\n",
                       WIFSIGNALED(vmm_status) ? "killed by signal" : "exit status",
                       WIFSIGNALED(vmm_status) ? WTERMSIG(vmm_status) : WEXITSTATUS(vmm_status), log);
      if (k > 0) write_all(2, m, (size_t)k);
      copy_log_tail(log);
      _exit(255);
    }
  }
}
