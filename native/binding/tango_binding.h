// Node binding of the Tango tunnel core (native/src/tango*.c): the TangoNode class.
#pragma once

#include <napi.h>

extern "C" {
#include "tango.h"
}

// The `TangoNode` class: new TangoNode({side, udpPort?, hopLimit?, mtu?, maxAgeMs?,
// maxAheadMs?, graceMs?}), with setPath, setSendKey, rotateReceiveKey, setClockOffset,
// encapsulate, decapsulate, pathStats, stats and close.
Napi::Function InitTango(Napi::Env env);

// The C node behind a JS TangoNode, for native forwarding loops that take one (the AF_PACKET
// forwarder). Throws a JS TypeError when `value` is not a TangoNode, an Error when it is closed.
wf_tango_node *UnwrapTangoNode(Napi::Value value);
