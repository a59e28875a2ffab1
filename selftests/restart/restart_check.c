// SPDX-License-Identifier: GPL-2.0
/*
 * restart_check: the short form of make eval's comparison, run by make check.
 * Asserts outcomes (counts), never times:
 *
 *   - SO_REUSEPORT with tcp_migrate_req=1 but no overlap (the old listener
 *     closes before the new one binds) loses connections at a 500 ms gap;
 *   - UNIX_DELAY_CLOSE loses none, whether the old server exits or is
 *     SIGKILLed, and unix_diag shows the parked queue with its one fd.
 *
 * TAP output; exit status 0 only if every check passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "restart.h"
#include "selftest.h"

static void show(const struct rs_cfg *cfg, const struct rs_shared *sh,
		 const struct rs_result *r)
{
	tap_diag("%s gap=%dms: %d attempted, %d completed, %d refused, %d reset, %d timed out, %d errors; old accepted %d, new %d%s%s",
		 rs_scenario_name[cfg->sc], cfg->gap_ms, r->attempted, r->count[RS_OK],
		 r->count[RS_REFUSED], r->count[RS_RESET], r->count[RS_TIMEOUT],
		 r->count[RS_ERROR], sh->old_accepted, sh->new_accepted,
		 sh->error[0] ? "; error: " : "", sh->error);
}

int main(void)
{
	static const enum rs_scenario puds[] = { RS_PUDS_EXIT, RS_PUDS_KILL };
	struct rs_cfg cfg = {
		.gap_ms = 500, .rate = 100, .before_ms = 300, .after_ms = 700,
		.timeout_ms = 5000, .backlog = 1024, .delay_ms = 10000,
		.bpf_prog_fd = -1, .bpf_map_fd = -1,
	};
	struct rs_shared *sh = rs_shared_new();
	struct rs_result r;
	unsigned int i;
	int lost, in_hand;

	tap_plan(10);
	if (!sh)
		tap_bail("mmap: %s", strerror(errno));

	cfg.sc = RS_REUSEPORT_GAP;
	tap_result(!rs_run(&cfg, sh, &r), "%s: the run went as planned %s",
		   rs_scenario_name[cfg.sc], sh->error);
	show(&cfg, sh, &r);
	lost = r.attempted - r.count[RS_OK];
	tap_result(r.count[RS_OK] > 0 && lost > 0,
		   "%s: connections are lost in a %d ms gap (%d of %d)",
		   rs_scenario_name[cfg.sc], cfg.gap_ms, lost, r.attempted);

	for (i = 0; i < sizeof(puds) / sizeof(puds[0]); i++) {
		cfg.sc = puds[i];
		tap_result(!rs_run(&cfg, sh, &r), "%s: the run went as planned %s",
			   rs_scenario_name[cfg.sc], sh->error);
		show(&cfg, sh, &r);
		/*
		 * SIGKILLed at any moment, the old server may hold the one
		 * connection it has accepted and not yet answered (it answers
		 * each before the next accept()): that one dies with it, with
		 * any method.  Every connection still queued must complete.
		 */
		in_hand = cfg.sc == RS_PUDS_KILL ? 1 : 0;
		tap_result(r.attempted >= 100 && r.count[RS_OK] >= r.attempted - in_hand,
			   "%s: every connection of a %d ms gap completes but the %d the old "
			   "server may hold (%d of %d)", rs_scenario_name[cfg.sc], cfg.gap_ms,
			   in_hand, r.count[RS_OK], r.attempted);
		tap_result(sh->diag_parked == 1 && sh->diag_fds == 1,
			   "%s: unix_diag listed %d parked queue(s) holding %d fd(s) in the gap",
			   rs_scenario_name[cfg.sc], sh->diag_parked, sh->diag_fds);
		tap_result(r.kernel.dc_parked == 1 && r.kernel.dc_adopted == 1 && r.kernel.dc_expired == 0,
			   "%s: /proc/net/unix_delay_close counted %ld parked, %ld adopted, %ld expired",
			   rs_scenario_name[cfg.sc], r.kernel.dc_parked, r.kernel.dc_adopted,
			   r.kernel.dc_expired);
	}
	return tap_finish();
}
