// SPDX-License-Identifier: GPL-2.0
/* Clocks, sleeps, one-line files and the knobs of /proc/cmdline. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "selftest.h"

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t now_us(void)
{
	return now_ns() / 1000;
}

long long now_ms(void)
{
	return now_ns() / 1000000;
}

long long fastest(const long long *t, int n)
{
	long long min = t[0];
	int i;

	for (i = 1; i < n; i++)
		if (t[i] < min)
			min = t[i];
	return min;
}

void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void sleep_until_us(int64_t t_us)
{
	int64_t d;

	while ((d = t_us - now_us()) > 0) {
		struct timespec ts = { d / 1000000, (d % 1000000) * 1000 };

		nanosleep(&ts, NULL);
	}
}

int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

long read_long(const char *path)
{
	char buf[64] = {};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atol(buf) : -1;
}

const char *cmdline_value(const char *key, char *buf, size_t len)
{
	char line[4096] = {}, *word, *save;
	size_t klen = strlen(key);
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	for (word = strtok_r(line, " \t\n", &save); word; word = strtok_r(NULL, " \t\n", &save)) {
		if (!strncmp(word, key, klen) && word[klen] == '=') {
			snprintf(buf, len, "%s", word + klen + 1);
			return buf;
		}
	}
	return NULL;
}

long cmdline_long(const char *key, long dflt)
{
	char buf[64];

	return cmdline_value(key, buf, sizeof(buf)) ? atol(buf) : dflt;
}
