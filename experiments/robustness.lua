-- Pruning and adversarial robustness, next to accuracy and privacy (PROTOCOL.md section 3):
-- the membership experiments' MLP on Fashion-MNIST, dense and pruned to 50 % and 80 %
-- sparsity in five iterative rounds by four methods:
--   magnitude    |w|, unstructured
--   structured   whole hidden units by L1 norm, physically removed (a smaller model)
--   taylor       (g w)^2, the gradient-informed "safe" pruning
--   adversarial  (g w)^2 with g on PGD examples, fine-tuned on PGD examples
-- Each model: FGSM and PGD (L-infinity, epsilon 0.03 and 0.1) accuracy on its non-members,
-- and the membership leak of the pruned model to LiRA and RMIA with four shadows pruned
-- the same way.
--
--   secateurs run experiments/robustness.lua --output runs/robustness
local s = require "secateurs"

local base = s.recipe{
  seed = 1,
  dataset = { component = "dataset.fashion_mnist", params = { split = "all" } },
  model = { component = "model.mlp", params = { hidden = { 512, 256 } } },
  split = { mode = "membership", members = 5000, dev = 1000, stratified = true },
  trainer = { epochs = 60, batch_size = 64, optimizer = "sgd", learning_rate = 0.05,
              momentum = 0.9, weight_decay = 0.0, schedule = "cosine" },
  pruning = {
    pruner = { component = "pruner.magnitude", params = { scope = "global" } },
    schedule = { schedule = "iterative", sparsity = 0.5, rounds = 5 },
    finetune = { epochs = 5, batch_size = 64, learning_rate = 0.01, momentum = 0.9,
                 weight_decay = 0.0005, schedule = "constant" },
  },
  shadows = { count = 4, online = 0, population = 2000 },
  metrics = { bootstrap = 200 },
  -- Inputs are in [0, 1]; 0.1 is a visible perturbation on Fashion-MNIST.
  robustness = { epsilons = { 0.03, 0.1 }, samples = 1000 },
}

local methods = {
  { name = "magnitude", pruning = { pruner = { component = "pruner.magnitude",
                                               params = { scope = "global" } } } },
  { name = "structured", pruning = { pruner = { component = "pruner.filter_norm",
                                                params = { norm = "l1" } } } },
  { name = "taylor", pruning = { pruner = { component = "pruner.taylor",
                                            params = { scope = "global" } } } },
  { name = "adversarial",
    pruning = { pruner = { component = "pruner.adversarial", params = { scope = "global" } },
                finetune = { adversarial_epsilon = 0.1, adversarial_steps = 5 } } },
}

local attacks = {
  { component = "attack.lira", params = { mode = "offline" } },
  { component = "attack.rmia" },
}

local reported = {}
local function measured(name, target, shadows, r)
  reported[#reported + 1] = target
  reported[#reported + 1] = s.robustness{ name = name .. " robustness", model = target,
                                          recipe = r }
  for _, attack in ipairs(attacks) do
    reported[#reported + 1] = s.attack{ name = name .. " " .. attack.component, target = target,
                                        shadows = shadows, recipe = r, attack = attack }
  end
end

local dense = s.protocol(base, { prefix = "dense " })
measured("dense", dense.dense.victim, dense.dense.shadows, base)
for _, sparsity in ipairs{ 0.5, 0.8 } do
  for _, m in ipairs(methods) do
    local r = s.with(base, { pruning = m.pruning })
    r = s.with(r, { pruning = { schedule = { sparsity = sparsity } } })
    local name = m.name .. " " .. sparsity
    local p = s.protocol(r, { prefix = name .. " " })
    measured(name, p.victim, p.shadows, r)
  end
end

s.report{ name = "report", title = "Robustness of pruned MLPs on Fashion-MNIST", of = reported }
