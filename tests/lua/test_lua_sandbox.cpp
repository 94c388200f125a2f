// The Lua sandbox: what a script may not reach (os, io, files through require), that it
// cannot run forever or take all memory, that every error names the script's line, and
// the conversion of a script's tables to YAML.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>

#include "host/lua_sandbox.h"
#include "secateurs/error.h"
#include "support/messages.h"
#include "support/temp_dir.h"

using namespace secateurs;
using secateurs::host::lua_guarded;
using secateurs::host::lua_guarded_function;
using secateurs::host::lua_to_yaml;
using secateurs::host::LuaLimits;
using secateurs::host::LuaSandbox;
using secateurs::testing::contains;
using secateurs::testing::message_of;
using secateurs::testing::TempDir;

namespace {

void write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

std::string run_error(LuaSandbox& sandbox, const std::string& chunk,
                      const std::string& name = "script.lua") {
  const int top = lua_gettop(sandbox.state());
  std::string message = message_of<ConfigError>([&] { sandbox.run_string(chunk, name); });
  CHECK(lua_gettop(sandbox.state()) == top);  // a failed run leaves the stack as it was
  return message;
}

// Bindings, as the host writes them.
int fail_with_config_error(lua_State* L) {
  return lua_guarded(L, [&]() -> int {
    throw ConfigError("trainer.epochs must be positive, got " +
                      std::to_string(luaL_checkinteger(L, 1)));
  });
}

int fail_with_std_exception(lua_State*) {
  throw std::out_of_range("index 7 out of range");
}

int unguarded_throw(lua_State*) {
  throw std::runtime_error("this message is lost");
}

int twice(lua_State* L) {
  lua_pushinteger(L, 2 * luaL_checkinteger(L, 1));
  return 1;
}

int open_core(lua_State* L) {
  const luaL_Reg functions[] = {{"fail", fail_with_config_error},
                                {"fail_std", lua_guarded_function<fail_with_std_exception>},
                                {"unguarded", unguarded_throw},
                                {"twice", lua_guarded_function<twice>},
                                {nullptr, nullptr}};
  luaL_newlib(L, functions);
  return 1;
}

// The value of `script`'s returned table, converted.
YAML::Node yaml_of(LuaSandbox& sandbox, const std::string& script) {
  lua_State* L = sandbox.state();
  REQUIRE(sandbox.run_string(script, "config.lua", 1) == 1);
  YAML::Node node = lua_to_yaml(L, -1);
  lua_pop(L, 1);
  return node;
}

std::vector<std::string> keys_of(const YAML::Node& map) {
  std::vector<std::string> keys;
  for (const auto& entry : map) keys.push_back(entry.first.Scalar());
  return keys;
}

}  // namespace

TEST_CASE("lua sandbox: os.execute is blocked and the message names the script line") {
  TempDir dir;
  write(dir / "script.lua", "local x = 1\nlocal y = x + 1\nos.execute('true')\n");
  LuaSandbox sandbox;
  const std::string message =
      message_of<ConfigError>([&] { sandbox.run_file(dir / "script.lua"); });
  CHECK(contains(message, "script.lua:3: unknown global 'os'"));
  CHECK(contains(message, "sandbox without the os, io, package and debug libraries"));
  CHECK(contains(message, "stack traceback:"));
  CHECK(message.starts_with((dir / "script.lua").string() + ":3: "));
  CHECK(lua_gettop(sandbox.state()) == 0);
}

TEST_CASE("lua sandbox: io, package, debug, load and string.dump are not there") {
  LuaSandbox sandbox;
  CHECK(contains(run_error(sandbox, "\nlocal f = io.open('/etc/passwd')"),
                 "script.lua:2: unknown global 'io'"));
  CHECK(contains(run_error(sandbox, "package.path = '/tmp/?.lua'"),
                 "script.lua:1: unknown global 'package'"));
  CHECK(contains(run_error(sandbox, "debug.sethook()"), "unknown global 'debug'"));
  CHECK(contains(run_error(sandbox, "load('return 1')"), "script.lua:1: unknown global 'load'"));
  CHECK(contains(run_error(sandbox, "dofile('/etc/passwd')"), "unknown global 'dofile'"));
  CHECK(contains(run_error(sandbox, "loadfile('/etc/passwd')"), "unknown global 'loadfile'"));
  CHECK(contains(run_error(sandbox, "collectgarbage()"), "unknown global 'collectgarbage'"));
  CHECK(contains(run_error(sandbox, "string.dump(print)"), "attempt to call a nil value"));
  // The allowed libraries are there.
  lua_State* L = sandbox.state();
  REQUIRE(sandbox.run_string("return string.format('%d', math.max(2, 3)) .. "
                             "table.concat({'a', 'b'}) .. utf8.char(72) .. "
                             "tostring(coroutine.wrap(function() coroutine.yield(9) end)())",
                             "script.lua", 1) == 1);
  CHECK(std::string(lua_tostring(L, -1)) == "3abH9");
  lua_pop(L, 1);
}

TEST_CASE("lua sandbox: the global table is strict for reads, open for definitions") {
  LuaSandbox sandbox;
  lua_State* L = sandbox.state();
  SUBCASE("an unknown global names its line") {
    const std::string message =
        run_error(sandbox, "local epochs = 3\n\nlocal t = {lr = learning_rate}\n");
    CHECK(message.starts_with("script.lua:3: unknown global 'learning_rate'"));
  }
  SUBCASE("a script defines and calls its own global functions and variables") {
    REQUIRE(sandbox.run_string("function double(x) return 2 * x end\n"
                               "base = 20\n"
                               "return double(base) + 2",
                               "script.lua", 1) == 1);
    CHECK(lua_tointeger(L, -1) == 42);
    lua_pop(L, 1);
    // Globals persist between runs of the same sandbox.
    REQUIRE(sandbox.run_string("return double(4)", "second.lua", 1) == 1);
    CHECK(lua_tointeger(L, -1) == 8);
    lua_pop(L, 1);
  }
  SUBCASE("rawget tests for a global without failing") {
    REQUIRE(sandbox.run_string("return rawget(_G, 'os') == nil", "script.lua", 1) == 1);
    CHECK(lua_toboolean(L, -1));
    lua_pop(L, 1);
  }
  SUBCASE("the guard cannot be removed") {
    CHECK(contains(run_error(sandbox, "setmetatable(_G, nil)"),
                   "cannot change a protected metatable"));
    REQUIRE(sandbox.run_string("return getmetatable(_G)", "script.lua", 1) == 1);
    CHECK(lua_isboolean(L, -1));
    lua_pop(L, 1);
  }
}

TEST_CASE("lua sandbox: an endless loop is stopped by the instruction limit") {
  LuaSandbox sandbox(LuaLimits{.instructions = 1'000'000});
  const auto check_stopped = [&](const std::string& script) {
    const auto start = std::chrono::steady_clock::now();
    const std::string message = run_error(sandbox, script);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(seconds < 1.0);
    CHECK(contains(message, "script stopped after 1000000 instructions (limit 1000000)"));
    return message;
  };
  CHECK(check_stopped("local n = 0\nwhile true do end\n").starts_with("script.lua:2: "));
  // A script's pcall cannot swallow the stop and go on.
  check_stopped("while true do pcall(function() while true do end end) end");
  check_stopped("local ok = pcall(function() while true do end end)\nreturn ok");
  // Nor can a coroutine escape it.
  check_stopped("local co = coroutine.wrap(function() while true do end end)\nco()");
  check_stopped(
      "while true do coroutine.resume(coroutine.create(function() while true do end end)) end");
  // Each run has its own budget: the sandbox works again afterwards.
  lua_State* L = sandbox.state();
  REQUIRE(sandbox.run_string("local s = 0 for i = 1, 1000 do s = s + i end return s", "script.lua",
                             1) == 1);
  CHECK(lua_tointeger(L, -1) == 500500);
  lua_pop(L, 1);
}

TEST_CASE("lua sandbox: the memory limit stops a run without harming the host") {
  LuaSandbox sandbox(LuaLimits{.memory = 16u << 20});
  const std::string message =
      run_error(sandbox, "local t = {}\nfor i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end\n");
  CHECK(message.starts_with(
      "script.lua:2: script stopped: it needs more memory than the limit of 16777216 bytes"));
  // One allocation far past the limit fails at once: no line then, but the chunk and limit.
  CHECK(run_error(sandbox, "return string.rep('x', 1 << 30)")
            .starts_with("script.lua: script stopped: it needs more memory than the limit"));
  // Garbage does not count: a run that makes much more of it than the limit goes through.
  lua_State* L = sandbox.state();
  REQUIRE(sandbox.run_string("local n = 0\n"
                             "for i = 1, 20000 do n = n + #string.rep('z', 4000) end\n"
                             "return n",
                             "script.lua", 1) == 1);
  CHECK(lua_tointeger(L, -1) == 80'000'000);
  lua_pop(L, 1);
  // A script's pcall may catch the stop; what it kept is freed with its frames.
  REQUIRE(
      sandbox.run_string("local ok, e = pcall(function()\n"
                         "  local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end\n"
                         "end)\n"
                         "return ok, e",
                         "script.lua", 2) == 2);
  CHECK_FALSE(lua_toboolean(L, -2));
  CHECK(contains(lua_tostring(L, -1), "script.lua:2: script stopped: it needs more memory"));
  lua_pop(L, 2);
  REQUIRE(sandbox.run_string("return #string.rep('y', 1000)", "script.lua", 1) == 1);
  CHECK(lua_tointeger(L, -1) == 1000);
  lua_pop(L, 1);
}

TEST_CASE("lua sandbox: require finds host modules and files in the module folders only") {
  TempDir dir;
  write(dir / "lib" / "graph.lua",
        "local name, file = ...\n"
        "loads = (rawget(_G, 'loads') or 0) + 1\n"
        "return {name = name, node = function(kind) return {kind = kind} end}\n");
  write(dir / "lib" / "data" / "init.lua", "return {splits = 2}\n");
  write(dir / "cycle" / "a.lua", "return require 'cycle.b'\n");
  write(dir / "cycle" / "b.lua", "return require 'cycle.a'\n");
  write(dir / "broken.lua", "return {\n");
  write(dir / "outside.lua", "return 'outside'\n");
  LuaSandbox sandbox({}, {dir / "cycle", dir.path()});
  sandbox.add_module("secateurs.core", open_core);
  lua_State* L = sandbox.state();

  SUBCASE("files and host modules load once") {
    REQUIRE(sandbox.run_string("local g = require 'lib.graph'\n"
                               "local again = require 'lib.graph'\n"
                               "local core = require 'secateurs.core'\n"
                               "return g == again and g.name, g.node('train').kind, loads,\n"
                               "  require('lib.data').splits, core.twice(21)",
                               "script.lua", LUA_MULTRET) == 5);
    CHECK(std::string(lua_tostring(L, 1)) == "lib.graph");
    CHECK(std::string(lua_tostring(L, 2)) == "train");
    CHECK(lua_tointeger(L, 3) == 1);
    CHECK(lua_tointeger(L, 4) == 2);
    CHECK(lua_tointeger(L, 5) == 42);
    lua_settop(L, 0);
  }
  SUBCASE("a value added by the host") {
    lua_newtable(L);
    lua_pushinteger(L, 7);
    lua_setfield(L, -2, "seed");
    sandbox.add_module_value("secateurs.settings");
    CHECK(lua_gettop(L) == 0);
    REQUIRE(sandbox.run_string("return require('secateurs.settings').seed", "script.lua", 1) == 1);
    CHECK(lua_tointeger(L, -1) == 7);
    lua_pop(L, 1);
  }
  SUBCASE("an unknown module fails and says what may be required") {
    const std::string message = run_error(sandbox, "\nlocal x = require 'socket'\n");
    CHECK(
        message.starts_with("script.lua:2: module 'socket' not found: secateurs scripts may "
                            "require only the host's modules (secateurs.core)"));
    CHECK(contains(message, (dir / "socket.lua").string()));
  }
  SUBCASE("names cannot leave the module folders") {
    CHECK(contains(run_error(sandbox, "require '../outside'"),
                   "module name '../outside' is not valid"));
    CHECK(contains(run_error(sandbox, "require '/etc/passwd'"), "is not valid"));
  }
  SUBCASE("a require cycle and a broken module are named") {
    CHECK(contains(run_error(sandbox, "require 'cycle.a'"),
                   "module 'cycle.a' is required while it is being loaded: "
                   "cycle.a -> cycle.b -> cycle.a"));
    const std::string message = run_error(sandbox, "local x = 1\nrequire 'broken'");
    CHECK(message.starts_with("script.lua:2: "));
    CHECK(contains(message, (dir / "broken.lua").string() + ":2:"));
    // A failed load leaves nothing half-loaded behind: the cycle check is reset too.
    CHECK(contains(run_error(sandbox, "require 'cycle.b'"), "cycle.b -> cycle.a -> cycle.b"));
  }
  SUBCASE("a binding called from a library module names the user's line") {
    write(dir / "lib" / "checks.lua",
          "local core = require 'secateurs.core'\n"
          "local M = {}\n"
          "function M.epochs(n)\n"
          "  return core.fail(n)\n"
          "end\n"
          "return M\n");
    const std::string message =
        run_error(sandbox, "local checks = require 'lib.checks'\n\nchecks.epochs(-1)\n");
    CHECK(message.starts_with("script.lua:3: trainer.epochs must be positive, got -1"));
    CHECK(contains(message, "checks.lua:4:"));  // in the traceback
  }
}

TEST_CASE("lua sandbox: a binding's exception becomes a ConfigError naming the script line") {
  LuaSandbox sandbox;
  sandbox.add_module("secateurs.core", open_core);
  const std::string message =
      run_error(sandbox, "local core = require 'secateurs.core'\ncore.fail(-3)\n");
  CHECK(message.starts_with("script.lua:2: trainer.epochs must be positive, got -3\n"));
  CHECK(contains(message, "stack traceback:"));
  CHECK(run_error(sandbox, "local core = require 'secateurs.core'\n\ncore.fail_std()")
            .starts_with("script.lua:3: index 7 out of range"));
  // Lua's own argument errors pass through lua_guarded untouched.
  CHECK(contains(run_error(sandbox, "require('secateurs.core').fail('x')"),
                 "script.lua:1: bad argument #1 to 'fail'"));
  // A script may catch a binding's error like any other.
  lua_State* L = sandbox.state();
  REQUIRE(sandbox.run_string("local ok, e = pcall(require('secateurs.core').fail, 0)\n"
                             "return ok, e",
                             "script.lua", 2) == 2);
  CHECK_FALSE(lua_toboolean(L, -2));
  CHECK(contains(lua_tostring(L, -1), "got 0"));
  lua_pop(L, 2);
  // An unguarded binding: Lua's C++ build swallows the exception; the run still fails
  // cleanly and says what went wrong.
  CHECK(contains(run_error(sandbox, "require('secateurs.core').unguarded()"),
                 "a binding let a C++ exception escape into Lua"));
}

TEST_CASE("lua sandbox: syntax errors, runtime errors and odd error objects name the line") {
  LuaSandbox sandbox;
  CHECK(run_error(sandbox, "local x = 1\nlocal = 2\n").starts_with("script.lua:2: "));
  CHECK(run_error(sandbox, "local t\n\nreturn t.x\n")
            .starts_with("script.lua:3: attempt to index a nil value"));
  CHECK(run_error(sandbox, "error('plain', 0)").starts_with("script.lua:1: plain"));
  CHECK(run_error(sandbox, "\nerror({})").starts_with("script.lua:2: (error object is a table"));
  // error(..., 2) already names the caller's line: no second position in front.
  CHECK(run_error(sandbox, "local function check() error('bad', 2) end\n\ncheck()\n")
            .starts_with("script.lua:3: bad\n"));
  // Deep recursion is a Lua error, not a crash.
  CHECK(
      contains(run_error(sandbox, "local function f() return 1 + f() end\nf()"), "stack overflow"));
}

TEST_CASE("lua sandbox: run_file reads text scripts only") {
  TempDir dir;
  LuaSandbox sandbox;
  lua_State* L = sandbox.state();
  CHECK(contains(message_of<ConfigError>([&] { sandbox.run_file(dir / "missing.lua"); }),
                 "cannot read the script " + (dir / "missing.lua").string()));
  write(dir / "shebang.lua", "#!/usr/bin/env lua\nreturn 5\n");
  REQUIRE(sandbox.run_file(dir / "shebang.lua", 1) == 1);
  CHECK(lua_tointeger(L, -1) == 5);
  lua_pop(L, 1);
  write(dir / "shebang_error.lua", "#!/usr/bin/env lua\n\nnope()\n");
  CHECK(contains(message_of<ConfigError>([&] { sandbox.run_file(dir / "shebang_error.lua"); }),
                 "shebang_error.lua:3: unknown global 'nope'"));

  // A binary chunk, made by a plain Lua state.
  lua_State* plain = luaL_newstate();
  REQUIRE(luaL_loadstring(plain, "return 1") == LUA_OK);
  std::string bytecode;
  lua_dump(
      plain,
      [](lua_State*, const void* p, size_t size, void* out) {
        static_cast<std::string*>(out)->append(static_cast<const char*>(p), size);
        return 0;
      },
      &bytecode, 1);
  lua_close(plain);
  write(dir / "binary.lua", bytecode);
  CHECK(contains(message_of<ConfigError>([&] { sandbox.run_file(dir / "binary.lua"); }),
                 "attempt to load a binary chunk"));
}

TEST_CASE("lua sandbox: run_string and call return values") {
  LuaSandbox sandbox;
  lua_State* L = sandbox.state();
  lua_pushstring(L, "below");  // the runs must not touch what is already on the stack
  CHECK(sandbox.run_string("return 1, 'two', 3.5", "script.lua", 2) == 2);
  CHECK(lua_gettop(L) == 3);
  CHECK(lua_tointeger(L, 2) == 1);
  CHECK(std::string(lua_tostring(L, 3)) == "two");
  lua_settop(L, 1);
  CHECK(sandbox.run_string("return 1, 2, 3", "script.lua", LUA_MULTRET) == 3);
  CHECK(lua_gettop(L) == 4);
  lua_settop(L, 1);
  CHECK(sandbox.run_string("x = 1", "script.lua", LUA_MULTRET) == 0);
  CHECK(sandbox.run_string("return", "script.lua") == 0);
  CHECK(lua_gettop(L) == 1);

  // A callback a script returned, called later by the host.
  REQUIRE(sandbox.run_string("return function(a, b)\n  if b == 0 then error('b is 0') end\n"
                             "  return a // b\nend",
                             "callbacks.lua", 1) == 1);
  lua_pushvalue(L, -1);
  lua_pushinteger(L, 7);
  lua_pushinteger(L, 2);
  CHECK(sandbox.call(2, 1) == 1);
  CHECK(lua_tointeger(L, -1) == 3);
  lua_pop(L, 1);
  lua_pushinteger(L, 7);
  lua_pushinteger(L, 0);
  CHECK(
      message_of<ConfigError>([&] { sandbox.call(2, 1); }).starts_with("callbacks.lua:2: b is 0"));
  CHECK(lua_gettop(L) == 1);
  CHECK(std::string(lua_tostring(L, 1)) == "below");
}

TEST_CASE("lua sandbox: lua_to_yaml converts nested tables") {
  LuaSandbox sandbox;
  const YAML::Node node = yaml_of(sandbox,
                                  "return {\n"
                                  "  trainer = {epochs = 30, lr = 0.1, momentum = 2.0,\n"
                                  "             tiny = 1e-5, nesterov = true, name = 'sgd'},\n"
                                  "  layers = {64, 128, {kind = 'relu'}},\n"
                                  "  zeta = {}, alpha = 'first', big = 9007199254740993,\n"
                                  "  nothing = {n = nil},\n"
                                  "}");
  REQUIRE(node.IsMap());
  CHECK(keys_of(node) ==
        std::vector<std::string>{"alpha", "big", "layers", "nothing", "trainer", "zeta"});
  CHECK(keys_of(node["trainer"]) ==
        std::vector<std::string>{"epochs", "lr", "momentum", "name", "nesterov", "tiny"});
  CHECK(node["trainer"]["epochs"].Scalar() == "30");
  CHECK(node["trainer"]["epochs"].as<int>() == 30);
  CHECK(node["trainer"]["lr"].Scalar() == "0.1");
  CHECK(node["trainer"]["lr"].as<double>() == 0.1);
  CHECK(node["trainer"]["momentum"].Scalar() == "2.0");  // stays a float
  CHECK(node["trainer"]["tiny"].as<double>() == 1e-5);
  CHECK(node["trainer"]["nesterov"].as<bool>() == true);
  CHECK(node["trainer"]["name"].as<std::string>() == "sgd");
  // Tagged as yaml-cpp tags parsed scalars: a string stays a string.
  CHECK(node["trainer"]["name"].Tag() == "!");
  CHECK(node["trainer"]["epochs"].Tag() == "?");
  CHECK(node["trainer"]["nesterov"].Tag() == "?");
  CHECK(node["big"].Scalar() == "9007199254740993");  // an integer, not rounded to a double
  REQUIRE(node["layers"].IsSequence());
  CHECK(node["layers"].size() == 3);
  CHECK(node["layers"][1].as<int>() == 128);
  CHECK(node["layers"][2]["kind"].as<std::string>() == "relu");
  CHECK(node["zeta"].IsMap());
  CHECK(node["zeta"].size() == 0);
  CHECK(node["nothing"].IsMap());  // a nil field is no field

  // Through text and back: the same tree.
  YAML::Emitter out;
  out << node;
  const YAML::Node again = YAML::Load(out.c_str());
  CHECK(again["trainer"]["lr"].as<double>() == 0.1);
  CHECK(again["layers"][2]["kind"].as<std::string>() == "relu");
  CHECK(again["big"].as<long long>() == 9007199254740993LL);

  // Single values, and nil.
  lua_State* L = sandbox.state();
  lua_pushnil(L);
  CHECK(lua_to_yaml(L, -1).IsNull());
  lua_pushnumber(L, -0.5);
  CHECK(lua_to_yaml(L, -1).Scalar() == "-0.5");
  lua_pushnumber(L, 1.0 / 0.0);
  CHECK(lua_to_yaml(L, -1).Scalar() == ".inf");
  lua_pushnumber(L, 1e300);
  CHECK(lua_to_yaml(L, -1).as<double>() == 1e300);
  lua_settop(L, 0);
}

TEST_CASE("lua sandbox: lua_to_yaml rejects what is not a value, naming its path") {
  LuaSandbox sandbox;
  lua_State* L = sandbox.state();
  const auto error_of = [&](const std::string& script) {
    REQUIRE(sandbox.run_string(script, "config.lua", 1) == 1);
    lua_pushinteger(L, 99);  // a value above the table: the index is relative
    lua_insert(L, -2);
    const std::string message = message_of<ConfigError>([&] { lua_to_yaml(L, -1, "experiment"); });
    CHECK(lua_gettop(L) == 2);  // the stack is as it was
    lua_settop(L, 0);
    return message;
  };
  CHECK(error_of("return {trainer = {epochs = function() end}}") ==
        "experiment.trainer.epochs: a function is not a value");
  CHECK(error_of("return {layers = {1, {act = coroutine.create(print)}}}") ==
        "experiment.layers[2].act: a thread is not a value");
  CHECK(error_of("return {a = {1, 2, x = 3}}") ==
        "experiment.a: a table that mixes list items and named keys (like 'x')");
  CHECK(error_of("return {a = {[1] = 'x', [3] = 'y'}}") ==
        "experiment.a: list items must be at positions 1..n without holes (found position 3 "
        "among 2 items)");
  CHECK(error_of("return {a = {[0] = 'x'}}") ==
        "experiment.a: list items must be at positions 1..n without holes (found position 0 "
        "among 1 items)");
  CHECK(error_of("return {a = {[1.5] = 1}}") ==
        "experiment.a: the key 1.5 is neither a name nor a list position 1..n");
  CHECK(error_of("return {a = {[true] = 1}}") ==
        "experiment.a: the key true is neither a name nor a list position 1..n");
  CHECK(error_of("local t = {}\nt.self = {t}\nreturn t") ==
        "experiment.self[1]: a table that contains itself (directly or through other tables)");
  CHECK(contains(error_of("local t = {}\nlocal c = t\n"
                          "for i = 1, 70 do c.d = {} c = c.d end\nreturn t"),
                 "tables nested more than 64 deep"));
  // Without a path the top level is "the value".
  lua_pushcfunction(L, twice);
  CHECK(message_of<ConfigError>([&] { lua_to_yaml(L, -1); }) ==
        "the value: a function is not a value");
  lua_settop(L, 0);
}

TEST_CASE("lua sandbox: lua_to_yaml inside a binding reports the script line") {
  LuaSandbox sandbox;
  lua_State* L = sandbox.state();
  lua_pushcfunction(L, [](lua_State* L) -> int {
    return lua_guarded(L, [&] {
      const YAML::Node node = lua_to_yaml(L, 1, "node");
      lua_pushinteger(L, static_cast<lua_Integer>(node.size()));
      return 1;
    });
  });
  lua_setglobal(L, "node");
  REQUIRE(sandbox.run_string("return node({kind = 'train', epochs = 3})", "graph.lua", 1) == 1);
  CHECK(lua_tointeger(L, -1) == 2);
  lua_pop(L, 1);
  CHECK(run_error(sandbox, "local x = 1\nnode({kind = 'train', on_done = print})\n", "graph.lua")
            .starts_with("graph.lua:2: node.on_done: a function is not a value"));
}

TEST_CASE("lua sandbox: caller_location outside any Lua code is '?'") {
  LuaSandbox sandbox;
  CHECK(LuaSandbox::caller_location(sandbox.state()) == "?");
}
