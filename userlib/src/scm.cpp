// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/scm.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <memory>

namespace puds {

namespace {

std::string describe(const char *call, int sock, const std::string &dest)
{
	std::string s = std::string(call) + "(fd " + std::to_string(sock);

	if (!dest.empty())
		s += " to " + dest;
	return s + ")";
}

} // namespace

Status send_message(int sock, std::span<const std::byte> data, std::span<const int> fds,
		    const std::string &dest)
{
	if (data.empty())
		return Error::invalid(describe("sendmsg", sock, dest) +
				      ": a message with fds needs at least one data byte");
	if (fds.size() > kMaxFdsPerMessage)
		return Error::invalid(describe("sendmsg", sock, dest) + ": " +
				      std::to_string(fds.size()) + " fds, at most " +
				      std::to_string(kMaxFdsPerMessage) + " per message");

	sockaddr_un sun{};
	msghdr msg{};
	iovec iov{const_cast<std::byte *>(data.data()), data.size()};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;

	if (!dest.empty()) {
		if (dest.size() >= sizeof(sun.sun_path))
			return Error(std::errc::filename_too_long,
				     describe("sendmsg", sock, dest) + ": path too long");
		sun.sun_family = AF_UNIX;
		std::memcpy(sun.sun_path, dest.data(), dest.size());
		msg.msg_name = &sun;
		msg.msg_namelen = offsetof(sockaddr_un, sun_path) + dest.size() + 1;
	}

	// Room for kMaxFdsPerMessage on the stack: no allocation per message.
	alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
	if (!fds.empty()) {
		std::size_t space = CMSG_SPACE(sizeof(int) * fds.size());

		std::memset(cbuf, 0, space);
		msg.msg_control = cbuf;
		msg.msg_controllen = space;
		cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
		std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
	}

	ssize_t n;
	do
		n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return Error::from_errno(describe("sendmsg", sock, dest));
	if (static_cast<std::size_t>(n) != data.size())
		return Error(std::errc::message_size,
			     describe("sendmsg", sock, dest) + ": sent " +
			     std::to_string(n) + " of " + std::to_string(data.size()) +
			     " bytes");
	return Ok{};
}

Result<MessageView> recv_message_view(int sock, const RecvOptions &opt)
{
	MessageView m;
	// Buffers left uninitialised: zeroing 32 KiB per datagram cost more
	// than the syscall.  The data is copied out at its real length.
	std::size_t cap = opt.max_bytes ? opt.max_bytes : 1;
	thread_local std::unique_ptr<std::byte[]> data_buf;
	thread_local std::size_t data_cap = 0;
	if (data_cap < cap) {
		data_buf = std::make_unique_for_overwrite<std::byte[]>(cap);
		data_cap = cap;
	}

	std::size_t space = CMSG_SPACE(sizeof(int) * opt.max_fds);
	thread_local std::unique_ptr<char[]> cbuf;
	thread_local std::size_t cbuf_cap = 0;
	if (cbuf_cap < space) {
		cbuf = std::make_unique_for_overwrite<char[]>(space);
		cbuf_cap = space;
	}
	msghdr msg{};
	iovec iov{data_buf.get(), cap};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = space ? cbuf.get() : nullptr;
	msg.msg_controllen = space;

	ssize_t n;
	do
		n = ::recvmsg(sock, &msg, opt.flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return Error::from_errno(describe("recvmsg", sock, {}));

	// Own every fd that arrived before looking at anything else.
	for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *p = CMSG_DATA(c);

		m.fds.reserve(m.fds.size() + k);

		for (std::size_t i = 0; i < k; i++) {
			int fd;

			std::memcpy(&fd, p + i * sizeof(int), sizeof(int));
			m.fds.push_back(Fd::adopt(fd));
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		return Error(std::errc::message_size,
			     describe("recvmsg", sock, {}) +
			     ": the message carried more fds than the " +
			     std::to_string(opt.max_fds) + " expected (MSG_CTRUNC); "
			     "those that arrived were closed");
	if (msg.msg_flags & MSG_TRUNC)
		return Error(std::errc::message_size,
			     describe("recvmsg", sock, {}) +
			     ": the message was longer than " +
			     std::to_string(opt.max_bytes) + " bytes (MSG_TRUNC)");
	m.data = std::span<const std::byte>(data_buf.get(), static_cast<std::size_t>(n));
	return m;
}

Result<Message> recv_message(int sock, const RecvOptions &opt)
{
	auto v = PUDS_TRY(recv_message_view(sock, opt));

	return Message{{v.data.begin(), v.data.end()}, std::move(v.fds)};
}

} // namespace puds
