// SPDX-License-Identifier: LGPL-2.1-or-later
// What the guest test programs share: loopback up in a fresh netns, and a
// TCP client of 127.0.0.1.
#pragma once

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace guest {

inline void lo_up()
{
	ifreq ifr{};
	std::strcpy(ifr.ifr_name, "lo");
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
}

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

} // namespace guest
