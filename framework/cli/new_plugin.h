// `secateurs new-plugin`: an out-of-tree plugin skeleton that builds against the
// installed SDK and loads as it is.
#pragma once

#include <ostream>
#include <string>

#include "secateurs/component.h"

namespace secateurs::cli {

// Writes CMakeLists.txt, NAME.cpp and README.md into `directory` (created; it must not
// exist or be empty). Returns the process exit code: 0, 1 when the files cannot be
// written, 2 for an invalid name. Progress and errors go to `out` and std::cerr.
int write_plugin_skeleton(Kind kind, const std::string& name, const std::string& directory,
                          std::ostream& out);

}  // namespace secateurs::cli
