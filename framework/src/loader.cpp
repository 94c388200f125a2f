// The plugin loader. It uses dlopen directly rather than Boost.DLL: the one thing it
// needs beyond symbol lookup is RTLD_NODELETE (libraries must never be unmapped, even if
// someone calls dlclose), and dlerror's own words make the clearest load errors.
#include "host/loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "host/fingerprint.h"

namespace secateurs::host {

namespace fs = std::filesystem;

namespace {

// "libmagnitude.so" -> "magnitude": the best guess at a plugin's name before its
// descriptor could be read.
std::string name_from_file(const fs::path& file) {
  std::string stem = file.stem().string();
  if (stem.rfind("lib", 0) == 0) stem = stem.substr(3);
  return stem;
}

// dlerror() starts with the file's path; the file is named in our message already.
std::string dl_reason(const fs::path& file) {
  const char* error = dlerror();
  std::string reason = error ? error : "unknown dynamic loader error";
  const std::string prefix = file.string() + ": ";
  if (reason.rfind(prefix, 0) == 0) reason = reason.substr(prefix.size());
  return reason;
}

std::string quoted(const fs::path& file) {
  return "'" + file.string() + "'";
}

class StagingRegistrar final : public Registrar {
 public:
  void add(ComponentSpec spec) override {
    attempted.push_back(qualified_name(spec.kind, spec.name));
    if (auto problem = component_spec_problem(spec)) {
      invalid_spec = *problem;
      throw PluginError(*problem);
    }
    specs.push_back(std::move(spec));
  }

  void fail(const char* message) noexcept override {
    try {
      failure = message ? message : "";
    } catch (...) {
      // Out of memory while recording an error: the return code still reports it.
    }
  }

  std::vector<ComponentSpec> specs;
  std::vector<std::string> attempted;  // ids, valid or not
  std::string invalid_spec;
  std::string failure;
};

// The first other ABI major a foreign library exports an entry point for, if any.
std::optional<int> foreign_abi_major(void* handle) {
  for (int major = 0; major < 100; ++major) {
    if (major == SECATEURS_ABI_MAJOR) continue;
    const std::string symbol = SECATEURS_PLUGIN_ENTRY_PREFIX + std::to_string(major);
    if (dlsym(handle, symbol.c_str()) != nullptr) return major;
  }
  return std::nullopt;
}

fs::path executable_dir() {
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::path() : exe.parent_path();
}

}  // namespace

std::optional<std::string> component_spec_problem(const ComponentSpec& spec) {
  const std::string id = qualified_name(spec.kind, spec.name);
  if (!is_identifier(spec.name)) {
    return "component name '" + spec.name + "' is not of the form [a-z][a-z0-9_]*";
  }
  if (spec.factory == nullptr) return "component " + id + " has no factory";
  std::set<std::string> names;
  for (const ParamSpec& p : spec.params) {
    const std::string where = "component " + id + ": parameter '" + p.name + "'";
    if (!is_identifier(p.name)) return where + " is not of the form [a-z][a-z0-9_]*";
    if (!names.insert(p.name).second) return where + " is declared twice";
    if (p.type == ParamType::Enum && p.choices.empty())
      return where + " is an enum with no choices";
    if (p.type == ParamType::List && p.element_type != ParamType::Int &&
        p.element_type != ParamType::Float && p.element_type != ParamType::String) {
      return where + " is a list of " + std::string(to_string(p.element_type)) +
             "; lists hold int, float or string";
    }
    if (p.min && p.max && *p.min > *p.max) return where + " has min above max";
    if (p.required && p.default_value) return where + " is required but has a default";
    if (!p.required && !p.default_value) return where + " has neither a default nor required";
    if (p.default_value) {
      if (auto problem = p.problem_with(*p.default_value)) {
        return where + ": its default " + *problem;
      }
    }
  }
  return std::nullopt;
}

std::vector<PluginSearchEntry> plugin_search_path(const std::vector<std::string>& extra) {
  std::vector<PluginSearchEntry> entries;
  const fs::path bin = executable_dir();
  if (!bin.empty()) {
    // A build tree keeps plugins in <build>/plugins; an installation in the libdir chosen at
    // configure time (lib/x86_64-linux-gnu/secateurs/plugins under /usr on Debian).
    for (const fs::path& candidate :
         {bin / ".." / "plugins", bin / ".." / SECATEURS_INSTALL_PLUGIN_DIR}) {
      std::error_code error;
      if (fs::is_directory(candidate, error)) {
        entries.push_back({fs::weakly_canonical(candidate, error), "build"});
        break;
      }
    }
  }
  if (const char* env = std::getenv("SECATEURS_PLUGIN_PATH")) {
    std::string list = env;
    std::size_t start = 0;
    while (start <= list.size()) {
      std::size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start)
        entries.push_back({list.substr(start, end - start), "SECATEURS_PLUGIN_PATH"});
      start = end + 1;
    }
  }
  for (const std::string& path : extra) entries.push_back({path, "--plugin-path"});
  return entries;
}

void PluginLoader::fail(const fs::path& file, std::string plugin_name, std::string reason,
                        std::vector<std::string> components) {
  registry_.add_failure(
      LoadFailure{file.string(), std::move(plugin_name), std::move(components), std::move(reason)});
}

bool PluginLoader::load_file(const fs::path& file) {
  std::error_code error;
  const fs::path canonical = fs::weakly_canonical(file, error);
  if (!seen_.insert(error ? file : canonical).second) return true;

  const std::string guessed_name = name_from_file(file);
  if (!fs::exists(file, error)) {
    fail(file, guessed_name, "plugin library " + quoted(file) + " does not exist");
    return false;
  }
  dlerror();
  // An absolute path: dlopen would search the system's library path for a bare file name.
  const fs::path absolute = fs::absolute(file, error);
  void* handle = dlopen((error ? file : absolute).c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    fail(file, guessed_name,
         "plugin library " + quoted(file) +
             " could not be loaded: " + dl_reason(error ? file : absolute));
    return false;
  }

  auto* entry =
      reinterpret_cast<secateurs_plugin_entry_fn>(dlsym(handle, SECATEURS_PLUGIN_ENTRY_NAME));
  if (entry == nullptr) {
    if (const auto major = foreign_abi_major(handle)) {
      fail(file, guessed_name,
           quoted(file) + " was built for plugin ABI v" + std::to_string(*major) +
               ", but this host supports ABI v" + std::to_string(SECATEURS_ABI_MAJOR) +
               ": expected the entry point '" SECATEURS_PLUGIN_ENTRY_NAME "', found '" +
               SECATEURS_PLUGIN_ENTRY_PREFIX + std::to_string(*major) +
               "'; rebuild the plugin against this SDK");
    } else {
      fail(file, guessed_name,
           quoted(file) + " is a shared library but not a secateurs plugin: it exports no '" +
               SECATEURS_PLUGIN_ENTRY_NAME + "' entry point");
    }
    return false;
  }

  const secateurs_plugin_descriptor* descriptor = entry();
  if (descriptor == nullptr) {
    fail(file, guessed_name,
         quoted(file) + ": " SECATEURS_PLUGIN_ENTRY_NAME " returned no descriptor");
    return false;
  }
  // Only abi_major and struct_size may be read before the size is known to be ours.
  if (descriptor->abi_major != SECATEURS_ABI_MAJOR) {
    fail(file, guessed_name,
         quoted(file) + " has a descriptor for plugin ABI v" +
             std::to_string(descriptor->abi_major) + ", but this host supports ABI v" +
             std::to_string(SECATEURS_ABI_MAJOR) + " (expected abi_major " +
             std::to_string(SECATEURS_ABI_MAJOR) + ", found " +
             std::to_string(descriptor->abi_major) + ")");
    return false;
  }
  const std::uint32_t host_size = sizeof(secateurs_plugin_descriptor);
  if (descriptor->struct_size > host_size) {
    fail(file, guessed_name,
         quoted(file) + " has a plugin descriptor of " + std::to_string(descriptor->struct_size) +
             " bytes, larger than the " + std::to_string(host_size) +
             " bytes this host knows (ABI " + std::to_string(SECATEURS_ABI_MAJOR) + "." +
             std::to_string(SECATEURS_ABI_MINOR) +
             "): the plugin was built against a newer SDK; use a host at least as new");
    return false;
  }
  if (descriptor->struct_size < SECATEURS_DESCRIPTOR_V1_0_SIZE) {
    fail(file, guessed_name,
         quoted(file) + " has a plugin descriptor of " + std::to_string(descriptor->struct_size) +
             " bytes, smaller than the " + std::to_string(SECATEURS_DESCRIPTOR_V1_0_SIZE) +
             " bytes of ABI 1.0: it is corrupt");
    return false;
  }
  const char* fingerprint = descriptor->build_fingerprint ? descriptor->build_fingerprint : "";
  if (auto difference = fingerprint_difference(host_fingerprint(), fingerprint)) {
    fail(file, guessed_name,
         quoted(file) + " was built with an incompatible toolchain (" + *difference +
             "): expected fingerprint '" + host_fingerprint() + "', found '" + fingerprint + "'");
    return false;
  }
  const std::string plugin_name = descriptor->plugin_name ? descriptor->plugin_name : "";
  if (!is_identifier(plugin_name)) {
    fail(file, guessed_name,
         quoted(file) + " names its plugin '" + plugin_name +
             "', which is not of the form [a-z][a-z0-9_]*");
    return false;
  }
  if (descriptor->register_components == nullptr) {
    fail(file, plugin_name, quoted(file) + " has no register function in its descriptor");
    return false;
  }

  auto library = std::make_shared<PluginLibrary>();
  library->file = file.string();
  library->plugin_name = plugin_name;
  library->plugin_version = descriptor->plugin_version ? descriptor->plugin_version : "";
  library->abi_minor = descriptor->abi_minor;
  library->handle = handle;

  StagingRegistrar registrar;
  const int status = descriptor->register_components(
      reinterpret_cast<secateurs_registrar*>(static_cast<Registrar*>(&registrar)));
  const std::string who = "plugin '" + plugin_name + "' in " + quoted(file);
  // A plugin that caught our exception, or reported a failure, and still returned OK has
  // failed all the same: registration is all or nothing.
  if (status != SECATEURS_REGISTER_OK || !registrar.invalid_spec.empty() ||
      !registrar.failure.empty()) {
    std::string reason;
    if (!registrar.invalid_spec.empty()) {
      reason = who + " registered an invalid component: " + registrar.invalid_spec;
    } else if (status == SECATEURS_REGISTER_THREW) {
      reason = who + " threw while registering its components: " + registrar.failure;
    } else if (status == SECATEURS_REGISTER_FAILED) {
      reason = who + " failed to register its components: " +
               (registrar.failure.empty() ? std::string("it gave no reason") : registrar.failure);
    } else {
      reason = who + " returned the unknown status " + std::to_string(status) +
               " from its register function" +
               (registrar.failure.empty() ? "" : ": " + registrar.failure);
    }
    fail(file, plugin_name, reason, registrar.attempted);
    return false;
  }
  try {
    registry_.add_library(library, std::move(registrar.specs));
  } catch (const PluginError& e) {
    fail(file, plugin_name, e.what(), registrar.attempted);
    return false;
  }
  return true;
}

void PluginLoader::load(const PluginSearchEntry& entry) {
  std::error_code error;
  if (fs::is_directory(entry.path, error)) {
    std::vector<fs::path> libraries;
    for (const auto& item : fs::directory_iterator(entry.path, error)) {
      if (item.path().extension() == ".so" && !fs::is_directory(item.path(), error)) {
        libraries.push_back(item.path());
      }
    }
    std::sort(libraries.begin(), libraries.end());
    for (const fs::path& library : libraries) load_file(library);
  } else if (fs::exists(entry.path, error)) {
    load_file(entry.path);
  } else if (entry.origin != "build") {
    fail(entry.path, "", entry.origin + " names " + quoted(entry.path) + ", which does not exist");
  }
}

void PluginLoader::load_all(const std::vector<PluginSearchEntry>& entries) {
  for (const PluginSearchEntry& entry : entries) load(entry);
}

}  // namespace secateurs::host
