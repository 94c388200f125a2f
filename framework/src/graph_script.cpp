#include "host/graph_script.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <optional>

#include "host/attack_run.h"
#include "host/graph_nodes.h"
#include "host/run_file.h"
#include "secateurs/attack.h"

#ifndef SECATEURS_SOURCE_SCRIPT_DIR
#define SECATEURS_SOURCE_SCRIPT_DIR ""
#endif
#ifndef SECATEURS_INSTALL_SCRIPT_DIR
#define SECATEURS_INSTALL_SCRIPT_DIR "share/secateurs/scripts"
#endif

namespace secateurs::host {

std::filesystem::path default_script_dir() {
  if (const char* given = std::getenv("SECATEURS_SCRIPT_DIR"); given != nullptr && *given != 0) {
    return given;
  }
  // The executable's prefix: <prefix>/bin/secateurs -> <prefix>/share/secateurs/scripts.
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    const std::filesystem::path installed =
        self.parent_path().parent_path() / SECATEURS_INSTALL_SCRIPT_DIR;
    if (std::filesystem::exists(installed / "secateurs.lua")) return installed;
  }
  return SECATEURS_SOURCE_SCRIPT_DIR;
}

namespace {

// What the binding functions share (their upvalue): the graph being declared.
struct Builder {
  const Registry* registry = nullptr;
  GraphSpec* graph = nullptr;
  std::filesystem::path base;        // relative paths in load_yaml are relative to it
  std::filesystem::path experiment;  // a YAML experiment file being expanded
  // Its name as given: where its nodes are declared (the expansion's Lua lines would name
  // nothing the user wrote).
  std::string experiment_name;
};

Builder& builder(lua_State* L) {
  return *static_cast<Builder*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// [-0, +1] A YAML node as a Lua value: maps become tables with string keys, sequences
// lists, scalars integers, floats or booleans when they read as one, else strings.
void push_yaml(lua_State* L, const YAML::Node& node) {
  luaL_checkstack(L, 4, "YAML nested too deeply");
  if (!node || node.IsNull()) {
    lua_pushnil(L);
  } else if (node.IsSequence()) {
    lua_createtable(L, static_cast<int>(node.size()), 0);
    lua_Integer k = 1;
    for (const YAML::Node& item : node) {
      push_yaml(L, item);
      lua_rawseti(L, -2, k++);
    }
  } else if (node.IsMap()) {
    lua_createtable(L, 0, static_cast<int>(node.size()));
    for (const auto& entry : node) {
      push_yaml(L, entry.second);
      lua_setfield(L, -2, entry.first.Scalar().c_str());
    }
  } else {
    const std::string& text = node.Scalar();
    const char* begin = text.data();
    const char* end = begin + text.size();
    lua_Integer integer = 0;
    double real = 0;
    if (node.Tag() == "!") {  // quoted in the file: a string whatever it looks like
      lua_pushlstring(L, text.data(), text.size());
    } else if (auto [p, e] = std::from_chars(begin, end, integer); e == std::errc() && p == end) {
      lua_pushinteger(L, integer);
    } else if (auto [q, f] = std::from_chars(begin, end, real); f == std::errc() && q == end) {
      lua_pushnumber(L, real);
    } else if (text == "true" || text == "false") {
      lua_pushboolean(L, text == "true" ? 1 : 0);
    } else {
      lua_pushlstring(L, text.data(), text.size());
    }
  }
}

// A node's inputs table: slot -> a node (a table with a `name` field), a node's name, or
// a list of those.
std::vector<std::pair<std::string, std::vector<std::string>>> read_inputs(lua_State* L, int index) {
  std::vector<std::pair<std::string, std::vector<std::string>>> inputs;
  if (lua_isnoneornil(L, index)) return inputs;
  luaL_checktype(L, index, LUA_TTABLE);
  const auto name_at = [&](int at, const std::string& where) -> std::string {
    if (lua_type(L, at) == LUA_TSTRING) return lua_tostring(L, at);
    if (lua_type(L, at) == LUA_TTABLE) {
      lua_getfield(L, at, "name");
      if (lua_type(L, -1) == LUA_TSTRING) {
        std::string name = lua_tostring(L, -1);
        lua_pop(L, 1);
        return name;
      }
      lua_pop(L, 1);
    }
    throw ConfigError("input '" + where + "': expected a node or a node's name, found a " +
                      luaL_typename(L, at));
  };
  std::vector<std::string> slots;
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 2);
      throw ConfigError("inputs: the keys must be slot names");
    }
    slots.emplace_back(lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  std::sort(slots.begin(), slots.end());
  for (const std::string& slot : slots) {
    lua_getfield(L, index, slot.c_str());
    const int value = lua_gettop(L);
    std::vector<std::string> names;
    bool is_list = lua_type(L, value) == LUA_TTABLE;
    if (is_list) {
      lua_getfield(L, value, "name");
      is_list = lua_isnil(L, -1);
      lua_pop(L, 1);
    }
    if (is_list) {
      const lua_Integer n = luaL_len(L, value);
      for (lua_Integer k = 1; k <= n; ++k) {
        lua_rawgeti(L, value, k);
        names.push_back(name_at(lua_gettop(L), slot + "[" + std::to_string(k) + "]"));
        lua_pop(L, 1);
      }
    } else {
      names.push_back(name_at(value, slot));
    }
    lua_pop(L, 1);
    inputs.emplace_back(slot, std::move(names));
  }
  return inputs;
}

// core.node(kind, name, params, inputs) -> name. [-0, +1]
int core_node(lua_State* L) {
  return lua_guarded(L, [L] {
    Builder& b = builder(L);
    NodeSpec node;
    node.kind = luaL_checkstring(L, 1);
    node.where = b.experiment.empty() ? LuaSandbox::caller_location(L) : b.experiment_name;
    node.params = lua_isnoneornil(L, 3) ? YAML::Node(YAML::NodeType::Map) : lua_to_yaml(L, 3);
    node.inputs = read_inputs(L, 4);
    if (lua_isnoneornil(L, 2)) {
      node.name = node.kind + "#" + std::to_string(b.graph->nodes.size() + 1);
    } else {
      node.name = luaL_checkstring(L, 2);
    }
    for (const NodeSpec& other : b.graph->nodes) {
      if (other.name == node.name) {
        throw ConfigError("a node named '" + node.name + "' already exists (" + other.where + ")");
      }
    }
    check_node(node, *b.registry);
    b.graph->nodes.push_back(node);
    lua_pushstring(L, node.name.c_str());
    return 1;
  });
}

AttackRunConfig read_lua_recipe(lua_State* L, int index, const Registry& registry) {
  RunFile file(LuaSandbox::caller_location(L), lua_to_yaml(L, index, ""));
  return read_attack_sections(file, registry, false);
}

// core.check_recipe(recipe): validates a recipe table now, so a misspelled key stops the
// script at the line that made it. [-0, +0]
int core_check_recipe(lua_State* L) {
  return lua_guarded(L, [L] {
    luaL_checktype(L, 1, LUA_TTABLE);
    read_lua_recipe(L, 1, *builder(L).registry);
    return 0;
  });
}

// core.needs_memorization(recipe) -> whether its defense needs memorization scores.
int core_needs_memorization(lua_State* L) {
  return lua_guarded(L, [L] {
    luaL_checktype(L, 1, LUA_TTABLE);
    const Registry& registry = *builder(L).registry;
    lua_pushboolean(L, defense_needs_scores(read_lua_recipe(L, 1, registry), registry) ? 1 : 0);
    return 1;
  });
}

// core.needs_online(attack) -> whether the attack ({component, params}) needs online shadows.
int core_needs_online(lua_State* L) {
  return lua_guarded(L, [L] {
    luaL_checktype(L, 1, LUA_TTABLE);
    YAML::Node root(YAML::NodeType::Map);
    root["attack"] = lua_to_yaml(L, 1, "attack");
    RunFile file(LuaSandbox::caller_location(L), root);
    const Registry& registry = *builder(L).registry;
    const ComponentChoice choice = file.component(root["attack"], "attack", Kind::Attack, registry);
    file.throw_if_any();
    const auto attack =
        registry.create<Attack>(split_qualified_name(choice.component).second, choice.params);
    lua_pushboolean(L, attack->needs_online_shadows() ? 1 : 0);
    return 1;
  });
}

// core.load_yaml(path) -> the file as a table, validated as a recipe first so that its
// problems name the file's own lines. A relative path is relative to the script's folder.
int core_load_yaml(lua_State* L) {
  return lua_guarded(L, [L] {
    Builder& b = builder(L);
    std::filesystem::path path = luaL_checkstring(L, 1);
    if (path.is_relative()) path = b.base / path;
    RunFile file(path, {});
    read_attack_sections(file, *b.registry, false);
    push_yaml(L, file.root());
    return 1;
  });
}

// core.experiment_file() -> the YAML experiment file `secateurs run` was given, or nil.
int core_experiment_file(lua_State* L) {
  Builder& b = builder(L);
  if (b.experiment.empty()) {
    lua_pushnil(L);
  } else {
    lua_pushstring(L, b.experiment.c_str());
  }
  return 1;
}

// core.slots(kind) -> the names of the kind's input slots.
int core_slots(lua_State* L) {
  return lua_guarded(L, [L] {
    const std::string name = luaL_checkstring(L, 1);
    const NodeKind* kind = find_node_kind(name);
    if (kind == nullptr) throw ConfigError("unknown node kind '" + name + "'");
    lua_createtable(L, static_cast<int>(kind->inputs.size()), 0);
    lua_Integer k = 1;
    for (const InputSlot& slot : kind->inputs) {
      lua_pushstring(L, slot.name.c_str());
      lua_rawseti(L, -2, k++);
    }
    return 1;
  });
}

GraphSpec run_script(const Registry& registry, const ScriptOptions& options,
                     const std::string& source, const std::filesystem::path& base,
                     const std::filesystem::path& experiment,
                     const std::function<void(LuaSandbox&)>& run) {
  GraphSpec graph;
  graph.source = source;
  Builder b{&registry, &graph, base, experiment, source};
  std::vector<std::filesystem::path> dirs = options.module_dirs;
  if (dirs.empty()) dirs.push_back(default_script_dir());
  LuaSandbox sandbox(options.limits, dirs);
  lua_State* L = sandbox.state();
  static const luaL_Reg functions[] = {{"node", core_node},
                                       {"check_recipe", core_check_recipe},
                                       {"needs_memorization", core_needs_memorization},
                                       {"needs_online", core_needs_online},
                                       {"load_yaml", core_load_yaml},
                                       {"experiment_file", core_experiment_file},
                                       {"slots", core_slots},
                                       {nullptr, nullptr}};
  lua_newtable(L);
  lua_pushlightuserdata(L, &b);
  luaL_setfuncs(L, functions, 1);
  sandbox.add_module_value("secateurs.core");
  run(sandbox);
  if (graph.nodes.empty()) {
    throw ConfigError(graph.source + ": the script declares no node");
  }
  return graph;
}

}  // namespace

GraphSpec graph_from_lua(std::string_view chunk, const std::string& chunk_name,
                         const Registry& registry, const ScriptOptions& options) {
  return run_script(registry, options, chunk_name, std::filesystem::current_path(), {},
                    [&](LuaSandbox& sandbox) { sandbox.run_string(chunk, chunk_name); });
}

GraphSpec graph_from_file(const std::filesystem::path& file, const Registry& registry,
                          const ScriptOptions& options) {
  const std::string extension = file.extension().string();
  GraphSpec graph;
  if (extension == ".yaml" || extension == ".yml") {
    graph =
        run_script(registry, options, file.string(), file.parent_path(),
                   std::filesystem::absolute(file), [&](LuaSandbox& sandbox) {
                     sandbox.run_string(
                         "local s = require 'secateurs'\n"
                         "s.experiment(s.load_yaml(require('secateurs.core').experiment_file()))\n",
                         file.string());
                   });
  } else if (extension == ".lua") {
    graph = run_script(registry, options, file.string(), file.parent_path(), {},
                       [&](LuaSandbox& sandbox) { sandbox.run_file(file); });
  } else {
    throw ConfigError(file.string() +
                      ": an experiment is a Lua script (.lua) or a YAML experiment file (.yaml)");
  }
  return graph;
}

}  // namespace secateurs::host
