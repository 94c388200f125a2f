// secateurs_bench_train: training-epoch throughput (samples/s) of model.mlp and
// model.small_cnn through host::fit, and the peak float32 matmul rate of this machine
// measured by a large GEMM in the same process with the same thread count.
//
// The plugins are loaded as the secateurs executable loads them (the build's plugins
// folder), Fashion-MNIST comes from dataset.fashion_mnist (split: train, the first
// --samples images), and the trainer runs SGD with momentum 0.9, lr 0.05, the default
// weight decay 5e-4, a constant schedule and no dev set. An epoch's rate is
// EpochRecord::samples / EpochRecord::train_seconds; the table gives the median of the
// timed epochs after --warmup untimed ones.
//
// FLOP convention: a training step costs 3 forward passes (forward, and a backward of
// about twice the forward: gradients of the inputs and of the weights), a forward pass
// 2 FLOPs per multiply-accumulate, so FLOP/s = samples/s * 3 * 2 * MACs per example
// (dense MACs of the conv and linear layers from host::summarize_model).
//
// The process starts as `secateurs` does (host::prepare_process: fixed malloc thresholds) and
// trains with the trainer's defaults (channels-last convolution weights). Under test: a plain
// LibTorch process (--plain-process), the OpenBLAS thread count (--blas-threads; by default the
// same as the LibTorch thread count), glibc malloc thresholds (--mmap-threshold, --trim-threshold,
// --top-pad, as mallopt after the set-up), contiguous CNN weights (--contiguous) and oneDNN off
// (--no-mkldnn).
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <dlfcn.h>
#include <malloc.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "host/basic_context.h"
#include "host/loader.h"
#include "host/model_summary.h"
#include "host/registry.h"
#include "host/runtime_info.h"
#include "host/trainer.h"
#include "host/yaml_params.h"
#include "secateurs/dataset.h"
#include "secateurs/model.h"

namespace {

using namespace secateurs;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::string> models{"mlp", "small_cnn"};
  std::vector<int> threads{1};
  int blas_threads = 0;  // 0: the same as the LibTorch thread count
  std::int64_t samples = 60000;
  std::int64_t batch_size = 128;
  int epochs = 3;
  int warmup = 1;
  std::int64_t eval_batch = 1024;
  std::int64_t gemm_size = 2048;
  int gemm_reps = 10;
  bool dnnl_gemm = true;
  bool contiguous = false;
  bool plain_process = false;
  bool no_mkldnn = false;
  long mmap_threshold = 0, trim_threshold = 0, top_pad = 0;
  std::uint64_t seed = 1;
  std::vector<std::string> plugin_paths;
  std::string json;
};

struct Usage {
  double user = 0, sys = 0;
  long minor_faults = 0;
};

Usage usage_now() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
  };
  return {seconds(r.ru_utime), seconds(r.ru_stime), r.ru_minflt};
}

Usage operator-(const Usage& a, const Usage& b) {
  return {a.user - b.user, a.sys - b.sys, a.minor_faults - b.minor_faults};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  if (n == 0) return std::nan("");
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

// The BLAS, LAPACK, oneDNN and allocator libraries mapped into this process.
std::string mapped_libraries() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> found;
  std::string line;
  while (std::getline(maps, line)) {
    const std::size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    for (const char* key : {"blas", "lapack", "dnnl", "malloc", "gomp"}) {
      if (path.find(key) != std::string::npos) found.insert(path);
    }
  }
  std::string text;
  for (const std::string& path : found) text += "  " + path + "\n";
  return text;
}

// Best-of GEMM rate, FLOP/s = 2 n^3 / seconds.
double gemm_peak(std::int64_t n, int repetitions) {
  torch::NoGradGuard no_grad;
  const at::Tensor a = torch::rand({n, n});
  const at::Tensor b = torch::rand({n, n});
  at::Tensor c = torch::empty({n, n});
  at::mm_out(c, a, b);
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repetitions; ++r) {
    const Clock::time_point start = Clock::now();
    at::mm_out(c, a, b);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / best;
}

// The same multiply as a 1x1 convolution, which LibTorch hands to oneDNN (its own JIT
// kernels, independent of the BLAS): [64, n, 8, 8] x [n, n, 1, 1] is a (4096 x n) x (n x n)
// GEMM. Best of `repetitions`.
double dnnl_gemm_peak(std::int64_t n, int repetitions) {
  torch::NoGradGuard no_grad;
  const at::Tensor x = torch::rand({64, n, 8, 8});
  const at::Tensor w = torch::rand({n, n, 1, 1});
  at::Tensor y = at::conv2d(x, w);
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repetitions; ++r) {
    const Clock::time_point start = Clock::now();
    y = at::conv2d(x, w);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return 2.0 * 4096.0 * static_cast<double>(n) * static_cast<double>(n) / best;
}

struct Result {
  std::string model;
  int threads = 0;
  std::int64_t macs = 0;
  std::vector<double> rates;  // samples/s of each timed epoch
  double rate = 0;            // median
  Usage usage;                // of the timed epochs together
  double seconds = 0;         // timed epochs together
  double final_loss = 0;
  double eval_rate = 0;  // host::evaluate on the training images, samples/s
  Usage eval_usage;
};

Result run_model(const host::Registry& registry, const std::string& name, const LabeledData& data,
                 const Options& o, int threads) {
  const host::RegisteredComponent& component = registry.get(Kind::Model, name);
  const Params params = host::params_from_yaml(component.spec.params, component.id(),
                                               YAML::Load("{}"), "secateurs_bench_train");
  const auto model = std::static_pointer_cast<Model>(registry.create(component, params));
  DataShape shape;
  shape.input_shape.assign(data.inputs.sizes().begin() + 1, data.inputs.sizes().end());
  shape.num_classes = data.num_classes;
  host::BasicContext model_context(o.seed);
  model->build(shape, model_context);
  const host::ModelSummary summary = host::summarize_model(*model, shape);

  const LabeledData& training = data;
  host::TrainerSettings settings;
  settings.epochs = o.warmup + o.epochs;
  settings.batch_size = o.batch_size;
  settings.optimizer = host::OptimizerKind::Sgd;
  settings.learning_rate = 0.05;
  settings.momentum = 0.9;
  settings.schedule = host::LrSchedule::Constant;
  settings.seed = o.seed;
  settings.channels_last = !o.contiguous;

  Result result;
  result.model = name;
  result.threads = threads;
  result.macs = summary.dense_macs;
  Usage timed_start;
  host::FitOptions options;
  options.on_epoch = [&](const host::EpochRecord& e) {
    // The warm-up epochs end here: the timed ones start with the next epoch.
    if (e.epoch + 1 == o.warmup) timed_start = usage_now();
  };
  if (o.warmup == 0) timed_start = usage_now();
  host::BasicContext train_context(o.seed);
  const host::FitReport report = host::fit(*model, training, settings, options, train_context);
  result.usage = usage_now() - timed_start;
  for (const host::EpochRecord& e : report.epochs) {
    if (e.epoch < o.warmup) continue;
    result.rates.push_back(static_cast<double>(e.samples) / e.train_seconds);
    result.seconds += e.train_seconds;
  }
  result.rate = median(result.rates);
  result.final_loss = report.epochs.back().train_loss;
  if (o.eval_batch > 0) {
    // Inference as the trainer's dev-set evaluation runs it: a larger batch, so larger
    // activation buffers than training (the allocator's other case).
    const Usage eval_start = usage_now();
    const Clock::time_point start = Clock::now();
    host::evaluate(*model, training, o.eval_batch);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    result.eval_usage = usage_now() - eval_start;
    result.eval_rate = static_cast<double>(training.labels.size(0)) / seconds;
  }
  return result;
}

std::string fixed(double value, int digits, int width) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(digits) << std::setw(width) << value;
  return text.str();
}

int run(const Options& o) {
  if (o.mmap_threshold > 0) {
    std::cout << "mallopt(M_MMAP_THRESHOLD, " << o.mmap_threshold
              << ") = " << mallopt(M_MMAP_THRESHOLD, static_cast<int>(o.mmap_threshold)) << "\n";
  }
  if (o.trim_threshold > 0) {
    std::cout << "mallopt(M_TRIM_THRESHOLD, " << o.trim_threshold
              << ") = " << mallopt(M_TRIM_THRESHOLD, static_cast<int>(o.trim_threshold)) << "\n";
  }
  if (o.top_pad > 0) {
    std::cout << "mallopt(M_TOP_PAD, " << o.top_pad
              << ") = " << mallopt(M_TOP_PAD, static_cast<int>(o.top_pad)) << "\n";
  }
  if (o.no_mkldnn) at::globalContext().setUserEnabledMkldnn(false);

  host::Registry registry;
  host::PluginLoader loader(registry);
  std::vector<host::PluginSearchEntry> search = host::plugin_search_path(o.plugin_paths);
  loader.load_all(search);
  for (const host::LoadFailure& failure : registry.failures()) {
    std::cerr << "warning: " << failure.reason << "\n";
  }

  const host::RegisteredComponent& dataset_component = registry.get(Kind::Dataset, "fashion_mnist");
  const Params dataset_params =
      host::params_from_yaml(dataset_component.spec.params, dataset_component.id(),
                             YAML::Load("{split: train, limit: " + std::to_string(o.samples) + "}"),
                             "secateurs_bench_train");
  host::BasicContext data_context(o.seed);
  const LabeledData data =
      std::static_pointer_cast<Dataset>(registry.create(dataset_component, dataset_params))
          ->load(data_context);

  const host::BlasInfo blas = host::loaded_blas();
  std::cout << "LibTorch " << TORCH_VERSION << "; oneDNN (mkldnn) "
            << (at::hasMKLDNN() ? "built in" : "absent") << ", "
            << (at::globalContext().userEnabledMkldnn() ? "enabled" : "disabled")
            << "; channels-last " << (o.contiguous ? "off" : "on") << "\n"
            << "BLAS: " << (blas.config.empty() ? "not OpenBLAS: " + blas.library : blas.config)
            << ", core " << blas.core
            << (std::getenv("OPENBLAS_CORETYPE") != nullptr
                    ? std::string(" (forced: OPENBLAS_CORETYPE=") +
                          std::getenv("OPENBLAS_CORETYPE") + ")"
                    : std::string(" (OpenBLAS's choice)"))
            << "\n"
            << "Fashion-MNIST: " << data.labels.size(0) << " training images, batch "
            << o.batch_size << ", " << o.warmup << " warm-up + " << o.epochs << " timed epochs\n";

  std::vector<Result> results;
  std::vector<std::pair<int, std::pair<double, double>>> peaks;
  const auto use_threads = [&](int threads) {
    host::set_compute_threads(threads, o.blas_threads);
    std::cout << "threads " << threads << " (LibTorch " << at::get_num_threads() << ", BLAS "
              << host::loaded_blas().threads << ")\n";
  };
  for (const int threads : o.threads) {
    use_threads(threads);
    for (const std::string& model : o.models) {
      Result r = run_model(registry, model, data, o, threads);
      std::cout << "  " << model << ": epochs";
      for (double rate : r.rates) std::cout << " " << fixed(rate, 0, 0);
      std::cout << " samples/s; user " << fixed(r.usage.user, 2, 0) << " s, sys "
                << fixed(r.usage.sys, 2, 0) << " s, minor faults " << r.usage.minor_faults
                << " over " << fixed(r.seconds, 2, 0) << " s; loss " << fixed(r.final_loss, 4, 0)
                << "\n";
      if (o.eval_batch > 0) {
        std::cout << "  " << model << ": evaluate (batch " << o.eval_batch << ") "
                  << fixed(r.eval_rate, 0, 0) << " samples/s; user "
                  << fixed(r.eval_usage.user, 2, 0) << " s, sys " << fixed(r.eval_usage.sys, 2, 0)
                  << " s, minor faults " << r.eval_usage.minor_faults << "\n";
      }
      std::cout << std::flush;
      results.push_back(std::move(r));
    }
  }
  // The GEMMs after the training: their large buffers would otherwise raise glibc's
  // dynamic mmap threshold before the models run and hide the allocator's behaviour.
  for (const int threads : o.threads) {
    if (o.gemm_size <= 0) break;
    use_threads(threads);
    const double peak = gemm_peak(o.gemm_size, o.gemm_reps);
    const double dnnl = o.dnnl_gemm ? dnnl_gemm_peak(o.gemm_size, o.gemm_reps) : std::nan("");
    peaks.push_back({threads, {peak, dnnl}});
    std::cout << "  GEMM " << o.gemm_size << "^3 float32 via at::mm, best of " << o.gemm_reps
              << ": " << fixed(peak / 1e9, 1, 0) << " GFLOP/s";
    if (o.dnnl_gemm) {
      std::cout << "; (4096 x " << o.gemm_size << ") x (" << o.gemm_size << " x " << o.gemm_size
                << ") as a 1x1 conv (oneDNN): " << fixed(dnnl / 1e9, 1, 0) << " GFLOP/s";
    }
    std::cout << "\n" << std::flush;
  }

  std::cout << "\n"
            << std::left << std::setw(10) << "model" << std::right << std::setw(8) << "threads"
            << std::setw(11) << "samples/s" << std::setw(9) << "min" << std::setw(9) << "max"
            << std::setw(10) << "MACs/ex" << std::setw(9) << "GFLOP/s" << std::setw(10) << "peak"
            << std::setw(7) << "%peak" << std::setw(10) << "oneDNN" << std::setw(7) << "%"
            << std::setw(8) << "sys/s" << std::setw(10) << "eval/s"
            << "\n";
  for (const Result& r : results) {
    double peak = std::nan(""), dnnl = std::nan("");
    for (const auto& [t, p] : peaks) {
      if (t == r.threads) std::tie(peak, dnnl) = p;
    }
    const double flops = r.rate * 3.0 * 2.0 * static_cast<double>(r.macs);
    std::cout << std::left << std::setw(10) << r.model << std::right << std::setw(8) << r.threads
              << fixed(r.rate, 0, 11)
              << fixed(*std::min_element(r.rates.begin(), r.rates.end()), 0, 9)
              << fixed(*std::max_element(r.rates.begin(), r.rates.end()), 0, 9) << std::setw(10)
              << r.macs << fixed(flops / 1e9, 1, 9) << fixed(peak / 1e9, 1, 10)
              << fixed(100.0 * flops / peak, 1, 6) << "%" << fixed(dnnl / 1e9, 1, 10)
              << fixed(100.0 * flops / dnnl, 1, 6) << "%" << fixed(r.usage.sys / r.seconds, 3, 8)
              << fixed(r.eval_rate, 0, 10) << "\n";
    if (!o.json.empty()) {
      std::ofstream json(o.json, std::ios::app);
      json << "{\"impl\": \"cpp\", \"model\": \"" << r.model << "\", \"threads\": " << r.threads
           << ", \"batch_size\": " << o.batch_size << ", \"samples\": " << data.labels.size(0)
           << ", \"samples_per_s\": " << r.rate << ", \"epoch_rates\": [";
      for (std::size_t i = 0; i < r.rates.size(); ++i) json << (i ? ", " : "") << r.rates[i];
      json << "], \"macs_per_example\": " << r.macs << ", \"train_flops_per_s\": " << flops
           << ", \"gemm_flops_per_s\": " << peak << ", \"dnnl_gemm_flops_per_s\": " << dnnl
           << ", \"user_s\": " << r.usage.user << ", \"sys_s\": " << r.usage.sys
           << ", \"timed_s\": " << r.seconds << ", \"eval_samples_per_s\": " << r.eval_rate
           << ", \"eval_sys_s\": " << r.eval_usage.sys
           << ", \"channels_last\": " << (o.contiguous ? "false" : "true") << ", \"process\": \""
           << (o.plain_process ? "plain" : "secateurs") << "\""
           << ", \"mkldnn\": " << (at::globalContext().userEnabledMkldnn() ? "true" : "false")
           << "}\n";
    }
  }
  std::cout << "(FLOP/s = samples/s * 3 * 2 * MACs per example; peak: the at::mm GEMM (BLAS), "
               "oneDNN: the same GEMM as a 1x1 convolution, both with the same threads; sys/s: "
               "system CPU seconds per second of the timed epochs; eval/s: host::evaluate "
               "samples/s)\n";
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  std::cout << "peak resident memory: " << self.ru_maxrss / 1024 << " MiB\n";
  std::cout << "mapped libraries:\n" << mapped_libraries();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // What `secateurs` does before any work, unless the run measures a plain LibTorch
  // process.
  const bool plain = std::any_of(
      argv + 1, argv + argc, [](const char* arg) { return std::string(arg) == "--plain-process"; });
  if (!plain) host::prepare_process();
  Options o;
  CLI::App app{
      "Training-epoch throughput of model.mlp and model.small_cnn via host::fit, and "
      "the peak GEMM rate"};
  app.add_option("--model", o.models, "Models to train (mlp, small_cnn)")
      ->check(CLI::IsMember({"mlp", "small_cnn"}))
      ->delimiter(',');
  app.add_option("--threads", o.threads, "LibTorch intra-op thread counts, e.g. 1,2")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--blas-threads", o.blas_threads, "OpenBLAS threads (0: the same as --threads)");
  app.add_option("--samples", o.samples, "First N Fashion-MNIST training images")
      ->check(CLI::Range(1, 60000));
  app.add_option("--batch-size", o.batch_size, "Samples per SGD step")->check(CLI::PositiveNumber);
  app.add_option("--epochs", o.epochs, "Timed epochs")->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "Untimed epochs before them")->check(CLI::NonNegativeNumber);
  app.add_option("--eval-batch", o.eval_batch,
                 "After training, time host::evaluate on the training images in batches of "
                 "this size (0: skip)");
  app.add_option("--gemm-size", o.gemm_size, "n of the n x n x n GEMM (0: none)");
  app.add_option("--gemm-reps", o.gemm_reps, "GEMM repetitions (best of)")
      ->check(CLI::PositiveNumber);
  app.add_flag("!--no-dnnl-gemm", o.dnnl_gemm, "Skip the 1x1-convolution (oneDNN) GEMM");
  app.add_flag("--contiguous", o.contiguous,
               "Keep convolution weights contiguous (NCHW) instead of the trainer's default "
               "channels-last");
  app.add_flag("--no-mkldnn", o.no_mkldnn, "Disable oneDNN (at::globalContext)");
  app.add_option("--mmap-threshold", o.mmap_threshold, "mallopt(M_MMAP_THRESHOLD) in bytes");
  app.add_option("--trim-threshold", o.trim_threshold, "mallopt(M_TRIM_THRESHOLD) in bytes");
  app.add_option("--top-pad", o.top_pad, "mallopt(M_TOP_PAD) in bytes");
  app.add_option("--seed", o.seed, "Seed of the weights and the shuffling");
  app.add_option("--plugin-path", o.plugin_paths, "Extra plugin folders or files");
  app.add_flag("--plain-process", o.plain_process,
               "Skip the process set-up of `secateurs` (fixed malloc thresholds): a plain "
               "LibTorch program, like the Python one");
  app.add_option("--json", o.json, "Append one JSON line per result to this file");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "secateurs_bench_train: " << e.what() << "\n";
    return 1;
  }
}
