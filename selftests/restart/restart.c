// SPDX-License-Identifier: GPL-2.0
/*
 * restart.c: one server restart under a steady client load (restart.h
 * says how); linked into restart_check and into make eval's program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/un_delay_close.h>
#include <linux/unix_diag.h>
#include <linux/unix_diag_delay_close.h>

#include "restart.h"
#include "selftest.h"

const struct rs_scenario_info rs_scenarios[RS_NR_SCENARIOS] = {
	[RS_NAIVE] = { "naive", "naive", "planned", RS_PLAIN, RS_STOP_EXIT },
	[RS_NAIVE_CRASH] = { "naive-crash", "naive", "crash", RS_PLAIN, RS_STOP_KILL },
	[RS_REUSEPORT_OVERLAP] = { "reuseport-overlap", "reuseport", "planned",
				   RS_REUSEPORT, RS_STOP_OVERLAP },
	[RS_REUSEPORT_GAP] = { "reuseport-gap", "reuseport", "stop-start",
			       RS_REUSEPORT, RS_STOP_EXIT },
	[RS_REUSEPORT_CRASH] = { "reuseport-crash", "reuseport", "crash",
				 RS_REUSEPORT, RS_STOP_KILL },
	[RS_BPF_OVERLAP] = { "bpf-migrate-overlap", "bpf-migrate", "planned",
			     RS_BPF, RS_STOP_OVERLAP },
	[RS_BPF_GAP] = { "bpf-migrate-gap", "bpf-migrate", "stop-start", RS_BPF, RS_STOP_EXIT },
	[RS_BPF_CRASH] = { "bpf-migrate-crash", "bpf-migrate", "crash", RS_BPF, RS_STOP_KILL },
	[RS_SCM_RIGHTS] = { "scm-rights-takeover", "scm-rights", "planned",
			    RS_SCM, RS_STOP_HANDOVER },
	[RS_SCM_STOP_START] = { "scm-rights-stop-start", "scm-rights", "stop-start",
				RS_SCM, RS_STOP_EXIT },
	[RS_SCM_CRASH] = { "scm-rights-crash", "scm-rights", "crash", RS_SCM, RS_STOP_KILL },
	[RS_PUDS_EXIT] = { "puds-exit", "puds", "planned", RS_PUDS, RS_STOP_EXIT },
	[RS_PUDS_KILL] = { "puds-sigkill", "puds", "crash", RS_PUDS, RS_STOP_KILL },
	[RS_PUDS_CRASH_ADOPT] = { "puds-crash-adopt", "puds", "crash-adopt",
				  RS_PUDS, RS_STOP_KILL_ADOPT },
	[RS_STEADY] = { "steady", "none", "none", RS_PLAIN, RS_STOP_NONE },
};

const char *const rs_outcome_name[RS_NR_OUTCOMES] = {
	"completed", "refused", "reset", "timeout", "error",
};

/* --- small things -------------------------------------------------------- */

static void rs_fail(struct rs_shared *sh, const char *what)
{
	if (!sh->error[0])
		snprintf(sh->error, sizeof(sh->error), "%s: %s (pid %d)", what,
			 strerror(errno), getpid());
}

/* The listener @fd in one "listener" message to @path (NULL: the peer); 0 or -1. */
static int rs_send_fd(int sock, const char *path, int fd)
{
	return send_fds(sock, path, "listener", 8, &fd, 1, 0);
}

/* The fd of one "listener" message (blocking); the fd or -1. */
static int rs_recv_fd(int sock)
{
	char tag[16];
	int fd = -1, n;

	if (recv_fds(sock, tag, sizeof(tag), &fd, 1, &n, 0, -1) < 0)
		return -1;
	if (n != 1) {
		errno = EPROTO;
		return -1;
	}
	return fd;
}

/* --- the kernel's view ------------------------------------------------------ */

/* Read one counter of a "Prefix: names" / "Prefix: values" pair of lines. */
static long rs_counter(const char *file, const char *prefix, const char *name)
{
	char names[4096], values[4096], *n, *v, *sn, *sv;
	size_t plen = strlen(prefix);
	long ret = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		if (strncmp(names, prefix, plen) || names[plen] != ':')
			continue;
		n = strtok_r(names + plen + 1, " \n", &sn);
		v = strtok_r(values + plen + 1, " \n", &sv);
		for (; n && v; n = strtok_r(NULL, " \n", &sn), v = strtok_r(NULL, " \n", &sv))
			if (!strcmp(n, name))
				ret = atol(v);
	}
	fclose(f);
	return ret;
}

/*
 * The accept queues of the listeners on RS_PORT, summed: for a LISTEN
 * socket /proc/net/tcp's rx_queue is sk_ack_backlog.  -1 if unreadable.
 */
static int rs_accept_queue(void)
{
	unsigned int port, state, rxq;
	char line[256];
	int sum = -1;
	FILE *f = fopen("/proc/net/tcp", "r");

	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f))	/* the header */
		sum = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*u: %*x:%x %*x:%*x %x %*x:%x", &port, &state, &rxq) == 3 &&
		    port == RS_PORT && state == 0x0a)
			sum += rxq;
	fclose(f);
	return sum;
}

/*
 * Until @until_us: the accept queue every 5 ms over the last 50 ms before
 * it, its least and most in @sh (near its limit a server's queue swings),
 * the last sample as the queue at the stop.
 */
static void rs_sample_queue(struct rs_shared *sh, int64_t until_us)
{
	int64_t next;
	int q;

	sleep_until_us(until_us - 50000);
	sh->queued_min = INT_MAX;
	sh->queued_max = -1;
	do {
		q = rs_accept_queue();
		sh->queued_at_stop = q;
		if (q < sh->queued_min)
			sh->queued_min = q;
		if (q > sh->queued_max)
			sh->queued_max = q;
		next = now_us() + 5000;
		sleep_until_us(next < until_us ? next : until_us);
	} while (now_us() < until_us);
}

static void rs_read_counters(struct rs_counters *c)
{
	c->listen_drops = rs_counter("/proc/net/netstat", "TcpExt", "ListenDrops");
	c->listen_overflows = rs_counter("/proc/net/netstat", "TcpExt", "ListenOverflows");
	c->migrate_ok = rs_counter("/proc/net/netstat", "TcpExt", "TCPMigrateReqSuccess");
	c->migrate_fail = rs_counter("/proc/net/netstat", "TcpExt", "TCPMigrateReqFailure");
	c->abort_on_close = rs_counter("/proc/net/netstat", "TcpExt", "TCPAbortOnClose");
	c->out_rsts = rs_counter("/proc/net/snmp", "Tcp", "OutRsts");

	/* The series' own counters: "parked adopted expired quota" + values. */
	c->dc_parked = c->dc_adopted = c->dc_expired = -1;
	FILE *f = fopen("/proc/net/unix_delay_close", "r");
	char head[128];
	if (f) {
		if (!fgets(head, sizeof(head), f) ||
		    fscanf(f, "%ld %ld %ld", &c->dc_parked, &c->dc_adopted, &c->dc_expired) != 3)
			c->dc_parked = c->dc_adopted = c->dc_expired = -1;
		fclose(f);
	}
}

/*
 * Parked queues of this netns as unix_diag lists them: how many, and the
 * fds they hold.  -1 if the kernel cannot tell.
 */
static int rs_diag_parked(int *nr_fds)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} req = {
		.nlh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.req = {
			.sdiag_family = AF_UNIX,
			.udiag_states = -1,
			.udiag_show = UDIAG_SHOW_DELAY_CLOSE,
		},
	};
	static char buf[16384];
	int fd, len, parked = 0;
	bool done = false;

	*nr_fds = 0;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0 || send(fd, &req, sizeof(req), 0) != sizeof(req))
		return -1;
	while (!done && (len = recv(fd, buf, sizeof(buf), 0)) > 0) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;

		for (; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
			struct unix_diag_msg *r = NLMSG_DATA(nlh);
			struct rtattr *a = (struct rtattr *)(r + 1);
			int alen = nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*r));

			if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				struct unix_diag_delay_close dc;

				if (a->rta_type != UNIX_DIAG_DELAY_CLOSE ||
				    RTA_PAYLOAD(a) < sizeof(dc))
					continue;
				memcpy(&dc, RTA_DATA(a), sizeof(dc));
				if (dc.udiag_dc_state == UDIAG_DC_PARKED) {
					parked++;
					*nr_fds += dc.udiag_dc_nr_fds;
				}
			}
		}
	}
	close(fd);
	return done ? parked : -1;
}

/* --- servers ------------------------------------------------------------------ */

static bool rs_reuseport(const struct rs_cfg *cfg)
{
	enum rs_kind k = rs_scenarios[cfg->sc].kind;

	return k == RS_REUSEPORT || k == RS_BPF;
}

/*
 * A listener on RS_PORT (in a reuseport group, with the migrate program
 * attached, as the scenario says); -1 with sh->error set on failure.
 */
static int rs_tcp_listener(struct rs_shared *sh, const struct rs_cfg *cfg, const char *who)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(RS_PORT) };
	bool reuseport = rs_reuseport(cfg);
	int fd, one = 1;
	char what[64];

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, cfg->backlog)) {
		snprintf(what, sizeof(what), "%s: TCP listener", who);
		rs_fail(sh, what);
		return -1;
	}
	/* A group of its own or the old one: the program is (re)attached. */
	if (rs_scenarios[cfg->sc].kind == RS_BPF &&
	    setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &cfg->bpf_prog_fd,
		       sizeof(int))) {
		snprintf(what, sizeof(what), "%s: SO_ATTACH_REUSEPORT_EBPF", who);
		rs_fail(sh, what);
		return -1;
	}
	return fd;
}

/* Answer one accepted connection: read the request, reply, close. */
static void rs_answer(int c)
{
	struct pollfd p = { .fd = c, .events = POLLIN };
	char req[64];

	if (poll(&p, 1, 2000) == 1 && read(c, req, sizeof(req)) > 0)
		(void)!write(c, "OK\n", 3);
	close(c);
}

/*
 * Accept and answer on @lfd until a command comes on @cmd: returns it
 * ('s': stop accepting, 'x': exit), or 0 if @cmd was closed.  The old
 * server counts the connection it holds (sh->old_in_hand) and, once the
 * driver asks (sh->hold), keeps the next one unanswered until it is killed.
 */
static char rs_serve(struct rs_shared *sh, int lfd, int cmd, bool is_new)
{
	struct pollfd p[2] = {
		{ .fd = cmd, .events = POLLIN },
		{ .fd = lfd, .events = POLLIN },
	};
	char c = 0;

	for (;;) {
		int a, batch = 64;

		if (poll(p, lfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			return 0;
		if (p[0].revents) {
			if (read(cmd, &c, 1) != 1)
				return 0;
			return c;
		}
		if (lfd < 0 || !(p[1].revents & POLLIN))
			continue;
		/* A batch at most: a command waits for no more than that. */
		while (batch-- && (a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			if (is_new) {
				if (!sh->new_first_accept_us)
					sh->new_first_accept_us = now_us();
				__atomic_add_fetch(&sh->new_accepted, 1, __ATOMIC_RELAXED);
				rs_answer(a);
				continue;
			}
			__atomic_add_fetch(&sh->old_accepted, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&sh->old_in_hand, 1, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&sh->hold, __ATOMIC_SEQ_CST)) {
				/* Mid-request: accepted, the request unread. */
				__atomic_store_n(&sh->holding_us, now_us(), __ATOMIC_SEQ_CST);
				for (;;)
					pause();
			}
			rs_answer(a);
			__atomic_sub_fetch(&sh->old_in_hand, 1, __ATOMIC_SEQ_CST);
		}
	}
}

#define RS_CONTROL "control"	/* scm-rights: old's unix listener, in the run's dir */
#define RS_PARK "park"		/* puds: the rendezvous path, in the run's dir */

/* The old server: set up, serve, and stop as the scenario says. */
static void rs_old_server(struct rs_shared *sh, const struct rs_cfg *cfg, int cmd)
{
	const struct rs_scenario_info *si = &rs_scenarios[cfg->sc];
	int lfd, ctl = -1, park = -1;
	char c;

	lfd = rs_tcp_listener(sh, cfg, "old");
	if (lfd < 0)
		_exit(1);
	if (si->kind == RS_SCM) {
		ctl = unix_socket(SOCK_STREAM, RS_CONTROL, 0, false);
		if (ctl < 0 || listen(ctl, 1)) {
			rs_fail(sh, "old: control socket");
			_exit(1);
		}
	}
	if (si->kind == RS_PUDS) {
		/*
		 * Park before serving: a crash at any moment leaves the listener
		 * parked.  Armed before bind(), as every rendezvous socket is.
		 */
		park = unix_dgram_bind(RS_PARK, cfg->delay_ms);
		if (park < 0 || rs_send_fd(park, RS_PARK, lfd)) {
			rs_fail(sh, "old: park the listener");
			_exit(1);
		}
	}
	sh->old_listen_us = now_us();

	c = rs_serve(sh, lfd, cmd, false);
	if (c == 's') {
		/* Stop accepting; the listener stays open until told. */
		if (si->stop == RS_STOP_HANDOVER) {
			int peer = accept(ctl, NULL, NULL);

			if (peer < 0 || rs_send_fd(peer, NULL, lfd))
				rs_fail(sh, "old: hand the listener over");
			close(peer);
			_exit(0);
		}
		c = rs_serve(sh, -1, cmd, false);
	}
	/* 'x': close everything and exit, as a graceful server does. */
	_exit(0);
}

/* Put the new server's listener in the sockarray slot the program migrates to. */
static void rs_bpf_slot(struct rs_shared *sh, const struct rs_cfg *cfg, int lfd)
{
	uint32_t key = 0;
	uint64_t val = lfd;
	union bpf_attr attr = {
		.map_fd = cfg->bpf_map_fd,
		.key = (uintptr_t)&key,
		.value = (uintptr_t)&val,
	};

	if (syscall(__NR_bpf, BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr)))
		rs_fail(sh, "new: put the listener in the sockarray");
}

/*
 * The new server: get a listener as the scenario says, then serve.  With
 * @die_adopting (RS_PUDS_CRASH_ADOPT's second incarnation) it stops right
 * after its armed bind() adopted the parked queue, before recvmsg(), and
 * waits there for its SIGKILL.
 */
static void rs_new_server(struct rs_shared *sh, const struct rs_cfg *cfg, int cmd,
			  bool die_adopting)
{
	const struct rs_scenario_info *si = &rs_scenarios[cfg->sc];
	int lfd = -1, s = -1, ms = cfg->delay_ms;

	switch (si->kind) {
	case RS_SCM:
		s = unix_socket(SOCK_STREAM, RS_CONTROL, 0, true);
		if (s >= 0)
			lfd = rs_recv_fd(s);
		close(s);
		s = -1;		/* not a rendezvous: nothing to disarm at exit */
		/*
		 * Nobody to take over from (old exited or died): a real
		 * takeover server binds a listener of its own.  Not in the
		 * planned takeover, where it would hide a failed handover.
		 */
		if (lfd < 0 && si->stop != RS_STOP_HANDOVER) {
			sh->new_fresh = 1;
			lfd = rs_tcp_listener(sh, cfg, "new");
		}
		break;
	case RS_PUDS:
		/* Only a socket armed before bind() adopts the parked queue. */
		s = unix_dgram_bind(RS_PARK, ms);
		if (die_adopting) {
			if (s < 0)
				rs_fail(sh, "adopter: bind the rendezvous");
			__atomic_store_n(&sh->adopted_us, now_us(), __ATOMIC_SEQ_CST);
			for (;;)
				pause();
		}
		if (s >= 0)
			lfd = rs_recv_fd(s);
		/*
		 * Keep @s, armed: it holds nothing now, and a real server would
		 * park again.  It is disarmed at the graceful exit below.
		 */
		break;
	default:
		lfd = rs_tcp_listener(sh, cfg, "new");
		if (lfd >= 0 && si->kind == RS_BPF)
			rs_bpf_slot(sh, cfg, lfd);
		break;
	}
	if (lfd < 0) {
		rs_fail(sh, "new: get the listener");
		_exit(1);
	}
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	sh->new_listen_us = now_us();
	rs_serve(sh, lfd, cmd, true);
	/*
	 * 'x': a graceful exit with nothing to hand over: disarm, so that
	 * nothing parks (the run counts its parks and adoptions exactly).
	 */
	if (s >= 0 && set_delay(s, 0))
		rs_fail(sh, "new: disarm the rendezvous at exit");
	_exit(0);
}

/* --- the load ------------------------------------------------------------------ */

struct rs_pending {
	int fd;
	int idx;
	bool connected;
};

static void rs_finish(struct rs_shared *sh, int epfd, struct rs_pending *p, int outcome)
{
	struct rs_conn *c = &sh->conns[p->idx];

	c->latency_us = (int32_t)(now_us() - sh->t0_us - c->start_us);
	c->outcome = outcome;
	epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	p->fd = -1;
}

static int rs_errno_outcome(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return RS_REFUSED;
	case ECONNRESET:
	case EPIPE:
		return RS_RESET;
	case ETIMEDOUT:
		return RS_TIMEOUT;
	default:
		return RS_ERROR;
	}
}

/* Did the handshake of connected @fd retransmit its SYN? */
static bool rs_syn_retried(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	/* Nothing else is sent before the handshake completes. */
	return !getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) && ti.tcpi_total_retrans > 0;
}

/* Start the connections due by @now; returns how many are started in all. */
static int rs_start_due(struct rs_shared *sh, int epfd, struct rs_pending *pend, int started,
			int n, int64_t now, int64_t *next, int64_t period, int *active)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(RS_PORT) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (started < n && now >= *next) {
		struct rs_pending *p = &pend[started];
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct epoll_event e = { .events = EPOLLOUT, .data.ptr = p };

		p->idx = started;
		p->fd = fd;
		sh->conns[started].start_us = now - sh->t0_us;
		sh->nconns = ++started;
		*next += period;
		if (fd < 0) {
			sh->conns[p->idx].outcome = RS_ERROR;
			continue;
		}
		(*active)++;
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) && errno != EINPROGRESS) {
			rs_finish(sh, epfd, p, rs_errno_outcome(errno));
			(*active)--;
			continue;
		}
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
	}
	return started;
}

/* One epoll event of @p: connected (send the request) or the reply; false once finished. */
static bool rs_progress(struct rs_shared *sh, int epfd, struct rs_pending *p)
{
	int err = 0;
	socklen_t len = sizeof(err);
	char buf[16];
	ssize_t r;

	if (!p->connected) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = p };

		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err || write(p->fd, "GET\n", 4) != 4) {
			rs_finish(sh, epfd, p, rs_errno_outcome(err ? err : errno));
			return false;
		}
		sh->conns[p->idx].syn_retried = rs_syn_retried(p->fd);
		p->connected = true;
		epoll_ctl(epfd, EPOLL_CTL_MOD, p->fd, &e);
		return true;
	}
	r = read(p->fd, buf, sizeof(buf));
	if (r < 0 && errno == EAGAIN)
		return true;
	rs_finish(sh, epfd, p, r > 0 ? RS_OK : r == 0 ? RS_RESET : rs_errno_outcome(errno));
	return false;
}

/* Open @n connections at @rate per second and see each one through. */
static void rs_loadgen(struct rs_shared *sh, const struct rs_cfg *cfg, int n)
{
	struct rs_pending *pend = calloc(n, sizeof(*pend));
	int64_t period = 1000000 / cfg->rate, next, timeout = cfg->timeout_ms * 1000LL;
	int epfd = epoll_create1(0), started = 0, active = 0, oldest = 0, i;
	struct epoll_event ev[256];

	if (!pend || epfd < 0) {
		rs_fail(sh, "loadgen: calloc or epoll_create1");
		_exit(1);
	}
	sh->t0_us = now_us();
	next = sh->t0_us;
	while (started < n || active) {
		int64_t now = now_us(), wait;
		int k;

		started = rs_start_due(sh, epfd, pend, started, n, now, &next, period, &active);
		/*
		 * Timeouts: connections start in order and share one timeout,
		 * so they time out in order: only the oldest unfinished ones
		 * can be due.
		 */
		for (; oldest < started; oldest++) {
			struct rs_pending *p = &pend[oldest];

			if (p->fd >= 0 && now - sh->t0_us - sh->conns[oldest].start_us < timeout)
				break;
			if (p->fd >= 0) {
				rs_finish(sh, epfd, p, RS_TIMEOUT);
				active--;
			}
		}
		wait = started < n ? (next - now_us()) / 1000 : 5;
		k = epoll_wait(epfd, ev, 256, wait < 0 ? 0 : wait > 5 ? 5 : (int)wait);
		for (i = 0; i < k; i++) {
			struct rs_pending *p = ev[i].data.ptr;

			if (p->fd >= 0 && !rs_progress(sh, epfd, p))
				active--;
		}
	}
	free(pend);
}

/* --- one run -------------------------------------------------------------------- */

static int rs_cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Which of the run's three windows @c started in (before the stop, the gap
 * up to the new server's first accept, after it), counted in @res if it
 * found the queue full; and the gap's arrivals.
 */
static void rs_count_window(const struct rs_shared *sh, const struct rs_conn *c,
			    struct rs_result *res)
{
	int64_t start = sh->t0_us + c->start_us;
	bool full = (c->outcome == RS_OK && c->syn_retried) || c->outcome == RS_TIMEOUT;

	if (!sh->restart_us || start < sh->restart_us) {
		res->full_before += full;
	} else if (!sh->new_first_accept_us || start < sh->new_first_accept_us) {
		res->started_gap++;
		res->full_gap += full;
	} else {
		res->full_after += full;
	}
}

static void rs_summarise(const struct rs_shared *sh, struct rs_result *res)
{
	int64_t *lat = calloc(sh->nconns + 1, sizeof(*lat));
	int i, n = 0;

	memset(res, 0, sizeof(*res));
	res->attempted = sh->nconns;
	for (i = 0; i < sh->nconns; i++) {
		const struct rs_conn *c = &sh->conns[i];

		res->count[c->outcome]++;
		rs_count_window(sh, c, res);
		if (c->outcome != RS_OK)
			continue;
		res->syn_retried += c->syn_retried;
		if (lat)
			lat[n++] = c->latency_us;
	}
	if (sh->nconns)
		res->last_start_us = sh->conns[sh->nconns - 1].start_us;
	if (lat) {
		qsort(lat, n, sizeof(*lat), rs_cmp64);
		res->p50_us = n ? lat[n / 2] : 0;
		res->p99_us = n ? lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] : 0;
		res->max_us = n ? lat[n - 1] : 0;
	}
	free(lat);
}

static void rs_command(int fd, char c)
{
	(void)!write(fd, &c, 1);
}

static bool rs_wait_set(const int64_t *t, int ms)
{
	int64_t end = now_us() + ms * 1000LL;

	while (!__atomic_load_n(t, __ATOMIC_SEQ_CST) && now_us() < end)
		usleep(1000);
	return __atomic_load_n(t, __ATOMIC_SEQ_CST);
}

/* SIGKILL @pid and reap it; the time of the kill. */
static int64_t rs_kill(pid_t pid)
{
	int64_t t = now_us();

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return t;
}

int rs_conns(const struct rs_cfg *cfg)
{
	return (int)((int64_t)cfg->rate * (cfg->before_ms + cfg->gap_ms + cfg->after_ms) / 1000);
}

/*
 * Crash: old is asked to hold the next connection it accepts (mid-request)
 * and SIGKILLed cfg->hold_ms after it does (or after 2 s without one),
 * then reaped; with
 * RS_STOP_KILL_ADOPT a successor then adopts the parked queue and is
 * SIGKILLed before it takes the fds.  Returns when the gap starts: the kill.
 */
static int64_t rs_crash_old(struct rs_shared *sh, const struct rs_cfg *cfg, pid_t old)
{
	int64_t killed;
	pid_t adopter;

	__atomic_store_n(&sh->hold, 1, __ATOMIC_SEQ_CST);
	/* Meanwhile its queue fills: what a crash drops besides the one in hand. */
	if (rs_wait_set(&sh->holding_us, 2000))
		sleep_until_us(sh->holding_us + cfg->hold_ms * 1000LL);
	sh->in_hand = __atomic_load_n(&sh->old_in_hand, __ATOMIC_SEQ_CST);
	killed = rs_kill(old);
	sh->killed_us = killed;
	sh->old_exit_us = now_us();
	if (rs_scenarios[cfg->sc].stop != RS_STOP_KILL_ADOPT)
		return killed;

	adopter = fork();
	if (!adopter)
		rs_new_server(sh, cfg, -1, true);
	if (!rs_wait_set(&sh->adopted_us, 10000))
		rs_fail(sh, "the adopter never bound the rendezvous");
	sh->successor_killed_us = rs_kill(adopter);
	return killed;
}

/*
 * The driver, in a child of its own: a fresh netns and a fresh directory
 * @dir (cwd) for the unix paths.  Fills @sh; exits 0 if the run went as
 * planned (whatever its outcome), 1 if the harness itself failed.
 */
static void rs_drive(struct rs_shared *sh, const struct rs_cfg *cfg, const char *dir)
{
	const struct rs_scenario_info *si = &rs_scenarios[cfg->sc];
	int n = rs_conns(cfg);
	int oldcmd[2], newcmd[2];
	pid_t old, new = -1, load;
	int64_t gap_start;
	char num[32];

	if (n > sh->max_conns) {
		errno = ENOSPC;
		rs_fail(sh, "more connections than the shared mapping holds");
		_exit(1);
	}
	if (unshare(CLONE_NEWNET) || chdir(dir)) {
		rs_fail(sh, "unshare(CLONE_NEWNET) or chdir");
		_exit(1);
	}
	lo_up();
	write_file("/proc/sys/net/ipv4/tcp_migrate_req", si->kind == RS_REUSEPORT ? "1" : "0");
	/*
	 * Ephemeral ports: plenty, and none of them RS_PORT; start and end of
	 * different parity, as the kernel asks (connect() prefers one parity,
	 * bind() the other).
	 */
	write_file("/proc/sys/net/ipv4/ip_local_port_range", "10000 65001");
	if (cfg->somaxconn) {
		snprintf(num, sizeof(num), "%d", cfg->somaxconn);
		write_file("/proc/sys/net/core/somaxconn", num);
	}
	sh->somaxconn = (int)read_long("/proc/sys/net/core/somaxconn");
	if (pipe(oldcmd) || pipe(newcmd)) {
		rs_fail(sh, "pipe");
		_exit(1);
	}

	old = fork();
	if (!old) {
		close(oldcmd[1]);
		rs_old_server(sh, cfg, oldcmd[0]);
	}
	close(oldcmd[0]);
	if (!rs_wait_set(&sh->old_listen_us, 10000)) {
		rs_fail(sh, "old server never listened");
		kill(old, SIGKILL);
		_exit(1);
	}

	load = fork();
	if (!load) {
		rs_loadgen(sh, cfg, n);
		_exit(0);
	}
	rs_wait_set(&sh->t0_us, 10000);
	rs_sample_queue(sh, sh->t0_us + cfg->before_ms * 1000LL);
	sh->restart_us = now_us();
	gap_start = sh->restart_us;
	switch (si->stop) {
	case RS_STOP_NONE:
		waitpid(load, NULL, 0);
		rs_command(oldcmd[1], 'x');
		waitpid(old, NULL, 0);
		rs_read_counters(&sh->kernel);
		_exit(0);
	case RS_STOP_EXIT:
		rs_command(oldcmd[1], 'x');
		waitpid(old, NULL, 0);
		sh->old_exit_us = now_us();
		break;
	case RS_STOP_OVERLAP:
	case RS_STOP_HANDOVER:
		/* Old stops accepting, keeps its listener. */
		rs_command(oldcmd[1], 's');
		break;
	case RS_STOP_KILL:
	case RS_STOP_KILL_ADOPT:
		gap_start = rs_crash_old(sh, cfg, old);
		break;
	}

	sleep_until_us(gap_start + cfg->gap_ms * 1000LL);
	if (si->kind == RS_PUDS)
		sh->diag_parked = rs_diag_parked(&sh->diag_fds);

	new = fork();
	if (!new) {
		close(newcmd[1]);
		rs_new_server(sh, cfg, newcmd[0], false);
	}
	close(newcmd[0]);
	if (!rs_wait_set(&sh->new_listen_us, 10000))
		rs_fail(sh, "new server never listened");

	if (si->stop == RS_STOP_OVERLAP) {
		/* New is in the group: now old closes, its queue migrates. */
		rs_command(oldcmd[1], 'x');
	}
	if (!sh->old_exit_us) {
		waitpid(old, NULL, 0);
		sh->old_exit_us = now_us();
	}

	waitpid(load, NULL, 0);
	rs_command(newcmd[1], 'x');
	waitpid(new, NULL, 0);
	rs_read_counters(&sh->kernel);
	_exit(0);
}

int rs_run(const struct rs_cfg *cfg, struct rs_shared *sh, struct rs_result *res)
{
	char dir[] = "/tmp/restart.XXXXXX", path[64];
	int status = 0, max_conns = sh->max_conns;
	pid_t pid;

	memset(sh, 0, offsetof(struct rs_shared, conns));
	sh->max_conns = max_conns;
	if (!mkdtemp(dir)) {
		rs_fail(sh, "mkdtemp");
		return -1;
	}
	pid = fork();
	if (!pid)
		rs_drive(sh, cfg, dir);
	waitpid(pid, &status, 0);
	snprintf(path, sizeof(path), "%s/" RS_PARK, dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/" RS_CONTROL, dir);
	unlink(path);
	rmdir(dir);
	rs_summarise(sh, res);
	res->kernel = sh->kernel;
	return WIFEXITED(status) && !WEXITSTATUS(status) && !sh->error[0] ? 0 : -1;
}

static size_t rs_shared_size(int max_conns)
{
	return offsetof(struct rs_shared, conns) + (size_t)max_conns * sizeof(struct rs_conn);
}

struct rs_shared *rs_shared_new(int max_conns)
{
	/* Pages are touched as connections are recorded: room costs nothing. */
	struct rs_shared *sh = mmap(NULL, rs_shared_size(max_conns), PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct rlimit rl = { 65536, 65536 };

	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);
	if (sh == MAP_FAILED)
		return NULL;
	sh->max_conns = max_conns;
	return sh;
}

void rs_shared_free(struct rs_shared *sh)
{
	if (sh)
		munmap(sh, rs_shared_size(sh->max_conns));
}

int rs_somaxconn_max(void)
{
	static const int tries[] = { INT_MAX, 1 << 30, 1 << 24, 1 << 20, 65535 };
	int p[2], best = -1, status;
	unsigned int i;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (!pid) {
		char num[32];

		close(p[0]);
		if (unshare(CLONE_NEWNET))
			_exit(1);
		for (i = 0; i < sizeof(tries) / sizeof(tries[0]) && best < 0; i++) {
			snprintf(num, sizeof(num), "%d", tries[i]);
			if (!write_file("/proc/sys/net/core/somaxconn", num) &&
			    read_long("/proc/sys/net/core/somaxconn") == tries[i])
				best = tries[i];
		}
		(void)!write(p[1], &best, sizeof(best));
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &best, sizeof(best)) != sizeof(best))
		best = -1;
	close(p[0]);
	waitpid(pid, &status, 0);
	return best;
}
