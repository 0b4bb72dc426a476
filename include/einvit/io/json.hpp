// einvit/io/json.hpp — a small, strict JSON reader for file headers (safetensors, index files).
//
// It parses a whole document into a tree of values, or reports where and why it is not JSON. It is
// built for hostile input: nesting depth is capped, strings must be valid UTF-8, numbers keep their
// text (so integers are read exactly, never through a double), duplicate keys in an object are
// reported, and nothing is allocated beyond the nodes the text itself describes, of which there may be
// at most Parser::max_values (a node takes about a hundred bytes, so a text of "[0,0,0,...]" would
// otherwise take fifty times its size in memory).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "einvit/core/config.hpp"

namespace einvit::inline EINVIT_ABI::json {

enum class Kind { null, boolean, number, string, array, object };

/// One JSON value. Objects keep their members in file order.
struct Value {
    Kind kind = Kind::null;
    bool boolean = false;
    std::string text;  ///< a string's decoded text, or a number's literal text
    std::vector<Value> items;      ///< array elements
    std::vector<std::string> keys;  ///< object members' keys, in file order
    std::vector<Value> values;      ///< object members' values, keys[i] -> values[i]

    /// The member named `key`, or null.
    const Value* find(std::string_view key) const noexcept {
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == key) return &values[i];
        return nullptr;
    }
    /// A number that is a non-negative integer within 64 bits: its value in `out`.
    bool as_size(std::uint64_t& out) const noexcept {
        if (kind != Kind::number || text.empty()) return false;
        std::uint64_t v = 0;
        for (char c : text) {
            if (c < '0' || c > '9') return false;  // negative, fraction or exponent
            const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
            if (v > (UINT64_MAX - d) / 10) return false;
            v = v * 10 + d;
        }
        out = v;
        return true;
    }
};

/// The class of a ParseError.
enum class Problem { syntax, not_utf8, too_deep, duplicate_key, too_many_values };

/// Why a text is not acceptable JSON, and where (byte offset).
struct ParseError {
    std::string message;
    std::size_t offset = 0;
    Problem problem = Problem::syntax;
};

class Parser {
public:
    static constexpr std::size_t max_depth = 64;
    /// At most this many values (every number, string, array and object counts one): a safetensors
    /// header takes about ten per tensor, an index one per tensor.
    static constexpr std::size_t max_values = 1000000;

    explicit Parser(std::string_view text) : s_(text) {}

    /// Parses the whole text as one value; false with error() set when it is not JSON.
    bool parse(Value& out) {
        skip_ws();
        if (!value(out, 0)) return false;
        skip_ws();
        if (i_ != s_.size()) return fail("trailing characters after the JSON value");
        return true;
    }
    const ParseError& error() const noexcept { return error_; }

private:
    bool fail(const char* message, Problem problem = Problem::syntax) {
        error_.message = message;
        error_.offset = i_;
        error_.problem = problem;
        return false;
    }
    void skip_ws() noexcept {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) return fail("unknown literal");
        i_ += word.size();
        return true;
    }

    bool value(Value& v, std::size_t depth) {
        if (depth > max_depth) return fail("JSON nested too deeply", Problem::too_deep);
        if (++values_ > max_values) return fail("more than 1000000 JSON values", Problem::too_many_values);
        if (i_ >= s_.size()) return fail("unexpected end of JSON");
        switch (s_[i_]) {
            case '{': return object(v, depth);
            case '[': return array(v, depth);
            case '"': v.kind = Kind::string; return string(v.text);
            case 't': v.kind = Kind::boolean; v.boolean = true; return literal("true");
            case 'f': v.kind = Kind::boolean; v.boolean = false; return literal("false");
            case 'n': v.kind = Kind::null; return literal("null");
            default: return number(v);
        }
    }

    bool number(Value& v) {
        const std::size_t start = i_;
        auto digits = [&] {
            const std::size_t d = i_;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
            return i_ > d;
        };
        if (i_ < s_.size() && s_[i_] == '-') ++i_;
        if (i_ < s_.size() && s_[i_] == '0')
            ++i_;
        else if (!digits())
            return fail("invalid character where a JSON value should start");
        if (i_ < s_.size() && s_[i_] == '.') {
            ++i_;
            if (!digits()) return fail("a number's fraction has no digits");
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            if (!digits()) return fail("a number's exponent has no digits");
        }
        v.kind = Kind::number;
        v.text.assign(s_.substr(start, i_ - start));
        return true;
    }

    static void put_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool hex4(std::uint32_t& cp) {
        if (s_.size() - i_ < 4) return fail("a \\u escape needs four hex digits");
        cp = 0;
        for (int n = 0; n < 4; ++n) {
            const char c = s_[i_++];
            cp <<= 4;
            if (c >= '0' && c <= '9') cp |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') cp |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') cp |= static_cast<std::uint32_t>(c - 'A' + 10);
            else return fail("a \\u escape needs four hex digits");
        }
        return true;
    }

    // One UTF-8 sequence starting at i_, validated (no overlongs, no surrogates, at most U+10FFFF).
    bool utf8(std::string& out) {
        const auto b0 = static_cast<unsigned char>(s_[i_]);
        std::size_t len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
        if (len == 0 || s_.size() - i_ < len) return fail("a string is not valid UTF-8", Problem::not_utf8);
        std::uint32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1Fu) : len == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
        for (std::size_t k = 1; k < len; ++k) {
            const auto b = static_cast<unsigned char>(s_[i_ + k]);
            if ((b & 0xC0) != 0x80) return fail("a string is not valid UTF-8", Problem::not_utf8);
            cp = (cp << 6) | (b & 0x3Fu);
        }
        const std::uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return fail("a string is not valid UTF-8", Problem::not_utf8);
        out.append(s_.substr(i_, len));
        i_ += len;
        return true;
    }

    bool string(std::string& out) {
        ++i_;  // the opening quote
        out.clear();
        while (true) {
            if (i_ >= s_.size()) return fail("a string is not closed");
            const char c = s_[i_];
            if (c == '"') {
                ++i_;
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) return fail("a control character inside a string");
            if (c != '\\') {
                if (!utf8(out)) return false;
                continue;
            }
            if (++i_ >= s_.size()) return fail("a string is not closed");
            const char e = s_[i_++];
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
                    std::uint32_t cp = 0;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
                        std::uint32_t lo = 0;
                        if (s_.substr(i_, 2) != "\\u") return fail("an unpaired surrogate in a \\u escape");
                        i_ += 2;
                        if (!hex4(lo)) return false;
                        if (lo < 0xDC00 || lo > 0xDFFF) return fail("an unpaired surrogate in a \\u escape");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return fail("an unpaired surrogate in a \\u escape");
                    }
                    put_utf8(out, cp);
                    break;
                }
                default: return fail("an unknown escape in a string");
            }
        }
    }

    bool array(Value& v, std::size_t depth) {
        v.kind = Kind::array;
        ++i_;
        skip_ws();
        if (i_ < s_.size() && s_[i_] == ']') {
            ++i_;
            return true;
        }
        while (true) {
            v.items.emplace_back();
            skip_ws();
            if (!value(v.items.back(), depth + 1)) return false;
            skip_ws();
            if (i_ >= s_.size()) return fail("an array is not closed");
            if (s_[i_] == ']') {
                ++i_;
                return true;
            }
            if (s_[i_] != ',') return fail("expected ',' or ']' in an array");
            ++i_;
        }
    }

    bool object(Value& v, std::size_t depth) {
        v.kind = Kind::object;
        ++i_;
        skip_ws();
        if (i_ < s_.size() && s_[i_] == '}') {
            ++i_;
            return true;
        }
        while (true) {
            skip_ws();
            if (i_ >= s_.size() || s_[i_] != '"') return fail("expected a string key in an object");
            std::string key;
            if (!string(key)) return false;
            skip_ws();
            if (i_ >= s_.size() || s_[i_] != ':') return fail("expected ':' after an object key");
            ++i_;
            skip_ws();
            v.keys.push_back(std::move(key));
            v.values.emplace_back();
            if (!value(v.values.back(), depth + 1)) return false;
            skip_ws();
            if (i_ >= s_.size()) return fail("an object is not closed");
            if (s_[i_] == '}') {
                ++i_;
                return unique_keys(v);
            }
            if (s_[i_] != ',') return fail("expected ',' or '}' in an object");
            ++i_;
        }
    }

    // Duplicate keys are ambiguous (readers disagree on which one wins), so they are an error.
    bool unique_keys(const Value& v) {
        std::vector<std::string_view> keys(v.keys.begin(), v.keys.end());
        std::sort(keys.begin(), keys.end());
        if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) return fail("a key appears twice in one object", Problem::duplicate_key);
        return true;
    }

    std::string_view s_;
    std::size_t i_ = 0, values_ = 0;
    ParseError error_;
};

}  // namespace einvit::json
