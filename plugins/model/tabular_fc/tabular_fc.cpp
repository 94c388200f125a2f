// model.tabular_fc: the fully connected network of the membership-inference literature
// on Purchase-100 and Texas-100 (Nasr, Shokri and Houmansadr, CCS 2018).
#include "fully_connected.h"

namespace {

void register_components(secateurs::Registrar& registrar) {
  using secateurs_models::FullyConnected;
  registrar.add(secateurs::ComponentSpec{
      secateurs::Kind::Model, "tabular_fc",
      "Fully connected net for tabular data: 1024-512-256-128 tanh (Nasr et al. 2018)",
      FullyConnected::schema({1024, 512, 256, 128}, "tanh"),
      [](const secateurs::Params& params) -> secateurs::Component* {
        return new FullyConnected("model.tabular_fc", params);
      }});
}

}  // namespace

SECATEURS_PLUGIN("tabular_fc", "1.0.0", register_components)
