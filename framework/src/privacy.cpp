// The RDP of the sampled Gaussian mechanism follows Mironov, Talwar and Zhang, "Rényi
// Differential Privacy of the Sampled Gaussian Mechanism" (2019), section 3.3, computed
// as TF Privacy's and Opacus's rdp accountants do, so that the figures match theirs.
#include "secateurs/privacy.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>

#include "host/privacy_series.h"
#include "secateurs/error.h"

namespace secateurs {

namespace {

constexpr double kNegativeInfinity = -std::numeric_limits<double>::infinity();

// log(exp(a) + exp(b)) without overflow; -inf stands for 0.
double log_add(double a, double b) {
  const double low = std::min(a, b), high = std::max(a, b);
  if (low == kNegativeInfinity) return high;
  return high + std::log1p(std::exp(low - high));
}

// log(exp(a) - exp(b)) for a >= b.
double log_sub(double a, double b, double order) {
  if (b == kNegativeInfinity) return a;
  if (a < b) {
    // The alternating series cancels below double precision: a wrong epsilon would be
    // worse than none.
    throw Error("sampled Gaussian RDP: the series at order " + std::to_string(order) +
                " lost its precision; use an integer order");
  }
  if (a == b) return kNegativeInfinity;
  return a + std::log1p(-std::exp(b - a));
}

// log(erfc(x)), also where erfc(x) underflows. Past x = 25 erfc is below 1e-273 and
// loses bits towards the subnormal range; there the asymptotic series of
// log(erfc(x) x sqrt(pi) exp(x^2)) is exact to double precision (its next term is below
// 1e-12).
double log_erfc(double x) {
  if (x < 25.0) return std::log(std::erfc(x));
  const double r = 1.0 / (x * x);
  return -0.5 * std::log(std::numbers::pi) - std::log(x) - x * x +
         r * (-0.5 + r * (0.625 + r * (-37.0 / 24.0 + r * (353.0 / 64.0))));
}

void check_rate_and_noise(double sampling_rate, double noise_multiplier) {
  if (!(sampling_rate >= 0.0 && sampling_rate <= 1.0)) {
    throw Error("DP accounting: the sampling rate must be in [0, 1], got " +
                std::to_string(sampling_rate));
  }
  if (!(noise_multiplier > 0.0) || !std::isfinite(noise_multiplier)) {
    throw Error("DP accounting: the noise multiplier must be a finite number > 0, got " +
                std::to_string(noise_multiplier));
  }
}

void check_order(double order) {
  if (!(order > 1.0) || !std::isfinite(order)) {
    throw Error("DP accounting: an RDP order must be a finite number > 1, got " +
                std::to_string(order));
  }
}

}  // namespace

namespace detail {

// log A_alpha for an integer alpha: the binomial expansion of
// E_{z ~ N(0, sigma^2)} [(1 - q + q exp((2z - 1) / (2 sigma^2)))^alpha].
// For 0 < q < 1 and an integer order > 1.
double sampled_gaussian_log_a_integer(double q, double sigma, double order) {
  const auto alpha = static_cast<std::int64_t>(order);
  const double log_q = std::log(q), log_1mq = std::log1p(-q);
  const double two_variance = 2.0 * sigma * sigma;
  double log_a = kNegativeInfinity;
  double log_binomial = 0.0;  // log C(alpha, i), by the recurrence: lgamma is not thread-safe
  for (std::int64_t i = 0; i <= alpha; ++i) {
    if (i > 0) {
      log_binomial +=
          std::log(static_cast<double>(alpha - i + 1)) - std::log(static_cast<double>(i));
    }
    const auto fi = static_cast<double>(i);
    const double term = log_binomial + fi * log_q + static_cast<double>(alpha - i) * log_1mq +
                        (fi * fi - fi) / two_variance;
    log_a = log_add(log_a, term);
  }
  return log_a;
}

// log A_alpha for any real alpha > 1: the integral split at z0, where the mixture's
// density ratio crosses 1, and each half expanded in its own convergent binomial series
// (the second with the roles of q and 1 - q swapped) whose Gaussian tails are erfc terms.
// The generalised binomial coefficients change sign past i = alpha, hence the log-space
// subtraction. Terms are summed until both fall below exp(-30), as TF Privacy does. For
// 0 < q < 1.
double sampled_gaussian_log_a_fractional(double q, double sigma, double alpha) {
  const double log_q = std::log(q), log_1mq = std::log1p(-q);
  const double two_variance = 2.0 * sigma * sigma;
  const double erfc_scale = std::numbers::sqrt2 * sigma;
  const double z0 = sigma * sigma * (log_1mq - log_q) + 0.5;
  double log_a0 = kNegativeInfinity, log_a1 = kNegativeInfinity;
  double log_binomial = 0.0;  // log |C(alpha, i)|
  bool positive = true;       // sign of C(alpha, i)
  // The terms decay at least geometrically once i exceeds alpha; the cap only turns a
  // numerical failure into an error instead of an endless loop.
  const auto max_terms = static_cast<std::int64_t>(alpha) + 100000;
  for (std::int64_t i = 0;; ++i) {
    if (i > 0) {
      const double factor = (alpha - static_cast<double>(i) + 1.0) / static_cast<double>(i);
      if (factor == 0.0) break;  // an integer alpha: every later coefficient is 0
      if (factor < 0) positive = !positive;
      log_binomial += std::log(std::abs(factor));
    }
    const auto fi = static_cast<double>(i);
    const double j = alpha - fi;
    const double log_t0 = log_binomial + fi * log_q + j * log_1mq;
    const double log_t1 = log_binomial + j * log_q + fi * log_1mq;
    const double log_e0 = std::log(0.5) + log_erfc((fi - z0) / erfc_scale);
    const double log_e1 = std::log(0.5) + log_erfc((z0 - j) / erfc_scale);
    const double log_s0 = log_t0 + (fi * fi - fi) / two_variance + log_e0;
    const double log_s1 = log_t1 + (j * j - j) / two_variance + log_e1;
    if (std::isnan(log_s0) || std::isnan(log_s1) || i > max_terms) {
      throw Error("sampled Gaussian RDP: the series at order " + std::to_string(alpha) +
                  " does not converge in double precision");
    }
    if (positive) {
      log_a0 = log_add(log_a0, log_s0);
      log_a1 = log_add(log_a1, log_s1);
    } else {
      log_a0 = log_sub(log_a0, log_s0, alpha);
      log_a1 = log_sub(log_a1, log_s1, alpha);
    }
    if (std::max(log_s0, log_s1) < -30.0) break;
  }
  return log_add(log_a0, log_a1);
}

}  // namespace detail

double sampled_gaussian_rdp(double sampling_rate, double noise_multiplier, double order) {
  check_rate_and_noise(sampling_rate, noise_multiplier);
  check_order(order);
  if (sampling_rate == 0.0) return 0.0;
  // Without sampling, the Gaussian mechanism of sensitivity 1 (Mironov 2017).
  if (sampling_rate == 1.0) return order / (2.0 * noise_multiplier * noise_multiplier);
  const double log_a =
      std::floor(order) == order
          ? detail::sampled_gaussian_log_a_integer(sampling_rate, noise_multiplier, order)
          : detail::sampled_gaussian_log_a_fractional(sampling_rate, noise_multiplier, order);
  return log_a / (order - 1.0);
}

std::span<const double> default_rdp_orders() {
  // Opacus's default alphas: 1 + x / 10 computed as it does, so the orders are the same
  // doubles.
  static const std::array<double, 151> orders = [] {
    std::array<double, 151> values{};
    std::size_t n = 0;
    for (int x = 1; x < 100; ++x) values[n++] = 1.0 + x / 10.0;
    for (int a = 12; a < 64; ++a) values[n++] = a;
    return values;
  }();
  return orders;
}

PrivacyGuarantee dp_sgd_privacy(double sampling_rate, double noise_multiplier, std::int64_t steps,
                                double delta, std::span<const double> orders) {
  check_rate_and_noise(sampling_rate, noise_multiplier);
  if (!(delta > 0.0 && delta < 1.0)) {
    throw Error("DP accounting: delta must be in (0, 1), got " + std::to_string(delta));
  }
  if (steps < 0) {
    throw Error("DP accounting: the number of steps must be >= 0, got " + std::to_string(steps));
  }
  if (orders.empty()) orders = default_rdp_orders();
  for (const double order : orders) check_order(order);

  PrivacyGuarantee best;
  best.delta = delta;
  // Nothing released, or nobody sampled: the mechanism is (0, 0)-DP whatever the order,
  // while the conversion below would charge every order a positive epsilon.
  if (steps == 0 || sampling_rate == 0.0) return best;

  best.epsilon = std::numeric_limits<double>::infinity();
  best.order = orders.front();
  const double log_delta = std::log(delta);
  for (const double alpha : orders) {
    const double rdp =
        static_cast<double>(steps) * sampled_gaussian_rdp(sampling_rate, noise_multiplier, alpha);
    const double epsilon =
        rdp + std::log((alpha - 1.0) / alpha) - (log_delta + std::log(alpha)) / (alpha - 1.0);
    if (epsilon < best.epsilon) {
      best.epsilon = epsilon;
      best.order = alpha;
    }
  }
  // (epsilon, delta)-DP with epsilon < 0 implies (0, delta)-DP; a negative epsilon (delta
  // close to 1) means nothing more.
  best.epsilon = std::max(best.epsilon, 0.0);
  return best;
}

}  // namespace secateurs
