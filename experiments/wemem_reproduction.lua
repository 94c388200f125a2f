-- The WeMeM reproduction study on Fashion-MNIST (docs/RESULTS.md): does iterative pruning
-- make a model leak more membership than the dense model and than one-shot pruning, and do
-- WeMeM's defenses buy the privacy back at less cost in accuracy than the baselines?
--
--   secateurs run experiments/wemem_reproduction.lua --output runs/wemem_reproduction
--
-- For each of three seeds (each its own membership plan: other members, other shadows'
-- data, other initialisations) the victim and four shadow models (the adaptive attacker:
-- trained, pruned and defended exactly as the victim) are
--   * dense;
--   * pruned one-shot (one round, then one round's fine-tuning) and iteratively (five
--     rounds, each fine-tuned on the same training set) to sparsity 0.5, 0.7 and 0.9;
--   * pruned iteratively to 0.9 after 1, 2, 3 and 4 of the five rounds, with no defense and
--     with SWMR (vulnerability against the pruning round);
--   * pruned iteratively to 0.5, 0.7 and 0.9 with each of WeMeM's methods, one per
--     scenario: RSW (data reuse alone), RMR (inherent memorability alone), SWMR (both),
--     and with the baselines PPB, RelaxLoss, label smoothing and early stopping.
-- Every model is attacked by nine adaptive attacks (thresholds, learned, LiRA, RMIA,
-- label-only). The report tabulates every model and attack of every seed; the tables of
-- docs/RESULTS.md average the seeds (experiments/wemem_tables.sh).
local s = require "secateurs"

local seeds = { 1, 2, 3 }
local sparsities = { 0.5, 0.7, 0.9 }
local rounds = 5

-- The membership experiments' victim of docs/attacks.md and docs/defenses.md: an MLP
-- overfit on 5,000 members; pruning and fine-tuning as in docs/defenses.md.
-- The dense recipe; each pruned condition adds a `pruning` section to it (the dense models
-- are then the same nodes in every condition of a seed, trained once).
local base = s.recipe{
  seed = 1,
  dataset = { component = "dataset.fashion_mnist", params = { split = "all" } },
  model = { component = "model.mlp", params = { hidden = { 512, 256 } } },
  split = { mode = "membership", members = 5000, dev = 1000, stratified = true },
  trainer = { epochs = 60, batch_size = 64, optimizer = "sgd", learning_rate = 0.05,
              momentum = 0.9, weight_decay = 0.0, schedule = "cosine" },
  memorization = { folds = 3 },
  shadows = { count = 4, online = 0, population = 2000 },
  metrics = { bootstrap = 200 },
}

local attacks = {
  { component = "attack.confidence" },
  { component = "attack.global_confidence" },
  { component = "attack.entropy" },
  { component = "attack.modified_entropy" },
  { component = "attack.loss" },
  { component = "attack.mlp_label" },
  { component = "attack.lira", params = { mode = "offline" } },
  { component = "attack.rmia" },
  { component = "attack.gap" },
}

-- name -> the recipe changes of a defended pruning
local defenses = {
  { name = "rsw", changes = { pruning = { defense = { component = "defense.rsw" } } } },
  { name = "rmr", changes = { pruning = { defense = { component = "defense.rmr" } } } },
  { name = "swmr", changes = { pruning = { defense = { component = "defense.swmr" } } } },
  { name = "ppb", changes = { pruning = { defense = { component = "defense.ppb" } } } },
  { name = "relaxloss", changes = { pruning = { defense = { component = "defense.relaxloss" } } } },
  { name = "label_smoothing",
    changes = { pruning = { defense = { component = "defense.label_smoothing",
                                        params = { smoothing = 0.1 } } } } },
  { name = "early_stopping",
    changes = { trainer = { patience = 5, restore_best = true, monitor = "dev_loss" },
                pruning = { finetune = { patience = 1, restore_best = true,
                                         monitor = "dev_loss" } } } },
}

local reported = {}
local attacked = {}  -- condition name ("seed 2 one-shot 0.7") -> its attack nodes
local function attack_all(name, target, shadows, r)
  reported[#reported + 1] = target
  attacked[name] = {}
  for _, attack in ipairs(attacks) do
    local node = s.attack{ name = name .. " " .. attack.component, target = target,
                           shadows = shadows, recipe = r, attack = attack }
    reported[#reported + 1] = node
    table.insert(attacked[name], node)
  end
end

-- A report of some conditions' attacks (figures that stay readable).
local function report_of(name, title, conditions)
  local nodes = {}
  for _, condition in ipairs(conditions) do
    for _, node in ipairs(attacked[condition]) do nodes[#nodes + 1] = node end
  end
  s.report{ name = name, title = title, of = nodes }
end

-- One condition: the victim and its shadows made by recipe `r`, every attack on the victim.
local function condition(name, r)
  local p = s.protocol(r, { prefix = name .. " " })
  attack_all(name, p.victim, p.shadows, r)
  return p
end

-- Global magnitude pruning to `sparsity` in `count` rounds (one round: one-shot), each
-- round fine-tuned for 5 epochs on the model's training set, as in docs/defenses.md.
local function schedule(r, sparsity, count)
  return s.with(r, { pruning = {
    pruner = { component = "pruner.magnitude", params = { scope = "global" } },
    schedule = { schedule = "iterative", sparsity = sparsity, rounds = count },
    finetune = { epochs = 5, batch_size = 64, learning_rate = 0.01, momentum = 0.9,
                 weight_decay = 0.0005, schedule = "constant" },
  } })
end

for _, seed in ipairs(seeds) do
  local r0 = s.with(base, { seed = seed })
  local tag = "seed " .. seed .. " "
  local dense = s.protocol(r0, { prefix = tag })
  attack_all(tag .. "dense", dense.victim, dense.shadows, r0)
  for _, sparsity in ipairs(sparsities) do
    -- One-shot: the first round of the same iterative schedule on its own (prune to S at
    -- once, fine-tune one round's epochs), so the two differ only in the reuse of rounds.
    condition(tag .. "one-shot " .. sparsity, schedule(r0, sparsity, 1))
    local iterative = schedule(r0, sparsity, rounds)
    condition(tag .. "iterative " .. sparsity .. " none", iterative)
    for _, d in ipairs(defenses) do
      condition(tag .. "iterative " .. sparsity .. " " .. d.name, s.with(iterative, d.changes))
    end
  end
  -- After k of the five rounds to 0.9 the cumulative sparsity is 1 - 0.1^(k/5): these are
  -- the models after rounds 1 to 4 of the five-round schedule.
  for k = 1, rounds - 1 do
    local sparsity = 1 - (1 - 0.9) ^ (k / rounds)
    local r = schedule(r0, sparsity, k)
    condition(tag .. "round " .. k .. " of 0.9 none", r)
    condition(tag .. "round " .. k .. " of 0.9 swmr",
              s.with(r, { pruning = { defense = { component = "defense.swmr" } } }))
  end
end

s.report{ name = "report", title = "WeMeM reproduction on Fashion-MNIST (3 seeds)",
          of = reported }
report_of("report-seed-1-at-0.9", "WeMeM reproduction: seed 1, dense against pruned to 0.9",
          { "seed 1 dense", "seed 1 one-shot 0.9", "seed 1 iterative 0.9 none",
            "seed 1 iterative 0.9 swmr", "seed 1 iterative 0.9 rmr", "seed 1 iterative 0.9 ppb" })
local pruning, rounds_of = {}, {}
for _, seed in ipairs(seeds) do
  local tag = "seed " .. seed .. " "
  pruning[#pruning + 1] = tag .. "dense"
  rounds_of[#rounds_of + 1] = tag .. "dense"
  for _, sparsity in ipairs(sparsities) do
    pruning[#pruning + 1] = tag .. "one-shot " .. sparsity
    pruning[#pruning + 1] = tag .. "iterative " .. sparsity .. " none"
  end
  for k = 1, rounds - 1 do
    rounds_of[#rounds_of + 1] = tag .. "round " .. k .. " of 0.9 none"
    rounds_of[#rounds_of + 1] = tag .. "round " .. k .. " of 0.9 swmr"
  end
  rounds_of[#rounds_of + 1] = tag .. "iterative 0.9 none"
  rounds_of[#rounds_of + 1] = tag .. "iterative 0.9 swmr"
end
report_of("report-pruning", "WeMeM reproduction: dense, one-shot and iterative (3 seeds)",
          pruning)
report_of("report-rounds", "WeMeM reproduction: the rounds to 0.9, without and with SWMR",
          rounds_of)
