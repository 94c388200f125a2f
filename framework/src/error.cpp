#include "secateurs/error.h"

namespace secateurs {

// Out-of-line destructors are the key functions: they pin each error type's type_info
// and vtable to the core library, so a catch in the host matches a throw in a plugin.
Error::Error(const std::string& message) : std::runtime_error(message) {}
Error::~Error() = default;
ConfigError::~ConfigError() = default;
PluginError::~PluginError() = default;
NotFoundError::~NotFoundError() = default;
DataError::~DataError() = default;

}  // namespace secateurs
