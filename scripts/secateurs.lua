-- secateurs: experiment graphs in Lua.
--
--   local s = require "secateurs"
--   local r = s.recipe{ seed = 1, dataset = {...}, model = {...}, split = {...},
--                       trainer = {...}, pruning = {...}, shadows = {count = 8} }
--   local p = s.protocol(r)                 -- plan, victim and shadows, trained and pruned
--   local a = s.attack{ target = p.victim, shadows = p.shadows, recipe = r,
--                       attack = { component = "attack.lira" } }
--   s.report{ of = { p.victim, a } }
--
-- A script only declares nodes; `secateurs run` validates the whole graph, then runs it
-- (in parallel, over the artifact store: see docs/graphs.md). Each function below returns
-- a node: a table whose `name` other nodes' inputs may use, as may the name string itself
-- (so a node may name one declared later).
--
-- A recipe is the sections of an attack run file (docs/cli.md): every node reads the
-- sections it needs from it (train: model, trainer; prune: pruning; ...), and a node's key
-- depends on those sections only, so nodes of two recipes that differ in `pruning` share
-- their plan and dense models.

local core = require "secateurs.core"

local M = {}

local Node = {}
Node.__index = Node
Node.__tostring = function(n)
  return n.kind .. " node '" .. n.name .. "'"
end

local used_names = {}

-- A name for a node the script did not name: its kind and role, made unique.
local function fresh_name(base)
  local name, k = base, 1
  while used_names[name] do
    k = k + 1
    name = base .. "#" .. k
  end
  return name
end

-- Declares a node of `kind`. `args` mixes the node's inputs (by slot name), its parameters
-- and an optional `name`; which keys are inputs the kind says (core.slots).
function M.node(kind, args, default_name)
  args = args or {}
  local params, inputs = {}, {}
  local slots = {}
  for _, slot in ipairs(core.slots(kind)) do
    slots[slot] = true
  end
  for key, value in pairs(args) do
    if key == "name" then
      -- handled below
    elseif slots[key] then
      inputs[key] = value
    else
      params[key] = value
    end
  end
  local name = args.name
  if name == nil then
    name = fresh_name(default_name or kind)
  end
  name = core.node(kind, name, params, inputs)
  used_names[name] = true
  return setmetatable({ kind = kind, name = name }, Node)
end

-- Validates a recipe now (a misspelled key stops the script at this line) and returns it.
function M.recipe(t)
  core.check_recipe(t)
  return t
end

local function deep_copy(value)
  if type(value) ~= "table" then
    return value
  end
  local copy = {}
  for k, v in pairs(value) do
    copy[k] = deep_copy(v)
  end
  return copy
end

local function is_list(t)
  return type(t) == "table" and (next(t) == nil or rawget(t, 1) ~= nil)
end

-- A copy of `base` with `changes` merged in: maps merge key by key, anything else
-- (numbers, strings, lists) is replaced. The result is validated like s.recipe.
function M.with(base, changes)
  local function merge(into, from)
    for k, v in pairs(from) do
      -- an empty table merges into a map (it changes nothing) and replaces a list
      local is_map = type(v) == "table" and (next(v) == nil or not is_list(v))
      if is_map and type(into[k]) == "table" and (next(into[k]) == nil or not is_list(into[k])) then
        merge(into[k], v)
      else
        into[k] = deep_copy(v)
      end
    end
    return into
  end
  return M.recipe(merge(deep_copy(base), changes))
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

-- Every combination of the axes' values, as tables {axis = value}: s.grid{ sparsity =
-- {0.5, 0.7}, defense = {"a", "b"} } gives 4. Axes vary in name order, the last fastest.
function M.grid(axes)
  local keys = sorted_keys(axes)
  local out = { {} }
  for _, key in ipairs(keys) do
    local values = axes[key]
    if type(values) ~= "table" or #values == 0 then
      error("grid: axis '" .. key .. "' needs a non-empty list of values", 2)
    end
    local next_out = {}
    for _, partial in ipairs(out) do
      for _, value in ipairs(values) do
        local combo = deep_copy(partial)
        combo[key] = value
        next_out[#next_out + 1] = combo
      end
    end
    out = next_out
  end
  return out
end

-- The axes' values side by side: s.zip{ a = {1, 2}, b = {"x", "y"} } gives {a=1, b="x"},
-- {a=2, b="y"}. Every axis must have the same length.
function M.zip(axes)
  local keys = sorted_keys(axes)
  local n = nil
  for _, key in ipairs(keys) do
    if n ~= nil and #axes[key] ~= n then
      error("zip: axis '" .. key .. "' has " .. #axes[key] .. " values, '" .. keys[1] ..
        "' has " .. n, 2)
    end
    n = #axes[key]
  end
  local out = {}
  for i = 1, n or 0 do
    local combo = {}
    for _, key in ipairs(keys) do
      combo[key] = axes[key][i]
    end
    out[i] = combo
  end
  return out
end

-- The node kinds, one function each; see `secateurs run --kinds` for their inputs.
function M.plan(args) return M.node("plan", args, "plan") end
function M.train(args)
  local role = args.role or "victim"
  local default = role == "victim" and "victim dense" or (role .. " " .. (args.index or 0) .. " dense")
  return M.node("train", args, default)
end
function M.memorization(args) return M.node("memorization", args, "memorization") end
function M.prune(args) return M.node("prune", args, "prune") end
function M.attack(args)
  local default = "attack"
  if type(args.attack) == "table" and type(args.attack.component) == "string" then
    default = args.attack.component
  end
  return M.node("attack", args, default)
end
function M.robustness(args) return M.node("robustness", args, "robustness") end
function M.evaluate(args) return M.node("evaluate", args, "evaluate") end
function M.report(args) return M.node("report", args, "report") end

-- One model of `role` and `index` as the recipe makes it: trained dense on its data of
-- `plan`, then, when the recipe prunes, pruned (with memorization scores of its training
-- set when the recipe's defense needs them). Returns the final model and the dense one.
local function make_model(recipe, plan, role, index, label)
  local dense = M.train{ name = fresh_name(label .. " dense"), plan = plan, recipe = recipe,
                         role = role, index = index }
  if recipe.pruning == nil then
    return dense, dense
  end
  local memorization = nil
  if core.needs_memorization(recipe) then
    memorization = M.memorization{ name = fresh_name(label .. " memorization"), plan = plan,
                                   recipe = recipe, role = role, index = index }
  end
  return M.prune{ name = fresh_name(label), model = dense, recipe = recipe,
                  memorization = memorization }, dense
end

-- A shadow set: `count` models of role "shadow" (or "online": online shadows) of `plan`,
-- each made by make_model. Returns the final models in index order, as an attack node's
-- `shadows` (or `online`) input takes them, and the dense ones.
function M.shadows(args)
  local recipe, role = args.recipe, args.role or "shadow"
  local count = args.count or (recipe.shadows or {})[role == "online" and "online" or "count"] or 8
  local final, dense = {}, {}
  for i = 0, count - 1 do
    final[i + 1], dense[i + 1] = make_model(recipe, args.plan, role, i,
                                            (args.prefix or "") .. role .. " " .. i)
  end
  return final, dense
end

-- The models of the adaptive attacker's protocol for one recipe: the plan; the victim,
-- `shadows.count` shadows and, when `online` is true, `shadows.online` online shadows,
-- each made by make_model. Returns { plan, victim, shadows = {...}, online = {...}, dense =
-- { victim = ..., shadows = {...}, online = {...} } }; `prefix` starts every node's name.
function M.protocol(recipe, options)
  options = options or {}
  local prefix = options.prefix or ""
  local out = { dense = {}, online = {} }
  out.plan = M.plan{ name = fresh_name(prefix .. "plan"), recipe = recipe }
  out.victim, out.dense.victim = make_model(recipe, out.plan, "victim", 0, prefix .. "victim")
  out.shadows, out.dense.shadows = M.shadows{ recipe = recipe, plan = out.plan, prefix = prefix }
  out.dense.online = {}
  if options.online then
    out.online, out.dense.online = M.shadows{ recipe = recipe, plan = out.plan, prefix = prefix,
                                              role = "online" }
  end
  return out
end

-- The whole protocol of an attack run file (`secateurs run exp.yaml` calls this): the
-- models, one attack node per entry of recipe.attacks, robustness of the victim when
-- recipe.robustness.epsilons is given, and a report of all of it.
function M.experiment(recipe, options)
  options = options or {}
  local attacks = recipe.attacks or {}
  local online = false
  for _, attack in ipairs(attacks) do
    online = online or core.needs_online(attack)
  end
  local p = M.protocol(recipe, { prefix = options.prefix, online = online })
  local reported = { p.victim }
  for _, shadow in ipairs(p.shadows) do reported[#reported + 1] = shadow end
  for _, shadow in ipairs(p.online) do reported[#reported + 1] = shadow end
  p.attacks = {}
  for _, attack in ipairs(attacks) do
    local needs_online = core.needs_online(attack)
    local node = M.attack{ target = p.victim, shadows = p.shadows,
                           online = needs_online and p.online or nil,
                           recipe = recipe, attack = attack }
    p.attacks[#p.attacks + 1] = node
    reported[#reported + 1] = node
  end
  local robustness = recipe.robustness
  if robustness and robustness.epsilons and #robustness.epsilons > 0 then
    -- the dense victim too, when it was pruned (as `secateurs attack` measures both)
    if p.dense.victim ~= p.victim then
      reported[#reported + 1] = M.robustness{ model = p.dense.victim, recipe = recipe }
    end
    p.robustness = M.robustness{ model = p.victim, recipe = recipe }
    reported[#reported + 1] = p.robustness
  end
  p.report = M.report{ name = fresh_name((options.prefix or "") .. "report"), of = reported,
                       title = options.title or "secateurs experiment" }
  return p
end

-- A YAML experiment file as a recipe table (validated, with the file's own lines in any
-- message); a relative path is relative to the script's folder.
function M.load_yaml(path)
  return core.load_yaml(path)
end

return M
