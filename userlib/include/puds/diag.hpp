// SPDX-License-Identifier: LGPL-2.1-or-later
// What the kernel says about UNIX_DELAY_CLOSE sockets and parked queues of
// this network namespace (sock_diag, UDIAG_SHOW_DELAY_CLOSE), read with
// libmnl.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
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

// A TCP socket in LISTEN of this netns (inet_diag).
struct TcpListener {
	std::string address;		// "127.0.0.1:80", "[::1]:80"
	std::uint32_t ino = 0;
	std::uint32_t uid = 0;
	std::uint32_t waiting = 0;	// connections in the accept queue (idiag_rqueue)
	std::uint32_t backlog = 0;	// listen()'s backlog, as capped (idiag_wqueue)

	// At least 80% of the backlog waits: the kernel drops new connections
	// (or their SYNs) once it is full.
	bool backlog_nearly_full() const;
};

// Every TCP listener (IPv4 and IPv6) of this netns.
Result<std::vector<TcpListener>> list_tcp_listeners();

// The inodes of the sockets some process has open (/proc/PID/fd/N ->
// socket:[INO]).  complete is false when a process's fds could not be read
// (not root): a socket it holds then looks unowned.
struct SocketOwners {
	std::unordered_set<std::uint64_t> inodes;
	bool complete = true;
};
SocketOwners scan_socket_owners(const std::string &proc = "/proc");

// What `puds status` reports.  The kernel does not say which sockets a
// parked queue holds (unix_diag reports its counts only), so parked
// listeners are found as the TCP listeners no process has open: their only
// reference is an fd in flight, in a parked queue or in some other socket's
// queue.  They are attributed to a queue only when that is unambiguous:
// exactly one queue is parked (or parking, adopting) with fds, and it holds
// at least as many fds as there are such listeners.
struct StatusReport {
	enum class Attribution { none, only_parked_queue, ambiguous };

	std::vector<DelayCloseEntry> entries;
	std::vector<TcpListener> unowned;	// TCP listeners no process has open
	bool owner_scan_complete = true;
	Attribution attribution = Attribution::none;
	std::size_t attributed_to = 0;		// index in entries, if only_parked_queue

	static StatusReport make(std::vector<DelayCloseEntry> entries,
				 const std::vector<TcpListener> &listeners,
				 const SocketOwners &owners);
	const char *attribution_name() const;
};

// `puds status --json`: one JSON object (see userlib/README.md), ending in
// a newline.  Strings are escaped per RFC 8259; a path that is not UTF-8 is
// given as "path": null and "path_hex".
std::string status_json(const StatusReport &r);
// `puds status`: the table, a line per parked listener under its queue, and
// a warning line per nearly full backlog.
std::string status_text(const StatusReport &r);

} // namespace puds
