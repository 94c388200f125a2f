// Line-by-line reading of the host's own text formats (checkpoint headers, membership
// plans), so that every parse error names the source and the line in the same words.
// A reader is a cursor over text it does not own; one thread uses it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "secateurs/export.h"

namespace secateurs::host {

class SECATEURS_API LineReader {
 public:
  // `text` must outlive the reader; `source` (usually the file's path) starts each message.
  LineReader(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {}

  bool at_end() const { return position_ == text_.size(); }
  // Offset of the first byte not yet read (e.g. binary data after a text header).
  std::size_t position() const { return position_; }
  int line_number() const { return line_number_; }
  const std::string& source() const { return source_; }

  // The next line without its "\n". Throws DataError "<source>: truncated: ..." when no
  // complete line is left.
  std::string_view next();

  // The next line, which must be "<key> <value>" (or "<key>" alone when `allow_empty`);
  // returns the value.
  std::string_view keyed(std::string_view key, bool allow_empty = false);
  // The next line, which must be "<key> <decimal number>".
  std::uint64_t number(std::string_view key);

  // Throws DataError "<source>, line <n>: <what>" for the line read last.
  [[noreturn]] void fail(const std::string& what) const;

 private:
  std::string_view text_;
  std::string source_;
  std::size_t position_ = 0;
  int line_number_ = 0;
};

// `text` in single quotes for a message, cut at `limit` characters, with '%', '=' and
// control bytes written as %XX so that binary garbage stays on one readable line.
SECATEURS_API std::string quoted_excerpt(std::string_view text, std::size_t limit = 60);

// %XX for '%', '=' and the bytes below 0x20 or 0x7f; the rest as it is. Keeps keys and
// values of "key=value" lines on one line and unambiguous.
SECATEURS_API std::string percent_encode(std::string_view text);
// The inverse; nothing when `text` has a '%' without two hex digits after it.
SECATEURS_API std::optional<std::string> percent_decode(std::string_view text);

}  // namespace secateurs::host
