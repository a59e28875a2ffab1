/* SPDX-License-Identifier: GPL-2.0 */
/*
 * selftests/lib: what every guest program of this repository shares, and
 * only that: plumbing, never a test's logic.  Linked into each program by
 * scripts/build-guest-tests.sh (and into userlib's guest programs by its
 * CMake build), usable from C++ (extern "C").
 *
 *   tap.c    TAP version 13 output in kselftest's format (kselftest.h's
 *            ksft_*: "ok N text", "# Totals: ..."; exit status 0 pass,
 *            1 fail, 4 skip, as kselftest's runner reads them)
 *   err.c    the error text of the last failed helper (g_err)
 *   sock.c   sockaddr_un, SCM_RIGHTS send and receive, poll with a
 *            timeout, reads of an exact length, loopback up, arming
 *   child.c  a child with a report pipe and a time limit
 *   sys.c    clocks, sleeps, one-line files, /proc/cmdline knobs
 */
#ifndef PUDS_SELFTEST_H
#define PUDS_SELFTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* From <sys/un.h> or <linux/un.h>, whichever the program includes. */
struct sockaddr_un;

#define SELFTEST_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* --- tap.c: kselftest's TAP ------------------------------------------------ */

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4

/* Line-buffered stdout, "TAP version 13" and the plan "1..n". */
void tap_plan(unsigned int n);
/* "ok N text" or "not ok N text" (the newline is added). */
void tap_result(bool ok, const char *fmt, ...) SELFTEST_PRINTF(2, 3);
/* "ok N # SKIP text". */
void tap_skip(const char *fmt, ...) SELFTEST_PRINTF(1, 2);
/* "# text". */
void tap_diag(const char *fmt, ...) SELFTEST_PRINTF(1, 2);
/* "Bail out! text" and exit status 1. */
void tap_bail(const char *fmt, ...) SELFTEST_PRINTF(1, 2) __attribute__((noreturn));
/* After @seconds, "Bail out! time limit reached" and _exit(1) (SIGALRM). */
void tap_time_limit(unsigned int seconds);
/* Cases reported so far, and how many of them failed. */
unsigned int tap_count(void);
unsigned int tap_failures(void);
/*
 * The end: a plan that was not met is a failure; prints kselftest's
 * "# Totals: ..." line and returns the exit status (KSFT_PASS, KSFT_FAIL,
 * or KSFT_SKIP when every case was skipped).
 */
int tap_finish(void);

/* --- err.c: the last failure's text ---------------------------------------- */

extern char g_err[256];
/* g_err = "<call>: <strerror> (errno N)"; errno kept. */
void seterr(const char *call);
/* g_err = the formatted text; errno kept. */
void seterrmsg(const char *fmt, ...) SELFTEST_PRINTF(1, 2);

/* --- sock.c: sockets -------------------------------------------------------- */

/*
 * *sun = AF_UNIX + path; returns the address length, or 0 (errno
 * ENAMETOOLONG, g_err set) if the path does not fit.
 */
socklen_t unix_addr(struct sockaddr_un *sun, const char *path);
/* close(*fd) unless it is negative; *fd = -1. */
void close_fd(int *fd);
/* poll() one fd for @events: 0, or -1 (ETIMEDOUT on timeout; g_err set). */
int wait_fd(int fd, short events, int timeout_ms, const char *call);
/*
 * sendmsg() of @len bytes with @nfds fds (SCM_RIGHTS, 1..SCM_MAX_FD) on
 * @sock, to @path (NULL: @sock is connected).  0, or -1 (g_err set) if it
 * fails or sends less than @len.
 */
int send_fds(int sock, const char *path, const void *data, size_t len,
	     const int *fds, int nfds, int flags);
/*
 * recvmsg() of one message with @flags | MSG_CMSG_CLOEXEC (and
 * MSG_DONTWAIT after a poll when @timeout_ms >= 0): up to @maxfds
 * SCM_RIGHTS fds go to fds[] (*nfds), any more are closed.  The data
 * length, or -1 (g_err set) on error, on timeout, or when MSG_CTRUNC or
 * MSG_TRUNC is set (EMSGSIZE; the fds received are then closed).
 */
ssize_t recv_fds(int sock, void *buf, size_t buflen, int *fds, int maxfds,
		 int *nfds, int flags, int timeout_ms);
/* read() exactly @len bytes, each read after a poll of @timeout_ms; 0 or -1. */
int read_exact(int fd, void *buf, size_t len, int timeout_ms);
/* read_exact() of strlen(@want) bytes that must be @want (else g_err says what came). */
int read_expect(int fd, const char *want, int timeout_ms);
/* setsockopt(SOL_UNIX, UNIX_DELAY_CLOSE, ms): 0, or -1 (errno kept, g_err set). */
int set_delay(int fd, int ms);
/* getsockopt(SOL_UNIX, UNIX_DELAY_CLOSE) gives exactly @want (else g_err says what). */
bool delay_is(int fd, int want);
/*
 * A new AF_UNIX socket of @type (| SOCK_CLOEXEC), armed with
 * UNIX_DELAY_CLOSE = @arm_ms unless 0, then bound to @path, or connected to
 * it if @do_connect; -1 (errno kept, g_err set) if any step fails.
 */
int unix_socket(int type, const char *path, int arm_ms, bool do_connect);
/*
 * unix_socket(SOCK_DGRAM, ...): a socket bound to @path, armed with
 * UNIX_DELAY_CLOSE = @arm_ms before bind() unless @arm_ms is 0; -1 (errno
 * kept, g_err set) if any step fails.
 */
int unix_dgram_bind(const char *path, int arm_ms);
/* Bring the loopback interface of the current network namespace up. */
void lo_up(void);

/* --- child.c: children ------------------------------------------------------ */

/* The first member of a child's report. */
struct child_status {
	int ok;			/* the child reached its end point */
	char what[256];		/* its failure text (g_err) */
};

/* Write the report (@size bytes) to the parent. */
void child_send(int wfd, const void *report, size_t size);
/* ok = 1, send; then die by SIGKILL if @sigkill, else return. */
void child_done(int wfd, void *report, size_t size, bool sigkill);
/* ok = 0, what = g_err, send, _exit(1). */
void child_fail(int wfd, void *report, size_t size) __attribute__((noreturn));
/* "exited with status N", "was killed by signal N", ... (-1: killed by us). */
void describe_status(int status, char *buf, size_t len);
/*
 * The child died by SIGKILL (@sigkill) or exited with status 0; if not,
 * buf says how it ended and what was expected.
 */
bool ended_as(int status, bool sigkill, char *buf, size_t len);
/* Reap @pid within @timeout_ms; on timeout SIGKILL it and *status = -1. */
void wait_child(pid_t pid, int timeout_ms, int *status);
/*
 * Fork a child that runs fn(arg, wfd) under alarm(@alarm_s) and reports
 * through wfd (it never returns); wait @timeout_ms for the report (@size
 * bytes, its what[] then terminated), then reap it.  true if a full
 * report arrived; *status is the wait status (-1: it had to be killed).
 */
bool run_child(void (*fn)(void *arg, int wfd), void *arg, void *report,
	       size_t size, int *status, unsigned int alarm_s, int timeout_ms);

/* --- sys.c: time, files, the kernel command line ----------------------------- */

int64_t now_ns(void);		/* CLOCK_MONOTONIC */
int64_t now_us(void);
long long now_ms(void);
/* The least of @n times: under emulation other work only ever adds time. */
long long fastest(const long long *t, int n);
void sleep_ms(int ms);		/* whole, across EINTR */
void sleep_until_us(int64_t t_us);
/* Write @s to @path (a sysctl, a kmemleak command): 0 or -errno. */
int write_file(const char *path, const char *s);
/* The number at the start of @path, or -1. */
long read_long(const char *path);
/*
 * The value of the word "key=value" of /proc/cmdline into buf; NULL if the
 * word is not there.  cmdline_long(): that value as a number, or @dflt.
 */
const char *cmdline_value(const char *key, char *buf, size_t len);
long cmdline_long(const char *key, long dflt);

#ifdef __cplusplus
}
#endif
#endif /* PUDS_SELFTEST_H */
