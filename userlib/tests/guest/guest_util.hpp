// SPDX-License-Identifier: LGPL-2.1-or-later
// What the guest test programs share besides selftests/lib (TAP, loopback
// up: selftest.h): a TCP client of 127.0.0.1.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "selftest.h"

namespace guest {

// connect() to 127.0.0.1:@port and send @request if any: the fd, or -1.
inline int tcp_connect(int port, const char *request = nullptr)
{
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) ||
	    (request && write(fd, request, std::strlen(request)) !=
				static_cast<ssize_t>(std::strlen(request)))) {
		close(fd);
		return -1;
	}
	return fd;
}

// A server started as @pid is ready when ready() holds (polled every
// @step_us, 5000 times): @pid, or -1 if it died or never got ready.
template <typename Ready> pid_t wait_ready(pid_t pid, int step_us, Ready ready)
{
	for (int i = 0; i < 5000; i++) {
		if (ready())
			return pid;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1;
		usleep(step_us);
	}
	return -1;
}

} // namespace guest
