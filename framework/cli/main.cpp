// The `secateurs` command line.
//
// Exit codes (also in --help and docs/cli.md):
//   0  success
//   1  error while working (I/O, a component that failed)
//   2  bad command line
//   3  unknown name: command, component kind or component (the nearest names are shown)
//   4  a plugin library failed to load (`plugins`)
//   5  invalid configuration (`validate`, `--params`)
//   6  malformed input data (a truncated or corrupt dataset file)
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <string_view>

#include "attack_command.h"
#include "cache_command.h"
#include "host/basic_context.h"
#include "host/data_checks.h"
#include "host/fingerprint.h"
#include "host/graph.h"
#include "host/loader.h"
#include "host/nearest.h"
#include "host/params_builder.h"
#include "host/results_db.h"
#include "host/runtime_info.h"
#include "host/yaml_params.h"
#include "new_plugin.h"
#include "prune_command.h"
#include "run_command.h"
#include "secateurs/dataset.h"
#include "secateurs/version.h"
#include "train_command.h"

namespace {

using namespace secateurs;
using namespace secateurs::host;

enum ExitCode : int {
  kOk = 0,
  kFailure = 1,
  kUsage = 2,
  kNotFound = 3,
  kPluginLoad = 4,
  kInvalidConfig = 5,
  kBadData = 6,
};

constexpr const char* kExitCodes =
    "Exit codes: 0 success; 1 error while working; 2 bad command line; 3 unknown command, kind\n"
    "or component; 4 a plugin library failed to load; 5 invalid configuration; 6 malformed\n"
    "input data.\n"
    "Plugins are searched in the build's plugins folder, SECATEURS_PLUGIN_PATH and --plugin-path.";

std::string version_text() {
  return std::string("secateurs ") + SECATEURS_VERSION_STRING + " (plugin ABI " +
         std::to_string(SECATEURS_ABI_MAJOR) + "." + std::to_string(SECATEURS_ABI_MINOR) + "; " +
         host_fingerprint() + ")";
}

void load_plugins(Registry& registry, const std::vector<std::string>& plugin_paths) {
  PluginLoader loader(registry);
  loader.load_all(plugin_search_path(plugin_paths));
}

// Other commands work with what did load, but say that something did not.
void warn_about_failures(const Registry& registry) {
  const std::size_t count = registry.failures().size();
  if (count == 0) return;
  std::cerr << "warning: " << count << " plugin librar" << (count == 1 ? "y" : "ies")
            << " failed to load; `secateurs plugins` says why\n";
}

std::string pad(const std::string& text, std::size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

int list_plugins(const Registry& registry) {
  const auto components = registry.components();
  if (components.empty()) {
    std::cout << "No plugin components loaded.\n";
  } else {
    std::size_t name_width = 4, plugin_width = 6, version_width = 7;
    for (const auto* c : components) {
      name_width = std::max(name_width, c->spec.name.size());
      plugin_width = std::max(plugin_width, c->library->plugin_name.size());
      version_width = std::max(version_width, c->library->plugin_version.size());
    }
    std::cout << pad("KIND", 9) << pad("NAME", name_width + 2) << pad("VERSION", version_width + 2)
              << pad("PLUGIN", plugin_width + 2) << "LIBRARY\n";
    for (const auto* c : components) {
      std::cout << pad(std::string(to_string(c->spec.kind)), 9) << pad(c->spec.name, name_width + 2)
                << pad(c->library->plugin_version, version_width + 2)
                << pad(c->library->plugin_name, plugin_width + 2) << c->library->file << "\n";
    }
  }
  const auto& failures = registry.failures();
  if (failures.empty()) return kOk;
  std::cerr << "\n"
            << failures.size() << " plugin librar" << (failures.size() == 1 ? "y" : "ies")
            << " failed to load:\n";
  for (const LoadFailure& failure : failures) std::cerr << "  - " << failure.reason << "\n";
  return kPluginLoad;
}

int describe(const Registry& registry, const std::string& qualified_name) {
  const RegisteredComponent& component = registry.get(qualified_name);
  const ComponentSpec& spec = component.spec;
  std::cout << component.id() << ": " << spec.summary << "\n"
            << "plugin " << component.library->plugin_name << " "
            << component.library->plugin_version << " (" << component.library->file << ")\n\n";
  if (spec.params.empty()) {
    std::cout << "No parameters.\n";
    return kOk;
  }
  std::size_t width = 4;
  for (const ParamSpec& p : spec.params) width = std::max(width, p.name.size());
  std::cout << "Parameters:\n";
  for (const ParamSpec& p : spec.params) {
    std::cout << "  " << pad(p.name, width + 2) << p.describe_type() << "\n"
              << "  " << std::string(width + 2, ' ') << p.doc << "\n";
  }
  return kOk;
}

int validate(const Registry& registry, const std::string& qualified_name, const std::string& file) {
  const RegisteredComponent& component = registry.get(qualified_name);
  const Params params = params_from_yaml_file(component.spec.params, component.id(), file);
  std::cout << file << ": valid parameters for " << component.id() << "\n";
  for (const auto& [name, value] : params.values()) {
    std::cout << "  " << name << ": " << format_value(value) << "\n";
  }
  return kOk;
}

// Parameters from a YAML file, or the defaults when no file is given.
Params component_params(const RegisteredComponent& component, const std::string& file) {
  if (file.empty()) return default_params(component.spec.params, component.id());
  return params_from_yaml_file(component.spec.params, component.id(), file);
}

int summarize_dataset(const Registry& registry, const std::string& qualified_name,
                      const std::string& params_file, std::uint64_t seed) {
  const RegisteredComponent& component = registry.get(qualified_name);
  if (component.spec.kind != Kind::Dataset) {
    std::cerr << "secateurs: " << component.id() << " is not a dataset\n";
    return kUsage;
  }
  const Params params = component_params(component, params_file);
  const auto dataset = std::static_pointer_cast<Dataset>(registry.create(component, params));
  BasicContext context(seed);
  const auto start = std::chrono::steady_clock::now();
  const LabeledData data = dataset->load(context);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  check_labeled_data(data, component.id());
  std::cout << component.id() << " (plugin " << component.library->plugin_name << " "
            << component.library->plugin_version << "), loaded in " << std::fixed
            << std::setprecision(3) << seconds << " s\n"
            << std::defaultfloat << summarize_labeled_data(data);
  return kOk;
}

int info(const std::vector<std::string>& plugin_paths) {
  std::cout << version_text() << "\n\n"
            << "Plugin search path:\n";
  for (const PluginSearchEntry& entry : plugin_search_path(plugin_paths)) {
    std::cout << "  " << entry.path.string() << "  (" << entry.origin << ")\n";
  }
  const BlasInfo blas = loaded_blas();
  std::cout << "\nBLAS: " << (blas.library.empty() ? "none loaded" : blas.library) << "\n";
  if (!blas.config.empty()) {
    std::cout << "  " << blas.config << "; kernels " << blas.core << ", " << blas.threads
              << " thread" << (blas.threads == 1 ? "" : "s") << "\n";
  }
  if (const char* forced = std::getenv("OPENBLAS_CORETYPE"); forced != nullptr) {
    std::cout << "  kernels forced by OPENBLAS_CORETYPE=" << forced
              << " (unset it to let OpenBLAS choose for this CPU)\n";
  }
  if (!blas.advice.empty()) std::cout << "  " << blas.advice << "\n";
  return kOk;
}

// CLI11 answers a misspelt command with a generic message; say which command was meant.
std::optional<int> check_command_name(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> commands;
  for (const CLI::App* command : app.get_subcommands({})) commands.push_back(command->get_name());
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--plugin-path") {
      ++i;
      continue;
    }
    if (arg.rfind('-', 0) == 0) continue;
    if (std::find(commands.begin(), commands.end(), arg) != commands.end()) return std::nullopt;
    std::cerr << "secateurs: unknown command '" << arg << "'" << did_you_mean(arg, commands)
              << "\nRun `secateurs --help` for the list of commands.\n";
    return kNotFound;
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  prepare_process();
  CLI::App app{"secateurs: measure and defend the security of pruned neural networks."};
  app.set_version_flag("--version", version_text());
  app.footer(kExitCodes);
  app.require_subcommand(1);
  app.fallthrough();

  std::vector<std::string> plugin_paths;
  app.add_option("--plugin-path", plugin_paths,
                 "Also load plugins from this directory or library file (repeatable)")
      ->type_name("PATH");

  CLI::App* plugins_cmd = app.add_subcommand(
      "plugins", "List the loaded components and the plugin libraries that failed");
  std::string component_name;
  CLI::App* describe_cmd =
      app.add_subcommand("describe", "Show a component's parameters, defaults, bounds and docs");
  describe_cmd->add_option("component", component_name, "KIND.NAME, e.g. pruner.magnitude")
      ->required();
  std::string config_file;
  CLI::App* validate_cmd =
      app.add_subcommand("validate", "Check a YAML map of parameters against a component's schema");
  validate_cmd->add_option("component", component_name, "KIND.NAME")->required();
  validate_cmd->add_option("file", config_file, "YAML file holding a map of parameters")
      ->required();
  std::string kind_text, plugin_name, directory;
  CLI::App* new_plugin_cmd = app.add_subcommand(
      "new-plugin", "Write an out-of-tree plugin skeleton that builds against the installed SDK");
  new_plugin_cmd->add_option("kind", kind_text, "pruner, defense, attack, dataset or model")
      ->required();
  new_plugin_cmd->add_option("name", plugin_name, "the plugin's name, [a-z][a-z0-9_]*")->required();
  new_plugin_cmd->add_option("--dir", directory, "directory to create (must not exist or be empty)")
      ->required();
  std::string params_file;
  std::uint64_t seed = 0;
  CLI::App* dataset_cmd = app.add_subcommand(
      "dataset", "Load a dataset component, check what it returns and summarise it");
  dataset_cmd->add_option("component", component_name, "dataset.NAME, e.g. dataset.fashion_mnist")
      ->required();
  dataset_cmd->add_option("--params", params_file, "YAML file with the dataset's parameters");
  dataset_cmd->add_option("--seed", seed, "Seed handed to the dataset (synthetic data)");
  std::string run_file, output_dir;
  std::vector<std::string> overrides;
  int threads = 0;
  CLI::App* train_cmd = app.add_subcommand(
      "train", "Train and evaluate one model as a run file says (dataset, split, model, trainer)");
  train_cmd
      ->add_option("run", run_file, "YAML run file, e.g. experiments/train/mlp_fashion_mnist.yaml")
      ->required();
  train_cmd->add_option("--output", output_dir,
                        "Directory for model.ckpt, epochs.csv, summary.txt and plan.txt");
  train_cmd->add_option("--threads", threads, "LibTorch intra-op threads; 0: LibTorch's default")
      ->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--set", overrides,
                        "Override a run-file value: KEY=VALUE, e.g. trainer.epochs=5 (repeatable)");
  CLI::App* prune_cmd = app.add_subcommand(
      "prune", "Prune a dense model under a schedule as a run file says, measuring every round");
  prune_cmd->add_option("run", run_file, "YAML run file, e.g. experiments/prune/mlp_magnitude.yaml")
      ->required();
  prune_cmd->add_option("--output", output_dir,
                        "Directory for model.ckpt, rounds.csv, layers.csv and summary.txt");
  prune_cmd->add_option("--set", overrides,
                        "Override a run-file value: KEY=VALUE, e.g. pruning.schedule.sparsity=0.9 "
                        "(repeatable)");
  prune_cmd->add_option("--threads", threads, "LibTorch intra-op threads; 0: LibTorch's default")
      ->check(CLI::NonNegativeNumber);
  CLI::App* attack_cmd = app.add_subcommand(
      "attack",
      "Train a victim and its shadow models as a run file says, then score every attack on it");
  attack_cmd
      ->add_option("run", run_file, "YAML run file, e.g. experiments/attack/mlp_fashion_mnist.yaml")
      ->required();
  attack_cmd->add_option("--output", output_dir,
                         "Directory for attacks.csv, scores.csv, roc/, models.csv and summary.txt");
  attack_cmd->add_option("--set", overrides,
                         "Override a run-file value: KEY=VALUE, e.g. shadows.count=4 (repeatable)");
  attack_cmd
      ->add_option("--threads", threads, "Models trained at once, one thread each; 0: one per core")
      ->check(CLI::NonNegativeNumber);
  cli::RunCommandOptions run_options;
  CLI::App* run_cmd = app.add_subcommand(
      "run",
      "Run an experiment graph from a Lua script or a YAML experiment file, resuming "
      "from the artifact store");
  run_cmd->add_option("file", run_options.file, "experiment: a .lua script or a .yaml file");
  run_cmd
      ->add_option("--jobs", run_options.jobs,
                   "Nodes at once, one LibTorch/BLAS thread each; 0: one per core")
      ->check(CLI::NonNegativeNumber);
  run_cmd->add_option("--store", run_options.store, "The artifact store (default runs/store)");
  run_cmd->add_option("--output", run_options.output,
                      "Directory for records.csv and the reports (default runs/<file name>)");
  run_cmd->add_flag("--dry-run", run_options.dry_run,
                    "Validate, then list the nodes and which the store already has");
  bool list_kinds = false;
  // `results export`: the results database of a run's output folder as CSV or JSON.
  CLI::App* results_cmd = app.add_subcommand("results", "Read a run's results database");
  results_cmd->require_subcommand(1);
  CLI::App* export_cmd = results_cmd->add_subcommand(
      "export", "Write every table of a run's results.sqlite as CSV files or one JSON file");
  std::string results_path, results_format = "csv", results_to;
  export_cmd->add_option("run", results_path, "a run's output folder, or its results.sqlite")
      ->required();
  export_cmd->add_option("--format", results_format, "csv (one file per table) or json")
      ->check(CLI::IsMember({"csv", "json"}));
  export_cmd->add_option("--to", results_to,
                         "csv: a folder (default <run>/export); json: a file, or - for standard "
                         "output (the default)");
  run_cmd->add_flag("--kinds", list_kinds, "List the node kinds and their inputs, then exit");
  cli::CacheOptions cache_options;
  CLI::App* cache_cmd = cli::add_cache_command(app, cache_options);
  CLI::App* info_cmd = app.add_subcommand(
      "info", "Show the version, build fingerprint, plugin search path and BLAS in use");

  if (auto code = check_command_name(app, argc, argv)) return *code;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }

  try {
    if (*new_plugin_cmd) {
      return cli::write_plugin_skeleton(kind_named(kind_text), plugin_name, directory, std::cout);
    }
    if (*info_cmd) return info(plugin_paths);
    if (*results_cmd) {
      std::filesystem::path database = results_path;
      if (std::filesystem::is_directory(database)) database /= "results.sqlite";
      std::filesystem::path to = results_to;
      if (to.empty()) {
        to = results_format == "csv" ? database.parent_path() / "export" : "-";
      }
      host::export_results(database, results_format, to, std::cout);
      if (results_format == "csv") {
        std::cerr << "wrote " << host::results_tables().size() << " tables to " << to.string()
                  << "\n";
      }
      return kOk;
    }
    if (*cache_cmd) return cli::cache(cache_options, std::cout, std::cerr);

    Registry registry;
    load_plugins(registry, plugin_paths);
    if (*plugins_cmd) return list_plugins(registry);
    warn_about_failures(registry);
    if (*describe_cmd) return describe(registry, component_name);
    if (*validate_cmd) return validate(registry, component_name, config_file);
    if (*dataset_cmd) return summarize_dataset(registry, component_name, params_file, seed);
    if (*train_cmd) {
      return cli::train(registry, run_file, overrides, output_dir, threads, std::cout);
    }
    if (*prune_cmd) {
      return cli::prune(registry, run_file, overrides, output_dir, threads, std::cout);
    }
    if (*run_cmd) {
      if (list_kinds) {
        std::cout << host::describe_node_kinds();
        return kOk;
      }
      if (run_options.file.empty()) {
        std::cerr << "secateurs run: FILE is required (a .lua script or a .yaml experiment)\n";
        return kUsage;
      }
      for (int i = 0; i < argc; ++i) {
        const std::string arg = i == 0 ? std::string("secateurs") : std::string(argv[i]);
        // Single-quoted for a POSIX shell unless every character is plainly safe, so the
        // recorded command can be pasted back as it was typed.
        const bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) != 0 ||
                 std::string_view("_./:=,+@%-").find(ch) != std::string_view::npos;
        });
        std::string word = arg;
        if (!plain) {
          word = "'";
          for (const char ch : arg) word += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
          word += "'";
        }
        run_options.command_line += (i ? " " : "") + word;
      }
      return cli::run(registry, run_options, std::cout);
    }
    if (*attack_cmd) {
      return cli::attack(registry, run_file, overrides, output_dir, threads, std::cout);
    }
  } catch (const NotFoundError& e) {
    std::cerr << "secateurs: " << e.what() << "\n";
    return kNotFound;
  } catch (const ConfigError& e) {
    std::cerr << e.what() << "\n";
    return kInvalidConfig;
  } catch (const DataError& e) {
    std::cerr << "secateurs: " << e.what() << "\n";
    return kBadData;
  } catch (const std::exception& e) {
    std::cerr << "secateurs: " << e.what() << "\n";
    return kFailure;
  }
  return kUsage;
}
