// SPDX-License-Identifier: GPL-2.0
/*
 * eval: make eval's guest program.  Runs every restart scenario of
 * selftests/restart/restart.h at every gap, one after the other, and prints
 * for each run a progress line, a TAP line (the run itself went as planned)
 * and one "PUDS-EVAL {json}" line with everything measured, which
 * scripts/eval_report.py turns into build/eval/report.md.
 *
 * The kernel command line may carry puds.eval=quick (gaps 0 and 500 ms only,
 * a reduced sweep) and puds.eval.rate=N (the matrix's connections per
 * second, default 100).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "restart.h"
#include "reuseport_migrate.skel.h"	/* bpftool gen skeleton of reuseport_migrate.bpf.c */
#include "selftest.h"

static const int gaps_full[] = { 0, 50, 500, 2000 };
static const int gaps_quick[] = { 0, 500 };

/* The SK_REUSEPORT program and its sockarray; 0 or -1. */
static int load_bpf(int *prog_fd, int *map_fd, char *err, size_t len)
{
	struct reuseport_migrate *skel;

	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	skel = reuseport_migrate__open_and_load();
	if (!skel) {
		snprintf(err, len, "reuseport_migrate__open_and_load: %s", strerror(errno));
		return -1;
	}
	*prog_fd = bpf_program__fd(skel->progs.migrate_reuseport);
	*map_fd = bpf_map__fd(skel->maps.reuseport_map);
	/* The object stays loaded for the whole run: fds are inherited. */
	return 0;
}

static double ms(int64_t us)
{
	return us / 1000.0;
}

/* An event's time from the load's start, or null. */
static void json_event(const char *name, int64_t t, int64_t t0, bool last)
{
	if (t)
		printf("\"%s\":%.1f%s", name, ms(t - t0), last ? "" : ",");
	else
		printf("\"%s\":null%s", name, last ? "" : ",");
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
	putchar('"');
}

/* What kind of run a PUDS-EVAL line reports. */
enum part { MATRIX, SWEEP };

static void print_json(enum part part, const struct rs_cfg *cfg, const struct rs_shared *sh,
		       const struct rs_result *r, int ok)
{
	const struct rs_scenario_info *si = &rs_scenarios[cfg->sc];
	int i;

	printf("PUDS-EVAL {\"part\":\"%s\",\"method\":\"%s\",\"variant\":\"%s\",\"scenario\":\"%s\","
	       "\"gap_ms\":%d,\"rate\":%d,\"before_ms\":%d,\"after_ms\":%d,\"timeout_ms\":%d,"
	       "\"backlog\":%d,\"somaxconn\":%d,\"delay_ms\":%d,\"hold_ms\":%d,\"ok\":%s,",
	       part == MATRIX ? "matrix" : "sweep", si->method, si->variant, si->name,
	       cfg->gap_ms, cfg->rate, cfg->before_ms, cfg->after_ms, cfg->timeout_ms,
	       cfg->backlog, sh->somaxconn, cfg->delay_ms, rs_crash(cfg->sc) ? cfg->hold_ms : 0,
	       ok ? "true" : "false");
	printf("\"error\":");
	json_string(sh->error);
	printf(",\"attempted\":%d,\"outcomes\":{", r->attempted);
	for (i = 0; i < RS_NR_OUTCOMES; i++)
		printf("\"%s\":%d%s", rs_outcome_name[i], r->count[i],
		       i + 1 < RS_NR_OUTCOMES ? "," : "");
	printf("},\"in_hand\":%d,\"syn_retried\":%d,\"new_fresh\":%s,", sh->in_hand,
	       r->syn_retried, sh->new_fresh ? "true" : "false");
	printf("\"queue_full\":{\"before\":%d,\"gap\":%d,\"after\":%d},\"queued_at_stop\":%d,"
	       "\"queued_min\":%d,\"queued_max\":%d,\"started_gap\":%d,", r->full_before,
	       r->full_gap, r->full_after, sh->queued_at_stop, sh->queued_min, sh->queued_max,
	       r->started_gap);
	printf("\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"max_ms\":%.1f,",
	       ms(r->p50_us), ms(r->p99_us), ms(r->max_us));
	printf("\"events\":{");
	json_event("old_listen", sh->old_listen_us, sh->t0_us, false);
	json_event("restart", sh->restart_us, sh->t0_us, false);
	json_event("killed", sh->killed_us, sh->t0_us, false);
	json_event("successor_killed", sh->successor_killed_us, sh->t0_us, false);
	json_event("old_exit", sh->old_exit_us, sh->t0_us, false);
	json_event("new_listen", sh->new_listen_us, sh->t0_us, false);
	json_event("new_first_accept", sh->new_first_accept_us, sh->t0_us, true);
	printf("},\"old_accepted\":%d,\"new_accepted\":%d,", sh->old_accepted, sh->new_accepted);
	printf("\"kernel\":{\"ListenDrops\":%ld,\"ListenOverflows\":%ld,"
	       "\"TCPMigrateReqSuccess\":%ld,\"TCPMigrateReqFailure\":%ld,"
	       "\"TCPAbortOnClose\":%ld,\"OutRsts\":%ld,\"UnixDelayCloseParked\":%ld,"
	       "\"UnixDelayCloseAdopted\":%ld,\"UnixDelayCloseExpired\":%ld},",
	       r->kernel.listen_drops, r->kernel.listen_overflows, r->kernel.migrate_ok,
	       r->kernel.migrate_fail, r->kernel.abort_on_close, r->kernel.out_rsts,
	       r->kernel.dc_parked, r->kernel.dc_adopted, r->kernel.dc_expired);
	printf("\"diag\":{\"parked\":%d,\"fds\":%d},", sh->diag_parked, sh->diag_fds);
	printf("\"conns\":[");
	for (i = 0; part == MATRIX && i < sh->nconns; i++)
		printf("[%.1f,%.1f,%d]%s", ms(sh->conns[i].start_us), ms(sh->conns[i].latency_us),
		       sh->conns[i].outcome, i + 1 < sh->nconns ? "," : "");
	printf("]}\n");
}

/* Completed connections per scenario over the whole run (the puds totals). */
static long served[RS_NR_SCENARIOS];

/* One run: its progress line, its PUDS-EVAL line, its TAP line. */
static void run_one(enum part part, struct rs_cfg *cfg, struct rs_shared *sh, const char *bpf_err,
		    int k, int total)
{
	int64_t start = now_us();
	struct rs_result r;
	int ok;

	if (rs_scenarios[cfg->sc].kind == RS_BPF && bpf_err[0]) {
		memset(sh, 0, offsetof(struct rs_shared, conns));
		snprintf(sh->error, sizeof(sh->error), "%s", bpf_err);
		memset(&r, 0, sizeof(r));
		ok = 0;
	} else {
		ok = !rs_run(cfg, sh, &r);
	}
	served[cfg->sc] += r.count[RS_OK];
	printf("# [%d/%d] %-21s gap %4d ms rate %5d backlog %10d: %5d attempted, %5d completed (%d SYN retried), %4d refused, %4d reset, %4d timed out, in hand %d; p99 %.0f ms; %.1f s%s%s\n",
	       k, total, rs_name(cfg->sc), cfg->gap_ms, cfg->rate, cfg->backlog, r.attempted,
	       r.count[RS_OK], r.syn_retried, r.count[RS_REFUSED], r.count[RS_RESET],
	       r.count[RS_TIMEOUT], sh->in_hand, ms(r.p99_us), (now_us() - start) / 1e6,
	       sh->error[0] ? "; error: " : "", sh->error);
	print_json(part, cfg, sh, &r, ok);
	tap_result(ok, "%s %s gap %d ms rate %d backlog %d", part == MATRIX ? "matrix" : "sweep",
		   rs_name(cfg->sc), cfg->gap_ms, cfg->rate, cfg->backlog);
	fflush(stdout);
}

/*
 * The most connections per second the client drives here: the rate goes up
 * by half each step against one server that never restarts, until fewer
 * than 99% complete, the client starts them more than 10% late, or the
 * server falls behind (connections wait in its queue: p99 200 ms or more,
 * or a SYN dropped because the queue was full).
 */
static int probe_max_rate(int step_ms)
{
	struct rs_cfg cfg = {
		.sc = RS_STEADY, .before_ms = step_ms, .timeout_ms = 5000, .backlog = 4096,
		.bpf_prog_fd = -1, .bpf_map_fd = -1,
	};
	struct rs_shared *sh;
	struct rs_result r;
	int rate, best = 0;

	for (rate = 500; rate <= 64000; rate += rate / 2) {
		double achieved;
		bool good;

		cfg.rate = rate;
		sh = rs_shared_new(rs_conns(&cfg));
		if (!sh || rs_run(&cfg, sh, &r)) {
			printf("# eval: probe at %d/s failed: %s\n", rate, sh ? sh->error : "mmap");
			rs_shared_free(sh);
			break;
		}
		achieved = r.last_start_us ? (r.attempted - 1) * 1e6 / r.last_start_us : 0;
		good = r.count[RS_OK] >= r.attempted * 0.99 && achieved >= rate * 0.9 &&
		       r.p99_us < 200000 && !r.syn_retried;
		printf("# eval: probe %d/s: %d attempted, %d completed (%d SYN retried), started at %.0f/s, p99 %.0f ms%s\n",
		       rate, r.attempted, r.count[RS_OK], r.syn_retried, achieved, ms(r.p99_us),
		       good ? "" : ": short");
		fflush(stdout);
		rs_shared_free(sh);
		if (!good)
			break;
		best = rate;
	}
	return best;
}

static const enum rs_scenario sweep_full[] = {
	RS_PUDS_EXIT, RS_PUDS_KILL, RS_PUDS_CRASH_ADOPT, RS_SCM_RIGHTS, RS_REUSEPORT_OVERLAP,
	RS_BPF_OVERLAP,
};

static const enum rs_scenario sweep_quick[] = { RS_PUDS_EXIT, RS_SCM_RIGHTS };

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The sweep's durations: short, but the queue must drain after the gap. */
static void sweep_times(struct rs_cfg *cfg)
{
	cfg->before_ms = 200;
	cfg->after_ms = 500;
	/* A crash adds nothing to the queue of the gap: the model's terms. */
	cfg->hold_ms = 0;
	cfg->timeout_ms = 5000;
}

int main(void)
{
	struct rs_cfg swept, cfg = {
		.rate = 100, .before_ms = 500, .after_ms = 1000, .timeout_ms = 5000,
		.backlog = 4096, .delay_ms = 10000, .hold_ms = 100,
	};
	const enum rs_scenario *sweep = sweep_full;
	int nsweep = N(sweep_full), rates[3] = { 100, 1000, 0 }, nrates = 3;
	int sweep_gaps[4] = { 0, 50, 500, 2000 }, nsweep_gaps = 4;
	int backlogs[3] = { 128, 4096, 0 }, nbacklogs = 3;
	const int *gaps = gaps_full;
	int ngaps = N(gaps_full), total, k = 0, g, i, j, b, max_rate, somaxconn_max, longest;
	struct rs_shared *sh;
	char err[256] = "", mode[16];
	bool quick = false;
	enum rs_scenario sc;

	/* puds.eval=quick: gaps 0 and 500 ms only; puds.eval.rate=N connections/s. */
	if (cmdline_value("puds.eval", mode, sizeof(mode)) && !strcmp(mode, "quick")) {
		quick = true;
		gaps = gaps_quick;
		ngaps = N(gaps_quick);
		sweep = sweep_quick;
		nsweep = N(sweep_quick);
		rates[0] = 1000;
		nrates = 1;
		sweep_gaps[0] = 500;
		nsweep_gaps = 1;
		nbacklogs = 2;
	}
	cfg.rate = cmdline_long("puds.eval.rate", cfg.rate);
	total = (RS_NR_SCENARIOS - 1) * ngaps + nsweep * nrates * nsweep_gaps * nbacklogs;
	tap_plan(total);
	if (load_bpf(&cfg.bpf_prog_fd, &cfg.bpf_map_fd, err, sizeof(err)))
		printf("# BPF scenario cannot run: %s\n", err);

	somaxconn_max = rs_somaxconn_max();
	printf("# eval: somaxconn_max %d\n", somaxconn_max);
	backlogs[2] = somaxconn_max;
	max_rate = probe_max_rate(quick ? 500 : 1000);
	printf("# eval: max_rate %d\n", max_rate);
	rates[2] = max_rate;
	if (max_rate <= 0 || somaxconn_max <= 0)
		tap_bail("the probes failed: max_rate %d, somaxconn_max %d", max_rate, somaxconn_max);

	/* Room for the longest run: at the highest rate and gap. */
	swept = cfg;
	sweep_times(&swept);
	swept.rate = max_rate > 1000 ? max_rate : 1000;
	swept.gap_ms = 2000;
	cfg.gap_ms = 2000;
	longest = rs_conns(&swept) > rs_conns(&cfg) ? rs_conns(&swept) : rs_conns(&cfg);
	sh = rs_shared_new(longest + 1000);
	if (!sh)
		tap_bail("mmap: %s", strerror(errno));

	printf("# eval: matrix: %d scenarios x %d gaps, %d connections/s, %d ms before and %d ms after the gap, timeout %d ms, backlog %d, UNIX_DELAY_CLOSE %d ms, a crash holds its last request %d ms\n",
	       RS_NR_SCENARIOS - 1, ngaps, cfg.rate, cfg.before_ms, cfg.after_ms,
	       cfg.timeout_ms, cfg.backlog, cfg.delay_ms, cfg.hold_ms);
	fflush(stdout);
	for (sc = 0; sc < RS_NR_SCENARIOS; sc++) {
		if (sc == RS_STEADY)
			continue;
		for (g = 0; g < ngaps; g++) {
			cfg.sc = sc;
			cfg.gap_ms = gaps[g];
			run_one(MATRIX, &cfg, sh, err, ++k, total);
		}
	}

	sweep_times(&cfg);
	printf("# eval: sweep: %d methods x %d rates x %d gaps x %d backlogs, %d ms before and %d ms after the gap, timeout %d ms\n",
	       nsweep, nrates, nsweep_gaps, nbacklogs, cfg.before_ms, cfg.after_ms,
	       cfg.timeout_ms);
	fflush(stdout);
	for (i = 0; i < nsweep; i++) {
		for (j = 0; j < nrates; j++) {
			for (g = 0; g < nsweep_gaps; g++) {
				for (b = 0; b < nbacklogs; b++) {
					cfg.sc = sweep[i];
					cfg.rate = rates[j];
					cfg.gap_ms = sweep_gaps[g];
					cfg.backlog = backlogs[b];
					cfg.somaxconn = backlogs[b] > 4096 ? backlogs[b] : 0;
					run_one(SWEEP, &cfg, sh, err, ++k, total);
				}
			}
		}
	}
	cfg.somaxconn = 0;

	for (sc = RS_PUDS_EXIT; sc <= RS_PUDS_CRASH_ADOPT; sc++)
		printf("# eval: connections %s %ld\n", rs_name(sc), served[sc]);
	rs_shared_free(sh);
	return tap_finish();
}
