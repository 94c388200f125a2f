#include "host/lua_sandbox.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <system_error>

#include "secateurs/error.h"

namespace secateurs::host {

namespace {

// Registry keys: the addresses of these are unique in the process.
const char kSandboxKey = 0;  // light userdata: the LuaSandbox that owns the state
const char* const kPreloadKey = "secateurs.preload";  // name -> opener of add_module

// Instructions between two calls of the count hook: small enough that a run stops soon
// after its limit, large enough that the hook costs nothing measurable.
constexpr int kHookInterval = 10'000;

constexpr std::size_t kMaxTableDepth = 64;

constexpr std::size_t kMinMargin = std::size_t{1} << 20;

// Libraries and base functions the sandbox leaves out, for the hint of "unknown global".
bool is_left_out_library(std::string_view name) {
  return name == "os" || name == "io" || name == "package" || name == "debug";
}
bool is_left_out_function(std::string_view name) {
  return name == "dofile" || name == "loadfile" || name == "load" || name == "collectgarbage" ||
         name == "warn";
}

// Whether `message` starts with a position in the same chunk as `location` ("script.lua:7:
// ..." for location "script.lua:3"): then the message already says where, and putting the
// caller's line in front would only repeat the file name.
bool starts_with_position_in(const std::string& message, const std::string& location) {
  const std::size_t colon = location.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string_view chunk(location.data(), colon + 1);  // "script.lua:"
  if (!message.starts_with(chunk)) return false;
  std::size_t i = chunk.size();
  const std::size_t digits_start = i;
  while (i < message.size() && message[i] >= '0' && message[i] <= '9') ++i;
  return i > digits_start && i < message.size() && message[i] == ':';
}

// The whole content of a text file, or the reason it could not be read.
bool read_text(const std::filesystem::path& path, std::string& text, std::string& reason) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    reason = "it is a folder";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    reason = std::generic_category().message(errno);
    return false;
  }
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    reason = "read error";
    return false;
  }
  return true;
}

// Module names are dotted identifiers, so that a name can never leave its module folder
// ("../secrets", "/etc/passwd").
bool is_valid_module_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  char previous = 0;
  for (char c : name) {
    const bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word && !(c == '.' && previous != '.')) return false;
    previous = c;
  }
  return true;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// Runs `body(L)` in protected mode, so that a Lua error (out of memory above all) during
// the host's own setup of the state becomes a ConfigError instead of a panic. The
// arguments are the `nargs` values on top of the stack; they are popped.
template <class Body>
void run_protected(lua_State* L, int nargs, Body& body, std::string_view what) {
  lua_pushcfunction(L, [](lua_State* L) -> int {
    Body* f = static_cast<Body*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    return lua_guarded(L, [&] { return (*f)(L); });
  });
  lua_insert(L, -nargs - 1);
  lua_pushlightuserdata(L, &body);  // pushing a light userdata cannot fail
  if (lua_pcall(L, nargs + 1, 0, 0) != LUA_OK) {
    const char* message = lua_tostring(L, -1);
    const std::string text = std::string(what) + ": " + (message != nullptr ? message : "?");
    lua_pop(L, 1);
    throw ConfigError(text);
  }
}

}  // namespace

// The callbacks Lua calls (allocator, hook, message handler, require, global guard); a
// struct so that they may use the sandbox's private state.
struct LuaSandboxAccess {
  // The sandbox owning `L`, or null for a state the sandbox did not make.
  // Stack: [-0, +0], raises nothing.
  static LuaSandbox* sandbox_of(lua_State* L) {
    if (!lua_checkstack(L, 1)) return nullptr;  // a binding used up its stack: act as plain
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kSandboxKey);
    auto* sandbox = static_cast<LuaSandbox*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    return sandbox;
  }

  // lua_Alloc with the memory limit (see count_hook for where the limit is enforced).
  static void* allocate(void* ud, void* block, std::size_t old_size, std::size_t new_size) {
    auto* sandbox = static_cast<LuaSandbox*>(ud);
    const std::size_t old_bytes = block != nullptr ? old_size : 0;  // else old_size is a type
    if (new_size == 0) {
      std::free(block);
      sandbox->memory_used_ -= old_bytes;
      return nullptr;
    }
    const std::size_t limit = sandbox->limits_.memory;
    const std::size_t total = sandbox->memory_used_ - old_bytes + new_size;
    if (limit != 0 && new_size > old_bytes && total > limit) {
      // Past the limit the allocation still succeeds, up to a margin, and the count hook
      // stops the run at its next call: there, between two instructions, it can collect
      // garbage first and name the script's line. Nothing may look at the stack in here.
      if (total - limit > hard_margin(limit)) {
        sandbox->memory_refused_ = true;
        return nullptr;
      }
      sandbox->memory_over_ = true;
    }
    void* moved = std::realloc(block, new_size);
    if (moved == nullptr) return nullptr;
    sandbox->memory_used_ = total;
    return moved;
  }

  // How far past the memory limit an allocation may go before it fails at once (a loop
  // doubling a string gets far in the instructions between two hook calls).
  static std::size_t hard_margin(std::size_t limit) { return std::max(limit / 4, kMinMargin); }

  // Lua calls this for an error outside any protected call, and aborts when it returns.
  // The sandbox makes every call protected; this is the last resort that turns a host bug
  // into an exception instead of an abort.
  static int panic(lua_State* L) {
    const char* message = lua_tostring(L, -1);
    throw Error(std::string("Lua error outside a protected call: ") +
                (message != nullptr ? message : "(no message)"));
  }

  // LUA_MASKCOUNT hook: counts instructions for the whole run, across coroutines (each
  // thread inherits the hook when created and counts into the same sandbox), and checks
  // the memory limit.
  static void count_hook(lua_State* L, lua_Debug*) {
    LuaSandbox* sandbox = sandbox_of(L);
    if (sandbox == nullptr) return;
    const LuaLimits& limits = sandbox->limits_;
    const int count = lua_gethookcount(L);
    if (sandbox->memory_over_) {
      sandbox->memory_over_ = false;
      lua_gc(L, LUA_GCCOLLECT);  // only live data counts, as in Lua's own emergency collection
      if (limits.memory != 0 && sandbox->memory_used_ > limits.memory) {
        stop(L, "script stopped: it needs more memory than the limit of " +
                    std::to_string(limits.memory) + " bytes");
      }
    }
    if (limits.instructions != 0) {
      sandbox->executed_ += static_cast<std::uint64_t>(count);
      if (sandbox->executed_ >= limits.instructions) {
        if (sandbox->stopped_after_ == 0) sandbox->stopped_after_ = sandbox->executed_;
        // From now on every instruction of this thread fails, so a script's pcall that
        // catches the error cannot go on running: the next instruction fails again.
        lua_sethook(L, &count_hook, LUA_MASKCOUNT, 1);
        stop(L, "script stopped after " + std::to_string(sandbox->stopped_after_) +
                    " instructions (limit " + std::to_string(limits.instructions) + ")");
      }
    }
    // A coroutine left counting every instruction by an earlier stopped run.
    if (count != hook_interval(limits)) {
      lua_sethook(L, &count_hook, LUA_MASKCOUNT, hook_interval(limits));
    }
  }

  // Raises "LOCATION: problem" from a hook.
  [[noreturn]] static void stop(lua_State* L, const std::string& problem) {
    const std::string message = LuaSandbox::caller_location(L) + ": " + problem;
    lua_pushlstring(L, message.data(), message.size());
    lua_error(L);  // the C++ build unwinds `message` properly
    std::abort();  // not reached: lua_error does not return
  }

  static int hook_interval(const LuaLimits& limits) {
    if (limits.instructions != 0 && limits.instructions < kHookInterval) {
      return static_cast<int>(limits.instructions);
    }
    return kHookInterval;
  }

  // Message handler of every pcall: [-0, +1] error object -> "LOCATION: message\nstack
  // traceback: ...". It runs where the error happened, before the stack unwinds, so the
  // location and traceback are those of the error.
  static int message_handler(lua_State* L) {
    std::string message;
    if (const char* text = lua_tostring(L, 1); text != nullptr) {
      message = text;
    } else if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
      message = lua_tostring(L, -1);
    } else {
      message = std::string("(error object is a ") + luaL_typename(L, 1) + " value)";
    }
    const std::string location = LuaSandbox::caller_location(L);
    if (location != "?" && !starts_with_position_in(message, location)) {
      message = location + ": " + message;
    }
    luaL_traceback(L, L, message.c_str(), 1);
    return 1;
  }

  // __index of the global table.
  static int unknown_global(lua_State* L) {
    const char* name = luaL_tolstring(L, 2, nullptr);
    const char* hint = "";
    if (is_left_out_library(name)) {
      hint =
          " (secateurs scripts run in a sandbox without the os, io, package and debug "
          "libraries)";
    } else if (is_left_out_function(name)) {
      hint =
          " (secateurs scripts run in a sandbox without dofile, loadfile, load, "
          "collectgarbage and warn)";
    }
    // Level 1 is the function that read the global: the position is the script's line.
    return luaL_error(L, "unknown global '%s'%s", name, hint);
  }

  // The sandbox's require(name): [-1, +1] name -> module value.
  static int require(lua_State* L) {
    return lua_guarded(L, [&] { return require_module(L, luaL_checkstring(L, 1)); });
  }

  static int require_module(lua_State* L, const std::string& name) {
    LuaSandbox* sandbox = sandbox_of(L);
    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);  // 2: loaded modules
    if (lua_getfield(L, 2, name.c_str()) != LUA_TNIL) return 1;
    lua_pop(L, 1);

    if (std::find(sandbox->loading_.begin(), sandbox->loading_.end(), name) !=
        sandbox->loading_.end()) {
      std::vector<std::string> cycle(
          std::find(sandbox->loading_.begin(), sandbox->loading_.end(), name),
          sandbox->loading_.end());
      cycle.push_back(name);
      return luaL_error(L, "module '%s' is required while it is being loaded: %s", name.c_str(),
                        join(cycle, " -> ").c_str());
    }
    // Removes the name again however the load ends; touches no Lua state, so it is safe
    // while a Lua error unwinds this frame.
    struct Loading {
      std::vector<std::string>& names;
      Loading(std::vector<std::string>& n, const std::string& name) : names(n) {
        names.push_back(name);
      }
      ~Loading() { names.pop_back(); }
    } loading(sandbox->loading_, name);

    lua_getfield(L, LUA_REGISTRYINDEX, kPreloadKey);  // 3
    if (lua_getfield(L, 3, name.c_str()) != LUA_TNIL) {
      lua_pushvalue(L, 1);
      lua_call(L, 1, 1);  // opener(name)
    } else {
      lua_pop(L, 1);
      if (!is_valid_module_name(name)) {
        return luaL_error(L,
                          "module name '%s' is not valid: module names are words of letters, "
                          "digits and '_' joined by dots, like 'lib.graph'",
                          name.c_str());
      }
      std::string relative = name;
      std::replace(relative.begin(), relative.end(), '.', '/');
      std::vector<std::string> tried;
      std::string file;
      for (const std::filesystem::path& folder : sandbox->module_dirs_) {
        for (const std::string& candidate : {relative + ".lua", relative + "/init.lua"}) {
          const std::string path = (folder / candidate).string();
          std::error_code ec;
          if (std::filesystem::is_regular_file(path, ec)) {
            file = path;
            break;
          }
          tried.push_back(path);
        }
        if (!file.empty()) break;
      }
      if (file.empty()) {
        std::string host_modules = sandbox->host_modules_.empty()
                                       ? std::string("none")
                                       : join(sandbox->host_modules_, ", ");
        std::string files =
            tried.empty() ? std::string("no module folders are set") : "tried " + join(tried, ", ");
        return luaL_error(L,
                          "module '%s' not found: secateurs scripts may require only the "
                          "host's modules (%s) and Lua files in the module folders (%s)",
                          name.c_str(), host_modules.c_str(), files.c_str());
      }
      std::string text, reason;
      if (!read_text(file, text, reason)) {
        return luaL_error(L, "module '%s': cannot read %s: %s", name.c_str(), file.c_str(),
                          reason.c_str());
      }
      const std::string chunk_name = "@" + file;
      if (luaL_loadbufferx(L, text.data(), text.size(), chunk_name.c_str(), "t") != LUA_OK) {
        return lua_error(L);  // "lib/graph.lua:3: syntax error ..."
      }
      sandbox->library_sources_.insert(chunk_name);
      lua_pushvalue(L, 1);
      lua_pushlstring(L, file.data(), file.size());
      lua_call(L, 2, 1);  // chunk(name, file), as Lua's own require passes them
    }
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, 2, name.c_str());
    return 1;
  }

  // [-1, +0] Opens the libraries; the argument is the sandbox (light userdata).
  static int open(lua_State* L) {
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kSandboxKey);

    const luaL_Reg libraries[] = {
        {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine}};
    for (const luaL_Reg& library : libraries) {
      luaL_requiref(L, library.name, library.func, 1);
      lua_pop(L, 1);
    }
    lua_pushglobaltable(L);  // 1
    for (const char* name : {"dofile", "loadfile", "load", "collectgarbage", "warn"}) {
      lua_pushnil(L);
      lua_setfield(L, 1, name);
    }
    // string.dump makes binary chunks, which nothing in the sandbox may load.
    lua_getfield(L, 1, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);

    lua_pushcfunction(L, &require);
    lua_setfield(L, 1, "require");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, kPreloadKey);

    // Last: until the metatable is set, the global table may be read freely.
    lua_newtable(L);
    lua_pushcfunction(L, &unknown_global);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);  // getmetatable(_G) is false, setmetatable(_G, ...) fails
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, 1);
    lua_pop(L, 1);
    return 0;
  }
};

LuaSandbox::LuaSandbox(LuaLimits limits, std::vector<std::filesystem::path> module_dirs)
    : limits_(limits), module_dirs_(std::move(module_dirs)) {
  L_ = lua_newstate(&LuaSandboxAccess::allocate, this);
  if (L_ == nullptr) {
    throw ConfigError("cannot create a Lua state within the memory limit of " +
                      std::to_string(limits_.memory) + " bytes");
  }
  lua_atpanic(L_, &LuaSandboxAccess::panic);
  auto open = [this](lua_State* L) {
    lua_pushlightuserdata(L, this);
    return LuaSandboxAccess::open(L);
  };
  try {
    run_protected(L_, 0, open, "cannot open the Lua sandbox");
  } catch (...) {
    lua_close(L_);
    throw;
  }
  begin_run();  // installs the hook
}

LuaSandbox::~LuaSandbox() {
  lua_close(L_);
}

void LuaSandbox::add_module(const std::string& name, lua_CFunction opener) {
  auto add = [&](lua_State* L) {
    lua_getfield(L, LUA_REGISTRYINDEX, kPreloadKey);
    lua_pushcfunction(L, opener);
    lua_setfield(L, -2, name.c_str());
    return 0;
  };
  run_protected(L_, 0, add, "cannot add the module '" + name + "'");
  host_modules_.push_back(name);
}

void LuaSandbox::add_module_value(const std::string& name) {
  auto add = [&](lua_State* L) {
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_insert(L, 1);  // loaded, value
    lua_setfield(L, 1, name.c_str());
    return 0;
  };
  run_protected(L_, 1, add, "cannot add the module '" + name + "'");
  host_modules_.push_back(name);
}

void LuaSandbox::begin_run() {
  if (depth_ != 0) return;
  executed_ = 0;
  stopped_after_ = 0;
  memory_refused_ = false;
  memory_over_ = false;
  if (limits_.instructions != 0 || limits_.memory != 0) {
    lua_sethook(L_, &LuaSandboxAccess::count_hook, LUA_MASKCOUNT,
                LuaSandboxAccess::hook_interval(limits_));
  }
}

int LuaSandbox::run_file(const std::filesystem::path& script, int results) {
  std::string text, reason;
  if (!read_text(script, text, reason)) {
    throw ConfigError("cannot read the script " + script.string() + ": " + reason);
  }
  if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
  // A "#!" first line becomes a comment; the line numbers stay those of the file.
  if (text.starts_with("#")) text.insert(0, "--");
  return run_string(text, script.string(), results);
}

int LuaSandbox::run_string(std::string_view chunk, const std::string& chunk_name, int results) {
  begin_run();
  if (!lua_checkstack(L_, 2)) throw ConfigError(chunk_name + ": the Lua stack is full");
  const std::string id = "@" + chunk_name;  // '@': shown as a file name, shortened at the front
  const int status = luaL_loadbufferx(L_, chunk.data(), chunk.size(), id.c_str(), "t");
  if (status != LUA_OK) {
    std::string message = status == LUA_ERRMEM ? memory_message(chunk_name) : "";
    if (message.empty()) {
      const char* text = lua_tostring(L_, -1);
      message = text != nullptr ? text : chunk_name + ": cannot load the script";
    }
    lua_pop(L_, 1);
    throw ConfigError(message);
  }
  return call(0, results);
}

std::string LuaSandbox::memory_message(const std::string& where) const {
  if (!memory_refused_) return where + ": not enough memory";
  return where + ": script stopped: it needs more memory than the limit of " +
         std::to_string(limits_.memory) + " bytes";
}

int LuaSandbox::call(int nargs, int results) {
  lua_State* L = L_;
  begin_run();
  if (!lua_checkstack(L, 2)) throw ConfigError("the Lua stack is full");
  const int function = lua_gettop(L) - nargs;
  const int base = function - 1;  // what stays below the results

  // What to name when the error has no message of its own (out of memory, a lost C++
  // exception): the function's chunk, and its first line unless it is a main chunk.
  std::string where = "?";
  if (lua_isfunction(L, function)) {
    lua_Debug ar;
    lua_pushvalue(L, function);
    lua_getinfo(L, ">S", &ar);
    where = std::string(ar.short_src);
    if (ar.linedefined > 0) where += ":" + std::to_string(ar.linedefined);
  }

  lua_pushcfunction(L, &LuaSandboxAccess::message_handler);
  lua_insert(L, function);
  ++depth_;
  const int status = lua_pcall(L, nargs, results, function);
  --depth_;
  lua_remove(L, function);
  if (status == LUA_OK) return results == LUA_MULTRET ? lua_gettop(L) - base : results;

  std::string message;
  switch (status) {
    case LUA_ERRRUN: {
      const char* text = lua_tostring(L, -1);
      message = text != nullptr ? text : where + ": (no error message)";
      break;
    }
    case LUA_ERRMEM: message = memory_message(where); break;
    case LUA_ERRERR: {
      // The message handler itself failed (out of memory while formatting, most often).
      const char* text = lua_tostring(L, -1);
      message = memory_refused_
                    ? memory_message(where)
                    : where + ": " + (text != nullptr ? text : "error in error handling");
      break;
    }
    default:
      // Lua's C++ build caught a foreign C++ exception with catch (...): the exception and
      // its message are gone, and the value on the stack is whatever was on top.
      message = where +
                ": a binding let a C++ exception escape into Lua (its message is lost); "
                "bindings must wrap their body in secateurs::host::lua_guarded";
  }
  lua_settop(L, base);
  throw ConfigError(message);
}

std::string LuaSandbox::caller_location(lua_State* L) {
  const LuaSandbox* sandbox = LuaSandboxAccess::sandbox_of(L);
  std::string innermost;
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar) != 0; ++level) {
    if (lua_getinfo(L, "Sl", &ar) == 0 || ar.currentline <= 0) continue;  // C, or no lines
    std::string location = std::string(ar.short_src) + ":" + std::to_string(ar.currentline);
    const bool library = sandbox != nullptr && sandbox->library_sources_.count(ar.source) != 0;
    if (!library) return location;
    if (innermost.empty()) innermost = std::move(location);
  }
  return innermost.empty() ? "?" : innermost;
}

void push_binding_error(lua_State* L, std::string_view message) {
  const std::string text = LuaSandbox::caller_location(L) + ": " + std::string(message);
  lua_pushlstring(L, text.data(), text.size());
}

// --- lua_to_yaml -----------------------------------------------------------------------

namespace {

[[noreturn]] void reject(const std::string& path, const std::string& problem) {
  throw ConfigError((path.empty() ? std::string("the value") : path) + ": " + problem);
}

// Shortest text that reads back as the same double, and that still reads as a float.
std::string float_text(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, result.ptr);
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

std::string describe_key(lua_State* L, int index) {
  switch (lua_type(L, index)) {
    case LUA_TNUMBER:
      return lua_isinteger(L, index) ? std::to_string(lua_tointeger(L, index))
                                     : float_text(lua_tonumber(L, index));
    case LUA_TBOOLEAN: return lua_toboolean(L, index) ? "true" : "false";
    default: return std::string("of type ") + luaL_typename(L, index);
  }
}

YAML::Node to_yaml(lua_State* L, int index, const std::string& path,
                   std::vector<const void*>& open_tables);

YAML::Node table_to_yaml(lua_State* L, int index, const std::string& path,
                         std::vector<const void*>& open_tables) {
  const void* identity = lua_topointer(L, index);
  if (std::find(open_tables.begin(), open_tables.end(), identity) != open_tables.end()) {
    reject(path, "a table that contains itself (directly or through other tables)");
  }
  if (open_tables.size() >= kMaxTableDepth) {
    reject(path, "tables nested more than " + std::to_string(kMaxTableDepth) + " deep");
  }
  if (!lua_checkstack(L, 4)) reject(path, "tables nested too deep for the Lua stack");
  open_tables.push_back(identity);

  // First the keys, so that the values are converted in a fixed order (sorted names,
  // positions 1..n): the same table then always fails on the same value.
  std::vector<std::string> names;
  lua_Integer items = 0, lowest = 0, highest = 0;
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      std::size_t size = 0;
      const char* name = lua_tolstring(L, -2, &size);  // a string key: no conversion
      names.emplace_back(name, size);
    } else if (lua_isinteger(L, -2)) {
      const lua_Integer position = lua_tointeger(L, -2);
      lowest = items == 0 ? position : std::min(lowest, position);
      highest = items == 0 ? position : std::max(highest, position);
      ++items;
    } else {
      reject(path,
             "the key " + describe_key(L, -2) + " is neither a name nor a list position 1..n");
    }
    lua_pop(L, 1);
  }

  YAML::Node node;
  if (items > 0 && !names.empty()) {
    std::sort(names.begin(), names.end());
    reject(path, "a table that mixes list items and named keys (like '" + names.front() + "')");
  }
  if (items > 0) {
    // Distinct integers, so lowest 1 and highest n mean exactly 1..n.
    if (lowest < 1 || highest != items) {
      const lua_Integer odd = lowest < 1 ? lowest : highest;
      reject(path, "list items must be at positions 1..n without holes (found position " +
                       std::to_string(odd) + " among " + std::to_string(items) + " items)");
    }
    node = YAML::Node(YAML::NodeType::Sequence);
    for (lua_Integer i = 1; i <= items; ++i) {
      lua_rawgeti(L, index, i);
      node.push_back(to_yaml(L, lua_gettop(L), path + "[" + std::to_string(i) + "]", open_tables));
      lua_pop(L, 1);
    }
  } else {
    node = YAML::Node(YAML::NodeType::Map);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      lua_pushlstring(L, name.data(), name.size());
      lua_rawget(L, index);
      YAML::Node value =
          to_yaml(L, lua_gettop(L), path.empty() ? name : path + "." + name, open_tables);
      node.force_insert(name, value);
      lua_pop(L, 1);
    }
  }
  open_tables.pop_back();
  return node;
}

YAML::Node to_yaml(lua_State* L, int index, const std::string& path,
                   std::vector<const void*>& open_tables) {
  // Scalars get the tags yaml-cpp gives parsed ones: "?" to a plain scalar (a number, a
  // boolean), "!" to a quoted one (a string), so that a string "30" stays a string.
  const auto scalar = [](std::string text, const char* tag) {
    YAML::Node node(std::move(text));
    node.SetTag(tag);
    return node;
  };
  const int type = lua_type(L, index);
  switch (type) {
    case LUA_TNIL: return YAML::Node(YAML::NodeType::Null);
    case LUA_TBOOLEAN: return scalar(lua_toboolean(L, index) ? "true" : "false", "?");
    case LUA_TNUMBER:
      return scalar(lua_isinteger(L, index) ? std::to_string(lua_tointeger(L, index))
                                            : float_text(lua_tonumber(L, index)),
                    "?");
    case LUA_TSTRING: {
      std::size_t size = 0;
      const char* text = lua_tolstring(L, index, &size);
      return scalar(std::string(text, size), "!");
    }
    case LUA_TTABLE: return table_to_yaml(L, index, path, open_tables);
    case LUA_TFUNCTION: reject(path, "a function is not a value");
    default: reject(path, std::string("a ") + lua_typename(L, type) + " is not a value");
  }
}

}  // namespace

YAML::Node lua_to_yaml(lua_State* L, int index, const std::string& path) {
  const int top = lua_gettop(L);
  std::vector<const void*> open_tables;
  try {
    return to_yaml(L, lua_absindex(L, index), path, open_tables);
  } catch (const ConfigError&) {
    // Only our own errors: a Lua error unwinding through here is left to Lua, whose
    // recovery expects the stack as it was at the throw.
    lua_settop(L, top);
    throw;
  }
}

}  // namespace secateurs::host
