// Checkpoints: a round trip restores weights, batch-norm statistics, masks and metadata
// into the caller's model; damaged or mismatched files are refused before the model is
// touched, with a message naming the file and what is wrong.
#include "support/doctest_torch.h"

#include <filesystem>
#include <string>

#include "host/atomic_file.h"
#include "host/checkpoint.h"
#include "host/sha256.h"
#include "secateurs/error.h"
#include "secateurs/random.h"
#include "support/messages.h"
#include "support/temp_dir.h"
#include "support/test_context.h"

using namespace secateurs;
using namespace secateurs::host;
using secateurs::testing::contains;
using secateurs::testing::message_of;
using secateurs::testing::TempDir;
using secateurs::testing::TestContext;

namespace {

// Linear + BatchNorm1d + Linear: parameters and buffers (running mean and variance, the
// batch counter), enough to see each of them survive a checkpoint.
class SmallNet final : public Model {
 public:
  explicit SmallNet(std::int64_t hidden = 8, bool extra = false) : hidden_(hidden), extra_(extra) {}

  void build(const DataShape& shape, Context& context) override {
    fc1_ = net_.register_module("fc1", torch::nn::Linear(shape.input_shape.at(0), hidden_));
    bn_ = net_.register_module("bn", torch::nn::BatchNorm1d(hidden_));
    fc2_ = net_.register_module("fc2", torch::nn::Linear(hidden_, shape.num_classes));
    if (extra_) net_.register_module("extra", torch::nn::Linear(2, 2));
    at::Generator generator = make_generator(context.seed());
    torch::NoGradGuard no_grad;
    for (at::Tensor& p : net_.parameters()) {
      p.copy_(torch::randn(p.sizes(), generator, torch::kFloat64));
    }
  }
  torch::nn::Module& module() override { return net_; }
  at::Tensor forward(const at::Tensor& inputs) override {
    return fc2_(torch::relu(bn_(fc1_(inputs))));
  }

 private:
  std::int64_t hidden_;
  bool extra_;
  torch::nn::Module net_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
  torch::nn::BatchNorm1d bn_{nullptr};
};

const DataShape kShape{{6}, 3};

std::unique_ptr<SmallNet> make_net(std::uint64_t seed, DataShape shape = kShape,
                                   std::int64_t hidden = 8, bool extra = false) {
  auto net = std::make_unique<SmallNet>(hidden, extra);
  TestContext context(seed);
  net->build(shape, context);
  return net;
}

at::Tensor inputs() {
  at::Generator generator = make_generator(99);
  return torch::randn({16, 6}, generator, torch::kFloat64).to(torch::kFloat32);
}

// A trained-looking, pruned network: batch-norm statistics moved away from their initial
// values by forward passes in train mode, and half of fc1's weights masked to zero.
struct Prepared {
  std::unique_ptr<SmallNet> net;
  MaskSet masks;
};

Prepared prepared_net() {
  Prepared prepared{make_net(1), {}};
  SmallNet& net = *prepared.net;
  net.module().train();
  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 3; ++i) net.forward(inputs() * (i + 1));
  }
  at::Generator generator = make_generator(5);
  const at::Tensor weight = net.module().named_parameters()["fc1.weight"];
  const at::Tensor mask =
      torch::rand(weight.sizes(), generator, torch::kFloat64).ge(0.5).to(torch::kFloat32);
  prepared.masks["fc1.weight"] = mask;
  torch::NoGradGuard no_grad;
  weight.mul_(mask);
  net.module().eval();
  return prepared;
}

std::map<std::string, at::Tensor> snapshot(Model& model) {
  std::map<std::string, at::Tensor> values;
  for (const auto& item : model.module().named_parameters()) {
    values["p:" + item.key()] = item.value().detach().clone();
  }
  for (const auto& item : model.module().named_buffers()) {
    values["b:" + item.key()] = item.value().detach().clone();
  }
  return values;
}

bool same_values(const std::map<std::string, at::Tensor>& a,
                 const std::map<std::string, at::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, tensor] : a) {
    if (!b.contains(name) || !torch::equal(tensor, b.at(name))) return false;
  }
  return true;
}

const CheckpointMetadata kMetadata = {{"component", "model.small_net"},
                                      {"seed", "1"},
                                      {"odd", "a=b\nc%d\te"},
                                      {"key with = and %", ""}};

}  // namespace

TEST_CASE("checkpoint: round trip restores parameters, buffers, masks and metadata") {
  TempDir dir;
  const auto path = dir / "model.ckpt";
  Prepared prepared = prepared_net();
  SmallNet& original = *prepared.net;
  save_checkpoint(path, original, prepared.masks, kMetadata);

  auto fresh = make_net(2);
  REQUIRE_FALSE(same_values(snapshot(original), snapshot(*fresh)));
  const LoadedCheckpoint loaded = load_checkpoint(path, *fresh);

  CHECK(same_values(snapshot(original), snapshot(*fresh)));
  CHECK(loaded.metadata == kMetadata);
  REQUIRE(loaded.masks.size() == 1);
  CHECK(torch::equal(loaded.masks.at("fc1.weight"), prepared.masks.at("fc1.weight")));
  const at::Tensor weight = fresh->module().named_parameters()["fc1.weight"];
  CHECK(weight.masked_select(loaded.masks.at("fc1.weight").eq(0)).abs().sum().item<double>() == 0);
  const at::Tensor running_var = fresh->module().named_buffers()["bn.running_var"];
  CHECK_FALSE(torch::equal(running_var, torch::ones_like(running_var)));
  CHECK(fresh->module().named_buffers()["bn.num_batches_tracked"].item<std::int64_t>() == 3);

  fresh->module().eval();
  torch::NoGradGuard no_grad;
  CHECK(torch::equal(fresh->forward(inputs()), original.forward(inputs())));
  CHECK(read_checkpoint_metadata(path) == kMetadata);
}

TEST_CASE("checkpoint: the file is a readable header, then LibTorch's payload") {
  TempDir dir;
  const auto path = dir / "model.ckpt";
  Prepared prepared = prepared_net();
  save_checkpoint(path, *prepared.net, prepared.masks, {{"seed", "1"}, {"x", "a=b\n"}});
  const std::string bytes = read_file(path);
  CHECK(bytes.starts_with("secateurs-checkpoint 1\nbytes "));
  CHECK(contains(bytes, "\nmetadata 2\nseed=1\nx=a%3Db%0A\npayload "));
  CHECK(std::filesystem::directory_iterator(dir.path())->path() == path);
}

TEST_CASE("checkpoint: a flipped byte gives the checksum message and leaves the model alone") {
  TempDir dir;
  const auto path = dir / "model.ckpt";
  Prepared prepared = prepared_net();
  save_checkpoint(path, *prepared.net, prepared.masks, kMetadata);
  std::string bytes = read_file(path);
  bytes[bytes.size() - 100] ^= 0x10;
  write_file_atomically(path, bytes);

  auto fresh = make_net(2);
  const auto before = snapshot(*fresh);
  const std::string message = message_of<DataError>([&] { load_checkpoint(path, *fresh); });
  CHECK(message.starts_with(path.string() + ": checksum mismatch: expected "));
  CHECK(message.ends_with("; the file is corrupt"));
  CHECK(message.size() ==
        path.string().size() + std::string(": checksum mismatch: expected ").size() + 64 +
            std::string(", found ").size() + 64 + std::string("; the file is corrupt").size());
  CHECK(same_values(before, snapshot(*fresh)));
}

TEST_CASE("checkpoint: truncated files, other files and other versions are refused") {
  TempDir dir;
  const auto path = dir / "model.ckpt";
  Prepared prepared = prepared_net();
  save_checkpoint(path, *prepared.net, prepared.masks, kMetadata);
  const std::string bytes = read_file(path);
  auto net = make_net(2);

  const auto cut = dir / "cut.ckpt";
  write_file_atomically(cut, bytes.substr(0, bytes.size() / 2));
  CHECK(contains(message_of<DataError>([&] { load_checkpoint(cut, *net); }),
                 cut.string() + ": truncated: the header announces "));

  write_file_atomically(cut, bytes.substr(0, 30));
  CHECK(message_of<DataError>([&] { load_checkpoint(cut, *net); }) ==
        cut.string() + ": truncated: the file ends before line 2 is complete");

  const auto other = dir / "other.ckpt";
  write_file_atomically(other, "PK\x03\x04 some zip file\n");
  CHECK(message_of<DataError>([&] { load_checkpoint(other, *net); }) ==
        other.string() +
            ": not a secateurs checkpoint: the first line is 'PK%03%04 some zip file', "
            "expected 'secateurs-checkpoint 1'");

  write_file_atomically(other, "secateurs-checkpoint 2\n" + bytes.substr(bytes.find('\n') + 1));
  CHECK(message_of<DataError>([&] { load_checkpoint(other, *net); }) ==
        other.string() +
            ": unsupported checkpoint format 'secateurs-checkpoint 2'; this build reads "
            "'secateurs-checkpoint 1'");

  // Intact as a file, but not LibTorch's: refused after the checksum, before any copy.
  const std::string content = "metadata 0\npayload 5\nhello";
  write_file_atomically(other, "secateurs-checkpoint 1\nbytes " + std::to_string(content.size()) +
                                   "\nsha256 " + sha256_hex(content) + "\n" + content);
  CHECK(contains(message_of<DataError>([&] { load_checkpoint(other, *net); }),
                 other.string() + ": LibTorch cannot read the payload: "));

  CHECK(contains(message_of<DataError>([&] { load_checkpoint(dir / "none.ckpt", *net); }),
                 "cannot read '" + (dir / "none.ckpt").string() + "': No such file"));
}

TEST_CASE("checkpoint: a model of another shape, dtype or layout is refused by name") {
  TempDir dir;
  const auto path = dir / "model.ckpt";
  Prepared prepared = prepared_net();
  save_checkpoint(path, *prepared.net, prepared.masks, kMetadata);

  auto four_classes = make_net(2, DataShape{{6}, 4});
  const auto before = snapshot(*four_classes);
  CHECK(message_of<DataError>([&] { load_checkpoint(path, *four_classes); }) ==
        path.string() +
            ": parameter 'fc2.bias' has shape [3] in the checkpoint, expected [4] (the model's)");
  CHECK(same_values(before, snapshot(*four_classes)));

  auto doubled = make_net(2);
  doubled->module().to(torch::kFloat64);
  CHECK(message_of<DataError>([&] { load_checkpoint(path, *doubled); }) ==
        path.string() +
            ": parameter 'bn.bias' is Float in the checkpoint, expected Double (the model's)");

  auto larger = make_net(2, kShape, 8, /*extra=*/true);
  CHECK(message_of<DataError>([&] { load_checkpoint(path, *larger); }) ==
        path.string() + ": the model's parameter 'extra.bias' is missing from the checkpoint");

  save_checkpoint(path, *larger, {}, {});
  auto smaller = make_net(2);
  CHECK(message_of<DataError>([&] { load_checkpoint(path, *smaller); }) ==
        path.string() + ": the checkpoint has parameter 'extra.bias', which the model does not");
}

TEST_CASE("checkpoint: masks must match their parameters") {
  TempDir dir;
  const auto path = dir / "model.ckpt";
  auto net = make_net(1);
  MaskSet bad_shape = {{"fc1.weight", torch::ones({6, 8})}};
  CHECK(message_of<Error>([&] { save_checkpoint(path, *net, bad_shape, {}); }) ==
        "cannot save checkpoint '" + path.string() +
            "': mask 'fc1.weight' has shape [6, 8], expected [8, 6] (its parameter's)");
  MaskSet unknown = {{"fc1.weights", torch::ones({8, 6})}};
  CHECK(message_of<Error>([&] { save_checkpoint(path, *net, unknown, {}); }) ==
        "cannot save checkpoint '" + path.string() +
            "': mask 'fc1.weights' matches no parameter of the model; did you mean "
            "'fc1.weight' or 'fc2.weight'?");
  CHECK_FALSE(std::filesystem::exists(path));
}
