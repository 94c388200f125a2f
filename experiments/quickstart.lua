-- The quickstart: does pruning make a model leak its training data, and which defense buys
-- the privacy back? Fashion-MNIST, an MLP overfit on 2,000 members (the victim) and four
-- shadow models trained exactly as the victim (the adaptive attacker), each pruned in five
-- iterative rounds of magnitude pruning to 70 % sparsity, with no defense, with PPB and
-- with WeMeM's SWMR in every round's fine-tuning; every membership attack on the dense and
-- on each pruned victim; FGSM/PGD robust accuracy; one report.
--
--   secateurs run experiments/quickstart.lua --output runs/quickstart
--
-- Sizes are chosen to finish in about three minutes on 2 cores; the full study is
-- experiments/wemem_reproduction.lua.
local s = require "secateurs"

local recipe = s.recipe{
  seed = 1,
  dataset = { component = "dataset.fashion_mnist", params = { split = "all" } },
  model = { component = "model.mlp", params = { hidden = { 256, 128 } } },
  -- Each model's members and as many non-members; a dev set for the fine-tuning.
  split = { mode = "membership", members = 2000, dev = 500, stratified = true },
  -- Long enough, without weight decay, to overfit, as in the papers.
  trainer = { epochs = 40, batch_size = 64, optimizer = "sgd", learning_rate = 0.05,
              momentum = 0.9, weight_decay = 0.0, schedule = "cosine" },
  pruning = {
    pruner = { component = "pruner.magnitude", params = { scope = "global" } },
    schedule = { schedule = "iterative", sparsity = 0.7, rounds = 5 },
    finetune = { epochs = 4, batch_size = 64, learning_rate = 0.01, momentum = 0.9,
                 weight_decay = 0.0005, schedule = "constant" },
  },
  -- SWMR's memorization scores: 3 fold models per training set.
  memorization = { folds = 3 },
  shadows = { count = 4, online = 0, population = 2000 },
  metrics = { bootstrap = 100 },
  robustness = { epsilons = { 0.03, 0.1 }, samples = 500 },
}

-- Every membership attack, each calibrated on the four shadows.
local attacks = {
  { component = "attack.confidence" },
  { component = "attack.global_confidence" },
  { component = "attack.entropy" },
  { component = "attack.modified_entropy" },
  { component = "attack.loss" },
  { component = "attack.mlp_posterior" },
  { component = "attack.mlp_top3" },
  { component = "attack.mlp_label" },
  { component = "attack.samia" },
  { component = "attack.lira", params = { mode = "offline" } },
  { component = "attack.rmia" },
  { component = "attack.gap" },
  { component = "attack.label_only_noise" },
}

local defenses = {
  { name = "none" },
  { name = "ppb", defense = { component = "defense.ppb" } },
  { name = "swmr", defense = { component = "defense.swmr" } },
}

local reported = {}
local function attack_all(target, shadows, r, name)
  reported[#reported + 1] = target
  for _, attack in ipairs(attacks) do
    reported[#reported + 1] = s.attack{ target = target, shadows = shadows, recipe = r,
                                        attack = attack }
  end
  reported[#reported + 1] = s.robustness{ name = name .. " robustness", model = target,
                                          recipe = r }
end

for i, d in ipairs(defenses) do
  local r = recipe
  if d.defense then r = s.with(recipe, { pruning = { defense = d.defense } }) end
  -- Names: "victim dense", "victim" (pruned, no defense), "ppb victim", "swmr shadow 2", ...
  local p = s.protocol(r, { prefix = d.defense and d.name .. " " or "" })
  if i == 1 then
    -- The dense victim against the dense shadows: the baseline every pruned model is
    -- compared with (shared by all three branches, so trained once).
    attack_all(p.dense.victim, p.dense.shadows, recipe, "dense")
  end
  attack_all(p.victim, p.shadows, r, d.name == "none" and "pruned" or d.name)
end

s.report{ name = "report", title = "Quickstart: iterative pruning of an MLP on Fashion-MNIST",
          of = reported }
