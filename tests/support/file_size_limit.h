// Lowers the largest file this process may write, so that a write fails part-way as on a
// full disk (EFBIG instead of ENOSPC; the same code path). SIGXFSZ is ignored meanwhile,
// or the kernel would end the process instead of failing the write.
#pragma once

#include <signal.h>
#include <sys/resource.h>

namespace secateurs::testing {

class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, previous_handler_);
  }

 private:
  rlimit saved_{};
  sighandler_t previous_handler_;
};

}  // namespace secateurs::testing
