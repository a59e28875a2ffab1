// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace puds {

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
