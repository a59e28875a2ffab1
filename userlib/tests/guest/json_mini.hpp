// SPDX-License-Identifier: LGPL-2.1-or-later
// A minimal, strict JSON parser (RFC 8259) for the tests that read
// `puds status --json` back: objects, arrays, strings (every escape,
// \uXXXX with surrogate pairs, to UTF-8), integers and other numbers,
// true, false, null.  Anything else, or trailing text, is an error.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace json_mini {

struct Value {
	enum class Type { null, boolean, number, string, array, object } type = Type::null;
	bool b = false;
	double num = 0;
	std::string str;
	std::vector<Value> arr;
	std::map<std::string, Value> obj;

	// The member @k of an object; nullptr if this is no object or has none.
	const Value *get(const std::string &k) const
	{
		if (type != Type::object)
			return nullptr;
		auto it = obj.find(k);
		return it == obj.end() ? nullptr : &it->second;
	}
	bool is_null() const { return type == Type::null; }
};

class Parser {
public:
	explicit Parser(std::string_view s) : s_(s) {}

	// The document, or nullopt (error() says where and why).
	std::optional<Value> parse()
	{
		Value v;
		ws();
		if (!value(v, 0))
			return std::nullopt;
		ws();
		if (i_ != s_.size())
			return fail("trailing text");
		return v;
	}
	const std::string &error() const { return err_; }

private:
	std::string_view s_;
	std::size_t i_ = 0;
	std::string err_;

	std::nullopt_t fail(const char *what)
	{
		if (err_.empty())
			err_ = std::string(what) + " at offset " + std::to_string(i_);
		return std::nullopt;
	}
	void ws()
	{
		while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
			i_++;
	}
	bool lit(std::string_view w)
	{
		if (s_.substr(i_, w.size()) != w)
			return false;
		i_ += w.size();
		return true;
	}
	bool value(Value &v, int depth)
	{
		if (depth > 64 || i_ >= s_.size()) {
			fail(depth > 64 ? "too deep" : "unexpected end");
			return false;
		}
		char c = s_[i_];
		if (c == '{')
			return object(v, depth);
		if (c == '[')
			return array(v, depth);
		if (c == '"') {
			v.type = Value::Type::string;
			return string(v.str);
		}
		if (lit("true")) {
			v.type = Value::Type::boolean;
			v.b = true;
			return true;
		}
		if (lit("false")) {
			v.type = Value::Type::boolean;
			return true;
		}
		if (lit("null"))
			return true;
		return number(v);
	}
	bool number(Value &v)
	{
		std::size_t st = i_;
		auto digits = [&] {
			std::size_t d = i_;
			while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
				i_++;
			return i_ > d;
		};
		if (i_ < s_.size() && s_[i_] == '-')
			i_++;
		if (i_ < s_.size() && s_[i_] == '0')
			i_++;
		else if (!digits()) {
			fail("bad value");
			return false;
		}
		if (i_ < s_.size() && s_[i_] == '.') {
			i_++;
			if (!digits()) {
				fail("bad fraction");
				return false;
			}
		}
		if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
			i_++;
			if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-'))
				i_++;
			if (!digits()) {
				fail("bad exponent");
				return false;
			}
		}
		v.type = Value::Type::number;
		v.num = std::strtod(std::string(s_.substr(st, i_ - st)).c_str(), nullptr);
		return true;
	}
	bool hex4(std::uint32_t &u)
	{
		if (i_ + 4 > s_.size())
			return false;
		u = 0;
		for (int k = 0; k < 4; k++) {
			char h = s_[i_++];
			u <<= 4;
			if (h >= '0' && h <= '9')
				u |= h - '0';
			else if (h >= 'a' && h <= 'f')
				u |= h - 'a' + 10;
			else if (h >= 'A' && h <= 'F')
				u |= h - 'A' + 10;
			else
				return false;
		}
		return true;
	}
	static void utf8(std::string &out, std::uint32_t cp)
	{
		if (cp < 0x80) {
			out += char(cp);
		} else if (cp < 0x800) {
			out += char(0xc0 | cp >> 6);
			out += char(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out += char(0xe0 | cp >> 12);
			out += char(0x80 | (cp >> 6 & 0x3f));
			out += char(0x80 | (cp & 0x3f));
		} else {
			out += char(0xf0 | cp >> 18);
			out += char(0x80 | (cp >> 12 & 0x3f));
			out += char(0x80 | (cp >> 6 & 0x3f));
			out += char(0x80 | (cp & 0x3f));
		}
	}
	bool string(std::string &out)
	{
		i_++;	// "
		for (;;) {
			if (i_ >= s_.size()) {
				fail("unterminated string");
				return false;
			}
			auto c = static_cast<unsigned char>(s_[i_++]);
			if (c == '"')
				return true;
			if (c < 0x20) {
				fail("control character in a string");
				return false;
			}
			if (c != '\\') {
				out += char(c);
				continue;
			}
			if (i_ >= s_.size()) {
				fail("unterminated escape");
				return false;
			}
			char e = s_[i_++];
			switch (e) {
			case '"': out += '"'; break;
			case '\\': out += '\\'; break;
			case '/': out += '/'; break;
			case 'b': out += '\b'; break;
			case 'f': out += '\f'; break;
			case 'n': out += '\n'; break;
			case 'r': out += '\r'; break;
			case 't': out += '\t'; break;
			case 'u': {
				std::uint32_t u, lo;
				if (!hex4(u)) {
					fail("bad \\u escape");
					return false;
				}
				if (u >= 0xd800 && u <= 0xdbff) {
					if (!lit("\\u") || !hex4(lo) || lo < 0xdc00 || lo > 0xdfff) {
						fail("lone surrogate");
						return false;
					}
					u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					fail("lone surrogate");
					return false;
				}
				utf8(out, u);
				break;
			}
			default:
				fail("bad escape");
				return false;
			}
		}
	}
	bool array(Value &v, int depth)
	{
		v.type = Value::Type::array;
		i_++;
		ws();
		if (i_ < s_.size() && s_[i_] == ']') {
			i_++;
			return true;
		}
		for (;;) {
			Value e;
			ws();
			if (!value(e, depth + 1))
				return false;
			v.arr.push_back(std::move(e));
			ws();
			if (i_ < s_.size() && s_[i_] == ',') {
				i_++;
				continue;
			}
			if (i_ < s_.size() && s_[i_] == ']') {
				i_++;
				return true;
			}
			fail("expected , or ]");
			return false;
		}
	}
	bool object(Value &v, int depth)
	{
		v.type = Value::Type::object;
		i_++;
		ws();
		if (i_ < s_.size() && s_[i_] == '}') {
			i_++;
			return true;
		}
		for (;;) {
			std::string k;
			ws();
			if (i_ >= s_.size() || s_[i_] != '"') {
				fail("expected a key");
				return false;
			}
			if (!string(k))
				return false;
			ws();
			if (i_ >= s_.size() || s_[i_] != ':') {
				fail("expected :");
				return false;
			}
			i_++;
			ws();
			Value e;
			if (!value(e, depth + 1))
				return false;
			if (!v.obj.emplace(std::move(k), std::move(e)).second) {
				fail("duplicate key");
				return false;
			}
			ws();
			if (i_ < s_.size() && s_[i_] == ',') {
				i_++;
				continue;
			}
			if (i_ < s_.size() && s_[i_] == '}') {
				i_++;
				return true;
			}
			fail("expected , or }");
			return false;
		}
	}
};

inline std::optional<Value> parse(std::string_view s, std::string *error = nullptr)
{
	Parser p(s);
	auto v = p.parse();
	if (!v && error)
		*error = p.error();
	return v;
}

} // namespace json_mini
