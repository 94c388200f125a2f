#include "host/line_reader.h"

#include <charconv>

#include "secateurs/error.h"

namespace secateurs::host {

std::string_view LineReader::next() {
  const std::size_t end = text_.find('\n', position_);
  if (end == std::string_view::npos) {
    throw DataError(source_ + ": truncated: the file ends before line " +
                    std::to_string(line_number_ + 1) + " is complete");
  }
  const std::string_view line = text_.substr(position_, end - position_);
  position_ = end + 1;
  ++line_number_;
  return line;
}

std::string_view LineReader::keyed(std::string_view key, bool allow_empty) {
  const std::string_view line = next();
  if (allow_empty && line == key) return {};
  if (line.size() <= key.size() || !line.starts_with(key) || line[key.size()] != ' ') {
    fail("expected '" + std::string(key) + " ...', found " + quoted_excerpt(line));
  }
  return line.substr(key.size() + 1);
}

std::uint64_t LineReader::number(std::string_view key) {
  const std::string_view value = keyed(key);
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc() || end != value.data() + value.size()) {
    fail("expected '" + std::string(key) + " <number>', found " +
         quoted_excerpt(std::string(key) + " " + std::string(value)));
  }
  return number;
}

void LineReader::fail(const std::string& what) const {
  throw DataError(source_ + ", line " + std::to_string(line_number_) + ": " + what);
}

std::string quoted_excerpt(std::string_view text, std::size_t limit) {
  return "'" + percent_encode(text.substr(0, limit)) + (text.size() > limit ? "...'" : "'");
}

std::string percent_encode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte == '%' || byte == '=' || byte < 0x20 || byte == 0x7f) {
      out += '%';
      out += kDigits[byte >> 4];
      out += kDigits[byte & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view text) {
  auto digit = [](char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = digit(text[i + 1]), low = digit(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

}  // namespace secateurs::host
