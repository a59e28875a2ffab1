// SPDX-License-Identifier: GPL-2.0
/*
 * restart_check: the short form of make eval's comparison, run by make check.
 * Asserts outcomes (counts), never times, at a 500 ms gap:
 *
 *   - without a listener through the gap, connections are lost beyond the
 *     one the old server held: SO_REUSEPORT with tcp_migrate_req=1 when the
 *     old listener closes (reuseport-gap) or its server is SIGKILLed
 *     (reuseport-crash) before the new one binds, and an SCM_RIGHTS
 *     takeover whose old server is SIGKILLed before it handed the listener
 *     over (scm-rights-crash: the successor binds a listener of its own);
 *   - UNIX_DELAY_CLOSE loses none beyond it, whether the old server exits,
 *     is SIGKILLed, or its successor is SIGKILLed too while adopting
 *     (puds-crash-adopt); unix_diag shows the parked queue with its one fd
 *     in the gap and /proc/net/unix_delay_close counts the parks and
 *     adoptions.
 *
 * A SIGKILLed server is killed 100 ms after it accepted a connection it
 * holds unanswered (restart.c): in_hand is 1, that connection dies with it
 * whatever the method, and the queue that filled meanwhile is reset unless
 * the listener is parked.  TAP output; exit status 0 only if every check passed.
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
	tap_diag("%s gap=%dms: %d attempted, %d completed, %d refused, %d reset, %d timed out, %d errors; in hand %d; old accepted %d, new %d%s%s",
		 rs_name(cfg->sc), cfg->gap_ms, r->attempted, r->count[RS_OK],
		 r->count[RS_REFUSED], r->count[RS_RESET], r->count[RS_TIMEOUT],
		 r->count[RS_ERROR], sh->in_hand, sh->old_accepted, sh->new_accepted,
		 sh->error[0] ? "; error: " : "", sh->error);
}

/* Run @cfg, say so; 0 if the run went as planned.  The in_hand a crash must have. */
static int run(const struct rs_cfg *cfg, struct rs_shared *sh, struct rs_result *r)
{
	int ret = rs_run(cfg, sh, r);

	tap_result(!ret && sh->in_hand == (rs_crash(cfg->sc) ? 1 : 0),
		   "%s: the run went as planned, killed holding %d connection(s) %s",
		   rs_name(cfg->sc), sh->in_hand, sh->error);
	show(cfg, sh, r);
	return ret;
}

int main(void)
{
	static const enum rs_scenario losing[] = {
		RS_REUSEPORT_GAP, RS_REUSEPORT_CRASH, RS_SCM_CRASH,
	};
	static const enum rs_scenario puds[] = {
		RS_PUDS_EXIT, RS_PUDS_KILL, RS_PUDS_CRASH_ADOPT,
	};
	struct rs_cfg cfg = {
		.gap_ms = 500, .rate = 100, .before_ms = 300, .after_ms = 700,
		.timeout_ms = 5000, .backlog = 1024, .delay_ms = 10000, .hold_ms = 100,
		.bpf_prog_fd = -1, .bpf_map_fd = -1,
	};
	struct rs_shared *sh;
	struct rs_result r;
	unsigned int i;
	int lost;

	tap_plan(2 * 3 + 2 + 4 * 3);
	sh = rs_shared_new(rs_conns(&cfg));
	if (!sh)
		tap_bail("mmap: %s", strerror(errno));

	for (i = 0; i < sizeof(losing) / sizeof(losing[0]); i++) {
		cfg.sc = losing[i];
		run(&cfg, sh, &r);
		lost = r.attempted - r.count[RS_OK] - sh->in_hand;
		tap_result(r.count[RS_OK] > 0 && lost > 0,
			   "%s: connections are lost in a %d ms gap beyond the %d in hand (%d of %d)",
			   rs_name(cfg.sc), cfg.gap_ms, sh->in_hand, lost, r.attempted);
		if (!rs_crash(cfg.sc))
			continue;
		/*
		 * The queue that filled while the server held its last request
		 * (hold_ms) dies with the listener: reset, and a reuseport
		 * group has nobody to migrate it to.
		 */
		tap_result(r.count[RS_RESET] > sh->in_hand &&
			   (cfg.sc != RS_REUSEPORT_CRASH || r.kernel.migrate_fail > 0),
			   "%s: the queue is reset at the kill (%d reset, %d in hand, TCPMigrateReqFailure %ld)",
			   rs_name(cfg.sc), r.count[RS_RESET], sh->in_hand, r.kernel.migrate_fail);
	}

	for (i = 0; i < sizeof(puds) / sizeof(puds[0]); i++) {
		long parks;

		cfg.sc = puds[i];
		/*
		 * The crash-adopt successor adopted the queue and, killed,
		 * parked it again: two parks, two adoptions.
		 */
		parks = cfg.sc == RS_PUDS_CRASH_ADOPT ? 2 : 1;
		run(&cfg, sh, &r);
		/* Every connection still queued must complete. */
		tap_result(r.attempted >= 100 && r.count[RS_OK] == r.attempted - sh->in_hand,
			   "%s: every connection of a %d ms gap completes but the %d in hand (%d of %d)",
			   rs_name(cfg.sc), cfg.gap_ms, sh->in_hand, r.count[RS_OK], r.attempted);
		tap_result(sh->diag_parked == 1 && sh->diag_fds == 1,
			   "%s: unix_diag listed %d parked queue(s) holding %d fd(s) in the gap",
			   rs_name(cfg.sc), sh->diag_parked, sh->diag_fds);
		tap_result(r.kernel.dc_parked == parks && r.kernel.dc_adopted == parks &&
			   r.kernel.dc_expired == 0,
			   "%s: /proc/net/unix_delay_close counted %ld parked, %ld adopted, %ld expired (want %ld, %ld, 0)",
			   rs_name(cfg.sc), r.kernel.dc_parked, r.kernel.dc_adopted,
			   r.kernel.dc_expired, parks, parks);
	}
	rs_shared_free(sh);
	return tap_finish();
}
