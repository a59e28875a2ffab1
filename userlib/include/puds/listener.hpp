// SPDX-License-Identifier: LGPL-2.1-or-later
// Listeners by address: "give me the listener named http for this address,
// reclaimed if it was handed over, else freshly bound", with a check that
// a reclaimed socket really is what was asked for.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "puds/error.hpp"
#include "puds/fd.hpp"
#include "puds/parcel.hpp"

namespace puds {

struct Address {
	enum class Kind { tcp, udp, unix_stream } kind = Kind::tcp;
	std::string host;	// tcp/udp: an IPv4 or IPv6 literal ("" or "*": any)
	std::uint16_t port = 0;
	std::string path;	// unix_stream

	std::string str() const;
};

// "HOST:PORT" or "[V6]:PORT" (TCP), "udp:HOST:PORT", "unix:/path".
Result<Address> parse_address(std::string_view spec);

// A new socket bound to @a: listening for TCP and unix (backlog @backlog),
// bound for UDP.  SO_REUSEADDR for TCP.  Close-on-exec.
Result<Fd> bind_listener(const Address &a, int backlog = 4096);

// Is @fd what @a asks for: family, type, bound address, and listening for
// the stream kinds?  The error says what differs.
Status check_listener(int fd, const Address &a);

// The fd named @name in @p, checked against @a and taken out of @p, or a
// freshly bound one if @p has none.  O_NONBLOCK is set to @nonblock either
// way: the file status flags of a handed-over fd are shared with every
// other holder of it, whatever they set.
Result<Fd> take_listener(Parcel &p, std::string_view name, const Address &a, bool nonblock);

} // namespace puds
