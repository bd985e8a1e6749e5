// Live capture binding (capture.cc): the LiveCapture class and compileFilter.
#pragma once

#include <napi.h>

// Returns the LiveCapture constructor; compileFilter is attached to it as a static method.
Napi::Function InitCapture(Napi::Env env);
