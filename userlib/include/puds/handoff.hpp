// SPDX-License-Identifier: LGPL-2.1-or-later
// Handoff over a rendezvous: a SOCK_DGRAM socket bound to a path, with
// UNIX_DELAY_CLOSE set, whose own receive queue holds the parcel for the
// next incarnation.  No process holds the fds between two incarnations,
// and a crash at any moment loses nothing:
//
//   open()     sets UNIX_DELAY_CLOSE on a new socket, then binds the path:
//              only an armed socket adopts the queue parked there, and it
//              is armed from the first instant, so that a crash from the
//              moment bind() returns parks the queue again, unread;
//   reclaim()  reads the parcel with MSG_PEEK (SO_PEEK_OFF): the datagrams
//              stay queued, the caller gets copies of the fds;
//
// The path is made mode 0600 when created, so that nobody else can queue a
// parcel to it (any writer of a datagram socket's file can send to it).
//   park()     sends the new parcel to the queue, then drops the old one:
//              a crash in between leaves both, and the next reclaim() takes
//              the newest complete parcel.
//
//   auto rv = puds::Rendezvous::open("/run/srv/handoff", 10000);
//   auto parcel = rv->reclaim();           // empty on the first start
//   ... take or create the listeners, serve ...
//   rv->park(parcel_with_my_listeners);    // at start-up: crash-safe from here
//
// (puds/server.hpp's Handoff::start does all of this in one call.)
//
// Lifetime: a Rendezvous owns the armed socket.  Destroying it, exiting or
// dying by any signal closes the socket armed, which parks its queue (the
// parcel: listeners and the connections waiting on them) for the delay:
// that is how a server hands over, on SIGTERM for an upgrade or a restart
// too (park, then exit).  To stop for good, set_delay(0) first: closing
// then drops the queue, and with it the parked listeners.  A parked queue
// nobody adopts is dropped when its delay expires.  The delay is 1 ms up to
// net.unix.delay_close_max_ms (kernel.hpp: delay_close_max_ms(); open()
// fails with EINVAL above it, choose_delay() clamps before opening).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "puds/error.hpp"
#include "puds/fd.hpp"
#include "puds/parcel.hpp"

namespace puds {

// Every datagram queued on the datagram socket @sock, oldest first, with
// copies of their fds (MSG_PEEK with SO_PEEK_OFF, turned off again however
// it ends): the queue is left as it is.  @name (the rendezvous's path)
// is for the errors.  reclaim()'s reading, on any socket.
Result<std::vector<Message>> peek_queue(int sock, const std::string &name);

class Rendezvous {
public:
	// Set UNIX_DELAY_CLOSE to @delay_ms on a new socket, then bind @path:
	// adopting the queue parked there, creating the path, or cleaning up a
	// stale socket file (only once an armed bind() said EADDRINUSE: nothing
	// parked there for this process).  Never touches a path whose owner is
	// alive (EADDRINUSE: "another process owns ...") nor a parked queue
	// this process may not take (EPERM).  Fails with
	// operation_not_supported on a kernel without UNIX_DELAY_CLOSE (or
	// with v1 of the puds patch series, which took it only after
	// bind()).  Once bound, the socket is never disarmed but by
	// set_delay(0): an error or a crash after open() parks the queue
	// again.
	static Result<Rendezvous> open(const std::string &path, int delay_ms);

	const std::string &path() const { return path_; }
	int fd() const { return sock_.get(); }
	// Did open() adopt a parked queue (rather than create the path)?
	bool adopted() const { return adopted_; }

	// The newest complete parcel in the queue, an empty one if there is
	// none.  The queue is left as it is.
	Result<Parcel> reclaim();

	// Queue @p for the next incarnation, then drop what was queued before.
	Status park(const Parcel &p);

	// Drop the fd named @name from @p (an established connection whose
	// peer must see it close: a parked copy would keep it open) and park
	// @p again.  Not found: not an error, @p is parked unchanged.
	Status forget(Parcel &p, std::string_view name);

	// Change UNIX_DELAY_CLOSE (0: a clean shutdown, nothing to hand over:
	// closing the socket then drops its queue; 1 .. delay_close_max_ms:
	// closing parks it for that long).
	Status set_delay(int delay_ms);

private:
	Rendezvous(std::string path, Fd sock, bool adopted)
		: path_(std::move(path)), sock_(std::move(sock)), adopted_(adopted) {}

	std::string path_;
	Fd sock_;
	bool adopted_ = false;
	std::size_t queued_ = 0;	// datagrams queued by the previous owner or park()
};

} // namespace puds
