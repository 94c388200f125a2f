// "Did you mean ...?": the known names closest to a misspelt one.
#pragma once

#include "secateurs/export.h"

#include <string>
#include <string_view>
#include <vector>

namespace secateurs::host {

// Levenshtein distance, counting a case change as an edit.
SECATEURS_API std::size_t edit_distance(std::string_view a, std::string_view b);

// Up to `limit` candidates close enough to `wanted` to be a plausible typo (distance at
// most a third of the longer name, at least 2; or one contains the other), closest first.
SECATEURS_API std::vector<std::string> nearest_names(std::string_view wanted,
                                                     const std::vector<std::string>& candidates,
                                                     std::size_t limit = 3);

// "; did you mean 'a' or 'b'?" or "" when nothing is close.
SECATEURS_API std::string did_you_mean(std::string_view wanted,
                                       const std::vector<std::string>& candidates);

}  // namespace secateurs::host
