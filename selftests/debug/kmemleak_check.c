// SPDX-License-Identifier: GPL-2.0
/*
 * kmemleak_check: the last program of `make check-debug`.  Asks kmemleak
 * for two scans a few seconds apart, as netdev's CI does (an object that
 * is only briefly unreferenced, such as an skb between two lists, is not
 * reported by the second scan), then fails if any object is reported, and
 * prints each report so that the run's log shows its allocation stack.
 *
 * A kernel without kmemleak fails: this program only runs in the debug
 * kernel, where not scanning would be a check that did not run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftest.h"

#define DEBUGFS "/sys/kernel/debug"
#define KMEMLEAK DEBUGFS "/kmemleak"
#define PAUSE_S 5

int main(void)
{
	int err, reports = 0;
	char line[512];
	FILE *f;

	tap_plan(2);
	if (access(KMEMLEAK, F_OK) && mount("debugfs", DEBUGFS, "debugfs", 0, NULL) &&
	    errno != EBUSY) {
		tap_result(false, "mount debugfs on %s: %s", DEBUGFS, strerror(errno));
		tap_result(false, "no leak reported # not scanned");
		return tap_finish();
	}
	if (access(KMEMLEAK, R_OK | W_OK)) {
		tap_result(false, "%s: %s (a kernel without CONFIG_DEBUG_KMEMLEAK, or kmemleak=off)",
			   KMEMLEAK, strerror(errno));
		tap_result(false, "no leak reported # not scanned");
		return tap_finish();
	}

	err = write_file(KMEMLEAK, "scan");
	if (!err) {
		sleep(PAUSE_S);
		err = write_file(KMEMLEAK, "scan");
	}
	tap_result(!err, "two kmemleak scans, %d s apart%s%s", PAUSE_S,
		   err ? ": " : "", err ? strerror(-err) : "");

	f = fopen(KMEMLEAK, "re");
	if (!f) {
		tap_result(false, "read %s: %s", KMEMLEAK, strerror(errno));
		return tap_finish();
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "unreferenced object", 19))
			reports++;
		/* The first reports whole; the rest by their first line. */
		if (reports <= 5 || !strncmp(line, "unreferenced object", 19))
			printf("# kmemleak: %s", line);
	}
	fclose(f);
	printf("# kmemleak: unreferenced %d\n", reports);
	tap_result(!reports, "no leak reported (%d objects)", reports);
	return tap_finish();
}
