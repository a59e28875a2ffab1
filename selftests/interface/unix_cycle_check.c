// SPDX-License-Identifier: GPL-2.0
/*
 * unix_cycle_check - interface test of UNIX_DELAY_CLOSE with AF_UNIX sockets
 * (a stream listener and a pair of sockets that hold each other) in the
 * parked queue.
 *
 * Written from the interface specification only
 * (Documentation/networking/af_unix_delay_close.rst and uapi/):
 *
 *   A parked queue may hold AF_UNIX sockets of any type, listeners
 *   included, and sockets that hold each other.  A parked unix stream
 *   listener stays bound and keeps taking connections up to its backlog;
 *   the adopter receives it and accept()s them.  When the queue expires,
 *   whatever only it kept alive is released, cycles included.  When it is
 *   adopted, its sockets are in flight to the adopter, as if they had been
 *   sent to it.
 *
 * The leak measure is the number of AF_UNIX sockets of this program's own
 * network namespace (unshare(CLONE_NEWNET) first): the sum of the "sockets"
 * column of the "UNIX*" lines of /proc/net/protocols.
 *
 *   Only a socket that set UNIX_DELAY_CLOSE before bind() adopts: bind() of
 *   a parked path by a socket without it fails with EADDRINUSE and leaves
 *   the queue parked; the adopter reports its own delay.
 *
 * The parking child (every round):
 *   - sets UNIX_DELAY_CLOSE on a SOCK_DGRAM socket D, then binds it to the
 *     rendezvous path P;
 *   - creates a unix SOCK_STREAM listener bound to the path L;
 *   - creates socketpair(AF_UNIX, SOCK_STREAM) a, b and makes them hold each
 *     other: b's fd is sent over b (it waits in a's receive queue, data
 *     "B"), a's fd is sent over a (it waits in b's queue, data "A");
 *   - sends the listener and a to P with SCM_RIGHTS, so that b is reachable
 *     only through a's queue;
 *   - closes everything and exits, or dies by SIGKILL.
 *
 * Rounds (TAP version 13 output, one line per check):
 *
 *   expire       a client connects to L while the queue is parked; nobody
 *                adopts; the queue expires and everything it held is
 *                released, the client sees its connection dropped, L and P
 *                are stale socket files (an armed bind() of P gets
 *                EADDRINUSE), and once the client is closed the socket
 *                count is what it was.
 *   adopt-kill   the child dies by SIGKILL; a client connects to L and
 *                writes; the collector runs while the queue is parked; a
 *                bind() of P without the option fails with EADDRINUSE; the
 *                parent arms a socket (its own delay) and binds P: it
 *                adopts, reports its own delay, receives the listener and
 *                a, accepts the
 *                client, reads b out of a and a (peeked) out of b, exchanges
 *                data, re-forms the cycle, disarms the adopter and closes
 *                everything: the socket count returns to what it was.
 *   adopt-exit   the same, the child closes everything and exits.
 *
 * Runs as root.  The whole run is bounded by alarm(); every wait polls with
 * a deadline, never a fixed sleep.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/un_delay_close.h>

#include "selftest.h"

#define CHECKS_EXPIRE	9
#define CHECKS_ADOPT	10
#define NUM_CHECKS	(1 + CHECKS_EXPIRE + 2 * CHECKS_ADOPT)

/*
 * The expire round's delay: short, yet long enough that the parent, under
 * slow emulation, connects to the parked listener before it expires.
 */
#define EXPIRE_DELAY_MS	2000
#define ADOPT_DELAY_MS	10000		/* adoption happens well before this */
#define ADOPTER_DELAY_MS 7000		/* the adopter's own, unlike the parker's */
#define EXPIRE_GRACE_MS	8000		/* after the delay, for the release */
#define SETTLE_MS	5000		/* any other wait for the socket count */
#define POLL_STEP_MS	2		/* socket count polling period */

#define BACKLOG		8
#define MAX_FDS		8		/* room for more fds than expected */
#define TAG		"unix-cycle-park-v1"
#define CLIENT_MSG	"gap-client"
#define PAIR_MSG	"ping"

#define IO_TIMEOUT_MS	5000		/* any single poll() */
#define CHILD_TIMEOUT_MS 10000		/* waiting for a child to finish */
#define CHILD_ALARM_S	20		/* a child's own hard limit */
#define TOTAL_ALARM_S	55		/* the whole program */

/* ------------------------------------------------------------------ */
/* Leak measure: AF_UNIX sockets of this network namespace             */

/*
 * Sum of the "sockets" column of the /proc/net/protocols lines whose
 * protocol name starts with "UNIX" ("UNIX" and "UNIX-STREAM").
 * Returns -1 (g_err set) if the file cannot be read or has no such line.
 */
static long unix_socket_count(void)
{
	char line[512];
	long total = 0;
	int found = 0;
	FILE *f;

	f = fopen("/proc/net/protocols", "re");
	if (!f) {
		seterr("fopen(/proc/net/protocols)");
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char name[64];
		unsigned int size;
		long sockets;

		if (sscanf(line, "%63s %u %ld", name, &size, &sockets) != 3)
			continue;
		if (strncmp(name, "UNIX", 4))
			continue;
		total += sockets;
		found++;
	}
	fclose(f);
	if (!found) {
		seterrmsg("/proc/net/protocols has no UNIX line");
		return -1;
	}
	return total;
}

/*
 * Poll the count every POLL_STEP_MS until it equals want (or, if at_most,
 * is at most want), for up to deadline_ms.  *last is the last value read,
 * *elapsed the time spent.
 */
static bool wait_count(long want, bool at_most, int deadline_ms, long *last,
		       long long *elapsed)
{
	long long start = now_ms();

	for (;;) {
		long n = unix_socket_count();

		*last = n;
		*elapsed = now_ms() - start;
		if (n >= 0 && (n == want || (at_most && n < want)))
			return true;
		if (*elapsed > deadline_ms) {
			if (n < 0)
				tap_diag("%s", g_err);
			return false;
		}
		sleep_ms(POLL_STEP_MS);
	}
}

/* New unix SOCK_STREAM listener bound to path. */
static int unix_listener(const char *path)
{
	int fd = unix_socket(SOCK_STREAM, path, 0, false);

	if (fd >= 0 && listen(fd, BACKLOG)) {
		seterr("listen");
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Non-blocking unix SOCK_STREAM connect() to path: it either lands in the
 * listener's backlog at once (0) or fails (ECONNREFUSED, EAGAIN, ...).
 * Returns the fd, or -1 with errno kept.
 */
static int unix_connect(const char *path)
{
	return unix_socket(SOCK_STREAM | SOCK_NONBLOCK, path, 0, true);
}

struct sock_info {
	int domain, type, listening;
	unsigned long long ino;
};

static int get_sock_info(int fd, struct sock_info *si)
{
	socklen_t len;
	struct stat st;

	memset(si, 0, sizeof(*si));
	if (fstat(fd, &st)) {
		seterr("fstat");
		return -1;
	}
	si->ino = (unsigned long long)st.st_ino;
	len = sizeof(si->domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &si->domain, &len)) {
		seterr("getsockopt(SO_DOMAIN)");
		return -1;
	}
	len = sizeof(si->type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &si->type, &len)) {
		seterr("getsockopt(SO_TYPE)");
		return -1;
	}
	len = sizeof(si->listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &si->listening, &len)) {
		seterr("getsockopt(SO_ACCEPTCONN)");
		return -1;
	}
	return 0;
}

/*
 * Garbage for the collector: a unix stream socket whose only reference is
 * in its own receive queue.  Closing the peer afterwards (a release while
 * fds are in flight) makes the collector run; the garbage socket goes away
 * only when it has run.  Standard SCM_RIGHTS behaviour, not the feature.
 */
static int make_gc_garbage(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		seterr("socketpair(AF_UNIX, SOCK_STREAM)");
		return -1;
	}
	/* sv[0]'s fd sent over sv[1] waits in sv[0]'s own queue. */
	if (send_fds(sv[1], NULL, "g", 1, &sv[0], 1, MSG_DONTWAIT | MSG_NOSIGNAL)) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[0]);		/* now only in flight, to itself */
	close(sv[1]);		/* released: the collector runs */
	return 0;
}

/* ------------------------------------------------------------------ */
/* The parking child                                                   */

struct round {
	const char *label;
	const char *ppath;	/* rendezvous path, the parked dgram socket */
	const char *lpath;	/* path of the parked unix stream listener */
	int delay_ms;
	bool sigkill;		/* die by SIGKILL instead of closing and exiting */
};

struct child_report {
	struct child_status st;	/* ok: reached its end point; what: failure text */
	unsigned long long ino_lst, ino_a, ino_b;
};

static void park_child_main(void *arg, int wfd)
{
	const struct round *rd = arg;
	struct child_report r;
	struct stat st;
	int d, lst, sv[2], fds[2];

	memset(&r, 0, sizeof(r));
	/* Armed before bind(). */
	d = unix_dgram_bind(rd->ppath, rd->delay_ms);
	if (d < 0)
		child_fail(wfd, &r, sizeof(r));
	if (!delay_is(d, rd->delay_ms))
		child_fail(wfd, &r, sizeof(r));

	lst = unix_listener(rd->lpath);
	if (lst < 0)
		child_fail(wfd, &r, sizeof(r));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		seterr("socketpair(AF_UNIX, SOCK_STREAM)");
		child_fail(wfd, &r, sizeof(r));
	}
	/* a = sv[0] holds b = sv[1] in its queue, b holds a in its queue. */
	if (send_fds(sv[1], NULL, "B", 1, &sv[1], 1, MSG_DONTWAIT | MSG_NOSIGNAL) ||
	    send_fds(sv[0], NULL, "A", 1, &sv[0], 1, MSG_DONTWAIT | MSG_NOSIGNAL))
		child_fail(wfd, &r, sizeof(r));

	if (fstat(lst, &st)) {
		seterr("fstat(listener)");
		child_fail(wfd, &r, sizeof(r));
	}
	r.ino_lst = (unsigned long long)st.st_ino;
	if (fstat(sv[0], &st)) {
		seterr("fstat(a)");
		child_fail(wfd, &r, sizeof(r));
	}
	r.ino_a = (unsigned long long)st.st_ino;
	if (fstat(sv[1], &st)) {
		seterr("fstat(b)");
		child_fail(wfd, &r, sizeof(r));
	}
	r.ino_b = (unsigned long long)st.st_ino;

	/* Park the listener and a; b is reachable only through a's queue. */
	fds[0] = lst;
	fds[1] = sv[0];
	if (send_fds(d, rd->ppath, TAG, strlen(TAG), fds, 2, MSG_DONTWAIT | MSG_NOSIGNAL))
		child_fail(wfd, &r, sizeof(r));

	child_done(wfd, &r, sizeof(r), rd->sigkill);
	close(lst);
	close(sv[0]);
	close(sv[1]);
	close(d);
	_exit(0);
}

/*
 * Run the parking child of round rd and reap it.  Returns true if it
 * parked everything and ended as planned; *why is the failure text.
 */
static bool park(const struct round *rd, struct child_report *r,
		 char *why, size_t whylen)
{
	int status = -1;
	bool have;
	char how[160];

	why[0] = '\0';
	have = run_child(park_child_main, (void *)rd, r, sizeof(*r), &status,
			 CHILD_ALARM_S, CHILD_TIMEOUT_MS);
	if (!have) {
		snprintf(why, whylen, "parking child: %s", g_err);
		return false;
	}
	if (!r->st.ok) {
		snprintf(why, whylen, "%s", r->st.what);
		return false;
	}
	if (!ended_as(status, rd->sigkill, how, sizeof(how))) {
		snprintf(why, whylen, "parking child %s", how);
		return false;
	}
	return true;
}

static long round_start_count(const char *label, long global_base)
{
	long n = unix_socket_count();

	if (n < 0)
		tap_diag("%s: %s", label, g_err);
	else if (n != global_base)
		tap_diag("%s: %ld AF_UNIX sockets at the start of the round (baseline %ld): an earlier round leaked",
			 label, n, global_base);
	return n;
}

/* ------------------------------------------------------------------ */
/* Round 1: the queue expires                                          */

static void round_expire(const struct round *rd, long global_base)
{
	const char *label = rd->label;
	struct child_report r;
	char why[320];
	long base, n = -1;
	long long t0, elapsed;
	int c = -1, s = -1, u = -1;
	bool parked, ok;

	unlink(rd->ppath);
	unlink(rd->lpath);
	base = round_start_count(label, global_base);

	/* 1 */
	parked = park(rd, &r, why, sizeof(why));
	t0 = now_ms();
	tap_result(parked,
		   "%s: child parked a unix stream listener and one end of a pair holding each other at %s (UNIX_DELAY_CLOSE=%d ms), closed all and exited%s%s",
		   label, rd->ppath, rd->delay_ms, parked ? "" : ": ", why);

	/* 2: the parked listener is still bound and takes a connection. */
	ok = false;
	if (parked) {
		c = unix_connect(rd->lpath);
		if (c < 0)
			tap_diag("%s: %s (%lld ms after the parking child was reaped)",
				 label, g_err, now_ms() - t0);
		else
			ok = true;
	} else {
		tap_diag("%s: skipped: nothing parked", label);
	}
	tap_result(ok, "%s: while parked, a client connect()s to the listener at %s",
		   label, rd->lpath);

	/* 3: nobody appends to a parked queue. */
	ok = false;
	if (parked) {
		s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0) {
			seterr("socket(AF_UNIX, SOCK_DGRAM)");
			tap_diag("%s: %s", label, g_err);
		} else {
			struct sockaddr_un addr;
			socklen_t alen;

			alen = unix_addr(&addr, rd->ppath);
			if (alen) {
				ssize_t k = sendto(s, "x", 1, MSG_DONTWAIT,
						   (struct sockaddr *)&addr, alen);

				if (k < 0 && errno == ECONNREFUSED)
					ok = true;
				else if (k < 0)
					tap_diag("%s: sendto(%s): %s (errno %d), expected ECONNREFUSED",
						 label, rd->ppath, strerror(errno), errno);
				else
					tap_diag("%s: sendto(%s) returned %zd, expected ECONNREFUSED",
						 label, rd->ppath, k);
			} else {
				tap_diag("%s: %s", label, g_err);
			}
		}
		close_fd(&s);
	} else {
		tap_diag("%s: skipped: nothing parked", label);
	}
	tap_result(ok, "%s: while parked, sendto(%s) fails with ECONNREFUSED",
		   label, rd->ppath);

	/*
	 * 4: the parked queue keeps the listener (with the pending connection)
	 * and the pair alive: listener, pending connection, client, a, b.
	 */
	ok = false;
	if (parked && c >= 0) {
		n = unix_socket_count();
		elapsed = now_ms() - t0;
		ok = base >= 0 && n >= base + 5;
		if (!ok)
			tap_diag("%s: %ld AF_UNIX sockets %lld ms after the parking child was reaped, expected at least %ld (baseline %ld + listener, pending connection, client, a, b)",
				 label, n, elapsed, base + 5, base);
	} else {
		tap_diag("%s: skipped: %s", label,
			 parked ? "no client connected" : "nothing parked");
	}
	if (ok)
		tap_diag("%s: %ld AF_UNIX sockets while parked (baseline %ld)",
			 label, n, base);
	tap_result(ok, "%s: while parked, the listener, its pending connection and both pair ends are alive",
		   label);

	/*
	 * 5: no adoption: at expiry everything only the queue kept alive is
	 * released, the a <-> b cycle included.  Left are the client and, at
	 * most, the server end of its connection: a connected unix socket
	 * keeps its peer's struct sock (not its file) until it is closed
	 * itself, as after the close() of any listener with pending
	 * connections; check 9 counts again once the client is closed.
	 */
	ok = false;
	if (parked && base >= 0) {
		long want = base + (c >= 0 ? 2 : 0);

		ok = wait_count(want, true, rd->delay_ms + EXPIRE_GRACE_MS,
				&n, &elapsed);
		elapsed = now_ms() - t0;
		if (ok)
			tap_diag("%s: back to %ld AF_UNIX sockets %lld ms after the parking child was reaped (delay %d ms)",
				 label, n, elapsed, rd->delay_ms);
		else
			tap_diag("%s: still %ld AF_UNIX sockets %lld ms after the parking child was reaped (delay %d ms), expected at most %ld",
				 label, n, elapsed, rd->delay_ms, want);
	} else {
		tap_diag("%s: skipped: %s", label,
			 parked ? "no baseline" : "nothing parked");
	}
	tap_result(ok, "%s: unadopted, the queue expires and releases the listener, the pending connection and the pair cycle",
		   label);

	/* 6: the client's pending connection was dropped with the listener. */
	ok = false;
	if (c >= 0) {
		if (wait_fd(c, POLLIN, IO_TIMEOUT_MS, "client recv")) {
			tap_diag("%s: %s", label, g_err);
		} else {
			char b;
			ssize_t k = recv(c, &b, 1, MSG_DONTWAIT);

			if (k == 0 || (k < 0 && errno == ECONNRESET))
				ok = true;
			else if (k < 0)
				tap_diag("%s: client recv: %s (errno %d), expected EOF or ECONNRESET",
					 label, strerror(errno), errno);
			else
				tap_diag("%s: client recv returned %zd bytes, expected EOF or ECONNRESET",
					 label, k);
		}
	} else {
		tap_diag("%s: skipped: no client connected", label);
	}
	tap_result(ok, "%s: after expiry, the client connected while parked sees EOF or ECONNRESET",
		   label);

	/* 7: the listener is gone: its path is a stale socket file. */
	ok = false;
	if (parked) {
		s = unix_connect(rd->lpath);
		if (s < 0 && errno == ECONNREFUSED)
			ok = true;
		else if (s < 0)
			tap_diag("%s: %s, expected ECONNREFUSED", label, g_err);
		else
			tap_diag("%s: connect(%s) succeeded after expiry, expected ECONNREFUSED",
				 label, rd->lpath);
		close_fd(&s);
	} else {
		tap_diag("%s: skipped: nothing parked", label);
	}
	tap_result(ok, "%s: after expiry, connect(%s) fails with ECONNREFUSED",
		   label, rd->lpath);

	/*
	 * 8: nothing is left to adopt: P is a stale socket file.  Only an
	 * armed socket would adopt, so an armed one asks.
	 */
	ok = false;
	if (parked) {
		u = unix_dgram_bind(rd->ppath, ADOPTER_DELAY_MS);
		if (u < 0 && errno == EADDRINUSE)
			ok = true;
		else if (u < 0)
			tap_diag("%s: %s, expected EADDRINUSE", label, g_err);
		else
			tap_diag("%s: bind(%s) returned 0 after expiry, expected EADDRINUSE",
				 label, rd->ppath);
		close_fd(&u);
	} else {
		tap_diag("%s: skipped: nothing parked", label);
	}
	tap_result(ok, "%s: after expiry, an armed bind(%s) fails with EADDRINUSE (stale socket file)",
		   label, rd->ppath);

	/* 9: with the client closed, nothing is left. */
	close_fd(&c);
	ok = false;
	if (base >= 0) {
		ok = wait_count(base, false, SETTLE_MS, &n, &elapsed);
		if (ok)
			tap_diag("%s: back to %ld AF_UNIX sockets %lld ms after closing the client",
				 label, n, elapsed);
		else
			tap_diag("%s: still %ld AF_UNIX sockets %lld ms after closing the client, expected %ld",
				 label, n, elapsed, base);
	}
	tap_result(ok, "%s: with the client closed, the AF_UNIX socket count is back to its baseline: nothing leaked",
		   label);

	unlink(rd->ppath);
	unlink(rd->lpath);
}

/* ------------------------------------------------------------------ */
/* Rounds 2 and 3: the queue is adopted                                */

static bool check_sock(const char *label, const char *what, int fd,
		       unsigned long long ino, int listening)
{
	struct sock_info si;

	if (get_sock_info(fd, &si)) {
		tap_diag("%s: %s: %s", label, what, g_err);
		return false;
	}
	if (si.domain != AF_UNIX || si.type != SOCK_STREAM ||
	    si.listening != listening || si.ino != ino) {
		tap_diag("%s: %s: domain %d type %d listening %d inode %llu, expected AF_UNIX SOCK_STREAM listening %d inode %llu",
			 label, what, si.domain, si.type, si.listening, si.ino,
			 listening, ino);
		return false;
	}
	return true;
}

static void round_adopt(const struct round *rd, long global_base)
{
	const char *label = rd->label;
	struct child_report r;
	char why[320], buf[64];
	int fds[MAX_FDS], pfds[MAX_FDS], nfds = 0, np = 0, i;
	int c = -1, u = -1, lst = -1, a = -1, b = -1, conn = -1;
	long base, before = -1, n = -1;
	long long elapsed;
	bool parked, ok, client_ok = false, adopted;
	ssize_t k;

	unlink(rd->ppath);
	unlink(rd->lpath);
	base = round_start_count(label, global_base);

	/* 1 */
	parked = park(rd, &r, why, sizeof(why));
	tap_result(parked,
		   "%s: child parked a unix stream listener and one end of a pair holding each other at %s (UNIX_DELAY_CLOSE=%d ms) and %s%s%s",
		   label, rd->ppath, rd->delay_ms,
		   rd->sigkill ? "was killed by SIGKILL" : "closed all and exited",
		   parked ? "" : ": ", why);

	/* 2: a client connects to the parked listener and writes. */
	if (parked) {
		c = unix_connect(rd->lpath);
		if (c < 0) {
			tap_diag("%s: %s", label, g_err);
		} else {
			k = send(c, CLIENT_MSG, strlen(CLIENT_MSG), MSG_NOSIGNAL);
			if (k == (ssize_t)strlen(CLIENT_MSG))
				client_ok = true;
			else if (k < 0)
				tap_diag("%s: client send: %s (errno %d)", label,
					 strerror(errno), errno);
			else
				tap_diag("%s: client send: %zd of %zu bytes", label,
					 k, strlen(CLIENT_MSG));
		}
	} else {
		tap_diag("%s: skipped: nothing parked", label);
	}
	tap_result(client_ok,
		   "%s: while parked, a client connect()s to the listener at %s and writes '%s'",
		   label, rd->lpath, CLIENT_MSG);

	/*
	 * 3: the collector runs while the queue is parked (it collects fresh
	 * garbage) and leaves what the parked queue holds alone.
	 */
	ok = false;
	if (parked) {
		before = unix_socket_count();
		if (before < 0) {
			tap_diag("%s: %s", label, g_err);
		} else if (make_gc_garbage()) {
			tap_diag("%s: %s", label, g_err);
		} else if (!wait_count(before, true, SETTLE_MS, &n, &elapsed)) {
			tap_diag("%s: %ld AF_UNIX sockets, the collector did not take the garbage socket back to %ld",
				 label, n, before);
		} else if (n != before) {
			tap_diag("%s: %ld AF_UNIX sockets after the collector ran, expected %ld: it took parked sockets",
				 label, n, before);
		} else {
			ok = true;
		}
	} else {
		tap_diag("%s: skipped: nothing parked", label);
	}
	if (ok)
		tap_diag("%s: %ld AF_UNIX sockets while parked, before and after the collector ran",
			 label, before);
	tap_result(ok, "%s: while parked, the collector runs (it collects a closed socket that holds itself) and leaves the parked sockets alone",
		   label);

	/*
	 * 4: a socket without UNIX_DELAY_CLOSE never adopts: EADDRINUSE, and
	 * the queue stays parked (7 to 9 find all of it).
	 */
	ok = false;
	if (parked) {
		u = unix_dgram_bind(rd->ppath, 0);
		if (u < 0 && errno == EADDRINUSE)
			ok = true;
		else if (u < 0)
			tap_diag("%s: %s, expected EADDRINUSE", label, g_err);
		else
			tap_diag("%s: bind(%s) without UNIX_DELAY_CLOSE returned 0, expected EADDRINUSE",
				 label, rd->ppath);
		close_fd(&u);
	} else {
		tap_diag("%s: skipped: nothing parked", label);
	}
	tap_result(ok, "%s: bind(%s) of a SOCK_DGRAM socket without UNIX_DELAY_CLOSE fails with EADDRINUSE",
		   label, rd->ppath);

	/* 5: adoption, by a socket armed before bind(). */
	if (parked) {
		u = unix_dgram_bind(rd->ppath, ADOPTER_DELAY_MS);
		if (u < 0)
			tap_diag("%s: %s", label, g_err);
	} else {
		tap_diag("%s: skipped: nothing parked", label);
	}
	adopted = u >= 0;
	tap_result(adopted, "%s: bind(%s) of a new SOCK_DGRAM socket armed with UNIX_DELAY_CLOSE=%d returns 0: adopted",
		   label, rd->ppath, ADOPTER_DELAY_MS);

	/* 6: the adopter's delay is its own, nothing inherited. */
	ok = false;
	if (u >= 0) {
		int got = -1;
		socklen_t glen = sizeof(got);

		if (getsockopt(u, SOL_UNIX, UNIX_DELAY_CLOSE, &got, &glen)) {
			seterr("getsockopt(SOL_UNIX, UNIX_DELAY_CLOSE)");
			tap_diag("%s: adopter: %s", label, g_err);
		} else if (glen != sizeof(got) || got != ADOPTER_DELAY_MS) {
			tap_diag("%s: adopter: getsockopt(SOL_UNIX, UNIX_DELAY_CLOSE) gave %d (optlen %u), expected its own %d (the parker's was %d)",
				 label, got, (unsigned int)glen, ADOPTER_DELAY_MS, rd->delay_ms);
		} else {
			ok = true;
		}
	} else {
		tap_diag("%s: skipped: nothing adopted", label);
	}
	tap_result(ok, "%s: the adopter's getsockopt(UNIX_DELAY_CLOSE) is its own %d ms",
		   label, ADOPTER_DELAY_MS);

	/* 7: the parked datagram: the tag, the listener and a. */
	ok = false;
	if (u >= 0) {
		k = recv_fds(u, buf, sizeof(buf), fds, MAX_FDS, &nfds, 0, IO_TIMEOUT_MS);
		if (k < 0) {
			tap_diag("%s: %s", label, g_err);
		} else if (nfds != 2) {
			tap_diag("%s: recvmsg: %d fds, expected 2", label, nfds);
		} else if ((size_t)k != strlen(TAG) || memcmp(buf, TAG, strlen(TAG))) {
			tap_diag("%s: recvmsg: data '%.*s' (%zd bytes), expected '%s'",
				 label, (int)k, buf, k, TAG);
		} else if (check_sock(label, "first received fd", fds[0],
				      r.ino_lst, 1) &&
			   check_sock(label, "second received fd", fds[1],
				      r.ino_a, 0)) {
			ok = true;
		}
		if (ok) {
			lst = fds[0];
			a = fds[1];
		} else {
			for (i = 0; i < nfds; i++)
				close(fds[i]);
		}
	} else {
		tap_diag("%s: skipped: nothing adopted", label);
	}
	tap_result(ok, "%s: recvmsg() on the adopter: the tag, no MSG_CTRUNC, exactly 2 fds: the parked listener and pair end a",
		   label);

	/* 8: the received listener accepts the connection made while parked. */
	ok = false;
	if (lst >= 0 && client_ok) {
		if (wait_fd(lst, POLLIN, IO_TIMEOUT_MS, "accept")) {
			tap_diag("%s: %s", label, g_err);
		} else {
			conn = accept4(lst, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (conn < 0) {
				seterr("accept4");
				tap_diag("%s: %s", label, g_err);
			} else if (read_expect(conn, CLIENT_MSG, IO_TIMEOUT_MS)) {
				tap_diag("%s: accepted connection: %s", label, g_err);
			} else {
				ok = true;
			}
		}
	} else {
		tap_diag("%s: skipped: %s", label,
			 lst < 0 ? "no listener received" : "no client connected while parked");
	}
	tap_result(ok, "%s: the received listener accept()s the connection made while parked and reads '%s'",
		   label, CLIENT_MSG);

	/*
	 * 9: the pair survived intact: a's queue holds b ("B"), b's queue
	 * still holds a ("A", peeked), and data flows from b to a.
	 */
	ok = false;
	if (a >= 0) {
		k = recv_fds(a, buf, sizeof(buf), pfds, MAX_FDS, &np, 0, IO_TIMEOUT_MS);
		if (k < 0) {
			tap_diag("%s: a: %s", label, g_err);
		} else if (k != 1 || buf[0] != 'B' || np != 1) {
			tap_diag("%s: a: recvmsg gave %zd bytes ('%c') and %d fds, expected 'B' and 1 fd",
				 label, k, k > 0 ? buf[0] : '?', np);
			for (i = 0; i < np; i++)
				close(pfds[i]);
		} else {
			b = pfds[0];
			if (check_sock(label, "fd received from a", b, r.ino_b, 0))
				ok = true;
		}
	}
	if (ok) {
		ok = false;
		k = recv_fds(b, buf, sizeof(buf), pfds, MAX_FDS, &np, MSG_PEEK,
			     IO_TIMEOUT_MS);
		if (k < 0) {
			tap_diag("%s: b (MSG_PEEK): %s", label, g_err);
		} else {
			if (k != 1 || buf[0] != 'A' || np != 1)
				tap_diag("%s: b: recvmsg(MSG_PEEK) gave %zd bytes ('%c') and %d fds, expected 'A' and 1 fd",
					 label, k, k > 0 ? buf[0] : '?', np);
			else if (check_sock(label, "fd peeked from b", pfds[0],
					    r.ino_a, 0))
				ok = true;
			for (i = 0; i < np; i++)
				close(pfds[i]);
		}
	}
	if (ok) {
		ok = false;
		k = send(b, PAIR_MSG, strlen(PAIR_MSG), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k != (ssize_t)strlen(PAIR_MSG)) {
			seterr("send(b)");
			tap_diag("%s: %s (returned %zd)", label, g_err, k);
		} else if (read_expect(a, PAIR_MSG, IO_TIMEOUT_MS)) {
			tap_diag("%s: a: %s", label, g_err);
		} else {
			ok = true;
		}
	}
	if (a < 0)
		tap_diag("%s: skipped: pair end a not received", label);
	tap_result(ok, "%s: the pair survived: a's queue holds b, b's queue holds a, data flows from b to a",
		   label);

	/*
	 * 10: re-form the cycle (b sent over b waits in a's queue again; b's
	 * queue still holds a), close everything, the pair first: the
	 * collector must take the cycle, and nothing may be left.
	 */
	ok = false;
	if (a >= 0 && b >= 0 && send_fds(b, NULL, "B", 1, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL))
		tap_diag("%s: re-forming the cycle: %s", label, g_err);
	/*
	 * The adopter is armed: disarmed, its close parks nothing (a parked
	 * queue would keep its socket, off the baseline, for ADOPTER_DELAY_MS).
	 */
	if (u >= 0) {
		int off = 0;

		if (setsockopt(u, SOL_UNIX, UNIX_DELAY_CLOSE, &off, sizeof(off))) {
			seterr("setsockopt(SOL_UNIX, UNIX_DELAY_CLOSE, 0)");
			tap_diag("%s: disarming the adopter: %s", label, g_err);
		}
	}
	close_fd(&a);
	close_fd(&b);
	close_fd(&conn);
	close_fd(&c);
	close_fd(&lst);
	close_fd(&u);
	if (adopted && base >= 0) {
		ok = wait_count(base, false, SETTLE_MS, &n, &elapsed);
		if (ok)
			tap_diag("%s: back to %ld AF_UNIX sockets %lld ms after closing everything",
				 label, n, elapsed);
		else
			tap_diag("%s: still %ld AF_UNIX sockets %lld ms after closing everything, expected %ld",
				 label, n, elapsed, base);
	} else {
		tap_diag("%s: skipped: %s", label,
			 !parked ? "nothing parked" :
			 !adopted ? "not adopted (the queue stays parked until it expires)" :
			 "no baseline");
	}
	tap_result(ok, "%s: with the cycle re-formed, the adopter disarmed and everything closed, the AF_UNIX socket count is back to its baseline: nothing leaked",
		   label);

	unlink(rd->ppath);
	unlink(rd->lpath);
}

/* ------------------------------------------------------------------ */

int main(void)
{
	static const struct round expire = {
		.label = "expire", .ppath = "expire_park.sock",
		.lpath = "expire_listen.sock", .delay_ms = EXPIRE_DELAY_MS,
	};
	static const struct round adopt_kill = {
		.label = "adopt-kill", .ppath = "adopt_kill_park.sock",
		.lpath = "adopt_kill_listen.sock", .delay_ms = ADOPT_DELAY_MS,
		.sigkill = true,
	};
	static const struct round adopt_exit = {
		.label = "adopt-exit", .ppath = "adopt_exit_park.sock",
		.lpath = "adopt_exit_listen.sock", .delay_ms = ADOPT_DELAY_MS,
	};
	char dir[] = "/tmp/unix_cycle_check.XXXXXX";
	long base;

	tap_time_limit(TOTAL_ALARM_S);
	signal(SIGPIPE, SIG_IGN);

	tap_plan(NUM_CHECKS);

	/* A private network namespace: its AF_UNIX socket count is ours. */
	if (unshare(CLONE_NEWNET)) {
		tap_bail("unshare(CLONE_NEWNET): %s (errno %d); needs root",
			 strerror(errno), errno);
	}
	if (!mkdtemp(dir))
		tap_bail("mkdtemp(%s): %s", dir, strerror(errno));
	if (chdir(dir)) {
		rmdir(dir);
		tap_bail("chdir(%s): %s", dir, strerror(errno));
	}
	tap_diag("working directory %s", dir);

	base = unix_socket_count();
	if (base < 0)
		tap_diag("%s", g_err);
	if (base > 0)
		tap_diag("%ld AF_UNIX sockets in /proc/net/protocols right after unshare(CLONE_NEWNET)",
			 base);
	tap_result(base == 0,
		   "a new network namespace has no AF_UNIX sockets (/proc/net/protocols)");

	round_expire(&expire, base);
	round_adopt(&adopt_kill, base);
	round_adopt(&adopt_exit, base);

	if (chdir("/") == 0 && rmdir(dir))
		tap_diag("rmdir(%s): %s", dir, strerror(errno));

	return tap_finish();
}
