#include "attack_command.h"

#include "host/attack_run.h"

namespace secateurs::cli {

int attack(const host::Registry& registry, const std::filesystem::path& run_file,
           const std::vector<std::string>& overrides, const std::filesystem::path& output,
           int threads, std::ostream& out) {
  const host::AttackRunConfig config = host::read_attack_run(run_file, registry, overrides);
  out << "secateurs attack " << run_file.string() << "\n";
  host::AttackRunHooks hooks;
  hooks.status = [&](const std::string& line) { out << line << "\n" << std::flush; };
  const host::AttackRunResult result = host::run_attack(config, registry, output, threads, hooks);
  out << "\n" << host::format_attack_summary(config, result);
  if (!output.empty()) out << "written to " << output.string() << "\n";
  return 0;
}

}  // namespace secateurs::cli
