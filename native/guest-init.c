/*
 * kapsel-guest-init: pid 1 of a kapsel microVM (microvm/ builds the initramfs around it).
 *
 * 1. mounts /proc, /sys, /dev; loads the kernel modules listed in /kapsel/config in order
 *    (finit_module; the host resolved their dependencies from modules.dep)
 * 2. finds the virtio-serial port named "kapsel" and speaks framed messages over it with the
 *    host's kapsel-vmm: host -> guest  'S' start, 'I' stdin bytes, 'E' stdin closed, 'K' signal;
 *    guest -> host 'O' stdout bytes, 'R' stderr bytes, 'X' wait status (u32). A frame is
 *    1 type byte, a u32 little-endian length, then the payload.
 * 3. mounts the container rootfs (a directory of the initramfs, or a block device), mounts
 *    proc/sys/dev inside it, sets the hostname, waits for 'S', then runs the process chrooted
 *    with its env, cwd, uid/gid and groups; stdin/stdout/stderr are three pipes relayed over
 *    the port, so stdout and stderr stay apart
 * 4. when the process exits: drains its output, kills what is left, reports the wait status
 *    and powers off.
 *
 * /kapsel/config is a list of NUL-terminated key and value strings (microvm/guest-config.ts).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define MAX_ITEMS 4096

static int port = -1;
static char *cfg_args[MAX_ITEMS], *cfg_env[MAX_ITEMS], *cfg_modules[MAX_ITEMS];
static int n_args, n_env, n_modules;
static gid_t cfg_gids[256];
static int n_gids;
static const char *cfg_cwd = "/", *cfg_hostname, *cfg_root = "/rootfs", *cfg_blockdev, *cfg_fstype = "ext4", *cfg_portname = "kapsel";
static uid_t cfg_uid;
static gid_t cfg_gid;
static int cfg_umask = -1;

static void send_frame(char type, const void *data, uint32_t len) {
  if (port >= 0) write_frame(port, type, data, len);
}

/* The wait status frame: a u32, little-endian. */
static void send_status(int status) {
  unsigned char st[4];
  put_le32(st, (uint32_t)status);
  send_frame('X', st, 4);
}

static void power_off(void) {
  sync();
  reboot(RB_POWER_OFF);
  for (;;) pause();
}

/* Reports a failure before the process runs (as stderr text and status 127), then powers off. */
static void fail(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg - 2, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n > sizeof msg - 2) n = sizeof msg - 2;
  int k = snprintf(msg + n, sizeof msg - (size_t)n, "%s%s\n", errno ? ": " : "", errno ? strerror(errno) : "");
  if (k > 0) n += k;
  if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
  int kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  if (kmsg >= 0) write_all(kmsg, msg, (size_t)n), close(kmsg);
  send_frame('R', "kapsel-guest-init: ", 19);
  send_frame('R', msg, (uint32_t)n);
  send_status(127 << 8);
  power_off();
}

static char *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n == cap) buf = realloc(buf, cap *= 2);
    if (!buf) return NULL;
    ssize_t r = read_retry(fd, buf + n, cap - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  *len = n;
  return buf;
}

static void load_config(void) {
  size_t len = 0;
  char *buf = read_file("/kapsel/config", &len);
  if (!buf) fail("read /kapsel/config");
  size_t i = 0;
  while (i < len) {
    char *key = buf + i;
    char *kend = memchr(key, 0, len - i);
    if (!kend) break;
    i = (size_t)(kend - buf) + 1;
    if (i >= len) break;
    char *val = buf + i;
    char *vend = memchr(val, 0, len - i);
    if (!vend) break;
    i = (size_t)(vend - buf) + 1;
    if (!strcmp(key, "arg") && n_args < MAX_ITEMS - 1) cfg_args[n_args++] = val;
    else if (!strcmp(key, "env") && n_env < MAX_ITEMS - 1) cfg_env[n_env++] = val;
    else if (!strcmp(key, "module") && n_modules < MAX_ITEMS - 1) cfg_modules[n_modules++] = val;
    else if (!strcmp(key, "cwd")) cfg_cwd = val;
    else if (!strcmp(key, "hostname")) cfg_hostname = val;
    else if (!strcmp(key, "root")) cfg_root = val;
    else if (!strcmp(key, "blockdev")) cfg_blockdev = val;
    else if (!strcmp(key, "fstype")) cfg_fstype = val;
    else if (!strcmp(key, "port")) cfg_portname = val;
    else if (!strcmp(key, "uid")) cfg_uid = (uid_t)strtoul(val, NULL, 10);
    else if (!strcmp(key, "gid")) cfg_gid = (gid_t)strtoul(val, NULL, 10);
    else if (!strcmp(key, "umask")) cfg_umask = (int)strtol(val, NULL, 8);
    else if (!strcmp(key, "group") && n_gids < 256) cfg_gids[n_gids++] = (gid_t)strtoul(val, NULL, 10);
  }
  if (n_args == 0) fail("no process args in /kapsel/config");
}

static void mount_or_fail(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  mkdir(dst, 0755);
  if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY) fail("mount %s on %s", type, dst);
}

static void load_modules(void) {
  for (int i = 0; i < n_modules; i++) {
    int fd = open(cfg_modules[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open module %s", cfg_modules[i]);
    if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST) fail("load module %s", cfg_modules[i]);
    close(fd);
  }
}

/* /dev/vportNpM of the virtio-serial port whose name is cfg_portname; waits up to 10 s. */
static int open_port(void) {
  for (int attempt = 0; attempt < 1000; attempt++) {
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') continue;
      char path[512];
      snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
      size_t len = 0;
      char *name = read_file(path, &len);
      if (!name) continue;
      while (len > 0 && (name[len - 1] == '\n' || name[len - 1] == 0)) len--;
      int match = len == strlen(cfg_portname) && !memcmp(name, cfg_portname, len);
      free(name);
      if (!match) continue;
      snprintf(path, sizeof path, "/dev/%s", e->d_name);
      int fd = open(path, O_RDWR | O_CLOEXEC);
      if (fd >= 0) {
        closedir(d);
        return fd;
      }
    }
    if (d) closedir(d);
    sleep_ms(10);
  }
  errno = ENOENT;
  fail("find the virtio-serial port `%s`", cfg_portname);
  return -1;
}

static void mount_rootfs(void) {
  if (cfg_blockdev) {
    struct stat st;
    for (int i = 0; i < 1000 && stat(cfg_blockdev, &st) < 0; i++) sleep_ms(10);
    mount_or_fail(cfg_blockdev, cfg_root, cfg_fstype, 0, NULL);
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/proc", cfg_root);
  mount_or_fail("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  snprintf(path, sizeof path, "%s/sys", cfg_root);
  mount_or_fail("sysfs", path, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  snprintf(path, sizeof path, "%s/dev", cfg_root);
  mount_or_fail("devtmpfs", path, "devtmpfs", MS_NOSUID, "mode=0755");
  snprintf(path, sizeof path, "%s/dev/pts", cfg_root);
  mount_or_fail("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  snprintf(path, sizeof path, "%s/dev/shm", cfg_root);
  mount_or_fail("shm", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

/* execvpe with the container's PATH (execvpe would use ours). */
static void exec_process(void) {
  const char *file = cfg_args[0];
  if (strchr(file, '/')) {
    execve(file, cfg_args, cfg_env);
    return;
  }
  const char *pathenv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (int i = 0; i < n_env; i++)
    if (!strncmp(cfg_env[i], "PATH=", 5)) pathenv = cfg_env[i] + 5;
  int saved = ENOENT;
  while (*pathenv) {
    const char *colon = strchr(pathenv, ':');
    size_t dlen = colon ? (size_t)(colon - pathenv) : strlen(pathenv);
    char full[4096];
    snprintf(full, sizeof full, "%.*s/%s", (int)dlen, dlen ? pathenv : ".", file);
    execve(full, cfg_args, cfg_env);
    if (errno != ENOENT) saved = errno;
    pathenv += dlen + (colon ? 1 : 0);
  }
  errno = saved;
}

static pid_t spawn_process(int in_r, int out_w, int err_w) {
  pid_t pid = fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    dup2(in_r, 0);
    dup2(out_w, 1);
    dup2(err_w, 2);
    const char *step = "chroot";
    if (chroot(cfg_root) < 0) goto failed;
    step = "chdir to the working directory";
    if (chdir(cfg_cwd) < 0) goto failed;
    step = "setgroups";
    if (setgroups((size_t)n_gids, cfg_gids) < 0) goto failed;
    step = "setgid";
    if (setgid(cfg_gid) < 0) goto failed;
    step = "setuid";
    if (setuid(cfg_uid) < 0) goto failed;
    if (cfg_umask >= 0) umask((mode_t)cfg_umask);
    step = "exec";
    exec_process();
  failed:;
    int e = errno;
    char msg[512];
    int n = snprintf(msg, sizeof msg, "kapsel-guest-init: %s %s: %s\n", step, step[0] == 'e' ? cfg_args[0] : "", strerror(e));
    if (n > 0) write_all(2, msg, (size_t)n);
    _exit(e == ENOENT ? 127 : 126);
  }
  return pid;
}

/* Copies what is readable now from fd into frames of `type`: 1 data, 0 EOF, -1 nothing now. */
static int relay(int fd, char type) {
  char buf[16384];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0) return errno == EAGAIN || errno == EINTR ? -1 : 0;
  if (n == 0) return 0;
  send_frame(type, buf, (uint32_t)n);
  return 1;
}

int main(void) {
  mkdir("/proc", 0755);
  mkdir("/sys", 0755);
  mkdir("/dev", 0755);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  load_config();
  load_modules();
  port = open_port();
  mount_rootfs();
  if (cfg_hostname && sethostname(cfg_hostname, strlen(cfg_hostname)) < 0) fail("sethostname %s", cfg_hostname);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) fail("signalfd");

  /* buffered port input: frames may arrive split */
  static unsigned char in[1 << 17];
  size_t in_len = 0;
  int in_pipe[2] = {-1, -1}, out_pipe[2], err_pipe[2];
  pid_t child = 0;
  int out_open = 1, err_open = 1, status = 0, exited = 0;
  if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) fail("pipe");

  for (;;) {
    struct pollfd p[4] = {{port, POLLIN, 0}, {sfd, POLLIN, 0}, {out_open && child ? out_pipe[0] : -1, POLLIN, 0}, {err_open && child ? err_pipe[0] : -1, POLLIN, 0}};
    if (poll(p, 4, -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll");
    }
    if (p[0].revents & POLLIN) {
      ssize_t n = read(port, in + in_len, sizeof in - in_len);
      if (n > 0) in_len += (size_t)n;
      size_t off = 0;
      while (in_len - off >= 5) {
        uint32_t len = get_le32(in + off + 1);
        if (len > sizeof in - 5) fail("frame of %u bytes from the host", len);
        if (in_len - off < 5 + len) break;
        unsigned char type = in[off];
        unsigned char *data = in + off + 5;
        off += 5 + len;
        if (type == 'S' && !child) {
          child = spawn_process(in_pipe[0], out_pipe[1], err_pipe[1]);
          close(in_pipe[0]);
          close(out_pipe[1]);
          close(err_pipe[1]);
          fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
          fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
        } else if (type == 'I' && in_pipe[1] >= 0) {
          write_all(in_pipe[1], data, len);
        } else if (type == 'E' && in_pipe[1] >= 0) {
          close(in_pipe[1]);
          in_pipe[1] = -1;
        } else if (type == 'K' && len == 4) {
          int sig = (int)get_le32(data);
          if (child > 0) kill(child, sig);
        }
      }
      memmove(in, in + off, in_len - off);
      in_len -= off;
    }
    if (p[2].revents) out_open = relay(out_pipe[0], 'O') != 0;
    if (p[3].revents) err_open = relay(err_pipe[0], 'R') != 0;
    if (p[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {}
      int ws;
      pid_t w;
      while ((w = waitpid(-1, &ws, WNOHANG)) > 0) {
        if (w == child) {
          status = ws;
          exited = 1;
        }
      }
    }
    if (exited) {
      /* what the process wrote before it exited; children it left behind may keep the pipes open */
      while (out_open && relay(out_pipe[0], 'O') == 1) {}
      while (err_open && relay(err_pipe[0], 'R') == 1) {}
      kill(-1, SIGKILL);
      send_status(status);
      power_off();
    }
  }
}
