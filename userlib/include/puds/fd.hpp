// SPDX-License-Identifier: LGPL-2.1-or-later
// Fd: one owned file descriptor.  Move-only; closes what it owns when it
// goes.  Made by named functions (Fd::adopt for a raw fd you own, or the
// calls that create one), so that ownership is always spelled out.
#pragma once

#include <utility>

#include "puds/error.hpp"

namespace puds {

class Fd {
public:
	Fd() noexcept = default;
	~Fd() { reset(); }

	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	Fd(Fd &&other) noexcept : fd_(other.release()) {}
	Fd &operator=(Fd &&other) noexcept
	{
		if (this != &other)
			reset(other.release());
		return *this;
	}

	// Take ownership of @fd (which must be open, or -1).
	static Fd adopt(int fd) noexcept { return Fd(fd); }

	// socket(@domain, @type | SOCK_CLOEXEC, @protocol): a new socket,
	// close-on-exec as every fd the library makes (flags such as
	// SOCK_NONBLOCK may be or'ed into @type).  The error names the call:
	// "socket(AF_UNIX, SOCK_DGRAM): ...".
	static Result<Fd> socket(int domain, int type, int protocol = 0);

	// A new fd for the same open file, close-on-exec.
	Result<Fd> dup() const;

	int get() const noexcept { return fd_; }
	explicit operator bool() const noexcept { return fd_ >= 0; }

	// Give up ownership: the caller closes the returned fd.
	int release() noexcept { return std::exchange(fd_, -1); }

	// Close what is owned (errors of close() are ignored: the fd is gone
	// either way), then own @fd.  Inline: moved-from Fds, the most common
	// kind destroyed, cost one test.
	void reset(int fd = -1) noexcept
	{
		if (fd_ >= 0)
			close_fd(fd_);
		fd_ = fd;
	}

	// close() with its error reported, for callers that care (a file
	// written to).
	Status close();

private:
	explicit Fd(int fd) noexcept : fd_(fd) {}
	static void close_fd(int fd) noexcept;
	int fd_ = -1;
};

} // namespace puds
