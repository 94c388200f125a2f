#include "host/artifact_store.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <functional>
#include <iomanip>
#include <iterator>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "host/atomic_file.h"
#include "host/nearest.h"
#include "host/run_text.h"
#include "secateurs/error.h"
#include "secateurs/version.h"

namespace secateurs::host {

namespace fs = std::filesystem;
using SystemClock = std::chrono::system_clock;

namespace detail {

// What an ArtifactStore and its PendingArtifacts share. `lock_fd` holds the store's flock
// for as long as any of them lives.
struct StoreState {
  fs::path root;
  fs::path objects;
  fs::path tmp;
  fs::path runs;
  int lock_fd = -1;
  // Shared by find, inspect, list, begin, commit and record_run; exclusive for gc and
  // remove, so that they never remove what another thread of this process is publishing.
  mutable std::shared_mutex maintenance;
  // Names under tmp/ of live PendingArtifacts, which cleanup must leave alone.
  mutable std::mutex pending_mutex;
  std::set<std::string> pending;

  StoreState() = default;
  StoreState(const StoreState&) = delete;
  StoreState& operator=(const StoreState&) = delete;
  ~StoreState() {
    if (lock_fd >= 0) ::close(lock_fd);
  }

  bool claim_pending(const std::string& name) {
    std::lock_guard lock(pending_mutex);
    return pending.insert(name).second;
  }
  bool is_pending(const std::string& name) const {
    std::lock_guard lock(pending_mutex);
    return pending.count(name) != 0;
  }
  void forget_pending(const std::string& name) noexcept {
    std::lock_guard lock(pending_mutex);
    pending.erase(name);
  }
};

}  // namespace detail

namespace {

constexpr std::string_view kStoreHeader = "secateurs-store 1\n";
constexpr std::string_view kArtifactHeader = "secateurs-artifact 1";
constexpr const char* kRecordName = "artifact.txt";
constexpr std::size_t kMaxKindLength = 40;
constexpr std::size_t kMaxRunNameLength = 200;

// The errno overload lives in host/atomic_file.h; this one adds std::error_code.
using host::os_reason;
std::string os_reason(const std::error_code& error) {
  if (error.category() == std::system_category() || error.category() == std::generic_category()) {
    return os_reason(error.value());
  }
  return error.message();
}

std::string quoted(const fs::path& path) {
  return "'" + path.string() + "'";
}

[[noreturn]] void fail(const std::string& doing, const fs::path& path, int error) {
  throw Error("cannot " + doing + " " + quoted(path) + ": " + os_reason(error));
}

[[noreturn]] void fail(const std::string& doing, const fs::path& path,
                       const std::error_code& error) {
  throw Error("cannot " + doing + " " + quoted(path) + ": " + os_reason(error));
}

// Text from a file or the caller, safe to quote in a one-line message.
std::string printable(std::string_view text, std::size_t limit = 80) {
  std::string result;
  for (const char c : text.substr(0, limit)) {
    const auto byte = static_cast<unsigned char>(c);
    result += byte < 0x20 || byte == 0x7f ? '?' : c;
  }
  if (text.size() > limit) result += "...";
  return result;
}

// Unique within the process by the counter and across processes by the pid; mkdir and
// rename refuse an existing name, which catches a stale folder whose pid came back.
std::string unique_name(std::string_view tag) {
  static std::atomic<std::uint64_t> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
         std::string(tag);
}

std::optional<SystemClock::time_point> parse_utc(std::string_view text) {
  if (text.size() != 20) return std::nullopt;
  const std::string copy(text);
  std::tm parts{};
  int consumed = 0;
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &parts.tm_year, &parts.tm_mon,
                  &parts.tm_mday, &parts.tm_hour, &parts.tm_min, &parts.tm_sec, &consumed) != 6 ||
      consumed != 20) {
    return std::nullopt;
  }
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  return SystemClock::from_time_t(timegm(&parts));
}

SystemClock::time_point modification_time(const struct stat& info) {
  return SystemClock::time_point(std::chrono::duration_cast<SystemClock::duration>(
      std::chrono::seconds(info.st_mtim.tv_sec) + std::chrono::nanoseconds(info.st_mtim.tv_nsec)));
}

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

void check_key(std::string_view key, const char* what) {
  if (!is_artifact_key(key)) {
    throw Error(std::string(what) + " '" + printable(key) +
                "' is not an artifact key (64 lower-case hexadecimal digits)");
  }
}

void check_kind(std::string_view kind) {
  const bool valid =
      !kind.empty() && kind.size() <= kMaxKindLength && kind[0] >= 'a' && kind[0] <= 'z' &&
      std::all_of(kind.begin(), kind.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      });
  if (!valid) {
    throw Error("artifact kind '" + printable(kind) +
                "' is not a kind name ([a-z][a-z0-9_-]*, at most 40 characters)");
  }
}

// Run names come from file names (an experiment's output folder), so anything a file name
// may hold is fine, except what would leave runs/ or hide the record ('.' first, as
// write_file_atomically's temporaries).
void check_run_name(std::string_view name) {
  const bool valid = !name.empty() && name.size() <= kMaxRunNameLength && name[0] != '.' &&
                     std::none_of(name.begin(), name.end(), [](char c) {
                       const auto byte = static_cast<unsigned char>(c);
                       return c == '/' || byte < 0x20 || byte == 0x7f;
                     });
  if (!valid) {
    throw ConfigError("run name '" + printable(name) +
                      "' is not usable as a file name in runs/: no '/', no control "
                      "characters, not '.' first, at most 200 characters");
  }
}

// Labels are free text but one line of artifact.txt.
std::string one_line(std::string_view text) {
  std::string result(text);
  for (char& c : result) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = ' ';
  }
  return result;
}

// The entries of `folder`, sorted; none when it does not exist.
std::vector<fs::path> children(const fs::path& folder) {
  std::vector<fs::path> result;
  std::error_code error;
  fs::directory_iterator it(folder, error);
  if (error == std::errc::no_such_file_or_directory) return result;
  for (; !error && it != fs::directory_iterator(); it.increment(error)) {
    result.push_back(it->path());
  }
  if (error) fail("list the folder", folder, error);
  std::sort(result.begin(), result.end());
  return result;
}

// Best effort, as in write_file_atomically: the renames are what make a commit atomic;
// syncing their folders only makes them survive a power cut, and some file systems refuse.
void sync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void sync_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) fail("open", path, errno);
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    fail("flush to disk", path, error);
  }
  if (::close(fd) != 0) fail("flush to disk", path, errno);
}

void remove_quietly(const fs::path& path) noexcept {
  try {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  } catch (...) {  // bad_alloc: the folder stays for gc
  }
}

// ---- artifact.txt -------------------------------------------------------------------------

struct FileEntry {
  std::string path;  // relative, '/'-separated
  std::uint64_t size = 0;
};

struct Contents {
  std::vector<FileEntry> files;
  std::uint64_t bytes = 0;
};

std::string describe(std::string_view key, const ArtifactMeta& meta, const Contents& contents,
                     SystemClock::time_point created) {
  std::string text;
  text += kArtifactHeader;
  text += "\nkey " + std::string(key) + "\nkind " + meta.kind + "\nlabel " + meta.label +
          "\ncreated " + utc_text(created) + "\nframework " SECATEURS_VERSION_STRING "\nbytes " +
          std::to_string(contents.bytes) + "\n";
  for (const std::string& input : meta.inputs) text += "input " + input + "\n";
  for (const FileEntry& file : contents.files) {
    text += "file " + std::to_string(file.size) + " " + file.path + "\n";
  }
  return text;
}

bool parse_number(std::string_view text, std::uint64_t& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

// A recorded file path that stays inside the artifact's folder.
bool is_inner_path(std::string_view text) {
  if (text.empty() || text.front() == '/' || text == kRecordName) return false;
  for (const fs::path& part : fs::path(text)) {
    if (part == ".." || part == "." || part.empty()) return false;
  }
  return true;
}

// Fills `info` (and `key`, `files`) from artifact.txt; returns why it is unusable, or "".
std::string parse_record(std::string_view text, ArtifactInfo& info, std::string& key,
                         std::vector<FileEntry>& files) {
  if (text.empty() || text.back() != '\n') return "artifact.txt is truncated";
  static constexpr const char* kFixed[] = {"key", "kind", "label", "created", "framework", "bytes"};
  constexpr std::size_t kFixedCount = sizeof kFixed / sizeof kFixed[0];
  std::size_t line_number = 0;
  std::size_t position = 0;
  while (position < text.size()) {
    const std::size_t end = text.find('\n', position);
    const std::string_view line = text.substr(position, end - position);
    position = end + 1;
    ++line_number;
    const auto bad = [&](const std::string& what) {
      return "artifact.txt, line " + std::to_string(line_number) + ": " + what;
    };
    if (line_number == 1) {
      if (line != kArtifactHeader) {
        return bad("'" + printable(line) + "' instead of '" + std::string(kArtifactHeader) + "'");
      }
      continue;
    }
    const std::size_t space = line.find(' ');
    const std::string_view name = line.substr(0, space);
    const std::string_view value = space == std::string_view::npos ? "" : line.substr(space + 1);
    const std::size_t fixed = line_number - 2;
    if (fixed < kFixedCount) {
      if (name != kFixed[fixed]) {
        return bad("'" + printable(name) + "' where '" + kFixed[fixed] + "' belongs");
      }
      switch (fixed) {
        case 0: key = value; break;
        case 1: info.kind = value; break;
        case 2: info.label = value; break;
        case 3: {
          const auto created = parse_utc(value);
          if (!created) return bad("'" + printable(value) + "' is not a UTC time");
          info.created = *created;
          break;
        }
        case 4: info.framework_version = value; break;
        case 5:
          if (!parse_number(value, info.bytes)) return bad("'" + printable(value) + "' is no size");
          break;
      }
    } else if (name == "input") {
      if (!files.empty()) return bad("an input after the files");
      if (!is_artifact_key(value)) return bad("'" + printable(value) + "' is not a key");
      info.inputs.emplace_back(value);
    } else if (name == "file") {
      const std::size_t gap = value.find(' ');
      FileEntry file;
      if (gap == std::string_view::npos || !parse_number(value.substr(0, gap), file.size)) {
        return bad("a file line without a size");
      }
      file.path = value.substr(gap + 1);
      if (!is_inner_path(file.path)) {
        return bad("'" + printable(file.path) + "' is not a path inside the artifact");
      }
      files.push_back(std::move(file));
    } else {
      return bad("unknown entry '" + printable(name) + "'");
    }
  }
  if (line_number < kFixedCount + 1) return "artifact.txt is truncated";
  return "";
}

struct RecordFile {
  int error = 0;
  std::string text;
  struct stat info {};
};

// artifact.txt with its errno kept (a missing record means damage, not failure) and its
// status (the modification time is the last use).
RecordFile read_record(const fs::path& path) {
  RecordFile record;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    record.error = errno;
    return record;
  }
  if (::fstat(fd, &record.info) != 0) {
    record.error = errno;
    ::close(fd);
    return record;
  }
  char buffer[8192];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      record.error = errno;
      break;
    }
    record.text.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return record;
}

// The entry at `folder` (named `name` in its shard), checked; nullopt when absent.
std::optional<ArtifactInfo> read_entry(const fs::path& folder, const std::string& name) {
  ArtifactInfo info;
  info.key = name;
  info.folder = folder;
  struct stat status {};
  if (::lstat(folder.c_str(), &status) != 0) {
    if (errno == ENOENT) return std::nullopt;
    fail("examine", folder, errno);
  }
  info.last_used = modification_time(status);
  if (!S_ISDIR(status.st_mode)) {
    info.damage = "not a folder";
    return info;
  }
  const fs::path record_path = folder / kRecordName;
  const RecordFile record = read_record(record_path);
  switch (record.error) {
    case 0: break;
    case ENOENT: info.damage = "no artifact.txt (a copy, or files removed by hand)"; return info;
    case ELOOP: info.damage = "artifact.txt is a symbolic link"; return info;
    case EISDIR: info.damage = "artifact.txt is a folder"; return info;
    default: fail("read", record_path, record.error);
  }
  info.last_used = modification_time(record.info);
  std::string key;
  std::vector<FileEntry> files;
  info.damage = parse_record(record.text, info, key, files);
  if (info.damaged()) return info;
  if (key != name) {
    info.damage = "artifact.txt names another key, " + printable(key, 12);
    return info;
  }
  std::uint64_t total = 0;
  for (const FileEntry& file : files) {
    const fs::path path = folder / file.path;
    struct stat file_status {};
    if (::lstat(path.c_str(), &file_status) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) fail("examine", path, errno);
      info.damage = "file '" + printable(file.path) + "' is missing";
      return info;
    }
    if (!S_ISREG(file_status.st_mode)) {
      info.damage = "'" + printable(file.path) + "' is not a plain file";
      return info;
    }
    if (static_cast<std::uint64_t>(file_status.st_size) != file.size) {
      info.damage = "file '" + printable(file.path) + "' has " +
                    std::to_string(file_status.st_size) + " bytes, artifact.txt says " +
                    std::to_string(file.size);
      return info;
    }
    total += file.size;
  }
  if (total != info.bytes) info.damage = "artifact.txt's byte count does not match its files";
  return info;
}

// Every entry of objects/, in list() order.
std::vector<ArtifactInfo> scan(const detail::StoreState& state) {
  std::vector<ArtifactInfo> entries;
  for (const fs::path& shard : children(state.objects)) {
    const std::string shard_name = shard.filename().string();
    std::error_code error;
    const bool is_shard = shard_name.size() == 2 && is_hex_digit(shard_name[0]) &&
                          is_hex_digit(shard_name[1]) &&
                          fs::is_directory(fs::symlink_status(shard, error));
    if (!is_shard) {
      ArtifactInfo stray;
      stray.key = shard_name;
      stray.folder = shard;
      stray.damage = "a stray entry in objects/";
      entries.push_back(std::move(stray));
      continue;
    }
    for (const fs::path& folder : children(shard)) {
      const std::string name = folder.filename().string();
      if (!is_artifact_key(name) || name.compare(0, 2, shard_name) != 0) {
        ArtifactInfo stray;
        stray.key = name;
        stray.folder = folder;
        stray.damage = "not a key of shard " + shard_name;
        entries.push_back(std::move(stray));
        continue;
      }
      if (auto info = read_entry(folder, name)) entries.push_back(std::move(*info));
    }
  }
  std::sort(entries.begin(), entries.end(), [](const ArtifactInfo& a, const ArtifactInfo& b) {
    if (a.damaged() != b.damaged()) return b.damaged();
    return std::tie(a.kind, a.label, a.key) < std::tie(b.kind, b.label, b.key);
  });
  return entries;
}

// ---- writing --------------------------------------------------------------------------------

// Flushes every file and folder under `folder` to disk and lists the files. `skip_record`:
// artifact.txt at the top is the store's own, from an earlier commit() that failed later.
Contents flush_contents(const fs::path& folder, bool skip_record) {
  Contents contents;
  std::vector<fs::path> folders;
  std::error_code error;
  fs::recursive_directory_iterator it(folder, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const fs::path& path = it->path();
    std::error_code status_error;
    const fs::file_status status = it->symlink_status(status_error);
    if (status_error) fail("examine", path, status_error);
    if (fs::is_directory(status)) {
      folders.push_back(path);
      continue;
    }
    if (!fs::is_regular_file(status)) {
      throw Error(quoted(path) +
                  " is a symbolic link or a special file; an artifact holds plain files and "
                  "folders only");
    }
    const std::string relative = path.lexically_relative(folder).generic_string();
    if (relative == kRecordName) {
      if (skip_record) continue;
      throw Error(quoted(path) +
                  " is reserved for the store's description of the artifact; give the file "
                  "another name");
    }
    if (relative.find_first_of("\n\r") != std::string::npos) {
      throw Error(quoted(path) + ": a file name with a line break cannot be listed in " +
                  kRecordName);
    }
    sync_file(path);
    std::error_code size_error;
    const std::uintmax_t size = it->file_size(size_error);
    if (size_error) fail("examine", path, size_error);
    contents.files.push_back({relative, size});
    contents.bytes += size;
  }
  if (error) fail("list the folder", folder, error);
  std::sort(contents.files.begin(), contents.files.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  // Deepest first, so that each folder is synced after what it holds.
  std::sort(folders.begin(), folders.end(), std::greater<>());
  for (const fs::path& inner : folders) sync_folder(inner);
  return contents;
}

// Renames `from` to `to` unless `to` exists: true when renamed, false when `to` exists.
bool rename_unless_exists(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return true;
  }
  int error = errno;
  if (error == EINVAL || error == ENOSYS || error == EOPNOTSUPP) {
    // A file system without RENAME_NOREPLACE: rename(2) replaces an empty folder only,
    // which holds no artifact anyway, and refuses a full one.
    if (::rename(from.c_str(), to.c_str()) == 0) return true;
    error = errno;
  }
  if (error == EEXIST || error == ENOTEMPTY || error == ENOTDIR || error == EISDIR) return false;
  throw Error("cannot rename " + quoted(from) + " to " + quoted(to) + ": " + os_reason(error));
}

enum class Exchange { Done, Unsupported, Vanished };

Exchange exchange(const fs::path& a, const fs::path& b) {
  if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0) {
    return Exchange::Done;
  }
  const int error = errno;
  if (error == ENOENT) return Exchange::Vanished;
  if (error == EINVAL || error == ENOSYS || error == EOPNOTSUPP) return Exchange::Unsupported;
  throw Error("cannot exchange " + quoted(a) + " and " + quoted(b) + ": " + os_reason(error));
}

// Renames `path` into tmp/ (atomic: it vanishes whole from objects/), then deletes it.
void move_aside_and_delete(const detail::StoreState& state, const fs::path& path,
                           std::string_view tag) {
  const fs::path aside = state.tmp / unique_name(tag);
  if (::rename(path.c_str(), aside.c_str()) != 0) {
    if (errno == ENOENT) return;
    fail("remove", path, errno);
  }
  std::error_code error;
  fs::remove_all(aside, error);
  if (error) fail("remove", aside, error);
}

// ---- maintenance --------------------------------------------------------------------------

void lock_shared(int fd, const fs::path& lock_path) {
  while (::flock(fd, LOCK_SH) != 0) {
    if (errno != EINTR) fail("lock", lock_path, errno);
  }
}

// Sole use of the store, for gc and remove: this object's finds and commits are held off by
// the mutex, other processes and store objects by the exclusive flock.
class ExclusiveUse {
 public:
  explicit ExclusiveUse(detail::StoreState& state) : state_(state), lock_(state.maintenance) {
    if (::flock(state_.lock_fd, LOCK_EX | LOCK_NB) == 0) return;
    const int error = errno;
    // A conversion that fails may already have dropped the shared lock (flock(2)).
    relock_shared();
    if (error == EWOULDBLOCK) {
      throw Error("the artifact store " + quoted(state_.root) +
                  " is in use by another process (or another open store); try again when it "
                  "has finished");
    }
    fail("lock", state_.root / "lock", error);
  }
  ExclusiveUse(const ExclusiveUse&) = delete;
  ExclusiveUse& operator=(const ExclusiveUse&) = delete;
  ~ExclusiveUse() { relock_shared(); }

 private:
  void relock_shared() noexcept {
    while (::flock(state_.lock_fd, LOCK_SH) != 0 && errno == EINTR) {
    }
  }

  detail::StoreState& state_;
  std::unique_lock<std::shared_mutex> lock_;
};

// Exclusive use for work that removes things, shared for a dry run.
class Maintenance {
 public:
  Maintenance(detail::StoreState& state, bool dry_run) {
    if (dry_run) {
      shared_.emplace(state.maintenance);
    } else {
      exclusive_.emplace(state);
    }
  }

 private:
  std::optional<std::shared_lock<std::shared_mutex>> shared_;
  std::optional<ExclusiveUse> exclusive_;
};

// Folders under tmp/ that no live PendingArtifact owns.
std::vector<fs::path> leftovers(const detail::StoreState& state) {
  std::vector<fs::path> result;
  for (const fs::path& path : children(state.tmp)) {
    if (!state.is_pending(path.filename().string())) result.push_back(path);
  }
  return result;
}

std::size_t remove_leftovers(const detail::StoreState& state, bool dry_run, bool best_effort) {
  const std::vector<fs::path> found = leftovers(state);
  if (dry_run) return found.size();
  for (const fs::path& path : found) {
    std::error_code error;
    fs::remove_all(path, error);
    if (error && !best_effort) fail("remove", path, error);
  }
  return found.size();
}

struct RunRecord {
  fs::path file;
  std::vector<std::string> keys;
};

bool is_run_record(const fs::path& path) {
  const std::string name = path.filename().string();
  return name.size() > 4 && name[0] != '.' && path.extension() == ".txt";
}

std::vector<RunRecord> read_runs(const detail::StoreState& state) {
  std::vector<RunRecord> records;
  for (const fs::path& path : children(state.runs)) {
    if (!is_run_record(path)) continue;
    RunRecord record{path, {}};
    const std::string text = read_file(path);
    std::size_t position = 0;
    std::size_t line_number = 0;
    while (position < text.size()) {
      std::size_t end = text.find('\n', position);
      if (end == std::string::npos) end = text.size();
      const std::string_view line = std::string_view(text).substr(position, end - position);
      position = end + 1;
      ++line_number;
      if (line.empty() || line[0] == '#') continue;
      if (!is_artifact_key(line)) {
        throw DataError(path.string() + ", line " + std::to_string(line_number) + ": '" +
                        printable(line) +
                        "' is not an artifact key; fix or delete the run record (gc removes "
                        "nothing until then, rather than guess what the record meant)");
      }
      record.keys.emplace_back(line);
    }
    records.push_back(std::move(record));
  }
  return records;
}

// Temporaries of write_file_atomically that a killed record_run left in runs/.
void remove_run_leftovers(const detail::StoreState& state) {
  for (const fs::path& path : children(state.runs)) {
    const std::string name = path.filename().string();
    if (name[0] == '.' && name.find(".tmp-") != std::string::npos) {
      std::error_code error;
      fs::remove(path, error);
      if (error) fail("remove", path, error);
    }
  }
}

void remove_empty_shards(const detail::StoreState& state) {
  for (const fs::path& shard : children(state.objects)) ::rmdir(shard.c_str());  // full: kept
}

// Makes the store's folders, or checks that an existing folder is a store.
void prepare_layout(const detail::StoreState& state) {
  std::error_code error;
  fs::create_directories(state.root, error);
  if (error) fail("make the folder", state.root, error);
  const fs::path marker = state.root / "store.txt";
  struct stat status {};
  const bool marked = ::stat(marker.c_str(), &status) == 0;
  if (marked) {
    const std::string text = read_file(marker);
    if (text.rfind(kStoreHeader, 0) != 0) {
      throw ConfigError(quoted(marker) + " does not start with '" +
                        std::string(kStoreHeader.substr(0, kStoreHeader.size() - 1)) +
                        "': another layout version, or not a secateurs artifact store");
    }
  } else {
    if (errno != ENOENT) fail("examine", marker, errno);
    // The folders another process creating the same store at this moment may have made.
    for (const fs::path& path : children(state.root)) {
      const std::string name = path.filename().string();
      if (name == "objects" || name == "tmp" || name == "runs" || name == "lock" ||
          name.rfind(".store.txt.tmp-", 0) == 0) {
        continue;
      }
      throw ConfigError(quoted(state.root) +
                        " is neither an artifact store (it has no store.txt) nor empty (it "
                        "holds '" +
                        printable(name) + "'); give a new or empty folder");
    }
  }
  for (const fs::path* folder : {&state.objects, &state.tmp, &state.runs}) {
    if (::mkdir(folder->c_str(), 0777) != 0 && errno != EEXIST) {
      fail("make the folder", *folder, errno);
    }
  }
  if (!marked) {
    write_file_atomically(marker, std::string(kStoreHeader) +
                                      "A secateurs artifact store: `secateurs cache ls`, `cache "
                                      "gc` and `cache rm` look after it.\n");
  }
}

fs::path entry_folder(const detail::StoreState& state, std::string_view key) {
  return state.objects / key.substr(0, 2) / key;
}

}  // namespace

// ---- keys ---------------------------------------------------------------------------------

bool is_artifact_key(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), is_hex_digit);
}

void KeyBuilder::frame(char tag, std::string_view bytes) {
  std::uint8_t header[9];
  header[0] = static_cast<std::uint8_t>(tag);
  const std::uint64_t size = bytes.size();
  for (int i = 0; i < 8; ++i) header[1 + i] = static_cast<std::uint8_t>(size >> (8 * i));
  hasher_.update(header, sizeof header);
  hasher_.update(bytes);
}

KeyBuilder& KeyBuilder::add(std::string_view field) {
  frame('s', field);
  return *this;
}

KeyBuilder& KeyBuilder::add_integer(std::int64_t value) {
  frame('i', std::to_string(value));
  return *this;
}

std::string KeyBuilder::finish() {
  const Sha256::Digest digest = hasher_.finish();
  return to_hex(digest);
}

// ---- PendingArtifact ------------------------------------------------------------------------

PendingArtifact::PendingArtifact(std::shared_ptr<detail::StoreState> state, std::string key,
                                 ArtifactMeta meta, std::string name)
    : state_(std::move(state)),
      key_(std::move(key)),
      meta_(std::move(meta)),
      name_(std::move(name)),
      folder_(state_->tmp / name_) {}

PendingArtifact::PendingArtifact(PendingArtifact&& other) noexcept
    : state_(std::move(other.state_)),
      key_(std::move(other.key_)),
      meta_(std::move(other.meta_)),
      name_(std::move(other.name_)),
      folder_(std::move(other.folder_)),
      committed_(other.committed_),
      described_(other.described_) {
  other.name_.clear();
  other.folder_.clear();
}

PendingArtifact& PendingArtifact::operator=(PendingArtifact&& other) noexcept {
  if (this != &other) {
    discard();
    state_ = std::move(other.state_);
    key_ = std::move(other.key_);
    meta_ = std::move(other.meta_);
    name_ = std::move(other.name_);
    folder_ = std::move(other.folder_);
    committed_ = other.committed_;
    described_ = other.described_;
    other.name_.clear();
    other.folder_.clear();
  }
  return *this;
}

PendingArtifact::~PendingArtifact() {
  discard();
}

void PendingArtifact::discard() noexcept {
  if (!state_ || committed_ || name_.empty()) return;
  remove_quietly(folder_);
  state_->forget_pending(name_);
  name_.clear();
  folder_.clear();
}

fs::path PendingArtifact::commit() {
  if (!state_ || committed_) throw Error("artifact " + key_ + " is already committed");
  const std::string context = "cannot commit artifact " + key_ + " (" + meta_.kind +
                              (meta_.label.empty() ? "" : ", " + printable(meta_.label)) + "): ";
  const detail::StoreState& state = *state_;
  std::shared_lock lock(state_->maintenance);
  const fs::path shard = state.objects / key_.substr(0, 2);
  const fs::path target = shard / key_;
  try {
    const Contents contents = flush_contents(folder_, described_);
    // Also syncs folder_ itself, after the record's rename.
    write_file_atomically(folder_ / kRecordName,
                          describe(key_, meta_, contents, SystemClock::now()));
    described_ = true;
    if (::mkdir(shard.c_str(), 0777) != 0 && errno != EEXIST) {
      fail("make the folder", shard, errno);
    }
    // Ours: this folder became the artifact. Theirs: another writer's intact one was there;
    // equal keys mean equal work, and the first result stays.
    enum class Outcome { Open, Ours, Theirs } outcome = Outcome::Open;
    for (int attempt = 0; attempt < 10 && outcome == Outcome::Open; ++attempt) {
      if (rename_unless_exists(folder_, target)) {
        outcome = Outcome::Ours;
        break;
      }
      const std::optional<ArtifactInfo> existing = read_entry(target, key_);
      if (!existing) continue;  // gone since: try again
      if (!existing->damaged()) {
        outcome = Outcome::Theirs;
        break;
      }
      // A damaged entry: swap ours in whole, so that the key never goes missing.
      switch (exchange(folder_, target)) {
        case Exchange::Done:
          remove_quietly(folder_);  // now the damaged entry
          outcome = Outcome::Ours;
          break;
        case Exchange::Vanished: break;
        case Exchange::Unsupported: move_aside_and_delete(state, target, "damaged"); break;
      }
    }
    if (outcome == Outcome::Open) {
      throw Error(quoted(target) + " kept changing while this commit tried to replace it");
    }
    if (outcome == Outcome::Theirs) {
      remove_quietly(folder_);
      ::utimensat(AT_FDCWD, (target / kRecordName).c_str(), nullptr, 0);  // a use
    }
    if (outcome == Outcome::Ours) {
      sync_folder(shard);
      sync_folder(state.tmp);
    }
  } catch (const Error& e) {
    throw Error(context + e.what());
  }
  committed_ = true;
  state_->forget_pending(name_);
  folder_.clear();
  return target;
}

// ---- ArtifactStore --------------------------------------------------------------------------

ArtifactStore::ArtifactStore(const fs::path& root, StoreCleanup cleanup)
    : state_(std::make_shared<detail::StoreState>()) {
  std::error_code error;
  const fs::path absolute = fs::absolute(root, error);
  if (error) fail("find the folder", root, error);
  std::string normal = absolute.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  state_->root = normal;
  state_->objects = state_->root / "objects";
  state_->tmp = state_->root / "tmp";
  state_->runs = state_->root / "runs";
  prepare_layout(*state_);

  const fs::path lock_path = state_->root / "lock";
  state_->lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (state_->lock_fd < 0 && (errno == EROFS || errno == EACCES)) {
    // A read-only store still serves finds; flock works on a read-only descriptor.
    state_->lock_fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (state_->lock_fd < 0) fail("open the lock file", lock_path, errno);
  // Leftovers are only certain to be dead when nobody else has the store open.
  if (cleanup == StoreCleanup::IfUnused && ::flock(state_->lock_fd, LOCK_EX | LOCK_NB) == 0) {
    remove_leftovers(*state_, /*dry_run=*/false, /*best_effort=*/true);
  }
  // Converts the exclusive lock, or waits while another process runs gc or remove.
  lock_shared(state_->lock_fd, lock_path);
}

ArtifactStore::~ArtifactStore() = default;
ArtifactStore::ArtifactStore(ArtifactStore&&) noexcept = default;
ArtifactStore& ArtifactStore::operator=(ArtifactStore&&) noexcept = default;

bool ArtifactStore::exists(const fs::path& root) {
  std::error_code error;
  return fs::is_regular_file(root / "store.txt", error);
}

const fs::path& ArtifactStore::root() const {
  return state_->root;
}

std::optional<fs::path> ArtifactStore::find(std::string_view key) {
  check_key(key, "artifact key");
  std::shared_lock lock(state_->maintenance);
  const fs::path folder = entry_folder(*state_, key);
  const std::optional<ArtifactInfo> info = read_entry(folder, std::string(key));
  if (!info || info->damaged()) return std::nullopt;
  // Best effort: a read-only store still serves, it only forgets the use.
  ::utimensat(AT_FDCWD, (folder / kRecordName).c_str(), nullptr, 0);
  return folder;
}

std::optional<ArtifactInfo> ArtifactStore::inspect(std::string_view key) const {
  check_key(key, "artifact key");
  std::shared_lock lock(state_->maintenance);
  return read_entry(entry_folder(*state_, key), std::string(key));
}

PendingArtifact ArtifactStore::begin(std::string_view key, ArtifactMeta meta) {
  check_key(key, "artifact key");
  check_kind(meta.kind);
  for (const std::string& input : meta.inputs) check_key(input, "input key");
  meta.label = one_line(meta.label);
  // Held while the folder is made and claimed, so that gc never sees it unclaimed.
  std::shared_lock lock(state_->maintenance);
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = unique_name(key.substr(0, 12));
    if (!state_->claim_pending(name)) continue;
    const fs::path folder = state_->tmp / name;
    if (::mkdir(folder.c_str(), 0777) == 0) {
      return PendingArtifact(state_, std::string(key), std::move(meta), std::move(name));
    }
    const int error = errno;
    state_->forget_pending(name);
    if (error != EEXIST) fail("make the folder", folder, error);
  }
  throw Error("cannot make a folder of a new name under " + quoted(state_->tmp));
}

void ArtifactStore::record_run(std::string_view run_name, const std::vector<std::string>& keys) {
  check_run_name(run_name);
  std::string text = "# secateurs run record '" + std::string(run_name) + "', " +
                     utc_text(SystemClock::now()) + "\n";
  std::unordered_set<std::string_view> seen;
  for (const std::string& key : keys) {
    check_key(key, "run key");
    if (seen.insert(key).second) text += key + "\n";
  }
  std::shared_lock lock(state_->maintenance);
  write_file_atomically(state_->runs / (std::string(run_name) + ".txt"), text);
}

std::vector<std::string> ArtifactStore::run_names() const {
  std::vector<std::string> names;
  for (const fs::path& path : children(state_->runs)) {
    if (is_run_record(path)) names.push_back(path.stem().string());
  }
  return names;
}

std::vector<ArtifactInfo> ArtifactStore::list() const {
  std::shared_lock lock(state_->maintenance);
  return scan(*state_);
}

std::size_t ArtifactStore::leftover_count() const {
  return leftovers(*state_).size();
}

GcReport ArtifactStore::gc(const GcOptions& options) {
  Maintenance use(*state_, options.dry_run);
  GcReport report;
  // Before anything is removed: a record gc cannot read stops it.
  const std::vector<RunRecord> runs = read_runs(*state_);
  report.run_records = runs.size();
  report.leftovers_removed = remove_leftovers(*state_, options.dry_run, /*best_effort=*/false);
  if (!options.dry_run) remove_run_leftovers(*state_);

  const std::vector<ArtifactInfo> entries = scan(*state_);
  std::unordered_map<std::string_view, const ArtifactInfo*> by_key;
  for (const ArtifactInfo& entry : entries) {
    if (!entry.damaged()) by_key.emplace(entry.key, &entry);
  }
  std::unordered_set<std::string_view> reachable;
  std::vector<std::string_view> queue;
  for (const RunRecord& run : runs) {
    for (const std::string& key : run.keys) {
      if (reachable.insert(key).second) queue.push_back(key);
    }
  }
  while (!queue.empty()) {
    const std::string_view key = queue.back();
    queue.pop_back();
    const auto found = by_key.find(key);
    if (found == by_key.end()) continue;
    for (const std::string& input : found->second->inputs) {
      if (reachable.insert(input).second) queue.push_back(input);
    }
  }

  const auto now = SystemClock::now();
  for (const ArtifactInfo& entry : entries) {
    const bool stale = options.unused_for && now - entry.last_used > *options.unused_for;
    const bool remove =
        entry.damaged() || options.everything || reachable.count(entry.key) == 0 || stale;
    if (!remove) {
      ++report.kept;
      report.kept_bytes += entry.bytes;
      continue;
    }
    if (!options.dry_run) move_aside_and_delete(*state_, entry.folder, "removed");
    report.removed.push_back(entry);
  }
  if (!options.dry_run) remove_empty_shards(*state_);
  return report;
}

std::vector<ArtifactInfo> ArtifactStore::remove(const RemoveSelection& selection) {
  if (selection.key_prefixes.empty() && selection.kind.empty()) {
    throw ConfigError("say which artifacts to remove: key prefixes, a kind, or both");
  }
  std::vector<std::string> prefixes;
  for (const std::string& given : selection.key_prefixes) {
    std::string prefix = given;
    std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (prefix.size() < 4 || prefix.size() > 64 ||
        !std::all_of(prefix.begin(), prefix.end(), is_hex_digit)) {
      throw ConfigError("'" + printable(given) +
                        "' is not a key prefix: give 4 to 64 hexadecimal digits, as `secateurs "
                        "cache ls` shows them");
    }
    prefixes.push_back(std::move(prefix));
  }

  Maintenance use(*state_, selection.dry_run);
  const std::vector<ArtifactInfo> entries = scan(*state_);
  std::vector<const ArtifactInfo*> candidates;
  const std::string of_kind = selection.kind.empty() ? "" : " of kind '" + selection.kind + "'";
  if (selection.kind.empty()) {
    for (const ArtifactInfo& entry : entries) candidates.push_back(&entry);
  } else {
    std::vector<std::string> kinds;
    for (const ArtifactInfo& entry : entries) {
      if (entry.damaged()) continue;
      if (entry.kind == selection.kind) candidates.push_back(&entry);
      if (std::find(kinds.begin(), kinds.end(), entry.kind) == kinds.end()) {
        kinds.push_back(entry.kind);
      }
    }
    if (candidates.empty()) {
      throw NotFoundError("the store " + quoted(state_->root) + " holds no artifact" + of_kind +
                          did_you_mean(selection.kind, kinds));
    }
  }

  // Every prefix is checked before anything is removed.
  std::vector<const ArtifactInfo*> chosen;
  if (prefixes.empty()) chosen = candidates;
  for (const std::string& prefix : prefixes) {
    std::vector<const ArtifactInfo*> matches;
    for (const ArtifactInfo* entry : candidates) {
      if (entry->key.rfind(prefix, 0) == 0) matches.push_back(entry);
    }
    if (matches.empty()) {
      throw NotFoundError("no artifact" + of_kind + " in " + quoted(state_->root) +
                          " has a key starting with '" + prefix + "'");
    }
    if (matches.size() > 1) {
      std::string listed;
      for (std::size_t i = 0; i < matches.size() && i < 5; ++i) {
        const ArtifactInfo& match = *matches[i];
        listed += (i == 0 ? "" : ", ") + match.key.substr(0, 16) + " (" +
                  (match.damaged() ? "damaged" : match.kind + " " + printable(match.label, 40)) +
                  ")";
      }
      if (matches.size() > 5) listed += ", ...";
      throw ConfigError("key prefix '" + prefix +
                        "' is ambiguous: " + std::to_string(matches.size()) +
                        " keys start with it (" + listed + "); give more digits");
    }
    if (std::find(chosen.begin(), chosen.end(), matches[0]) == chosen.end()) {
      chosen.push_back(matches[0]);
    }
  }

  std::vector<ArtifactInfo> removed;
  for (const ArtifactInfo* entry : chosen) {
    if (!selection.dry_run) move_aside_and_delete(*state_, entry->folder, "removed");
    removed.push_back(*entry);
  }
  if (!selection.dry_run) remove_empty_shards(*state_);
  return removed;
}

// ---- formatting -----------------------------------------------------------------------------

std::string format_size(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  std::ostringstream text;
  text << std::fixed << std::setprecision(1) << value << " " << kUnits[unit];
  return text.str();
}

std::string format_age(SystemClock::duration age) {
  const long long seconds =
      std::max<long long>(0, std::chrono::duration_cast<std::chrono::seconds>(age).count());
  if (seconds < 60) return std::to_string(seconds) + " s";
  if (seconds < 3600) return std::to_string(seconds / 60) + " min";
  if (seconds < 48 * 3600) return std::to_string(seconds / 3600) + " h";
  return std::to_string(seconds / 86400) + " d";
}

std::string format_artifact_table(const std::vector<ArtifactInfo>& entries,
                                  SystemClock::time_point now) {
  if (entries.empty()) return "No artifacts.\n";
  struct Row {
    std::string cells[6];
  };
  std::vector<Row> rows;
  rows.push_back({{"KEY", "KIND", "LABEL", "SIZE", "AGE", "USED"}});
  std::uint64_t total = 0;
  std::size_t damaged = 0;
  for (const ArtifactInfo& entry : entries) {
    if (entry.damaged()) {
      ++damaged;
      rows.push_back({{printable(std::string_view(entry.key).substr(0, 12)), "damaged",
                       printable(entry.damage, 60), "-", "-", format_age(now - entry.last_used)}});
      continue;
    }
    total += entry.bytes;
    rows.push_back(
        {{entry.key.substr(0, 12), entry.kind, printable(entry.label, 60), format_size(entry.bytes),
          format_age(now - entry.created), format_age(now - entry.last_used)}});
  }
  std::size_t widths[6] = {};
  for (const Row& row : rows) {
    for (std::size_t i = 0; i < 6; ++i) widths[i] = std::max(widths[i], row.cells[i].size());
  }
  std::string text;
  for (const Row& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < 6; ++i) {
      const std::string& cell = row.cells[i];
      const std::string padding(widths[i] - cell.size(), ' ');
      line += i == 3 ? padding + cell : cell + padding;  // sizes align right
      if (i + 1 < 6) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    text += line + "\n";
  }
  const std::size_t good = entries.size() - damaged;
  text += std::to_string(good) + " artifact" + (good == 1 ? "" : "s") + ", " + format_size(total);
  if (damaged > 0) {
    text += "; " + std::to_string(damaged) + " damaged entr" + (damaged == 1 ? "y" : "ies") +
            " (never read; `secateurs cache gc` removes them)";
  }
  return text + "\n";
}

}  // namespace secateurs::host
