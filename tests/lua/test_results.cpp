// A run's results: the SQLite database every `secateurs run` appends to, its export to CSV
// and JSON, and the report (tables, gnuplot figures, self-contained HTML). On synthetic
// data; the browser half of the report's checks is tests/browser/.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "host/artifact_store.h"
#include "host/graph.h"
#include "host/graph_script.h"
#include "host/report.h"
#include "host/results_db.h"
#include "support/built_plugins.h"
#include "support/messages.h"
#include "support/temp_dir.h"

namespace secateurs {
namespace {

const char* const kScript = R"(
local s = require "secateurs"
local recipe = s.recipe{
  seed = 7,
  dataset = { component = "dataset.synthetic_blobs",
              params = { samples = 900, classes = 3, features = 6 } },
  model = { component = "model.mlp", params = { hidden = { 24 } } },
  split = { mode = "membership", members = 120, dev = 30 },
  trainer = { epochs = 4, batch_size = 32 },
  pruning = { pruner = { component = "pruner.magnitude" },
              schedule = { schedule = "iterative", sparsity = 0.5, rounds = 2 },
              finetune = { epochs = 2, batch_size = 32 } },
  shadows = { count = 3, online = 0, population = 100 },
  metrics = { bootstrap = 10 },
  robustness = { epsilons = { 0.1 }, samples = 40, pgd_steps = 2 },
}
local p = s.protocol(recipe)
local rmia = s.attack{ name = "rmia", target = p.victim, shadows = p.shadows, recipe = recipe,
                       attack = { component = "attack.rmia" } }
local dense = s.attack{ name = "rmia dense", target = p.dense.victim, shadows = p.dense.shadows,
                        recipe = recipe, attack = { component = "attack.rmia" } }
local robust = s.robustness{ name = "robustness", model = p.victim, recipe = recipe }
s.report{ name = "report", title = "Results <test> & co",
          of = { p.dense.victim, p.victim, rmia, dense, robust } }
-- The same models again under other names: the nodes merge, and a report naming them so
-- uses its own names throughout (models and attack targets alike).
local q = s.protocol(recipe, { prefix = "again " })
s.report{ name = "twice", of = { q.victim, rmia } }
)";

struct Ran {
  host::Graph graph;
  host::GraphRunResult result;
};

// One `secateurs run` as the command does it: the graph, then the database.
Ran run_and_record(const testing::TempDir& dir, const std::string& command) {
  host::ScriptOptions options;
  options.module_dirs = {SECATEURS_SCRIPT_DIR};
  const host::GraphSpec spec =
      host::graph_from_lua(kScript, "exp.lua", testing::built_plugins(), options);
  Ran ran{host::validate_graph(spec, testing::built_plugins()), {}};
  host::ArtifactStore store(dir / "store");
  host::RunSummary summary;
  summary.started = "2026-11-30T00:00:00Z";
  summary.jobs = 2;
  summary.provenance = {{"command", command}};
  host::GraphRunOptions run_options;
  run_options.jobs = 2;
  run_options.output = dir / "out";
  run_options.provenance = summary.provenance;
  run_options.finished = [&](const host::GraphRunResult& result, const std::string& failure) {
    summary.status = failure.empty() ? "completed" : "failed: " + failure;
    host::record_run_results(dir / "out" / "results.sqlite", summary, ran.graph, result,
                             testing::built_plugins(),
                             [&](const std::string& key) { return store.find(key); });
  };
  ran.result = host::run_graph(ran.graph, testing::built_plugins(), store, run_options);
  return ran;
}

// A CSV file as rows of fields (quoted fields with commas and doubled quotes allowed).
std::vector<std::map<std::string, std::string>> csv_rows(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::vector<std::string>> table;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char ch = line[i];
      if (ch == '"' && quoted && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (ch == '"') {
        quoted = !quoted;
      } else if (ch == ',' && !quoted) {
        fields.emplace_back();
      } else {
        fields.back() += ch;
      }
    }
    table.push_back(fields);
  }
  std::vector<std::map<std::string, std::string>> rows;
  for (std::size_t r = 1; r < table.size(); ++r) {
    std::map<std::string, std::string> row;
    for (std::size_t c = 0; c < table[0].size() && c < table[r].size(); ++c) {
      row[table[0][c]] = table[r][c];
    }
    rows.push_back(row);
  }
  return rows;
}

std::map<std::string, std::string> record_of(const std::filesystem::path& file) {
  std::map<std::string, std::string> record;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t eq = line.find('=');
    if (eq != std::string::npos) record[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return record;
}

TEST_CASE("results: every run appends to the database; export gives its tables as CSV, JSON") {
  testing::TempDir dir;
  const Ran first = run_and_record(dir, "secateurs run exp.lua");
  const Ran second = run_and_record(dir, "secateurs run exp.lua --again");
  for (const host::NodeRecord& record : second.result.records) {
    CHECK((record.status == "cached" || record.status == "written"));
  }
  host::export_results(dir / "out" / "results.sqlite", "csv", dir / "csv", std::cout);

  const auto runs = csv_rows(dir / "csv" / "runs.csv");
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].at("command") == "secateurs run exp.lua");
  CHECK(runs[1].at("command") == "secateurs run exp.lua --again");
  CHECK(runs[0].at("status") == "completed");
  CHECK(runs[0].at("graph") == "exp.lua");
  CHECK(!runs[0].at("build_fingerprint").empty());
  CHECK(!runs[0].at("libtorch_version").empty());

  const auto nodes = csv_rows(dir / "csv" / "nodes.csv");
  CHECK(nodes.size() == 2 * first.graph.nodes.size());
  std::map<std::string, std::string> status_in_second;
  for (const auto& row : nodes) {
    if (row.at("run") == "2") status_in_second[row.at("node")] = row.at("status");
    if (row.at("kind") != "report") CHECK(row.at("seed") == "7");
  }
  CHECK(status_in_second.at("rmia") == "cached");
  CHECK(status_in_second.at("report") == "written");

  // The metrics are the artifact's own numbers, in every run (cached ones too).
  host::ArtifactStore store(dir / "store");
  std::string rmia_key;
  for (const host::GraphNode& node : first.graph.nodes) {
    if (node.names.front() == "rmia") rmia_key = node.key;
  }
  const auto metrics = record_of(*store.find(rmia_key) / "metrics.txt");
  const auto attacks = csv_rows(dir / "csv" / "attack_results.csv");
  int rmia_rows = 0;
  for (const auto& row : attacks) {
    if (row.at("node") != "rmia") continue;
    ++rmia_rows;
    CHECK(row.at("attack") == "attack.rmia");
    CHECK(row.at("target") == "victim");
    CHECK(std::stod(row.at("auc")) == doctest::Approx(std::stod(metrics.at("auc"))).epsilon(1e-15));
    CHECK(std::stod(row.at("tpr_at_1pct")) ==
          doctest::Approx(std::stod(metrics.at("tpr_at_1pct"))).epsilon(1e-15));
  }
  CHECK(rmia_rows == 2);
  const auto models = csv_rows(dir / "csv" / "model_results.csv");
  bool pruned_seen = false;
  for (const auto& row : models) {
    if (row.at("node") != "victim") continue;
    pruned_seen = true;
    CHECK(std::stod(row.at("sparsity")) == doctest::Approx(0.5).epsilon(0.01));
  }
  CHECK(pruned_seen);
  // Each pruning round is in the metrics; the attack's parameters in its parameters.
  const auto all_metrics = csv_rows(dir / "csv" / "metrics.csv");
  CHECK(std::any_of(all_metrics.begin(), all_metrics.end(), [](const auto& row) {
    return row.at("node") == "victim" && row.at("name") == "round 2 sparsity";
  }));
  const auto parameters = csv_rows(dir / "csv" / "parameters.csv");
  CHECK(std::any_of(parameters.begin(), parameters.end(), [](const auto& row) {
    return row.at("node") == "rmia" && row.at("name") == "attack" &&
           row.at("value").find("attack.rmia") != std::string::npos;
  }));
  const auto plugins = csv_rows(dir / "csv" / "plugins.csv");
  CHECK(std::any_of(plugins.begin(), plugins.end(),
                    [](const auto& row) { return row.at("component") == "attack.rmia"; }));

  std::ostringstream json;
  host::export_results(dir / "out" / "results.sqlite", "json", "-", json);
  const std::string text = json.str();
  CHECK(text.front() == '{');
  for (const std::string& table : host::results_tables()) {
    CHECK_MESSAGE(text.find("\"" + table + "\": [") != std::string::npos, table);
  }
  CHECK(text.find("\"command\": \"secateurs run exp.lua --again\"") != std::string::npos);

  CHECK_THROWS_AS(host::export_results(dir / "nowhere.sqlite", "csv", dir / "x", std::cout),
                  NotFoundError);
  CHECK_THROWS_AS(host::export_results(dir / "out" / "results.sqlite", "xml", dir / "x", std::cout),
                  ConfigError);
}

TEST_CASE("results: the report's tables, figures and self-contained HTML") {
  testing::TempDir dir;
  run_and_record(dir, "secateurs run 'exp.lua'");
  const std::filesystem::path report = dir / "out" / "report";
  const std::string html = testing::read_bytes(report / "index.html");
  // The title is escaped, never markup.
  CHECK(html.find("<title>Results &lt;test&gt; &amp; co</title>") != std::string::npos);
  CHECK(html.find("<test>") == std::string::npos);
  CHECK(html.find("id=\"summary\"") != std::string::npos);
  CHECK(html.find("secateurs run &#39;exp.lua&#39;") != std::string::npos);  // provenance
  CHECK(html.find("build fingerprint") != std::string::npos);
  // Offline: no address outside the file.
  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);

  // Every figure gnuplot drew is in the page, as a data: URI of its SVG.
  std::size_t svgs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(report / "figures")) {
    if (entry.path().extension() != ".svg") continue;
    ++svgs;
    const std::string name = entry.path().stem().string();
    CHECK_MESSAGE(std::filesystem::exists(report / "figures" / (name + ".png")), name);
    CHECK_MESSAGE(std::filesystem::exists(report / "figures" / (name + ".gp")), name);
    const std::string encoded = host::base64(testing::read_bytes(entry.path()));
    CHECK_MESSAGE(html.find(encoded) != std::string::npos, name);
  }
  // ROC of rmia, privacy-utility (AUC and TPR), vulnerability against sparsity (dense and
  // 0.5) and against the round (dense: round 0, then 2 rounds), robustness against sparsity.
  CHECK(svgs == 6);
  CHECK(std::filesystem::exists(report / "figures" / "vulnerability_rounds.svg"));
  CHECK(std::filesystem::exists(report / "figures" / "roc_attack_rmia.svg"));
  CHECK(std::filesystem::exists(report / "figures" / "vulnerability_sparsity.svg"));

  const auto attacks = csv_rows(report / "attacks.csv");
  REQUIRE(attacks.size() == 2);
  CHECK(attacks[0].at("target_pruning") == "magnitude, iterative x2");
  CHECK(attacks[1].at("target_pruning") == "dense");
  const std::string summary = testing::read_bytes(report / "summary.txt");
  CHECK(summary.rfind("Results <test> & co\n", 0) == 0);
  CHECK(summary.find("The strongest attack on each model") != std::string::npos);
}

TEST_CASE("results: a merged node has one name in a report, and one summary row") {
  testing::TempDir dir;
  run_and_record(dir, "secateurs run exp.lua");
  const std::filesystem::path report = dir / "out" / "twice";
  const auto models = csv_rows(report / "models.csv");
  REQUIRE(models.size() == 1);
  CHECK(models[0].at("node") == "again victim");
  const auto attacks = csv_rows(report / "attacks.csv");
  REQUIRE(attacks.size() == 1);
  CHECK(attacks[0].at("target") == "again victim");
  const std::string html = testing::read_bytes(report / "index.html");
  const std::string summary = html.substr(0, html.find("</table>"));
  std::size_t rows = 0;
  for (std::size_t at = summary.find("<tr><td>"); at != std::string::npos;
       at = summary.find("<tr><td>", at + 1)) {
    ++rows;
  }
  CHECK(rows == 1);
  CHECK(summary.find("<td>again victim</td>") != std::string::npos);
}

TEST_CASE("results: without gnuplot the report has its tables, scripts and a note") {
  testing::TempDir dir;
  const char* path = std::getenv("PATH");
  const std::string saved = path != nullptr ? path : "";
  std::filesystem::create_directories(dir / "empty");
  setenv("PATH", (dir / "empty").c_str(), 1);
  try {
    run_and_record(dir, "secateurs run exp.lua");
  } catch (...) {
    setenv("PATH", saved.c_str(), 1);
    throw;
  }
  setenv("PATH", saved.c_str(), 1);
  const std::filesystem::path report = dir / "out" / "report";
  std::size_t scripts = 0, images = 0;
  for (const auto& entry : std::filesystem::directory_iterator(report / "figures")) {
    scripts += entry.path().extension() == ".gp" ? 1 : 0;
    images += entry.path().extension() == ".svg" || entry.path().extension() == ".png" ? 1 : 0;
  }
  CHECK(scripts == 6);
  CHECK(images == 0);
  CHECK(testing::read_bytes(report / "summary.txt").find("gnuplot was not found") !=
        std::string::npos);
  const std::string html = testing::read_bytes(report / "index.html");
  CHECK(html.find("gnuplot was not found") != std::string::npos);
  CHECK(html.find("data:image") == std::string::npos);
  CHECK(csv_rows(report / "attacks.csv").size() == 2);
}

TEST_CASE("results: base64 and HTML escaping") {
  CHECK(host::base64("").empty());
  CHECK(host::base64("f") == "Zg==");
  CHECK(host::base64("fo") == "Zm8=");
  CHECK(host::base64("foo") == "Zm9v");
  CHECK(host::base64("foobar") == "Zm9vYmFy");
  CHECK(host::base64(std::string("\xff\x00\x10", 3)) == "/wAQ");
  CHECK(host::html_escaped("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
}

}  // namespace
}  // namespace secateurs
