// Whole-file writes that never leave a half-written file behind, and whole-file reads.
//
// Everything the host keeps on disk (checkpoints, membership plans, artifacts) goes through
// write_file_atomically: a killed run or a full disk leaves either the old file or the new
// one, never a truncated mix, which is what lets a campaign resume where it stopped.
// Both functions are safe to call from several threads at once, also for the same path
// (the last rename wins).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "secateurs/export.h"

namespace secateurs::host {

// Writes `bytes` to a new temporary file in the folder of `path` (same file system, so the
// rename is atomic), fsyncs it, renames it over `path`, then fsyncs the folder (best
// effort: the rename itself is what makes the write atomic; the folder's fsync only makes
// it survive a power cut). The file gets mode 0666 less the umask, like any new file.
// Throws secateurs::Error naming `path` and the OS's reason when any step fails; the
// temporary file is removed then, and an existing `path` is left untouched.
SECATEURS_API void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// The whole content of `path`. Throws secateurs::DataError naming the file and the OS's
// reason when it cannot be opened or read (missing, a folder, no permission).
SECATEURS_API std::string read_file(const std::filesystem::path& path);

// The OS's text for `error` (an errno value), thread-safe (strerror is not).
SECATEURS_API std::string os_reason(int error);

}  // namespace secateurs::host
