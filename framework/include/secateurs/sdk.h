// Everything a plugin may include, in one header.
#pragma once

#include "secateurs/abi.h"
#include "secateurs/attack.h"
#include "secateurs/component.h"
#include "secateurs/context.h"
#include "secateurs/dataset.h"
#include "secateurs/defense.h"
#include "secateurs/error.h"
#include "secateurs/gradients.h"
#include "secateurs/init.h"
#include "secateurs/metrics.h"
#include "secateurs/model.h"
#include "secateurs/params.h"
#include "secateurs/plugin.h"
#include "secateurs/privacy.h"
#include "secateurs/pruner.h"
#include "secateurs/random.h"
