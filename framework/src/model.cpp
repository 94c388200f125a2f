#include <ATen/ATen.h>

#include <string>

#include "secateurs/error.h"
#include "secateurs/model.h"

namespace secateurs {

void check_data_shape(std::string_view model, const DataShape& shape, std::size_t rank,
                      std::string_view expected) {
  const at::IntArrayRef dims(shape.input_shape);
  bool fits = !dims.empty() && (rank == 0 || dims.size() == rank);
  for (const std::int64_t d : dims) fits = fits && d > 0;
  if (!fits) {
    throw ConfigError(std::string(model) + " takes examples of shape " + std::string(expected) +
                      ", got " + c10::str(dims));
  }
  if (shape.num_classes < 2) {
    throw ConfigError(std::string(model) + " needs at least 2 classes, got " +
                      std::to_string(shape.num_classes));
  }
}

void check_model_inputs(std::string_view model, const DataShape& shape, const at::Tensor& inputs) {
  if (shape.num_classes == 0) {
    throw Error(std::string(model) + ": forward() called before build()");
  }
  const at::IntArrayRef example(shape.input_shape);
  const bool fits = inputs.defined() &&
                    inputs.dim() == static_cast<std::int64_t>(example.size()) + 1 &&
                    inputs.sizes().slice(1) == example && at::isFloatingType(inputs.scalar_type());
  if (!fits) {
    throw DataError(
        std::string(model) + " expects float inputs [N, " + c10::str(example).substr(1) + ", got " +
        (inputs.defined()
             ? std::string(c10::toString(inputs.scalar_type())) + " " + c10::str(inputs.sizes())
             : std::string("an undefined tensor")));
  }
}

}  // namespace secateurs
