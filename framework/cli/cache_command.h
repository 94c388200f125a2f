// `secateurs cache ls|gc|rm`: looks after the artifact store of experiment graphs (see
// host/artifact_store.h for its layout and rules).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace secateurs::cli {

// What the command line says. CLI11 writes into it while parsing, so it must outlive
// app.parse(); the three pointers tell which subcommand was given.
struct CacheOptions {
  std::string store = "runs/store";
  std::vector<std::string> key_prefixes;  // rm
  std::string kind;                       // rm --kind
  double older_than_days = -1;            // gc --older-than; < 0 when not given
  bool all = false;                       // gc --all
  bool dry_run = false;                   // gc, rm --dry-run
  CLI::App* ls = nullptr;
  CLI::App* gc = nullptr;
  CLI::App* rm = nullptr;
};

// Declares `cache` and its subcommands ls, gc and rm on `app`, bound to `options`; returns
// the `cache` command.
CLI::App* add_cache_command(CLI::App& app, CacheOptions& options);

// Runs the subcommand that was given, printing to `out`. A bad selection (malformed or
// ambiguous key prefix, nothing selected, a folder that is not a store) is reported on
// `err` with exit code 2. Other errors are thrown: NotFoundError for a prefix or kind
// that matches nothing, Error when the store is in use (gc, rm) or a file fails.
int cache(const CacheOptions& options, std::ostream& out, std::ostream& err);

}  // namespace secateurs::cli
