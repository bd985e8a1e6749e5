// Node binding of the Tango forwarder (native/src/tango_forward.c): the TangoForwarder class.
#pragma once

#include <napi.h>

// new TangoForwarder({node, tunName, paths: [{pathId, interface}], classes?, classPaths}) opens
// the TUN and the path sockets and starts the thread; setClassPath, sendRouteUpdate, classPaths,
// stats, locked(fn) and stop().
Napi::Function InitTangoForwarder(Napi::Env env);
