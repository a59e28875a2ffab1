// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/diag.hpp"

#include <libmnl/libmnl.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/unix_diag_delay_close.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>

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

Result<std::vector<DelayCloseEntry>> list_delay_close()
{
	PUDS_TRY(check_kernel_feature());

	std::unique_ptr<mnl_socket, int (*)(mnl_socket *)> nl(mnl_socket_open(NETLINK_SOCK_DIAG),
								mnl_socket_close);
	if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
		return Error::from_errno("mnl_socket_open(NETLINK_SOCK_DIAG)");

	std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
	nlmsghdr *nlh = mnl_nlmsg_put_header(buf.data());
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = static_cast<unsigned>(getpid());
	auto *req = static_cast<unix_diag_req *>(mnl_nlmsg_put_extra_header(nlh, sizeof(unix_diag_req)));
	req->sdiag_family = AF_UNIX;
	req->udiag_states = ~0u;
	req->udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_UID | UDIAG_SHOW_DELAY_CLOSE;
	if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0)
		return Error::from_errno("sendto(NETLINK_SOCK_DIAG)");

	std::vector<DelayCloseEntry> out;
	Ctx ctx{&out};
	unsigned portid = mnl_socket_get_portid(nl.get());
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
		if (n < 0)
			return Error::from_errno("recvfrom(NETLINK_SOCK_DIAG)");
		int r = mnl_cb_run(buf.data(), n, nlh->nlmsg_seq, portid, on_msg, &ctx);
		if (r == MNL_CB_STOP)
			break;
		if (r < 0)
			return Error::from_errno("unix_diag dump");
	}
	return out;
}

} // namespace puds
