// SPDX-License-Identifier: LGPL-2.1-or-later
// Handoff: the one call a server makes at start-up to keep its listeners,
// and the connections waiting on them, across a crash, a restart or an
// upgrade (examples/echo_server.cpp is a whole server):
//
//   auto h = puds::Handoff::start("/run/echo/handoff",
//                                 {{"echo", "127.0.0.1:7777"}},
//                                 {.delay_ms = 10000});
//   if (!h) { fprintf(stderr, "%s\n", h.error().message.c_str()); return 1; }
//   int lfd = h->listener("echo");         // accept() on it
//
// start() opens the rendezvous (Rendezvous::open: armed before bind, so a
// crash from then on loses nothing), reclaims the parcel the previous
// incarnation parked there, takes every listener it names (checked against
// its address) or binds a fresh one, and parks the new parcel (the
// listeners and the state blob) at once: from its return a SIGKILL parks
// the listeners, and the next start() gets every connection that arrived
// in between.
//
// Lifetime.  The Handoff owns the rendezvous socket, armed with
// UNIX_DELAY_CLOSE, and one fd per listener.  Destroying it (or exiting, or
// dying by any signal) closes the armed socket, which *parks* its queue:
// the listeners stay open in the kernel for the delay and keep queueing
// connections for the next start().  So:
//   - upgrading or restarting (SIGTERM from a deploy, systemctl restart):
//     stop accepting and exit; do not close the rendezvous in any other
//     way.  Connections that arrive meanwhile wait in the listener's queue.
//   - stopping for good (systemctl stop of a server that will not come
//     back, an uninstall): call retire() before exiting: it disarms the
//     rendezvous (set_delay(0)) and closes it, so the queue is dropped,
//     and with it the listeners (waiting connections see a reset).
//   - a parked queue nobody adopts is dropped when the delay expires.
//
// The delay: 1 ms up to net.unix.delay_close_max_ms (a sysctl of the
// network namespace, /proc/sys/net/unix/delay_close_max_ms).  A longer
// delay_ms is clamped to it, with a warning; a maximum of 0 (parking off)
// is treated as a kernel without the feature.
//
// A kernel without UNIX_DELAY_CLOSE (any Linux without the puds patch
// series): with Fallback::bind_fresh (the default) start() binds every
// listener afresh, warns once ("... no handoff ..."), and runs without a
// rendezvous (handing_off() is false): a restart refuses connections as
// any server's does.  Fallback::fail makes it an error instead
// (operation_not_supported).
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "puds/error.hpp"
#include "puds/fd.hpp"
#include "puds/handoff.hpp"
#include "puds/listener.hpp"
#include "puds/parcel.hpp"

namespace puds {

// One listener: its name in the parcel ($LISTEN_FDNAMES rules: 1 to 255
// printable characters, no ':') and its address as parse_address() takes
// it ("127.0.0.1:7777", "[::1]:80", "udp:0.0.0.0:53", "unix:/run/x.sock").
struct ListenSpec {
	std::string name;
	std::string address;
};

// What start() does on a kernel that cannot park (no UNIX_DELAY_CLOSE, or
// net.unix.delay_close_max_ms = 0).
enum class Fallback {
	bind_fresh,	// bind every listener, warn, no handoff
	fail,		// an error (operation_not_supported)
};

struct HandoffOptions {
	// How long the kernel keeps the listeners parked after this process
	// is gone: 1 .. net.unix.delay_close_max_ms (clamped to it, with a
	// warning).
	int delay_ms = 10000;
	// The parcel's listener of a name is bound to another address than
	// the one given now (see AddressChange in listener.hpp).
	AddressChange on_address_change = AddressChange::fail;
	Blocking blocking = Blocking::blocking;
	Fallback without_feature = Fallback::bind_fresh;
	// Each warning (the clamp, the fallback, a rebind's drop, fds of the
	// parcel no listener asked for), as one line without its newline.
	// Empty: written to stderr as "puds: warning: ...".
	std::function<void(const std::string &)> warn = {};
};

class Handoff {
public:
	// See above.  An error leaves nothing bound by this call; an error
	// after the rendezvous adopted a parked queue closes it armed: the
	// queue is parked again, nothing lost.
	static Result<Handoff> start(const std::string &path, const std::vector<ListenSpec> &listeners,
				     const HandoffOptions &opt = {});

	// The listener named @name (owned by the Handoff), -1 if none was asked
	// for under that name.
	int listener(std::string_view name) const;

	// Was a parked queue adopted (a restart), rather than a first start?
	bool adopted() const { return rv_ && rv_->adopted(); }
	// Is there a rendezvous (false: the fallback, no handoff)?
	bool handing_off() const { return rv_.has_value(); }
	// The delay armed (after the clamp); 0 without handoff.
	int delay_ms() const { return delay_ms_; }
	// Every warning start() gave, in order.
	const std::vector<std::string> &warnings() const { return warnings_; }

	// The opaque state the previous incarnation parked with set_state(),
	// empty on a first start.
	const std::vector<std::byte> &state() const { return parcel_.state; }
	// Park @state with the listeners (replacing the previous); without
	// handoff it is only kept here.
	Status set_state(std::span<const std::byte> state);

	// The rendezvous, for what Handoff does not do itself (forget(),
	// extra fds): nullptr without handoff.
	Rendezvous *rendezvous() { return rv_ ? &*rv_ : nullptr; }

	// Stopping for good: disarm the rendezvous (UNIX_DELAY_CLOSE 0) and
	// close it, dropping the parked queue and the listeners' parked
	// copies; then close the listeners.  Connections waiting on them are
	// reset.  Without handoff: closes the listeners.  The Handoff is empty
	// afterwards (listener() returns -1).
	Status retire();

	// Upgrading or restarting: close the rendezvous armed, which parks
	// the queue for the next start(), and the listeners.  What destroying
	// the Handoff does; here for a server that wants to say it.
	void park_and_close();

	Handoff(Handoff &&) noexcept = default;
	Handoff &operator=(Handoff &&) noexcept = default;
	Handoff(const Handoff &) = delete;
	Handoff &operator=(const Handoff &) = delete;

private:
	Handoff() = default;

	std::optional<Rendezvous> rv_;
	Parcel parcel_;		// the listeners and the state, as parked
	std::vector<std::string> warnings_;
	int delay_ms_ = 0;
};

} // namespace puds
