// dataset.synthetic_blobs, dataset.cifar10/100 and dataset.csv, on data written here.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/built_plugins.h"
#include "support/messages.h"

using namespace secateurs;
using testing::load_dataset;
using testing::message_of;
namespace fs = std::filesystem;

namespace {

// A scratch directory removed at the end of the test.
struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name)
      : dir(fs::temp_directory_path() /
            ("secateurs-datasets-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream out(dir / name, std::ios::binary);
    out << bytes;
    return (dir / name).string();
  }
};

std::string data_error(const std::string& component, const std::string& yaml) {
  return message_of<DataError>([&] { load_dataset(component, yaml); });
}

}  // namespace

TEST_CASE("synthetic_blobs: the seed alone decides the data") {
  const std::string yaml = "samples: 300\nclasses: 3\nfeatures: 5";
  const LabeledData a = load_dataset("dataset.synthetic_blobs", yaml, 11);
  const LabeledData b = load_dataset("dataset.synthetic_blobs", yaml, 11);
  const LabeledData c = load_dataset("dataset.synthetic_blobs", yaml, 12);
  CHECK(a.inputs.sizes() == at::IntArrayRef({300, 5}));
  CHECK(a.num_classes == 3);
  CHECK(a.inputs.equal(b.inputs));
  CHECK(a.labels.equal(b.labels));
  CHECK_FALSE(a.inputs.equal(c.inputs));
}

TEST_CASE("synthetic_blobs: separation sets the distance between class means") {
  const LabeledData data = load_dataset("dataset.synthetic_blobs",
                                        "samples: 6000\nclasses: 2\nfeatures: 8\nseparation: 5", 3);
  const at::Tensor mean0 = data.inputs.index({data.labels == 0}).mean(0);
  const at::Tensor mean1 = data.inputs.index({data.labels == 1}).mean(0);
  // Each centre lies 5 from the origin, so each class mean does too (noise averages out).
  CHECK(mean0.norm().item<double>() == doctest::Approx(5).epsilon(0.05));
  CHECK(mean1.norm().item<double>() == doctest::Approx(5).epsilon(0.05));
  // And the classes really are apart: with separation 0 both means sit at the origin.
  CHECK((mean0 - mean1).norm().item<double>() > 2.0);
  const LabeledData merged = load_dataset(
      "dataset.synthetic_blobs", "samples: 6000\nclasses: 2\nfeatures: 8\nseparation: 0", 3);
  const at::Tensor gap = merged.inputs.index({merged.labels == 0}).mean(0) -
                         merged.inputs.index({merged.labels == 1}).mean(0);
  CHECK(gap.norm().item<double>() < 0.3);
}

TEST_CASE("synthetic_blobs: all 64 bits of the seed count") {
  const std::string yaml = "samples: 50\nfeatures: 4";
  const LabeledData low = load_dataset("dataset.synthetic_blobs", yaml, 1);
  const LabeledData high = load_dataset("dataset.synthetic_blobs", yaml, 1 + (1ull << 32));
  CHECK_FALSE(low.inputs.equal(high.inputs));
}

TEST_CASE("synthetic_blobs: label noise relabels exactly round(p N) examples to other classes") {
  const std::string base = "samples: 1000\nclasses: 4\nfeatures: 3\n";
  const LabeledData clean = load_dataset("dataset.synthetic_blobs", base, 5);
  const LabeledData noisy = load_dataset("dataset.synthetic_blobs", base + "label_noise: 0.1", 5);
  // Same seed: the same inputs and the same draws before the noise.
  CHECK(clean.inputs.equal(noisy.inputs));
  CHECK((clean.labels != noisy.labels).sum().item<std::int64_t>() == 100);
}

TEST_CASE("cifar10: binary batches, pixel layout, split and broken files") {
  Scratch scratch("cifar10");
  // Record r of file f: label (f + r) % 10, pixel k = (f * 3 + r + k) % 256.
  std::string test_batch;
  for (int f = 0; f < 6; ++f) {
    std::string bytes;
    for (int r = 0; r < 3; ++r) {
      bytes.push_back(static_cast<char>((f + r) % 10));
      for (int k = 0; k < 3072; ++k) bytes.push_back(static_cast<char>((f * 3 + r + k) % 256));
    }
    scratch.write(f < 5 ? "data_batch_" + std::to_string(f + 1) + ".bin" : "test_batch.bin", bytes);
  }
  const std::string path = "path: " + scratch.dir.string() + "\n";
  const LabeledData all = load_dataset("dataset.cifar10", path);
  CHECK(all.inputs.sizes() == at::IntArrayRef({18, 3, 32, 32}));
  CHECK(all.num_classes == 10);
  CHECK(all.labels[4].item<std::int64_t>() == 2);  // file 1, record 1
  // Channel-major: pixel k = 1024 c + 32 y + x. File 1, record 1, green (c 1), y 0, x 2:
  // k = 1026, value (3 + 1 + 1026) % 256 = 6.
  CHECK(all.inputs[4][1][0][2].item<float>() == doctest::Approx(6.0 / 255));
  const LabeledData test = load_dataset("dataset.cifar10", path + "split: test");
  CHECK(test.labels.equal(torch::tensor({5, 6, 7}, torch::kLong)));

  const std::string batch = (scratch.dir / "data_batch_2.bin").string();
  scratch.write("data_batch_2.bin", std::string(3073 * 2 + 100, '\0'));
  CHECK(data_error("dataset.cifar10", path) ==
        batch +
            ": expected a whole number of 3073-byte records, found 6246 bytes (the file is "
            "truncated or not a dataset.cifar10 batch)");
  std::string bad_label(3073, '\0');
  bad_label[0] = 10;
  scratch.write("data_batch_2.bin", bad_label);
  CHECK(data_error("dataset.cifar10", path) ==
        batch + ": expected labels in [0, 10), found 10 in record 0");
  fs::remove(batch);
  CHECK(data_error("dataset.cifar10", path) == batch + ": no such file");
  fs::create_directory(batch);
  CHECK(data_error("dataset.cifar10", path) == batch + ": not a regular file");
}

TEST_CASE("cifar100: fine or coarse labels") {
  Scratch scratch("cifar100");
  std::string bytes;
  for (int r = 0; r < 4; ++r) {
    bytes.push_back(static_cast<char>(r % 20));  // coarse
    bytes.push_back(static_cast<char>(50 + r));  // fine
    bytes.append(3072, static_cast<char>(r));
  }
  scratch.write("train.bin", bytes);
  scratch.write("test.bin", bytes.substr(0, 3074));
  const std::string path = "path: " + scratch.dir.string() + "\n";
  const LabeledData fine = load_dataset("dataset.cifar100", path);
  CHECK(fine.num_classes == 100);
  CHECK(fine.labels.equal(torch::tensor({50, 51, 52, 53, 50}, torch::kLong)));
  const LabeledData coarse =
      load_dataset("dataset.cifar100", path + "labels: coarse\nsplit: train");
  CHECK(coarse.num_classes == 20);
  CHECK(coarse.labels.equal(torch::tensor({0, 1, 2, 3}, torch::kLong)));
  CHECK(coarse.inputs[3].max().item<float>() == doctest::Approx(3.0 / 255));
}

TEST_CASE("csv: features, label column, header, label base, classes") {
  Scratch scratch("csv");
  const std::string file = scratch.write("purchase.csv",
                                         "id,f1,f2,label\n"
                                         "0.5, 1, -2,1\n"
                                         "1.5,2e-1,3,3\r\n"
                                         "\n"
                                         "2,0,0,2\n");
  const LabeledData data = load_dataset(
      "dataset.csv", "path: " + file + "\nheader: true\nlabel_column: 3\nlabel_base: 1");
  CHECK(data.inputs.sizes() == at::IntArrayRef({3, 3}));
  CHECK(data.labels.equal(torch::tensor({0, 2, 1}, torch::kLong)));
  CHECK(data.num_classes == 3);
  CHECK(data.inputs[1][1].item<float>() == doctest::Approx(0.2));
  CHECK(data.inputs[0][2].item<float>() == -2.0f);
  const std::string tiny = scratch.write("tiny.csv", "+1,1e-50,+2.5\n0,-0,3\n");
  const LabeledData small = load_dataset("dataset.csv", "path: " + tiny);
  CHECK(small.labels.equal(torch::tensor({1, 0}, torch::kLong)));
  CHECK(small.inputs[0][0].item<float>() == 0.0f);
  CHECK(small.inputs[0][1].item<float>() == 2.5f);
  const LabeledData wide = load_dataset(
      "dataset.csv", "path: " + file + "\nheader: true\nlabel_column: 3\nnum_classes: 100");
  CHECK(wide.num_classes == 100);
}

TEST_CASE("csv: every problem names the file and line") {
  Scratch scratch("csv-errors");
  const auto error_for = [&](const std::string& text, const std::string& extra = "") {
    const std::string file = scratch.write("bad.csv", text);
    return message_of<DataError>(
        [&] { load_dataset("dataset.csv", "path: " + file + "\n" + extra); });
  };
  const std::string file = (scratch.dir / "bad.csv").string();
  CHECK(error_for("1,2,3\n0,4\n") == file + ":2: expected 3 columns, found 2");
  CHECK(error_for("1,2,3\n0,x,1\n") == file + ":2: column 1: expected a number, found 'x'");
  CHECK(error_for("1.5,2,3\n") == file + ":1: column 0: expected an integer label, found '1.5'");
  CHECK(error_for("0,1\n1,1\n", "label_base: 1") ==
        file + ":1: expected labels of at least 1 and below 1000001, found 0");
  CHECK(error_for("5,1\n", "num_classes: 5") == file + ":1: expected labels in [0, 5), found 5");
  CHECK(error_for("\n\n") == file + ": no data rows");
  CHECK(error_for("0,1\n0,2\n") == file + ": every label is 0; expected at least two classes");
  CHECK(error_for("1\n") == file + ":1: expected a label and features, found 1 column");
  CHECK(error_for("1,nan\n0,1\n") ==
        file + ":1: column 1: expected a finite float32 number, found 'nan'");
  CHECK(error_for("1,1e39\n0,1\n") ==
        file + ":1: column 1: expected a finite float32 number, found '1e39'");
  CHECK(error_for("1,+-2\n0,1\n") == file + ":1: column 1: expected a number, found '+-2'");
  CHECK(error_for("9223372036854775807,1\n0,1\n", "label_base: -5") ==
        file + ":1: expected labels of at least -5 and below 999995, found 9223372036854775807");
  CHECK(message_of<ConfigError>(
            [&] { load_dataset("dataset.csv", "path: " + file + "\nnum_classes: 1"); }) ==
        "dataset.csv: parameter 'num_classes' must be 0 (from the labels) or at least 2, got 1");
  CHECK(message_of<ConfigError>([&] {
          load_dataset("dataset.csv", "path: " + file + "\ndelimiter: ';;'");
        }) == "dataset.csv: parameter 'delimiter' must be one character, got ';;'");
  CHECK(message_of<ConfigError>([&] { load_dataset("dataset.csv", "header: true"); }) ==
        "test:1:1: dataset.csv: missing required parameter 'path' (string, required)");
  CHECK(message_of<ConfigError>(
            [&] { load_dataset("dataset.csv", "path: " + file + "\nnum_classes: 2000000"); }) ==
        "test:2:14: dataset.csv: parameter 'num_classes': must be in [0, 1000000], got 2000000");
}
