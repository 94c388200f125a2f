// dataset.fashion_mnist and dataset.mnist (plugins/dataset/idx) on small IDX files
// written here, raw and gzip, whole and broken; and on the real Fashion-MNIST.
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "host/params_builder.h"
#include "support/built_plugins.h"
#include "support/doctest_torch.h"
#include "support/messages.h"
#include "support/test_context.h"

using namespace secateurs;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;

// An IDX file of unsigned bytes: magic, type 0x08, dims big-endian, then data.
Bytes idx_file(const std::vector<std::uint32_t>& dims, const Bytes& data) {
  Bytes bytes = {0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back((d >> shift) & 0xff);
  }
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

Bytes gzip(const Bytes& raw, const fs::path& scratch) {
  gzFile out = gzopen(scratch.c_str(), "wb");
  REQUIRE(out != nullptr);
  gzwrite(out, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(out);
  std::ifstream in(scratch, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// Four training images and two test images of 3x2 pixels; pixel k of image i is 10*i+k.
struct TinyIdx {
  fs::path dir;
  Bytes train_images, train_labels = {3, 1, 4, 1}, test_images, test_labels = {5, 9};

  explicit TinyIdx(const std::string& name)
      : dir(fs::temp_directory_path() /
            ("secateurs-idx-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    Bytes train, test;
    for (std::uint8_t i = 0; i < 4; ++i) {
      for (std::uint8_t k = 0; k < 6; ++k) train.push_back(10 * i + k);
    }
    for (std::uint8_t i = 4; i < 6; ++i) {
      for (std::uint8_t k = 0; k < 6; ++k) test.push_back(10 * i + k);
    }
    train_images = idx_file({4, 3, 2}, train);
    test_images = idx_file({2, 3, 2}, test);
    train_labels = idx_file({4}, train_labels);
    test_labels = idx_file({2}, test_labels);
  }
  ~TinyIdx() { fs::remove_all(dir); }

  void write_raw() const {
    write(dir / "train-images-idx3-ubyte", train_images);
    write(dir / "train-labels-idx1-ubyte", train_labels);
    write(dir / "t10k-images-idx3-ubyte", test_images);
    write(dir / "t10k-labels-idx1-ubyte", test_labels);
  }
  void write_gzip() const {
    const fs::path scratch = dir / "scratch.gz";
    write(dir / "train-images-idx3-ubyte.gz", gzip(train_images, scratch));
    write(dir / "train-labels-idx1-ubyte.gz", gzip(train_labels, scratch));
    write(dir / "t10k-images-idx3-ubyte.gz", gzip(test_images, scratch));
    write(dir / "t10k-labels-idx1-ubyte.gz", gzip(test_labels, scratch));
    fs::remove(scratch);
  }
};

LabeledData load(const std::string& component, const std::string& yaml) {
  return testing::load_dataset(component, yaml);
}

std::string load_error(const std::string& yaml) {
  return testing::message_of<DataError>([&] { load("dataset.fashion_mnist", yaml); });
}

}  // namespace

TEST_CASE("idx: reads raw and gzip files alike, training examples first") {
  TinyIdx tiny("formats");
  for (bool compressed : {false, true}) {
    CAPTURE(compressed);
    fs::remove_all(tiny.dir);
    fs::create_directories(tiny.dir);
    compressed ? tiny.write_gzip() : tiny.write_raw();
    const LabeledData data = load("dataset.fashion_mnist", "path: " + tiny.dir.string());
    CHECK(data.inputs.sizes() == at::IntArrayRef({6, 1, 3, 2}));
    CHECK(data.num_classes == 10);
    CHECK(data.labels.equal(torch::tensor({3, 1, 4, 1, 5, 9}, torch::kLong)));
    // Pixel k of image i is (10 i + k) / 255.
    CHECK(data.inputs[2][0][1][1].item<float>() == doctest::Approx(23.0 / 255));
    CHECK(data.inputs[5][0][0][0].item<float>() == doctest::Approx(50.0 / 255));
  }
}

TEST_CASE("idx: split and limit") {
  TinyIdx tiny("split");
  tiny.write_raw();
  const std::string path = "path: " + tiny.dir.string() + "\n";
  CHECK(load("dataset.fashion_mnist", path + "split: train").labels.size(0) == 4);
  const LabeledData test = load("dataset.fashion_mnist", path + "split: test");
  CHECK(test.labels.equal(torch::tensor({5, 9}, torch::kLong)));
  const LabeledData first = load("dataset.fashion_mnist", path + "limit: 3");
  CHECK(first.labels.equal(torch::tensor({3, 1, 4}, torch::kLong)));
  CHECK(load_error(path + "split: test\nlimit: 3") ==
        tiny.dir.string() +
            " (split 'test'): asked for the first 3 examples, but there are only 2");
}

TEST_CASE("idx: the path comes from the parameter, else the environment") {
  TinyIdx tiny("environment");
  tiny.write_raw();
  setenv("SECATEURS_MNIST_DIR", tiny.dir.c_str(), 1);
  CHECK(load("dataset.mnist", "{}").labels.size(0) == 6);
  unsetenv("SECATEURS_MNIST_DIR");
  // Debian ships no MNIST package: with neither, the component says what it needs.
  const host::RegisteredComponent& mnist = testing::built_plugins().get("dataset.mnist");
  CHECK_THROWS_WITH_AS(
      testing::built_plugins().create(mnist, host::default_params(mnist.spec.params, "m")),
      "dataset.mnist: give the directory of its files as the parameter 'path' or in "
      "SECATEURS_MNIST_DIR",
      ConfigError);
}

TEST_CASE("idx: truncated, padded and corrupt files are refused with file, expected and found") {
  TinyIdx tiny("broken");
  const std::string path = "path: " + tiny.dir.string();
  const std::string images = (tiny.dir / "train-images-idx3-ubyte").string();
  const std::string labels = (tiny.dir / "train-labels-idx1-ubyte").string();

  tiny.write_raw();
  Bytes cut = tiny.train_images;
  cut.resize(cut.size() - 4);
  write(images, cut);
  CHECK(load_error(path) ==
        images + ": expected 24 bytes of data for 4x3x2, found 20 (the file is truncated)");

  Bytes padded = tiny.train_images;
  padded.push_back(0);
  write(images, padded);
  CHECK(load_error(path) ==
        images + ": expected 24 bytes of data for 4x3x2, found 25 (trailing bytes)");

  write(images, Bytes{0, 0, 0x08});
  CHECK(load_error(path) == images + ": expected an IDX header of at least 4 bytes, found 3 bytes");

  write(images, Bytes{0, 0, 0x08, 3, 0, 0});
  CHECK(load_error(path) == images + ": expected a header of 16 bytes, found 6 bytes");

  Bytes magic = tiny.train_images;
  magic[0] = 0x1f;
  magic[1] = 0x8c;
  write(images, magic);
  CHECK(load_error(path) ==
        images + ": expected the IDX magic 0x0000, found 0x1f8c: not an IDX file");

  Bytes type = tiny.train_images;
  type[2] = 0x0d;
  write(images, type);
  CHECK(load_error(path) ==
        images + ": expected IDX element type 0x08 (unsigned byte), found 0x0d");

  write(images, tiny.train_labels);
  CHECK(load_error(path) == images + ": expected 3 dimensions, found 1");

  // 60000 x 2^31 x 2^28 bytes wraps to 0 in 64 bits: a forged header with no payload.
  write(images, idx_file({60000, 0x80000000u, 0x10000000u}, {}));
  CHECK(load_error(path) ==
        images +
            ": dimension 2 (268435456) makes the declared size overflow 64 bits: the file is "
            "corrupt");

  tiny.write_raw();
  write(labels, idx_file({3}, {1, 2, 3}));
  CHECK(load_error(path) ==
        labels + ": expected 4 labels (one per image of " + images + "), found 3");

  write(labels, idx_file({4}, {1, 12, 3, 4}));
  CHECK(load_error(path) == labels + ": expected labels in [0, 10), found 12 at index 1");

  fs::remove(labels);
  CHECK(load_error(path) == labels + "(.gz): no such file");
}

TEST_CASE("idx: a gzip stream cut short or damaged is refused") {
  TinyIdx tiny("gzip");
  tiny.write_gzip();
  const std::string path = "path: " + tiny.dir.string();
  const fs::path images = tiny.dir / "train-images-idx3-ubyte.gz";
  std::ifstream in(images, std::ios::binary);
  const Bytes whole(std::istreambuf_iterator<char>(in), {});
  in.close();

  write(images, Bytes(whole.begin(), whole.end() - 12));
  const std::string truncated = load_error(path);
  CHECK(truncated.find(images.string() + ": ") == 0);
  CHECK(truncated.find("truncated") != std::string::npos);

  Bytes damaged = whole;
  for (std::size_t i = 12; i < damaged.size() - 8; ++i) damaged[i] ^= 0x5a;
  write(images, damaged);
  const std::string corrupt = load_error(path);
  CHECK(corrupt.find(images.string() + ": ") == 0);
  CHECK((corrupt.find("corrupt gzip data") != std::string::npos ||
         corrupt.find("truncated") != std::string::npos));
}

TEST_CASE("idx: the real Fashion-MNIST from the Debian package") {
  const fs::path debian = "/usr/share/datasets/fashion-mnist";
  REQUIRE_MESSAGE(fs::exists(debian / "t10k-labels-idx1-ubyte.gz"),
                  "dataset-fashion-mnist is not installed; scripts/setup-debian.sh installs it");
  const LabeledData test = load("dataset.fashion_mnist", "split: test");
  CHECK(test.inputs.sizes() == at::IntArrayRef({10000, 1, 28, 28}));
  // Fashion-MNIST's test set holds 1,000 images of each class.
  CHECK(at::bincount(test.labels, {}, 10).equal(torch::full({10}, 1000, torch::kLong)));
  CHECK(test.inputs.min().item<float>() == 0.0f);
  CHECK(test.inputs.max().item<float>() == 1.0f);
  const LabeledData few = load("dataset.fashion_mnist", "split: train\nlimit: 300");
  CHECK(few.labels.size(0) == 300);
  // The first training label of Fashion-MNIST is 9 (ankle boot).
  CHECK(few.labels[0].item<std::int64_t>() == 9);
}
