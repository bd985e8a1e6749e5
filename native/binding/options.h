// Reading options objects passed from JS, shared by every class of the binding.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

extern "C" {
#include "wirefleet.h"
}

// A non-negative integer option; absent (undefined/null) gives fallback. Wrong
// types and out-of-range values throw TypeError/RangeError naming the key.
uint32_t UintOption(Napi::Object o, const char *key, uint32_t fallback);
// A string option; absent gives "".
std::string StringOption(Napi::Object o, const char *key);
// {maxFlows, idleTimeoutS, activeTimeoutS, seed: bigint} -> wf_meter_config (65536 flows by default).
wf_meter_config MeterConfigOption(Napi::Value options);
