// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/fd.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace puds {

namespace {

std::string domain_name(int domain)
{
	switch (domain) {
	case AF_UNIX: return "AF_UNIX";
	case AF_INET: return "AF_INET";
	case AF_INET6: return "AF_INET6";
	case AF_NETLINK: return "AF_NETLINK";
	default: return std::to_string(domain);
	}
}

std::string type_name(int type)
{
	switch (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
	case SOCK_STREAM: return "SOCK_STREAM";
	case SOCK_DGRAM: return "SOCK_DGRAM";
	case SOCK_SEQPACKET: return "SOCK_SEQPACKET";
	default: return std::to_string(type);
	}
}

} // namespace

Result<Fd> Fd::socket(int domain, int type, int protocol)
{
	int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);

	if (fd < 0)
		return Error::from_errno("socket(" + domain_name(domain) + ", " + type_name(type) +
					 (protocol ? ", " + std::to_string(protocol) : "") + ")");
	return Fd(fd);
}

Result<Fd> Fd::dup() const
{
	int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return Error::from_errno("fcntl(fd " + std::to_string(fd_) + ", F_DUPFD_CLOEXEC)");
	return Fd::adopt(fd);
}

void Fd::close_fd(int fd) noexcept
{
	::close(fd);
}

Status Fd::close()
{
	int fd = release();

	if (fd >= 0 && ::close(fd) && errno != EINTR)
		return Error::from_errno("close(fd " + std::to_string(fd) + ")");
	return Ok{};
}

} // namespace puds
