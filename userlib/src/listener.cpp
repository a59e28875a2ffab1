// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

namespace puds {

namespace {

struct SockAddr {
	sockaddr_storage ss{};
	socklen_t len = 0;
};

Result<SockAddr> to_sockaddr(const Address &a)
{
	SockAddr out;

	if (a.kind == Address::Kind::unix_stream) {
		auto *sun = reinterpret_cast<sockaddr_un *>(&out.ss);
		if (a.path.empty() || a.path.size() >= sizeof(sun->sun_path))
			return Error(std::errc::filename_too_long,
				     "unix path \"" + a.path + "\" too long or empty");
		sun->sun_family = AF_UNIX;
		std::memcpy(sun->sun_path, a.path.data(), a.path.size());
		out.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + a.path.size() + 1);
		return out;
	}
	auto *sin = reinterpret_cast<sockaddr_in *>(&out.ss);
	auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&out.ss);
	if (a.host.empty() || a.host == "*") {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a.port);
		out.len = sizeof(*sin);
	} else if (inet_pton(AF_INET, a.host.c_str(), &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a.port);
		out.len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, a.host.c_str(), &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a.port);
		out.len = sizeof(*sin6);
	} else {
		return Error::invalid("\"" + a.host + "\" is not an IPv4 or IPv6 address "
				      "(names are not resolved)");
	}
	return out;
}

int sock_type(Address::Kind k)
{
	return k == Address::Kind::udp ? SOCK_DGRAM : SOCK_STREAM;
}

int getint(int fd, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return ::getsockopt(fd, level, opt, &v, &len) ? -1 : v;
}

} // namespace

std::string Address::str() const
{
	switch (kind) {
	case Kind::unix_stream:
		return "unix:" + path;
	case Kind::udp:
		return "udp:" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
		       ":" + std::to_string(port);
	default:
		return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
		       std::to_string(port);
	}
}

Result<Address> parse_address(std::string_view spec)
{
	Address a;
	std::string_view s = spec;

	auto bad = [&](const char *why) {
		return Error::invalid("address \"" + std::string(spec) + "\": " + why +
				      " (HOST:PORT, [V6]:PORT, udp:HOST:PORT or unix:/path)");
	};
	if (s.starts_with("unix:")) {
		a.kind = Address::Kind::unix_stream;
		a.path = std::string(s.substr(5));
		if (a.path.empty() || a.path[0] != '/')
			return bad("a unix path must be absolute");
		return a;
	}
	if (s.starts_with("udp:")) {
		a.kind = Address::Kind::udp;
		s.remove_prefix(4);
	}
	std::string_view host, port;
	if (s.starts_with("[")) {
		auto end = s.find(']');
		if (end == s.npos || end + 1 >= s.size() || s[end + 1] != ':')
			return bad("[V6] must be followed by :PORT");
		host = s.substr(1, end - 1);
		port = s.substr(end + 2);
	} else {
		auto colon = s.rfind(':');
		if (colon == s.npos)
			return bad("no :PORT");
		host = s.substr(0, colon);
		port = s.substr(colon + 1);
		if (host.find(':') != host.npos)
			return bad("an IPv6 address goes in brackets");
	}
	unsigned v = 0;
	auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
	if (ec != std::errc() || p != port.data() + port.size() || v > 65535 || port.empty())
		return bad("the port must be 0 to 65535");
	a.host = std::string(host);
	a.port = static_cast<std::uint16_t>(v);
	PUDS_TRY(to_sockaddr(a));
	return a;
}

Result<Fd> bind_listener(const Address &a, int backlog)
{
	SockAddr sa = PUDS_TRY(to_sockaddr(a));
	Fd fd = PUDS_TRY(Fd::socket(sa.ss.ss_family, sock_type(a.kind)));
	int one = 1;
	if (a.kind == Address::Kind::tcp &&
	    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		return Error::from_errno("setsockopt(" + a.str() + ", SO_REUSEADDR)");
	if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&sa.ss), sa.len))
		return Error::from_errno("bind(" + a.str() + ")");
	if (a.kind != Address::Kind::udp && ::listen(fd.get(), backlog))
		return Error::from_errno("listen(" + a.str() + ")");
	return fd;
}

Status check_listener(int fd, const Address &a)
{
	SockAddr want = PUDS_TRY(to_sockaddr(a));
	SockAddr got;
	got.len = sizeof(got.ss);
	if (::getsockname(fd, reinterpret_cast<sockaddr *>(&got.ss), &got.len))
		return Error::from_errno("getsockname(fd " + std::to_string(fd) + ")");

	std::string who = "the handed-over fd " + std::to_string(fd) + " for " + a.str();
	if (got.ss.ss_family != want.ss.ss_family)
		return Error::invalid(who + " is of another address family");
	if (getint(fd, SOL_SOCKET, SO_TYPE) != sock_type(a.kind))
		return Error::invalid(who + " is of another socket type");
	if (a.kind != Address::Kind::udp && getint(fd, SOL_SOCKET, SO_ACCEPTCONN) != 1)
		return Error::invalid(who + " is not listening");
	if (a.kind == Address::Kind::unix_stream) {
		if (got.len != want.len || std::memcmp(&got.ss, &want.ss, got.len))
			return Error::invalid(who + " is bound to another path");
		return Ok{};
	}
	bool any = a.host.empty() || a.host == "*";
	if (got.ss.ss_family == AF_INET) {
		auto *g = reinterpret_cast<sockaddr_in *>(&got.ss);
		auto *w = reinterpret_cast<sockaddr_in *>(&want.ss);
		if (g->sin_port != w->sin_port ||
		    (!any && g->sin_addr.s_addr != w->sin_addr.s_addr))
			return Error::invalid(who + " is bound to another address or port");
	} else {
		auto *g = reinterpret_cast<sockaddr_in6 *>(&got.ss);
		auto *w = reinterpret_cast<sockaddr_in6 *>(&want.ss);
		if (g->sin6_port != w->sin6_port ||
		    std::memcmp(&g->sin6_addr, &w->sin6_addr, sizeof(w->sin6_addr)))
			return Error::invalid(who + " is bound to another address or port");
	}
	return Ok{};
}

Result<TakenListener> take_listener_ex(Parcel &p, std::string_view name, const Address &a,
				       const TakeOptions &opt)
{
	TakenListener out;
	for (auto it = p.fds.begin(); it != p.fds.end(); ++it) {
		if (it->name != name)
			continue;
		if (auto st = check_listener(it->fd.get(), a); !st) {
			if (opt.on_address_change != AddressChange::rebind)
				return Error::invalid("listener \"" + std::string(name) + "\": " +
						      st.error().message +
						      " (AddressChange::rebind would drop it and bind afresh)");
			out.source = TakenListener::Source::rebound;
			out.dropped = "listener \"" + std::string(name) + "\": " + st.error().message +
				      ": dropped it, and the connections waiting on it, and bound " +
				      a.str() + " afresh";
			p.fds.erase(it);	// closes this process's copy
			break;
		}
		out.fd = std::move(it->fd);
		out.source = TakenListener::Source::handed_over;
		p.fds.erase(it);
		break;
	}
	if (!out.fd)
		out.fd = PUDS_TRY(bind_listener(a, opt.backlog));
	int fd = out.fd.get();
	bool nonblock = opt.blocking == Blocking::nonblocking;
	int fl = ::fcntl(fd, F_GETFL);
	if (fl < 0 || ::fcntl(fd, F_SETFL, nonblock ? fl | O_NONBLOCK : fl & ~O_NONBLOCK))
		return Error::from_errno("fcntl(listener \"" + std::string(name) + "\", F_SETFL)");
	return out;
}

Result<Fd> take_listener(Parcel &p, std::string_view name, const Address &a, const TakeOptions &opt)
{
	TakenListener t = PUDS_TRY(take_listener_ex(p, name, a, opt));
	return std::move(t.fd);
}

} // namespace puds
