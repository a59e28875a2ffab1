// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/diag.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/unix_diag_delay_close.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>

#include "puds/kernel.hpp"

namespace puds {

namespace {

struct Ctx {
	std::vector<DelayCloseEntry> *out;
};

struct Parsed {
	DelayCloseEntry e{};
	bool has_delay_close = false;
};

int on_attr(const nlattr *a, void *data)
{
	auto *parsed = static_cast<Parsed *>(data);
	auto *e = &parsed->e;
	const void *p = mnl_attr_get_payload(a);
	std::size_t len = mnl_attr_get_payload_len(a);

	switch (mnl_attr_get_type(a)) {
	case UNIX_DIAG_NAME:
		e->path.assign(static_cast<const char *>(p), strnlen(static_cast<const char *>(p), len));
		break;
	case UNIX_DIAG_UID:
		if (len >= sizeof(std::uint32_t))
			std::memcpy(&e->uid, p, sizeof(std::uint32_t));
		break;
	case UNIX_DIAG_DELAY_CLOSE:
		if (len >= sizeof(unix_diag_delay_close)) {
			unix_diag_delay_close dc;
			std::memcpy(&dc, p, sizeof(dc));
			e->state = static_cast<DelayCloseEntry::State>(dc.udiag_dc_state);
			e->delay_ms = dc.udiag_dc_delay_ms;
			e->remaining_ms = dc.udiag_dc_remaining_ms;
			e->queued = dc.udiag_dc_qlen;
			e->fds = dc.udiag_dc_nr_fds;
			parsed->has_delay_close = true;
		}
		break;
	}
	return MNL_CB_OK;
}

int on_msg(const nlmsghdr *nlh, void *data)
{
	auto *ctx = static_cast<Ctx *>(data);
	auto *r = static_cast<const unix_diag_msg *>(mnl_nlmsg_get_payload(nlh));
	Parsed p;

	p.e.ino = r->udiag_ino;
	mnl_attr_parse(nlh, sizeof(*r), on_attr, &p);
	if (p.has_delay_close)
		ctx->out->push_back(std::move(p.e));
	return MNL_CB_OK;
}

} // namespace

const char *DelayCloseEntry::state_name() const
{
	switch (state) {
	case State::armed:
		return "armed";
	case State::parking:
		return "parking";
	case State::parked:
		return "parked";
	default:
		return "adopting";
	}
}

namespace {

// One NETLINK_SOCK_DIAG dump: @req (the family's request) after the
// header, @cb for each message.
Status sock_diag_dump(const void *req, std::size_t req_len, mnl_cb_t cb, void *data,
		      const char *what)
{
	std::unique_ptr<mnl_socket, int (*)(mnl_socket *)> nl(mnl_socket_open(NETLINK_SOCK_DIAG),
								mnl_socket_close);
	if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
		return Error::from_errno("mnl_socket_open(NETLINK_SOCK_DIAG)");

	std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
	nlmsghdr *nlh = mnl_nlmsg_put_header(buf.data());
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = static_cast<unsigned>(getpid());
	std::memcpy(mnl_nlmsg_put_extra_header(nlh, req_len), req, req_len);
	if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0)
		return Error::from_errno("sendto(NETLINK_SOCK_DIAG)");

	unsigned seq = nlh->nlmsg_seq, portid = mnl_socket_get_portid(nl.get());
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
		if (n < 0)
			return Error::from_errno("recvfrom(NETLINK_SOCK_DIAG)");
		int r = mnl_cb_run(buf.data(), n, seq, portid, cb, data);
		if (r == MNL_CB_STOP)
			return Ok{};
		if (r < 0)
			return Error::from_errno(what);
	}
}

int on_inet_msg(const nlmsghdr *nlh, void *data)
{
	auto *out = static_cast<std::vector<TcpListener> *>(data);
	auto *r = static_cast<const inet_diag_msg *>(mnl_nlmsg_get_payload(nlh));
	if (r->idiag_state != TCP_LISTEN)
		return MNL_CB_OK;

	TcpListener l;
	char host[INET6_ADDRSTRLEN] = {};
	inet_ntop(r->idiag_family, r->id.idiag_src, host, sizeof(host));
	// Appended: GCC 12's -Wrestrict misfires on "[" + std::string (Release).
	if (r->idiag_family == AF_INET6)
		l.address.append("[").append(host).append("]");
	else
		l.address.append(host);
	l.address.append(":").append(std::to_string(ntohs(r->id.idiag_sport)));
	l.ino = r->idiag_inode;
	l.uid = r->idiag_uid;
	l.waiting = r->idiag_rqueue;
	l.backlog = r->idiag_wqueue;
	out->push_back(std::move(l));
	return MNL_CB_OK;
}

} // namespace

Result<std::vector<DelayCloseEntry>> list_delay_close()
{
	PUDS_TRY(check_kernel_feature());

	unix_diag_req req{};
	req.sdiag_family = AF_UNIX;
	req.udiag_states = ~0u;
	req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_UID | UDIAG_SHOW_DELAY_CLOSE;
	std::vector<DelayCloseEntry> out;
	Ctx ctx{&out};
	PUDS_TRY(sock_diag_dump(&req, sizeof(req), on_msg, &ctx, "unix_diag dump"));
	return out;
}

Result<std::vector<TcpListener>> list_tcp_listeners()
{
	std::vector<TcpListener> out;
	for (int family : {AF_INET, AF_INET6}) {
		inet_diag_req_v2 req{};
		req.sdiag_family = static_cast<std::uint8_t>(family);
		req.sdiag_protocol = IPPROTO_TCP;
		req.idiag_states = 1u << TCP_LISTEN;
		PUDS_TRY(sock_diag_dump(&req, sizeof(req), on_inet_msg, &out, "inet_diag dump"));
	}
	return out;
}

bool TcpListener::backlog_nearly_full() const
{
	return backlog > 0 && std::uint64_t(waiting) * 100 >= std::uint64_t(backlog) * 80;
}

SocketOwners scan_socket_owners(const std::string &proc)
{
	SocketOwners o;
	std::unique_ptr<DIR, int (*)(DIR *)> d(opendir(proc.c_str()), closedir);
	if (!d) {
		o.complete = false;
		return o;
	}
	while (dirent *pe = readdir(d.get())) {
		if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
			continue;
		std::string fddir = proc + "/" + pe->d_name + "/fd";
		std::unique_ptr<DIR, int (*)(DIR *)> fds(opendir(fddir.c_str()), closedir);
		if (!fds) {
			if (errno != ENOENT && errno != ESRCH)	// not gone: hidden from us
				o.complete = false;
			continue;
		}
		while (dirent *fe = readdir(fds.get())) {
			char link[64];
			ssize_t n = readlinkat(dirfd(fds.get()), fe->d_name, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = 0;
			unsigned long long ino;
			if (std::sscanf(link, "socket:[%llu]", &ino) == 1)
				o.inodes.insert(ino);
		}
	}
	return o;
}

StatusReport StatusReport::make(std::vector<DelayCloseEntry> entries,
				const std::vector<TcpListener> &listeners,
				const SocketOwners &owners)
{
	StatusReport r;
	r.entries = std::move(entries);
	r.owner_scan_complete = owners.complete;
	for (const auto &l : listeners)
		if (l.ino && !owners.inodes.count(l.ino))
			r.unowned.push_back(l);
	if (r.unowned.empty())
		return r;

	std::size_t candidates = 0;
	for (std::size_t i = 0; i < r.entries.size(); i++) {
		const auto &e = r.entries[i];
		if (e.state != DelayCloseEntry::State::armed && e.fds > 0) {
			candidates++;
			r.attributed_to = i;
		}
	}
	r.attribution = candidates == 1 && r.unowned.size() <= r.entries[r.attributed_to].fds
				? Attribution::only_parked_queue
				: Attribution::ambiguous;
	return r;
}

const char *StatusReport::attribution_name() const
{
	switch (attribution) {
	case Attribution::only_parked_queue:
		return "only-parked-queue";
	case Attribution::ambiguous:
		return "ambiguous";
	default:
		return "none";
	}
}

namespace {

bool valid_utf8(std::string_view s)
{
	std::size_t i = 0;
	while (i < s.size()) {
		auto c = static_cast<unsigned char>(s[i]);
		std::size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
		if (n == 9)
			return false;
		std::uint32_t cp = n == 0 ? c : c & (0x3f >> n);
		for (std::size_t k = 1; k <= n; k++) {
			if (i + k >= s.size())
				return false;
			auto cc = static_cast<unsigned char>(s[i + k]);
			if ((cc & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (cc & 0x3f);
		}
		static constexpr std::uint32_t min[] = {0, 0x80, 0x800, 0x10000};
		if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

void json_string(std::string &out, std::string_view s)
{
	out += '"';
	for (char ch : s) {
		auto c = static_cast<unsigned char>(ch);
		switch (c) {
		case '"':
			out += "\\\"";
			break;
		case '\\':
			out += "\\\\";
			break;
		case '\n':
			out += "\\n";
			break;
		case '\t':
			out += "\\t";
			break;
		case '\r':
			out += "\\r";
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char esc[8];
				std::snprintf(esc, sizeof(esc), "\\u%04x", c);
				out += esc;
			} else {
				out += ch;
			}
		}
	}
	out += '"';
}

// ", \"KEY\": VALUE" (VALUE already JSON).  Appended piece by piece: GCC 12's
// -Wrestrict misfires on "..." + std::string in Release builds.
void json_member(std::string &out, const char *key, std::string_view value)
{
	out.append(", \"").append(key).append("\": ").append(value);
}

void json_listener(std::string &out, const TcpListener &l, const char *indent)
{
	out += indent;
	out += "{\"protocol\": \"tcp\", \"address\": ";
	json_string(out, l.address);
	json_member(out, "inode", std::to_string(l.ino));
	json_member(out, "uid", std::to_string(l.uid));
	json_member(out, "waiting", std::to_string(l.waiting));
	json_member(out, "backlog", std::to_string(l.backlog));
	json_member(out, "backlog_nearly_full", l.backlog_nearly_full() ? "true" : "false");
	out += "}";
}

void json_listeners(std::string &out, const std::vector<TcpListener> &ls, const char *indent)
{
	if (ls.empty()) {
		out += "[]";
		return;
	}
	out += "[\n";
	for (std::size_t i = 0; i < ls.size(); i++) {
		json_listener(out, ls[i], indent);
		out += i + 1 < ls.size() ? ",\n" : "\n";
	}
	out.append(indent, std::strlen(indent) - 2);
	out += "]";
}

const char *match_note(const StatusReport &r)
{
	switch (r.attribution) {
	case StatusReport::Attribution::only_parked_queue:
		return "the kernel does not report which sockets a parked queue holds: these are the "
		       "TCP listeners no process has open, given to the only queue parked with fds";
	case StatusReport::Attribution::ambiguous:
		return "the kernel does not report which sockets a parked queue holds: these are the "
		       "TCP listeners no process has open; more than one queue (or none, or too few "
		       "fds) could hold them";
	default:
		return "no TCP listener without an owning process";
	}
}

bool has_age(const DelayCloseEntry &e)
{
	return e.state == DelayCloseEntry::State::parked;
}

} // namespace

std::string status_json(const StatusReport &r)
{
	std::string out = "{\n  \"version\": 1,\n  \"entries\": [";
	for (std::size_t i = 0; i < r.entries.size(); i++) {
		const auto &e = r.entries[i];
		bool armed = e.state == DelayCloseEntry::State::armed;
		out += i ? ",\n    {" : "\n    {";
		out += "\"state\": ";
		json_string(out, e.state_name());
		out += ", \"path\": ";
		if (e.path.empty()) {
			out += "null";
		} else if (valid_utf8(e.path)) {
			json_string(out, e.path);
		} else {
			out += "null, \"path_hex\": \"";
			for (char c : e.path) {
				char h[3];
				std::snprintf(h, sizeof(h), "%02x", static_cast<unsigned char>(c));
				out += h;
			}
			out += '"';
		}
		json_member(out, "inode", std::to_string(e.ino));
		json_member(out, "uid", std::to_string(e.uid));
		json_member(out, "delay_ms", std::to_string(e.delay_ms));
		json_member(out, "age_ms", has_age(e) ? std::to_string(e.delay_ms >= e.remaining_ms
								 ? e.delay_ms - e.remaining_ms : 0)
						   : "null");
		json_member(out, "remaining_ms", armed ? "null" : std::to_string(e.remaining_ms));
		json_member(out, "datagrams", std::to_string(e.queued));
		json_member(out, "fds", std::to_string(e.fds));
		out += ", \"listeners\": ";
		if (r.attribution == StatusReport::Attribution::only_parked_queue && r.attributed_to == i)
			json_listeners(out, r.unowned, "      ");
		else
			out += "[]";
		out += "}";
	}
	out += r.entries.empty() ? "],\n" : "\n  ],\n";
	out += "  \"listener_match\": {\"method\": \"unowned-tcp-listeners\", \"attribution\": ";
	json_string(out, r.attribution_name());
	out += ", \"owner_scan_complete\": ";
	out += r.owner_scan_complete ? "true" : "false";
	out += ", \"note\": ";
	json_string(out, match_note(r));
	out += "},\n  \"unattributed_listeners\": ";
	if (r.attribution == StatusReport::Attribution::ambiguous)
		json_listeners(out, r.unowned, "    ");
	else
		out += "[]";
	out += "\n}\n";
	return out;
}

std::string status_text(const StatusReport &r)
{
	std::string out;
	char line[512];
	auto listener_line = [&](const TcpListener &l, const char *indent) {
		std::snprintf(line, sizeof(line), "%stcp %s: %u waiting (backlog %u), inode %u\n",
			      indent, l.address.c_str(), l.waiting, l.backlog, l.ino);
		out += line;
	};
	std::snprintf(line, sizeof(line), "%-9s %10s %8s %5s %6s %10s  %s\n", "STATE", "LEFT_MS",
		      "QUEUED", "FDS", "UID", "INODE", "PATH");
	out += line;
	for (std::size_t i = 0; i < r.entries.size(); i++) {
		const auto &e = r.entries[i];
		std::snprintf(line, sizeof(line), "%-9s %10s %8u %5u %6u %10u  ", e.state_name(),
			      e.state == DelayCloseEntry::State::armed
				      ? "-" : std::to_string(e.remaining_ms).c_str(),
			      e.queued, e.fds, e.uid, e.ino);
		out += line;
		out += e.path.empty() ? "(unbound)" : e.path;
		out += "\n";
		if (r.attribution == StatusReport::Attribution::only_parked_queue && r.attributed_to == i)
			for (const auto &l : r.unowned)
				listener_line(l, "  ");
	}
	if (r.entries.empty())
		out += "(no socket with UNIX_DELAY_CLOSE, nothing parked)\n";
	if (r.attribution == StatusReport::Attribution::ambiguous) {
		out += "TCP listeners no process has open (parked or in flight; which queue holds "
		       "them is not known):\n";
		for (const auto &l : r.unowned)
			listener_line(l, "  ");
	}
	if (r.attribution != StatusReport::Attribution::none) {
		out += "(listeners: the kernel does not report which sockets a parked queue holds; "
		       "shown are the TCP listeners no process has open";
		out += r.owner_scan_complete ? ")\n"
					     : "; not every process's fds could be read, run as "
					       "root to leave out those other users hold)\n";
	}
	for (const auto &l : r.unowned)
		if (l.backlog_nearly_full()) {
			std::snprintf(line, sizeof(line),
				      "WARNING: tcp %s: backlog nearly full, %u of %u connections "
				      "waiting: new ones are dropped once it is full; start the server\n",
				      l.address.c_str(), l.waiting, l.backlog);
			out += line;
		}
	return out;
}

} // namespace puds
