// SPDX-License-Identifier: GPL-2.0
/*
 * unix_stress: random interleavings of UNIX_DELAY_CLOSE with everything that
 * broke the AF_UNIX garbage collector before, checked as it goes.
 *
 * Several worker processes (one of them as another uid, some switching
 * between two network namespaces) and threads inside them share a small pool
 * of socket paths and, for a bounded time, pick at random:
 *   park     set the option, bind a path (adopting what is parked there),
 *            queue 1-3 datagrams of fds, then close it, exit, or die by
 *            SIGKILL (in a child);
 *   adopt    bind a path, mostly armed before bind(): adopt what is parked
 *            there (or get EADDRINUSE, EPERM, EDQUOT, a fresh socket; a
 *            socket without the option never adopts and never gets EPERM),
 *            check that the adopter reports its own delay, then drain it
 *            with MSG_PEEK and small control buffers (MSG_CTRUNC), and
 *            disarm and close it, or park it again; or, in a child, die by
 *            SIGKILL right after an armed bind() returns (the queue parks
 *            again, unread);
 *   cycles   self-referencing sockets and pairs that hold each other, closed
 *            to the collector; the adopter sent into the queue it adopts;
 *   shapes   a TCP listener with a pending connection, a unix listener with
 *            an embryo, a stream socket whose MSG_OOB skb carries fds, a
 *            unix socket carrying a unix socket;
 *   races    close() racing bind() on the same path, MSG_PEEK of unix fds
 *            racing the collector, two threads setting the option to
 *            MAX_DELAY_MS and to 0 on one bound socket: getsockopt says
 *            armed if and only if its close parks the queue (an armed
 *            bind() of its private path then adopts it);
 * while another process changes net.unix.delay_close_max_ms and
 * net.unix.delay_close_max_per_user mid-flight.
 *
 * The fds a test can follow are "tokens": the read end of a pipe whose only
 * content is the token's number, listed in the datagram that carries it.
 * A token comes out exactly once (recvmsg() gives it and the pipe still holds
 * its number), or is dropped by the kernel at MSG_CTRUNC, or is released
 * unread (expiry, the collector); never two of these, and never neither:
 * when its creator finally sees every read end closed (POLLERR on the write
 * end), the verdict is final.  A "canary" token sits in each cycle no one
 * can reach: it being released is a cycle collected.
 *
 * At the end every parked queue has expired or been adopted, and the socket
 * counts of both namespaces, the unix in-flight count of the other uid,
 * /proc/sys/fs/file-nr and (when the kernel has it) the slab of AF_UNIX
 * sockets are back at their baseline.
 *
 * Duration: puds.stress=SECONDS on the kernel command line (default 20), or
 * argv[1].  Output: TAP, and a "# stress:" summary line per figure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/un.h>

#include "selftest.h"

#ifndef SOL_UNIX
#define SOL_UNIX 288
#endif

#define SYSCTL_MAX "/proc/sys/net/unix/delay_close_max_ms"
#define SYSCTL_PER_USER "/proc/sys/net/unix/delay_close_max_per_user"
#define NOBODY 65534

#define NR_WORKERS 4		/* worker 0 runs as NOBODY */
#define NR_PATHS 12
#define MAX_TOKENS 65536
#define LIVE_TOKENS 256		/* per worker, before it waits for verdicts */
#define MAX_DELAY_MS 1500	/* of any park: everything expires soon */
#define MAX_FDS_PER_MSG 8
#define MAX_ITERATIONS 5000000	/* over all workers: bounded in count too */

/* --- shared state -------------------------------------------------------- */

enum counter {
	C_ITER, C_PARK, C_PARK_REFUSED, C_BIND, C_ADOPT_EPERM,
	C_ADOPT_BUSY, C_RECV, C_PEEK, C_CTRUNC, C_GC, C_NETNS,
	C_SYSCTL, C_CYCLE, C_SELF, C_ADOPTER_CYCLE, C_EMBRYO, C_OOB, C_TCP,
	C_RACE_BIND, C_RACE_PEEK, C_UNLINK, C_SEND_REFUSED,
	C_BIND_QUOTA, C_ADOPT_KILLED, C_RACE_ARM,
	NR_COUNTERS
};

static const char *const counter_name[NR_COUNTERS] = {
	"iterations", "parks", "parks_refused", "binds",
	"adopt_eperm", "adopt_busy", "datagrams_received",
	"peeks", "ctrunc", "gc_forced", "netns_switches", "sysctl_changes",
	"cycles_made", "self_refs", "adopter_cycles", "embryos", "oob_skbs",
	"tcp_listeners", "close_bind_races", "peek_gc_races", "unlinks",
	"sends_refused", "binds_quota", "adopters_killed", "arm_disarm_races",
};

/*
 * T_SENDING: in a sendmsg() now.  T_UNSURE: its sender was killed in that
 * sendmsg() (a pool child: a SIGKILL pending during the call lands after the
 * kernel queued the message), so whether it went is known only from what
 * comes out: counted as sent once it is received or truncated.
 */
/*
 * A truncated token's fd is closed by the kernel inside recvmsg(), before the
 * receiver counts the truncation: its creator may see the pipe orphaned and
 * give its verdict first.  Both sides settle the balance on one word, so the
 * token is counted once, whichever comes first.
 */
enum token_outcome { O_NONE, O_TRUNCATED, O_RELEASED, O_UNSURE_GONE };

enum token_state { T_FREE, T_MADE, T_SENDING, T_SENT, T_UNSURE, T_CANCELLED, T_DONE };

struct token {
	_Atomic int state;
	_Atomic int received;	/* recvmsg() gave it and its number was there */
	_Atomic int truncated;	/* its datagram came out with MSG_CTRUNC */
	_Atomic int outcome;	/* what the balance counted: enum token_outcome */
	int canary;		/* sits in a cycle that no one can reach */
	int origin;		/* the op that made it, for reports */
	int where;		/* how it was queued, for reports */
};

struct shared {
	_Atomic long count[NR_COUNTERS];
	_Atomic long violations;
	_Atomic long leaks;		/* fds never released: violations too */
	_Atomic int stop;
	_Atomic unsigned int next_token;
	_Atomic long tok_sent, tok_received, tok_truncated, tok_released,
		canaries_collected, canaries_received;
	pthread_mutex_t log_lock;
	char first_violation[256];
	struct token tokens[MAX_TOKENS];
};

static struct shared *sh;
static char dir[64];
static int netns[2];			/* fds of the two namespaces */
static __thread unsigned int seed;
static int worker_id = -1;
static int cur_op;
static __thread int cur_shape;	/* 0 plain, 1 OOB, 2 cycle, 3 unix in unix, 4 adopter */

#define count(c) atomic_fetch_add(&sh->count[c], 1)

static void violation(const char *fmt, ...)
{
	va_list ap;
	char buf[256];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# VIOLATION (worker %d): %s\n", worker_id, buf);
	fflush(stdout);
	pthread_mutex_lock(&sh->log_lock);
	if (!sh->violations++)
		snprintf(sh->first_violation, sizeof(sh->first_violation), "%s", buf);
	pthread_mutex_unlock(&sh->log_lock);
}

static unsigned int rnd(unsigned int n)
{
	return n ? rand_r(&seed) % n : 0;
}

static void path_of(char *buf, size_t len, unsigned int i)
{
	snprintf(buf, len, "%s/s%u", dir, i);
}

static int bind_path(int fd, const char *path)
{
	struct sockaddr_un sun;
	socklen_t len = unix_addr(&sun, path);

	return bind(fd, (struct sockaddr *)&sun, len) ? -errno : 0;
}

/* setsockopt(UNIX_DELAY_CLOSE): 0 or -errno (no error text: threads call it). */
static int set_delay_err(int fd, int ms)
{
	return setsockopt(fd, SOL_UNIX, UNIX_DELAY_CLOSE, &ms, sizeof(ms)) ? -errno : 0;
}

/* --- what travels in a datagram ------------------------------------------- */

#define MAGIC 0x70756473u	/* "puds" */

struct payload {
	uint32_t magic;
	uint32_t ntok;		/* the first ntok fds are these tokens */
	uint32_t tok[MAX_FDS_PER_MSG];
};

struct outmsg {
	struct payload pl;
	int fds[MAX_FDS_PER_MSG];
	int nfds;
};

/* A new token: its pipe's read end goes into @m, the write end is kept. */
static int token_make(struct outmsg *m, int *wfd_of, bool canary)
{
	unsigned int id;
	int p[2];

	if (m->nfds >= MAX_FDS_PER_MSG || m->pl.ntok != (uint32_t)m->nfds)
		return -1;
	id = atomic_fetch_add(&sh->next_token, 1);
	if (id >= MAX_TOKENS)
		return -1;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return -1;
	if (write(p[1], &id, sizeof(id)) != sizeof(id)) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	sh->tokens[id].canary = canary;
	sh->tokens[id].origin = cur_op;
	atomic_store(&sh->tokens[id].state, T_MADE);
	wfd_of[id] = p[1];
	m->pl.tok[m->pl.ntok++] = id;
	m->fds[m->nfds++] = p[0];
	return 0;
}

static void add_fd(struct outmsg *m, int fd)
{
	if (fd >= 0 && m->nfds < MAX_FDS_PER_MSG)
		m->fds[m->nfds++] = dup(fd);
}

/*
 * Send @m to @path (or the peer), then drop this process's copies of what it
 * carried.  Its tokens are SENT when it went, CANCELLED otherwise.
 */
static int send_out(int fd, const char *path, struct outmsg *m, int flags)
{
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MSG)] = {};
	struct iovec iov = { .iov_base = &m->pl, .iov_len = sizeof(m->pl) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct sockaddr_un sun;
	struct cmsghdr *cmsg;
	int ret, i;

	m->pl.magic = MAGIC;
	if (flags & MSG_OOB)
		iov.iov_len = 1;
	if (path) {
		msg.msg_name = &sun;
		msg.msg_namelen = unix_addr(&sun, path);
	}
	if (m->nfds) {
		msg.msg_control = cbuf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * m->nfds);
		memcpy(CMSG_DATA(cmsg), m->fds, sizeof(int) * m->nfds);
	}
	for (i = 0; i < (int)m->pl.ntok; i++)
		atomic_store(&sh->tokens[m->pl.tok[i]].state, T_SENDING);
	ret = sendmsg(fd, &msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -errno : 0;
	for (i = 0; i < (int)m->pl.ntok; i++) {
		atomic_store(&sh->tokens[m->pl.tok[i]].state, ret ? T_CANCELLED : T_SENT);
		if (!ret)
			atomic_fetch_add(&sh->tok_sent, 1);
	}
	for (i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
	m->pl.ntok = 0;
	return ret;
}

/* --- tokens: the receiving side -------------------------------------------- */

static void token_received(uint32_t id, int fd)
{
	struct token *t;
	uint32_t got = ~0u;
	struct stat st;

	if (id >= MAX_TOKENS) {
		violation("datagram names token %u, beyond the table", id);
		return;
	}
	t = &sh->tokens[id];
	if (fstat(fd, &st) || !S_ISFIFO(st.st_mode)) {
		violation("token %u arrived as an fd that is not its pipe", id);
		return;
	}
	/* The number is read once: a second delivery finds the pipe empty. */
	if (read(fd, &got, sizeof(got)) != sizeof(got))
		violation("token %u came out twice (its pipe is empty: %s)", id,
			  strerror(errno));
	else if (got != id)
		violation("token %u arrived holding token %u's pipe", id, got);
	atomic_fetch_add(&t->received, 1);
	atomic_fetch_add(&sh->tok_received, 1);
	if (t->canary)
		atomic_fetch_add(&sh->canaries_received, 1);
}

/*
 * Receive one datagram from @fd with a control buffer room for @room fds,
 * peeking first when @peek.  Unix sockets that come out are drained one
 * level deep, then closed.  Returns 1, 0 (nothing queued) or -errno.
 */
static int drain_one(int fd, int room, bool peek, int depth);

static void token_truncated(struct token *t)
{
	int o = O_NONE;

	atomic_fetch_add(&t->truncated, 1);
	atomic_fetch_add(&sh->tok_truncated, 1);
	if (atomic_compare_exchange_strong(&t->outcome, &o, O_TRUNCATED))
		return;
	/* The verdict came first and took it for released, or never sent. */
	if (o == O_RELEASED &&
	    atomic_compare_exchange_strong(&t->outcome, &o, O_TRUNCATED)) {
		atomic_fetch_sub(&sh->tok_released, 1);
		if (t->canary)
			atomic_fetch_sub(&sh->canaries_collected, 1);
	} else if (o == O_UNSURE_GONE &&
		   atomic_compare_exchange_strong(&t->outcome, &o, O_TRUNCATED)) {
		atomic_fetch_add(&sh->tok_sent, 1);
	}
}

static void drain_all(int fd, int depth)
{
	int i;

	for (i = 0; i < 16; i++)
		if (drain_one(fd, rnd(4) ? MAX_FDS_PER_MSG : rnd(3), rnd(3) == 0, depth) <= 0)
			break;
}

static int recv_dgram(int fd, int room, int flags, struct payload *pl, int *fds,
		      int *nfds, bool *ctrunc)
{
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MSG)];
	struct iovec iov = { .iov_base = pl, .iov_len = sizeof(*pl) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = room ? cbuf : NULL,
		.msg_controllen = room ? CMSG_SPACE(sizeof(int) * room) : 0,
	};
	struct cmsghdr *cmsg;
	ssize_t n;

	memset(pl, 0, sizeof(*pl));
	*nfds = 0;
	n = recvmsg(fd, &msg, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	*ctrunc = msg.msg_flags & MSG_CTRUNC;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		int k;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds + *nfds, CMSG_DATA(cmsg), sizeof(int) * k);
		*nfds += k;
	}
	return 1;
}

static int drain_one(int fd, int room, bool peek, int depth)
{
	int fds[MAX_FDS_PER_MSG], nfds, i, ret;
	struct payload pl;
	bool ctrunc = false;

	if (peek) {
		/* A peek dups the fds: close them, the tokens stay queued. */
		ret = recv_dgram(fd, rnd(MAX_FDS_PER_MSG + 1), MSG_PEEK, &pl, fds, &nfds, &ctrunc);
		if (ret <= 0)
			return ret;
		count(C_PEEK);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
	}
	ret = recv_dgram(fd, room, 0, &pl, fds, &nfds, &ctrunc);
	if (ret <= 0)
		return ret;
	count(C_RECV);
	if (ctrunc)
		count(C_CTRUNC);
	if (pl.magic != MAGIC) {
		/* Bytes of an OOB or stream message: no tokens listed. */
		pl.ntok = 0;
	} else if (pl.ntok > MAX_FDS_PER_MSG) {
		violation("datagram lists %u tokens", pl.ntok);
		pl.ntok = 0;
	}
	if (!ctrunc && nfds < (int)pl.ntok)
		violation("datagram with %u tokens gave %d fds without MSG_CTRUNC",
			  pl.ntok, nfds);
	for (i = 0; i < (int)pl.ntok; i++) {
		if (i < nfds) {
			token_received(pl.tok[i], fds[i]);
		} else if (pl.tok[i] < MAX_TOKENS) {
			token_truncated(&sh->tokens[pl.tok[i]]);
		}
	}
	for (i = 0; i < nfds; i++) {
		struct stat st;

		if (depth > 0 && i >= (int)pl.ntok && !fstat(fds[i], &st) &&
		    S_ISSOCK(st.st_mode))
			drain_all(fds[i], depth - 1);
		close(fds[i]);
	}
	return 1;
}

/* --- tokens: the creator's verdicts ------------------------------------------ */

struct mine {
	int wfd[MAX_TOKENS];	/* write end of each token this worker made */
	unsigned int live[MAX_TOKENS];
	int nlive;
};

static struct mine *mine;

/* Every read end closed: the verdict on token @id is final. */
static void token_verdict(unsigned int id)
{
	struct token *t = &sh->tokens[id];
	int r = atomic_load(&t->received), tr = atomic_load(&t->truncated);

	if (r + tr > 1)
		violation("token %u: received %d times, truncated %d times", id, r, tr);
	if (atomic_load(&t->state) == T_UNSURE) {
		/* Sent if it came out; if not, it never went or was released. */
		int o = O_NONE;

		if (r || !atomic_compare_exchange_strong(&t->outcome, &o, O_UNSURE_GONE))
			atomic_fetch_add(&sh->tok_sent, 1);
	} else if (!r) {
		int o = O_NONE;

		/* Released, unless a truncation counted it (now or later). */
		if (atomic_compare_exchange_strong(&t->outcome, &o, O_RELEASED)) {
			atomic_fetch_add(&sh->tok_released, 1);
			if (t->canary)
				atomic_fetch_add(&sh->canaries_collected, 1);
		}
	}
	atomic_store(&t->state, T_DONE);
}

static bool orphaned(int wfd)
{
	struct pollfd p = { .fd = wfd, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

/* Give a verdict on each token whose read ends are all closed. */
static void sweep(void)
{
	int i, n = 0;

	for (i = 0; i < mine->nlive; i++) {
		unsigned int id = mine->live[i];
		int st = atomic_load(&sh->tokens[id].state);

		if (st == T_MADE || st == T_SENDING) {	/* not sent yet */
			mine->live[n++] = id;
			continue;
		}
		if ((st == T_SENT || st == T_UNSURE) && !orphaned(mine->wfd[id])) {
			mine->live[n++] = id;
			continue;
		}
		if (st == T_SENT || st == T_UNSURE)
			token_verdict(id);
		close(mine->wfd[id]);
		mine->wfd[id] = -1;
	}
	mine->nlive = n;
}

/*
 * A child that parks and dies cannot hand the write ends of its tokens back:
 * the worker makes them before fork() (the pool), and closes its copies of
 * the read ends once the child is gone.
 */
#define POOL 24
static struct {
	unsigned int id[POOL];
	int rfd[POOL];
	int n, used;
	bool in_child;
} pool;

static int new_token(struct outmsg *m, bool canary)
{
	int before = m->nfds;

	if (pool.in_child) {
		unsigned int id;

		if (pool.used >= pool.n || m->nfds >= MAX_FDS_PER_MSG ||
		    m->pl.ntok != (uint32_t)m->nfds)
			return -1;
		id = pool.id[pool.used];
		sh->tokens[id].canary = canary;
		sh->tokens[id].where = cur_shape;
		m->pl.tok[m->pl.ntok++] = id;
		m->fds[m->nfds++] = pool.rfd[pool.used++];
		return 0;
	}
	if (mine->nlive >= LIVE_TOKENS)
		sweep();
	if (mine->nlive >= LIVE_TOKENS || token_make(m, mine->wfd, canary))
		return -1;
	sh->tokens[m->pl.tok[before]].where = cur_shape;
	mine->live[mine->nlive++] = m->pl.tok[before];
	return 0;
}

/* Make the pool; the next fork()'s child takes its tokens from it. */
static void pool_fill(void)
{
	struct outmsg m = {};

	pool.n = pool.used = 0;
	while (pool.n < POOL) {
		if (new_token(&m, false))
			break;
		pool.id[pool.n] = m.pl.tok[0];
		pool.rfd[pool.n++] = m.fds[0];
		m.nfds = 0;
		m.pl.ntok = 0;
	}
}

static void pool_child(void)
{
	pool.in_child = true;
}

/* The child is gone: what it did not send will never be. */
static void pool_drain(void)
{
	int i;

	for (i = 0; i < pool.n; i++) {
		_Atomic int *st = &sh->tokens[pool.id[i]].state;
		int made = T_MADE, sending = T_SENDING;

		atomic_compare_exchange_strong(st, &made, T_CANCELLED);
		atomic_compare_exchange_strong(st, &sending, T_UNSURE);
		close(pool.rfd[i]);
	}
	pool.n = pool.used = 0;
}

/* --- the collector -------------------------------------------------------- */

/* A socket that holds only itself, closed: the next close runs the GC. */
static void gc_kick(void)
{
	struct outmsg m = {};
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp))
		return;
	add_fd(&m, sp[0]);
	send_out(sp[1], NULL, &m, 0);
	close(sp[0]);
	close(sp[1]);
	count(C_GC);
}

/* A pair of sockets that hold each other and a canary, closed: garbage. */
static void make_cycle(int type)
{
	struct outmsg a = {}, b = {};
	int sp[2];

	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sp))
		return;
	cur_shape = 2;
	new_token(&a, true);
	cur_shape = 0;
	add_fd(&a, sp[0]);
	add_fd(&b, sp[1]);
	send_out(sp[0], NULL, &a, 0);		/* into sp[1]'s queue */
	send_out(sp[1], NULL, &b, 0);		/* into sp[0]'s queue */
	close(sp[0]);
	close(sp[1]);
	count(C_CYCLE);
}

/* --- extras: the shapes that broke the GC before ------------------------- */

static int tcp_listener_with_pending(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l, c;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -1;
	if (bind(l, (struct sockaddr *)&sin, len) || listen(l, 8) ||
	    getsockname(l, (struct sockaddr *)&sin, &len)) {
		close(l);
		return -1;
	}
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c >= 0) {
		connect(c, (struct sockaddr *)&sin, len);
		close(c);
	}
	count(C_TCP);
	return l;
}

/* A unix stream listener with a connection not yet accepted (an embryo). */
static int unix_listener_with_embryo(struct outmsg *m)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = offsetof(struct sockaddr_un, sun_path);
	int l, c;

	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -1;
	/* Autobind: an abstract name of the current netns. */
	if (bind(l, (struct sockaddr *)&sun, len) || listen(l, 8) ||
	    getsockname(l, (struct sockaddr *)&sun, &len)) {
		close(l);
		return -1;
	}
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c >= 0 && !connect(c, (struct sockaddr *)&sun, len)) {
		struct outmsg in = {};

		/* The client carries the listener: embryo -> listener -> ... */
		if (rnd(2)) {
			add_fd(&in, l);
			send_out(c, NULL, &in, 0);
		}
		if (rnd(2))
			add_fd(m, c);
	}
	if (c >= 0)
		close(c);
	count(C_EMBRYO);
	return l;
}

/* A stream socket whose MSG_OOB skb carries a token and the socket itself. */
static int stream_with_oob_fds(void)
{
	struct outmsg m = {};
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		return -1;
	cur_shape = 1;
	new_token(&m, false);
	cur_shape = 0;
	add_fd(&m, sp[1]);
	send_out(sp[0], NULL, &m, MSG_OOB);	/* into sp[1] */
	close(sp[0]);
	count(C_OOB);
	return sp[1];
}

/* A unix dgram socket carrying another unix socket, and maybe a token. */
static int unix_carrying_unix(void)
{
	struct outmsg m = {};
	int sp[2], inner;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp))
		return -1;
	inner = socket(AF_UNIX, rnd(2) ? SOCK_DGRAM : SOCK_SEQPACKET, 0);
	cur_shape = 3;
	if (rnd(2))
		new_token(&m, false);
	cur_shape = 0;
	add_fd(&m, inner);
	send_out(sp[0], NULL, &m, 0);
	if (inner >= 0)
		close(inner);
	close(sp[0]);
	return sp[1];
}

/* Fill @m with tokens and random extras.  @self: the parking socket. */
static void fill(struct outmsg *m, int self)
{
	int n = rnd(4), i, fd;

	for (i = 0; i < n; i++)
		new_token(m, false);
	n = rnd(3);
	for (i = 0; i < n; i++) {
		switch (rnd(7)) {
		case 0:
			fd = tcp_listener_with_pending();
			break;
		case 1:
			fd = unix_listener_with_embryo(m);
			break;
		case 2:
			fd = stream_with_oob_fds();
			break;
		case 3:
			fd = unix_carrying_unix();
			break;
		case 4:
			/* The parked queue holds its own socket. */
			add_fd(m, self);
			count(C_SELF);
			continue;
		case 5: {
			int p[2];

			if (pipe2(p, O_CLOEXEC))
				continue;
			add_fd(m, p[1]);
			close(p[1]);
			fd = p[0];
			break;
		}
		default:
			fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			break;
		}
		add_fd(m, fd);
		if (fd >= 0)
			close(fd);
	}
}

/* --- park and adopt -------------------------------------------------------- */

/* A failed bind() of @path, by a socket armed before it or not. */
static void note_bind_error(int err, const char *path, bool armed)
{
	switch (err) {
	case -EADDRINUSE:
		count(C_ADOPT_BUSY);
		/* Sometimes clear the path: live, stale or parked. */
		if (!rnd(4) && !unlink(path))
			count(C_UNLINK);
		break;
	case -EPERM:		/* another uid's queue, parked */
		if (!armed)
			violation("bind(%s) without the option: EPERM (it never adopts: "
				  "EADDRINUSE)", path);
		count(C_ADOPT_EPERM);
		break;
	case -EDQUOT:		/* armed on credit at the cap, nothing of ours there */
		if (!armed)
			violation("bind(%s) without the option: EDQUOT", path);
		count(C_BIND_QUOTA);
		break;
	case -EACCES:
	case -ENOENT:
		break;
	default:
		violation("bind(%s): %s", path, strerror(-err));
	}
}

/*
 * Arm @fd with a random delay: the delay, or 0 when a limit refused it
 * (the cap, or the maximum lowered mid-flight).
 */
static int arm(int fd)
{
	int ms = 1 + rnd(MAX_DELAY_MS), err = set_delay_err(fd, ms);

	if (err == -EDQUOT || err == -EINVAL) {
		count(C_PARK_REFUSED);
		return 0;
	}
	if (err) {
		violation("setsockopt(UNIX_DELAY_CLOSE, %d): %s", ms, strerror(-err));
		return 0;
	}
	return ms;
}

/* An armed socket reports its own delay, adopter or not: nothing inherited. */
static void check_own_delay(int fd, int ms, const char *path)
{
	socklen_t len = sizeof(int);
	int got = -1;

	if (getsockopt(fd, SOL_UNIX, UNIX_DELAY_CLOSE, &got, &len))
		violation("getsockopt(UNIX_DELAY_CLOSE) after bind(%s): %s", path,
			  strerror(errno));
	else if (got != ms)
		violation("bind(%s) by a socket armed with %d: getsockopt gives %d", path,
			  ms, got);
}

/*
 * Arm @fd with a random delay, then bind @path (a first owner may also
 * set it after bind()): 0, or -errno.  Whatever was parked at @path is
 * now @fd's queue.
 */
static int bind_and_arm(int fd, const char *path)
{
	bool after = !rnd(8);
	int ms = after ? 0 : arm(fd), err = bind_path(fd, path);

	if (err) {
		note_bind_error(err, path, ms > 0);
		return err;
	}
	if (after)
		ms = arm(fd);
	if (ms)
		check_own_delay(fd, ms, path);
	return 0;
}

/* Queue 1-3 datagrams of fds on @fd, sent to its own @path. */
static void queue_some(int fd, const char *path)
{
	int n = 1 + rnd(3), i, err;

	for (i = 0; i < n; i++) {
		struct outmsg m = {};

		fill(&m, fd);
		/*
		 * Another worker may have unlinked the path and bound it
		 * again (ECONNREFUSED, EACCES, ENOENT); the queue may be full
		 * or the uid over its in-flight limit.
		 */
		err = send_out(fd, path, &m, 0);
		if (err == -EBADF || err == -EINVAL || err == -EFAULT || err == -ENOTSOCK ||
		    err == -EMSGSIZE)
			violation("sendmsg to own path: %s", strerror(-err));
		else if (err)
			count(C_SEND_REFUSED);
	}
}

/* Park a queue at a random path: closed here, or by a child that exits or is killed. */
static void op_park(int how)
{
	char path[96];
	pid_t pid = 0;
	int fd, st;

	path_of(path, sizeof(path), rnd(NR_PATHS));
	if (how) {
		pool_fill();
		pid = fork();
		if (pid < 0) {
			pool_drain();
			return;
		}
		if (pid) {
			waitpid(pid, &st, 0);
			pool_drain();
			return;
		}
		pool_child();
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && !bind_and_arm(fd, path)) {
		queue_some(fd, path);
		/* Adopted something?  Let it park again along with ours. */
		count(C_PARK);
	}
	if (how == 2)
		raise(SIGKILL);
	if (fd >= 0)
		close(fd);
	if (how)
		_exit(0);
}

/*
 * Bind a random path, mostly armed before bind(): adopt, drain, then
 * disarm and close, or close (parks what is left), or queue more and park.
 */
static void op_adopt(void)
{
	char path[96];
	int fd, err, ms = 0;

	path_of(path, sizeof(path), rnd(NR_PATHS));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (rnd(4))
		ms = arm(fd);
	err = bind_path(fd, path);
	if (err) {
		note_bind_error(err, path, ms > 0);
		close(fd);
		return;
	}
	if (ms)
		check_own_delay(fd, ms, path);
	count(C_BIND);		/* adopting a parked queue, or a fresh socket */
	drain_all(fd, 1);
	switch (rnd(3)) {
	case 0:
		set_delay_err(fd, 0);	/* a clean shutdown: nothing parks */
		break;
	case 1:
		if (!set_delay_err(fd, 1 + rnd(MAX_DELAY_MS)))
			queue_some(fd, path);
		break;
	}
	close(fd);
}

/*
 * An adopter, armed before bind(), killed right after bind() returns: the
 * queue parks again, unread (its tokens are followed as ever).
 */
static void op_adopt_kill(void)
{
	char path[96];
	pid_t pid;
	int st;

	path_of(path, sizeof(path), rnd(NR_PATHS));
	pid = fork();
	if (pid < 0)
		return;
	if (!pid) {
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

		if (fd < 0 || !arm(fd))
			_exit(0);
		err = bind_path(fd, path);
		if (!err) {
			count(C_ADOPT_KILLED);
			raise(SIGKILL);
		}
		note_bind_error(err, path, true);
		_exit(0);
	}
	waitpid(pid, &st, 0);
}

/*
 * The adopter in the queue it adopts: an unbound socket travels into the
 * queue parked at a path, then binds that path.  Draining breaks the cycle;
 * closing leaves it to the collector.
 */
static void op_adopter_cycle(void)
{
	char path[96];
	pid_t pid;
	int a, st;

	path_of(path, sizeof(path), rnd(NR_PATHS));
	a = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (a < 0)
		return;
	pool_fill();
	pid = fork();
	if (!pid) {
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct outmsg m = {};

		pool_child();
		if (fd < 0 || bind_and_arm(fd, path))
			_exit(0);
		cur_shape = 4;
		new_token(&m, false);
		add_fd(&m, a);
		send_out(fd, path, &m, 0);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
	pool_drain();
	/* Only an armed socket adopts. */
	if (arm(a) && !bind_path(a, path)) {
		count(C_ADOPTER_CYCLE);
		if (rnd(2))
			drain_all(a, 0);
		if (rnd(2))
			set_delay_err(a, 0);
	}
	close(a);
}

/* --- races ----------------------------------------------------------------- */

struct race {
	char path[96];
	int fd;
	_Atomic int go;
};

static void *bind_racer(void *arg)
{
	struct race *r = arg;
	int i, fd;

	while (!atomic_load(&r->go))
		;
	for (i = 0; i < 200; i++) {
		int armed, err;

		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		/* Mostly armed: only an armed socket adopts. */
		armed = rnd(8) ? arm(fd) : 0;
		err = bind_path(fd, r->path);
		if (!err) {
			drain_all(fd, 0);
			if (rnd(2))
				set_delay_err(fd, 0);
			close(fd);
			break;
		}
		if (err == -EPERM && !armed)
			violation("bind(%s) without the option: EPERM", r->path);
		close(fd);
	}
	return NULL;
}

/* close() of an armed socket racing bind() of its path by another thread. */
static void op_race_close_bind(void)
{
	struct race r = {};
	pthread_t t;

	path_of(r.path, sizeof(r.path), rnd(NR_PATHS));
	r.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (r.fd < 0)
		return;
	if (bind_and_arm(r.fd, r.path)) {
		close(r.fd);
		return;
	}
	queue_some(r.fd, r.path);
	if (pthread_create(&t, NULL, bind_racer, &r)) {
		close(r.fd);
		return;
	}
	atomic_store(&r.go, 1);
	if (rnd(2))
		sched_yield();
	close(r.fd);
	pthread_join(t, NULL);
	count(C_RACE_BIND);
}

/*
 * Two threads race setsockopt(MAX_DELAY_MS) and setsockopt(0) on one bound
 * socket; then "getsockopt says armed" must be "its close parks the queue".
 * The path is this worker's own, so nobody else adopts or unlinks it.
 */
struct flip {
	int fd, ms;
	_Atomic int *go;
};

static void *flipper(void *arg)
{
	struct flip *f = arg;
	int i;

	while (!atomic_load(f->go))
		;
	for (i = 0; i < 100; i++)
		set_delay_err(f->fd, f->ms);
	return NULL;
}

static void op_race_arm_disarm(void)
{
	_Atomic int go = 0;
	struct flip on, off;
	struct sockaddr_un sun;
	socklen_t len = sizeof(int);
	pthread_t t[2];
	long max_before, max_after;
	long long t0;
	bool conclusive;
	char path[96], c;
	int fd, s, got = -1, err, ms;

	snprintf(path, sizeof(path), "%s/r%d", dir, worker_id);
	unlink(path);		/* this worker's own: nothing of anyone else */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* Armed before bind(), or set after it by the first owner. */
	if (rnd(2))
		arm(fd);
	err = bind_path(fd, path);
	if (err) {
		if (err == -EDQUOT)
			count(C_BIND_QUOTA);
		else
			violation("bind(%s), a fresh path: %s", path, strerror(-err));
		close(fd);
		return;
	}
	on = (struct flip){ .fd = fd, .ms = MAX_DELAY_MS, .go = &go };
	off = (struct flip){ .fd = fd, .ms = 0, .go = &go };
	if (pthread_create(&t[0], NULL, flipper, &on)) {
		close(fd);
		return;
	}
	if (pthread_create(&t[1], NULL, flipper, &off)) {
		atomic_store(&go, 1);
		pthread_join(t[0], NULL);
		close(fd);
		return;
	}
	atomic_store(&go, 1);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	if (getsockopt(fd, SOL_UNIX, UNIX_DELAY_CLOSE, &got, &len)) {
		violation("getsockopt(UNIX_DELAY_CLOSE): %s", strerror(errno));
		close(fd);
		unlink(path);
		return;
	}
	if (got != 0 && got != MAX_DELAY_MS)
		violation("after racing setsockopt %d and 0, getsockopt gives %d", MAX_DELAY_MS,
			  got);
	/* One datagram, no fds: what the adopter must find. */
	if (sendto(fd, "m", 1, MSG_DONTWAIT, (struct sockaddr *)&sun, unix_addr(&sun, path)) != 1) {
		set_delay_err(fd, 0);
		close(fd);
		unlink(path);
		return;
	}
	max_before = read_long(SYSCTL_MAX);
	t0 = now_ms();
	close(fd);

	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ms = s < 0 ? 0 : arm(s);
	err = ms ? bind_path(s, path) : -EAGAIN;
	max_after = read_long(SYSCTL_MAX);
	/*
	 * A queue parked with the delay clamped to a lowered maximum, or
	 * dropped by a write of 0, may be gone already: only a maximum of at
	 * least MAX_DELAY_MS, unchanged across the window (the sysctl changer
	 * waits 20 ms between writes), makes a missing queue a violation.
	 */
	conclusive = max_before == max_after && max_before >= MAX_DELAY_MS &&
		     now_ms() - t0 < 20;
	if (!err) {
		check_own_delay(s, ms, path);
		if (!got)
			violation("a socket whose getsockopt said 0 parked its queue at %s", path);
		else if (recv(s, &c, 1, MSG_DONTWAIT) != 1)
			violation("the queue adopted at %s lacks the datagram queued before close",
				  path);
		set_delay_err(s, 0);
	} else if (err == -EADDRINUSE) {
		if (got && conclusive)
			violation("a socket whose getsockopt said %d did not park its queue at %s "
				  "(an armed bind() got EADDRINUSE)", got, path);
	} else if (err == -EDQUOT) {
		count(C_BIND_QUOTA);
	} else if (err != -EAGAIN) {
		violation("bind(%s) after the arm/disarm race: %s", path, strerror(-err));
	}
	if (s >= 0)
		close(s);
	unlink(path);
	count(C_RACE_ARM);
}

static void *gc_racer(void *arg)
{
	_Atomic int *stop = arg;

	while (!atomic_load(stop)) {
		make_cycle(rnd(2) ? SOCK_DGRAM : SOCK_STREAM);
		gc_kick();
	}
	return NULL;
}

/* MSG_PEEK of a queue of unix sockets while another thread runs the GC. */
static void op_race_peek_gc(void)
{
	_Atomic int stop = 0;
	int sp[2], i;
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp))
		return;
	for (i = 0; i < 4; i++) {
		struct outmsg m = {};
		int carrier = unix_carrying_unix();

		add_fd(&m, sp[i & 1]);	/* the queue holds its own socket too */
		add_fd(&m, carrier);
		if (carrier >= 0)
			close(carrier);
		send_out(sp[0], NULL, &m, 0);
	}
	if (pthread_create(&t, NULL, gc_racer, &stop)) {
		close(sp[0]);
		close(sp[1]);
		return;
	}
	for (i = 0; i < 20; i++)
		drain_one(sp[1], MAX_FDS_PER_MSG, true, 0);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	close(sp[0]);
	close(sp[1]);	/* what is left in the queue: the collector's */
	count(C_RACE_PEEK);
}

/* --- workers ---------------------------------------------------------------- */

static int cur_ns;		/* which of netns[] this worker is in */

static void op_netns(void)
{
	cur_ns = !cur_ns;
	if (setns(netns[cur_ns], CLONE_NEWNET))
		violation("setns: %s", strerror(errno));
	count(C_NETNS);
}

static void worker(int id, long long end)
{
	worker_id = id;
	seed = 0x5eed + id * 7919 + (unsigned int)getpid();
	mine = mmap(NULL, sizeof(*mine), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mine == MAP_FAILED)
		_exit(2);
	if (id == 0 && (setgid(NOBODY) || setuid(NOBODY)))
		_exit(3);

	while (now_ms() < end && !atomic_load(&sh->stop) &&
	       atomic_load(&sh->count[C_ITER]) < MAX_ITERATIONS) {
		unsigned int op = rnd(100);

		count(C_ITER);
		cur_op = op;
		if (op < 18)
			op_park(0);
		else if (op < 28)
			op_park(1);
		else if (op < 38)
			op_park(2);
		else if (op < 58)
			op_adopt();
		else if (op < 62)
			op_adopt_kill();
		else if (op < 68)
			make_cycle(rnd(2) ? SOCK_DGRAM : SOCK_STREAM);
		else if (op < 73)
			op_adopter_cycle();
		else if (op < 78)
			gc_kick();
		else if (op < 84)
			op_race_close_bind();
		else if (op < 88)
			op_race_peek_gc();
		else if (op < 92)
			op_race_arm_disarm();
		else if (op < 96 && id)
			op_netns();
		else
			usleep(rnd(20000));
		if (!rnd(16))
			sweep();
	}

	/*
	 * Wait for the verdict on every token: queues expire within
	 * MAX_DELAY_MS, the collector frees what is left of the cycles.
	 */
	end = now_ms() + MAX_DELAY_MS + 60000;
	for (;;) {
		sweep();
		if (!mine->nlive || now_ms() > end)
			break;
		gc_kick();
		usleep(50000);
	}
	for (int i = 0; i < mine->nlive; i++) {
		struct token *t = &sh->tokens[mine->live[i]];

		atomic_fetch_add(&sh->leaks, 1);
		violation("token %u (op %d, shape %d, canary %d): a read end is still open "
			  "%d ms after the last park could have expired (leak)", mine->live[i],
			  t->origin, t->where, t->canary, MAX_DELAY_MS + 60000);
	}
	_exit(0);
}

/* Lowers and raises the limits while the workers run. */
static void sysctl_changer(long long end)
{
	static const char *const max_ms[] = { "60000", "800", "50", "0", "1500" };
	static const char *const per_user[] = { "64", "4", "1", "16", "0" };
	char buf[16];

	seed = 0xc7a;
	while (now_ms() < end && !atomic_load(&sh->stop)) {
		int ns = rnd(2);

		if (setns(netns[ns], CLONE_NEWNET))
			violation("setns: %s", strerror(errno));
		if (write_file(SYSCTL_MAX, max_ms[rnd(5)]) ||
		    write_file(SYSCTL_PER_USER, per_user[rnd(5)]))
			violation("sysctl write refused: %s", strerror(errno));
		/* Bad values are refused and change nothing. */
		snprintf(buf, sizeof(buf), "%ld", read_long(SYSCTL_MAX));
		if (!write_file(SYSCTL_MAX, "-5") || !write_file(SYSCTL_MAX, "3600001"))
			violation("a bad delay_close_max_ms was taken");
		if (read_long(SYSCTL_MAX) != atol(buf))
			violation("a refused write changed delay_close_max_ms");
		count(C_SYSCTL);
		usleep(20000 + rnd(200000));
	}
	_exit(0);
}

/* --- baselines ------------------------------------------------------------- */

struct baseline {
	int unix_socks[2];	/* /proc/net/protocols, both namespaces */
	int sockets_used[2];	/* /proc/net/sockstat */
	long files;		/* /proc/sys/fs/file-nr */
	long unix_slab;		/* active objects in slab "UNIX", or -1 */
	int inflight_room[2];	/* fds root, nobody can still put in flight */
	long parked[2], adopted[2], expired[2], quota[2];
};

static int proto_sockets(const char *proto)
{
	int total = 0, n;
	char line[256];
	FILE *f = fopen("/proc/net/protocols", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, proto, strlen(proto)) &&
		    sscanf(line, "%*s %*d %d", &n) == 1)
			total += n;
	fclose(f);
	return total;
}

static int sockets_used(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/net/sockstat", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "sockets: used %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static long file_nr(void)
{
	long a = -1;
	FILE *f = fopen("/proc/sys/fs/file-nr", "re");

	if (f) {
		if (fscanf(f, "%ld", &a) != 1)
			a = -1;
		fclose(f);
	}
	return a;
}

/*
 * Active objects of slab cache @name, after a shrink: that flushes the
 * per-cpu slabs and empties KASAN's quarantine of the cache, which would
 * otherwise hold freed sockets for a while and count them as active.
 */
static long slab_active(const char *name)
{
	char line[512], n[64];
	long active = -1, a;
	FILE *f;

	snprintf(line, sizeof(line), "/sys/kernel/slab/%s/shrink", name);
	write_file(line, "1");
	f = fopen("/proc/slabinfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", n, &a) == 2 && !strcmp(n, name))
			active = a;
	fclose(f);
	return active;
}

static void read_counters(int ns, struct baseline *b)
{
	FILE *f = fopen("/proc/net/unix_delay_close", "re");
	char head[128];

	b->parked[ns] = b->adopted[ns] = b->expired[ns] = b->quota[ns] = -1;
	if (!f)
		return;
	if (!fgets(head, sizeof(head), f) ||
	    fscanf(f, "%ld %ld %ld %ld", &b->parked[ns], &b->adopted[ns],
		   &b->expired[ns], &b->quota[ns]) != 4)
		b->parked[ns] = -1;
	fclose(f);
}

/*
 * How many fds can @uid put in flight with RLIMIT_NOFILE at 16?  17 when it
 * has none in flight already: the check refuses a send once the user's
 * count is above the limit.  Root is only checked without CAP_SYS_ADMIN and
 * CAP_SYS_RESOURCE, so the probe drops every capability first.
 */
static int inflight_room(uid_t uid)
{
	pid_t pid = fork();
	int st;

	if (!pid) {
		struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct none[2] = {};
		struct rlimit rl = { 16, 16 };
		int sp[2], n = 0, p[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || pipe(p))
			_exit(255);
		if (setrlimit(RLIMIT_NOFILE, &rl) || setgid(uid) || setuid(uid) ||
		    syscall(SYS_capset, &hdr, none))
			_exit(254);
		for (n = 0; n < 64; n++) {
			struct outmsg m = {};

			add_fd(&m, p[0]);
			if (send_out(sp[0], NULL, &m, 0))
				break;
		}
		_exit(n);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void take_baseline(struct baseline *b)
{
	int ns;

	for (ns = 1; ns >= 0; ns--) {
		setns(netns[ns], CLONE_NEWNET);
		b->unix_socks[ns] = proto_sockets("UNIX");
		b->sockets_used[ns] = sockets_used();
		read_counters(ns, b);
	}
	b->files = file_nr();
	b->unix_slab = slab_active("UNIX");
	b->inflight_room[0] = inflight_room(0);
	b->inflight_room[1] = inflight_room(NOBODY);
}

static long parked_now(const struct baseline *b, int ns)
{
	return b->parked[ns] - b->adopted[ns] - b->expired[ns];
}

/* --- main ------------------------------------------------------------------- */

/*
 * The quiet phase: a cycle that only an adoption closes (the adopter is in
 * the queue it adopts, with a canary), then nothing but plain close()s of
 * unrelated sockets, no SCM_RIGHTS edge that would mark the graph again.
 * The collector must still find the cycle: adoption itself has to tell it
 * that the graph changed.  Returns the ms it took, or -1.
 */
static long quiet_phase(void)
{
	long long t0 = now_ms();
	int x, p[2], st;
	char path[96];
	long ret = -1;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/quiet", dir);
	x = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (x < 0 || pipe(p))
		return -1;
	pid = fork();
	if (!pid) {
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct outmsg m = {};

		add_fd(&m, x);
		add_fd(&m, p[0]);
		_exit(fd < 0 || set_delay_err(fd, 5000) || bind_path(fd, path) ||
		      send_out(fd, path, &m, 0));
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		goto out;
	close(p[0]);
	p[0] = -1;
	if (set_delay_err(x, 5000) || bind_path(x, path) || set_delay_err(x, 0))
		goto out;
	close(x);		/* only its own queue holds it now */
	x = -1;
	while (now_ms() - t0 < 20000) {
		int kick = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		close(kick);	/* a release asks for a collection, nothing more */
		if (orphaned(p[1])) {
			ret = now_ms() - t0;
			break;
		}
		usleep(20000);
	}
out:
	if (x >= 0)
		close(x);
	if (p[0] >= 0)
		close(p[0]);
	close(p[1]);
	unlink(path);
	return ret;
}

/* Poll @cond every 20 ms for at most @ms. */
#define wait_for(cond, ms) ({						\
	long long __end = now_ms() + (ms);				\
	bool __ok;							\
	while (!(__ok = (cond)) && now_ms() < __end)			\
		usleep(20000);						\
	__ok;								\
})

static bool all_expired(struct baseline *now)
{
	int ns;
	bool done = true;

	for (ns = 1; ns >= 0; ns--) {
		setns(netns[ns], CLONE_NEWNET);
		read_counters(ns, now);
		done &= parked_now(now, ns) == 0;
	}
	return done;
}

/* What is left: /proc/net/unix of both namespaces, for the report. */
static void dump_sockets(void)
{
	char line[512];
	int ns;

	for (ns = 0; ns < 2; ns++) {
		FILE *f;

		setns(netns[ns], CLONE_NEWNET);
		f = fopen("/proc/net/unix", "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			printf("# netns%d: %s", ns, line);
		fclose(f);
	}
}

/*
 * Kick the collector in each namespace, then wait a while for the counts:
 * the kick's own socket is freed by the pass it starts.
 */
static bool sockets_back(const struct baseline *b, struct baseline *now)
{
	int ns;
	bool back = true;

	for (ns = 1; ns >= 0; ns--) {
		setns(netns[ns], CLONE_NEWNET);
		gc_kick();
	}
	for (ns = 1; ns >= 0; ns--) {
		setns(netns[ns], CLONE_NEWNET);
		back &= wait_for((now->unix_socks[ns] = proto_sockets("UNIX")) == b->unix_socks[ns] &&
				 (now->sockets_used[ns] = sockets_used()) == b->sockets_used[ns],
				 2000);
	}
	return back;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : cmdline_long("puds.stress", -1);
	int ncpu = get_nprocs(), i, st, ns, off = 0;
	struct baseline b = {}, now = {};
	pid_t pid[NR_WORKERS + 1];
	long quiet_ms;
	long long start, end;
	bool ok;

	if (seconds <= 0)
		seconds = 20;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	printf("# unix_stress: %d s, %d workers (worker 0 as uid %d), %d paths, delays up to %d ms\n",
	       seconds, NR_WORKERS, NOBODY, NR_PATHS, MAX_DELAY_MS);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		return 1;
	}
	{
		pthread_mutexattr_t a;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
		pthread_mutex_init(&sh->log_lock, &a);
	}
	signal(SIGPIPE, SIG_IGN);
	/* Every uid may send to every path: more interleavings. */
	umask(0);

	/* Two fresh namespaces: everything in them is ours. */
	for (ns = 1; ns >= 0; ns--) {
		if (unshare(CLONE_NEWNET)) {
			printf("Bail out! unshare(CLONE_NEWNET): %s\n", strerror(errno));
			return 1;
		}
		lo_up();
		netns[ns] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (write_file(SYSCTL_PER_USER, "64") || write_file(SYSCTL_MAX, "60000")) {
			printf("Bail out! the sysctls of the series are missing\n");
			return 1;
		}
	}
	snprintf(dir, sizeof(dir), "/tmp/stress.%d", getpid());
	if (mkdir(dir, 0777) || chmod(dir, 0777)) {
		printf("Bail out! mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}

	take_baseline(&b);
	printf("# baseline: unix sockets %d/%d, sockets used %d/%d, files %ld, "
	       "UNIX slab %ld, in-flight room of uid %d: %d\n",
	       b.unix_socks[0], b.unix_socks[1], b.sockets_used[0], b.sockets_used[1],
	       b.files, b.unix_slab, NOBODY, b.inflight_room[1]);

	start = now_ms();
	end = start + seconds * 1000LL;
	for (i = 0; i <= NR_WORKERS; i++) {
		pid[i] = fork();
		if (pid[i] < 0) {
			printf("Bail out! fork: %s\n", strerror(errno));
			atomic_store(&sh->stop, 1);
			break;
		}
		if (!pid[i]) {
			/* Even workers but the first start in the second namespace. */
			if (i < NR_WORKERS && (i & 1) == 0 && i) {
				setns(netns[1], CLONE_NEWNET);
				cur_ns = 1;
			}
			if (i == NR_WORKERS)
				sysctl_changer(end);
			worker(i, end);
		}
	}
	for (i = 0; i <= NR_WORKERS; i++) {
		if (pid[i] <= 0)
			continue;
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			violation("process %d ended with status 0x%x", i, st);
	}
	printf("# stress: seconds_asked %d\n# stress: ran_ms %lld\n", seconds,
	       (long long)(now_ms() - start));

	/* Back to the defaults, then everything must drain. */
	for (ns = 1; ns >= 0; ns--) {
		setns(netns[ns], CLONE_NEWNET);
		write_file(SYSCTL_PER_USER, "64");
		write_file(SYSCTL_MAX, "60000");
	}

	tap_result(!atomic_load(&sh->violations), "invariants held as it ran (%ld violations%s%s)",
		   atomic_load(&sh->violations), sh->violations ? ", first: " : "",
		   sh->first_violation);
	ok = wait_for(all_expired(&now), MAX_DELAY_MS + 30000);
	off += !ok;
	tap_result(ok, "every parked queue was adopted or expired (ns0: %ld parked = %ld adopted + %ld expired)",
		   now.parked[0] - b.parked[0], now.adopted[0] - b.adopted[0],
		   now.expired[0] - b.expired[0]);
	tap_result(sh->tok_sent == sh->tok_received + sh->tok_truncated + sh->tok_released,
		   "every token came out once, was truncated, or was released: %ld sent = %ld received + %ld truncated + %ld released",
		   sh->tok_sent, sh->tok_received, sh->tok_truncated, sh->tok_released);
	tap_result(sh->canaries_collected > 0 || !sh->count[C_CYCLE],
		   "the collector freed cycles: %ld of their canaries released, %ld received",
		   sh->canaries_collected, sh->canaries_received);
	ok = wait_for(sockets_back(&b, &now), 20000);
	off += !ok;
	tap_result(ok, "socket counts back at baseline: unix %d/%d, all %d/%d",
		   now.unix_socks[0], now.unix_socks[1], now.sockets_used[0], now.sockets_used[1]);
	if (!ok)
		dump_sockets();
	/* Everything collected: the graph is quiet now, then the quiet phase. */
	quiet_ms = quiet_phase();
	printf("# stress: quiet_cycle_ms %ld\n", quiet_ms);
	tap_result(quiet_ms >= 0,
		   "quiet phase: a cycle that only an adoption closed was collected with nothing but plain close()s after it (%ld ms)",
		   quiet_ms);
	now.inflight_room[0] = inflight_room(0);
	now.inflight_room[1] = inflight_room(NOBODY);
	/*
	 * Programs that ran before may have left queues parked that expire
	 * meanwhile (make check parks userlib's rendezvous as root): the
	 * count may end below its baseline, never above.
	 */
	ok = now.inflight_room[0] >= b.inflight_room[0] && now.inflight_room[1] >= b.inflight_room[1] &&
	     b.inflight_room[0] > 0 && b.inflight_room[1] > 0;
	off += !ok;
	tap_result(ok,
		   "unix in-flight counts of root and uid %d back at or below baseline (room %d and %d of 17, was %d and %d)",
		   NOBODY, now.inflight_room[0], now.inflight_room[1], b.inflight_room[0],
		   b.inflight_room[1]);
	/*
	 * nr_files is a per-cpu counter read without summing: it can be off by
	 * its batch (max(32, 2 * ncpu)) on each cpu.
	 */
	{
		long slack = 2L * ncpu * (ncpu * 2 > 32 ? ncpu * 2 : 32);

		ok = wait_for(labs((now.files = file_nr()) - b.files) <= slack, 10000);
		off += !ok;
		tap_result(ok, "open files back at baseline: %ld, was %ld (per-cpu counter slack %ld)",
			   now.files, b.files, slack);
	}
	/* SLUB_TINY kernels (make check's) have no /proc/slabinfo. */
	if (b.unix_slab >= 0) {
		/* Objects of per-cpu slabs count as active: a slab per cpu of slack. */
		long slack = 32L * ncpu;

		ok = wait_for(labs((now.unix_slab = slab_active("UNIX")) - b.unix_slab) <= slack,
			      10000);
		off += !ok;
		tap_result(ok, "slab UNIX back at baseline: %ld active, was %ld (slack %ld)",
			   now.unix_slab, b.unix_slab, slack);
	}
	{
		long q = 0;

		for (ns = 0; ns < 2; ns++)
			q += now.quota[ns] - b.quota[ns];
		tap_result(true, "limits were hit: %ld setsockopt refused (%ld counted EDQUOT by the kernel)",
			   sh->count[C_PARK_REFUSED], q);
	}

	for (i = 0; i < NR_COUNTERS; i++)
		printf("# stress: %s %ld\n", counter_name[i], sh->count[i]);
	printf("# stress: tokens_sent %ld\n# stress: tokens_received %ld\n"
	       "# stress: tokens_truncated %ld\n# stress: tokens_released %ld\n"
	       "# stress: cycles_collected %ld\n# stress: violations %ld\n"
	       "# stress: leaks %ld\n# stress: baseline_off %d\n",
	       sh->tok_sent, sh->tok_received, sh->tok_truncated, sh->tok_released,
	       sh->canaries_collected, sh->violations, sh->leaks, off);
	/* The kernel's own counters, /proc/net/unix_delay_close, per netns. */
	for (ns = 0; ns < 2; ns++)
		printf("# stress: netns%d_parked %ld\n# stress: netns%d_adopted %ld\n"
		       "# stress: netns%d_expired %ld\n", ns, now.parked[ns] - b.parked[ns],
		       ns, now.adopted[ns] - b.adopted[ns], ns, now.expired[ns] - b.expired[ns]);

	for (i = 0; i < NR_PATHS; i++) {
		char path[96];

		path_of(path, sizeof(path), i);
		unlink(path);
	}
	for (i = 0; i < NR_WORKERS; i++) {
		char path[96];

		snprintf(path, sizeof(path), "%s/r%d", dir, i);
		unlink(path);
	}
	rmdir(dir);
	/* The plan comes last: how many checks run depends on the kernel. */
	printf("1..%u\n# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:0 error:0\n",
	       tap_count(), tap_count() - tap_failures(), tap_failures());
	return tap_failures() ? 1 : 0;
}
