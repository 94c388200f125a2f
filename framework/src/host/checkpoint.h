// Checkpoints: a model's weights, its pruning masks and a description of how it was made,
// in one self-checking file.
//
// File format, version 1 (lines end with "\n"; what follows the "sha256" line is the
// checked content):
//
//   secateurs-checkpoint 1
//   bytes <N>                 the number of bytes after the "sha256" line, to the end
//   sha256 <64 hex digits>    SHA-256 of those N bytes
//   metadata <K>
//   <key>=<value>             K lines, sorted by key; '%', '=', and bytes below 0x20 or
//                             0x7f are written as %XX in both key and value
//   payload <P>               the payload's size; the file ends right after it
//   <P bytes>                 torch::pickle_save of a dict:
//                               {"parameters": {name: tensor}, "buffers": {name: tensor},
//                                "masks": {name: tensor}}
//
// The payload is LibTorch's own format, so Python reads it with
// torch.load(io.BytesIO(payload)); names are those of Module::named_parameters() and
// named_buffers(). The checksum covers the metadata as well as the tensors, so no flipped
// bit goes unnoticed. Files are written with write_file_atomically.
//
// Threading: neither function may run while another thread trains or reads the model.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "host/trainer.h"
#include "secateurs/export.h"
#include "secateurs/model.h"

namespace secateurs::host {

// Free text by key: component id, parameters, data shape, seed, round, ...
using CheckpointMetadata = std::map<std::string, std::string>;

struct LoadedCheckpoint {
  MaskSet masks;
  CheckpointMetadata metadata;
};

// Writes the model's parameters and buffers (batch-norm running statistics), `masks` and
// `metadata` to `path`, atomically. Tensors are saved from the CPU whatever the model's
// device. Throws Error naming `path` for a mask that matches no parameter or has another
// shape, or when the file cannot be written.
SECATEURS_API void save_checkpoint(const std::filesystem::path& path, Model& model,
                                   const MaskSet& masks, const CheckpointMetadata& metadata);

// Reads `path` into `model` in place (the caller's object is updated; values move to the
// model's device) and returns its masks and metadata. Everything is checked before any
// value is copied, so a failed load leaves the model as it was: the header, the size and
// the checksum before the payload is deserialized; then that the checkpoint has exactly
// the model's parameters and buffers, each with the model's shape and dtype, and that
// every mask has its parameter's shape. Throws DataError naming the file and, where it
// applies, the tensor with the expected and found shape or dtype.
SECATEURS_API LoadedCheckpoint load_checkpoint(const std::filesystem::path& path, Model& model);

// The metadata alone, after the same header, size and checksum checks; no model needed.
SECATEURS_API CheckpointMetadata read_checkpoint_metadata(const std::filesystem::path& path);

}  // namespace secateurs::host
