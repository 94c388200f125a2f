// Dataset components: a source of labelled examples.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "secateurs/component.h"
#include "secateurs/context.h"

namespace secateurs {

struct LabeledData {
  at::Tensor inputs;  // [N, ...] float32
  at::Tensor labels;  // [N] int64, each in [0, num_classes)
  std::int64_t num_classes = 0;
};

// Where a dataset's files are: `path` when it is not empty, else the directory named by
// the environment variable `environment`, else `fallback` (e.g. a Debian package's data
// folder; may be empty). Throws ConfigError naming `component` and both ways to give it
// when all three are empty.
SECATEURS_API std::string data_directory(const std::string& path, const std::string& component,
                                         const char* environment, const std::string& fallback);

// The first `limit` examples of `data`, or all of them when `limit` is 0; copied, so the
// rest can be freed. Throws DataError naming `source` when fewer than `limit` exist.
SECATEURS_API LabeledData first_examples(LabeledData data, std::int64_t limit,
                                         const std::string& source);

class SECATEURS_API Dataset : public Component {
 public:
  ~Dataset() override;
  // Reads or generates the whole dataset. Throws secateurs::DataError naming the file,
  // what was expected and what was found when the input is malformed.
  virtual LabeledData load(Context& context) = 0;
};

}  // namespace secateurs
