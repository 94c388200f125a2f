// The two series behind sampled_gaussian_rdp (secateurs/privacy.h), exposed so that the
// tests can check them against each other: log A_alpha of the sampled Gaussian mechanism
// by the binomial expansion (integer orders) and by the two-sided series with log erfc
// (any order > 1), as in Mironov, Talwar and Zhang (2019).
#pragma once

#include "secateurs/export.h"

namespace secateurs::detail {

SECATEURS_API double sampled_gaussian_log_a_integer(double q, double sigma, double order);
SECATEURS_API double sampled_gaussian_log_a_fractional(double q, double sigma, double alpha);

}  // namespace secateurs::detail
