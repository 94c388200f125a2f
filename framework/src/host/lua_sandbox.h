// The Lua 5.4 sandbox experiment scripts run in: a script describes an experiment graph
// with plain tables and calls into the host's bindings; it never touches the file system,
// the process or the host's memory, and it cannot run forever.
//
// What a script sees: the base library (print writes to stdout) without dofile and
// loadfile (they read files), load (it accepts binary chunks, whose bytecode the VM does
// not verify), collectgarbage (the memory limit relies on the collector) and warn (a no-op
// here), and the string (without string.dump), table, math, utf8 and coroutine
// libraries. io, os, package and debug are not opened. `require` is the sandbox's own: it
// finds only modules the host added (add_module) and Lua text files in the module folders
// given to the constructor.
//
// Globals: a script may define globals (top-level functions and variables are the normal
// way to structure a script), but reading a global that does not exist is an error naming
// the line ("script.lua:3: unknown global 'os' ..."), not a silent nil: a misspelt name or
// a library the sandbox leaves out then fails where it is used. A script tests whether a
// global exists with rawget(_G, "name"). The global table's metatable is protected.
//
// Errors: every run goes through lua_pcall with a message handler that puts the user's
// script line first (caller_location) unless the message already names a line of that
// file, and appends a traceback; a failed run throws secateurs::ConfigError with that text:
//   script.lua:12: lib/graph.lua:40: attempt to index a nil value (local 'node')
//   stack traceback: ...
// Syntax errors name the file and line too. A Lua error outside any protected call (only
// the host's own use of the state can cause one, e.g. running out of memory in lua_to_yaml
// called between runs) throws secateurs::Error instead of aborting; Lua has then emptied
// the state's stack.
//
// C++ exceptions and bindings: the library is Debian's liblua5.4-c++ (link -llua5.4-c++,
// never the C build), so lua_error unwinds with C++ semantics and destructors of C++
// objects in a binding's frame run. A C++ exception other than Lua's own must still never
// leave a lua_CFunction: Lua's C++ build catches it with `catch (...)` in lua_pcall (and in
// coroutine.resume, and in a script's pcall), loses it, and reports an error whose "message"
// is whatever value happened to be on top of the stack; a coroutine is left unusable. So
// every binding that can throw wraps its body in lua_guarded, which turns the exception into
// a Lua error naming the script line. run_file, run_string and call still detect an
// exception that escaped unwrapped and report it as a bug of the binding, without its lost
// message.
//
// Threading: a LuaSandbox, and everything that uses its state, belongs to one thread at a
// time (the design runs Lua only on the thread that builds the graph, never on a worker).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>
#include <lua.hpp>

#include "secateurs/export.h"

namespace secateurs::host {

struct LuaLimits {
  // Lua VM instructions one run (run_file / run_string, with everything it calls) may
  // execute before it is stopped; 0: unlimited. Counted every 10'000 instructions, so a run
  // stops within that many past the limit. Time spent inside one C function (a huge
  // string.rep, a pathological pattern match) is not counted.
  std::uint64_t instructions = 2'000'000'000;
  // Bytes of live data the Lua state may hold; 0: unlimited. Checked with the instruction
  // count: a run past it is stopped at the next check, after a full garbage collection,
  // with an error naming the script's line. Until then allocations may go a quarter (at
  // least 1 MiB) past it; one beyond that fails at once, and the run stops with an error
  // naming the chunk but no line.
  std::size_t memory = std::size_t{1} << 30;
};

// A Lua state with only the allow-listed libraries, the strict global table, the
// sandbox's require and the instruction and memory limits. Owns the state; not copyable
// or movable (the state keeps a pointer to its sandbox).
class SECATEURS_API LuaSandbox {
 public:
  // Opens the state and the libraries. `module_dirs` are the folders `require` looks in,
  // in order. Throws ConfigError when the state cannot be created (e.g. a memory limit too
  // small for the libraries).
  explicit LuaSandbox(LuaLimits limits = {}, std::vector<std::filesystem::path> module_dirs = {});
  ~LuaSandbox();  // closes the state, running the finalizers of its userdata
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  // The state, for pushing arguments, reading results and installing bindings.
  lua_State* state() const { return L_; }

  // [-0, +0] Makes the module `name` requirable: its first `require(name)` calls
  // `opener(name)` and caches the value it returns (true when it returns nil), as
  // package.preload would. Used to install the C++ binding module "secateurs.core".
  // A host module wins over a file of the same name in a module folder.
  void add_module(const std::string& name, lua_CFunction opener);

  // [-1, +0] Makes the value on top of the stack (popped) the module `name`, already
  // loaded: for a binding table whose functions carry upvalues (a pointer to the graph
  // being built) that a plain opener could not give them.
  void add_module_value(const std::string& name);

  // [-0, +n] Runs the Lua text file `script` and leaves `results` of its return values on
  // the stack (LUA_MULTRET: all of them); returns how many it left. The chunk is named
  // after the path as given, so messages read "experiments/a.lua:12: ..." (Lua shortens
  // names over 59 characters to "...tail"). A leading "#!" line and a UTF-8 byte order
  // mark are skipped, as lua.c does; binary chunks are refused.
  // Throws ConfigError when the file cannot be read, does not compile or fails; the stack
  // is then as it was before the call.
  int run_file(const std::filesystem::path& script, int results = 0);

  // [-0, +n] Like run_file for the Lua text `chunk`, named `chunk_name` in messages
  // ("script.lua" gives "script.lua:3: ...").
  int run_string(std::string_view chunk, const std::string& chunk_name, int results = 0);

  // [-(nargs+1), +n] Calls the function below the `nargs` arguments on top of the stack
  // (a callback a script handed to a binding) under the same rules: message handler,
  // limits, ConfigError on failure with the stack as it was below the function. Inside a
  // run, the call counts towards that run's instruction limit; outside, it is a run of
  // its own.
  int call(int nargs, int results = 0);

  // "script.lua:12": the innermost stack level of `L` that is a Lua function not defined
  // in a module loaded from the module folders, i.e. the user's line that called into the
  // library and the bindings; else the innermost Lua level; "?" when the stack has no Lua
  // function. For states that are not a sandbox's, any Lua level counts.
  // Stack: [-0, +0], raises no Lua error.
  static std::string caller_location(lua_State* L);

 private:
  friend struct LuaSandboxAccess;  // the C callbacks in lua_sandbox.cpp

  void begin_run();  // resets the counters, unless a run is already going on
  std::string memory_message(const std::string& where) const;

  lua_State* L_ = nullptr;
  LuaLimits limits_;
  std::vector<std::filesystem::path> module_dirs_;
  std::uint64_t executed_ = 0;             // instructions of the current run (hook granularity)
  std::uint64_t stopped_after_ = 0;        // executed_ when the run hit the limit; 0: it did not
  std::size_t memory_used_ = 0;            // bytes the state holds now
  bool memory_refused_ = false;            // an allocation failed on the limit during this run
  bool memory_over_ = false;               // the state grew past the limit since the last hook call
  int depth_ = 0;                          // nested runs and calls; the outermost resets counters
  std::set<std::string> library_sources_;  // chunk names of modules loaded from module_dirs_
  std::vector<std::string> loading_;       // modules being required, innermost last
  std::vector<std::string> host_modules_;  // names given to add_module*, for messages
};

// [-0, +1] Pushes "LOCATION: message" for a binding's failure, LOCATION being
// caller_location(L). Used by lua_guarded; raises a Lua error only when out of memory.
SECATEURS_API void push_binding_error(lua_State* L, std::string_view message);

// Runs a binding's body (a callable taking no arguments and returning the number of
// results it pushed) so that a C++ exception cannot reach Lua: a std::exception (every
// secateurs::Error included) becomes a Lua error "script.lua:12: <what()>" naming the
// user's line, which run_file / run_string report as a ConfigError with a traceback. Lua's
// own errors raised in the body (luaL_checkinteger, luaL_error) pass through untouched.
// Because the library is the C++ build, C++ objects in the body are destroyed on either
// path. Usage:
//   int node(lua_State* L) {
//     return lua_guarded(L, [&] { ...; return 1; });
//   }
template <class Body>
int lua_guarded(lua_State* L, Body&& body) {
  try {
    return std::forward<Body>(body)();
  } catch (const std::exception& e) {
    // The message goes onto the Lua stack inside the handler; the Lua error is raised
    // after it, once the C++ exception is finished with.
    push_binding_error(L, e.what());
  }
  return lua_error(L);
}

// lua_guarded for a plain function, to register in a luaL_Reg:
//   {"node", lua_guarded_function<node_impl>}
template <lua_CFunction Body>
int lua_guarded_function(lua_State* L) {
  return lua_guarded(L, [L] { return Body(L); });
}

// Converts the Lua value at `index` to YAML, for a script's parameter tables: nil is Null;
// a boolean, an integer (kept an integer: "3"), a float (shortest text that reads back as
// the same double, always with a '.', an exponent or .inf/.nan so it stays a float: "3.0",
// "0.1", "1e-05") and a string are scalars, tagged as yaml-cpp tags parsed ones ("?" for
// plain, "!" for quoted, so a string "30" stays distinguishable from the number 30 in the
// node; yaml-cpp's emitter writes both as 30); a table with the keys 1..n is a sequence; a
// table with string keys is a map with its keys sorted (the same value always gives the
// same node); an empty table is an empty map. Tables are read raw (metatables ignored).
// Anything else throws ConfigError naming the path of the offending value below `path`
// ("trainer.epochs: a function is not a value", "layers[2].act: ..."; "the value: ..." at
// the top when `path` is empty): functions, userdata, threads, tables mixing list items
// and names, keys other than strings and 1..n, a table that contains itself, tables
// nested deeper than 64. Called in a lua_guarded binding, the error names the script line.
// Stack: [-0, +0]; raises a Lua error only when out of memory.
SECATEURS_API YAML::Node lua_to_yaml(lua_State* L, int index, const std::string& path = "");

}  // namespace secateurs::host
