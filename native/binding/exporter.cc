// Exporter: a JS handle on wf_exporter. send() converts JS FlowRecord objects
// back into wf_flow_record (slow path, for records that already live in JS);
// FlowMeter.meterFile({exporter}) uses UnwrapExporter to send the C records
// directly (fast path).
#include "exporter.h"
#include "options.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Marks objects made by this class, so UnwrapExporter never casts a foreign object.
constexpr napi_type_tag kExporterTag = {0x7766657870307274ull, 0x9d3c5a1be0f24c61ull};

class Exporter : public Napi::ObjectWrap<Exporter> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Exporter",
                       {InstanceMethod("send", &Exporter::Send),
                        InstanceMethod("flush", &Exporter::Flush),
                        InstanceMethod("stats", &Exporter::Stats),
                        InstanceMethod("close", &Exporter::Close)});
  }

  explicit Exporter(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Exporter>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      throw Napi::TypeError::New(env, "new Exporter({version, targets}) needs an options object");
    }
    Napi::Object o = info[0].As<Napi::Object>();
    wf_exporter_config config{};
    config.version = static_cast<int>(UintOption(o, "version", 10));
    Napi::Value targets = o.Get("targets");
    if (!targets.IsArray()) throw Napi::TypeError::New(env, "targets must be an array of HOST:PORT");
    Napi::Array list = targets.As<Napi::Array>();
    std::vector<std::string> texts;
    for (uint32_t i = 0; i < list.Length(); i++) {
      Napi::Value t = list.Get(i);
      if (!t.IsString()) throw Napi::TypeError::New(env, "targets must be strings (HOST:PORT)");
      texts.push_back(t.As<Napi::String>().Utf8Value());
    }
    std::vector<const char *> pointers;
    for (const std::string &t : texts) pointers.push_back(t.c_str());
    config.targets = pointers.data();
    config.target_count = pointers.size();
    config.observation_domain = UintOption(o, "observationDomain", 0);
    config.template_refresh_s = UintOption(o, "templateRefreshS", 0);
    config.template_refresh_packets = UintOption(o, "templateRefreshPackets", 0);
    config.max_datagrams_per_s = UintOption(o, "maxDatagramsPerS", 0);
    char err[256] = "";
    exporter_ = wf_exporter_create(&config, err, sizeof err);
    if (!exporter_) throw Napi::RangeError::New(env, err[0] ? err : "could not create the exporter");
    info.This().As<Napi::Object>().TypeTag(&kExporterTag);
  }

  ~Exporter() override {
    // No flush here: a finalizer must not block on the network. close() flushes.
    if (exporter_) wf_exporter_destroy(exporter_);
  }

  wf_exporter *Get(Napi::Env env) {
    if (!exporter_) throw Napi::Error::New(env, "the exporter is closed");
    return exporter_;
  }

 private:
  [[noreturn]] static void Bad(Napi::Env env, uint32_t index, const char *field, const char *what) {
    throw Napi::TypeError::New(env, "records[" + std::to_string(index) + "]." + field + ": " + what);
  }

  static uint64_t Count(Napi::Env env, Napi::Object o, uint32_t i, const char *key) {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) Bad(env, i, key, "must be a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d < 18446744073709551616.0) || std::floor(d) != d) {
      Bad(env, i, key, "must be a non-negative integer");
    }
    return static_cast<uint64_t>(d);
  }

  static uint32_t Small(Napi::Env env, Napi::Object o, uint32_t i, const char *key, uint32_t max) {
    uint64_t v = Count(env, o, i, key);
    if (v > max) Bad(env, i, key, ("must be at most " + std::to_string(max)).c_str());
    return static_cast<uint32_t>(v);
  }

  static uint64_t Time(Napi::Env env, Napi::Object o, uint32_t i, const char *key) {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) Bad(env, i, key, "must be epoch seconds");
    double s = v.As<Napi::Number>().DoubleValue();
    if (!(s >= 0 && s < 9.2e9)) Bad(env, i, key, "must be epoch seconds");
    return static_cast<uint64_t>(std::llround(s * 1e6)) * 1000u;  // records carry whole µs
  }

  static void Address(Napi::Env env, Napi::Object o, uint32_t i, const char *key, int family,
                      uint8_t *out) {
    Napi::Value v = o.Get(key);
    if (!v.IsString()) Bad(env, i, key, "must be an address string");
    std::string text = v.As<Napi::String>().Utf8Value();
    if (inet_pton(family == 6 ? AF_INET6 : AF_INET, text.c_str(), out) != 1) {
      Bad(env, i, key, family == 6 ? "not an IPv6 address" : "not an IPv4 address");
    }
  }

  // "SYN|ACK|FIN" (wf_tcp_flags_string's names) back to the flags byte.
  static uint8_t Flags(Napi::Env env, Napi::Object o, uint32_t i) {
    Napi::Value v = o.Get("tcp_flags");
    if (v.IsNumber()) return static_cast<uint8_t>(Small(env, o, i, "tcp_flags", 255));
    if (v.IsUndefined() || v.IsNull()) return 0;
    if (!v.IsString()) Bad(env, i, "tcp_flags", "must be a string like \"SYN|ACK\"");
    static const struct {
      const char *name;
      uint8_t bit;
    } names[] = {{"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04}, {"PSH", 0x08},
                 {"ACK", 0x10}, {"URG", 0x20}, {"ECE", 0x40}, {"CWR", 0x80}};
    std::string text = v.As<Napi::String>().Utf8Value();
    uint8_t flags = 0;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('|', start);
      if (end == std::string::npos) end = text.size();
      std::string name = text.substr(start, end - start);
      bool known = false;
      for (const auto &n : names) {
        if (name == n.name) {
          flags |= n.bit;
          known = true;
        }
      }
      if (!known) Bad(env, i, "tcp_flags", ("unknown flag \"" + name + "\"").c_str());
      start = end + 1;
    }
    return flags;
  }

  static uint8_t EndReason(Napi::Env env, Napi::Object o, uint32_t i) {
    Napi::Value v = o.Get("end_reason");
    if (v.IsNull() || v.IsUndefined()) return WF_END_NONE;
    if (!v.IsString()) Bad(env, i, "end_reason", "must be a string or null");
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s == "idle") return WF_END_IDLE;
    if (s == "active") return WF_END_ACTIVE;
    if (s == "fin_rst") return WF_END_FIN_RST;
    if (s == "end_of_capture") return WF_END_END_OF_CAPTURE;
    if (s == "evicted") return WF_END_EVICTED;
    Bad(env, i, "end_reason", "unknown end reason");
  }

  static uint8_t State(Napi::Object o) {
    Napi::Value v = o.Get("state");
    if (!v.IsString()) return WF_STATE_CLOSED;
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s == "ACTIVE") return WF_STATE_ACTIVE;
    if (s == "CLOSING") return WF_STATE_CLOSING;
    return WF_STATE_CLOSED;
  }

  static wf_flow_record FromJs(Napi::Env env, Napi::Value value, uint32_t i) {
    if (!value.IsObject()) throw Napi::TypeError::New(env, "records[" + std::to_string(i) + "] must be a FlowRecord");
    Napi::Object o = value.As<Napi::Object>();
    wf_flow_record r;
    std::memset(&r, 0, sizeof r);
    Napi::Value version = o.Get("ip_version");
    const double family = version.IsNumber() ? version.As<Napi::Number>().DoubleValue() : 0;
    if (family != 4 && family != 6) Bad(env, i, "ip_version", "must be 4 or 6");
    r.family = static_cast<uint8_t>(family);
    Address(env, o, i, "src_ip", r.family, r.src);
    Address(env, o, i, "dst_ip", r.family, r.dst);
    r.src_port = static_cast<uint16_t>(Small(env, o, i, "src_port", 65535));
    r.dst_port = static_cast<uint16_t>(Small(env, o, i, "dst_port", 65535));
    r.protocol = static_cast<uint8_t>(Small(env, o, i, "protocol", 255));
    Napi::Value vlan = o.Get("vlan_id");
    r.vlan_id = vlan.IsUndefined() ? 0 : static_cast<uint16_t>(Small(env, o, i, "vlan_id", 4095));
    r.packets_fwd = Count(env, o, i, "packets_fwd");
    r.packets_rev = Count(env, o, i, "packets_rev");
    r.bytes_fwd = Count(env, o, i, "bytes_fwd");
    r.bytes_rev = Count(env, o, i, "bytes_rev");
    r.first_ns = Time(env, o, i, "first_seen");
    r.last_ns = Time(env, o, i, "last_seen");
    if (r.last_ns < r.first_ns) Bad(env, i, "last_seen", "is before first_seen");
    r.tcp_flags = Flags(env, o, i);
    r.end_reason = EndReason(env, o, i);
    r.state = State(o);
    Napi::Value id = o.Get("flow_id");
    if (id.IsString()) r.flow_id = std::strtoull(id.As<Napi::String>().Utf8Value().c_str(), nullptr, 16);
    return r;
  }

  // send(records: FlowRecord[]) -> true when every datagram went out (see stats()).
  Napi::Value Send(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_exporter *e = Get(env);
    if (info.Length() < 1 || !info[0].IsArray()) {
      throw Napi::TypeError::New(env, "send(records) needs an array of FlowRecord");
    }
    Napi::Array list = info[0].As<Napi::Array>();
    std::vector<wf_flow_record> records(list.Length());
    for (uint32_t i = 0; i < list.Length(); i++) records[i] = FromJs(env, list.Get(i), i);
    return Napi::Boolean::New(env, wf_exporter_send(e, records.data(), records.size()) == 0);
  }

  Napi::Value Flush(const Napi::CallbackInfo &info) {
    return Napi::Boolean::New(info.Env(), wf_exporter_flush(Get(info.Env())) == 0);
  }

  Napi::Value Stats(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_exporter_stats s = final_stats_;  // after close(): the totals at close
    if (exporter_) wf_exporter_get_stats(exporter_, &s);
    Napi::Object o = Napi::Object::New(env);
    auto set = [&](const char *key, uint64_t v) {
      o.Set(key, Napi::Number::New(env, static_cast<double>(v)));
    };
    set("records_sent", s.records_sent);
    set("datagrams_sent", s.datagrams_sent);
    set("bytes_sent", s.bytes_sent);
    set("templates_sent", s.templates_sent);
    set("records_skipped", s.records_skipped);
    set("send_errors", s.send_errors);
    set("records_dropped", s.records_dropped);
    return o;
  }

  // close(): flushes what waits, then releases the sockets. Idempotent.
  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (exporter_) {
      wf_exporter_flush(exporter_);
      wf_exporter_get_stats(exporter_, &final_stats_);
      wf_exporter_destroy(exporter_);
      exporter_ = nullptr;
    }
    return info.Env().Undefined();
  }

  wf_exporter *exporter_ = nullptr;
  wf_exporter_stats final_stats_{};
};

}  // namespace

Napi::Function InitExporter(Napi::Env env) { return Exporter::Init(env); }

wf_exporter *UnwrapExporter(Napi::Value value) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kExporterTag)) {
    throw Napi::TypeError::New(env, "exporter must be an Exporter (native/exporter.ts)");
  }
  return Exporter::Unwrap(value.As<Napi::Object>())->Get(env);
}
