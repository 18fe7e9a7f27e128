/*
 * kapsel-stage: the policy-free native stage between fork and exec.
 *
 * A multithreaded Node process cannot unshare a user namespace, cannot become pid 1 of a new
 * pid namespace, and must not run JavaScript in a forked child. This program does exactly the
 * steps that need a single-threaded process, and nothing else: every value it applies (which
 * namespaces, which uid, which capability masks, which seccomp bytes, which argv) comes from the
 * TypeScript parent over a SOCK_SEQPACKET socket. It decides nothing. See docs/architecture.md.
 *
 * Protocol (one message per packet: u32 type, u32 payload length, then TLV records
 * u16 tag, u16 reserved, u32 length, bytes padded to 4):
 *   parent -> stage0   BOOTSTRAP   namespaces to join (fd paths) and clone flags to unshare
 *   stage0 -> parent   UNSHARED    sync 1: namespaces exist; parent writes id maps, time offsets
 *   parent -> stage0   CONTINUE
 *   stage0 -> parent   PID         sync 2: host pid of the forked init; stage0 then exits
 *   parent -> init     FSOPEN      fsopen(2) a filesystem type inside the container's namespaces
 *   init   -> parent   FD          the fs context fd (SCM_RIGHTS)
 *   parent -> init     FINALIZE    credentials, capabilities, seccomp, cwd, argv, env (+ fds)
 *   init   -> parent   READY       sync 3: everything applied; init now waits on the exec fifo
 *   any    -> parent   ERROR       u32 errno + message; the sender exits
 *   parent -> stage0   SPAWN       instead of BOOTSTRAP: argv + env of a host helper (a VM
 *                                  container's kapsel-vmm); stage0 forks and execs it with its
 *                                  own stdio, waits for it, and exits after
 *   stage0 -> parent   EXITED      u32 wait status of that helper
 * After READY the init blocks opening the exec fifo for writing (until `start` opens it for
 * reading), then execs. Without a fifo it execs at once (exec and run paths).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

enum msg_type {
	MSG_BOOTSTRAP = 1,
	MSG_UNSHARED = 2,
	MSG_CONTINUE = 3,
	MSG_PID = 4,
	MSG_FSOPEN = 5,
	MSG_FD = 6,
	MSG_FINALIZE = 7,
	MSG_READY = 8,
	MSG_ERROR = 9,
	MSG_SPAWN = 10,
	MSG_EXITED = 11,
};

enum tag {
	/* BOOTSTRAP */
	T_CLONE_FLAGS = 1, /* u32 */
	T_JOIN = 2,        /* u32 nstype + path */
	T_SYNC_UNSHARE = 3, /* flag: wait for CONTINUE after unshare */
	T_SETSID = 4,      /* flag: the init starts a new session */
	/* FSOPEN */
	T_FSTYPE = 10, /* string */
	/* FINALIZE */
	T_CWD = 20,
	T_UID = 21,
	T_GID = 22,
	T_GIDS = 23, /* u32 array; present means call setgroups */
	T_UMASK = 24,
	T_CAPS = 25, /* 5 x u64: bounding, effective, permitted, inheritable, ambient */
	T_LAST_CAP = 26,
	T_NNP = 27,
	T_SECCOMP = 28, /* struct sock_filter array */
	T_SECCOMP_FLAGS = 29,
	T_ARG = 30,
	T_ENV = 31,
	T_PRESERVE_FDS = 32, /* u32: fds 3 .. 3+n-1 are kept open for the process */
	T_FD_FIFO = 33,      /* u32 index into the SCM_RIGHTS fds: exec fifo (O_PATH) */
	T_FD_TTY = 34,       /* u32 index: terminal slave to make stdio + controlling tty */
	T_FD_ROOT = 35,      /* u32 index: directory to chroot into (no pivot_root) */
	T_PERSONALITY = 36,
	T_KEYRING = 37,      /* string: join a new session keyring of this name */
	T_HOOK_STATE = 40,   /* bytes: state JSON given to each startContainer hook on stdin */
	T_HOOK_PATH = 41,    /* starts a hook */
	T_HOOK_ARG = 42,
	T_HOOK_ENV = 43,
	T_HOOK_TIMEOUT = 44, /* u32 seconds, 0 = none */
};

#define MAX_MSG (1 << 20)
#define MAX_FDS 8
#define MAX_LIST 4096

static int sync_fd = -1;

struct msg {
	uint32_t type;
	uint32_t len;
	unsigned char *payload;
	int fds[MAX_FDS];
	int nfds;
};

struct tlv_iter {
	const unsigned char *p, *end;
};

/* ---------------------------------------------------------------- messages */

static void send_msg(uint32_t type, const void *payload, uint32_t len, int fd)
{
	unsigned char hdr[8];
	memcpy(hdr, &type, 4);
	memcpy(hdr + 4, &len, 4);
	struct iovec iov[2] = { { hdr, 8 }, { (void *)payload, len } };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (sendmsg(sync_fd, &mh, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			_exit(120);
	}
}

/* Report an error to the parent and exit. The parent turns it into a SyscallError. */
__attribute__((noreturn, format(printf, 2, 3))) static void bail(int err, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text + 4, sizeof(text) - 4, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(text) - 5)
		n = sizeof(text) - 5;
	uint32_t e = (uint32_t)err;
	memcpy(text, &e, 4);
	if (sync_fd >= 0)
		send_msg(MSG_ERROR, text, 4 + n, -1);
	else
		fprintf(stderr, "kapsel-stage: %s\n", text + 4);
	_exit(1);
}

static void recv_msg(struct msg *m)
{
	static unsigned char buf[MAX_MSG];
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	do
		n = recvmsg(sync_fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		_exit(121); /* the parent went away: nothing to report to */
	if (n < 8)
		bail(errno ? errno : EPROTO, "receive message from parent");
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		bail(EMSGSIZE, "message from parent truncated");
	memcpy(&m->type, buf, 4);
	memcpy(&m->len, buf + 4, 4);
	if (m->len != (uint32_t)n - 8)
		bail(EPROTO, "message length mismatch");
	m->payload = buf + 8;
	m->nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (int i = 0; i < count && m->nfds < MAX_FDS; i++)
			memcpy(&m->fds[m->nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
}

static int tlv_next(struct tlv_iter *it, uint16_t *tag, const unsigned char **val, uint32_t *len)
{
	if (it->p + 8 > it->end)
		return 0;
	memcpy(tag, it->p, 2);
	memcpy(len, it->p + 4, 4);
	if (*len > (uint32_t)(it->end - it->p - 8))
		bail(EPROTO, "malformed record");
	*val = it->p + 8;
	it->p += 8 + ((*len + 3) & ~3u);
	return 1;
}

static uint32_t u32(const unsigned char *v, uint32_t len)
{
	uint32_t x = 0;
	if (len != 4)
		bail(EPROTO, "bad u32 record");
	memcpy(&x, v, 4);
	return x;
}

/* Strings are sent NUL-terminated; check it rather than trust it. */
static const char *str(const unsigned char *v, uint32_t len)
{
	if (len == 0 || v[len - 1] != '\0')
		bail(EPROTO, "bad string record");
	return (const char *)v;
}

static int msg_fd(const struct msg *m, uint32_t index)
{
	if (index >= (uint32_t)m->nfds)
		bail(EPROTO, "missing fd %u", index);
	return m->fds[index];
}

/* ---------------------------------------------------------------- stage 0 */

struct join {
	int nstype;
	int fd;
	const char *path;
};

/* Join order: the user namespace first (it grants the capabilities for the others), the mount
 * namespace last (path lookups after it would resolve in the container). */
static int join_rank(int nstype)
{
	switch (nstype) {
	case CLONE_NEWUSER: return 0;
	case CLONE_NEWNS: return 2;
	default: return 1;
	}
}

/* SPAWN: run a host helper as our child (so its orphans go to our parent, the engine's
 * monitor, a subreaper) and report its wait status. Its argv[0] is an absolute path. */
__attribute__((noreturn)) static void spawn_helper(const struct msg *m)
{
	static char *argv[MAX_LIST + 1], *envp[MAX_LIST + 1];
	int argc = 0, envc = 0;
	struct tlv_iter it = { m->payload, m->payload + m->len };
	uint16_t tag;
	const unsigned char *v;
	uint32_t len;
	while (tlv_next(&it, &tag, &v, &len)) {
		if (tag == T_ARG && argc < MAX_LIST)
			argv[argc++] = (char *)str(v, len);
		else if (tag == T_ENV && envc < MAX_LIST)
			envp[envc++] = (char *)str(v, len);
	}
	if (argc == 0 || argv[0][0] != '/')
		bail(EINVAL, "spawn: argv[0] must be an absolute path");
	pid_t pid = fork();
	if (pid < 0)
		bail(errno, "fork %s", argv[0]);
	if (pid == 0) {
		fcntl(sync_fd, F_SETFD, FD_CLOEXEC);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			bail(errno, "wait for %s", argv[0]);
	uint32_t st = (uint32_t)status;
	send_msg(MSG_EXITED, &st, 4, -1);
	_exit(0);
}

static void bootstrap(int *setsid_flag)
{
	struct msg m;
	recv_msg(&m);
	if (m.type == MSG_SPAWN)
		spawn_helper(&m);
	if (m.type != MSG_BOOTSTRAP)
		bail(EPROTO, "expected bootstrap, got %u", m.type);

	struct join joins[16];
	int njoins = 0;
	uint32_t clone_flags = 0;
	int sync_unshare = 0;
	int in_userns = 0;
	struct tlv_iter it = { m.payload, m.payload + m.len };
	uint16_t tag;
	const unsigned char *v;
	uint32_t len;
	while (tlv_next(&it, &tag, &v, &len)) {
		switch (tag) {
		case T_CLONE_FLAGS: clone_flags = u32(v, len); break;
		case T_SYNC_UNSHARE: sync_unshare = 1; break;
		case T_SETSID: *setsid_flag = 1; break;
		case T_JOIN:
			if (len < 6 || njoins == 16)
				bail(EPROTO, "bad join record");
			memcpy(&joins[njoins].nstype, v, 4);
			joins[njoins].path = str(v + 4, len - 4);
			njoins++;
			break;
		default: bail(EPROTO, "unknown bootstrap record %u", tag);
		}
	}

	/* Open every path before joining any: after setns(CLONE_NEWNS) they would resolve elsewhere. */
	for (int i = 0; i < njoins; i++) {
		joins[i].fd = open(joins[i].path, O_RDONLY | O_CLOEXEC);
		if (joins[i].fd < 0)
			bail(errno, "open namespace `%s`", joins[i].path);
	}
	for (int rank = 0; rank <= 2; rank++) {
		for (int i = 0; i < njoins; i++) {
			if (join_rank(joins[i].nstype) != rank)
				continue;
			if (setns(joins[i].fd, joins[i].nstype) < 0)
				bail(errno, "setns `%s`", joins[i].path);
			close(joins[i].fd);
		}
	}

	for (int i = 0; i < njoins; i++)
		if (joins[i].nstype == CLONE_NEWUSER)
			in_userns = 1;
	if (clone_flags & CLONE_NEWUSER)
		in_userns = 1;
	if (clone_flags && unshare((int)clone_flags) < 0)
		bail(errno, "unshare 0x%x", clone_flags);

	/* sync 1: the parent writes uid_map/gid_map and timens_offsets for this process. */
	if (sync_unshare) {
		uint32_t pid = (uint32_t)getpid();
		send_msg(MSG_UNSHARED, &pid, 4, -1);
		recv_msg(&m);
		if (m.type != MSG_CONTINUE)
			bail(EPROTO, "expected continue, got %u", m.type);
	}

	/* In a user namespace (new or joined) act as its root from here on, so what the init
	 * creates (fsopen'd filesystems) belongs to the container's root. An unmapped root
	 * (EINVAL) keeps the overflow id, as the kernel shows it. */
	if (in_userns) {
		if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
			bail(errno, "setresgid 0 in the user namespace");
		if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
			bail(errno, "setresuid 0 in the user namespace");
	}
}

/* ---------------------------------------------------------------- init */

static void do_fsopen(const struct msg *m)
{
	struct tlv_iter it = { m->payload, m->payload + m->len };
	uint16_t tag;
	const unsigned char *v;
	uint32_t len;
	const char *fstype = NULL;
	while (tlv_next(&it, &tag, &v, &len))
		if (tag == T_FSTYPE)
			fstype = str(v, len);
	if (!fstype)
		bail(EPROTO, "fsopen without a type");
	int fd = (int)syscall(SYS_fsopen, fstype, 1 /* FSOPEN_CLOEXEC */);
	if (fd < 0)
		bail(errno, "fsopen `%s`", fstype);
	send_msg(MSG_FD, NULL, 0, fd);
	close(fd);
}

#define MAX_HOOKS 16
#define MAX_HOOK_LIST 256

struct hook {
	const char *path;
	char *argv[MAX_HOOK_LIST + 1];
	int argc;
	char *envp[MAX_HOOK_LIST + 1];
	int envc;
	unsigned timeout_s;
};

struct finalize {
	const char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t gids[MAX_LIST];
	int ngids, setgroups;
	int umask_set;
	mode_t umask;
	int caps_set;
	uint64_t caps[5];
	int last_cap;
	int nnp;
	const unsigned char *bpf;
	uint32_t bpf_len, seccomp_flags;
	char *argv[MAX_LIST + 1];
	int argc;
	char *envp[MAX_LIST + 1];
	int envc;
	int preserve_fds;
	int fifo_fd, tty_fd, root_fd;
	int personality_set;
	unsigned long persona;
	const char *keyring;
	struct hook hooks[MAX_HOOKS];
	int nhooks;
	const unsigned char *hook_state;
	uint32_t hook_state_len;
};

static void parse_finalize(const struct msg *m, struct finalize *f)
{
	memset(f, 0, sizeof(*f));
	f->fifo_fd = f->tty_fd = f->root_fd = -1;
	f->last_cap = CAP_LAST_CAP;
	struct tlv_iter it = { m->payload, m->payload + m->len };
	uint16_t tag;
	const unsigned char *v;
	uint32_t len;
	while (tlv_next(&it, &tag, &v, &len)) {
		switch (tag) {
		case T_CWD: f->cwd = str(v, len); break;
		case T_UID: f->uid = u32(v, len); break;
		case T_GID: f->gid = u32(v, len); break;
		case T_GIDS:
			if (len % 4 || len / 4 > MAX_LIST)
				bail(EPROTO, "bad gids record");
			f->setgroups = 1;
			f->ngids = len / 4;
			memcpy(f->gids, v, len);
			break;
		case T_UMASK: f->umask_set = 1; f->umask = u32(v, len); break;
		case T_CAPS:
			if (len != 40)
				bail(EPROTO, "bad caps record");
			f->caps_set = 1;
			memcpy(f->caps, v, 40);
			break;
		case T_LAST_CAP: f->last_cap = (int)u32(v, len); break;
		case T_NNP: f->nnp = 1; break;
		case T_SECCOMP:
			if (len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > 0xffff)
				bail(EPROTO, "bad seccomp record");
			f->bpf = v;
			f->bpf_len = len;
			break;
		case T_SECCOMP_FLAGS: f->seccomp_flags = u32(v, len); break;
		case T_ARG:
			if (f->argc == MAX_LIST)
				bail(E2BIG, "too many arguments");
			f->argv[f->argc++] = (char *)str(v, len);
			break;
		case T_ENV:
			if (f->envc == MAX_LIST)
				bail(E2BIG, "too many environment variables");
			f->envp[f->envc++] = (char *)str(v, len);
			break;
		case T_PRESERVE_FDS: f->preserve_fds = (int)u32(v, len); break;
		case T_FD_FIFO: f->fifo_fd = msg_fd(m, u32(v, len)); break;
		case T_FD_TTY: f->tty_fd = msg_fd(m, u32(v, len)); break;
		case T_FD_ROOT: f->root_fd = msg_fd(m, u32(v, len)); break;
		case T_PERSONALITY: f->personality_set = 1; f->persona = u32(v, len); break;
		case T_HOOK_STATE: f->hook_state = v; f->hook_state_len = len; break;
		case T_KEYRING: f->keyring = str(v, len); break;
		case T_HOOK_PATH:
			if (f->nhooks == MAX_HOOKS)
				bail(E2BIG, "too many startContainer hooks");
			f->hooks[f->nhooks++].path = str(v, len);
			break;
		case T_HOOK_ARG:
		case T_HOOK_ENV:
		case T_HOOK_TIMEOUT: {
			if (f->nhooks == 0)
				bail(EPROTO, "hook record before a hook path");
			struct hook *h = &f->hooks[f->nhooks - 1];
			if (tag == T_HOOK_TIMEOUT)
				h->timeout_s = u32(v, len);
			else if (tag == T_HOOK_ARG && h->argc < MAX_HOOK_LIST)
				h->argv[h->argc++] = (char *)str(v, len);
			else if (tag == T_HOOK_ENV && h->envc < MAX_HOOK_LIST)
				h->envp[h->envc++] = (char *)str(v, len);
			else
				bail(E2BIG, "too many hook arguments");
			break;
		}
		default: bail(EPROTO, "unknown finalize record %u", tag);
		}
	}
	if (f->argc == 0)
		bail(EINVAL, "no process args");
	f->argv[f->argc] = NULL;
	f->envp[f->envc] = NULL;
}

/* startContainer hooks (runtime-spec config.md): run in the container's namespaces after
 * `start`, before the user process; the state JSON arrives on stdin. A failing hook stops the
 * container: the parent is gone by now, so the error goes to stderr. */
static void run_start_hooks(struct finalize *f)
{
	for (int i = 0; i < f->nhooks; i++) {
		struct hook *h = &f->hooks[i];
		if (h->argc == 0)
			h->argv[h->argc++] = (char *)h->path;
		h->argv[h->argc] = NULL;
		h->envp[h->envc] = NULL;
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			bail(errno, "startContainer hook pipe");
		pid_t pid = fork();
		if (pid < 0)
			bail(errno, "fork startContainer hook");
		if (pid == 0) {
			if (dup2(p[0], 0) < 0)
				_exit(127);
			execve(h->path, h->argv, h->envp);
			fprintf(stderr, "kapsel-stage: startContainer hook `%s`: %s\n", h->path, strerror(errno));
			_exit(127);
		}
		close(p[0]);
		if (f->hook_state_len && write(p[1], f->hook_state, f->hook_state_len) < 0 && errno != EPIPE)
			bail(errno, "write state to startContainer hook");
		close(p[1]);
		int status = 0;
		unsigned waited_ms = 0;
		for (;;) {
			pid_t r = waitpid(pid, &status, WNOHANG);
			if (r == pid)
				break;
			if (r < 0 && errno != EINTR)
				bail(errno, "wait for startContainer hook");
			if (h->timeout_s && waited_ms >= h->timeout_s * 1000u) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				bail(ETIMEDOUT, "startContainer hook `%s` timed out after %us", h->path, h->timeout_s);
			}
			usleep(1000);
			waited_ms++;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bail(ECANCELED, "startContainer hook `%s` failed (status 0x%x)", h->path, status);
	}
}

static void load_seccomp(const struct finalize *f)
{
	struct sock_fprog prog = {
		.len = (unsigned short)(f->bpf_len / sizeof(struct sock_filter)),
		.filter = (struct sock_filter *)f->bpf,
	};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->seccomp_flags, &prog) < 0)
		bail(errno, "load seccomp filter");
}

static void apply_caps(const struct finalize *f)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(f->caps[1] >> (32 * i));
		data[i].permitted = (uint32_t)(f->caps[2] >> (32 * i));
		data[i].inheritable = (uint32_t)(f->caps[3] >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		bail(errno, "capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		bail(errno, "clear ambient capabilities");
	/* An ambient capability must be permitted and inheritable; runc warns and goes on when it
	 * is not (its default spec lists ambient without inheritable), so the same here. */
	for (int cap = 0; cap <= f->last_cap && cap < 64; cap++)
		if ((f->caps[4] >> cap) & 1)
			(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
}

/* execvp(3)'s search, but over the container's PATH from envp, done before READY so that a
 * missing executable fails `create` rather than `start` (as runc reports it). */
static const char *resolve_exec(const struct finalize *f, char *buf, size_t size)
{
	const char *file = f->argv[0];
	struct stat st;
	if (strchr(file, '/')) {
		if (stat(file, &st) < 0)
			bail(errno, "exec: `%s`", file);
		if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
			bail(EACCES, "exec: `%s`: not an executable file", file);
		return file;
	}
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (int i = 0; i < f->envc; i++)
		if (strncmp(f->envp[i], "PATH=", 5) == 0)
			path = f->envp[i] + 5;
	for (const char *p = path;; p = strchr(p, ':') + 1) {
		const char *end = strchr(p, ':');
		size_t dirlen = end ? (size_t)(end - p) : strlen(p);
		if (dirlen == 0)
			snprintf(buf, size, "%s", file);
		else
			snprintf(buf, size, "%.*s/%s", (int)dirlen, p, file);
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			return buf;
		if (!end)
			break;
	}
	bail(ENOENT, "exec: `%s`: executable file not found in $PATH", file);
}

__attribute__((noreturn)) static void finalize(const struct msg *m, int new_session)
{
	static struct finalize f;
	static char exec_path[4096];
	parse_finalize(m, &f);

	if (new_session && setsid() < 0)
		bail(errno, "setsid");
	if (f.tty_fd >= 0) {
		if (ioctl(f.tty_fd, TIOCSCTTY, 0) < 0)
			bail(errno, "set controlling terminal");
		for (int i = 0; i < 3; i++)
			if (dup3(f.tty_fd, i, 0) < 0)
				bail(errno, "dup terminal onto fd %d", i);
		close(f.tty_fd);
	}
	/* A session keyring of its own, so the container cannot see the host's keys (keyrings(7));
	 * kernels without keys (ENOSYS) go on, as runc does. */
	if (f.keyring && syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, f.keyring) < 0 && errno != ENOSYS)
		bail(errno, "join session keyring `%s`", f.keyring);
	if (f.root_fd >= 0) {
		if (fchdir(f.root_fd) < 0 || chroot(".") < 0)
			bail(errno, "chroot into the container root");
		close(f.root_fd);
	}
	if (f.personality_set && personality(f.persona) < 0)
		bail(errno, "personality 0x%lx", f.persona);

	/* CVE-2024-21626: no fd of the runtime survives exec; stdio and --preserve-fds stay. */
	if (syscall(SYS_close_range, 3 + f.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		bail(errno, "mark fds close-on-exec");

	if (f.caps_set)
		for (int cap = 0; cap <= f.last_cap; cap++)
			if (!((f.caps[0] >> cap) & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
				bail(errno, "drop capability %d from the bounding set", cap);

	/* Without no_new_privs the filter needs CAP_SYS_ADMIN, so it goes in before the drop. */
	if (f.bpf && !f.nnp)
		load_seccomp(&f);

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		bail(errno, "keep capabilities");
	if (f.setgroups && setgroups(f.ngids, f.gids) < 0)
		bail(errno, "setgroups");
	if (setresgid(f.gid, f.gid, f.gid) < 0)
		bail(errno, "setresgid %u", f.gid);
	if (setresuid(f.uid, f.uid, f.uid) < 0)
		bail(errno, "setresuid %u", f.uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		bail(errno, "clear keep capabilities");
	if (f.caps_set)
		apply_caps(&f);
	if (f.umask_set)
		umask(f.umask);
	if (f.cwd && chdir(f.cwd) < 0)
		bail(errno, "chdir to cwd `%s`", f.cwd);
	if (f.nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		bail(errno, "set no_new_privs");

	const char *path = resolve_exec(&f, exec_path, sizeof(exec_path));

	/* sync 3: all applied. From here no error can reach the parent. */
	send_msg(MSG_READY, NULL, 0, -1);
	close(sync_fd);
	sync_fd = -1;

	if (f.fifo_fd >= 0) {
		char proc_path[64];
		snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", f.fifo_fd);
		int w = open(proc_path, O_WRONLY | O_CLOEXEC);
		if (w < 0)
			bail(errno, "open exec fifo");
		if (write(w, "0", 1) != 1)
			bail(errno, "write exec fifo");
		close(w);
		close(f.fifo_fd);
	}
	run_start_hooks(&f);
	if (f.bpf && f.nnp)
		load_seccomp(&f);
	execve(path, f.argv, f.envp);
	bail(errno, "exec `%s`", path);
}

static void init_loop(int new_session)
{
	struct msg m;
	for (;;) {
		recv_msg(&m);
		switch (m.type) {
		case MSG_FSOPEN: do_fsopen(&m); break;
		case MSG_FINALIZE: finalize(&m, new_session); /* does not return */
		default: bail(EPROTO, "unexpected message %u", m.type);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "kapsel-stage: internal program of kapsel-runtime; not for direct use\n");
		return 2;
	}
	char *end;
	long fd = strtol(argv[1], &end, 10);
	if (*end || fd < 3 || fd > 1 << 20) {
		fprintf(stderr, "kapsel-stage: bad sync fd\n");
		return 2;
	}
	sync_fd = (int)fd;
	/* A stage forked by a Node parent may inherit ignored or blocked signals: reset them so the
	 * container process starts clean. */
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);

	int new_session = 0;
	bootstrap(&new_session);

	pid_t child = fork();
	if (child < 0)
		bail(errno, "fork the container init");
	if (child > 0) {
		/* sync 2: report the init's pid (in our pid namespace, the parent's) and leave, so the
		 * init is reparented to the caller's subreaper (containerd shim, conmon) or to pid 1. */
		uint32_t pid = (uint32_t)child;
		send_msg(MSG_PID, &pid, 4, -1);
		_exit(0);
	}
	init_loop(new_session);
	return 0;
}
