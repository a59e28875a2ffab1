// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/handoff.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/un_delay_close.h>

#include <cstring>

#include "puds/kernel.hpp"

namespace puds {

namespace {

Result<sockaddr_un> unix_address(const std::string &path, socklen_t &len)
{
	sockaddr_un sun{};

	if (path.empty() || path.size() >= sizeof(sun.sun_path))
		return Error::invalid("rendezvous path \"" + path + "\": 1 to " +
				      std::to_string(sizeof(sun.sun_path) - 1) + " bytes",
				      std::errc::filename_too_long);
	sun.sun_family = AF_UNIX;
	std::memcpy(sun.sun_path, path.data(), path.size());
	len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
	return sun;
}

// Is a live socket bound at @path?  ECONNREFUSED: no (stale, or being
// parked this very moment); 0: yes.
int probe(const sockaddr_un &sun, socklen_t len)
{
	Fd s = Fd::adopt(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));

	if (!s)
		return errno;
	return ::connect(s.get(), reinterpret_cast<const sockaddr *>(&sun), len) ? errno : 0;
}

Status set_delay_close(int sock, int ms, const std::string &path)
{
	if (::setsockopt(sock, SOL_UNIX, UNIX_DELAY_CLOSE, &ms, sizeof(ms)))
		return Error::from_errno("setsockopt(" + path + ", SOL_UNIX, UNIX_DELAY_CLOSE, " +
					 std::to_string(ms) + ")");
	return Ok{};
}

bool same_file(const struct stat &a, const struct stat &b)
{
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

} // namespace

Result<Rendezvous> Rendezvous::open(const std::string &path, int delay_ms)
{
	if (auto st = check_kernel_feature(); !st)
		return std::move(st).error();

	socklen_t len = 0;
	auto sun = unix_address(path, len);
	if (!sun)
		return std::move(sun).error();
	const auto *sa = reinterpret_cast<const sockaddr *>(&*sun);

	Fd sock = Fd::adopt(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	if (!sock)
		return Error::from_errno("socket(AF_UNIX, SOCK_DGRAM)");

	// Armed before bind(): only an armed socket adopts a parked queue, and
	// it is armed from the first instant: a crash from the moment bind()
	// returns parks the queue again, unread.  Nothing below disarms it.
	if (auto s = set_delay_close(sock.get(), delay_ms, path); !s) {
		// v1 of the series took the option only once bound.
		if (s.error().code == std::errc::address_not_available)
			return Error::invalid(
				"this kernel takes UNIX_DELAY_CLOSE only after bind() "
				"(setsockopt(SOL_UNIX, UNIX_DELAY_CLOSE) on an unbound socket: "
				"EADDRNOTAVAIL), as v1 of the puds patch series did: the "
				"library needs Linux with v2 or later of the series, which "
				"arms the socket before bind()", std::errc::operation_not_supported);
		// Nothing adopted: whatever is parked at @path stays parked.
		if (s.error().code == std::errc::invalid_argument) {
			auto max = delay_close_max_ms();
			return Error{s.error().code, s.error().message + ": the delay is above "
				     "net.unix.delay_close_max_ms (" +
				     (max ? std::to_string(*max) : "unreadable") + " ms)"};
		}
		if (s.error().code == std::error_code(EDQUOT, std::generic_category()))
			return Error{s.error().code, s.error().message + ": this user is at its cap "
				     "of armed sockets and parked queues "
				     "(net.unix.delay_close_max_per_user); nothing was adopted, what is "
				     "parked at " + path + " stays parked"};
		return std::move(s).error();
	}

	struct stat before {};
	bool existed = ::lstat(path.c_str(), &before) == 0;
	bool unlinked = false;

	// A path is unlinked only after armed bind()s of it failed with
	// EADDRINUSE (nothing parked there that this socket may take) and no
	// live socket answers there: unlinking the path of a parked queue
	// would lose the queue.
	for (;;) {
		if (::bind(sock.get(), sa, len) == 0)
			break;
		int err = errno;

		if (err == EADDRINUSE && !unlinked) {
			int p = probe(*sun, len);
			if (p == 0 || p == EPROTOTYPE)
				return Error::invalid(
					"another process owns " + path + " (it answers connect()): "
					"not touching it; is the previous incarnation still running?",
					std::errc::address_in_use);
			if (p != ECONNREFUSED)
				return Error::from_errno("connect(" + path + ")", p);

			// No live socket.  A queue being parked right now (its
			// owner is exiting) is found by binding once more; a
			// stale file is not.
			if (::bind(sock.get(), sa, len) == 0)
				break;
			err = errno;
		}
		if (err == EADDRINUSE && !unlinked) {
			if (::lstat(path.c_str(), &before) || !S_ISSOCK(before.st_mode))
				return Error::invalid(path + " exists and is not a socket: not touching it",
						      std::errc::file_exists);
			if (::unlink(path.c_str()) && errno != ENOENT)
				return Error::from_errno("unlink(" + path + ")");
			unlinked = true;
			existed = false;
			continue;
		}

		// Not bound: the socket is armed but unbound, closing it parks
		// nothing.
		if (err == EPERM)
			return Error::invalid(
				path + " holds a parked queue that this process may not adopt "
				"(another user's, or refused by the socket file's permissions "
				"or a security module): left alone, never unlink it",
				std::errc::operation_not_permitted);
		if (err == EDQUOT)
			return Error::invalid(
				"bind(" + path + "): this user is at its cap of armed sockets and "
				"parked queues (net.unix.delay_close_max_per_user), and nothing of "
				"its own is parked at " + path, std::errc(EDQUOT));
		return Error::from_errno("bind(" + path + ")", err);
	}

	// Bound, and armed since before bind(): from here on a crash parks the
	// queue (adopted or new) again, unread.  Every return below closes the
	// socket armed, never disarmed.
	struct stat now {};
	bool adopted = existed && ::lstat(path.c_str(), &now) == 0 && same_file(before, now);
	if (!adopted && ::chmod(path.c_str(), 0600))
		return Error::from_errno("chmod(" + path + ", 0600)");

	Rendezvous rv(path, std::move(sock), adopted);
	return rv;
}

Status Rendezvous::set_delay(int delay_ms)
{
	return set_delay_close(sock_.get(), delay_ms, path_);
}

Result<Parcel> Rendezvous::reclaim()
{
	int off = 0;

	if (::setsockopt(sock_.get(), SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)))
		return Error::from_errno("setsockopt(" + path_ + ", SO_PEEK_OFF)");

	RecvOptions opt;
	opt.max_bytes = kParcelHeaderSize + kMaxPayloadPerMessage;
	opt.flags = MSG_PEEK | MSG_DONTWAIT;
	std::vector<Message> all;
	for (;;) {
		auto m = recv_message(sock_.get(), opt);
		if (!m) {
			if (m.error().code == std::errc::resource_unavailable_try_again)
				break;
			off = -1;
			::setsockopt(sock_.get(), SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
			return std::move(m).error();
		}
		all.push_back(std::move(m).value());
	}
	off = -1;
	::setsockopt(sock_.get(), SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
	queued_ = all.size();

	// The newest complete parcel: a crash during park() can leave an older
	// one before it, or a partial one after it.
	std::size_t best = all.size(), best_count = 0;
	for (std::size_t i = 0; i < all.size();) {
		auto first = parcel_position(all[i].data);
		if (!first || first->seq != 0) {
			i++;
			continue;
		}
		std::uint32_t count = first->count, k = 1;
		for (; k < count && i + k < all.size(); k++) {
			auto next = parcel_position(all[i + k].data);
			if (!next || next->id != first->id || next->seq != k)
				break;
		}
		if (k == count && count) {
			best = i;
			best_count = count;
		}
		i += k;
	}
	if (best == all.size())
		return Parcel{};
	std::vector<Message> msgs(std::make_move_iterator(all.begin() + best),
				  std::make_move_iterator(all.begin() + best + best_count));
	return decode_parcel(std::move(msgs));
}

Status Rendezvous::park(const Parcel &p)
{
	auto before = queued_;

	auto sent = send_parcel(sock_.get(), p, path_);
	if (!sent)
		return std::move(sent).error();

	// The new parcel is queued: only now drop the old datagrams.
	RecvOptions opt;
	opt.max_bytes = kParcelHeaderSize + kMaxPayloadPerMessage;
	opt.flags = MSG_DONTWAIT;
	for (std::size_t i = 0; i < before; i++) {
		auto m = recv_message(sock_.get(), opt);
		if (!m)
			return Error::invalid("dropping the previous parcel from " + path_ + ": " +
					      m.error().message, std::errc::io_error);
	}
	queued_ = *sent;
	return Ok{};
}

Status Rendezvous::forget(Parcel &p, std::string_view name)
{
	std::erase_if(p.fds, [&](const NamedFd &nf) { return nf.name == name; });
	return park(p);
}

} // namespace puds
