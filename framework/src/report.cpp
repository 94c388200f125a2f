#include "host/report.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "host/atomic_file.h"
#include "host/run_text.h"
#include "secateurs/error.h"

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace secateurs::host {

std::string ReportAttack::metric(const std::string& key) const {
  for (const auto& [name, value] : metrics) {
    if (name == key) return value;
  }
  return "nan";
}

std::string html_escaped(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    switch (ch) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string base64(const std::string& bytes) {
  static constexpr char kDigits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto a = static_cast<unsigned char>(bytes[i]);
    const auto b = static_cast<unsigned char>(bytes[i + 1]);
    const auto c = static_cast<unsigned char>(bytes[i + 2]);
    out += kDigits[a >> 2];
    out += kDigits[((a & 3) << 4) | (b >> 4)];
    out += kDigits[((b & 15) << 2) | (c >> 6)];
    out += kDigits[c & 63];
  }
  if (i < bytes.size()) {
    const auto a = static_cast<unsigned char>(bytes[i]);
    const bool two = i + 1 < bytes.size();
    const auto b = two ? static_cast<unsigned char>(bytes[i + 1]) : 0;
    out += kDigits[a >> 2];
    out += kDigits[((a & 3) << 4) | (b >> 4)];
    out += two ? kDigits[(b & 15) << 2] : '=';
    out += '=';
  }
  return out;
}

namespace {

double value_of(const std::string& text) {
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    return std::nan("");
  }
}

std::string percent(const std::string& fraction, int digits = 2) {
  return fixed(value_of(fraction) * 100, digits);
}

// ---------------------------------------------------------------------------------------
// Figures. Each is one gnuplot script (figures/<name>.gp) with its data inline, so a
// reader can edit and rerun it; it draws <name>.svg, then <name>.png.

struct Point {
  std::string series;
  double x = 0, y = 0;
  std::string label;  // drawn next to the point when the figure asks for labels
};

struct Curve {
  std::string title;
  std::vector<std::pair<double, double>> points;
};

struct Figure {
  std::string name, title, caption, xlabel, ylabel;
  bool log_axes = false;   // ROC: log-log, with the chance diagonal
  bool mean_lines = true;  // a line through each series' mean at every x
  bool labels = false;
  std::string xrange, yrange;  // gnuplot ranges, "[0:1]"; empty: automatic
  bool integer_x = false;      // ticks at whole numbers (rounds)
  std::vector<Point> points;
  std::vector<Curve> curves;
};

// A gnuplot string: single-quoted, because gnuplot runs `backquoted` commands inside
// double quotes, and names come from the experiment's script. Line breaks would end the
// command, so they become spaces. "noenhanced" keeps underscores literal.
std::string gp_string(const std::string& text) {
  std::string out = "'";
  for (const char ch : text) {
    if (ch == '\'') {
      out += "''";
    } else {
      out += ch == '\n' || ch == '\r' ? ' ' : ch;
    }
  }
  return out + "'";
}

// A label inside a datablock line: double-quoted there (no command runs in data), without
// the characters that would end it.
std::string gp_label(const std::string& text) {
  std::string out = "\"";
  for (const char ch : text) out += ch == '"' || ch == '\n' || ch == '\r' ? ' ' : ch;
  return out + "\"";
}

// x values of replicates (seeds) differ in the last digits: points are grouped at 1e-3.
double grouped_x(double x) {
  return std::round(x * 1000) / 1000;
}

std::string gp_number(double value) {
  std::ostringstream out;
  out.precision(9);
  out << value;
  return out.str();
}

std::string figure_script(const Figure& figure) {
  std::ostringstream gp, plots;
  gp << "# secateurs report figure: gnuplot " << figure.name << ".gp draws " << figure.name
     << ".svg and " << figure.name << ".png\n";
  std::size_t block = 0;
  std::vector<std::string> commands;
  if (figure.log_axes) {
    commands.push_back("x with lines dashtype 2 lc rgb \"#999999\" title \"chance\"");
  }
  for (const Curve& curve : figure.curves) {
    gp << "$c" << block << " << EOD\n";
    for (const auto& [x, y] : curve.points) gp << gp_number(x) << ' ' << gp_number(y) << '\n';
    gp << "EOD\n";
    commands.push_back("$c" + std::to_string(block) + " using 1:2 with lines lw 2 title " +
                       gp_string(curve.title) + " noenhanced");
    ++block;
  }
  std::vector<std::string> series;
  for (const Point& p : figure.points) {
    if (std::find(series.begin(), series.end(), p.series) == series.end()) {
      series.push_back(p.series);
    }
  }
  for (std::size_t s = 0; s < series.size(); ++s) {
    std::map<double, std::vector<double>> by_x;
    gp << "$p" << s << " << EOD\n";
    for (const Point& p : figure.points) {
      if (p.series != series[s] || !std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      by_x[grouped_x(p.x)].push_back(p.y);
      gp << gp_number(p.x) << ' ' << gp_number(p.y) << ' ' << gp_label(p.label) << '\n';
    }
    gp << "EOD\n";
    const bool replicated = std::any_of(by_x.begin(), by_x.end(),
                                        [](const auto& entry) { return entry.second.size() > 1; });
    const std::string color = " lc " + std::to_string(s + 1);
    if (figure.mean_lines) {
      gp << "$m" << s << " << EOD\n";
      for (const auto& [x, ys] : by_x) {
        double sum = 0;
        for (const double y : ys) sum += y;
        gp << gp_number(x) << ' ' << gp_number(sum / static_cast<double>(ys.size())) << '\n';
      }
      gp << "EOD\n";
      commands.push_back("$m" + std::to_string(s) + " using 1:2 with linespoints pt 7 ps 0.8 lw 2" +
                         color + " title " + gp_string(series[s] + (replicated ? " (mean)" : "")) +
                         " noenhanced");
      if (replicated) {
        commands.push_back("$p" + std::to_string(s) + " using 1:2 with points pt 6 ps 0.6" + color +
                           " notitle");
      }
    } else {
      commands.push_back("$p" + std::to_string(s) + " using 1:2 with points pt 7 ps 1" + color +
                         " title " + gp_string(series[s]) + " noenhanced");
    }
    if (figure.labels) {
      commands.push_back("$p" + std::to_string(s) +
                         " using 1:2:3 with labels offset 0.6,0.6 left font \",8\" noenhanced "
                         "notitle");
    }
  }
  gp << "set title " << gp_string(figure.title) << " noenhanced\n"
     << "set xlabel " << gp_string(figure.xlabel) << " noenhanced\n"
     << "set ylabel " << gp_string(figure.ylabel) << " noenhanced\n"
     << "set grid lc rgb \"#dddddd\"\nset key outside right top vertical font \",9\"\n";
  // Room around the points, so none sits on the frame and labels stay inside.
  if (!figure.log_axes) gp << "set offsets graph 0.05, graph 0.15, graph 0.1, graph 0.1\n";
  if (figure.log_axes)
    gp << "set logscale xy\nset format x \"10^{%L}\"\nset format y \"10^{%L}\"\n";
  if (figure.integer_x) gp << "set xtics 1\n";
  gp << "set datafile missing 'nan'\n";
  if (!figure.xrange.empty()) gp << "set xrange " << figure.xrange << "\n";
  if (!figure.yrange.empty()) gp << "set yrange " << figure.yrange << "\n";
  plots << "plot ";
  for (std::size_t k = 0; k < commands.size(); ++k)
    plots << (k ? ", \\\n     " : "") << commands[k];
  plots << "\n";
  gp << "set terminal svg size 860,480 dynamic enhanced font \"sans,11\" background rgb "
        "\"white\"\n"
     << "set output " << gp_string(figure.name + ".svg") << "\n"
     << plots.str() << "set output\n"
     << "set terminal pngcairo size 1290,720 enhanced font \"sans,15\" background rgb \"white\"\n"
     << "set output " << gp_string(figure.name + ".png") << "\n"
     << plots.str() << "set output\n";
  return gp.str();
}

// Runs `gnuplot script` in `folder`; its messages go to script.log. Returns "" on success,
// otherwise why it failed. "missing" when gnuplot is not installed.
std::string run_gnuplot(const std::filesystem::path& folder, const std::string& script) {
  const std::string log = script.substr(0, script.size() - 3) + ".log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, folder.c_str());
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::string program = "gnuplot";
  std::string argument = script;
  char* argv[] = {program.data(), argument.data(), nullptr};
  // Its own process group: a Ctrl-C on the terminal asks the run to stop after its running
  // nodes, and must not kill the figure a report is drawing.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "gnuplot", &actions, &attributes, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned == ENOENT) return "missing";
  if (spawned != 0) return std::string("gnuplot could not start: ") + std::strerror(spawned);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return std::string("waiting for gnuplot: ") + std::strerror(errno);
  }
  // posix_spawnp reports a missing program as exit 127 of the child on glibc.
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return "missing";
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "gnuplot failed on " + script + ": " + read_file(folder / log);
  }
  std::filesystem::remove(folder / log);
  return "";
}

// The ROC curve for log-log axes: points with fpr > 0 and tpr > 0, the highest tpr in
// each of 200 bins per decade of fpr (a curve of 20,000 samples stays a light figure).
std::vector<std::pair<double, double>> roc_points(const std::filesystem::path& roc) {
  std::ifstream in(roc);
  std::string line;
  std::getline(in, line);
  std::map<long, std::pair<double, double>> bins;
  while (std::getline(in, line)) {
    const std::size_t a = line.find(','), b = line.find(',', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const double fpr = value_of(line.substr(a + 1, b - a - 1));
    const double tpr = value_of(line.substr(b + 1));
    if (!(fpr > 0) || !(tpr > 0)) continue;
    const long bin = std::lround(std::floor(std::log10(fpr) * 200));
    auto [it, inserted] = bins.try_emplace(bin, fpr, tpr);
    if (!inserted && tpr > it->second.second) it->second = {fpr, tpr};
  }
  std::vector<std::pair<double, double>> points;
  for (const auto& [bin, point] : bins) points.push_back(point);
  return points;
}

std::string slug(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    const bool keep = std::isalnum(static_cast<unsigned char>(ch)) != 0;
    if (keep) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "figure" : out;
}

std::string series_of(const ReportModel& model) {
  if (model.rounds == 0 && model.pruning == "dense") return "dense";
  return model.pruning + (model.defense == "none" ? "" : ", " + model.defense);
}

// A metric for ranking: one that was not measured (NaN) ranks below every number.
double ranked(const std::string& text) {
  const double value = value_of(text);
  return std::isnan(value) ? -std::numeric_limits<double>::infinity() : value;
}

// The strongest attack on each target: the highest AUC, and the highest TPR at 1 % FPR.
struct Strongest {
  const ReportAttack* by_auc = nullptr;
  const ReportAttack* by_tpr = nullptr;
};

std::vector<std::pair<std::string, Strongest>> strongest_attacks(const ReportContent& content) {
  std::vector<std::pair<std::string, Strongest>> out;
  for (const ReportAttack& a : content.attacks) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const auto& e) { return e.first == a.target.name; });
    if (it == out.end()) {
      out.emplace_back(a.target.name, Strongest{&a, &a});
      continue;
    }
    if (ranked(a.metric("auc")) > ranked(it->second.by_auc->metric("auc"))) {
      it->second.by_auc = &a;
    }
    if (ranked(a.metric("tpr_at_1pct")) > ranked(it->second.by_tpr->metric("tpr_at_1pct"))) {
      it->second.by_tpr = &a;
    }
  }
  return out;
}

std::vector<Figure> figures_of(const ReportContent& content) {
  std::vector<Figure> figures;
  const auto strongest = strongest_attacks(content);
  const bool few_targets = strongest.size() <= kMaxRocCurves;

  // ROC curves, one figure per attack, a curve per target.
  std::vector<std::string> attacks;
  for (const ReportAttack& a : content.attacks) {
    if (std::find(attacks.begin(), attacks.end(), a.attack) == attacks.end()) {
      attacks.push_back(a.attack);
    }
  }
  std::set<std::string> roc_names;
  for (const std::string& attack : attacks) {
    Figure f;
    // {k: -1} and {k: 1} make the same slug: a repeated name gets a number.
    f.name = "roc_" + slug(attack);
    for (int n = 2; !roc_names.insert(f.name).second; ++n) {
      f.name = "roc_" + slug(attack) + "_" + std::to_string(n);
    }
    f.title = "ROC of " + attack;
    f.xlabel = "false positive rate";
    f.ylabel = "true positive rate";
    f.log_axes = true;
    f.xrange = "[1e-4:1]";
    f.yrange = "[1e-4:1]";
    std::size_t targets = 0, shown = 0;
    for (const ReportAttack& a : content.attacks) {
      if (a.attack != attack) continue;
      ++targets;
      if (f.curves.size() >= kMaxRocCurves) continue;
      f.curves.push_back({a.target.name + " (AUC " + fixed(value_of(a.metric("auc")), 3) + ")",
                          roc_points(a.roc)});
      ++shown;
    }
    f.caption =
        "Log-log ROC curves of " + attack + " on " +
        (targets == shown ? std::to_string(targets) + " target(s)"
                          : "the first " + std::to_string(shown) + " of " +
                                std::to_string(targets) + " targets (all are in attacks.csv)") +
        "; the dashed line is chance.";
    figures.push_back(std::move(f));
  }

  if (!strongest.empty()) {
    Figure auc, tpr;
    auc.name = "privacy_utility_auc";
    auc.title = "Privacy against utility: the strongest attack's AUC";
    auc.ylabel = "AUC of the strongest attack";
    tpr.name = "privacy_utility_tpr";
    tpr.title = "Privacy against utility: TPR at 1% FPR";
    tpr.ylabel = "best TPR at 1% FPR";
    for (Figure* f : {&auc, &tpr}) {
      f->xlabel = "test accuracy (%)";
      f->mean_lines = false;
      f->labels = few_targets;
    }
    for (const auto& [name, s] : strongest) {
      const ReportModel& m = s.by_auc->target;
      const std::string series = m.rounds == 0 && m.pruning == "dense" ? "dense" : m.defense;
      auc.points.push_back(
          {series, value_of(m.test_accuracy) * 100, value_of(s.by_auc->metric("auc")), name});
      tpr.points.push_back({series, value_of(m.test_accuracy) * 100,
                            value_of(s.by_tpr->metric("tpr_at_1pct")), name});
    }
    auc.caption =
        "Each target model: its test accuracy against the highest AUC of any attack on it, one "
        "colour per defense (down and to the right is better).";
    tpr.caption =
        "Each target model: its test accuracy against the highest TPR at 1% FPR of any attack "
        "on it, one colour per defense.";
    figures.push_back(std::move(auc));
    figures.push_back(std::move(tpr));

    // A pruned model's series starts at its own dense model (x = 0), when the report has
    // attacks on it; a dense model joins no series of its own then.
    const auto strongest_auc = [&](const std::string& name) -> std::optional<double> {
      for (const auto& [target, s] : strongest) {
        if (target == name) return value_of(s.by_auc->metric("auc"));
      }
      return std::nullopt;
    };
    std::set<std::string> dense_used;
    for (const auto& [name, s] : strongest) {
      const ReportModel& m = s.by_auc->target;
      if (!m.dense.empty() && strongest_auc(m.dense)) dense_used.insert(m.dense);
    }

    Figure sparsity;
    sparsity.name = "vulnerability_sparsity";
    sparsity.title = "Vulnerability against sparsity";
    sparsity.xlabel = "sparsity";
    sparsity.ylabel = "AUC of the strongest attack";
    sparsity.xrange = "[-0.02:1]";
    std::set<std::string> sparsities, started;
    for (const auto& [name, s] : strongest) {
      const ReportModel& m = s.by_auc->target;
      sparsities.insert(fixed(value_of(m.sparsity), 3));
      if (m.dense.empty() && dense_used.count(name) != 0) continue;
      const std::string series = series_of(m);
      if (const auto dense = m.dense.empty() ? std::nullopt : strongest_auc(m.dense);
          dense && started.insert(series + "\n" + m.dense).second) {
        sparsity.points.push_back({series, 0, *dense, m.dense});
      }
      sparsity.points.push_back(
          {series, value_of(m.sparsity), value_of(s.by_auc->metric("auc")), name});
    }
    sparsity.caption =
        "The highest AUC of any attack on each target, against the target's sparsity; one line "
        "per pruning method and defense, from its dense model (through the mean where seeds "
        "repeat a point).";
    if (sparsities.size() >= 2) figures.push_back(std::move(sparsity));

    // Against the round: the models of one schedule stopped after k rounds share the
    // per-round fraction 1 - (1 - S)^(1/k); each starts at its own dense model.
    Figure rounds;
    rounds.name = "vulnerability_rounds";
    rounds.title = "Vulnerability against the pruning round";
    rounds.xlabel = "pruning rounds";
    rounds.integer_x = true;
    rounds.ylabel = "AUC of the strongest attack";
    std::map<std::string, std::set<int>> rounds_of;
    started.clear();
    for (const auto& [name, s] : strongest) {
      const ReportModel& m = s.by_auc->target;
      if (m.rounds == 0) continue;
      const double step = 1 - std::pow(1 - value_of(m.sparsity), 1.0 / m.rounds);
      const std::string series =
          m.pruner + ", " + m.defense + ", " + fixed(step * 100, 0) + "% per round";
      if (const auto dense = m.dense.empty() ? std::nullopt : strongest_auc(m.dense);
          dense && started.insert(series + "\n" + m.dense).second) {
        rounds.points.push_back({series, 0, *dense, m.dense});
        rounds_of[series].insert(0);
      }
      rounds.points.push_back(
          {series, static_cast<double>(m.rounds), value_of(s.by_auc->metric("auc")), name});
      rounds_of[series].insert(m.rounds);
    }
    rounds.caption =
        "The highest AUC of any attack against the number of pruning rounds (0: the dense "
        "model), one line per pruner, defense and per-round pruning fraction.";
    if (std::any_of(rounds_of.begin(), rounds_of.end(),
                    [](const auto& e) { return e.second.size() >= 2; })) {
      figures.push_back(std::move(rounds));
    }
  }

  if (!content.robustness.empty()) {
    Figure robust;
    robust.name = "robustness_sparsity";
    robust.title = "Robust accuracy against sparsity";
    robust.xlabel = "sparsity";
    robust.ylabel = "accuracy on non-members (%)";
    robust.xrange = "[-0.02:1]";
    std::set<std::string> dense_used, started;
    for (const ReportRobustness& r : content.robustness) {
      if (!r.model.dense.empty()) dense_used.insert(r.model.dense);
    }
    for (const ReportRobustness& r : content.robustness) {
      const std::string attack = r.method + (value_of(r.epsilon) > 0 ? " eps " + r.epsilon : "");
      if (r.model.dense.empty() && dense_used.count(r.model.name) != 0) continue;
      const std::string series = attack + ", " + series_of(r.model);
      for (const ReportRobustness& d : content.robustness) {
        if (d.model.name != r.model.dense || d.method != r.method || d.epsilon != r.epsilon) {
          continue;
        }
        if (started.insert(series + "\n" + d.model.name).second) {
          robust.points.push_back({series, 0, value_of(d.accuracy) * 100, d.name});
        }
      }
      robust.points.push_back(
          {series, value_of(r.model.sparsity), value_of(r.accuracy) * 100, r.name});
    }
    robust.caption =
        "Accuracy under FGSM and PGD (L-infinity, each epsilon) against the model's sparsity, "
        "one line per attack and pruning method, from its dense model.";
    figures.push_back(std::move(robust));
  }
  return figures;
}

// ---------------------------------------------------------------------------------------
// Tables

// `notes` end summary.txt (figures that were not drawn, and why).
void write_tables(const ReportContent& content, const std::vector<std::string>& notes,
                  const std::filesystem::path& folder) {
  std::ostringstream models, attacks, robustness, evaluations, summary;
  models << "node,model,members,train_accuracy,test_accuracy,sparsity,pruning,defense,rounds\n";
  attacks << "node,target,attack,balanced_accuracy,auc,auc_low,auc_high,tpr_at_1pct,"
             "tpr_at_0.1pct,tpr_at_1pct_low,tpr_at_1pct_high,tpr_at_0.01pct,target_test_accuracy,"
             "target_sparsity,target_pruning,target_defense,target_rounds\n";
  robustness << "node,model,method,epsilon,accuracy,sparsity\n";
  evaluations << "node,model,member_accuracy,non_member_accuracy\n";
  summary << content.title << "\n\n";
  const auto strongest = strongest_attacks(content);
  if (!strongest.empty()) {
    summary << "The strongest attack on each model (highest AUC; highest TPR at 1% FPR)\n";
    std::size_t width = 5;
    for (const auto& [name, s] : strongest) width = std::max(width, name.size());
    for (const auto& [name, s] : strongest) {
      const ReportModel& m = s.by_auc->target;
      summary << "  " << name << std::string(width - name.size(), ' ') << "  test "
              << percent(m.test_accuracy) << " %, sparsity " << fixed(value_of(m.sparsity), 2)
              << ": AUC " << fixed(value_of(s.by_auc->metric("auc")), 4) << " (" << s.by_auc->attack
              << "), TPR at 1% FPR " << percent(s.by_tpr->metric("tpr_at_1pct")) << " % ("
              << s.by_tpr->attack << ")\n";
    }
    summary << "\n";
  }
  if (!content.models.empty()) summary << "Models\n";
  for (const ReportModel& m : content.models) {
    models << csv_field(m.name) << ',' << csv_field(m.role) << ',' << m.members << ','
           << m.train_accuracy << ',' << m.test_accuracy << ',' << m.sparsity << ','
           << csv_field(m.pruning) << ',' << csv_field(m.defense) << ',' << m.rounds << '\n';
    summary << "  " << m.name << " (" << m.label << "): train " << percent(m.train_accuracy)
            << " %, test " << percent(m.test_accuracy) << " %, sparsity "
            << fixed(value_of(m.sparsity), 3) << "\n";
  }
  if (!content.models.empty()) summary << "\n";
  if (!content.attacks.empty()) summary << "Attacks\n";
  for (const ReportAttack& a : content.attacks) {
    attacks << csv_field(a.name) << ',' << csv_field(a.target.name) << ',' << csv_quoted(a.attack)
            << ',' << a.metric("balanced_accuracy") << ',' << a.metric("auc") << ','
            << a.metric("auc_low") << ',' << a.metric("auc_high") << ',' << a.metric("tpr_at_1pct")
            << ',' << a.metric("tpr_at_0.1pct") << ',' << a.metric("tpr_at_1pct_low") << ','
            << a.metric("tpr_at_1pct_high") << ',' << a.metric("tpr_at_0.01pct") << ','
            << a.target.test_accuracy << ',' << a.target.sparsity << ','
            << csv_field(a.target.pruning) << ',' << csv_field(a.target.defense) << ','
            << a.target.rounds << '\n';
    summary << "  " << a.attack << " on " << a.target.name << ": AUC "
            << fixed(value_of(a.metric("auc")), 4) << " ["
            << fixed(value_of(a.metric("auc_low")), 4) << ", "
            << fixed(value_of(a.metric("auc_high")), 4) << "], TPR at 1% FPR "
            << percent(a.metric("tpr_at_1pct")) << " %\n";
  }
  if (!content.attacks.empty()) summary << "\n";
  for (const ReportRobustness& r : content.robustness) {
    robustness << csv_field(r.name) << ',' << csv_field(r.measured) << ',' << csv_field(r.method)
               << ',' << r.epsilon << ',' << r.accuracy << ',' << r.model.sparsity << '\n';
  }
  for (const ReportEvaluation& e : content.evaluations) {
    evaluations << csv_field(e.name) << ',' << csv_field(e.model) << ',' << e.member_accuracy << ','
                << e.non_member_accuracy << '\n';
  }
  for (const std::string& note : notes) summary << note << "\n";
  write_file_atomically(folder / "summary.txt", summary.str());
  write_file_atomically(folder / "models.csv", models.str());
  write_file_atomically(folder / "attacks.csv", attacks.str());
  write_file_atomically(folder / "robustness.csv", robustness.str());
  write_file_atomically(folder / "evaluations.csv", evaluations.str());
}

// ---------------------------------------------------------------------------------------
// index.html

constexpr const char* kStyle = R"(
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.note { background: #fff6d6; padding: 0.5em 0.8em; border-left: 4px solid #e0b000; }
.muted { color: #666; font-size: 0.9em; }
)";

std::string td(const std::string& text, bool number = false) {
  return std::string(number ? "<td class=\"n\">" : "<td>") + html_escaped(text) + "</td>";
}

std::string summary_table(const ReportContent& content) {
  std::ostringstream html;
  html << "<table id=\"summary\">\n<tr><th>model</th><th>test acc. %</th><th>train acc. %</th>"
          "<th>gap</th><th>sparsity</th><th>pruning</th><th>defense</th>"
          "<th>strongest attack (AUC, 95% CI)</th><th>best TPR at 1% FPR</th></tr>\n";
  const auto strongest = strongest_attacks(content);
  std::vector<const ReportModel*> shown;
  for (const auto& [name, s] : strongest) shown.push_back(&s.by_auc->target);
  for (const ReportModel& m : content.models) {
    if (std::none_of(shown.begin(), shown.end(),
                     [&](const ReportModel* x) { return x->name == m.name; })) {
      shown.push_back(&m);
    }
  }
  for (const ReportModel* m : shown) {
    const auto found = std::find_if(strongest.begin(), strongest.end(),
                                    [&](const auto& e) { return e.first == m->name; });
    std::string auc = "-", tpr = "-";
    if (found != strongest.end()) {
      const ReportAttack& a = *found->second.by_auc;
      auc = a.attack + ": " + fixed(value_of(a.metric("auc")), 4) + " [" +
            fixed(value_of(a.metric("auc_low")), 4) + ", " +
            fixed(value_of(a.metric("auc_high")), 4) + "]";
      const ReportAttack& t = *found->second.by_tpr;
      tpr = percent(t.metric("tpr_at_1pct")) + " % (" + t.attack + ")";
    }
    const double gap = (value_of(m->train_accuracy) - value_of(m->test_accuracy)) * 100;
    html << "<tr>" << td(m->name) << td(percent(m->test_accuracy), true)
         << td(percent(m->train_accuracy), true) << td(fixed(gap, 2), true)
         << td(fixed(value_of(m->sparsity), 3), true) << td(m->pruning) << td(m->defense) << td(auc)
         << td(tpr) << "</tr>\n";
  }
  html << "</table>\n";
  return html.str();
}

std::string attack_table(const ReportContent& content) {
  std::ostringstream html;
  html << "<table>\n<tr><th>target</th><th>attack</th><th>balanced acc.</th><th>AUC</th>"
          "<th>95% CI</th><th>TPR at 1% FPR</th><th>at 0.1%</th><th>at 0.01%</th></tr>\n";
  for (const ReportAttack& a : content.attacks) {
    html << "<tr>" << td(a.target.name) << td(a.attack)
         << td(fixed(value_of(a.metric("balanced_accuracy")), 4), true)
         << td(fixed(value_of(a.metric("auc")), 4), true)
         << td("[" + fixed(value_of(a.metric("auc_low")), 4) + ", " +
                   fixed(value_of(a.metric("auc_high")), 4) + "]",
               true)
         << td(percent(a.metric("tpr_at_1pct")) + " %", true)
         << td(percent(a.metric("tpr_at_0.1pct")) + " %", true)
         << td(percent(a.metric("tpr_at_0.01pct")) + " %", true) << "</tr>\n";
  }
  html << "</table>\n";
  return html.str();
}

void write_html(const ReportContent& content, const std::vector<Figure>& figures,
                const std::string& figure_note, const std::filesystem::path& folder) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       << "<title>" << html_escaped(content.title) << "</title>\n<style>" << kStyle
       << "</style>\n</head>\n<body>\n<h1>" << html_escaped(content.title) << "</h1>\n";
  for (const auto& [name, value] : content.provenance) {
    if (name == "command" || name == "started") {
      html << "<div class=\"muted\">" << html_escaped(name) << ": <code>" << html_escaped(value)
           << "</code></div>\n";
    }
  }
  html << "<h2>Summary</h2>\n" << summary_table(content);
  html << "<h2>Figures</h2>\n";
  if (!figure_note.empty()) html << "<p class=\"note\">" << html_escaped(figure_note) << "</p>\n";
  for (const Figure& f : figures) {
    const std::filesystem::path svg = folder / "figures" / (f.name + ".svg");
    html << "<figure id=\"" << f.name << "\"><img alt=\"" << html_escaped(f.title)
         << "\" src=\"data:image/svg+xml;base64," << base64(read_file(svg)) << "\">\n<figcaption>"
         << html_escaped(f.caption) << " <span class=\"muted\">(figures/" << f.name
         << ".svg, .png, .gp)</span></figcaption></figure>\n";
  }
  if (!content.attacks.empty()) html << "<h2>Attacks</h2>\n" << attack_table(content);
  if (!content.models.empty()) {
    html << "<h2>Models</h2>\n<table>\n<tr><th>model</th><th>node</th><th>role</th>"
            "<th>members</th><th>train acc. %</th><th>test acc. %</th><th>sparsity</th>"
            "<th>pruning</th><th>defense</th></tr>\n";
    for (const ReportModel& m : content.models) {
      html << "<tr>" << td(m.name) << td(m.label) << td(m.role) << td(m.members, true)
           << td(percent(m.train_accuracy), true) << td(percent(m.test_accuracy), true)
           << td(fixed(value_of(m.sparsity), 3), true) << td(m.pruning) << td(m.defense)
           << "</tr>\n";
    }
    html << "</table>\n";
  }
  if (!content.robustness.empty()) {
    html << "<h2>Robustness</h2>\n<table>\n<tr><th>model</th><th>method</th><th>epsilon</th>"
            "<th>accuracy %</th><th>sparsity</th></tr>\n";
    for (const ReportRobustness& r : content.robustness) {
      html << "<tr>" << td(r.model.name) << td(r.method) << td(r.epsilon, true)
           << td(percent(r.accuracy), true) << td(fixed(value_of(r.model.sparsity), 3), true)
           << "</tr>\n";
    }
    html << "</table>\n";
  }
  if (!content.evaluations.empty()) {
    html << "<h2>Evaluations</h2>\n<table>\n<tr><th>node</th><th>model</th>"
            "<th>member acc. %</th><th>non-member acc. %</th></tr>\n";
    for (const ReportEvaluation& e : content.evaluations) {
      html << "<tr>" << td(e.name) << td(e.model) << td(percent(e.member_accuracy), true)
           << td(percent(e.non_member_accuracy), true) << "</tr>\n";
    }
    html << "</table>\n";
  }
  html << "<h2>Provenance</h2>\n<table id=\"provenance\">\n";
  for (const auto& [name, value] : content.provenance) {
    html << "<tr><th>" << html_escaped(name) << "</th><td><code>" << html_escaped(value)
         << "</code></td></tr>\n";
  }
  html << "</table>\n<h2>Configuration</h2>\n";
  for (const auto& [yaml, names] : content.recipes) {
    std::string used;
    for (const std::string& name : names) used += (used.empty() ? "" : ", ") + name;
    html << "<details><summary>recipe of " << html_escaped(used) << "</summary><pre>"
         << html_escaped(yaml) << "</pre></details>\n";
  }
  html << "<p class=\"muted\">Tables as CSV: models.csv, attacks.csv, robustness.csv, "
          "evaluations.csv; the run's database: results.sqlite in the run's output folder "
          "(<code>secateurs results export</code>).</p>\n</body>\n</html>\n";
  write_file_atomically(folder / "index.html", html.str());
}

}  // namespace

void write_report(const ReportContent& content, const std::filesystem::path& folder,
                  const std::function<void(const std::string&)>& status) {
  std::vector<Figure> figures = figures_of(content);
  // A figure without one finite point has nothing to draw (gnuplot would fail on it).
  figures.erase(std::remove_if(figures.begin(), figures.end(),
                               [](const Figure& f) {
                                 const bool points = std::any_of(
                                     f.points.begin(), f.points.end(), [](const Point& p) {
                                       return std::isfinite(p.x) && std::isfinite(p.y);
                                     });
                                 const bool curves =
                                     std::any_of(f.curves.begin(), f.curves.end(),
                                                 [](const Curve& c) { return !c.points.empty(); });
                                 return !points && !curves;
                               }),
                figures.end());
  std::vector<std::string> notes;
  std::vector<Figure> drawn;
  if (!figures.empty()) {
    const std::filesystem::path dir = folder / "figures";
    std::filesystem::create_directories(dir);
    // Every script first, and no figure of an earlier run left to be mistaken for this one's.
    for (const Figure& figure : figures) {
      std::filesystem::remove(dir / (figure.name + ".svg"));
      std::filesystem::remove(dir / (figure.name + ".png"));
      write_file_atomically(dir / (figure.name + ".gp"), figure_script(figure));
    }
    for (Figure& figure : figures) {
      const std::string failure = run_gnuplot(dir, figure.name + ".gp");
      if (failure == "missing") {
        notes.push_back(
            "gnuplot was not found, so no figure was drawn (Debian package gnuplot-nox); "
            "their scripts are in figures/*.gp.");
        break;
      }
      if (!failure.empty()) {
        // One figure that cannot be drawn must not cost the run its tables.
        notes.push_back(figure.name + " was not drawn: " + failure);
        continue;
      }
      drawn.push_back(std::move(figure));
      if (status)
        status("figures " + std::to_string(drawn.size()) + "/" + std::to_string(figures.size()));
    }
  }
  write_tables(content, notes, folder);
  std::string note;
  for (const std::string& n : notes) note += (note.empty() ? "" : " ") + n;
  write_html(content, drawn, note, folder);
}

}  // namespace secateurs::host
