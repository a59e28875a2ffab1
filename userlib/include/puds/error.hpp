// SPDX-License-Identifier: LGPL-2.1-or-later
// Errors as values: every fallible call returns a Result<T>, which holds
// either a T or an Error.  An Error carries the errno-style code and a
// message that names what failed: the syscall, and the path or fd it was
// called on.  Exceptions are thrown only by the `puds` command's top level.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace puds {

struct Error {
	std::error_code code;
	std::string message;	// "recvmsg(fd 5): Resource temporarily unavailable"

	// An error from a failed syscall: @what is the call and its object.
	static Error from_errno(std::string what, int err = errno)
	{
		std::error_code ec(err, std::generic_category());
		return {ec, std::move(what) + ": " + ec.message()};
	}

	// An error of our own: malformed input, a missing kernel feature.
	static Error invalid(std::string what, std::errc code = std::errc::invalid_argument)
	{
		return {std::make_error_code(code), std::move(what)};
	}
};

template <class T>
class [[nodiscard]] Result {
public:
	Result(T value) : v_(std::move(value)) {}
	Result(Error error) : v_(std::move(error)) {}

	explicit operator bool() const noexcept { return v_.index() == 0; }
	bool ok() const noexcept { return v_.index() == 0; }

	T &value() & { return std::get<0>(v_); }
	T &&value() && { return std::get<0>(std::move(v_)); }
	const T &value() const & { return std::get<0>(v_); }
	T *operator->() { return &std::get<0>(v_); }
	const T *operator->() const { return &std::get<0>(v_); }
	T &operator*() & { return std::get<0>(v_); }
	const T &operator*() const & { return std::get<0>(v_); }
	T &&operator*() && { return std::get<0>(std::move(v_)); }

	const Error &error() const & { return std::get<1>(v_); }
	Error &&error() && { return std::get<1>(std::move(v_)); }

private:
	std::variant<T, Error> v_;
};

// Result<void>: success, or an Error.
struct Ok {};
using Status = Result<Ok>;

} // namespace puds
