// SPDX-License-Identifier: LGPL-2.1-or-later
// What the kernel says about UNIX_DELAY_CLOSE sockets and parked queues of
// this network namespace (sock_diag, UDIAG_SHOW_DELAY_CLOSE), read with
// libmnl.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "puds/error.hpp"

namespace puds {

struct DelayCloseEntry {
	enum class State { armed, parking, parked, adopting } state;
	std::string path;
	std::uint32_t ino = 0;		// of the socket (the released one, if parked)
	std::uint32_t uid = 0;
	std::uint32_t delay_ms = 0;
	std::uint32_t remaining_ms = 0;	// parked: before expiry
	std::uint32_t queued = 0;	// datagrams
	std::uint32_t fds = 0;

	const char *state_name() const;
};

// Every socket with UNIX_DELAY_CLOSE set and every parked queue of this
// netns.  operation_not_supported on a kernel without the feature.
Result<std::vector<DelayCloseEntry>> list_delay_close();

} // namespace puds
