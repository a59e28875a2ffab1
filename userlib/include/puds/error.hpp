// SPDX-License-Identifier: LGPL-2.1-or-later
// Errors as values: every fallible call returns a Result<T>, which holds
// either a T or an Error.  An Error carries the errno-style code and a
// message that names what failed: the syscall, and the path or fd it was
// called on.  The library throws nothing; value() on a Result that holds an
// Error throws BadResultAccess (a bug of the caller, as with
// std::expected), whose what() is the Error's message.
//
// One way to pass an error up, PUDS_TRY (Rust's `?`):
//
//   Result<Fd> open_listener(const Address &a)
//   {
//           Fd fd = PUDS_TRY(Fd::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC));
//           PUDS_TRY(set_reuseaddr(fd));     // a Status
//           return fd;
//   }
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace puds {

struct Error {
	std::error_code code;
	std::string message;	// "recvmsg(fd 5): Resource temporarily unavailable"

	Error() = default;
	Error(std::error_code c, std::string msg) : code(c), message(std::move(msg)) {}
	// An error of our own, @msg saying all of it: a missing kernel
	// feature (operation_not_supported), a malformed parcel (bad_message).
	Error(std::errc c, std::string msg) : code(std::make_error_code(c)), message(std::move(msg)) {}

	// An error from a failed syscall: @what is the call and its object.
	static Error from_errno(std::string what, int err = errno)
	{
		std::error_code ec(err, std::generic_category());
		return {ec, std::move(what) + ": " + ec.message()};
	}

	// Invalid input (EINVAL): an argument or a value read that is wrong,
	// @what saying how.
	static Error invalid(std::string what)
	{
		return {std::errc::invalid_argument, std::move(what)};
	}
};

// Thrown by Result::value() when it holds an Error: what() is its message.
class BadResultAccess : public std::runtime_error {
public:
	explicit BadResultAccess(Error e) : std::runtime_error(e.message), error_(std::move(e)) {}
	const Error &error() const noexcept { return error_; }

private:
	Error error_;
};

template <class T>
class [[nodiscard]] Result {
public:
	Result(T value) : v_(std::move(value)) {}
	Result(Error error) : v_(std::move(error)) {}

	explicit operator bool() const noexcept { return v_.index() == 0; }
	bool ok() const noexcept { return v_.index() == 0; }

	// The value; BadResultAccess, carrying the Error, if there is none.
	T &value() &
	{
		check();
		return *std::get_if<0>(&v_);
	}
	T &&value() &&
	{
		check();
		return std::move(*std::get_if<0>(&v_));
	}
	const T &value() const &
	{
		check();
		return *std::get_if<0>(&v_);
	}

	// Unchecked: only after a test of ok().
	T *operator->() { return &std::get<0>(v_); }
	const T *operator->() const { return &std::get<0>(v_); }
	T &operator*() & { return std::get<0>(v_); }
	const T &operator*() const & { return std::get<0>(v_); }
	T &&operator*() && { return std::get<0>(std::move(v_)); }

	const Error &error() const & { return std::get<1>(v_); }
	Error &&error() && { return std::get<1>(std::move(v_)); }

private:
	void check() const
	{
		if (!ok())
			throw BadResultAccess(*std::get_if<1>(&v_));
	}

	std::variant<T, Error> v_;
};

// Result<void>: success, or an Error.
struct Ok {};
using Status = Result<Ok>;

} // namespace puds

// Evaluate @expr, a Result or a Status: on an Error, return it from the
// enclosing function (which returns a Result or a Status); else the
// expression's value is the Result's value, moved out.  A GNU statement
// expression (GCC, Clang).
#define PUDS_TRY(expr)                                                  \
	__extension__({                                                 \
		auto puds_try_ = (expr);                                \
		if (!puds_try_)                                         \
			return std::move(puds_try_).error();            \
		*std::move(puds_try_);                                  \
	})
