// SPDX-License-Identifier: LGPL-2.1-or-later
// What the guest test programs share besides selftests/lib (TAP, loopback
// up: selftest.h): a TCP client of 127.0.0.1.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

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

// The whole content of @path ("" if it cannot be read).
inline std::string read_file(const std::string &path)
{
	std::string text;
	if (std::FILE *f = std::fopen(path.c_str(), "r")) {
		char buf[4096];
		std::size_t n;
		while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
			text.append(buf, n);
		std::fclose(f);
	}
	return text;
}

// An HTTP/1.0 GET of /index.html sent to 127.0.0.1:@port: the fd, or -1.
inline int http_get(int port)
{
	return tcp_connect(port, "GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n");
}

// Did @fd get "200 OK" and a page containing @body before the reply ended
// or @timeout_ms passed without data?  Closes @fd.
inline bool http_ok(int fd, const char *body, int timeout_ms)
{
	std::string got;
	char buf[512];
	pollfd p{fd, POLLIN, 0};
	while (poll(&p, 1, timeout_ms) == 1) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		got.append(buf, n);
	}
	close(fd);
	return got.find(" 200 OK") != std::string::npos && got.find(body) != std::string::npos;
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
