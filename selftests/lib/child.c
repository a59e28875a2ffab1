// SPDX-License-Identifier: GPL-2.0
/* A child with a report pipe and a time limit. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "selftest.h"

#define REAP_STEP_MS 2

void child_send(int wfd, const void *report, size_t size)
{
	ssize_t n = write(wfd, report, size);

	(void)n;
}

void child_done(int wfd, void *report, size_t size, bool sigkill)
{
	((struct child_status *)report)->ok = 1;
	child_send(wfd, report, size);
	if (sigkill) {
		raise(SIGKILL);
		_exit(3);
	}
}

void child_fail(int wfd, void *report, size_t size)
{
	struct child_status *st = report;

	st->ok = 0;
	snprintf(st->what, sizeof(st->what), "%s", g_err);
	child_send(wfd, report, size);
	_exit(1);
}

void describe_status(int status, char *buf, size_t len)
{
	if (status == -1)
		snprintf(buf, len, "did not finish in time (killed)");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "ended with wait status 0x%x", status);
}

bool ended_as(int status, bool sigkill, char *buf, size_t len)
{
	char how[96];

	if (sigkill ? status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL :
		      status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	describe_status(status, how, sizeof(how));
	snprintf(buf, len, "%s, expected %s", how,
		 sigkill ? "death by SIGKILL" : "exit status 0");
	return false;
}

void wait_child(pid_t pid, int timeout_ms, int *status)
{
	long long end = now_ms() + timeout_ms;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return;
		if (r < 0 && errno != EINTR) {
			seterr("waitpid");
			tap_diag("%s", g_err);
			*status = -1;
			return;
		}
		if (now_ms() > end)
			break;
		sleep_ms(REAP_STEP_MS);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	*status = -1;
}

bool run_child(void (*fn)(void *arg, int wfd), void *arg, void *report,
	       size_t size, int *status, unsigned int alarm_s, int timeout_ms)
{
	struct child_status *st = report;
	int pfd[2];
	bool have = false;
	pid_t pid;

	memset(report, 0, size);
	*status = -1;
	if (pipe2(pfd, O_CLOEXEC)) {
		seterr("pipe2");
		return false;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		seterr("fork");
		close(pfd[0]);
		close(pfd[1]);
		return false;
	}
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(alarm_s);
		close(pfd[0]);
		fn(arg, pfd[1]);
		_exit(2);
	}
	close(pfd[1]);
	if (wait_fd(pfd[0], POLLIN, timeout_ms, "child report") == 0) {
		ssize_t n = read(pfd[0], report, size);

		if (n == (ssize_t)size) {
			st->what[sizeof(st->what) - 1] = '\0';
			have = true;
		} else if (n < 0) {
			seterr("read(child report)");
		} else {
			seterrmsg("child ended without a report (read %zd bytes)", n);
		}
	}
	close(pfd[0]);
	wait_child(pid, timeout_ms, status);
	return have;
}
