// Atomic writes: the content arrives whole or not at all, no temporary file stays behind,
// and failures name the path and the operating system's reason.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <string>
#include <vector>

#include "host/atomic_file.h"
#include "secateurs/error.h"
#include "support/file_size_limit.h"
#include "support/messages.h"
#include "support/temp_dir.h"

using namespace secateurs;
using secateurs::host::read_file;
using secateurs::host::write_file_atomically;
using secateurs::testing::contains;
using secateurs::testing::message_of;
using secateurs::testing::TempDir;

namespace {

std::vector<std::string> names_in(const std::filesystem::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

}  // namespace

TEST_CASE("atomic_file: writes, replaces and reads back binary content, leaving no temporary") {
  TempDir dir;
  const auto path = dir / "data.bin";
  const std::string first("one\0two\nthree", 13);
  write_file_atomically(path, first);
  CHECK(read_file(path) == first);

  const std::string second(200000, '\x7f');
  write_file_atomically(path, second);
  CHECK(read_file(path) == second);
  write_file_atomically(path, "");
  CHECK(read_file(path).empty());
  CHECK(names_in(dir.path()) == std::vector<std::string>{"data.bin"});
}

TEST_CASE("atomic_file: a write that fails part-way keeps the old file and removes the temporary") {
  TempDir dir;
  const auto path = dir / "artifact";
  write_file_atomically(path, "old content");
  std::string message;
  {
    testing::FileSizeLimit limit(4096);
    message = message_of<Error>([&] { write_file_atomically(path, std::string(100000, 'x')); });
  }
  CHECK(message ==
        "cannot write '" + path.string() + "': File too large (writing the temporary file)");
  CHECK(read_file(path) == "old content");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"artifact"});
}

TEST_CASE("atomic_file: an unusable folder is an Error naming the path and the reason") {
  TempDir dir;
  const auto missing = dir / "no-such-folder" / "file";
  CHECK(message_of<Error>([&] { write_file_atomically(missing, "x"); }) ==
        "cannot write '" + missing.string() +
            "': No such file or directory (creating a temporary file in its folder)");

  write_file_atomically(dir / "plain", "x");
  const auto under_file = dir / "plain" / "file";
  CHECK(message_of<Error>([&] { write_file_atomically(under_file, "x"); }) ==
        "cannot write '" + under_file.string() +
            "': Not a directory (creating a temporary file in its folder)");

  // The target is a folder: the temporary is written, the rename fails, the temporary goes.
  std::filesystem::create_directory(dir / "sub");
  const std::string message = message_of<Error>([&] { write_file_atomically(dir / "sub", "x"); });
  CHECK(contains(message, "cannot write '" + (dir / "sub").string() + "': "));
  CHECK(contains(message, "(renaming the temporary file over it)"));
  CHECK(names_in(dir.path()).size() == 2);

  CHECK(message_of<Error>([&] { write_file_atomically(dir.path() / "", "x"); }) ==
        "cannot write '" + (dir.path() / "").string() + "': the path names a folder, not a file");
}

TEST_CASE("atomic_file: read_file throws DataError naming the file") {
  TempDir dir;
  const auto missing = dir / "missing.txt";
  CHECK(message_of<DataError>([&] { read_file(missing); }) ==
        "cannot read '" + missing.string() + "': No such file or directory");
  CHECK(message_of<DataError>([&] { read_file(dir.path()); }) ==
        "cannot read '" + dir.path().string() + "': Is a directory");
}
