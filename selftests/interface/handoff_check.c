// SPDX-License-Identifier: GPL-2.0
/*
 * handoff_check - interface test of UNIX_DELAY_CLOSE (listener hand-off).
 *
 * Written from the interface specification only:
 *
 *   setsockopt(fd, SOL_UNIX, UNIX_DELAY_CLOSE, &ms, sizeof(int)) arms an
 *   AF_UNIX SOCK_DGRAM socket, unbound or bound to a filesystem path (one
 *   bound to an abstract name, or autobound: EADDRNOTAVAIL).  An armed
 *   socket bound to a path keeps its receive queue (with the SCM_RIGHTS
 *   fds in it) alive for ms after it is released.  A later bind() of the
 *   same path by a SOCK_DGRAM socket armed before bind(), of the same euid
 *   and in the same network namespace, adopts the queue and is armed from
 *   that instant with its own delay (getsockopt reports it; a SIGKILL right
 *   after bind() parks the queue again, unread).  Another uid's armed
 *   socket gets EPERM; a socket without the option, or one in another
 *   network namespace, gets EADDRINUSE; the queue stays for the rightful
 *   owner either way.
 *
 * Scenarios (TAP version 13 output, one line per check):
 *
 *   exit     a child arms a socket, binds it, parks a TCP listener and
 *            exits normally; clients connect while no process holds the
 *            listener; a bind() without the option gets EADDRINUSE; the
 *            parent arms a socket with its own delay, binds: it adopts the
 *            queue, accepts the clients and reports its own delay.
 *   sigkill  the same, the parking child dies by SIGKILL.
 *   refusal  a child parks a listener; an armed bind by uid 65534 gets
 *            EPERM, one from another network namespace EADDRINUSE; the
 *            owner then adopts it.
 *   rekill   a child parks a listener and a pipe's two ends (two
 *            datagrams); an adopter, armed before bind(), is SIGKILLed
 *            right after bind() returns; the queue parks again, unread,
 *            and the next armed bind() adopts both datagrams with every fd.
 *   option   setsockopt on an unbound socket works (set, read back,
 *            disarm); on an abstract-bound or autobound one EADDRNOTAVAIL.
 *
 * Runs as root, in a writable working directory, with loopback up.  The
 * whole run is bounded by alarm(); every wait uses a poll timeout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
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

#define NUM_CHECKS	25

#define DELAY_MS	30000		/* parked lifetime; <= default max 60000 */
#define ADOPTER_DELAY_MS 20000		/* an adopter's own, unlike the parker's */
#define K_CLIENTS	5
#define MAX_FDS		8		/* room for more fds than expected */
#define TAG		"handoff-listener-v1"
#define TAG2		"handoff-pipe"	/* rekill: the second datagram */
#define PIPE_MSG	"pipe-token"	/* what the parked pipe holds */
#define NOBODY		65534

#define IO_TIMEOUT_MS	5000		/* any single poll() */
#define CHILD_TIMEOUT_MS 10000		/* waiting for a child to finish */
#define CHILD_ALARM_S	20		/* a child's own hard limit */
#define TOTAL_ALARM_S	55		/* the whole program */

#define PATH_EXIT	"handoff_exit.sock"
#define PATH_KILL	"handoff_sigkill.sock"
#define PATH_REKILL	"handoff_rekill.sock"
#define REFUSAL_DIR	"handoff_refusal.d"
#define REFUSAL_NAME	"sock"
#define PATH_REFUSAL	REFUSAL_DIR "/" REFUSAL_NAME

#define CLIENT_MSG_LEN	8		/* "client-N", N a single digit */

/* ------------------------------------------------------------------ */
/* TCP helpers (127.0.0.1 only)                                        */

static int tcp_listener(int *port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(a);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		seterr("socket(AF_INET, SOCK_STREAM)");
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		seterr("bind(127.0.0.1:0)");
		goto fail;
	}
	if (listen(fd, 16)) {
		seterr("listen");
		goto fail;
	}
	if (getsockname(fd, (struct sockaddr *)&a, &len)) {
		seterr("getsockname");
		goto fail;
	}
	*port = ntohs(a.sin_port);
	return fd;
fail:
	close(fd);
	return -1;
}

/* Connect to 127.0.0.1:port and send "client-<id>". Returns the fd. */
static int tcp_client(int port, int id)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons((unsigned short)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	char msg[CLIENT_MSG_LEN + 1];
	socklen_t len;
	ssize_t n;
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		seterr("socket(AF_INET, SOCK_STREAM)");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (errno != EINPROGRESS) {
			seterr("connect");
			goto fail;
		}
		if (wait_fd(fd, POLLOUT, IO_TIMEOUT_MS, "connect"))
			goto fail;
		len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)) {
			seterr("getsockopt(SO_ERROR)");
			goto fail;
		}
		if (err) {
			errno = err;
			seterr("connect");
			goto fail;
		}
	}
	snprintf(msg, sizeof(msg), "client-%d", id % 10);
	n = send(fd, msg, CLIENT_MSG_LEN, MSG_NOSIGNAL);
	if (n < 0) {
		seterr("send");
		goto fail;
	}
	if (n != CLIENT_MSG_LEN) {
		seterrmsg("send: sent %zd of %d bytes", n, CLIENT_MSG_LEN);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * Accept `count` connections on lfd and read "client-N" from each.
 * expect is a bit mask of the client ids that must all be seen once.
 */
static bool accept_clients(const char *label, int lfd, int count,
			   unsigned int expect)
{
	unsigned int seen = 0;
	int i;

	for (i = 0; i < count; i++) {
		char buf[CLIENT_MSG_LEN];
		unsigned int bit;
		int c;

		if (wait_fd(lfd, POLLIN, IO_TIMEOUT_MS, "accept")) {
			tap_diag("%s: connection %d of %d: %s", label, i + 1, count, g_err);
			return false;
		}
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			seterr("accept4");
			tap_diag("%s: connection %d of %d: %s", label, i + 1, count, g_err);
			return false;
		}
		if (read_exact(c, buf, sizeof(buf), IO_TIMEOUT_MS)) {
			tap_diag("%s: connection %d of %d: %s", label, i + 1, count, g_err);
			close(c);
			return false;
		}
		close(c);
		if (memcmp(buf, "client-", 7) || buf[7] < '0' || buf[7] > '9') {
			tap_diag("%s: connection %d of %d: unexpected bytes '%.*s'",
				 label, i + 1, count, (int)sizeof(buf), buf);
			return false;
		}
		bit = 1u << (buf[7] - '0');
		if (!(expect & bit) || (seen & bit)) {
			tap_diag("%s: connection %d of %d: unexpected or repeated client '%.*s'",
				 label, i + 1, count, (int)sizeof(buf), buf);
			return false;
		}
		seen |= bit;
	}
	if (seen != expect) {
		tap_diag("%s: clients seen mask 0x%x, expected 0x%x", label, seen, expect);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Child processes                                                     */

struct child_report {
	struct child_status st;	/* ok: reached its end point; what: failure text */
	int port;		/* park child: port of the parked listener */
	int ret;		/* refusal child: bind() return value */
	int err;		/* refusal child: bind() errno */
};

/* --- parking child ------------------------------------------------- */

struct park_args {
	const char *path;
	bool chmod_sock;	/* chmod the socket file 0777 after bind */
	bool sigkill;		/* die by SIGKILL instead of exiting */
	bool pipe_too;		/* a second datagram: a pipe's two ends */
};

/* Send TAG2 with both ends of a new pipe holding PIPE_MSG to path. */
static int send_pipe(int u, const char *path)
{
	int p[2], ret;

	if (pipe2(p, O_CLOEXEC)) {
		seterr("pipe2");
		return -1;
	}
	if (write(p[1], PIPE_MSG, strlen(PIPE_MSG)) != (ssize_t)strlen(PIPE_MSG)) {
		seterr("write(pipe)");
		ret = -1;
	} else {
		ret = send_fds(u, path, TAG2, strlen(TAG2), p, 2, MSG_DONTWAIT);
	}
	close(p[0]);
	close(p[1]);
	return ret;
}

static void park_child_main(void *arg, int wfd)
{
	const struct park_args *a = arg;
	struct child_report r;
	int lfd, u;

	memset(&r, 0, sizeof(r));
	lfd = tcp_listener(&r.port);
	if (lfd < 0)
		child_fail(wfd, &r, sizeof(r));
	/* Armed before bind(), as v2 asks of every socket that may park. */
	u = unix_dgram_bind(a->path, DELAY_MS);
	if (u < 0)
		child_fail(wfd, &r, sizeof(r));
	if (a->chmod_sock && chmod(a->path, 0777)) {
		seterr("chmod(socket file, 0777)");
		child_fail(wfd, &r, sizeof(r));
	}
	if (!delay_is(u, DELAY_MS))
		child_fail(wfd, &r, sizeof(r));
	if (send_fds(u, a->path, TAG, strlen(TAG), &lfd, 1, MSG_DONTWAIT))
		child_fail(wfd, &r, sizeof(r));
	if (a->pipe_too && send_pipe(u, a->path))
		child_fail(wfd, &r, sizeof(r));

	/* Release the parked socket and the listener by dying/exiting only. */
	child_done(wfd, &r, sizeof(r), a->sigkill);
	_exit(0);
}

/* Run a parking child; true if it parked and ended as expected. */
static bool park_listener(const char *label, const char *path, bool chmod_sock,
			  bool sigkill, bool pipe_too, int *port)
{
	struct park_args a = { .path = path, .chmod_sock = chmod_sock,
			       .sigkill = sigkill, .pipe_too = pipe_too };
	struct child_report r;
	char how[160];
	bool have, ended_ok;
	int status;

	have = run_child(park_child_main, &a, &r, sizeof(r), &status, CHILD_ALARM_S,
			 CHILD_TIMEOUT_MS);
	if (!have)
		tap_diag("%s: parking child: %s", label, g_err);
	else if (!r.st.ok)
		tap_diag("%s: parking child: %s", label, r.st.what);

	ended_ok = ended_as(status, sigkill, how, sizeof(how));
	if (!ended_ok)
		tap_diag("%s: parking child %s", label, how);
	*port = r.port;
	return have && r.st.ok && ended_ok;
}

/* --- refused binder ------------------------------------------------ */

enum refusal { REFUSE_UID, REFUSE_NETNS };

struct refuse_args {
	enum refusal mode;
};

static void refuse_child_main(void *arg, int wfd)
{
	const struct refuse_args *a = arg;
	struct child_report r;
	const char *path = PATH_REFUSAL;
	int u;

	memset(&r, 0, sizeof(r));
	if (a->mode == REFUSE_UID) {
		/*
		 * Enter the 0777 directory while still root, so that the path
		 * lookup as nobody does not depend on the permissions of the
		 * working directory; "sock" there is the parked path.
		 */
		if (chdir(REFUSAL_DIR)) {
			seterr("chdir(" REFUSAL_DIR ")");
			child_fail(wfd, &r, sizeof(r));
		}
		path = REFUSAL_NAME;
		if (setgroups(0, NULL)) {
			seterr("setgroups(0)");
			child_fail(wfd, &r, sizeof(r));
		}
		if (setgid(NOBODY)) {
			seterr("setgid(65534)");
			child_fail(wfd, &r, sizeof(r));
		}
		if (setuid(NOBODY)) {
			seterr("setuid(65534)");
			child_fail(wfd, &r, sizeof(r));
		}
		if (geteuid() != NOBODY || getegid() != NOBODY) {
			seterrmsg("euid/egid %u/%u after setuid/setgid(65534)",
				  (unsigned int)geteuid(), (unsigned int)getegid());
			child_fail(wfd, &r, sizeof(r));
		}
	} else {
		if (unshare(CLONE_NEWNET)) {
			seterr("unshare(CLONE_NEWNET)");
			child_fail(wfd, &r, sizeof(r));
		}
	}

	/* Armed before bind(): a socket without the option never adopts. */
	u = unix_dgram_bind(path, DELAY_MS);
	r.st.ok = 1;
	r.ret = u < 0 ? -1 : 0;
	r.err = u < 0 ? errno : 0;
	if (u < 0)
		snprintf(r.st.what, sizeof(r.st.what), "%s", g_err);
	child_send(wfd, &r, sizeof(r));
	_exit(0);
}

static bool refused_bind(const char *label, const char *who, enum refusal mode)
{
	struct refuse_args a = { .mode = mode };
	struct child_report r;
	char how[160];
	int status, want = mode == REFUSE_UID ? EPERM : EADDRINUSE;
	bool have, ok = false;

	have = run_child(refuse_child_main, &a, &r, sizeof(r), &status, CHILD_ALARM_S,
			 CHILD_TIMEOUT_MS);
	if (!have) {
		tap_diag("%s: %s child: %s", label, who, g_err);
	} else if (!r.st.ok) {
		tap_diag("%s: %s child setup failed: %s", label, who, r.st.what);
	} else if (r.ret == 0) {
		tap_diag("%s: %s: armed bind(%s) returned 0, expected %s", label, who,
			 PATH_REFUSAL, strerror(want));
	} else if (r.err != want) {
		tap_diag("%s: %s: %s; expected %s", label, who, r.st.what, strerror(want));
	} else {
		ok = true;
	}
	if (have && (status == -1 || !WIFEXITED(status) ||
		     WEXITSTATUS(status) != 0)) {
		describe_status(status, how, sizeof(how));
		tap_diag("%s: %s child %s", label, who, how);
		ok = false;
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* Successor side                                                      */

/*
 * Receive the parked datagram on u: exactly one fd, data == TAG, and the
 * fd is a listening socket.  Returns the listener fd (non-blocking) or -1.
 */
static int receive_listener(const char *label, int u)
{
	char buf[64];
	int fds[MAX_FDS], nfds = 0, i, acc = 0, fl;
	socklen_t len = sizeof(acc);
	ssize_t n;
	bool ok = true;

	n = recv_fds(u, buf, sizeof(buf), fds, MAX_FDS, &nfds, 0, IO_TIMEOUT_MS);
	if (n < 0) {
		tap_diag("%s: %s", label, g_err);
		return -1;
	}
	if (nfds != 1) {
		tap_diag("%s: recvmsg: %d fds received, expected exactly 1", label, nfds);
		ok = false;
	}
	if ((size_t)n != strlen(TAG) || memcmp(buf, TAG, strlen(TAG))) {
		tap_diag("%s: recvmsg: data '%.*s' (%zd bytes), expected '%s'",
			 label, (int)n, buf, n, TAG);
		ok = false;
	}
	if (ok) {
		if (getsockopt(fds[0], SOL_SOCKET, SO_ACCEPTCONN, &acc, &len)) {
			seterr("getsockopt(SO_ACCEPTCONN)");
			tap_diag("%s: received fd: %s", label, g_err);
			ok = false;
		} else if (!acc) {
			tap_diag("%s: received fd is not a listening socket", label);
			ok = false;
		}
	}
	if (ok) {
		fl = fcntl(fds[0], F_GETFL);
		if (fl < 0 || fcntl(fds[0], F_SETFL, fl | O_NONBLOCK)) {
			seterr("fcntl(O_NONBLOCK)");
			tap_diag("%s: received fd: %s", label, g_err);
			ok = false;
		}
	}
	if (!ok) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		return -1;
	}
	return fds[0];
}

/*
 * Bind path as the successor, armed before bind() with ADOPTER_DELAY_MS;
 * returns the fd or -1 (diagnosed).
 */
static int successor_bind(const char *label, const char *path)
{
	int u = unix_dgram_bind(path, ADOPTER_DELAY_MS);

	if (u < 0)
		tap_diag("%s: %s", label, g_err);
	return u;
}

/* bind() of a parked path without the option: true if EADDRINUSE. */
static bool unarmed_bind_refused(const char *label, const char *path)
{
	int u = unix_dgram_bind(path, 0);

	if (u >= 0) {
		tap_diag("%s: bind(%s) without UNIX_DELAY_CLOSE returned 0, expected EADDRINUSE",
			 label, path);
		close(u);
		return false;
	}
	if (errno != EADDRINUSE) {
		tap_diag("%s: %s, expected EADDRINUSE", label, g_err);
		return false;
	}
	return true;
}

/*
 * Close an adopter.  It is armed: disarmed first, so that its close parks
 * nothing (the test is done with the path).
 */
static void disarm_close(const char *label, int *u)
{
	if (*u >= 0 && set_delay(*u, 0))
		tap_diag("%s: disarming the adopter: %s", label, g_err);
	close_fd(u);
}

/* ------------------------------------------------------------------ */
/* Scenarios                                                           */

/* Checks 1-6 (exit) and 7-12 (sigkill). */
/*
 * The adopted listener @lfd accepts all K_CLIENTS connections that were
 * made @when (for the diagnostic), if every one of them connected.
 */
static bool accept_all_clients(const char *label, int lfd, int nclients, const char *when)
{
	if (lfd >= 0 && nclients == K_CLIENTS)
		return accept_clients(label, lfd, K_CLIENTS, (1u << K_CLIENTS) - 1);
	if (lfd < 0)
		tap_diag("%s: skipped: no listener received", label);
	else
		tap_diag("%s: skipped: not all clients connected %s", label, when);
	return false;
}

/* Close what a listener scenario made, disarming the adopter first. */
static void end_scenario(const char *label, const char *path, int *clients, int *lfd, int *u)
{
	int i;

	for (i = 0; i < K_CLIENTS; i++)
		close_fd(&clients[i]);
	close_fd(lfd);
	disarm_close(label, u);
	unlink(path);
}

/*
 * Connect K_CLIENTS TCP clients to 127.0.0.1:@port, @when (for the
 * diagnostic); stop at the first failure.  Returns how many connected.
 */
static int connect_clients(const char *label, int port, int *clients, const char *when)
{
	int i;

	for (i = 0; i < K_CLIENTS; i++) {
		clients[i] = tcp_client(port, i);
		if (clients[i] < 0) {
			tap_diag("%s: client %d to 127.0.0.1:%d %s: %s", label, i, port, when, g_err);
			break;
		}
	}
	return i;
}

static void scenario_handoff(const char *label, const char *path, bool sigkill)
{
	int clients[K_CLIENTS];
	int u = -1, lfd = -1, port = 0, nclients = 0, i;
	bool parked, accepted = false, own = false, busy = false;

	for (i = 0; i < K_CLIENTS; i++)
		clients[i] = -1;
	unlink(path);

	parked = park_listener(label, path, false, sigkill, false, &port);
	tap_result(parked,
		   "%s: child armed a socket (UNIX_DELAY_CLOSE=%d) before bind(%s), parked a TCP listener and %s",
		   label, DELAY_MS, path,
		   sigkill ? "was killed by SIGKILL" : "exited normally");

	/* No process holds the listener now: the clients connect. */
	if (parked)
		nclients = connect_clients(label, port, clients, "while parked");

	/* A socket without the option never adopts; the queue stays. */
	if (parked)
		busy = unarmed_bind_refused(label, path);
	else
		tap_diag("%s: skipped: nothing parked", label);
	tap_result(busy,
		   "%s: bind(%s) of a socket without UNIX_DELAY_CLOSE fails with EADDRINUSE",
		   label, path);

	u = successor_bind(label, path);
	tap_result(u >= 0,
		   "%s: successor armed with UNIX_DELAY_CLOSE=%d before bind(%s): bind returns 0",
		   label, ADOPTER_DELAY_MS, path);

	if (u >= 0)
		lfd = receive_listener(label, u);
	else
		tap_diag("%s: no adopted socket, nothing to receive", label);
	tap_result(lfd >= 0,
		   "%s: successor received exactly one fd (a TCP listener) with the data tag",
		   label);

	accepted = accept_all_clients(label, lfd, nclients, "while parked");
	tap_result(accepted,
		   "%s: adopted listener accepted all %d connections made while parked and read their bytes",
		   label, K_CLIENTS);

	if (u >= 0) {
		own = delay_is(u, ADOPTER_DELAY_MS);
		if (!own)
			tap_diag("%s: adopter: %s (its own; the parker's was %d)",
				 label, g_err, DELAY_MS);
	} else {
		tap_diag("%s: skipped: no adopted socket", label);
	}
	tap_result(own, "%s: adopter's getsockopt(UNIX_DELAY_CLOSE) is its own %d (nothing inherited)",
		   label, ADOPTER_DELAY_MS);

	end_scenario(label, path, clients, &lfd, &u);
}

/* Checks 13-18. */
static void scenario_refusals(void)
{
	const char *label = "refusal";
	int u = -1, lfd = -1, c = -1, port = 0;
	bool parked, accepted = false;
	char who[64];

	if (mkdir(REFUSAL_DIR, 0777) && errno != EEXIST) {
		seterr("mkdir(" REFUSAL_DIR ")");
		tap_diag("%s: %s", label, g_err);
	}
	if (chmod(REFUSAL_DIR, 0777)) {
		seterr("chmod(" REFUSAL_DIR ", 0777)");
		tap_diag("%s: %s", label, g_err);
	}
	unlink(PATH_REFUSAL);

	parked = park_listener(label, PATH_REFUSAL, true, false, false, &port);
	tap_result(parked,
		   "%s: child parked a TCP listener at %s (directory and socket file mode 0777) and exited",
		   label, PATH_REFUSAL);

	snprintf(who, sizeof(who), "uid/gid %d", NOBODY);
	tap_result(refused_bind(label, who, REFUSE_UID),
		   "%s: armed bind(%s) as uid/gid %d fails with EPERM",
		   label, PATH_REFUSAL, NOBODY);

	tap_result(refused_bind(label, "new netns", REFUSE_NETNS),
		   "%s: armed bind(%s) after unshare(CLONE_NEWNET) fails with EADDRINUSE (parked queues are per netns)",
		   label, PATH_REFUSAL);

	u = successor_bind(label, PATH_REFUSAL);
	tap_result(u >= 0,
		   "%s: owner (root, same netns, armed) bind(%s) returns 0 after both refusals",
		   label, PATH_REFUSAL);

	if (u >= 0)
		lfd = receive_listener(label, u);
	else
		tap_diag("%s: no adopted socket, nothing to receive", label);
	tap_result(lfd >= 0,
		   "%s: owner received exactly one fd (the TCP listener) with the data tag",
		   label);

	if (lfd >= 0) {
		c = tcp_client(port, 9);
		if (c < 0)
			tap_diag("%s: new client to 127.0.0.1:%d: %s", label, port, g_err);
		else
			accepted = accept_clients(label, lfd, 1, 1u << 9);
	} else {
		tap_diag("%s: skipped: no listener received", label);
	}
	tap_result(accepted,
		   "%s: adopted listener accepts a new connection and reads its bytes",
		   label);

	close_fd(&c);
	close_fd(&lfd);
	disarm_close(label, &u);
	unlink(PATH_REFUSAL);
	rmdir(REFUSAL_DIR);
}

/* --- an adopter killed right after bind() --------------------------- */

static void kill_adopter_main(void *arg, int wfd)
{
	const char *path = arg;
	struct child_report r;
	int u;

	memset(&r, 0, sizeof(r));
	u = unix_dgram_bind(path, ADOPTER_DELAY_MS);
	if (u < 0)
		child_fail(wfd, &r, sizeof(r));
	/* Bound: report, and die before reading anything. */
	child_done(wfd, &r, sizeof(r), true);
	_exit(3);
}

/*
 * Receive the second datagram of the rekill parcel: TAG2 with both ends
 * of the pipe, whose content is still PIPE_MSG.  True if so.
 */
static bool receive_pipe(const char *label, int u)
{
	char buf[64];
	int fds[MAX_FDS], nfds = 0, i;
	ssize_t n;
	bool ok = false;

	n = recv_fds(u, buf, sizeof(buf), fds, MAX_FDS, &nfds, 0, IO_TIMEOUT_MS);
	if (n < 0) {
		tap_diag("%s: second datagram: %s", label, g_err);
		return false;
	}
	if (nfds != 2) {
		tap_diag("%s: second datagram: %d fds, expected 2", label, nfds);
	} else if ((size_t)n != strlen(TAG2) || memcmp(buf, TAG2, strlen(TAG2))) {
		tap_diag("%s: second datagram: data '%.*s' (%zd bytes), expected '%s'",
			 label, (int)n, buf, n, TAG2);
	} else if ((fcntl(fds[0], F_GETFL) & O_ACCMODE) != O_RDONLY ||
		   (fcntl(fds[1], F_GETFL) & O_ACCMODE) != O_WRONLY) {
		tap_diag("%s: second datagram: the fds are not a pipe's read and write ends",
			 label);
	} else if (read_expect(fds[0], PIPE_MSG, IO_TIMEOUT_MS)) {
		tap_diag("%s: the parked pipe: %s", label, g_err);
	} else {
		ok = true;
	}
	for (i = 0; i < nfds; i++)
		close_fd(&fds[i]);
	return ok;
}

/* Checks 19-23. */
static void scenario_rekill(void)
{
	const char *label = "rekill", *path = PATH_REKILL;
	struct child_report r;
	int clients[K_CLIENTS];
	int u = -1, lfd = -1, port = 0, nclients = 0, status, i;
	bool parked, killed = false, all = false, accepted = false;
	char how[160];

	for (i = 0; i < K_CLIENTS; i++)
		clients[i] = -1;
	unlink(path);

	parked = park_listener(label, path, false, true, true, &port);
	tap_result(parked,
		   "%s: child parked a TCP listener and a pipe's two ends (2 datagrams) at %s and was killed by SIGKILL",
		   label, path);

	if (parked) {
		if (!run_child(kill_adopter_main, (void *)path, &r, sizeof(r), &status,
			       CHILD_ALARM_S, CHILD_TIMEOUT_MS))
			tap_diag("%s: adopter child: %s", label, g_err);
		else if (!r.st.ok)
			tap_diag("%s: adopter child: %s", label, r.st.what);
		else if (!ended_as(status, true, how, sizeof(how)))
			tap_diag("%s: adopter child %s", label, how);
		else {
			killed = true;
		}
	} else {
		tap_diag("%s: skipped: nothing parked", label);
	}
	tap_result(killed,
		   "%s: an adopter armed before bind(%s) got 0 and was SIGKILLed right after, reading nothing",
		   label, path);

	/* The queue parked again: the listener still takes connections. */
	if (killed)
		nclients = connect_clients(label, port, clients, "after the adopter died");

	if (killed)
		u = successor_bind(label, path);
	else
		tap_diag("%s: skipped: no killed adopter", label);
	tap_result(u >= 0,
		   "%s: the next armed bind(%s) returns 0: the queue had parked again",
		   label, path);

	if (u >= 0) {
		char extra[64];
		int fds[MAX_FDS], nfds = 0;

		lfd = receive_listener(label, u);
		if (lfd >= 0 && receive_pipe(label, u)) {
			/* And nothing else: the first adopter read nothing. */
			if (recv_fds(u, extra, sizeof(extra), fds, MAX_FDS, &nfds, 0, 0) >= 0) {
				tap_diag("%s: a third datagram was queued", label);
				for (i = 0; i < nfds; i++)
					close(fds[i]);
			} else {
				all = true;
			}
		}
	} else {
		tap_diag("%s: skipped: nothing adopted", label);
	}
	tap_result(all,
		   "%s: it receives both datagrams, unread and in order, with every fd (the listener, the pipe's two ends holding their bytes)",
		   label);

	accepted = accept_all_clients(label, lfd, nclients, "after the adopter died");
	tap_result(accepted,
		   "%s: the listener accepts all %d connections made after the adopter died",
		   label, K_CLIENTS);

	end_scenario(label, path, clients, &lfd, &u);
}

/* --- the option on unbound and abstract sockets ---------------------- */

/* Checks 24-25. */
static void scenario_option(void)
{
	const char *label = "option";
	struct sockaddr_un addr;
	socklen_t len;
	int fd, i, ms = 1234;
	bool ok = false;

	/* 24: an unbound socket takes the option, reports it, is disarmed. */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		seterr("socket(AF_UNIX, SOCK_DGRAM)");
		tap_diag("%s: %s", label, g_err);
	} else if (set_delay(fd, ms) || !delay_is(fd, ms) ||
		   set_delay(fd, 0) || !delay_is(fd, 0)) {
		tap_diag("%s: unbound socket: %s", label, g_err);
	} else {
		ok = true;
	}
	close_fd(&fd);
	tap_result(ok,
		   "%s: setsockopt(UNIX_DELAY_CLOSE, %d) on an unbound socket returns 0, getsockopt gives %d, 0 disarms",
		   label, ms, ms);

	/* 25: abstract-bound and autobound sockets: EADDRNOTAVAIL. */
	ok = true;
	for (i = 0; i < 2; i++) {
		const char *what = i ? "autobound" : "abstract-bound";

		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			seterr("socket(AF_UNIX, SOCK_DGRAM)");
			tap_diag("%s: %s", label, g_err);
			ok = false;
			continue;
		}
		memset(&addr, 0, sizeof(addr));
		addr.sun_family = AF_UNIX;
		if (i) {
			len = sizeof(sa_family_t);
		} else {
			len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1,
					 "handoff_check.%d", (int)getpid()));
		}
		if (bind(fd, (struct sockaddr *)&addr, len)) {
			seterr("bind");
			tap_diag("%s: %s: %s", label, what, g_err);
			ok = false;
		} else if (!set_delay(fd, ms)) {
			tap_diag("%s: %s: setsockopt(UNIX_DELAY_CLOSE, %d) returned 0, expected EADDRNOTAVAIL",
				 label, what, ms);
			ok = false;
		} else if (errno != EADDRNOTAVAIL) {
			tap_diag("%s: %s: %s, expected EADDRNOTAVAIL", label, what, g_err);
			ok = false;
		}
		close_fd(&fd);
	}
	tap_result(ok,
		   "%s: setsockopt(UNIX_DELAY_CLOSE) on an abstract-bound and an autobound socket fails with EADDRNOTAVAIL",
		   label);
}

int main(void)
{
	tap_time_limit(TOTAL_ALARM_S);
	signal(SIGPIPE, SIG_IGN);

	tap_plan(NUM_CHECKS);
	if (geteuid() != 0)
		tap_diag("not running as root (euid %u): the refusal checks need root",
			 (unsigned int)geteuid());

	scenario_handoff("exit", PATH_EXIT, false);
	scenario_handoff("sigkill", PATH_KILL, true);
	scenario_refusals();
	scenario_rekill();
	scenario_option();

	return tap_finish();
}
