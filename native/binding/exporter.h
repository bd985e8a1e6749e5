// Node binding of the flow exporter (NetFlow v5 / IPFIX over UDP).
#pragma once

#include <napi.h>

extern "C" {
#include "wirefleet.h"
}

// The `Exporter` class: new Exporter({version, targets, observationDomain?,
// templateRefreshS?, templateRefreshPackets?, maxDatagramsPerS?}).
Napi::Function InitExporter(Napi::Env env);

// The C exporter behind a JS Exporter object, so native loops (FlowMeter.meterFile)
// can hand it records without going through JS. Throws a JS TypeError when `value`
// is not an Exporter, and an Error when it is closed.
wf_exporter *UnwrapExporter(Napi::Value value);
