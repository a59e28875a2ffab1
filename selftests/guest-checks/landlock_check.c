// SPDX-License-Identifier: GPL-2.0
/*
 * landlock_check - the guest kernel has Landlock, active at boot
 * (qemu/guest.config: CONFIG_SECURITY_LANDLOCK=y, CONFIG_LSM="landlock").
 *
 *   1  landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
 *      returns an ABI version >= 1 (EOPNOTSUPP: built in but not enabled
 *      at boot; ENOSYS: not built in).
 *   2  a ruleset that handles reading files, enforced on a child, denies
 *      the child opening a file it could open before.
 *
 * TAP version 13 output.  Runs as any user, in a writable directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "selftest.h"

int main(void)
{
	struct landlock_ruleset_attr attr = {
		.handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE,
	};
	int abi, fd, status;
	pid_t pid;

	tap_plan(2);
	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		tap_diag("landlock_create_ruleset(VERSION): %s", strerror(errno));
	else
		tap_diag("Landlock ABI version %d", abi);
	tap_result(abi >= 1, "landlock: active, reports its ABI version");

	fd = open("landlock_check.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
	pid = fork();
	if (pid == 0) {
		int rs = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);

		if (rs < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_landlock_restrict_self, rs, 0))
			_exit(2);
		fd = open("landlock_check.txt", O_RDONLY);
		_exit(fd < 0 && errno == EACCES ? 0 : 1);
	}
	status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	tap_result(fd >= 0 && pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "landlock: a restricted child cannot read a file");
	return tap_finish();
}
