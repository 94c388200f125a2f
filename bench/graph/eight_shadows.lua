-- Parallel scaling of an experiment graph: the membership plan and 8 shadow models of the
-- quickstart's recipe (MLP, 5,000 Fashion-MNIST members, 60 epochs), nothing else. Run
-- with --jobs 1 and --jobs 2 into empty stores; bench/RESULTS.md ("graph") has the command
-- and the times.
local s = require "secateurs"
local recipe = s.load_yaml("../../experiments/attack/mlp_fashion_mnist_quick.yaml")
recipe.shadows = { count = 8, online = 0, population = 2000 }
recipe = s.recipe(recipe)
local plan = s.plan{ recipe = recipe }
for i = 0, 7 do
  s.train{ plan = plan, recipe = recipe, role = "shadow", index = i }
end
