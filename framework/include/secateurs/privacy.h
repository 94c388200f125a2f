// Privacy accounting of DP-SGD: Rényi differential privacy (RDP) of the sampled Gaussian
// mechanism (Mironov, Talwar and Zhang, 2019), composed over the training steps and
// converted to (epsilon, delta).
//
// Pure functions of their arguments: safe from any thread.
#pragma once

#include <cstdint>
#include <span>

#include "secateurs/export.h"

namespace secateurs {

// RDP at `order` (alpha > 1, integer or not) of one step of the sampled Gaussian
// mechanism: each sample joins the batch with probability `sampling_rate` (q in [0, 1]),
// and Gaussian noise of standard deviation `noise_multiplier` (sigma > 0) times the
// clipping norm is added to the summed clipped gradients. Throws Error for arguments
// outside those ranges.
SECATEURS_API double sampled_gaussian_rdp(double sampling_rate, double noise_multiplier,
                                          double order);

struct PrivacyGuarantee {
  double epsilon = 0;
  double delta = 0;
  double order = 0;  // the RDP order that gave the smallest epsilon
};

// The RDP orders searched when none are given: 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63.
SECATEURS_API std::span<const double> default_rdp_orders();

// (epsilon, delta) of `steps` steps of DP-SGD: RDP composes additively over steps, and
// each order's RDP epsilon_alpha converts to
//   epsilon = epsilon_alpha + log((alpha - 1) / alpha) - (log delta + log alpha) / (alpha - 1)
// (Balle et al. 2020, the conversion of Opacus and TF Privacy); the smallest over `orders`
// (default_rdp_orders() when empty) is returned.
SECATEURS_API PrivacyGuarantee dp_sgd_privacy(double sampling_rate, double noise_multiplier,
                                              std::int64_t steps, double delta,
                                              std::span<const double> orders = {});

}  // namespace secateurs
