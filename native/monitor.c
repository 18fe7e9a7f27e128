/*
 * kapsel-monitor: the per-container monitor, policy-free (docs/architecture.md "Engine").
 *
 * One small static process per container holds the container's stdio after the CLI exits:
 *
 *   kapsel-monitor [-i] [-t] [-s MAXBYTES] [-n FILES] DIR -- EXIT...
 *   fd 3: status pipe to the CLI; fd 4: the sealed kapsel-stage memfd; fd 5: the stage's end of
 *   the runtime's SOCK_SEQPACKET pair
 *
 *  1 becomes a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER) and listens on DIR/attach.sock
 *    (clients get the output live and may send stdin and resizes) and, with -t, on
 *    DIR/console.sock (the runtime sends the pty master there, runc's --console-socket protocol);
 *    writes "ready" to fd 3;
 *  2 when the first client (the CLI) connects, forks and execs the stage from fd 4 with stdio =
 *    the container's pipes (stdin a pipe with -i, else /dev/null): the stage is our child, so the
 *    container init it forks is re-parented to us when the stage exits. The CLI drives the stage
 *    over its end of the socket pair (runtime create), starts the container, writes DIR/init.pid
 *    and sends frame 5; a CLI that goes away before that leaves nothing to monitor: we exit;
 *  3 writes the container's output as docker json-file lines {"log","stream","time"} to
 *    DIR/container.log, rotated when larger than MAXBYTES (FILES files kept), and to clients;
 *  4 when the init exits: drains the output, writes DIR/exit ("CODE SIGNAL SECONDS NANOS"),
 *    sends the exit frame to clients, and execs EXIT (the engine applies --rm / --restart).
 *
 * Frames (both directions): u8 type, 3 zero bytes, u32 big-endian length, payload.
 *   monitor -> client: 1 stdout, 2 stderr, 3 exit (payload: decimal wait(2) status)
 *   client -> monitor: 0 stdin data, 1 stdin close, 2 resize (u16 rows, u16 cols, big-endian),
 *                      5 started (the init pid is in DIR/init.pid),
 *                      3 "I apply the exit policy" (then the monitor waits after the exit frame
 *                      for 4 "done" and exits, or execs EXIT if the client goes away first)
 * It decides nothing: what to run, where, and what to do afterwards come from its arguments.
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
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 16
#define LINE_MAX_BYTES 16384
#define REAPED_MAX 64

static const char *dir;
static char path_log[4096], path_attach[4096], path_console[4096];
static int log_fd = -1;
static long long log_size;
static long long log_max = 10 * 1024 * 1024;
static int log_files = 2;
static int clients[MAX_CLIENTS];
static int nclients;
static int stdin_w = -1;  /* write end of the container's stdin pipe (-i without -t) */
static int pty_master = -1;
static int tty_mode, interactive;
static int handoff_fd = -1;  /* an attached client that applies the exit policy itself */
static int started;          /* frame 5 came: the container runs */
static struct winsize pending_ws;  /* a resize that came before the pty master */
static char pending_in[65536];     /* keys that came before the pty master */
static size_t pending_in_len;

struct partial { char buf[LINE_MAX_BYTES]; size_t len; const char *name; };
static struct partial out_part = { .name = "stdout" }, err_part = { .name = "stderr" };

static void die(const char *what) {
	fprintf(stderr, "kapsel-monitor: %s: %s\n", what, strerror(errno));
	exit(125);
}

static void path_in(char *out, const char *name) {
	if (snprintf(out, 4096, "%s/%s", dir, name) >= 4096) { errno = ENAMETOOLONG; die("path"); }
}

static int write_all(int fd, const void *buf, size_t len) {
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) { if (errno == EINTR) continue; return -1; }
		p += n; len -= (size_t)n;
	}
	return 0;
}

static void open_log(void) {
	log_fd = open(path_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (log_fd < 0) die("open log");
	struct stat st;
	log_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
}

/* container.log -> .1 -> .2 ... (FILES-1 rotated files kept), then a fresh container.log */
static void rotate(void) {
	char from[4200], to[4200];
	close(log_fd);
	if (log_files <= 1) { unlink(path_log); open_log(); return; }
	for (int i = log_files - 1; i >= 1; i--) {
		if (i == 1) snprintf(from, sizeof from, "%s", path_log);
		else snprintf(from, sizeof from, "%s.%d", path_log, i - 1);
		snprintf(to, sizeof to, "%s.%d", path_log, i);
		rename(from, to);
	}
	open_log();
}

static size_t json_escape(char *out, const char *in, size_t len) {
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '"' || c == '\\') { out[o++] = '\\'; out[o++] = (char)c; }
		else if (c == '\n') { out[o++] = '\\'; out[o++] = 'n'; }
		else if (c == '\r') { out[o++] = '\\'; out[o++] = 'r'; }
		else if (c == '\t') { out[o++] = '\\'; out[o++] = 't'; }
		else if (c < 0x20 || c == 0x7f) {
			memcpy(out + o, "\\u00", 4); o += 4;
			out[o++] = hex[c >> 4]; out[o++] = hex[c & 15];
		} else out[o++] = (char)c;
	}
	return o;
}

static void log_line(const char *stream, const char *line, size_t len) {
	static char out[LINE_MAX_BYTES * 6 + 256];
	struct timespec ts;
	struct tm tm;
	char when[64];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	size_t o = (size_t)snprintf(out, sizeof out, "{\"log\":\"");
	o += json_escape(out + o, line, len);
	o += (size_t)snprintf(out + o, sizeof out - o, "\",\"stream\":\"%s\",\"time\":\"%s.%09ldZ\"}\n", stream, when, ts.tv_nsec);
	if (write_all(log_fd, out, o) == 0) log_size += (long long)o;
	if (log_max > 0 && log_size >= log_max) rotate();
}

/* Splits output into lines; a line longer than LINE_MAX_BYTES is logged in pieces (docker too). */
static void log_bytes(struct partial *p, const char *data, size_t len) {
	for (size_t i = 0; i < len; i++) {
		p->buf[p->len++] = data[i];
		if (data[i] == '\n' || p->len == LINE_MAX_BYTES) { log_line(p->name, p->buf, p->len); p->len = 0; }
	}
}

static void flush_partial(struct partial *p) {
	if (p->len > 0) { log_line(p->name, p->buf, p->len); p->len = 0; }
}

static void drop_client(int i) {
	if (clients[i] == handoff_fd) handoff_fd = -1;
	close(clients[i]);
	clients[i] = clients[--nclients];
}

/*
 * A client that cannot be written to is not dropped here: frames it sent before it closed (the
 * CLI's "started" right before a detached run closes) are still to be read, and the poll loop
 * drops it at its EOF, where "the first client went away before started" is decided.
 */
static void send_frame(int type, const char *data, size_t len) {
	unsigned char h[8] = { (unsigned char)type, 0, 0, 0, (unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8), (unsigned char)len };
	for (int i = 0; i < nclients; i++) {
		if (write_all(clients[i], h, 8) == 0) write_all(clients[i], data, len);
	}
}

/* Reads what is available from an output fd; returns 0 at EOF (or EIO of a pty master). */
static int pump(int fd, int type) {
	char buf[32768];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
	if (n <= 0) return 0;
	log_bytes(type == 2 ? &err_part : &out_part, buf, (size_t)n);
	send_frame(type, buf, (size_t)n);
	return 1;
}

static int read_full(int fd, void *buf, size_t len) {
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return -1;
		p += n; len -= (size_t)n;
	}
	return 0;
}

/* One frame from a client; returns -1 when the client is gone. */
static int client_frame(int fd) {
	unsigned char h[8];
	char data[65536];
	if (read_full(fd, h, 8) < 0) return -1;
	uint32_t len = ((uint32_t)h[4] << 24) | ((uint32_t)h[5] << 16) | ((uint32_t)h[6] << 8) | h[7];
	if (len > sizeof data || read_full(fd, data, len) < 0) return -1;
	int in = tty_mode ? pty_master : stdin_w;
	if (h[0] == 0 && interactive && tty_mode && in < 0 && pending_in_len + len <= sizeof pending_in) {
		memcpy(pending_in + pending_in_len, data, len);
		pending_in_len += len;
	} else if (h[0] == 0 && interactive && in >= 0) write_all(in, data, len);
	else if (h[0] == 1 && !tty_mode && stdin_w >= 0) { close(stdin_w); stdin_w = -1; }
	else if (h[0] == 1 && tty_mode && interactive && pty_master >= 0) write_all(pty_master, "\x04", 1);
	else if (h[0] == 3) handoff_fd = fd;
	else if (h[0] == 5) started = 1;
	else if (h[0] == 2 && len == 4) {
		struct winsize ws = { .ws_row = (unsigned short)((data[0] & 0xff) << 8 | (data[1] & 0xff)), .ws_col = (unsigned short)((data[2] & 0xff) << 8 | (data[3] & 0xff)) };
		pending_ws = ws;
		if (pty_master >= 0) ioctl(pty_master, TIOCSWINSZ, &ws);
	}
	return 0;
}

/* sun_path holds 108 bytes: bind through /proc/self/fd/DIRFD/NAME, so a long DIR still fits */
static int listen_at(int dirfd, const char *name) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s", dirfd, name);
	const char *path = sa.sun_path;
	unlinkat(dirfd, name, 0);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) die("socket");
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) die(path);
	if (listen(s, 16) < 0) die("listen");
	chmod(path, 0600);
	return s;
}

/* runc's console protocol: one message whose SCM_RIGHTS carries the pty master. */
static int receive_master(int lsock) {
	int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) return -1;
	char data[256];
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl };
	int fd = -1;
	if (recvmsg(c, &m, MSG_CMSG_CLOEXEC) > 0) {
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	}
	close(c);
	return fd;
}

static long read_pid_file(void) {
	char p[4200], buf[32] = { 0 };
	snprintf(p, sizeof p, "%s/init.pid", dir);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static void write_exit(int status) {
	char p[4200], tmp[4200], buf[128];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	int n = snprintf(buf, sizeof buf, "%d %d %lld %ld\n", code, sig, (long long)ts.tv_sec, ts.tv_nsec);
	snprintf(p, sizeof p, "%s/exit", dir);
	snprintf(tmp, sizeof tmp, "%s/.exit.tmp", dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) return;
	write_all(fd, buf, (size_t)n);
	fsync(fd);
	close(fd);
	rename(tmp, p);
}

static void usage(void) {
	fprintf(stderr, "usage: kapsel-monitor [-i] [-t] [-s MAXBYTES] [-n FILES] DIR -- EXIT...\n");
	exit(125);
}

int main(int argc, char **argv) {
	int opt;
	while ((opt = getopt(argc, argv, "+its:n:")) != -1) {
		if (opt == 'i') interactive = 1;
		else if (opt == 't') tty_mode = 1;
		else if (opt == 's') log_max = atoll(optarg);
		else if (opt == 'n') log_files = atoi(optarg);
		else usage();
	}
	if (optind + 2 >= argc || strcmp(argv[optind + 1], "--") != 0) usage();
	dir = argv[optind];
	char **exitcmd = argv + optind + 2;

	/* fd 3: status pipe; fd 4: stage memfd; fd 5: stage socket (none is passed on by exec) */
	int status_fd = 3, stage_memfd = 4, stage_sock = 5;
	for (int fd = 3; fd <= 5; fd++) if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) { fprintf(stderr, "kapsel-monitor: fd %d is not open\n", fd); exit(125); }
	char p[4200];
	snprintf(p, sizeof p, "%s/monitor.log", dir);
	int errfd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (errfd < 0 || devnull < 0) die("open");
	dup2(devnull, 0); dup2(errfd, 1); dup2(errfd, 2);
	close(errfd);

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("prctl");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) die("signalfd");

	path_in(path_log, "container.log");
	path_in(path_attach, "attach.sock");
	path_in(path_console, "console.sock");
	open_log();
	int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) die(dir);
	int lsock = listen_at(dirfd, "attach.sock");
	int csock = tty_mode ? listen_at(dirfd, "console.sock") : -1;

	int out_r = -1, err_r = -1, out_w = devnull, err_w = devnull, in_r = devnull;
	if (!tty_mode) {
		int o[2], e[2];
		if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) die("pipe");
		out_r = o[0]; out_w = o[1]; err_r = e[0]; err_w = e[1];
		if (interactive) {
			int i[2];
			if (pipe2(i, O_CLOEXEC) < 0) die("pipe");
			in_r = i[0]; stdin_w = i[1];
		}
	}
	if (status_fd >= 0 && write_all(status_fd, "ready\n", 6) < 0) die("status");
	int first = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	if (first < 0) die("accept");
	clients[nclients++] = first;

	pid_t stage = fork();
	if (stage < 0) die("fork");
	if (stage == 0) {
		/* the runtime's sealed copy of the stage (CVE-2019-5736), its socket as fd 3 */
		dup2(in_r, 0); dup2(out_w, 1); dup2(err_w, 2);
		if (dup2(stage_sock, 3) < 0) _exit(125);
		sigprocmask(SIG_UNBLOCK, &mask, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		char *sargv[] = { "kapsel-stage", "3", NULL };
		char *senv[] = { NULL };
		fexecve(stage_memfd, sargv, senv);
		_exit(127);
	}
	close(stage_memfd);
	close(stage_sock);
	if (!tty_mode) { close(out_w); close(err_w); if (in_r != devnull) close(in_r); }

	long init_pid = -1;
	int init_status = 0, init_done = 0;
	pid_t reaped_pid[REAPED_MAX];
	int reaped_status[REAPED_MAX], nreaped = 0;
	int out_open = out_r >= 0, err_open = err_r >= 0;
	struct timespec drain_start = { 0, 0 };

	for (;;) {
		struct pollfd fds[6 + MAX_CLIENTS];
		int n = 0;
		fds[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = lsock, .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = out_open ? out_r : -1, .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = err_open ? err_r : -1, .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = pty_master, .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = csock, .events = POLLIN };
		int base = n;
		for (int i = 0; i < nclients; i++) fds[n++] = (struct pollfd){ .fd = clients[i], .events = POLLIN };
		int outputs_open = out_open || err_open || pty_master >= 0;
		if (init_done && !outputs_open) break;
		int timeout = -1;
		if (init_done) {
			/* a process outside the container's pid namespace may hold the pipes: drain 1 s at most */
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long ms = (now.tv_sec - drain_start.tv_sec) * 1000 + (now.tv_nsec - drain_start.tv_nsec) / 1000000;
			if (ms >= 1000) break;
			timeout = (int)(1000 - ms);
		}
		int r = poll(fds, (nfds_t)n, timeout);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) die("poll");
		if (r == 0) break;
		/* output first, so it is logged before the exit is noticed */
		if (fds[2].revents && !pump(out_r, 1)) { out_open = 0; close(out_r); }
		if (fds[3].revents && !pump(err_r, 2)) { err_open = 0; close(err_r); }
		if (fds[4].revents && !pump(pty_master, 1)) { close(pty_master); pty_master = -1; }
		if (fds[5].revents) {
			int m = receive_master(csock);
			if (m >= 0) {
				pty_master = m;
				fcntl(m, F_SETFL, O_NONBLOCK);
				if (pending_ws.ws_row > 0) ioctl(m, TIOCSWINSZ, &pending_ws);
				if (pending_in_len > 0) write_all(m, pending_in, pending_in_len);
				pending_in_len = 0;
			}
			close(csock); csock = -1; unlink(path_console);
		}
		int first_gone = 0;
		for (int i = nclients - 1; i >= 0; i--) {
			if (fds[base + i].revents && client_frame(clients[i]) < 0) {
				if (clients[i] == first) first_gone = 1;
				drop_client(i);
			}
		}
		if (started && init_pid < 0) {
			init_pid = read_pid_file();
			if (status_fd >= 0) { write_all(status_fd, "started\n", 8); close(status_fd); status_fd = -1; }
			for (int i = 0; i < nreaped; i++) if (reaped_pid[i] == init_pid) { init_status = reaped_status[i]; init_done = 1; }
			if (init_done && drain_start.tv_sec == 0) clock_gettime(CLOCK_MONOTONIC, &drain_start);
		}
		if (first_gone && init_pid < 0) {
			/* the CLI went away before the container started: it cleans up (or rm -f does) */
			unlink(path_attach);
			if (csock >= 0) unlink(path_console);
			return 0;
		}
		if (fds[1].revents) {
			int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0 && nclients < MAX_CLIENTS) clients[nclients++] = c;
			else if (c >= 0) close(c);
		}
		if (fds[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0) {}
			int st;
			pid_t w;
			while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
				if (w == stage) continue;
				if (init_pid > 0 && w == init_pid) { init_status = st; init_done = 1; }
				else if (init_pid < 0 && nreaped < REAPED_MAX) { reaped_pid[nreaped] = w; reaped_status[nreaped++] = st; }
			}
			if (init_done && drain_start.tv_sec == 0) clock_gettime(CLOCK_MONOTONIC, &drain_start);
		}
	}
	flush_partial(&out_part);
	flush_partial(&err_part);
	fsync(log_fd);
	write_exit(init_status);
	char s[32];
	int len = snprintf(s, sizeof s, "%d", init_status);
	send_frame(3, s, (size_t)len);
	int handoff = -1;
	for (int i = nclients - 1; i >= 0; i--) {
		if (clients[i] == handoff_fd) { handoff = clients[i]; clients[i] = clients[--nclients]; }
		else drop_client(i);
	}
	close(lsock);
	if (handoff >= 0) {
		/* the client applies the policy; it says "done" (frame 4), or we do it if it goes away */
		unsigned char h[8];
		if (read_full(handoff, h, 8) == 0 && h[0] == 4) { unlink(path_attach); return 0; }
		close(handoff);
	}
	unlink(path_attach);
	if (stdin_w >= 0) close(stdin_w);
	close(log_fd);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	execv(exitcmd[0], exitcmd);
	die("exec exit command");
	return 125;
}
