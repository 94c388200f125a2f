-- The plugin guide's experiment (docs/plugin-guide.md): the out-of-tree attack
-- attack.logit_margin, with per-class thresholds and with one threshold, next to the
-- in-tree attack.confidence, on one victim and four shadow models trained exactly as the
-- victim. From the repository root, with the plugin built as the guide says:
--
--   secateurs run docs/plugin-guide/experiment.lua --plugin-path /tmp/logit_margin/build/plugins
--
-- Synthetic data and a small MLP, so that it runs in seconds; the guide shows the
-- Fashion-MNIST recipe for real use. tests/integration/plugin_guide.cmake runs this file.
local s = require "secateurs"

local recipe = s.recipe{
  seed = 1,
  -- 3 Gaussian classes; 10 % of the labels flipped, which an MLP can only fit by
  -- memorising them: that is what a membership attack finds.
  dataset = { component = "dataset.synthetic_blobs",
              params = { samples = 900, classes = 3, features = 6, label_noise = 0.1 } },
  model = { component = "model.mlp", params = { hidden = { 128 } } },
  -- 120 members and 120 non-members for the victim; the shadows get their own halves of
  -- the attacker's pool.
  split = { mode = "membership", members = 120, dev = 30 },
  trainer = { epochs = 100, batch_size = 16, learning_rate = 0.05, weight_decay = 0.0 },
  shadows = { count = 4, online = 0, population = 100 },
  metrics = { bootstrap = 100 },
}

local p = s.protocol(recipe)

local function attack(name, component, params)
  return s.attack{ name = name, target = p.victim, shadows = p.shadows, recipe = recipe,
                   attack = { component = component, params = params } }
end

local margin = attack("logit margin", "attack.logit_margin")
local margin_global = attack("logit margin (one threshold)", "attack.logit_margin",
                             { per_class = false })
local confidence = attack("confidence", "attack.confidence")

s.report{ name = "report", title = "plugin guide: logit margin against confidence",
          of = { p.victim, margin, margin_global, confidence } }
