// SPDX-License-Identifier: GPL-2.0
/*
 * TAP version 13 in the format of kselftest.h (tools/testing/selftests of
 * the kernel tree): "ok N text", "not ok N text", "ok N # SKIP text",
 * "# Totals: pass:P fail:F xfail:0 xpass:0 skip:S error:0", exit status
 * KSFT_PASS, KSFT_FAIL or KSFT_SKIP.  Our own copy rather than kselftest.h
 * itself: that one keeps its counters in static variables of each file
 * that includes it, and a program here may have several files.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "selftest.h"

static unsigned int plan, passed, failed, skipped;

void tap_plan(unsigned int n)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	plan = n;
	printf("TAP version 13\n1..%u\n", n);
}

static void line(const char *head, const char *fmt, va_list ap)
{
	printf("%s %u ", head, passed + failed + skipped);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

void tap_result(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		passed++;
	else
		failed++;
	va_start(ap, fmt);
	line(ok ? "ok" : "not ok", fmt, ap);
	va_end(ap);
}

void tap_skip(const char *fmt, ...)
{
	va_list ap;

	skipped++;
	printf("ok %u # SKIP ", passed + failed + skipped);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void tap_bail(const char *fmt, ...)
{
	va_list ap;

	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(KSFT_FAIL);
}

static void on_alarm(int sig)
{
	static const char msg[] = "Bail out! time limit reached\n";
	ssize_t n;

	(void)sig;
	n = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(KSFT_FAIL);
}

void tap_time_limit(unsigned int seconds)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds);
}

unsigned int tap_count(void)
{
	return passed + failed + skipped;
}

unsigned int tap_failures(void)
{
	return failed;
}

int tap_finish(void)
{
	bool met = plan == passed + failed + skipped;

	if (!met)
		printf("# Planned tests != run tests (%u != %u)\n", plan,
		       passed + failed + skipped);
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
	       passed, failed, skipped);
	fflush(stdout);
	if (failed || !met)
		return KSFT_FAIL;
	return skipped && !passed ? KSFT_SKIP : KSFT_PASS;
}
