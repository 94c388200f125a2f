// What the host checks of a dataset component's output before anything trains on it, and
// how it summarises that output for a person.
#pragma once

#include <string>

#include "host/sha256.h"
#include "secateurs/dataset.h"

namespace secateurs::host {

// Throws PluginError naming `component` when the data breaks the Dataset contract:
// inputs float32 [N, ...] with N > 0 and all finite, labels int64 [N] in
// [0, num_classes), num_classes >= 2.
SECATEURS_API void check_labeled_data(const LabeledData& data, const std::string& component);

// Several lines: examples, input shape and value range, mean and standard deviation,
// examples per class.
SECATEURS_API std::string summarize_labeled_data(const LabeledData& data);

// Adds the data to `hash`: the input shape, the label count, then the bytes of the inputs
// (float32) and labels (int64). What a cache keyed by data content hashes, so that a
// changed dataset file is never mistaken for the one a stored result came from.
SECATEURS_API void hash_labeled_data(Sha256& hash, const LabeledData& data);

}  // namespace secateurs::host
