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
 *   old      the server before the restart
 *   new      the server after it, started "gap" ms after old stopped
 *   loadgen  opens connections at a fixed rate, each sends a request and
 *            waits for the reply with a timeout, and records the outcome
 *
 * They share one anonymous mapping (struct rs_shared): timestamps of the
 * restart's events and one record per connection.  Times are
 * CLOCK_MONOTONIC microseconds.
 */
#ifndef PUDS_RESTART_H
#define PUDS_RESTART_H

#include <stdbool.h>
#include <stdint.h>

#define RS_PORT		8080
#define RS_MAX_CONNS	16384

enum rs_scenario {
	RS_NAIVE,		/* 1: close, exit, new binds after the gap */
	RS_REUSEPORT_OVERLAP,	/* 2: tcp_migrate_req=1, new joins before old closes */
	RS_REUSEPORT_GAP,	/* 3: tcp_migrate_req=1, old closes before new binds */
	RS_BPF_OVERLAP,		/* 4: SK_REUSEPORT_SELECT_OR_MIGRATE program, overlap */
	RS_SCM_RIGHTS,		/* 5: new takes the listener from old over a unix socket */
	RS_PUDS_EXIT,		/* 6: old parks its listener and exits */
	RS_PUDS_KILL,		/* 6: the same, old is SIGKILLed */
	RS_NR_SCENARIOS,
};

extern const char *const rs_scenario_name[RS_NR_SCENARIOS];

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
	int gap_ms;		/* old stops accepting -> new accepts */
	int rate;		/* connections per second */
	int before_ms;		/* load before the restart */
	int after_ms;		/* load after the gap */
	int timeout_ms;		/* per connection */
	int backlog;
	int delay_ms;		/* UNIX_DELAY_CLOSE */
	int bpf_prog_fd;	/* RS_BPF_OVERLAP: program and its sockarray */
	int bpf_map_fd;
};

struct rs_conn {
	int64_t start_us;	/* from the load's start */
	int32_t latency_us;	/* connect() to reply, or to the failure */
	int32_t outcome;
};

struct rs_counters {
	long listen_drops, listen_overflows;
	long migrate_ok, migrate_fail;
	long abort_on_close, out_rsts;
	long dc_parked, dc_adopted, dc_expired;	/* /proc/net/unix_delay_close */
};

struct rs_shared {
	int64_t t0_us;			/* the load starts */
	int64_t old_listen_us;
	int64_t restart_us;		/* old told to stop, or killed */
	int64_t old_exit_us;		/* old reaped */
	int64_t new_listen_us;		/* new bound, adopted or handed the listener */
	int64_t new_first_accept_us;
	int old_accepted, new_accepted;
	int diag_parked;		/* parked queues unix_diag listed before adoption */
	int diag_fds;			/* fds in them */
	struct rs_counters kernel;	/* the run's netns, after it */
	char error[256];		/* the first thing that went wrong */
	int nconns;
	struct rs_conn conns[RS_MAX_CONNS];
};

struct rs_result {
	int attempted;
	int count[RS_NR_OUTCOMES];
	int64_t p50_us, p99_us, max_us;
	struct rs_counters kernel;
};

/* The shared mapping of the runs (and SIGPIPE ignored, RLIMIT_NOFILE raised); NULL if mmap fails. */
struct rs_shared *rs_shared_new(void);
/*
 * Run @cfg once: a fresh netns, a fresh directory.  Fills @res (and @sh for
 * the per-connection records); 0, or -1 with sh->error saying why.
 */
int rs_run(const struct rs_cfg *cfg, struct rs_shared *sh, struct rs_result *res);

#endif /* PUDS_RESTART_H */
