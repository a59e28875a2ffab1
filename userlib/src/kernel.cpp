// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/kernel.hpp"

#include <sys/socket.h>
#include <linux/un_delay_close.h>

#include <string>

#include "puds/fd.hpp"

namespace puds {

Status check_kernel_feature()
{
	Fd s = Fd::adopt(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	int val = 0;
	socklen_t len = sizeof(val);

	if (!s)
		return Error::from_errno("socket(AF_UNIX, SOCK_DGRAM)");
	if (::getsockopt(s.get(), SOL_UNIX, UNIX_DELAY_CLOSE, &val, &len) == 0)
		return Ok{};

	int err = errno;
	if (err == EOPNOTSUPP || err == ENOPROTOOPT)
		return Error::invalid(
			"this kernel has no UNIX_DELAY_CLOSE (getsockopt(SOL_UNIX, "
			"UNIX_DELAY_CLOSE): " + std::error_code(err, std::generic_category()).message() +
			"): parking fds across a restart needs the UNIX_DELAY_CLOSE socket "
			"option of AF_UNIX, which only Linux with the puds patch series "
			"applied has; `puds check` tells whether the running kernel has it",
			std::errc::operation_not_supported);
	return Error::from_errno("getsockopt(SOL_UNIX, UNIX_DELAY_CLOSE)", err);
}

} // namespace puds
