// A run's report: what a report node of an experiment graph writes from the stored results
// of the nodes it is given. Text and CSV tables (summary.txt, models.csv, attacks.csv,
// robustness.csv, evaluations.csv), figures drawn by gnuplot (figures/*.svg and *.png:
// log-log ROC curves per attack, privacy against utility per defense, vulnerability against
// sparsity and against the pruning round, robust accuracy against sparsity), and one
// self-contained index.html that opens offline (styles inline, figures as data: URIs).
//
// Threading: write_report runs on one thread (a graph worker); it starts gnuplot as a child
// process and waits for it.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "secateurs/export.h"

namespace secateurs::host {

// What a report says of one model: the numbers as its node recorded them (exact text, so
// the CSV files carry every digit), and how it was made.
struct ReportModel {
  std::string name;   // as the script names the node
  std::string label;  // "train victim", "prune"
  std::string role, members, train_accuracy, test_accuracy, sparsity;
  // "dense", or the pruner and schedule ("magnitude, iterative x5"): the series a model
  // belongs to in the figures against sparsity.
  std::string pruning = "dense";
  std::string defense = "none";  // "swmr" for defense.swmr
  std::string pruner;            // "magnitude"; empty for a dense model
  int rounds = 0;                // pruning rounds run (0: dense)
  // A pruned model's dense model (the report's name for it): round 0 of its series.
  std::string dense;
};

struct ReportAttack {
  std::string name;    // the attack node's name
  std::string attack;  // "attack.lira {mode: offline}"
  ReportModel target;
  // metrics.txt of the node: balanced_accuracy, auc, auc_low, auc_high, tpr_at_1pct (with
  // _low/_high), tpr_at_0.1pct, tpr_at_0.01pct
  std::vector<std::pair<std::string, std::string>> metrics;
  std::filesystem::path roc;  // threshold,fpr,tpr
  std::string metric(const std::string& key) const;
};

struct ReportRobustness {
  std::string name;  // the robustness node's name
  ReportModel model;
  std::string measured;  // "victim pruned": the model as the node measured it
  std::string method, epsilon, accuracy;
};

struct ReportEvaluation {
  std::string name;
  std::string model;
  std::string member_accuracy, non_member_accuracy;
};

struct ReportContent {
  std::string title;
  // Provenance, in order: command, started, versions, fingerprint, seeds, plugins, ...
  std::vector<std::pair<std::string, std::string>> provenance;
  // Each distinct recipe (YAML) and the names of the nodes made with it.
  std::vector<std::pair<std::string, std::vector<std::string>>> recipes;
  std::vector<ReportModel> models;
  std::vector<ReportAttack> attacks;
  std::vector<ReportRobustness> robustness;
  std::vector<ReportEvaluation> evaluations;
};

// At most this many ROC curves in one figure; the rest are in the CSV files (a study's
// report makes smaller reports for its ROC figures).
inline constexpr std::size_t kMaxRocCurves = 12;

// Writes every file of the report into `folder` (which exists). Figures need gnuplot on
// the PATH (Debian package gnuplot-nox); without it the tables and index.html are written
// and both say that the figures were not drawn. `status` gets short progress notes.
SECATEURS_API void write_report(const ReportContent& content, const std::filesystem::path& folder,
                                const std::function<void(const std::string&)>& status);

// "<", ">", "&" and quotes escaped for HTML text and attribute values.
SECATEURS_API std::string html_escaped(const std::string& text);
SECATEURS_API std::string base64(const std::string& bytes);

}  // namespace secateurs::host
