// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <span>
#include <stdexcept>
#include <utility>

#include "puds/fd.hpp"

namespace test {

// Open fds of this process: the leak baseline of a test.
inline int open_fds()
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");

	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

inline std::pair<puds::Fd, puds::Fd> socketpair(int type)
{
	int sv[2];

	if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv))
		throw std::runtime_error("socketpair");
	return {puds::Fd::adopt(sv[0]), puds::Fd::adopt(sv[1])};
}

inline std::pair<puds::Fd, puds::Fd> pipe()
{
	int p[2];

	if (::pipe2(p, O_CLOEXEC))
		throw std::runtime_error("pipe");
	return {puds::Fd::adopt(p[0]), puds::Fd::adopt(p[1])};
}

// Do @a and @b refer to the same open file?
inline bool same_file(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

inline bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

inline std::span<const std::byte> bytes(const char *s)
{
	return {reinterpret_cast<const std::byte *>(s), std::strlen(s)};
}

} // namespace test
