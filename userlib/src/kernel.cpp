// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/kernel.hpp"

#include <sys/socket.h>
#include <linux/un_delay_close.h>

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <string>

#include "puds/fd.hpp"

namespace puds {

Status check_kernel_feature()
{
	Fd s = PUDS_TRY(Fd::socket(AF_UNIX, SOCK_DGRAM));
	int val = 0;
	socklen_t len = sizeof(val);

	if (::getsockopt(s.get(), SOL_UNIX, UNIX_DELAY_CLOSE, &val, &len) == 0)
		return Ok{};

	int err = errno;
	if (err == EOPNOTSUPP || err == ENOPROTOOPT)
		return Error(std::errc::operation_not_supported,
			     "this kernel has no UNIX_DELAY_CLOSE (getsockopt(SOL_UNIX, "
			     "UNIX_DELAY_CLOSE): " + std::error_code(err, std::generic_category()).message() +
			     "): parking fds across a restart needs the UNIX_DELAY_CLOSE socket "
			     "option of AF_UNIX, which only Linux with the puds patch series "
			     "applied has; `puds check` tells whether the running kernel has it");
	return Error::from_errno("getsockopt(SOL_UNIX, UNIX_DELAY_CLOSE)", err);
}

Result<int> delay_close_max_ms(const char *file)
{
	Fd f = Fd::adopt(::open(file, O_RDONLY | O_CLOEXEC));
	char buf[32];

	if (!f)
		return Error::from_errno(std::string("open(") + file + ")");
	ssize_t n = ::read(f.get(), buf, sizeof(buf) - 1);
	if (n < 0)
		return Error::from_errno(std::string("read(") + file + ")");
	int v = -1;
	auto [end, ec] = std::from_chars(buf, buf + n, v);
	if (ec != std::errc() || v < 0 || (end != buf + n && *end != '\n'))
		return Error::invalid(std::string(file) + " holds \"" + std::string(buf, n) +
				      "\", not a number of milliseconds");
	return v;
}

Result<DelayChoice> choose_delay(int requested_ms, int max_ms)
{
	if (max_ms <= 0)
		return Error::invalid("net.unix.delay_close_max_ms is 0: parking is off in this "
				      "network namespace (nothing parks, nothing can be handed over); "
				      "set it to the longest delay to allow, e.g. sysctl "
				      "net.unix.delay_close_max_ms=60000");
	if (requested_ms <= max_ms)
		return DelayChoice{requested_ms, {}};
	return DelayChoice{max_ms, "warning: a delay of " + std::to_string(requested_ms) +
					   " ms is above net.unix.delay_close_max_ms (" +
					   std::to_string(max_ms) + " ms): parking for " +
					   std::to_string(max_ms) + " ms instead; raise the sysctl "
					   "for a longer delay"};
}

} // namespace puds
