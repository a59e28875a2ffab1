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

#define DEBUGFS "/sys/kernel/debug"
#define KMEMLEAK DEBUGFS "/kmemleak"
#define PAUSE_S 5

static int write_cmd(const char *cmd)
{
	int fd = open(KMEMLEAK, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, cmd, strlen(cmd)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int main(void)
{
	int err, reports = 0;
	char line[512];
	FILE *f;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..2\n");
	if (access(KMEMLEAK, F_OK) && mount("debugfs", DEBUGFS, "debugfs", 0, NULL) &&
	    errno != EBUSY) {
		printf("not ok 1 mount debugfs on %s: %s\n", DEBUGFS, strerror(errno));
		printf("not ok 2 no leak reported # not scanned\n");
		return 1;
	}
	if (access(KMEMLEAK, R_OK | W_OK)) {
		printf("not ok 1 %s: %s (a kernel without CONFIG_DEBUG_KMEMLEAK, or kmemleak=off)\n",
		       KMEMLEAK, strerror(errno));
		printf("not ok 2 no leak reported # not scanned\n");
		return 1;
	}

	err = write_cmd("scan");
	if (!err) {
		sleep(PAUSE_S);
		err = write_cmd("scan");
	}
	printf("%s 1 two kmemleak scans, %d s apart%s%s\n", err ? "not ok" : "ok", PAUSE_S,
	       err ? ": " : "", err ? strerror(-err) : "");

	f = fopen(KMEMLEAK, "re");
	if (!f) {
		printf("not ok 2 read %s: %s\n", KMEMLEAK, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "unreferenced object", 19))
			reports++;
		/* The first reports whole; the rest by their first line. */
		if (reports <= 5 || !strncmp(line, "unreferenced object", 19))
			printf("# kmemleak: %s", line);
	}
	fclose(f);
	printf("# kmemleak: %d unreferenced objects\n", reports);
	printf("%s 2 no leak reported (%d objects)\n", reports ? "not ok" : "ok", reports);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n",
	       !err + !reports, !!err + !!reports);
	return err || reports;
}
