// SPDX-License-Identifier: LGPL-2.1-or-later
// What the running kernel offers.
#pragma once

#include <string>

#include "puds/error.hpp"

namespace puds {

// Ok if the kernel has the UNIX_DELAY_CLOSE socket option (Linux with the
// puds patch series); otherwise one clear error, code
// operation_not_supported, that says so.  A kernel
// without it fails getsockopt(SOL_UNIX, ...) with EOPNOTSUPP on every
// AF_UNIX socket (ENOPROTOOPT from a later kernel that knows SOL_UNIX but
// not the option); a kernel with it returns 0 on a datagram socket.
Status check_kernel_feature();

// Where this network namespace's net.unix.delay_close_max_ms is read: the
// longest UNIX_DELAY_CLOSE setsockopt() accepts (EINVAL above it; 0: parking
// is off).
inline constexpr const char kDelayCloseMaxMsFile[] = "/proc/sys/net/unix/delay_close_max_ms";

// net.unix.delay_close_max_ms as @file says it.  An error if it cannot be
// read (no /proc, a kernel without the feature) or does not hold a number.
Result<int> delay_close_max_ms(const char *file = kDelayCloseMaxMsFile);

// The delay to arm with when @requested_ms was asked for and the kernel
// takes at most @max_ms: @requested_ms, or @max_ms with a warning that
// names the sysctl when @requested_ms is above it.  Decided before the
// socket is armed, so before anything is adopted: a delay the kernel would
// refuse must never be found out after an adoption.  An error if @max_ms
// is 0 (parking is off: nothing can be handed over).
struct DelayChoice {
	int delay_ms;
	std::string warning;	// "" unless clamped
};
Result<DelayChoice> choose_delay(int requested_ms, int max_ms);

} // namespace puds
