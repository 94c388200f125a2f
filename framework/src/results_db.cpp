#include "host/results_db.h"

#include <sqlite3.h>
#include <torch/version.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "host/atomic_file.h"
#include "host/fingerprint.h"
#include "host/graph_nodes.h"
#include "host/registry.h"
#include "host/run_text.h"
#include "secateurs/error.h"
#include "secateurs/version.h"

namespace secateurs::host {
namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS runs(
  run INTEGER PRIMARY KEY, started TEXT, seconds REAL, status TEXT, command TEXT, graph TEXT,
  jobs INTEGER, store TEXT, secateurs_version TEXT, libtorch_version TEXT,
  build_fingerprint TEXT);
CREATE TABLE IF NOT EXISTS nodes(
  run INTEGER, node TEXT, names TEXT, kind TEXT, label TEXT, key TEXT, place TEXT,
  status TEXT, seconds REAL, seed INTEGER, PRIMARY KEY(run, node));
CREATE TABLE IF NOT EXISTS inputs(
  run INTEGER, node TEXT, slot TEXT, position INTEGER, input TEXT);
CREATE TABLE IF NOT EXISTS parameters(run INTEGER, node TEXT, name TEXT, value TEXT);
CREATE TABLE IF NOT EXISTS metrics(run INTEGER, node TEXT, name TEXT, value REAL);
CREATE TABLE IF NOT EXISTS plugins(run INTEGER, plugin TEXT, version TEXT, component TEXT);
CREATE TABLE IF NOT EXISTS provenance(run INTEGER, name TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS metrics_by_node ON metrics(run, node);
CREATE INDEX IF NOT EXISTS inputs_by_node ON inputs(run, node);
CREATE VIEW IF NOT EXISTS attack_results AS
  SELECT n.run, n.node,
    CASE WHEN n.label LIKE 'attack %' THEN substr(n.label, 8) ELSE n.label END AS attack,
    i.input AS target, n.seed,
    MAX(CASE WHEN m.name = 'balanced_accuracy' THEN m.value END) AS balanced_accuracy,
    MAX(CASE WHEN m.name = 'auc' THEN m.value END) AS auc,
    MAX(CASE WHEN m.name = 'auc_low' THEN m.value END) AS auc_low,
    MAX(CASE WHEN m.name = 'auc_high' THEN m.value END) AS auc_high,
    MAX(CASE WHEN m.name = 'tpr_at_1pct' THEN m.value END) AS tpr_at_1pct,
    MAX(CASE WHEN m.name = 'tpr_at_0.1pct' THEN m.value END) AS tpr_at_01pct,
    MAX(CASE WHEN m.name = 'tpr_at_0.01pct' THEN m.value END) AS tpr_at_001pct
  FROM nodes n
  JOIN inputs i ON i.run = n.run AND i.node = n.node AND i.slot = 'target'
  JOIN metrics m ON m.run = n.run AND m.node = n.node
  WHERE n.kind = 'attack' GROUP BY n.run, n.node;
CREATE VIEW IF NOT EXISTS model_results AS
  SELECT n.run, n.node, n.kind, n.label, n.seed,
    MAX(CASE WHEN m.name = 'members' THEN m.value END) AS members,
    MAX(CASE WHEN m.name = 'train_accuracy' THEN m.value END) AS train_accuracy,
    MAX(CASE WHEN m.name = 'test_accuracy' THEN m.value END) AS test_accuracy,
    MAX(CASE WHEN m.name = 'sparsity' THEN m.value END) AS sparsity
  FROM nodes n JOIN metrics m ON m.run = n.run AND m.node = n.node
  WHERE n.kind IN ('train', 'prune') GROUP BY n.run, n.node;
)";

struct DatabaseCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

class Database {
 public:
  Database(const std::filesystem::path& file, bool create) : file_(file) {
    sqlite3* raw = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    const int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) fail("cannot open it");
    sqlite3_busy_timeout(db_.get(), 30000);
  }
  void execute(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string text = message != nullptr ? message : "unknown error";
      sqlite3_free(message);
      throw Error(file_.string() + ": " + text);
    }
  }
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> prepare(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
      fail("cannot prepare '" + sql.substr(0, 60) + "'");
    }
    return std::unique_ptr<sqlite3_stmt, StatementFinalizer>(raw);
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(file_.string() + ": " + what + ": " +
                (db_ ? sqlite3_errmsg(db_.get()) : "out of memory"));
  }
  sqlite3* get() const { return db_.get(); }

 private:
  std::filesystem::path file_;
  std::unique_ptr<sqlite3, DatabaseCloser> db_;
};

// One INSERT, bound and stepped per row.
class Insert {
 public:
  Insert(Database& db, const std::string& sql) : db_(db), statement_(db.prepare(sql)) {}
  Insert& text(int column, const std::string& value) {
    sqlite3_bind_text(statement_.get(), column, value.c_str(), static_cast<int>(value.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Insert& real(int column, double value) {
    sqlite3_bind_double(statement_.get(), column, value);
    return *this;
  }
  Insert& integer(int column, std::int64_t value) {
    sqlite3_bind_int64(statement_.get(), column, value);
    return *this;
  }
  Insert& null(int column) {
    sqlite3_bind_null(statement_.get(), column);
    return *this;
  }
  void step() {
    if (sqlite3_step(statement_.get()) != SQLITE_DONE) db_.fail("cannot write a row");
    sqlite3_reset(statement_.get());
    sqlite3_clear_bindings(statement_.get());
  }

 private:
  Database& db_;
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> statement_;
};

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char ch : text) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(ch));
          out += escaped;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}


// A column's value as text; doubles with every digit that tells them apart.
std::string column_text(sqlite3_stmt* statement, int column) {
  if (sqlite3_column_type(statement, column) == SQLITE_FLOAT) {
    // The shortest text that reads back as the same double: 0.5935, not 0.59350000000000003.
    char text[32];
    const auto [end, error] =
        std::to_chars(text, text + sizeof text, sqlite3_column_double(statement, column));
    return error == std::errc() ? std::string(text, end) : std::string("nan");
  }
  const unsigned char* text = sqlite3_column_text(statement, column);
  return text != nullptr ? reinterpret_cast<const char*>(text) : "";
}

}  // namespace

std::vector<std::string> results_tables() {
  return {"runs",    "nodes",      "inputs",         "parameters",   "metrics",
          "plugins", "provenance", "attack_results", "model_results"};
}

void record_run_results(
    const std::filesystem::path& database, const RunSummary& run, const Graph& graph,
    const GraphRunResult& result, const Registry& registry,
    const std::function<std::optional<std::filesystem::path>(const std::string& key)>& artifact) {
  if (!database.parent_path().empty()) std::filesystem::create_directories(database.parent_path());
  Database db(database, true);
  db.execute(kSchema);
  db.execute("BEGIN IMMEDIATE");
  try {
    std::string command;
    for (const auto& [name, value] : run.provenance) {
      if (name == "command") command = value;
    }
    Insert runs(db,
                "INSERT INTO runs(started, seconds, status, command, graph, jobs, store, "
                "secateurs_version, libtorch_version, build_fingerprint) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    runs.text(1, run.started)
        .real(2, result.seconds)
        .text(3, run.status)
        .text(4, command)
        .text(5, graph.source)
        .integer(6, run.jobs)
        .text(7, run.store)
        .text(8, SECATEURS_VERSION_STRING)
        .text(9, TORCH_VERSION)
        .text(10, host_fingerprint())
        .step();
    const std::int64_t id = sqlite3_last_insert_rowid(db.get());

    Insert provenance(db, "INSERT INTO provenance VALUES(?1, ?2, ?3)");
    for (const auto& [name, value] : run.provenance) {
      provenance.integer(1, id).text(2, name).text(3, value).step();
    }
    Insert plugins(db, "INSERT INTO plugins VALUES(?1, ?2, ?3, ?4)");
    for (const RegisteredComponent* component : registry.components()) {
      plugins.integer(1, id)
          .text(2, component->library->plugin_name)
          .text(3, component->library->plugin_version)
          .text(4, component->id())
          .step();
    }

    Insert nodes(db, "INSERT INTO nodes VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    Insert inputs(db, "INSERT INTO inputs VALUES(?1, ?2, ?3, ?4, ?5)");
    Insert parameters(db, "INSERT INTO parameters VALUES(?1, ?2, ?3, ?4)");
    Insert metrics(db, "INSERT INTO metrics VALUES(?1, ?2, ?3, ?4)");
    for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
      const GraphNode& node = graph.nodes[i];
      const NodeRecord& record = result.records.at(i);
      const std::string& name = node.names.front();
      std::string names;
      for (const std::string& n : node.names) names += (names.empty() ? "" : ", ") + n;
      nodes.integer(1, id)
          .text(2, name)
          .text(3, names)
          .text(4, node.kind)
          .text(5, node.label)
          .text(6, node.key)
          .text(7, node.where)
          .text(8, record.status)
          .real(9, record.seconds);
      if (const std::optional<std::uint64_t> seed = node_seed(graph, i)) {
        nodes.integer(10, static_cast<std::int64_t>(*seed));
      } else {
        nodes.null(10);
      }
      nodes.step();
      for (const auto& [slot, list] : node.inputs) {
        for (std::size_t k = 0; k < list.size(); ++k) {
          inputs.integer(1, id)
              .text(2, name)
              .text(3, slot)
              .integer(4, static_cast<std::int64_t>(k))
              .text(5, graph.nodes[list[k]].names.front())
              .step();
        }
      }
      // The canonical text is "name=value" lines; a value may hold '=' itself.
      std::istringstream lines(node.parameters);
      for (std::string line; std::getline(lines, line);) {
        const std::size_t eq = line.find('=');
        if (eq == std::string::npos) continue;
        parameters.integer(1, id).text(2, name).text(3, line.substr(0, eq));
        parameters.text(4, line.substr(eq + 1)).step();
      }
      if (record.status != "computed" && record.status != "cached") continue;
      const std::optional<std::filesystem::path> folder = artifact(node.key);
      if (!folder) continue;
      for (const auto& [metric, value] : node_metrics(node, *folder)) {
        metrics.integer(1, id).text(2, name).text(3, metric).real(4, value).step();
      }
    }
    db.execute("COMMIT");
  } catch (...) {
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void export_results(const std::filesystem::path& database, const std::string& format,
                    const std::filesystem::path& destination, std::ostream& out) {
  if (format != "csv" && format != "json") {
    throw ConfigError("results export: unknown format '" + format + "' (csv or json)");
  }
  if (!std::filesystem::is_regular_file(database)) {
    throw NotFoundError("results export: " + database.string() +
                        ": no results database (a `secateurs run` writes results.sqlite in "
                        "its output folder)");
  }
  Database db(database, false);
  // One read transaction: a run committing meanwhile is either all in the export or absent.
  db.execute("BEGIN");
  std::ostringstream json;
  json << "{";
  bool first_table = true;
  for (const std::string& table : results_tables()) {
    auto statement = db.prepare("SELECT * FROM " + table);
    const int columns = sqlite3_column_count(statement.get());
    std::ostringstream csv;
    for (int c = 0; c < columns; ++c) {
      csv << (c ? "," : "") << csv_field(sqlite3_column_name(statement.get(), c));
    }
    csv << '\n';
    json << (first_table ? "\n" : ",\n") << json_string(table) << ": [";
    first_table = false;
    bool first_row = true;
    int rc = 0;
    while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
      json << (first_row ? "\n  {" : ",\n  {");
      first_row = false;
      for (int c = 0; c < columns; ++c) {
        const int type = sqlite3_column_type(statement.get(), c);
        const std::string text = column_text(statement.get(), c);
        csv << (c ? "," : "") << csv_field(text);
        json << (c ? ", " : "") << json_string(sqlite3_column_name(statement.get(), c)) << ": ";
        if (type == SQLITE_NULL) {
          json << "null";
        } else if (type == SQLITE_INTEGER) {
          json << text;
        } else if (type == SQLITE_FLOAT) {
          // JSON has no NaN or infinity.
          const double value = sqlite3_column_double(statement.get(), c);
          json << (std::isfinite(value) ? text : "null");
        } else {
          json << json_string(text);
        }
      }
      csv << '\n';
      json << "}";
    }
    if (rc != SQLITE_DONE) db.fail("cannot read " + table);
    json << (first_row ? "]" : "\n]");
    if (format == "csv") {
      std::filesystem::create_directories(destination);
      write_file_atomically(destination / (table + ".csv"), csv.str());
    }
  }
  json << "\n}\n";
  db.execute("COMMIT");
  if (format == "json") {
    if (destination == "-") {
      out << json.str();
    } else {
      if (!destination.parent_path().empty()) {
        std::filesystem::create_directories(destination.parent_path());
      }
      write_file_atomically(destination, json.str());
    }
  }
}

}  // namespace secateurs::host
