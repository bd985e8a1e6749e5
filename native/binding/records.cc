#include "records.h"

#include <cstddef>
#include <cstring>

namespace {

// Counters above 2^53 cannot be exact JS numbers; they would need years at line rate.
Napi::Number Count(Napi::Env env, uint64_t value) {
  return Napi::Number::New(env, static_cast<double>(value));
}

}  // namespace

Napi::ArrayBuffer PackFlowRecords(Napi::Env env, const wf_flow_record *records, size_t count) {
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, count * sizeof(wf_flow_record));
  if (count > 0) memcpy(buffer.Data(), records, count * sizeof(wf_flow_record));
  return buffer;
}

Napi::Object FlowRecordLayout(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
#define WF_FIELD(name) o.Set(#name, Napi::Number::New(env, offsetof(wf_flow_record, name)))
  o.Set("size", Napi::Number::New(env, sizeof(wf_flow_record)));
  WF_FIELD(flow_id);
  WF_FIELD(family);
  WF_FIELD(protocol);
  WF_FIELD(vlan_id);
  WF_FIELD(src);
  WF_FIELD(dst);
  WF_FIELD(src_port);
  WF_FIELD(dst_port);
  WF_FIELD(packets_fwd);
  WF_FIELD(packets_rev);
  WF_FIELD(bytes_fwd);
  WF_FIELD(bytes_rev);
  WF_FIELD(first_ns);
  WF_FIELD(last_ns);
  WF_FIELD(tcp_flags);
  WF_FIELD(state);
  WF_FIELD(end_reason);
#undef WF_FIELD
  return o;
}

Napi::Object MeterStatsToJs(Napi::Env env, const wf_meter_stats &s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("packets", Count(env, s.packets));
  o.Set("bytes", Count(env, s.bytes));
  o.Set("ip_packets", Count(env, s.ip_packets));
  o.Set("non_ip", Count(env, s.non_ip));
  o.Set("parse_errors", Count(env, s.parse_errors));
  o.Set("fragments_unmatched", Count(env, s.fragments_unmatched));
  o.Set("flows_active", Count(env, s.flows_active));
  o.Set("flows_created", Count(env, s.flows_created));
  o.Set("flows_emitted", Count(env, s.flows_emitted));
  o.Set("evictions", Count(env, s.evictions));
  o.Set("emit_queue_drops", Count(env, s.emit_queue_drops));
  o.Set("capacity", Napi::Number::New(env, s.capacity));
  o.Set("bytes_per_flow", Napi::Number::New(env, s.bytes_per_flow));
  o.Set("memory_bytes", Count(env, s.memory_bytes));
  return o;
}
