// Include this instead of <doctest/doctest.h> in tests that use LibTorch.
//
// Debian's LibTorch is built with glog, whose CHECK, CHECK_EQ, ... macros arrive with
// the torch headers and would replace doctest's. The torch headers come first here, the
// clashing glog macros are dropped, and doctest then defines its own.
#pragma once

#include <torch/torch.h>

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE

#include <doctest/doctest.h>
