// SPDX-License-Identifier: GPL-2.0
/*
 * eval: make eval's guest program.  Runs every restart scenario of
 * selftests/restart/restart.h at every gap, one after the other, and prints
 * for each run a progress line, a TAP line (the run itself went as planned)
 * and one "PUDS-EVAL {json}" line with everything measured, which
 * scripts/eval_report.py turns into build/eval/report.md.
 *
 * The kernel command line may carry puds.eval=quick (gaps 0 and 500 ms only)
 * and puds.eval.rate=N (connections per second, default 100).
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

static void print_json(const struct rs_cfg *cfg, const struct rs_shared *sh,
		       const struct rs_result *r, int ok)
{
	int i;

	printf("PUDS-EVAL {\"scenario\":\"%s\",\"gap_ms\":%d,\"rate\":%d,\"before_ms\":%d,"
	       "\"after_ms\":%d,\"timeout_ms\":%d,\"backlog\":%d,\"delay_ms\":%d,\"ok\":%s,",
	       rs_scenario_name[cfg->sc], cfg->gap_ms, cfg->rate, cfg->before_ms,
	       cfg->after_ms, cfg->timeout_ms, cfg->backlog, cfg->delay_ms,
	       ok ? "true" : "false");
	printf("\"error\":");
	json_string(sh->error);
	printf(",\"attempted\":%d,\"outcomes\":{", r->attempted);
	for (i = 0; i < RS_NR_OUTCOMES; i++)
		printf("\"%s\":%d%s", rs_outcome_name[i], r->count[i],
		       i + 1 < RS_NR_OUTCOMES ? "," : "");
	printf("},\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"max_ms\":%.1f,",
	       ms(r->p50_us), ms(r->p99_us), ms(r->max_us));
	printf("\"events\":{");
	json_event("old_listen", sh->old_listen_us, sh->t0_us, false);
	json_event("restart", sh->restart_us, sh->t0_us, false);
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
	for (i = 0; i < sh->nconns; i++)
		printf("[%.1f,%.1f,%d]%s", ms(sh->conns[i].start_us), ms(sh->conns[i].latency_us),
		       sh->conns[i].outcome, i + 1 < sh->nconns ? "," : "");
	printf("]}\n");
}

int main(void)
{
	struct rs_cfg cfg = {
		.rate = 100, .before_ms = 500, .after_ms = 1000, .timeout_ms = 5000,
		.backlog = 4096, .delay_ms = 10000,
	};
	struct rs_shared *sh = rs_shared_new();
	const int *gaps = gaps_full;
	int ngaps = 4, total, n = 0, g;
	struct rs_result r;
	char err[256] = "", mode[16];
	enum rs_scenario sc;

	/* puds.eval=quick: gaps 0 and 500 ms only; puds.eval.rate=N connections/s. */
	if (cmdline_value("puds.eval", mode, sizeof(mode)) && !strcmp(mode, "quick")) {
		gaps = gaps_quick;
		ngaps = 2;
	}
	cfg.rate = cmdline_long("puds.eval.rate", cfg.rate);
	total = RS_NR_SCENARIOS * ngaps;
	tap_plan(total);
	if (!sh)
		tap_bail("mmap: %s", strerror(errno));
	if (load_bpf(&cfg.bpf_prog_fd, &cfg.bpf_map_fd, err, sizeof(err)))
		printf("# BPF scenario cannot run: %s\n", err);
	printf("# eval: %d scenarios x %d gaps, %d connections/s, %d ms before and %d ms after the gap, timeout %d ms, backlog %d, UNIX_DELAY_CLOSE %d ms\n",
	       RS_NR_SCENARIOS, ngaps, cfg.rate, cfg.before_ms, cfg.after_ms,
	       cfg.timeout_ms, cfg.backlog, cfg.delay_ms);
	fflush(stdout);

	for (sc = 0; sc < RS_NR_SCENARIOS; sc++) {
		for (g = 0; g < ngaps; g++) {
			int ok;

			cfg.sc = sc;
			cfg.gap_ms = gaps[g];
			if (sc == RS_BPF_OVERLAP && err[0]) {
				memset(sh, 0, offsetof(struct rs_shared, conns));
				snprintf(sh->error, sizeof(sh->error), "%s", err);
				memset(&r, 0, sizeof(r));
				ok = 0;
			} else {
				ok = !rs_run(&cfg, sh, &r);
			}
			printf("# [%d/%d] %-20s gap %4d ms: %3d attempted, %3d completed, %3d refused, %3d reset, %3d timed out; p99 %.0f ms%s%s\n",
			       ++n, total, rs_scenario_name[sc], cfg.gap_ms, r.attempted,
			       r.count[RS_OK], r.count[RS_REFUSED], r.count[RS_RESET],
			       r.count[RS_TIMEOUT], ms(r.p99_us),
			       sh->error[0] ? "; error: " : "", sh->error);
			print_json(&cfg, sh, &r, ok);
			tap_result(ok, "%s gap %d ms", rs_scenario_name[sc], cfg.gap_ms);
		}
	}
	return tap_finish();
}
