// Symbol visibility for the SDK.
//
// Every target of secateurs builds with -fvisibility=hidden; SDK types that must have
// one identity across the host and all plugins (their type_info, vtables, the error
// types that cross library boundaries) are marked SECATEURS_API so that they live,
// exported, in the core library only.
#pragma once

#define SECATEURS_API __attribute__((visibility("default")))
