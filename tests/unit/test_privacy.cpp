// The RDP accountant of DP-SGD against the figures Opacus and TF Privacy publish, and
// against a direct numerical integration of the sampled Gaussian mechanism's moment.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <span>
#include <vector>

#include "host/privacy_series.h"
#include "secateurs/error.h"
#include "secateurs/privacy.h"

// The two series of privacy.cpp, exported for this test only: the fractional one must
// also hold at integer orders, where the binomial expansion is exact.

using namespace secateurs;

namespace {

// epsilon from RDP by the classic conversion, epsilon_alpha + log(1 / delta) / (alpha - 1)
// (Mironov 2017, Proposition 3), which Opacus used before its 1.0 release.
double classic_epsilon(double q, double sigma, std::int64_t steps, double delta,
                       std::span<const double> orders) {
  double best = std::numeric_limits<double>::infinity();
  for (const double alpha : orders) {
    const double rdp = static_cast<double>(steps) * sampled_gaussian_rdp(q, sigma, alpha);
    best = std::min(best, rdp - std::log(delta) / (alpha - 1.0));
  }
  return best;
}

double log_add(double a, double b) {
  const double low = std::min(a, b), high = std::max(a, b);
  if (low == -std::numeric_limits<double>::infinity()) return high;
  return high + std::log1p(std::exp(low - high));
}

// log A_alpha = log E_{z ~ N(0, sigma^2)} [(1 - q + q exp((2z - 1) / (2 sigma^2)))^alpha] by
// the trapezoidal rule, which converges faster than any power of the step for integrands
// that decay like a Gaussian; the integrand peaks near z = alpha.
double integrated_log_a(double q, double sigma, double alpha) {
  const double step = sigma / 64.0;
  const double low = -40.0 * sigma, high = alpha + 40.0 * sigma;
  const double log_normaliser = -std::log(sigma * std::sqrt(2.0 * std::numbers::pi));
  double log_sum = -std::numeric_limits<double>::infinity();
  for (double z = low; z <= high; z += step) {
    const double log_ratio =
        log_add(std::log1p(-q), std::log(q) + (2.0 * z - 1.0) / (2.0 * sigma * sigma));
    log_sum = log_add(log_sum, log_normaliser - z * z / (2.0 * sigma * sigma) + alpha * log_ratio);
  }
  return log_sum + std::log(step);
}

}  // namespace

TEST_CASE("Opacus's documented example: q 0.01, sigma 1, 300 steps give epsilon 2.39 at order 5") {
  // opacus/scripts/compute_dp_sgd_privacy.py (1.x): "--epochs=3 --delta=1e-5 --sample-rate
  // 0.01 --noise-multiplier 1.0 --alphas 2 5 10 20 100 ... iterated over 300 steps ...
  // epsilon = 2.39 ... The optimal alpha is 5.0", with the conversion of Balle et al.
  const std::vector<double> orders{2, 5, 10, 20, 100};
  const PrivacyGuarantee g = dp_sgd_privacy(0.01, 1.0, 300, 1e-5, orders);
  CHECK(std::abs(g.epsilon - 2.39) < 0.006);
  CHECK(g.order == 5.0);
  CHECK(g.delta == 1e-5);
  // The classic conversion gives 3.02 here: this figure needs the header's conversion.
  CHECK(std::abs(classic_epsilon(0.01, 1.0, 300, 1e-5, orders) - 3.02) < 0.006);
}

TEST_CASE("Opacus 0.x's script example (60000, 256, sigma 1.12, 60 epochs) is 2.95 classically") {
  // opacus/scripts/compute_dp_sgd_privacy.py (0.x): "--dataset-size=60000 --batch-size=256
  // --noise_multiplier=1.12 --epochs=60 --delta=1e-5 --a 10 20 100 ... (2.95, 1e-5)". That
  // version counted steps = epochs * ceil(60000 / 256) = 14100 and converted with the
  // classic epsilon_alpha + log(1 / delta) / (alpha - 1).
  const std::vector<double> orders{10, 20, 100};
  const double q = 256.0 / 60000.0;
  const std::int64_t ceil_steps = 60 * ((60000 + 255) / 256);
  const std::int64_t floor_steps = 60 * (60000 / 256);
  REQUIRE(ceil_steps == 14100);
  REQUIRE(floor_steps == 14040);
  CHECK(std::abs(classic_epsilon(q, 1.12, ceil_steps, 1e-5, orders) - 2.95) < 0.006);
  // Floor steps print 2.94: not the published figure.
  CHECK(std::abs(classic_epsilon(q, 1.12, floor_steps, 1e-5, orders) - 2.94) < 0.006);

  // The conversion of Balle et al. (privacy.h) is tighter at every order, hence here:
  // 2.58 (cross-checked with an independent double-precision implementation of the
  // binomial expansion).
  const PrivacyGuarantee g = dp_sgd_privacy(q, 1.12, ceil_steps, 1e-5, orders);
  CHECK(std::abs(g.epsilon - 2.5847479) < 1e-6);
  CHECK(g.order == 10.0);
  CHECK(g.epsilon < classic_epsilon(q, 1.12, ceil_steps, 1e-5, orders));
}

TEST_CASE("TF Privacy's published RDP values, integer and fractional orders") {
  // tensorflow_privacy/privacy/analysis/rdp_accountant_test.py: test_compute_rdp_scalar
  // and test_compute_rdp_sequence (RDP of `steps` steps).
  CHECK(std::abs(10 * sampled_gaussian_rdp(0.1, 2.0, 5) - 0.07737) < 5e-6);
  const std::vector<double> orders{1.5, 2.5, 5, 50, 100};
  const std::vector<double> published{0.00065, 0.001085, 0.00218075, 0.023846, 167.416307};
  for (std::size_t k = 0; k < orders.size(); ++k) {
    CAPTURE(orders[k]);
    CHECK(std::abs(50 * sampled_gaussian_rdp(0.01, 2.5, orders[k]) - published[k]) < 1e-5);
  }
}

TEST_CASE("the fractional series equals the binomial expansion at integer orders") {
  for (const double q : {1e-4, 0.01, 256.0 / 60000.0, 0.3, 0.9}) {
    for (const double sigma : {0.7, 1.0, 1.12, 2.5, 10.0}) {
      for (const double alpha : {2.0, 3.0, 5.0, 10.0, 20.0}) {
        CAPTURE(q);
        CAPTURE(sigma);
        CAPTURE(alpha);
        const double integer = detail::sampled_gaussian_log_a_integer(q, sigma, alpha);
        const double fractional = detail::sampled_gaussian_log_a_fractional(q, sigma, alpha);
        CHECK(std::abs(integer - fractional) <= 1e-9 * std::max(1.0, std::abs(integer)));
      }
    }
  }
  // At alpha = 3 through the public function: the RDP is continuous across the switch.
  const double at_three = sampled_gaussian_rdp(0.01, 1.0, 3.0);
  CHECK(std::abs(sampled_gaussian_rdp(0.01, 1.0, 3.0 + 1e-9) - at_three) < 1e-9);
  CHECK(std::abs(sampled_gaussian_rdp(0.01, 1.0, 3.0 - 1e-9) - at_three) < 1e-9);
}

TEST_CASE("both series agree with a numerical integration of A_alpha") {
  for (const double q : {0.001, 0.01, 0.1}) {
    for (const double sigma : {0.8, 1.0, 2.5}) {
      for (const double alpha : {1.1, 1.5, 2.0, 2.5, 7.3, 12.0, 20.5}) {
        CAPTURE(q);
        CAPTURE(sigma);
        CAPTURE(alpha);
        const double expected = integrated_log_a(q, sigma, alpha);
        const double log_a = (alpha - 1.0) * sampled_gaussian_rdp(q, sigma, alpha);
        CHECK(std::abs(log_a - expected) <= 1e-9 * std::max(1.0, std::abs(expected)));
      }
    }
  }
}

TEST_CASE("no sampling is the Gaussian mechanism, an empty batch leaks nothing") {
  CHECK(sampled_gaussian_rdp(1.0, 10.0, 20) == doctest::Approx(0.1).epsilon(1e-15));
  for (const double alpha : {1.5, 2.0, 7.25, 32.0}) {
    for (const double sigma : {0.5, 1.0, 3.0}) {
      CHECK(sampled_gaussian_rdp(1.0, sigma, alpha) == alpha / (2.0 * sigma * sigma));
    }
    CHECK(sampled_gaussian_rdp(0.0, 1.0, alpha) == 0.0);
  }
  const PrivacyGuarantee none = dp_sgd_privacy(0.0, 1.0, 1000, 1e-5);
  CHECK(none.epsilon == 0.0);
  CHECK(dp_sgd_privacy(0.01, 1.0, 0, 1e-5).epsilon == 0.0);
}

TEST_CASE("epsilon grows with the steps and shrinks with the noise") {
  double previous = 0.0;
  for (const std::int64_t steps : {1, 10, 100, 1000, 10000}) {
    CAPTURE(steps);
    const double epsilon = dp_sgd_privacy(0.01, 1.0, steps, 1e-5).epsilon;
    CHECK(epsilon > previous);
    previous = epsilon;
  }
  previous = std::numeric_limits<double>::infinity();
  for (const double sigma : {0.6, 0.8, 1.0, 1.5, 3.0, 10.0}) {
    CAPTURE(sigma);
    const double epsilon = dp_sgd_privacy(0.01, sigma, 1000, 1e-5).epsilon;
    CHECK(epsilon < previous);
    CHECK(epsilon > 0.0);
    previous = epsilon;
  }
  // A larger delta buys a smaller epsilon.
  CHECK(dp_sgd_privacy(0.01, 1.0, 1000, 1e-3).epsilon <
        dp_sgd_privacy(0.01, 1.0, 1000, 1e-5).epsilon);
}

TEST_CASE("the default orders are Opacus's, and an empty list means them") {
  const std::span<const double> orders = default_rdp_orders();
  REQUIRE(orders.size() == 151);
  CHECK(orders.front() == 1.1);
  CHECK(orders[98] == 10.9);
  CHECK(orders[99] == 12.0);
  CHECK(orders.back() == 63.0);
  CHECK(std::is_sorted(orders.begin(), orders.end()));

  const PrivacyGuarantee by_default = dp_sgd_privacy(0.01, 1.0, 300, 1e-5);
  const PrivacyGuarantee explicit_orders = dp_sgd_privacy(0.01, 1.0, 300, 1e-5, orders);
  CHECK(by_default.epsilon == explicit_orders.epsilon);
  CHECK(by_default.order == explicit_orders.order);
  // The fine grid does at least as well as Opacus's five documented orders.
  CHECK(by_default.epsilon <= 2.39 + 0.005);
  // Every default order, fractional ones included, is computable over a wide range.
  for (const double q : {1e-5, 0.004, 0.1, 0.5, 0.99}) {
    for (const double sigma : {0.5, 1.0, 4.0, 50.0}) {
      CAPTURE(q);
      CAPTURE(sigma);
      for (const double alpha : orders) {
        const double rdp = sampled_gaussian_rdp(q, sigma, alpha);
        CHECK((std::isfinite(rdp) && rdp >= 0.0));
      }
    }
  }
}

TEST_CASE("arguments outside their ranges are refused") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(sampled_gaussian_rdp(-0.1, 1.0, 2), Error);
  CHECK_THROWS_AS(sampled_gaussian_rdp(1.1, 1.0, 2), Error);
  CHECK_THROWS_AS(sampled_gaussian_rdp(nan, 1.0, 2), Error);
  CHECK_THROWS_AS(sampled_gaussian_rdp(0.1, 0.0, 2), Error);
  CHECK_THROWS_AS(sampled_gaussian_rdp(0.1, -1.0, 2), Error);
  CHECK_THROWS_AS(sampled_gaussian_rdp(0.1, 1.0, 1.0), Error);
  CHECK_THROWS_AS(sampled_gaussian_rdp(0.1, 1.0, 0.5), Error);
  CHECK_THROWS_AS(sampled_gaussian_rdp(0.1, 1.0, nan), Error);
  CHECK_THROWS_AS(dp_sgd_privacy(0.1, 1.0, 10, 0.0), Error);
  CHECK_THROWS_AS(dp_sgd_privacy(0.1, 1.0, 10, 1.0), Error);
  CHECK_THROWS_AS(dp_sgd_privacy(0.1, 1.0, -1, 1e-5), Error);
  CHECK_THROWS_AS(dp_sgd_privacy(0.1, 0.0, 10, 1e-5), Error);
  const std::vector<double> bad_orders{2.0, 1.0};
  CHECK_THROWS_AS(dp_sgd_privacy(0.1, 1.0, 10, 1e-5, bad_orders), Error);
}
