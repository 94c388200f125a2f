#include "host/fingerprint.h"

#include <map>

#include "secateurs/abi.h"

namespace secateurs::host {

namespace {

struct Fields {
  std::map<std::string, std::string> values;
  std::string problem;  // the first malformed or repeated item; empty when none
};

Fields parse_fields(const std::string& text) {
  Fields fields;
  if (text.empty()) return fields;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      if (fields.problem.empty()) fields.problem = "has a malformed field '" + item + "'";
    } else if (!fields.values.emplace(item.substr(0, eq), item.substr(eq + 1)).second) {
      if (fields.problem.empty()) {
        fields.problem = "has the field " + item.substr(0, eq) + " twice";
      }
    }
    start = end + 1;
  }
  return fields;
}

// "gcc-12.2.0" -> "gcc-12"; "0.1.3" -> "0.1": the part that must match.
std::string leading_components(const std::string& version, int count) {
  std::size_t pos = 0;
  for (int i = 0; i < count; ++i) {
    pos = version.find('.', pos);
    if (pos == std::string::npos) return version;
    if (i + 1 < count) ++pos;
  }
  return version.substr(0, pos);
}

}  // namespace

const char* host_fingerprint() {
  return SECATEURS_BUILD_FINGERPRINT;
}

std::optional<std::string> fingerprint_difference(const std::string& host,
                                                  const std::string& plugin) {
  const Fields host_parsed = parse_fields(host);
  const Fields plugin_parsed = parse_fields(plugin);
  if (!plugin_parsed.problem.empty()) return "the plugin's " + plugin_parsed.problem;
  if (!host_parsed.problem.empty()) return "the host's " + host_parsed.problem;
  const auto& host_fields = host_parsed.values;
  const auto& plugin_fields = plugin_parsed.values;
  struct Rule {
    const char* field;
    int significant;  // leading dot-separated components compared; 0 = whole value
  };
  for (const Rule rule :
       {Rule{"compiler", 1}, Rule{"cxx11abi", 0}, Rule{"libtorch", 0}, Rule{"secateurs", 2}}) {
    const auto h = host_fields.find(rule.field);
    const auto p = plugin_fields.find(rule.field);
    if (p == plugin_fields.end()) return std::string(rule.field) + " is missing from the plugin's";
    if (h == host_fields.end()) return std::string(rule.field) + " is missing from the host's";
    const auto significant = [&](const std::string& v) {
      return rule.significant == 0 ? v : leading_components(v, rule.significant);
    };
    if (significant(h->second) != significant(p->second)) {
      return std::string(rule.field) + " differs: " + p->second + " against " + h->second;
    }
  }
  for (const auto& [field, value] : plugin_fields) {
    if (!host_fields.count(field))
      return "the plugin's has the field " + field + ", the host's has not";
  }
  return std::nullopt;
}

}  // namespace secateurs::host
