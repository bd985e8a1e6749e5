// Conversion of C flow records and counters into JS objects.
#pragma once

#include <napi.h>

extern "C" {
#include "wirefleet.h"
}

Napi::Object FlowRecordToJs(Napi::Env env, const wf_flow_record &r);
Napi::Array FlowRecordsToJs(Napi::Env env, const wf_flow_record *records, size_t count);
Napi::Object MeterStatsToJs(Napi::Env env, const wf_meter_stats &s);
