// Finding and loading plugin libraries.
//
// Libraries are loaded one at a time on the calling thread and never unloaded (dlopen
// with RTLD_NODELETE): every object a plugin made, and every type_info it refers to,
// stays valid until the process exits. A library that fails leaves one LoadFailure in
// the registry and does not stop the others.
#pragma once

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "host/registry.h"

namespace secateurs::host {

struct PluginSearchEntry {
  std::filesystem::path path;  // a directory (every *.so in it) or one library file
  std::string origin;          // "build", "SECATEURS_PLUGIN_PATH" or "--plugin-path"
};

// The plugins folder of this build or installation (found from the running executable:
// <bin>/../plugins, or <bin>/../<libdir>/secateurs/plugins), then each directory of
// SECATEURS_PLUGIN_PATH (colon-separated), then `extra` (from --plugin-path), in order.
SECATEURS_API std::vector<PluginSearchEntry> plugin_search_path(
    const std::vector<std::string>& extra);

// Why a component spec handed over at registration is unusable (bad names, no factory,
// duplicate parameters, a list of an unsupported element type, a default outside its own
// bounds), or nothing. Checked at load time so that a schema bug names its plugin.
SECATEURS_API std::optional<std::string> component_spec_problem(const ComponentSpec& spec);

class SECATEURS_API PluginLoader {
 public:
  explicit PluginLoader(Registry& registry) : registry_(registry) {}

  // Loads and registers one library. Returns false after recording a LoadFailure.
  bool load_file(const std::filesystem::path& file);
  // Loads every *.so of a directory in name order, or the file it names. A missing path
  // is a failure unless it is the build's own folder. A file already loaded under any
  // path is skipped.
  void load(const PluginSearchEntry& entry);
  void load_all(const std::vector<PluginSearchEntry>& entries);

 private:
  void fail(const std::filesystem::path& file, std::string plugin_name, std::string reason,
            std::vector<std::string> components = {});

  Registry& registry_;
  std::set<std::filesystem::path> seen_;  // canonical paths already tried
};

}  // namespace secateurs::host
