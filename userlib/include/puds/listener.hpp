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

// How take_listener() leaves the listener's O_NONBLOCK: set to this either
// way, handed over or fresh (the file status flags of a handed-over fd are
// shared with every other holder of it, whatever they set).
enum class Blocking { blocking, nonblocking };

// What take_listener() does when the parcel has an fd of the name asked for
// that is not what was asked for (another address or port, family, type, or
// not listening): the server's new version listens elsewhere.
//   fail:   an error that says what differs; the fd stays in the parcel;
//   rebind: the handed-over fd is taken out of the parcel and closed, and a
//           fresh listener is bound to the new address.  What is dropped:
//           the old listener and every connection waiting in its accept
//           queue (they see a reset once the last copy of it, the parked
//           one included, is closed: park a parcel without it).
enum class AddressChange { fail, rebind };

struct TakeOptions {
	Blocking blocking = Blocking::blocking;
	AddressChange on_address_change = AddressChange::fail;
	int backlog = 4096;	// for a freshly bound one
};

// What take_listener_ex() did.
struct TakenListener {
	Fd fd;
	enum class Source {
		handed_over,	// the parcel's fd of that name
		bound,		// none in the parcel: freshly bound
		rebound,	// the parcel's was bound elsewhere: dropped, bound afresh
	} source = Source::bound;
	// Source::rebound: what was dropped and why ("listener \"echo\": the
	// handed-over fd 5 for 127.0.0.1:7778 is bound to another address or
	// port: dropped it and the connections waiting on it; bound afresh"),
	// for the server's log.  "" otherwise.
	std::string dropped;
};

// The fd named @name in @p, checked against @a and taken out of @p, or a
// freshly bound one if @p has none; @opt says what to do if the parcel's is
// bound elsewhere (AddressChange) and sets O_NONBLOCK (Blocking).
Result<TakenListener> take_listener_ex(Parcel &p, std::string_view name, const Address &a,
				       const TakeOptions &opt = {});

// take_listener_ex(), only the fd: e.g.
//   take_listener(parcel, "http", addr, {.blocking = Blocking::nonblocking})
Result<Fd> take_listener(Parcel &p, std::string_view name, const Address &a,
			 const TakeOptions &opt = {});
// The bool of earlier versions (true: O_NONBLOCK) is gone: say
// {.blocking = Blocking::nonblocking} or Blocking::blocking.
Result<Fd> take_listener(Parcel &p, std::string_view name, const Address &a, bool) = delete;

} // namespace puds
