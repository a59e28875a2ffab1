// SPDX-License-Identifier: LGPL-2.1-or-later
// puds.h: the C API over the C++ one.  Every entry point catches what C++
// may throw (std::bad_alloc) and turns it into -ENOMEM.
#include "puds/puds.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "puds/handoff.hpp"
#include "puds/kernel.hpp"
#include "puds/listener.hpp"
#include "puds/server.hpp"

struct puds_rendezvous {
	puds::Rendezvous rv;
};
struct puds_parcel {
	puds::Parcel p;
};
struct puds_handoff {
	puds::Handoff h;
};

namespace {

thread_local std::string last_error;

int fail(const puds::Error &e)
{
	last_error = e.message;
	int v = e.code.value();
	return v > 0 ? -v : -EIO;
}

int fail(int err, std::string msg)
{
	last_error = std::move(msg);
	return -err;
}

template <typename F> int guarded(F f)
{
	try {
		return f();
	} catch (const std::bad_alloc &) {
		return fail(ENOMEM, "out of memory");
	} catch (const std::exception &e) {
		return fail(EIO, e.what());
	}
}

bool null_arg(const void *p, const char *fn, int &ret)
{
	if (p)
		return false;
	ret = fail(EINVAL, std::string(fn) + ": a NULL argument");
	return true;
}

} // namespace

extern "C" {

const char *puds_strerror(void)
{
	return last_error.c_str();
}

int puds_check_kernel(void)
{
	return guarded([] {
		auto s = puds::check_kernel_feature();
		return s ? 0 : fail(s.error());
	});
}

int puds_open(const char *path, int delay_ms, struct puds_rendezvous **out)
{
	return guarded([&] {
		int r;
		if (null_arg(path, "puds_open", r) || null_arg(out, "puds_open", r))
			return r;
		*out = nullptr;
		auto rv = puds::Rendezvous::open(path, delay_ms);
		if (!rv)
			return fail(rv.error());
		*out = new puds_rendezvous{std::move(*rv)};
		return 0;
	});
}

int puds_adopted(const struct puds_rendezvous *rv)
{
	return rv && rv->rv.adopted();
}

int puds_fd(const struct puds_rendezvous *rv)
{
	return rv ? rv->rv.fd() : fail(EINVAL, "puds_fd: a NULL argument");
}

int puds_reclaim(struct puds_rendezvous *rv, struct puds_parcel **out)
{
	return guarded([&] {
		int r;
		if (null_arg(rv, "puds_reclaim", r) || null_arg(out, "puds_reclaim", r))
			return r;
		*out = nullptr;
		auto p = rv->rv.reclaim();
		if (!p)
			return fail(p.error());
		*out = new puds_parcel{std::move(*p)};
		return 0;
	});
}

int puds_park(struct puds_rendezvous *rv, const struct puds_parcel *p)
{
	return guarded([&] {
		int r;
		if (null_arg(rv, "puds_park", r) || null_arg(p, "puds_park", r))
			return r;
		auto s = rv->rv.park(p->p);
		return s ? 0 : fail(s.error());
	});
}

int puds_set_delay(struct puds_rendezvous *rv, int delay_ms)
{
	return guarded([&] {
		int r;
		if (null_arg(rv, "puds_set_delay", r))
			return r;
		auto s = rv->rv.set_delay(delay_ms);
		return s ? 0 : fail(s.error());
	});
}

void puds_close(struct puds_rendezvous *rv)
{
	delete rv;
}

int puds_retire(struct puds_rendezvous *rv)
{
	if (!rv)
		return fail(EINVAL, "puds_retire: a NULL argument");
	int r = puds_set_delay(rv, 0);
	delete rv;
	return r;
}

int puds_parcel_new(struct puds_parcel **out)
{
	return guarded([&] {
		int r;
		if (null_arg(out, "puds_parcel_new", r))
			return r;
		*out = new puds_parcel{};
		return 0;
	});
}

void puds_parcel_free(struct puds_parcel *p)
{
	delete p;
}

int puds_parcel_add(struct puds_parcel *p, const char *name, int fd)
{
	return guarded([&] {
		int r;
		if (null_arg(p, "puds_parcel_add", r) || null_arg(name, "puds_parcel_add", r))
			return r;
		if (auto s = puds::check_name(name); !s)
			return fail(s.error());
		int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (d < 0)
			return fail(puds::Error::from_errno("puds_parcel_add(\"" + std::string(name) +
							   "\"): fcntl(fd " + std::to_string(fd) +
							   ", F_DUPFD_CLOEXEC)"));
		p->p.fds.push_back({name, puds::Fd::adopt(d)});
		return 0;
	});
}

size_t puds_parcel_count(const struct puds_parcel *p)
{
	return p ? p->p.fds.size() : 0;
}

int puds_take(struct puds_parcel *p, const char *name)
{
	return guarded([&] {
		int r;
		if (null_arg(p, "puds_take", r) || null_arg(name, "puds_take", r))
			return r;
		for (auto it = p->p.fds.begin(); it != p->p.fds.end(); ++it) {
			if (it->name != name)
				continue;
			int fd = it->fd.release();
			p->p.fds.erase(it);
			return fd;
		}
		return fail(ENOENT, std::string("puds_take: no fd named \"") + name + "\" in the parcel");
	});
}

const void *puds_parcel_state(const struct puds_parcel *p, size_t *len)
{
	if (len)
		*len = p ? p->p.state.size() : 0;
	return p ? p->p.state.data() : nullptr;
}

int puds_parcel_set_state(struct puds_parcel *p, const void *data, size_t len)
{
	return guarded([&] {
		int r;
		if (null_arg(p, "puds_parcel_set_state", r) || (len && null_arg(data, "puds_parcel_set_state", r)))
			return r;
		if (len > puds::kMaxStateSize)
			return fail(EMSGSIZE, "puds_parcel_set_state: " + std::to_string(len) +
						      " bytes, more than the 16 MiB a parcel carries");
		const auto *b = static_cast<const std::byte *>(data);
		p->p.state.assign(b, b + len);
		return 0;
	});
}

namespace {

puds::TakeOptions take_options(int flags)
{
	return {.blocking = (flags & PUDS_NONBLOCK) ? puds::Blocking::nonblocking : puds::Blocking::blocking,
		.on_address_change = (flags & PUDS_REBIND) ? puds::AddressChange::rebind
							    : puds::AddressChange::fail};
}

} // namespace

int puds_take_listener(struct puds_parcel *p, const char *name, const char *address, int flags)
{
	return guarded([&] {
		int r;
		if (null_arg(p, "puds_take_listener", r) || null_arg(name, "puds_take_listener", r) ||
		    null_arg(address, "puds_take_listener", r))
			return r;
		if (flags & ~(PUDS_NONBLOCK | PUDS_REBIND))
			return fail(EINVAL, "puds_take_listener: unknown flags " + std::to_string(flags));
		auto a = puds::parse_address(address);
		if (!a)
			return fail(a.error());
		auto fd = puds::take_listener(p->p, name, *a, take_options(flags));
		if (!fd)
			return fail(fd.error());
		return fd->release();
	});
}

int puds_handoff_start(const char *path, const struct puds_listen *listeners, size_t n,
		       const struct puds_handoff_options *opt, struct puds_handoff **out)
{
	return guarded([&] {
		int r;
		if (null_arg(path, "puds_handoff_start", r) || null_arg(out, "puds_handoff_start", r) ||
		    (n && null_arg(listeners, "puds_handoff_start", r)))
			return r;
		*out = nullptr;
		struct puds_handoff_options dflt = PUDS_HANDOFF_OPTIONS_INIT;
		if (!opt)
			opt = &dflt;
		if (opt->flags & ~(PUDS_NONBLOCK | PUDS_REBIND))
			return fail(EINVAL, "puds_handoff_start: unknown flags " + std::to_string(opt->flags));
		std::vector<puds::ListenSpec> specs;
		for (size_t i = 0; i < n; i++) {
			if (!listeners[i].name || !listeners[i].address)
				return fail(EINVAL, "puds_handoff_start: listener " + std::to_string(i) +
							    " has a NULL name or address");
			specs.push_back({listeners[i].name, listeners[i].address});
		}
		auto t = take_options(opt->flags);
		puds::HandoffOptions o{.delay_ms = opt->delay_ms,
				       .on_address_change = t.on_address_change,
				       .blocking = t.blocking,
				       .without_feature = opt->fallback_fail ? puds::Fallback::fail
									     : puds::Fallback::bind_fresh,
				       .warn = {}};
		if (opt->warn)
			o.warn = [w = opt->warn, arg = opt->warn_arg](const std::string &m) { w(m.c_str(), arg); };
		auto h = puds::Handoff::start(path, specs, o);
		if (!h)
			return fail(h.error());
		*out = new puds_handoff{std::move(*h)};
		return 0;
	});
}

int puds_handoff_listener(const struct puds_handoff *h, const char *name)
{
	if (!h || !name)
		return fail(EINVAL, "puds_handoff_listener: a NULL argument");
	int fd = h->h.listener(name);
	return fd >= 0 ? fd : fail(ENOENT, std::string("puds_handoff_listener: no listener named \"") +
						   name + "\"");
}

int puds_handoff_handing_off(const struct puds_handoff *h)
{
	return h && h->h.handing_off();
}

int puds_handoff_adopted(const struct puds_handoff *h)
{
	return h && h->h.adopted();
}

void puds_handoff_close(struct puds_handoff *h)
{
	delete h;
}

int puds_handoff_retire(struct puds_handoff *h)
{
	if (!h)
		return fail(EINVAL, "puds_handoff_retire: a NULL argument");
	auto s = h->h.retire();
	delete h;
	return s ? 0 : fail(s.error());
}

} // extern "C"
