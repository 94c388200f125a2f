// Fashion-MNIST and MNIST from IDX files, gzip-compressed or raw.
#include <torch/torch.h>
#include <zlib.h>

#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <secateurs/sdk.h>

namespace {

namespace fs = std::filesystem;
using secateurs::DataError;

constexpr std::int64_t kClasses = 10;
constexpr unsigned char kUnsignedByte = 0x08;  // IDX element type of every MNIST file

struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> data;
};

// Reads a whole file through zlib, which reads gzip and passes raw files through.
std::vector<std::uint8_t> read_all(const fs::path& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw DataError(path.string() + ": cannot open the file");
  // zlib's default 8 KiB input buffer makes inflating the 26 MB training images slow.
  constexpr unsigned kChunk = 1u << 20;
  gzbuffer(file, kChunk);
  std::vector<std::uint8_t> bytes;
  while (true) {
    const std::size_t filled = bytes.size();
    bytes.resize(filled + kChunk);
    const int count = gzread(file, bytes.data() + filled, kChunk);
    if (count < 0) {
      int code = 0;
      std::string message = gzerror(file, &code);
      // zlib prefixes its message with the path, which ours names already.
      const std::string prefix = path.string() + ": ";
      if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
      gzclose(file);
      throw DataError(path.string() + ": corrupt gzip data (" + message + ")");
    }
    bytes.resize(filled + static_cast<std::size_t>(count));
    if (count == 0) break;
  }
  // A gzip stream cut short reads as a clean end of file; gzclose reports it.
  const int close_status = gzclose(file);
  if (close_status == Z_BUF_ERROR) {
    throw DataError(path.string() + ": the gzip stream ends early (the file is truncated)");
  }
  if (close_status != Z_OK) {
    throw DataError(path.string() + ": corrupt gzip data (zlib status " +
                    std::to_string(close_status) + ")");
  }
  return bytes;
}

std::string hex_byte(unsigned value) {
  const char digits[] = "0123456789abcdef";
  return std::string("0x") + digits[(value >> 4) & 0xf] + digits[value & 0xf];
}

// Parses an IDX array of unsigned bytes with `expected_dims` dimensions.
IdxArray parse_idx(const fs::path& path, std::size_t expected_dims) {
  std::vector<std::uint8_t> bytes = read_all(path);
  const std::string where = path.string() + ": ";
  if (bytes.size() < 4) {
    throw DataError(where + "expected an IDX header of at least 4 bytes, found " +
                    std::to_string(bytes.size()) + " bytes");
  }
  if (bytes[0] != 0 || bytes[1] != 0) {
    throw DataError(where + "expected the IDX magic 0x0000, found " + hex_byte(bytes[0]) +
                    hex_byte(bytes[1]).substr(2) + ": not an IDX file");
  }
  if (bytes[2] != kUnsignedByte) {
    throw DataError(where + "expected IDX element type 0x08 (unsigned byte), found " +
                    hex_byte(bytes[2]));
  }
  if (bytes[3] != expected_dims) {
    throw DataError(where + "expected " + std::to_string(expected_dims) + " dimensions, found " +
                    std::to_string(bytes[3]));
  }
  const std::size_t header = 4 + 4 * expected_dims;
  if (bytes.size() < header) {
    throw DataError(where + "expected a header of " + std::to_string(header) + " bytes, found " +
                    std::to_string(bytes.size()) + " bytes");
  }
  IdxArray array;
  std::size_t elements = 1;
  for (std::size_t d = 0; d < expected_dims; ++d) {
    const std::uint8_t* p = bytes.data() + 4 + 4 * d;
    const std::uint32_t size = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                               (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    if (size == 0) throw DataError(where + "dimension " + std::to_string(d) + " is 0");
    array.dims.push_back(size);
    // A forged header could declare a shape whose byte count wraps around to the payload's
    // size; refuse it before multiplying.
    if (elements > std::numeric_limits<std::size_t>::max() / size) {
      throw DataError(where + "dimension " + std::to_string(d) + " (" + std::to_string(size) +
                      ") makes the declared size overflow 64 bits: the file is corrupt");
    }
    elements *= size;
  }
  const std::size_t payload = bytes.size() - header;
  if (payload != elements) {
    std::string shape;
    for (std::size_t d = 0; d < array.dims.size(); ++d) {
      shape += (d ? "x" : "") + std::to_string(array.dims[d]);
    }
    throw DataError(where + "expected " + std::to_string(elements) + " bytes of data for " + shape +
                    ", found " + std::to_string(payload) +
                    (payload < elements ? " (the file is truncated)" : " (trailing bytes)"));
  }
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return array;
}

// The file as it exists: raw, or with .gz.
fs::path locate(const fs::path& directory, const std::string& stem) {
  for (const fs::path& candidate : {directory / stem, directory / (stem + ".gz")}) {
    if (fs::exists(candidate)) return candidate;
  }
  throw DataError((directory / stem).string() + "(.gz): no such file");
}

secateurs::LabeledData read_split(const fs::path& directory, const std::string& prefix) {
  const fs::path images_path = locate(directory, prefix + "-images-idx3-ubyte");
  const fs::path labels_path = locate(directory, prefix + "-labels-idx1-ubyte");
  IdxArray images = parse_idx(images_path, 3);
  IdxArray labels = parse_idx(labels_path, 1);
  if (images.dims[0] != labels.dims[0]) {
    throw DataError(labels_path.string() + ": expected " + std::to_string(images.dims[0]) +
                    " labels (one per image of " + images_path.string() + "), found " +
                    std::to_string(labels.dims[0]));
  }
  for (std::size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= kClasses) {
      throw DataError(labels_path.string() + ": expected labels in [0, " +
                      std::to_string(kClasses) + "), found " + std::to_string(labels.data[i]) +
                      " at index " + std::to_string(i));
    }
  }
  const std::int64_t count = images.dims[0];
  secateurs::LabeledData data;
  data.inputs = torch::from_blob(images.data.data(), {count, 1, images.dims[1], images.dims[2]},
                                 torch::kUInt8)
                    .to(torch::kFloat32)
                    .div_(255.0f);
  data.labels = torch::from_blob(labels.data.data(), {count}, torch::kUInt8).to(torch::kInt64);
  data.num_classes = kClasses;
  return data;
}

// Where one dataset's files are found when the user gives no path.
struct IdxSource {
  const char* component;
  const char* environment;
  const char* package_directory;  // "" when no Debian package ships the data
};

constexpr IdxSource kFashionMnist = {"dataset.fashion_mnist", "SECATEURS_FASHION_MNIST_DIR",
                                     "/usr/share/datasets/fashion-mnist"};
constexpr IdxSource kMnist = {"dataset.mnist", "SECATEURS_MNIST_DIR", ""};

class IdxDataset final : public secateurs::Dataset {
 public:
  IdxDataset(const secateurs::Params& params, const IdxSource& source)
      : split_(params.get_string("split")),
        limit_(params.get_int("limit")),
        directory_(secateurs::data_directory(params.get_string("path"), source.component,
                                             source.environment, source.package_directory)) {}

  secateurs::LabeledData load(secateurs::Context&) override {
    std::vector<secateurs::LabeledData> parts;
    if (split_ != "test") parts.push_back(read_split(directory_, "train"));
    if (split_ != "train") parts.push_back(read_split(directory_, "t10k"));
    secateurs::LabeledData data = parts.front();
    if (parts.size() == 2) {
      data.inputs = torch::cat({parts[0].inputs, parts[1].inputs});
      data.labels = torch::cat({parts[0].labels, parts[1].labels});
    }
    return secateurs::first_examples(std::move(data), limit_,
                                     directory_.string() + " (split '" + split_ + "')");
  }

 private:
  std::string split_;
  std::int64_t limit_;
  fs::path directory_;
};

secateurs::ParamSchema idx_schema(const std::string& path_doc) {
  using namespace secateurs;
  return {param::string("path", "", path_doc),
          param::choice("split", {"all", "train", "test"}, "all",
                        "Training files, test files, or both (training first)"),
          param::integer("limit", 0, "Keep only the first N examples; 0 keeps all").at_least(0)};
}

void register_components(secateurs::Registrar& registrar) {
  registrar.add({secateurs::Kind::Dataset, "fashion_mnist",
                 "Fashion-MNIST (70,000 28x28 grey images, 10 classes) from IDX files",
                 idx_schema("Directory of the IDX files; empty: $SECATEURS_FASHION_MNIST_DIR, "
                            "else /usr/share/datasets/fashion-mnist"),
                 [](const secateurs::Params& p) -> secateurs::Component* {
                   return new IdxDataset(p, kFashionMnist);
                 }});
  registrar.add({secateurs::Kind::Dataset, "mnist",
                 "MNIST (70,000 28x28 grey digits, 10 classes) from IDX files",
                 idx_schema("Directory of the IDX files; empty: $SECATEURS_MNIST_DIR"),
                 [](const secateurs::Params& p) -> secateurs::Component* {
                   return new IdxDataset(p, kMnist);
                 }});
}

}  // namespace

SECATEURS_PLUGIN("idx", "1.0.0", register_components)
