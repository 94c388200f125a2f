#include "cache_command.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>

#include "host/artifact_store.h"
#include "secateurs/error.h"

namespace secateurs::cli {
namespace {

constexpr int kUsage = 2;

void add_store_option(CLI::App* command, CacheOptions& options) {
  command->add_option("--store", options.store, "The artifact store's folder")
      ->type_name("DIR")
      ->capture_default_str();
}

std::string count(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::uint64_t total_bytes(const std::vector<host::ArtifactInfo>& entries) {
  std::uint64_t total = 0;
  for (const host::ArtifactInfo& entry : entries) total += entry.bytes;
  return total;
}

int list_store(const CacheOptions& options, std::ostream& out) {
  if (!host::ArtifactStore::exists(options.store)) {
    out << "No artifact store at '" << options.store << "' (nothing cached yet).\n";
    return 0;
  }
  // Never: listing must not change anything, not even leftovers of a killed run.
  host::ArtifactStore store(options.store, host::StoreCleanup::Never);
  const auto now = std::chrono::system_clock::now();
  out << "Artifact store " << store.root().string() << "\n\n"
      << host::format_artifact_table(store.list(), now)
      << count(store.run_names().size(), "run record", "run records")
      << " (gc keeps the artifacts that run records use)\n";
  if (const std::size_t leftovers = store.leftover_count(); leftovers > 0) {
    out << count(leftovers, "unfinished write", "unfinished writes")
        << " under tmp/: a run writing now, or one that was killed (`secateurs cache gc` "
           "removes those)\n";
  }
  return 0;
}

int collect(const CacheOptions& options, std::ostream& out) {
  if (!host::ArtifactStore::exists(options.store)) {
    out << "No artifact store at '" << options.store << "'; nothing to do.\n";
    return 0;
  }
  host::ArtifactStore store(options.store, host::StoreCleanup::Never);
  host::GcOptions gc;
  gc.everything = options.all;
  gc.dry_run = options.dry_run;
  if (options.older_than_days >= 0) {
    gc.unused_for = std::chrono::seconds(std::llround(options.older_than_days * 86400));
  }
  const host::GcReport report = store.gc(gc);
  const auto now = std::chrono::system_clock::now();
  if (options.dry_run && !report.removed.empty()) {
    out << "Would remove:\n" << host::format_artifact_table(report.removed, now) << "\n";
  }
  out << (options.dry_run ? "Would remove " : "Removed ")
      << count(report.removed.size(), "artifact", "artifacts") << " ("
      << host::format_size(total_bytes(report.removed)) << ") and "
      << count(report.leftovers_removed, "unfinished write", "unfinished writes") << "; kept "
      << count(report.kept, "artifact", "artifacts") << " (" << host::format_size(report.kept_bytes)
      << ") that " << count(report.run_records, "run record uses", "run records use") << ".\n";
  return 0;
}

int remove_artifacts(const CacheOptions& options, std::ostream& out) {
  if (!host::ArtifactStore::exists(options.store)) {
    throw NotFoundError("no artifact store at '" + options.store + "'");
  }
  host::ArtifactStore store(options.store, host::StoreCleanup::Never);
  const std::vector<host::ArtifactInfo> removed =
      store.remove({options.key_prefixes, options.kind, options.dry_run});
  out << host::format_artifact_table(removed, std::chrono::system_clock::now())
      << (options.dry_run ? "Would remove " : "Removed ")
      << count(removed.size(), "entry", "entries") << " ("
      << host::format_size(total_bytes(removed)) << ").\n";
  return 0;
}

}  // namespace

CLI::App* add_cache_command(CLI::App& app, CacheOptions& options) {
  CLI::App* cache = app.add_subcommand(
      "cache", "List, clean up or remove the cached artifacts of experiment graphs");
  cache->require_subcommand(1);

  options.ls = cache->add_subcommand(
      "ls", "List the artifacts: key, kind, label, size, age and last use, by kind and label");
  add_store_option(options.ls, options);

  options.gc = cache->add_subcommand(
      "gc",
      "Remove unfinished writes, damaged entries and the artifacts no run record uses "
      "(runs/<name>.txt; delete one to release what only that run used)");
  add_store_option(options.gc, options);
  options.gc
      ->add_option("--older-than", options.older_than_days,
                   "Also remove artifacts a run record uses but that were not used for DAYS days")
      ->type_name("DAYS")
      ->check(CLI::NonNegativeNumber);
  options.gc->add_flag("--all", options.all, "Remove every artifact (run records stay)");
  options.gc->add_flag("--dry-run", options.dry_run, "Only list what would be removed");

  options.rm = cache->add_subcommand(
      "rm", "Remove artifacts by key prefix (at least 4 digits, matching one artifact) or by kind");
  options.rm
      ->add_option("key-prefix", options.key_prefixes, "Key prefixes, as `cache ls` shows them")
      ->type_name("KEY-PREFIX");
  options.rm
      ->add_option("--kind", options.kind,
                   "Remove the artifacts of this kind (with key prefixes: only of this kind)")
      ->type_name("KIND");
  add_store_option(options.rm, options);
  options.rm->add_flag("--dry-run", options.dry_run, "Only list what would be removed");
  return cache;
}

int cache(const CacheOptions& options, std::ostream& out, std::ostream& err) {
  try {
    if (*options.ls) return list_store(options, out);
    if (*options.gc) return collect(options, out);
    if (*options.rm) return remove_artifacts(options, out);
  } catch (const ConfigError& e) {
    // Here a ConfigError is always about the command line: a prefix, the selection, --store.
    err << "secateurs: " << e.what() << "\n";
    return kUsage;
  }
  err << "secateurs: cache: give a subcommand: ls, gc or rm\n";
  return kUsage;
}

}  // namespace secateurs::cli
