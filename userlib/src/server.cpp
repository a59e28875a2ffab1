// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/server.hpp"

#include <algorithm>
#include <cstdio>

#include "puds/kernel.hpp"

namespace puds {

namespace {

struct Parsed {
	std::string name;
	Address addr;
};

} // namespace

Result<Handoff> Handoff::start(const std::string &path, const std::vector<ListenSpec> &listeners,
			       const HandoffOptions &opt)
{
	Handoff h;
	auto warn = [&](std::string w) {
		if (opt.warn)
			opt.warn(w);
		else
			std::fprintf(stderr, "puds: warning: %s\n", w.c_str());
		h.warnings_.push_back(std::move(w));
	};

	// Everything given is checked before anything is bound or adopted.
	if (opt.delay_ms < 1)
		return Error::invalid("Handoff::start(" + path + "): delay_ms " +
				      std::to_string(opt.delay_ms) + ": 1 ms or more "
				      "(up to net.unix.delay_close_max_ms); to drop a parked queue, "
				      "start and retire()");
	std::vector<Parsed> want;
	for (const auto &l : listeners) {
		PUDS_TRY(check_name(l.name));
		if (std::any_of(want.begin(), want.end(), [&](const Parsed &w) { return w.name == l.name; }))
			return Error::invalid("Handoff::start(" + path + "): listener \"" + l.name +
					      "\" given twice");
		want.push_back({l.name, PUDS_TRY(parse_address(l.address))});
	}
	TakeOptions take{.blocking = opt.blocking, .on_address_change = opt.on_address_change};

	// Can this kernel park at all?  Decided before the rendezvous is
	// opened: a delay it would refuse must never be found out after an
	// adoption.
	int delay = opt.delay_ms;
	std::string cannot;
	if (auto f = check_kernel_feature(); !f) {
		if (f.error().code != std::errc::operation_not_supported)
			return std::move(f).error();
		cannot = f.error().message;
	} else if (auto max = delay_close_max_ms(); max) {
		auto c = choose_delay(delay, *max);
		if (!c)
			cannot = c.error().message;
		else {
			delay = c->delay_ms;
			if (!c->warning.empty())
				warn(c->warning.substr(c->warning.find(' ') + 1));	// without "warning: "
		}
	}
	if (!cannot.empty()) {
		if (opt.without_feature == Fallback::fail)
			return Error(std::errc::operation_not_supported, cannot);
		warn(cannot + "; Fallback::bind_fresh: bound the listeners afresh, no handoff "
		     "(connections that arrive while this server is down are refused)");
		Parcel none;
		for (const auto &w : want) {
			Fd fd = PUDS_TRY(take_listener(none, w.name, w.addr, take));
			h.parcel_.fds.push_back({w.name, std::move(fd)});
		}
		return h;
	}

	Rendezvous rv = PUDS_TRY(Rendezvous::open(path, delay));
	// From here an error return closes rv armed: whatever it adopted is
	// parked again.
	Parcel old = PUDS_TRY(rv.reclaim());

	// The parcel's fds that no listener takes as they are: the names not
	// asked for, and (AddressChange::rebind) those bound elsewhere.  They
	// go first, parked without them, so that their last copy (the queue's)
	// is closed before a fresh bind() of an address they may overlap.
	bool dropped = false;
	for (auto it = old.fds.begin(); it != old.fds.end();) {
		auto w = std::find_if(want.begin(), want.end(), [&](const Parsed &p) { return p.name == it->name; });
		std::string why;
		if (w == want.end()) {
			why = "the parked fd \"" + it->name + "\" is no listener of this server: "
			      "dropped it (and the connections waiting on it, if it listens)";
		} else if (auto st = check_listener(it->fd.get(), w->addr); !st) {
			if (opt.on_address_change != AddressChange::rebind)
				return Error::invalid("listener \"" + w->name + "\": " + st.error().message +
						      " (on_address_change = AddressChange::rebind would "
						      "drop it and bind " + w->addr.str() + " afresh)");
			why = "listener \"" + w->name + "\": " + st.error().message +
			      " (the address changed to " + w->addr.str() + "): AddressChange::rebind "
			      "dropped it and the connections waiting on it, and binds afresh";
		}
		if (why.empty()) {
			++it;
			continue;
		}
		warn(std::move(why));
		it = old.fds.erase(it);
		dropped = true;
	}
	if (dropped)
		PUDS_TRY(rv.park(old));

	for (const auto &w : want) {
		Fd fd = PUDS_TRY(take_listener(old, w.name, w.addr, take));
		h.parcel_.fds.push_back({w.name, std::move(fd)});
	}
	h.parcel_.state = std::move(old.state);
	PUDS_TRY(rv.park(h.parcel_));
	h.rv_.emplace(std::move(rv));
	h.delay_ms_ = delay;
	return h;
}

int Handoff::listener(std::string_view name) const
{
	for (const auto &nf : parcel_.fds)
		if (nf.name == name)
			return nf.fd.get();
	return -1;
}

Status Handoff::set_state(std::span<const std::byte> state)
{
	if (state.size() > kMaxStateSize)
		return Error::invalid("Handoff::set_state: " + std::to_string(state.size()) +
				      " bytes, more than kMaxStateSize");
	auto before = std::move(parcel_.state);
	parcel_.state.assign(state.begin(), state.end());
	if (rv_) {
		if (auto st = rv_->park(parcel_); !st) {
			parcel_.state = std::move(before);
			return st;
		}
	}
	return Ok{};
}

Status Handoff::retire()
{
	if (rv_) {
		PUDS_TRY(rv_->set_delay(0));
		rv_.reset();	// closed disarmed: the queue is dropped
	}
	parcel_.fds.clear();
	return Ok{};
}

void Handoff::park_and_close()
{
	rv_.reset();	// closed armed: the queue is parked
	parcel_.fds.clear();
}

} // namespace puds
