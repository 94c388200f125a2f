// Experiment files to graphs: a Lua script (run in the sandbox of host/lua_sandbox.h with
// the `secateurs` module of scripts/secateurs.lua over the C++ binding "secateurs.core"),
// or a YAML experiment file (an attack run file, host/attack_run.h) expanded by the same
// module's `experiment` function, so both declare the same nodes for the same protocol.
//
// Nothing runs while a script runs: it only declares nodes, each checked as it is declared
// (check_node), so a misspelled parameter stops the script at its line. The graph as a
// whole is validated afterwards (validate_graph).
#pragma once

#include <filesystem>
#include <vector>

#include "host/graph.h"
#include "host/lua_sandbox.h"
#include "host/registry.h"
#include "secateurs/export.h"

namespace secateurs::host {

struct ScriptOptions {
  // Where `require` finds Lua modules: scripts/ with secateurs.lua first.
  std::vector<std::filesystem::path> module_dirs;
  LuaLimits limits;
};

// The folder of secateurs.lua: the source tree's scripts/ for a build-tree executable,
// else the installed share/secateurs/scripts.
SECATEURS_API std::filesystem::path default_script_dir();

// The graph `file` declares: a .lua script, or a .yaml / .yml experiment file. Throws
// ConfigError naming the file and line.
SECATEURS_API GraphSpec graph_from_file(const std::filesystem::path& file, const Registry& registry,
                                        const ScriptOptions& options);

// The same for Lua text (tests), named `chunk_name` in messages.
SECATEURS_API GraphSpec graph_from_lua(std::string_view chunk, const std::string& chunk_name,
                                       const Registry& registry, const ScriptOptions& options);

}  // namespace secateurs::host
