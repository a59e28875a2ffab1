// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/handoff.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/un_delay_close.h>

#include <cstring>
#include <optional>

#include "puds/kernel.hpp"

namespace puds {

namespace {

Result<sockaddr_un> unix_address(const std::string &path, socklen_t &len)
{
	sockaddr_un sun{};

	if (path.empty() || path.size() >= sizeof(sun.sun_path))
		return Error(std::errc::filename_too_long,
			     "rendezvous path \"" + path + "\": 1 to " +
			     std::to_string(sizeof(sun.sun_path) - 1) + " bytes");
	sun.sun_family = AF_UNIX;
	std::memcpy(sun.sun_path, path.data(), path.size());
	len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
	return sun;
}

// Is a live socket bound at @path?  ECONNREFUSED: no (stale, or being
// parked this very moment); 0: yes.
int probe(const sockaddr_un &sun, socklen_t len)
{
	auto s = Fd::socket(AF_UNIX, SOCK_DGRAM);

	if (!s)
		return s.error().code.value();
	return ::connect(s->get(), reinterpret_cast<const sockaddr *>(&sun), len) ? errno : 0;
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

std::optional<struct stat> lstat_path(const std::string &path)
{
	struct stat st {};

	if (::lstat(path.c_str(), &st))
		return std::nullopt;
	return st;
}

// SO_PEEK_OFF for the life of the guard: MSG_PEEK reads move on from one
// datagram to the next instead of returning the first again.  Turned off
// (-1) however the peeking ends, so that recvmsg() without MSG_PEEK (park()
// dropping the old parcel) starts at the head of the queue.
class PeekOffset {
public:
	static Result<PeekOffset> start(int sock, const std::string &path)
	{
		int off = 0;

		if (::setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)))
			return Error::from_errno("setsockopt(" + path + ", SO_PEEK_OFF, 0)");
		return PeekOffset(sock);
	}

	PeekOffset(PeekOffset &&o) noexcept : sock_(std::exchange(o.sock_, -1)) {}
	PeekOffset(const PeekOffset &) = delete;
	PeekOffset &operator=(const PeekOffset &) = delete;
	PeekOffset &operator=(PeekOffset &&) = delete;
	~PeekOffset()
	{
		int off = -1;

		if (sock_ >= 0)
			::setsockopt(sock_, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
	}

private:
	explicit PeekOffset(int sock) : sock_(sock) {}
	int sock_;
};

} // namespace

Result<std::vector<Message>> peek_queue(int sock, const std::string &path)
{
	auto guard = PUDS_TRY(PeekOffset::start(sock, path));
	RecvOptions opt;
	opt.max_bytes = kParcelHeaderSize + kMaxPayloadPerMessage;
	opt.flags = MSG_PEEK | MSG_DONTWAIT;
	std::vector<Message> all;

	for (;;) {
		auto m = recv_message(sock, opt);
		if (!m && m.error().code == std::errc::resource_unavailable_try_again)
			return all;
		all.push_back(PUDS_TRY(std::move(m)));
	}
}

Result<Rendezvous> Rendezvous::open(const std::string &path, int delay_ms)
{
	PUDS_TRY(check_kernel_feature());

	socklen_t len = 0;
	sockaddr_un sun = PUDS_TRY(unix_address(path, len));
	const auto *sa = reinterpret_cast<const sockaddr *>(&sun);

	Fd sock = PUDS_TRY(Fd::socket(AF_UNIX, SOCK_DGRAM));

	// Armed before bind(): only an armed socket adopts a parked queue, and
	// it is armed from the first instant: a crash from the moment bind()
	// returns parks the queue again, unread.  Nothing below disarms it.
	if (auto s = set_delay_close(sock.get(), delay_ms, path); !s) {
		// v1 of the series took the option only once bound.
		if (s.error().code == std::errc::address_not_available)
			return Error(std::errc::operation_not_supported,
				     "this kernel takes UNIX_DELAY_CLOSE only after bind() "
				     "(setsockopt(SOL_UNIX, UNIX_DELAY_CLOSE) on an unbound socket: "
				     "EADDRNOTAVAIL), as v1 of the puds patch series did: the "
				     "library needs Linux with v2 or later of the series, which "
				     "arms the socket before bind()");
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

	// The file bind() may adopt: the one at @path before bind(), as long as
	// we have not unlinked it.  If the path is still that file once bound,
	// bind() adopted the queue parked there; a bind() that creates the path
	// makes a new file.
	std::optional<struct stat> adoptable = lstat_path(path);
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
			int p = probe(sun, len);
			if (p == 0 || p == EPROTOTYPE)
				return Error(std::errc::address_in_use,
					     "another process owns " + path + " (it answers connect()): "
					     "not touching it; is the previous incarnation still running?");
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
			if (auto st = lstat_path(path); !st || !S_ISSOCK(st->st_mode))
				return Error(std::errc::file_exists,
					     path + " exists and is not a socket: not touching it");
			if (::unlink(path.c_str()) && errno != ENOENT)
				return Error::from_errno("unlink(" + path + ")");
			unlinked = true;
			adoptable.reset();
			continue;
		}

		// Not bound: the socket is armed but unbound, closing it parks
		// nothing.
		if (err == EPERM)
			return Error(std::errc::operation_not_permitted,
				     path + " holds a parked queue that this process may not adopt "
				     "(another user's, or refused by the socket file's permissions "
				     "or a security module): left alone, never unlink it");
		if (err == EDQUOT)
			return Error(std::errc(EDQUOT),
				     "bind(" + path + "): this user is at its cap of armed sockets and "
				     "parked queues (net.unix.delay_close_max_per_user), and nothing of "
				     "its own is parked at " + path);
		return Error::from_errno("bind(" + path + ")", err);
	}

	// Bound, and armed since before bind(): from here on a crash parks the
	// queue (adopted or new) again, unread.  Every return below closes the
	// socket armed, never disarmed.
	auto now = lstat_path(path);
	bool adopted = adoptable && now && same_file(*adoptable, *now);
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
	std::vector<Message> all = PUDS_TRY(peek_queue(sock_.get(), path_));
	queued_ = all.size();

	std::vector<std::optional<ParcelPosition>> positions;
	positions.reserve(all.size());
	for (const auto &m : all)
		positions.push_back(parcel_position(m.data));
	auto newest = newest_complete_parcel(positions);
	if (!newest)
		return Parcel{};
	auto first = all.begin() + static_cast<std::ptrdiff_t>(newest->first);
	std::vector<Message> msgs(std::make_move_iterator(first),
				  std::make_move_iterator(first + static_cast<std::ptrdiff_t>(newest->count)));
	return decode_parcel(std::move(msgs));
}

Status Rendezvous::park(const Parcel &p)
{
	auto before = queued_;

	std::size_t sent = PUDS_TRY(send_parcel(sock_.get(), p, path_));

	// The new parcel is queued: only now drop the old datagrams.
	RecvOptions opt;
	opt.max_bytes = kParcelHeaderSize + kMaxPayloadPerMessage;
	opt.flags = MSG_DONTWAIT;
	for (std::size_t i = 0; i < before; i++) {
		auto m = recv_message(sock_.get(), opt);
		if (!m)
			return Error(std::errc::io_error,
				     "dropping the previous parcel from " + path_ + ": " +
				     m.error().message);
	}
	queued_ = sent;
	return Ok{};
}

Status Rendezvous::forget(Parcel &p, std::string_view name)
{
	std::erase_if(p.fds, [&](const NamedFd &nf) { return nf.name == name; });
	return park(p);
}

} // namespace puds
