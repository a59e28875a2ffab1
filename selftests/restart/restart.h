/* SPDX-License-Identifier: GPL-2.0 */
/*
 * restart.h: one server restart under a steady client load, done the ways
 * Linux offers today and with UNIX_DELAY_CLOSE, measured from the client's
 * side and from the kernel's counters.  Used by restart_check (make check)
 * and by selftests/eval (make eval), which links restart.c (the suites
 * line's "with=selftests/restart").
 *
 * A run happens in a network namespace of its own (fresh counters, fresh
 * sysctls, port 8080 free).  Processes:
 *
 *   driver   forks everything, restarts the server at the chosen moment
 *            (tells old to stop, or SIGKILLs it: enum rs_stop)
 *   old      the server before the restart
 *   adopter  puds-crash-adopt only: adopts the parked queue, is SIGKILLed
 *   new      the server after it, started "gap" ms after old stopped or died
 *   loadgen  opens connections at a fixed rate, each sends a request and
 *            waits for the reply with a timeout, and records the outcome
 *
 * They share one anonymous mapping (struct rs_shared): timestamps of the
 * restart's events, what old holds, and one record per connection.  Times
 * are CLOCK_MONOTONIC microseconds.  README.md describes every scenario
 * and where a crash's kill is placed.
 */
#ifndef PUDS_RESTART_H
#define PUDS_RESTART_H

#include <stdbool.h>
#include <stdint.h>

#define RS_PORT		8080

enum rs_scenario {
	RS_NAIVE,		/* close, exit, new binds after the gap */
	RS_NAIVE_CRASH,		/* old SIGKILLed mid-request, new binds after the gap */
	RS_REUSEPORT_OVERLAP,	/* tcp_migrate_req=1, new joins before old closes */
	RS_REUSEPORT_GAP,	/* tcp_migrate_req=1, old closes before new binds */
	RS_REUSEPORT_CRASH,	/* tcp_migrate_req=1, old SIGKILLed before new binds */
	RS_BPF_OVERLAP,		/* SK_REUSEPORT_SELECT_OR_MIGRATE program, overlap */
	RS_BPF_GAP,		/* the program, old closes before new binds */
	RS_BPF_CRASH,		/* the program, old SIGKILLed before new binds */
	RS_SCM_RIGHTS,		/* new takes the listener from old over a unix socket */
	RS_SCM_STOP_START,	/* old exits, nobody to hand to: new binds afresh */
	RS_SCM_CRASH,		/* old SIGKILLed before handing over: new binds afresh */
	RS_PUDS_EXIT,		/* old parks its listener and exits */
	RS_PUDS_KILL,		/* the same, old is SIGKILLed */
	RS_PUDS_CRASH_ADOPT,	/* and its successor SIGKILLed after adopting, before recvmsg */
	RS_STEADY,		/* no restart: one server throughout (the rate probe) */
	RS_NR_SCENARIOS,
};

/* How the old server stops (and what happens in the gap). */
enum rs_stop {
	RS_STOP_NONE,		/* it does not: RS_STEADY */
	RS_STOP_EXIT,		/* closes everything and exits before the gap */
	RS_STOP_OVERLAP,	/* stops accepting, closes once new listens */
	RS_STOP_HANDOVER,	/* stops accepting, hands its listener to new */
	RS_STOP_KILL,		/* SIGKILLed holding the connection it just accepted */
	RS_STOP_KILL_ADOPT,	/* the same, then the successor is SIGKILLed mid-adoption */
};

/* How the servers get their listener. */
enum rs_kind {
	RS_PLAIN,		/* bind() */
	RS_REUSEPORT,		/* SO_REUSEPORT, tcp_migrate_req=1 */
	RS_BPF,			/* SO_REUSEPORT, the migrate program */
	RS_SCM,			/* new asks old over a unix socket, else bind()s */
	RS_PUDS,		/* old parks it, new adopts the parked queue */
};

struct rs_scenario_info {
	const char *name;	/* unique: "puds-crash-adopt" */
	const char *method;	/* "naive", "reuseport", "bpf-migrate", "scm-rights", "puds" */
	const char *variant;	/* "planned", "stop-start", "crash", "crash-adopt" */
	enum rs_kind kind;
	enum rs_stop stop;
};

extern const struct rs_scenario_info rs_scenarios[RS_NR_SCENARIOS];

static inline const char *rs_name(enum rs_scenario sc)
{
	return rs_scenarios[sc].name;
}

static inline bool rs_crash(enum rs_scenario sc)
{
	return rs_scenarios[sc].stop == RS_STOP_KILL || rs_scenarios[sc].stop == RS_STOP_KILL_ADOPT;
}

enum rs_outcome {
	RS_OK,			/* the reply came */
	RS_REFUSED,		/* ECONNREFUSED: nobody listened */
	RS_RESET,		/* RST or EOF before the reply: a dropped accept queue */
	RS_TIMEOUT,		/* no reply within the timeout */
	RS_ERROR,		/* anything else */
	RS_NR_OUTCOMES,
};

extern const char *const rs_outcome_name[RS_NR_OUTCOMES];

struct rs_cfg {
	enum rs_scenario sc;
	int gap_ms;		/* old stops accepting (or dies) -> new starts */
	int rate;		/* connections per second */
	int before_ms;		/* load before the restart */
	int after_ms;		/* load after the gap */
	int timeout_ms;		/* per connection */
	int backlog;		/* listen(); capped by the netns's somaxconn */
	int somaxconn;		/* net.core.somaxconn of the run's netns; 0: the default */
	int delay_ms;		/* UNIX_DELAY_CLOSE */
	int hold_ms;		/* crash: old holds its last request this long, then dies */
	int bpf_prog_fd;	/* RS_BPF: program and its sockarray */
	int bpf_map_fd;
};

struct rs_conn {
	int64_t start_us;	/* from the load's start */
	int32_t latency_us;	/* connect() to reply, or to the failure */
	int16_t outcome;
	int16_t syn_retried;	/* the handshake needed a SYN retransmission */
};

struct rs_counters {
	long listen_drops, listen_overflows;
	long migrate_ok, migrate_fail;
	long abort_on_close, out_rsts;
	long dc_parked, dc_adopted, dc_expired;	/* /proc/net/unix_delay_close */
};

struct rs_shared {
	int max_conns;			/* room in conns[]: kept across runs */
	/* From here on, zeroed by every run. */
	int64_t t0_us;			/* the load starts */
	int64_t old_listen_us;
	int64_t restart_us;		/* old told to stop, or to hold and die */
	int64_t killed_us;		/* old SIGKILLed */
	int64_t successor_killed_us;	/* RS_PUDS_CRASH_ADOPT: the adopter SIGKILLed */
	int64_t adopted_us;		/* RS_PUDS_CRASH_ADOPT: the adopter's bind() returned */
	int64_t old_exit_us;		/* old reaped */
	int64_t new_listen_us;		/* new bound, adopted or handed the listener */
	int64_t new_first_accept_us;
	int64_t holding_us;		/* old holds a connection and waits to be killed */
	int hold;			/* the driver asks old to hold its next connection */
	int old_in_hand;		/* accepted by old and not answered, now */
	int in_hand;			/* old_in_hand when old was killed */
	int old_accepted, new_accepted;
	int new_fresh;			/* scm-rights: new bound a listener of its own */
	int somaxconn;			/* what the netns's sysctl said */
	int queued_at_stop;		/* in the accept queue as the gap began; -1: unknown */
	int queued_min, queued_max;	/* the accept queue over the 50 ms before */
	int diag_parked;		/* parked queues unix_diag listed before adoption */
	int diag_fds;			/* fds in them */
	struct rs_counters kernel;	/* the run's netns, after it */
	char error[256];		/* the first thing that went wrong */
	int nconns;
	struct rs_conn conns[];		/* max_conns of them */
};

struct rs_result {
	int attempted;
	int count[RS_NR_OUTCOMES];
	int syn_retried;		/* completed ones whose SYN was retransmitted */
	/*
	 * Connections whose SYN found the queue full (completed after a SYN
	 * retry, or timed out), by when they started: before the old server
	 * stopped accepting, in the gap (up to the new server's first accept),
	 * after it.  The model counts the gap's.
	 */
	int full_before, full_gap, full_after;
	int started_gap;		/* connections started in the gap, all of them */
	int64_t p50_us, p99_us, max_us;
	int64_t last_start_us;		/* the last connection's start: the rate achieved */
	struct rs_counters kernel;
};

/*
 * The shared mapping of the runs, with room for @max_conns connections per
 * run (and SIGPIPE ignored, RLIMIT_NOFILE raised); NULL if mmap fails.
 */
struct rs_shared *rs_shared_new(int max_conns);
void rs_shared_free(struct rs_shared *sh);
/* The connections a run of @cfg opens. */
int rs_conns(const struct rs_cfg *cfg);
/*
 * The largest net.core.somaxconn a fresh netns accepts (INT_MAX, else the
 * largest of a few smaller values that reads back as written); -1 on error.
 */
int rs_somaxconn_max(void);
/*
 * Run @cfg once: a fresh netns, a fresh directory.  Fills @res (and @sh for
 * the per-connection records); 0, or -1 with sh->error saying why.
 */
int rs_run(const struct rs_cfg *cfg, struct rs_shared *sh, struct rs_result *res);

#endif /* PUDS_RESTART_H */
