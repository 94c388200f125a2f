#include "host/checkpoint.h"

#include <ATen/core/Dict.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <string_view>
#include <vector>

#include "host/atomic_file.h"
#include "host/line_reader.h"
#include "host/nearest.h"
#include "host/sha256.h"
#include "secateurs/error.h"

namespace secateurs::host {
namespace {

constexpr std::string_view kMagic = "secateurs-checkpoint";
constexpr int kVersion = 1;

using TensorDict = c10::Dict<std::string, at::Tensor>;

std::string shape_text(at::IntArrayRef sizes) {
  return c10::str(sizes);
}

// A verified checkpoint: metadata parsed, payload located (not yet deserialized).
struct Verified {
  std::string bytes;  // the whole file
  CheckpointMetadata metadata;
  std::size_t payload_offset = 0;  // the payload runs from here to the end of `bytes`
};

Verified read_verified(const std::filesystem::path& path) {
  Verified result;
  result.bytes = read_file(path);
  const std::string file = path.string();
  const std::string_view text = result.bytes;

  // The magic line on its own first, so that any other file gets this sentence.
  const std::string_view first = text.substr(0, text.find('\n'));
  const std::string expected = std::string(kMagic) + " " + std::to_string(kVersion);
  if (!first.starts_with(std::string(kMagic) + " ")) {
    throw DataError(file + ": not a secateurs checkpoint: the first line is " +
                    quoted_excerpt(first) + ", expected '" + expected + "'");
  }
  if (first != expected) {
    throw DataError(file + ": unsupported checkpoint format " + quoted_excerpt(first) +
                    "; this build reads '" + expected + "'");
  }
  LineReader reader(text, file);
  reader.next();
  const std::uint64_t announced = reader.number("bytes");
  const std::string_view expected_hex = reader.keyed("sha256");
  if (expected_hex.size() != 64 ||
      expected_hex.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    reader.fail("expected 'sha256 <64 lower-case hex digits>', found " +
                quoted_excerpt(expected_hex));
  }

  // Size and checksum before anything else is believed.
  const std::string_view content = text.substr(reader.position());
  if (content.size() != announced) {
    throw DataError(file + ": " + (content.size() < announced ? "truncated" : "trailing data") +
                    ": the header announces " + std::to_string(announced) +
                    " bytes after it, the file has " + std::to_string(content.size()));
  }
  const std::string found_hex = sha256_hex(content);
  if (found_hex != expected_hex) {
    throw DataError(file + ": checksum mismatch: expected " + std::string(expected_hex) +
                    ", found " + found_hex + "; the file is corrupt");
  }

  const std::uint64_t entries = reader.number("metadata");
  for (std::uint64_t i = 0; i < entries; ++i) {
    const std::string_view line = reader.next();
    const std::size_t equals = line.find('=');
    std::optional<std::string> key, value;
    if (equals != std::string_view::npos) {
      key = percent_decode(line.substr(0, equals));
      value = percent_decode(line.substr(equals + 1));
    }
    if (!key || !value) {
      reader.fail("expected '<key>=<value>' (percent-encoded), found " + quoted_excerpt(line));
    }
    if (!result.metadata.emplace(std::move(*key), std::move(*value)).second) {
      reader.fail("metadata key " + quoted_excerpt(line.substr(0, equals)) + " appears twice");
    }
  }
  const std::uint64_t payload_size = reader.number("payload");
  result.payload_offset = reader.position();
  if (text.size() - result.payload_offset != payload_size) {
    reader.fail("the payload has " + std::to_string(text.size() - result.payload_offset) +
                " bytes, the header announces " + std::to_string(payload_size));
  }
  return result;
}

// The payload as its three dicts; any other structure is an error naming the file.
struct Payload {
  std::map<std::string, at::Tensor> parameters, buffers, masks;
};

Payload deserialize(const Verified& verified, const std::string& file) {
  c10::IValue root;
  try {
    root = torch::jit::pickle_load(std::vector<char>(
        verified.bytes.begin() + static_cast<std::ptrdiff_t>(verified.payload_offset),
        verified.bytes.end()));
  } catch (const c10::Error& e) {
    throw DataError(file + ": LibTorch cannot read the payload: " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw DataError(file + ": LibTorch cannot read the payload: " + e.what());
  }
  auto section = [&](const char* name) {
    std::map<std::string, at::Tensor> tensors;
    if (!root.isGenericDict()) {
      throw DataError(file + ": the payload is not a dict of parameters, buffers and masks");
    }
    const c10::Dict<c10::IValue, c10::IValue> dict = root.toGenericDict();
    const auto entry = dict.find(std::string(name));
    if (entry == dict.end() || !entry->value().isGenericDict()) {
      throw DataError(file + ": the payload has no dict '" + name + "'");
    }
    for (const auto& item : entry->value().toGenericDict()) {
      if (!item.key().isString() || !item.value().isTensor()) {
        throw DataError(file + ": the payload's '" + name + "' holds something other than tensors");
      }
      tensors.emplace(item.key().toStringRef(), item.value().toTensor());
    }
    return tensors;
  };
  return Payload{section("parameters"), section("buffers"), section("masks")};
}

std::map<std::string, at::Tensor> named_tensors(torch::nn::Module& module, bool buffers) {
  std::map<std::string, at::Tensor> tensors;
  for (const auto& item : buffers ? module.named_buffers() : module.named_parameters()) {
    if (item.value().defined()) tensors.emplace(item.key(), item.value());
  }
  return tensors;
}

std::vector<std::string> names_of(const std::map<std::string, at::Tensor>& tensors) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : tensors) names.push_back(name);
  return names;
}

// The checkpoint's tensors of one kind against the model's: same names, shapes, dtypes.
void check_matches(const std::map<std::string, at::Tensor>& stored,
                   const std::map<std::string, at::Tensor>& model, const std::string& kind,
                   const std::string& file) {
  for (const auto& [name, tensor] : model) {
    const auto found = stored.find(name);
    if (found == stored.end()) {
      throw DataError(file + ": the model's " + kind + " '" + name +
                      "' is missing from the checkpoint");
    }
    if (found->second.sizes() != tensor.sizes()) {
      throw DataError(file + ": " + kind + " '" + name + "' has shape " +
                      shape_text(found->second.sizes()) + " in the checkpoint, expected " +
                      shape_text(tensor.sizes()) + " (the model's)");
    }
    if (found->second.scalar_type() != tensor.scalar_type()) {
      throw DataError(file + ": " + kind + " '" + name + "' is " +
                      c10::toString(found->second.scalar_type()) + " in the checkpoint, expected " +
                      c10::toString(tensor.scalar_type()) + " (the model's)");
    }
  }
  for (const auto& [name, tensor] : stored) {
    if (!model.contains(name)) {
      throw DataError(file + ": the checkpoint has " + kind + " '" + name +
                      "', which the model does not" + did_you_mean(name, names_of(model)));
    }
  }
}

// Masks against the parameters they apply to; `make_error` builds the exception.
template <class MakeError>
void check_masks(const MaskSet& masks, const std::map<std::string, at::Tensor>& parameters,
                 MakeError make_error) {
  for (const auto& [name, mask] : masks) {
    const auto parameter = parameters.find(name);
    if (parameter == parameters.end()) {
      throw make_error("mask '" + name + "' matches no parameter of the model" +
                       did_you_mean(name, names_of(parameters)));
    }
    if (!mask.defined() || mask.sizes() != parameter->second.sizes()) {
      throw make_error("mask '" + name + "' has shape " +
                       (mask.defined() ? shape_text(mask.sizes()) : std::string("(undefined)")) +
                       ", expected " + shape_text(parameter->second.sizes()) +
                       " (its parameter's)");
    }
  }
}

// A CPU tensor holding exactly its own elements: pickling writes whole storages, and a
// view would drag its base's storage along.
at::Tensor for_saving(const at::Tensor& tensor) {
  at::Tensor saved = tensor.detach().cpu().contiguous();
  if (saved.storage_offset() != 0 ||
      saved.storage().nbytes() != static_cast<std::size_t>(saved.numel()) * saved.element_size()) {
    saved = saved.clone();
  }
  return saved;
}

TensorDict to_dict(const std::map<std::string, at::Tensor>& tensors) {
  TensorDict dict;
  for (const auto& [name, tensor] : tensors) dict.insert(name, for_saving(tensor));
  return dict;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, Model& model, const MaskSet& masks,
                     const CheckpointMetadata& metadata) {
  const std::string file = path.string();
  const auto parameters = named_tensors(model.module(), false);
  check_masks(masks, parameters, [&](const std::string& what) {
    return Error("cannot save checkpoint '" + file + "': " + what);
  });

  c10::Dict<std::string, TensorDict> root;
  root.insert("parameters", to_dict(parameters));
  root.insert("buffers", to_dict(named_tensors(model.module(), true)));
  root.insert("masks", to_dict(std::map<std::string, at::Tensor>(masks.begin(), masks.end())));
  const std::vector<char> payload = torch::jit::pickle_save(c10::IValue(root));

  std::string content = "metadata " + std::to_string(metadata.size()) + "\n";
  for (const auto& [key, value] : metadata) {
    content += percent_encode(key) + "=" + percent_encode(value) + "\n";
  }
  content += "payload " + std::to_string(payload.size()) + "\n";
  content.append(payload.data(), payload.size());

  std::string bytes = std::string(kMagic) + " " + std::to_string(kVersion) + "\n";
  bytes += "bytes " + std::to_string(content.size()) + "\n";
  bytes += "sha256 " + sha256_hex(content) + "\n";
  bytes += content;
  write_file_atomically(path, bytes);
}

LoadedCheckpoint load_checkpoint(const std::filesystem::path& path, Model& model) {
  const std::string file = path.string();
  Verified verified = read_verified(path);
  Payload payload = deserialize(verified, file);

  const auto parameters = named_tensors(model.module(), false);
  const auto buffers = named_tensors(model.module(), true);
  check_matches(payload.parameters, parameters, "parameter", file);
  check_matches(payload.buffers, buffers, "buffer", file);
  check_masks(payload.masks, parameters,
              [&](const std::string& what) { return DataError(file + ": " + what); });

  // Everything matched: only now is the model touched.
  const c10::NoGradGuard no_grad;
  for (const auto& [name, tensor] : parameters) tensor.copy_(payload.parameters.at(name));
  for (const auto& [name, tensor] : buffers) tensor.copy_(payload.buffers.at(name));

  LoadedCheckpoint loaded;
  loaded.metadata = std::move(verified.metadata);
  for (auto& [name, mask] : payload.masks) {
    loaded.masks.emplace(name, mask.to(parameters.at(name).device()));
  }
  return loaded;
}

CheckpointMetadata read_checkpoint_metadata(const std::filesystem::path& path) {
  return read_verified(path).metadata;
}

}  // namespace secateurs::host
