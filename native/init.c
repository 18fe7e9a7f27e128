/*
 * kapsel-init: the tiny pid 1 of `kapsel run --init` (docker's --init, like tini).
 *
 *   kapsel-init [--] COMMAND [ARG...]
 *
 * Forks and execs COMMAND, forwards every catchable signal it receives to that child, reaps every
 * process re-parented to it (orphans, zombies), and exits with the child's status: its exit code,
 * or 128 + the signal that killed it. Signals are taken synchronously with sigtimedwait, so no
 * handler runs while we reap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	int first = 1;
	if (argc > 1 && strcmp(argv[1], "--") == 0) first = 2;
	if (first >= argc) {
		fprintf(stderr, "usage: kapsel-init [--] COMMAND [ARG...]\n");
		return 125;
	}
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	/* not pid 1 (e.g. in a shared pid namespace): still adopt our orphans */
	if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t child = fork();
	if (child < 0) {
		perror("kapsel-init: fork");
		return 125;
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(argv[first], argv + first);
		fprintf(stderr, "kapsel-init: exec %s: %s\n", argv[first], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	const struct timespec tick = { .tv_sec = 1, .tv_nsec = 0 };
	for (;;) {
		siginfo_t si;
		int sig = sigtimedwait(&all, &si, &tick);
		if (sig > 0 && sig != SIGCHLD) {
			/* SIGKILL/SIGSTOP never arrive here; everything else goes to the child */
			kill(child, sig);
		}
		/* reap everything that has exited; the child's status is our own */
		for (;;) {
			int status;
			pid_t p = waitpid(-1, &status, WNOHANG);
			if (p <= 0) break;
			if (p == child) {
				/* remaining orphans are killed with the namespace when pid 1 exits */
				if (WIFEXITED(status)) return WEXITSTATUS(status);
				if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
			}
		}
	}
}
