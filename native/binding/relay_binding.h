// Node binding of the impairment relay (native/src/relay*.c): the ImpairmentRelay class.
#pragma once

#include <napi.h>

// new ImpairmentRelay({netns?, interfaceA, interfaceB, aToB?, bToA?, seed?, queueLimit?}) starts
// the relay thread (its sockets are open when the constructor returns); stats() and stop().
Napi::Function InitRelay(Napi::Env env);
