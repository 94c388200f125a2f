-- A tiny experiment whose report has every kind of figure: ROC curves (two attacks on
-- four targets), privacy against utility (no defense and PPB), vulnerability against
-- sparsity and against the round (one and two rounds of the same schedule), robust
-- accuracy against sparsity. Synthetic data, so it runs in seconds; the browser test
-- (tests/browser/check_report.py) then opens its index.html in headless Chromium.
local s = require "secateurs"
local recipe = s.recipe{
  seed = 5,
  dataset = { component = "dataset.synthetic_blobs",
              params = { samples = 900, classes = 3, features = 6 } },
  model = { component = "model.mlp", params = { hidden = { 24 } } },
  split = { mode = "membership", members = 120, dev = 30 },
  trainer = { epochs = 4, batch_size = 32 },
  pruning = { pruner = { component = "pruner.magnitude" },
              schedule = { schedule = "iterative", sparsity = 0.5, rounds = 2 },
              finetune = { epochs = 2, batch_size = 32 } },
  shadows = { count = 3, online = 0, population = 100 },
  metrics = { bootstrap = 20 },
  robustness = { epsilons = { 0.1 }, samples = 60, pgd_steps = 3 },
}
local one_round = s.with(recipe, { pruning = { schedule = { sparsity = 1 - 0.5 ^ 0.5,
                                                            rounds = 1 } } })
local ppb = s.with(recipe, { pruning = { defense = { component = "defense.ppb" } } })
local reported = {}
local function attacked(prefix, r, dense)
  local p = s.protocol(r, { prefix = prefix })
  local target, shadows = p.victim, p.shadows
  if dense then target, shadows = p.dense.victim, p.dense.shadows end
  reported[#reported + 1] = target
  for _, attack in ipairs{ { component = "attack.confidence" }, { component = "attack.rmia" } } do
    reported[#reported + 1] = s.attack{ target = target, shadows = shadows, recipe = r,
                                        attack = attack }
  end
  reported[#reported + 1] = s.robustness{ model = target, recipe = r }
end
attacked("", recipe, true)
attacked("", recipe, false)
attacked("one round ", one_round, false)
attacked("ppb ", ppb, false)
s.report{ name = "report", title = "Browser test <report> & figures", of = reported }
