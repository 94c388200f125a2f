#include "host/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "secateurs/error.h"

namespace secateurs::host {
namespace {

// Unique within the process by the counter and across processes by the pid; O_EXCL
// catches the rest (a stale file of a killed process whose pid came back).
std::filesystem::path temporary_name(const std::filesystem::path& path) {
  static std::atomic<std::uint64_t> counter{0};
  const std::string name = "." + path.filename().string() + ".tmp-" + std::to_string(getpid()) +
                           "-" + std::to_string(counter.fetch_add(1));
  return path.parent_path() / name;
}

class TemporaryFile {
 public:
  explicit TemporaryFile(const std::filesystem::path& target) : target_(target) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  // Any exit before commit() removes the temporary file.
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!name_.empty()) ::unlink(name_.c_str());
  }

  void create() {
    for (int attempt = 0; attempt < 100; ++attempt) {
      const std::filesystem::path name = temporary_name(target_);
      fd_ = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) {
        name_ = name;
        return;
      }
      if (errno != EEXIST) break;
    }
    fail(errno, "creating a temporary file in its folder");
  }

  void write(std::string_view bytes) {
    const char* data = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
      const ssize_t written = ::write(fd_, data, left);
      if (written < 0) {
        if (errno == EINTR) continue;
        fail(errno, "writing the temporary file");
      }
      data += written;
      left -= static_cast<std::size_t>(written);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) fail(errno, "flushing the temporary file to disk");
    const int fd = fd_;
    fd_ = -1;
    // close() can report a deferred write error (NFS, quotas): it counts as a failure.
    if (::close(fd) != 0) fail(errno, "closing the temporary file");
    if (::rename(name_.c_str(), target_.c_str()) != 0) {
      fail(errno, "renaming the temporary file over it");
    }
    name_.clear();
    sync_folder();
  }

 private:
  [[noreturn]] void fail(int error, const char* step) {
    throw Error("cannot write '" + target_.string() + "': " + os_reason(error) + " (" + step + ")");
  }

  void sync_folder() {
    const std::filesystem::path folder =
        target_.parent_path().empty() ? std::filesystem::path(".") : target_.parent_path();
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);  // some file systems refuse fsync on a folder; the rename is done anyway
    ::close(fd);
  }

  std::filesystem::path target_;
  std::filesystem::path name_;  // the temporary file while it exists
  int fd_ = -1;
};

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  if (!path.has_filename()) {
    throw Error("cannot write '" + path.string() + "': the path names a folder, not a file");
  }
  TemporaryFile file(path);
  file.create();
  file.write(bytes);
  file.commit();
}

std::string read_file(const std::filesystem::path& path) {
  auto fail = [&](int error) {
    return DataError("cannot read '" + path.string() + "': " + os_reason(error));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw fail(errno);
  // Read straight into the result, sized from fstat plus one byte to see the end without
  // growing; a file that grows meanwhile is still read to its end.
  struct stat info {};
  const bool sized = ::fstat(fd, &info) == 0 && info.st_size >= 0;
  std::string bytes(sized ? static_cast<std::size_t>(info.st_size) + 1 : std::size_t{1} << 16,
                    '\0');
  std::size_t size = 0;
  for (;;) {
    if (size == bytes.size()) bytes.resize(2 * bytes.size());
    const ssize_t got = ::read(fd, bytes.data() + size, bytes.size() - size);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      throw fail(error);
    }
    size += static_cast<std::size_t>(got);
  }
  ::close(fd);
  bytes.resize(size);
  return bytes;
}

namespace {
// strerror_r comes in two flavours (GNU returns the text, XSI fills the buffer); strerror
// itself is not thread-safe, and files are written from worker threads.
[[maybe_unused]] const char* pick_message(const char* gnu_result, const char*) {
  return gnu_result;
}
[[maybe_unused]] const char* pick_message(int xsi_result, const char* buffer) {
  return xsi_result == 0 ? buffer : "unknown error";
}

}  // namespace

std::string os_reason(int error) {
  char buffer[256] = {};
  return pick_message(strerror_r(error, buffer, sizeof buffer), buffer);
}

}  // namespace secateurs::host
