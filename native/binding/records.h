// Flow records cross into JS as one packed ArrayBuffer (decoded by
// native/flow-records.ts): building objects property by property through
// N-API costs about 10 µs a record, decoding in JS a fraction of that.
#pragma once

#include <napi.h>

extern "C" {
#include "wirefleet.h"
}

Napi::ArrayBuffer PackFlowRecords(Napi::Env env, const wf_flow_record *records, size_t count);
// Byte offsets of wf_flow_record's fields, so the JS decoder never guesses the layout.
Napi::Object FlowRecordLayout(Napi::Env env);
Napi::Object MeterStatsToJs(Napi::Env env, const wf_meter_stats &s);
