// model.mlp: a multilayer perceptron on flattened inputs.
#include "fully_connected.h"

namespace {

void register_components(secateurs::Registrar& registrar) {
  using secateurs_models::FullyConnected;
  registrar.add(secateurs::ComponentSpec{
      secateurs::Kind::Model, "mlp",
      "Multilayer perceptron on flattened inputs (Linear + ReLU/tanh stack)",
      FullyConnected::schema({512, 256}, "relu"),
      [](const secateurs::Params& params) -> secateurs::Component* {
        return new FullyConnected("model.mlp", params);
      }});
}

}  // namespace

SECATEURS_PLUGIN("mlp", "1.0.0", register_components)
