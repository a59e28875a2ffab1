// SPDX-License-Identifier: LGPL-2.1-or-later
// Messages with fds over AF_UNIX sockets (SCM_RIGHTS), done so that no fd
// is ever lost or leaked: at least one data byte per message, received fds
// owned at once and close-on-exec, a truncated control message reported as
// an error (never a silent loss), EINTR retried, EAGAIN returned.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "puds/error.hpp"
#include "puds/fd.hpp"

namespace puds {

// The most fds one SCM_RIGHTS message may carry: the kernel's SCM_MAX_FD.
// Messages with more fail with EINVAL, so senders split by this constant,
// which the tests check against the kernel.
inline constexpr std::size_t kMaxFdsPerMessage = 253;

struct Message {
	std::vector<std::byte> data;
	std::vector<Fd> fds;
};

// Send @data (not empty) with @fds (at most kMaxFdsPerMessage) in one
// message: to the filesystem path @dest of a datagram socket, or to the
// connected peer when @dest is empty.  The fds stay the caller's.
Status send_message(int sock, std::span<const std::byte> data, std::span<const int> fds,
		    const std::string &dest = {});

struct RecvOptions {
	std::size_t max_bytes = 65536;	// a longer message is an error
	std::size_t max_fds = kMaxFdsPerMessage;
	int flags = 0;			// MSG_DONTWAIT, MSG_PEEK
};

// Receive one message.  Fails with EAGAIN (try again) on a non-blocking
// socket with nothing queued, with EMSGSIZE when the data or the fds did
// not fit (the fds that did arrive are closed: none leaks).
Result<Message> recv_message(int sock, const RecvOptions &opt = {});

// The same, without copying the data: it stays in a buffer of the calling
// thread, valid until that thread's next recv_message or
// recv_message_view.  The fds are the caller's, as with recv_message.
struct MessageView {
	std::span<const std::byte> data;
	std::vector<Fd> fds;
};
Result<MessageView> recv_message_view(int sock, const RecvOptions &opt = {});

} // namespace puds
