#include "records.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cinttypes>
#include <cstdio>

namespace {

const char *StateName(uint8_t state) {
  switch (state) {
    case WF_STATE_CLOSING: return "CLOSING";
    case WF_STATE_CLOSED: return "CLOSED";
    default: return "ACTIVE";
  }
}

const char *EndReasonName(uint8_t reason) {
  switch (reason) {
    case WF_END_IDLE: return "idle";
    case WF_END_ACTIVE: return "active";
    case WF_END_FIN_RST: return "fin_rst";
    case WF_END_END_OF_CAPTURE: return "end_of_capture";
    case WF_END_EVICTED: return "evicted";
    default: return nullptr;
  }
}

Napi::String Address(Napi::Env env, uint8_t family, const uint8_t *bytes) {
  char text[INET6_ADDRSTRLEN] = "";
  inet_ntop(family == 6 ? AF_INET6 : AF_INET, bytes, text, sizeof text);
  return Napi::String::New(env, text);
}

// Counters above 2^53 cannot be exact JS numbers; they would need years at line rate.
Napi::Number Count(Napi::Env env, uint64_t value) {
  return Napi::Number::New(env, static_cast<double>(value));
}

}  // namespace

Napi::Object FlowRecordToJs(Napi::Env env, const wf_flow_record &r) {
  Napi::Object o = Napi::Object::New(env);
  char id[17];
  snprintf(id, sizeof id, "%016" PRIx64, r.flow_id);
  char flags[48];
  wf_tcp_flags_string(r.tcp_flags, flags, sizeof flags);
  // A double holds epoch time to about 0.2 µs, so report whole microseconds.
  const double first = static_cast<double>(r.first_ns / 1000) / 1e6;
  const double last = static_cast<double>(r.last_ns / 1000) / 1e6;
  o.Set("flow_id", id);
  o.Set("ip_version", Napi::Number::New(env, r.family));
  o.Set("src_ip", Address(env, r.family, r.src));
  o.Set("dst_ip", Address(env, r.family, r.dst));
  o.Set("src_port", Napi::Number::New(env, r.src_port));
  o.Set("dst_port", Napi::Number::New(env, r.dst_port));
  o.Set("protocol", Napi::Number::New(env, r.protocol));
  o.Set("vlan_id", Napi::Number::New(env, r.vlan_id));
  o.Set("packets", Count(env, r.packets_fwd + r.packets_rev));
  o.Set("bytes", Count(env, r.bytes_fwd + r.bytes_rev));
  o.Set("packets_fwd", Count(env, r.packets_fwd));
  o.Set("packets_rev", Count(env, r.packets_rev));
  o.Set("bytes_fwd", Count(env, r.bytes_fwd));
  o.Set("bytes_rev", Count(env, r.bytes_rev));
  o.Set("first_seen", Napi::Number::New(env, first));
  o.Set("last_seen", Napi::Number::New(env, last));
  o.Set("duration_sec", Napi::Number::New(env, static_cast<double>((r.last_ns - r.first_ns) / 1000) / 1e6));
  o.Set("tcp_flags", flags);
  o.Set("state", StateName(r.state));
  const char *reason = EndReasonName(r.end_reason);
  o.Set("end_reason", reason ? Napi::Value(Napi::String::New(env, reason)) : env.Null());
  return o;
}

Napi::Array FlowRecordsToJs(Napi::Env env, const wf_flow_record *records, size_t count) {
  Napi::Array out = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; i++) out.Set(static_cast<uint32_t>(i), FlowRecordToJs(env, records[i]));
  return out;
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
