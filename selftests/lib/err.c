// SPDX-License-Identifier: GPL-2.0
/* The error text of the last failed helper: names the call and errno. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "selftest.h"

char g_err[256];

void seterr(const char *call)
{
	int e = errno;

	snprintf(g_err, sizeof(g_err), "%s: %s (errno %d)", call, strerror(e), e);
	errno = e;
}

void seterrmsg(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g_err, sizeof(g_err), fmt, ap);
	va_end(ap);
	errno = e;
}
