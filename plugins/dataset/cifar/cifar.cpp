// CIFAR-10 and CIFAR-100 from the binary batches of the CIFAR site.
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <secateurs/sdk.h>

namespace {

namespace fs = std::filesystem;
using secateurs::DataError;

constexpr std::int64_t kPixels = 3 * 32 * 32;

// One CIFAR variant: its files, its record layout, where its data is found by default.
struct CifarLayout {
  const char* component;
  const char* environment;
  std::vector<std::string> train_files;
  std::vector<std::string> test_files;
  std::int64_t label_bytes;  // bytes before the pixels in each record
};

const CifarLayout kCifar10 = {"dataset.cifar10",
                              "SECATEURS_CIFAR10_DIR",
                              {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                               "data_batch_4.bin", "data_batch_5.bin"},
                              {"test_batch.bin"},
                              1};
const CifarLayout kCifar100 = {
    "dataset.cifar100", "SECATEURS_CIFAR100_DIR", {"train.bin"}, {"test.bin"}, 2};

// The whole file; any failure, a directory or an unreadable file included, is a DataError
// naming it (an istreambuf_iterator would throw std::ios_base::failure instead).
std::vector<std::uint8_t> read_file(const fs::path& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    throw DataError(path.string() +
                    (fs::exists(path, error) ? ": not a regular file" : ": no such file"));
  }
  const std::uintmax_t size = fs::file_size(path, error);
  std::ifstream in(path, std::ios::binary);
  if (error || !in) throw DataError(path.string() + ": cannot open the file");
  std::vector<std::uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size)) {
    throw DataError(path.string() + ": read " + std::to_string(in.gcount()) + " of " +
                    std::to_string(size) + " bytes");
  }
  return bytes;
}

class CifarDataset final : public secateurs::Dataset {
 public:
  CifarDataset(const secateurs::Params& params, const CifarLayout& layout)
      : layout_(layout),
        split_(params.get_string("split")),
        limit_(params.get_int("limit")),
        coarse_(params.contains("labels") && params.get_string("labels") == "coarse"),
        directory_(secateurs::data_directory(params.get_string("path"), layout.component,
                                             layout.environment, "")) {}

  secateurs::LabeledData load(secateurs::Context&) override {
    std::vector<std::string> files;
    if (split_ != "test") files = layout_.train_files;
    if (split_ != "train")
      files.insert(files.end(), layout_.test_files.begin(), layout_.test_files.end());

    const std::int64_t classes = layout_.label_bytes == 1 ? 10 : (coarse_ ? 20 : 100);
    // CIFAR-100 records hold the coarse label first, then the fine one.
    const std::int64_t label_offset = layout_.label_bytes == 2 && !coarse_ ? 1 : 0;
    const std::int64_t record = layout_.label_bytes + kPixels;
    std::vector<at::Tensor> inputs, labels;
    for (const std::string& name : files) {
      const fs::path file = directory_ / name;
      std::vector<std::uint8_t> bytes = read_file(file);
      const auto size = static_cast<std::int64_t>(bytes.size());
      if (size == 0 || size % record != 0) {
        throw DataError(file.string() + ": expected a whole number of " + std::to_string(record) +
                        "-byte records, found " + std::to_string(size) +
                        " bytes (the file is truncated or not a " + layout_.component + " batch)");
      }
      const at::Tensor records =
          torch::from_blob(bytes.data(), {size / record, record}, torch::kUInt8).clone();
      const at::Tensor batch_labels = records.select(1, label_offset).to(torch::kLong);
      const std::int64_t high = batch_labels.max().item<std::int64_t>();
      if (high >= classes) {
        const std::int64_t index = (batch_labels >= classes).nonzero()[0][0].item<std::int64_t>();
        throw DataError(file.string() + ": expected labels in [0, " + std::to_string(classes) +
                        "), found " + std::to_string(batch_labels[index].item<std::int64_t>()) +
                        " in record " + std::to_string(index));
      }
      labels.push_back(batch_labels);
      inputs.push_back(records.slice(1, layout_.label_bytes)
                           .reshape({size / record, 3, 32, 32})
                           .to(torch::kFloat32)
                           .div_(255.0f));
    }
    secateurs::LabeledData data{torch::cat(inputs), torch::cat(labels), classes};
    return secateurs::first_examples(std::move(data), limit_,
                                     directory_.string() + " (split '" + split_ + "')");
  }

 private:
  CifarLayout layout_;  // a copy: the globals' vectors die with the library's statics
  std::string split_;
  std::int64_t limit_;
  bool coarse_;
  fs::path directory_;
};

secateurs::ParamSchema cifar_schema(const std::string& environment) {
  using namespace secateurs;
  return {param::string("path", "", "Directory of the binary batches; empty: $" + environment),
          param::choice("split", {"all", "train", "test"}, "all",
                        "Training batches, the test batch, or both (training first)"),
          param::integer("limit", 0, "Keep only the first N examples; 0 keeps all").at_least(0)};
}

void register_components(secateurs::Registrar& registrar) {
  using namespace secateurs;
  registrar.add({Kind::Dataset, "cifar10", "CIFAR-10 (60,000 32x32 colour images, 10 classes)",
                 cifar_schema(kCifar10.environment),
                 [](const Params& p) -> Component* { return new CifarDataset(p, kCifar10); }});
  ParamSchema cifar100 = cifar_schema(kCifar100.environment);
  cifar100.push_back(param::choice("labels", {"fine", "coarse"}, "fine",
                                   "Fine labels (100 classes) or coarse superclasses (20)"));
  registrar.add({Kind::Dataset, "cifar100",
                 "CIFAR-100 (60,000 32x32 colour images, 100 or 20 classes)", cifar100,
                 [](const Params& p) -> Component* { return new CifarDataset(p, kCifar100); }});
}

}  // namespace

SECATEURS_PLUGIN("cifar", "1.0.0", register_components)
