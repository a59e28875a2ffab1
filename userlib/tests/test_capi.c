/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * puds.h from C (compiled as C, linked with libpuds): the error paths on a
 * kernel without UNIX_DELAY_CLOSE, the parcel calls, the fallback of
 * puds_handoff_start().  Prints TAP; exits 1 on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "puds/puds.h"

static int failures, count;

static void check(int ok, const char *what)
{
	count++;
	if (!ok)
		failures++;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
	if (!ok)
		printf("# puds_strerror: %s\n", puds_strerror());
}

static int warnings;
static char first_warning[512];

static void on_warn(const char *m, void *arg)
{
	(void)arg;
	if (!warnings++)
		snprintf(first_warning, sizeof(first_warning), "%s", m);
}

int main(void)
{
	const char *path = "/tmp/puds-test-capi-handoff";
	struct puds_rendezvous *rv = (struct puds_rendezvous *)1;
	struct puds_parcel *p = NULL;
	struct puds_handoff *h = NULL;
	struct stat st;
	int r, fd, nfd;

	check(strcmp(puds_strerror(), "") == 0, "no error yet");
	if (puds_check_kernel() == 0) {
		printf("1..0 # SKIP this kernel has UNIX_DELAY_CLOSE: see the guest tests\n");
		return 0;
	}
	check(puds_check_kernel() == -EOPNOTSUPP, "puds_check_kernel: -EOPNOTSUPP");
	check(strstr(puds_strerror(), "this kernel has no UNIX_DELAY_CLOSE") == puds_strerror(),
	      "puds_strerror says why");

	r = puds_open(path, 1000, &rv);
	check(r == -EOPNOTSUPP, "puds_open: -EOPNOTSUPP");
	check(rv == NULL, "puds_open: *out NULL on failure");
	check(lstat(path, &st) == -1, "puds_open: nothing created");
	check(puds_open(NULL, 1000, &rv) == -EINVAL, "puds_open(NULL): -EINVAL");
	check(strstr(puds_strerror(), "NULL") != NULL, "puds_strerror names the NULL");
	check(puds_reclaim(NULL, &p) == -EINVAL, "puds_reclaim(NULL): -EINVAL");
	check(puds_park(NULL, NULL) == -EINVAL, "puds_park(NULL): -EINVAL");
	check(puds_set_delay(NULL, 0) == -EINVAL, "puds_set_delay(NULL): -EINVAL");
	check(puds_retire(NULL) == -EINVAL, "puds_retire(NULL): -EINVAL");
	puds_close(NULL);
	check(puds_adopted(NULL) == 0, "puds_adopted(NULL): 0");

	/* A parcel, by hand. */
	check(puds_parcel_new(&p) == 0 && p, "puds_parcel_new");
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	check(puds_parcel_add(p, "null", fd) == 0, "puds_parcel_add");
	check(puds_parcel_add(p, "a:b", fd) == -EINVAL, "puds_parcel_add: a bad name is -EINVAL");
	check(puds_parcel_add(p, "bad", -1) == -EBADF, "puds_parcel_add: a bad fd is -EBADF");
	check(puds_parcel_count(p) == 1, "one fd in the parcel");
	check(puds_parcel_set_state(p, "abc", 3) == 0, "puds_parcel_set_state");
	{
		size_t len = 0;
		const void *s = puds_parcel_state(p, &len);
		check(len == 3 && memcmp(s, "abc", 3) == 0, "puds_parcel_state");
	}
	nfd = puds_take(p, "null");
	check(nfd >= 0 && nfd != fd, "puds_take: a new fd (the parcel's dup)");
	check(puds_take(p, "null") == -ENOENT, "puds_take again: -ENOENT");
	check(puds_parcel_count(p) == 0, "the parcel is empty");
	close(nfd);
	close(fd);

	/* Listeners: fresh, then the parcel's; address changes. */
	fd = puds_take_listener(p, "echo", "127.0.0.1:0", PUDS_NONBLOCK);
	check(fd >= 0, "puds_take_listener: bound afresh");
	check(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK), "PUDS_NONBLOCK set");
	check(puds_take_listener(p, "echo", "nowhere", 0) == -EINVAL, "a bad address: -EINVAL");
	check(puds_take_listener(p, "echo", "127.0.0.1:0", 0x100) == -EINVAL, "unknown flags: -EINVAL");
	check(puds_parcel_add(p, "echo", fd) == 0, "the listener into the parcel");
	check(puds_take_listener(p, "echo", "127.0.0.2:1", 0) == -EINVAL,
	      "bound elsewhere, without PUDS_REBIND: -EINVAL");
	check(puds_parcel_count(p) == 1, "... and left in the parcel");
	nfd = puds_take_listener(p, "echo", "127.0.0.1:0", PUDS_REBIND);
	check(nfd >= 0 && puds_parcel_count(p) == 0, "PUDS_REBIND: dropped and bound afresh");
	close(nfd);
	close(fd);
	puds_parcel_free(p);
	puds_parcel_free(NULL);

	/* The one-call start: the fallback, then Fallback::fail. */
	{
		struct puds_listen l[] = {{"echo", "127.0.0.1:0"}};
		struct puds_handoff_options o = PUDS_HANDOFF_OPTIONS_INIT;

		o.delay_ms = 5000;
		o.warn = on_warn;
		check(puds_handoff_start(path, l, 1, &o, &h) == 0 && h, "puds_handoff_start: the fallback");
		check(warnings == 1 && strstr(first_warning, "no handoff") != NULL, "one warning: no handoff");
		check(puds_handoff_handing_off(h) == 0, "no rendezvous");
		check(puds_handoff_adopted(h) == 0, "nothing adopted");
		fd = puds_handoff_listener(h, "echo");
		check(fd >= 0, "puds_handoff_listener");
		check(puds_handoff_listener(h, "nope") == -ENOENT, "an unknown name: -ENOENT");
		check(puds_handoff_retire(h) == 0, "puds_handoff_retire");
		check(fcntl(fd, F_GETFD) == -1, "the listener is closed");
		check(lstat(path, &st) == -1, "no rendezvous created");

		o.fallback_fail = 1;
		h = (struct puds_handoff *)1;
		check(puds_handoff_start(path, l, 1, &o, &h) == -EOPNOTSUPP && !h,
		      "fallback_fail: -EOPNOTSUPP");
		o.fallback_fail = 0;
		o.delay_ms = 0;
		check(puds_handoff_start(path, l, 1, &o, &h) == -EINVAL, "a delay of 0: -EINVAL");
		check(strstr(puds_strerror(), "delay_ms 0") != NULL, "... and says so");
		check(puds_handoff_start(path, NULL, 1, &o, &h) == -EINVAL, "NULL listeners: -EINVAL");
	}

	printf("1..%d\n", count);
	return failures ? 1 : 0;
}
