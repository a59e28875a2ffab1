// SPDX-License-Identifier: LGPL-2.1-or-later
// `puds status`'s report, from synthetic entries (no kernel needed): the
// JSON writer's structure and escaping, read back with a strict parser;
// which listeners are attributed to which queue; the text's listener and
// warning lines.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "guest/json_mini.hpp"
#include "puds/diag.hpp"

using namespace puds;
using json_mini::Value;

namespace {

DelayCloseEntry entry(DelayCloseEntry::State st, std::string path, std::uint32_t ino,
		      std::uint32_t fds, std::uint32_t delay = 10000, std::uint32_t left = 7500)
{
	DelayCloseEntry e{};
	e.state = st;
	e.path = std::move(path);
	e.ino = ino;
	e.uid = 1000;
	e.delay_ms = delay;
	e.remaining_ms = st == DelayCloseEntry::State::armed ? 0 : left;
	e.queued = fds ? 1 : 0;
	e.fds = fds;
	return e;
}

TcpListener listener(std::string addr, std::uint32_t ino, std::uint32_t waiting,
		     std::uint32_t backlog)
{
	TcpListener l;
	l.address = std::move(addr);
	l.ino = ino;
	l.uid = 1000;
	l.waiting = waiting;
	l.backlog = backlog;
	return l;
}

Value parsed(const StatusReport &r)
{
	std::string json = status_json(r), err;
	INFO(json);
	auto v = json_mini::parse(json, &err);
	INFO(err);
	REQUIRE(v);
	REQUIRE(v->type == Value::Type::object);
	return *v;
}

double num(const Value *v)
{
	REQUIRE(v);
	REQUIRE(v->type == Value::Type::number);
	return v->num;
}

const std::string &str(const Value *v)
{
	REQUIRE(v);
	REQUIRE(v->type == Value::Type::string);
	return v->str;
}

const std::vector<Value> &arr(const Value *v)
{
	REQUIRE(v);
	REQUIRE(v->type == Value::Type::array);
	return v->arr;
}

} // namespace

TEST_CASE("status: a parked queue with its listeners, read back from JSON")
{
	using S = DelayCloseEntry::State;
	SocketOwners owners;
	owners.inodes = {500, 600};	// the running server's listeners
	auto r = StatusReport::make(
		{entry(S::armed, "/run/a/rv", 11, 0), entry(S::parked, "/run/b/rv", 22, 2)},
		{listener("127.0.0.1:80", 500, 0, 4096), listener("127.0.0.1:8080", 700, 20, 4096),
		 listener("[::1]:8443", 701, 410, 511), listener("0.0.0.0:22", 600, 0, 128)},
		owners);
	REQUIRE(r.attribution == StatusReport::Attribution::only_parked_queue);
	auto v = parsed(r);

	CHECK(num(v.get("version")) == 1);
	const auto &entries = arr(v.get("entries"));
	REQUIRE(entries.size() == 2);
	const Value &armed = entries[0], &parked = entries[1];
	CHECK(str(armed.get("state")) == "armed");
	CHECK(str(armed.get("path")) == "/run/a/rv");
	CHECK(armed.get("age_ms")->is_null());
	CHECK(armed.get("remaining_ms")->is_null());
	CHECK(arr(armed.get("listeners")).empty());

	CHECK(str(parked.get("state")) == "parked");
	CHECK(str(parked.get("path")) == "/run/b/rv");
	CHECK(num(parked.get("inode")) == 22);
	CHECK(num(parked.get("uid")) == 1000);
	CHECK(num(parked.get("delay_ms")) == 10000);
	CHECK(num(parked.get("remaining_ms")) == 7500);
	CHECK(num(parked.get("age_ms")) == 2500);
	CHECK(num(parked.get("datagrams")) == 1);
	CHECK(num(parked.get("fds")) == 2);
	const auto &ls = arr(parked.get("listeners"));
	REQUIRE(ls.size() == 2);	// not the two some process has open
	CHECK(str(ls[0].get("protocol")) == "tcp");
	CHECK(str(ls[0].get("address")) == "127.0.0.1:8080");
	CHECK(num(ls[0].get("inode")) == 700);
	CHECK(num(ls[0].get("waiting")) == 20);
	CHECK(num(ls[0].get("backlog")) == 4096);
	CHECK(ls[0].get("backlog_nearly_full")->type == Value::Type::boolean);
	CHECK(!ls[0].get("backlog_nearly_full")->b);
	CHECK(str(ls[1].get("address")) == "[::1]:8443");
	CHECK(ls[1].get("backlog_nearly_full")->b);	// 410 of 511: 80.2%

	const Value *m = v.get("listener_match");
	REQUIRE(m);
	CHECK(str(m->get("method")) == "unowned-tcp-listeners");
	CHECK(str(m->get("attribution")) == "only-parked-queue");
	CHECK(m->get("owner_scan_complete")->b);
	CHECK(str(m->get("note")).find("does not report") != std::string::npos);
	CHECK(arr(v.get("unattributed_listeners")).empty());

	std::string text = status_text(r);
	INFO(text);
	CHECK(text.find("STATE        LEFT_MS   QUEUED   FDS    UID      INODE  PATH\n") == 0);
	CHECK(text.find("\nparked          7500        1     2   1000         22  /run/b/rv\n"
			"  tcp 127.0.0.1:8080: 20 waiting (backlog 4096), inode 700\n"
			"  tcp [::1]:8443: 410 waiting (backlog 511), inode 701\n") != std::string::npos);
	CHECK(text.find("WARNING: tcp [::1]:8443: backlog nearly full, 410 of 511") != std::string::npos);
	CHECK(text.find("WARNING: tcp 127.0.0.1:8080") == std::string::npos);
}

TEST_CASE("status: the backlog is nearly full from 80% on")
{
	CHECK(!listener("a", 1, 0, 0).backlog_nearly_full());
	CHECK(!listener("a", 1, 79, 100).backlog_nearly_full());
	CHECK(listener("a", 1, 80, 100).backlog_nearly_full());
	CHECK(listener("a", 1, 101, 100).backlog_nearly_full());
	CHECK(listener("a", 1, 4000000000u, 4294967295u).backlog_nearly_full());
}

TEST_CASE("status: listeners no queue can be told to hold are listed apart")
{
	using S = DelayCloseEntry::State;
	SocketOwners owners;
	owners.complete = false;
	const std::vector<TcpListener> ls = {listener("127.0.0.1:1", 9, 3, 10)};

	// Two queues parked with fds.
	auto two = StatusReport::make({entry(S::parked, "/a", 1, 1), entry(S::adopting, "/b", 2, 1)},
				      ls, owners);
	CHECK(two.attribution == StatusReport::Attribution::ambiguous);
	auto v = parsed(two);
	for (const auto &e : arr(v.get("entries")))
		CHECK(arr(e.get("listeners")).empty());
	CHECK(arr(v.get("entries"))[1].get("age_ms")->is_null());	// adopting: no expiry
	CHECK(num(arr(v.get("entries"))[1].get("remaining_ms")) == 7500);
	const auto &un = arr(v.get("unattributed_listeners"));
	REQUIRE(un.size() == 1);
	CHECK(num(un[0].get("waiting")) == 3);
	CHECK(str(v.get("listener_match")->get("attribution")) == "ambiguous");
	CHECK(!v.get("listener_match")->get("owner_scan_complete")->b);
	std::string text = status_text(two);
	CHECK(text.find("which queue holds them is not known):\n  tcp 127.0.0.1:1: 3 waiting") !=
	      std::string::npos);
	CHECK(text.find("run as root") != std::string::npos);

	// No queue parked, or one with fewer fds than unowned listeners.
	CHECK(StatusReport::make({entry(S::armed, "/a", 1, 0)}, ls, owners).attribution ==
	      StatusReport::Attribution::ambiguous);
	CHECK(StatusReport::make({entry(S::parked, "/a", 1, 1)},
				 {listener("x:1", 9, 0, 1), listener("x:2", 10, 0, 1)}, owners)
		      .attribution == StatusReport::Attribution::ambiguous);
	// Every listener owned: nothing to match.
	owners.inodes = {9};
	auto none = StatusReport::make({entry(S::parked, "/a", 1, 1)}, ls, owners);
	CHECK(none.attribution == StatusReport::Attribution::none);
	CHECK(str(parsed(none).get("listener_match")->get("attribution")) == "none");
	// A listener without an inode (closed meanwhile) is nobody's.
	owners.inodes.clear();
	CHECK(StatusReport::make({entry(S::parked, "/a", 1, 1)}, {listener("x:1", 0, 0, 1)}, owners)
		      .attribution == StatusReport::Attribution::none);
}

TEST_CASE("status: JSON strings are escaped and any path survives the round trip")
{
	using S = DelayCloseEntry::State;
	const std::string nasty = std::string("/tmp/q\"uo\\te\n\t\r\x01\x1f\x7f/\xc3\xa9t\xc3\xa9/") +
				  "\xf0\x9f\x98\x80" + "/</script>";
	auto r = StatusReport::make({entry(S::parked, nasty, 1, 0), entry(S::armed, "", 2, 0),
				     entry(S::parked, std::string("/bad\xff\xc3(", 7), 3, 0),
				     entry(S::parked, "/surrogate\xed\xa0\x80", 4, 0),
				     entry(S::parked, "/overlong\xc0\xaf", 5, 0)},
				    {listener("1.2.3.4:5", 77, 0, 0)}, SocketOwners{});
	std::string json = status_json(r);
	for (char c : json)	// every control character escaped (the newlines are layout)
		CHECK((static_cast<unsigned char>(c) >= 0x20 || c == '\n'));
	CHECK(json.find('\x7f') == std::string::npos);
	auto v = parsed(r);
	const auto &e = arr(v.get("entries"));
	REQUIRE(e.size() == 5);
	CHECK(str(e[0].get("path")) == nasty);
	CHECK(e[0].get("path_hex") == nullptr);
	CHECK(e[1].get("path")->is_null());	// unbound
	for (int i : {2, 3, 4})
		CHECK(e[i].get("path")->is_null());
	CHECK(str(e[2].get("path_hex")) == "2f626164ffc328");
	CHECK(str(e[3].get("path_hex")) == "2f737572726f67617465eda080");
	CHECK(str(e[4].get("path_hex")) == "2f6f7665726c6f6e67c0af");
	// No entries at all is still a whole document.
	auto empty = parsed(StatusReport::make({}, {}, SocketOwners{}));
	CHECK(arr(empty.get("entries")).empty());
	CHECK(status_text(StatusReport::make({}, {}, SocketOwners{})).find("nothing parked") !=
	      std::string::npos);
}

TEST_CASE("status: the test's JSON parser refuses what is not JSON")
{
	for (const char *bad : {"", "{", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "\"\\x\"", "\"a\nb\"",
				"01", "1.", "{\"a\":1}{", "nul", "\"\\ud800\"", "{\"a\":1,\"a\":2}"}) {
		INFO(bad);
		CHECK(!json_mini::parse(bad));
	}
	auto v = json_mini::parse(" {\"k\": [true, false, null, -1.5e3, \"\\u00e9\\ud83d\\ude00\\/\"]} ");
	REQUIRE(v);
	const auto &a = v->get("k")->arr;
	REQUIRE(a.size() == 5);
	CHECK(a[3].num == -1500);
	CHECK(a[4].str == "\xc3\xa9\xf0\x9f\x98\x80/");
}
