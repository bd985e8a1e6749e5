// Node binding of the capture engine: a FlowMeter class that meters capture
// files in C and hands ended flows to JS in batches, plus backend discovery.
#include <napi.h>

#include <dlfcn.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "capture.h"
#include "capture_internal.h"
#include "exporter.h"
#include "flow_text.h"
#include "options.h"
#include "records.h"
#include "relay_binding.h"
#include "tango_binding.h"
#include "tango_forward_binding.h"

namespace {

constexpr size_t kDefaultBatch = 4096;

class FlowMeter : public Napi::ObjectWrap<FlowMeter> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "FlowMeter",
                       {InstanceMethod("meterFile", &FlowMeter::MeterFile),
                        InstanceMethod("meterFileTo", &FlowMeter::MeterFileTo),
                        InstanceMethod("stats", &FlowMeter::Stats),
                        InstanceMethod("snapshot", &FlowMeter::Snapshot),
                        InstanceMethod("flush", &FlowMeter::Flush),
                        InstanceMethod("drain", &FlowMeter::Drain),
                        InstanceMethod("close", &FlowMeter::Close)});
  }

  explicit FlowMeter(const Napi::CallbackInfo &info) : Napi::ObjectWrap<FlowMeter>(info) {
    Napi::Env env = info.Env();
    wf_meter_config config = MeterConfigOption(info.Length() > 0 ? info[0] : env.Undefined());
    char err[256] = "";
    meter_ = wf_meter_create(&config, err, sizeof err);
    if (!meter_) throw Napi::RangeError::New(env, err[0] ? err : "could not create the flow meter");
  }

  ~FlowMeter() override {
    if (meter_) wf_meter_destroy(meter_);
  }

 private:
  wf_meter *Meter(Napi::Env env) {
    if (!meter_) throw Napi::Error::New(env, "the flow meter is closed");
    return meter_;
  }

  // Hands ended flows to `sink`, `batch` records at a time. With an
  // exporter, each batch goes to the collectors in C first (fast path).
  template <typename Sink>
  void Deliver(size_t batch, wf_exporter *exporter, Sink &&sink) {
    std::vector<wf_flow_record> buffer(batch);
    while (wf_meter_pending(meter_) > 0) {
      size_t n = wf_meter_drain(meter_, buffer.data(), buffer.size());
      if (exporter) wf_exporter_send(exporter, buffer.data(), n);
      sink(buffer.data(), n);
    }
  }

  struct RunOptions {
    size_t batch = kDefaultBatch;
    bool flushAtEnd = true;
    wf_exporter *exporter = nullptr;
  };

  static RunOptions ReadRunOptions(const Napi::CallbackInfo &info, size_t at) {
    RunOptions o;
    if (info.Length() > at && info[at].IsObject()) {
      Napi::Object v = info[at].As<Napi::Object>();
      if (v.Has("batch")) o.batch = std::max<uint32_t>(1, v.Get("batch").As<Napi::Number>().Uint32Value());
      if (v.Has("flushAtEnd")) o.flushAtEnd = v.Get("flushAtEnd").ToBoolean();
      if (v.Has("exporter") && !v.Get("exporter").IsUndefined()) o.exporter = UnwrapExporter(v.Get("exporter"));
    }
    return o;
  }

  static wf_file_reader *OpenCapture(Napi::Env env, const std::string &path) {
    char err[256] = "";
    wf_file_reader *reader = wf_file_open(path.c_str(), err, sizeof err);
    if (!reader) {
      Napi::Error e = Napi::Error::New(env, err);
      e.Set("code", "EINVALIDCAPTURE");
      throw e;
    }
    return reader;
  }

  // Meters the whole file, handing ended flows to `sink` as it goes; `stop()`
  // ends the read early (a failed output). Returns {format, file_bytes,
  // packets, seconds, error}.
  template <typename Sink, typename Stop>
  Napi::Object Run(Napi::Env env, wf_file_reader *reader, const RunOptions &o, Sink &&sink, Stop &&stop) {
    wf_meter *meter = meter_;
    char err[256] = "";
    const auto started = std::chrono::steady_clock::now();
    uint64_t packets = 0, delivered_at = 0;
    // Packets go to the meter in runs so it can overlap their cache misses.
    wf_packet run[64];
    size_t n;
    int status;
    while ((n = wf_file_next_batch(reader, run, 64, &status, err, sizeof err)) > 0) {
      wf_meter_packets(meter, run, n);
      packets += n;
      // Hand over ended flows now and then so the emit queue never overflows.
      if (packets - delivered_at >= 65536) {
        delivered_at = packets;
        if (wf_meter_pending(meter) >= o.batch) Deliver(o.batch, o.exporter, sink);
        if (stop()) break;
      }
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("format", wf_file_format(reader));
    result.Set("file_bytes", Napi::Number::New(env, static_cast<double>(wf_file_size(reader))));
    wf_file_close(reader);
    if (o.flushAtEnd) wf_meter_flush(meter);
    Deliver(o.batch, o.exporter, sink);
    if (o.exporter) wf_exporter_flush(o.exporter);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    result.Set("packets", Napi::Number::New(env, static_cast<double>(packets)));
    result.Set("seconds", Napi::Number::New(env, seconds));
    result.Set("error", status < 0 ? Napi::Value(Napi::String::New(env, err)) : env.Null());
    return result;
  }

  // meterFile(path, onFlows, {batch, flushAtEnd, exporter}) -> {format, packets, file_bytes, seconds, error}
  Napi::Value MeterFile(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Meter(env);
    std::string path = info[0].As<Napi::String>();
    Napi::Function onFlows = info[1].As<Napi::Function>();
    RunOptions o = ReadRunOptions(info, 2);
    wf_file_reader *reader = OpenCapture(env, path);
    return Run(
        env, reader, o,
        [&](const wf_flow_record *records, size_t n) {
          onFlows.Call({PackFlowRecords(env, records, n)});
        },
        [] { return false; });
  }

  // meterFileTo(path, fd, format, {batch, flushAtEnd, exporter}): as meterFile, but the
  // flows are written to fd as ndjson or csv text by C in large writes, never
  // decoded in JS. Adds {flows, write_error}; a failed write ends the read.
  Napi::Value MeterFileTo(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Meter(env);
    std::string path = info[0].As<Napi::String>();
    const int fd = info[1].As<Napi::Number>().Int32Value();
    const std::string format = info[2].As<Napi::String>();
    if (format != "ndjson" && format != "csv") throw Napi::TypeError::New(env, "format must be ndjson or csv");
    RunOptions o = ReadRunOptions(info, 3);
    wf_file_reader *reader = OpenCapture(env, path);
    wf_text_writer *out = wf_text_writer_create(fd, format == "csv" ? WF_TEXT_CSV : WF_TEXT_NDJSON);
    if (!out) {
      wf_file_close(reader);
      throw Napi::Error::New(env, "out of memory for the output buffer");
    }
    double flows = 0;
    wf_text_write_header(out);
    Napi::Object result = Run(
        env, reader, o,
        [&](const wf_flow_record *records, size_t n) {
          if (wf_text_write(out, records, n) == 0) flows += static_cast<double>(n);
        },
        [&] { return wf_text_error(out) != 0; });
    wf_text_flush(out);
    const int e = wf_text_error(out);
    wf_text_writer_destroy(out);
    result.Set("flows", Napi::Number::New(env, flows));
    result.Set("write_error", e ? Napi::Value(Napi::String::New(env, strerror(e))) : env.Null());
    result.Set("write_epipe", Napi::Boolean::New(env, e == EPIPE));
    return result;
  }

  Napi::Value Stats(const Napi::CallbackInfo &info) {
    wf_meter_stats s;
    wf_meter_get_stats(Meter(info.Env()), &s);
    return MeterStatsToJs(info.Env(), s);
  }

  Napi::Value Snapshot(const Napi::CallbackInfo &info) {
    wf_meter *meter = Meter(info.Env());
    size_t limit = info.Length() > 0 ? info[0].As<Napi::Number>().Uint32Value() : 1000;
    std::vector<wf_flow_record> buffer(limit);
    size_t n = wf_meter_snapshot(meter, buffer.data(), buffer.size());
    return PackFlowRecords(info.Env(), buffer.data(), n);
  }

  Napi::Value Flush(const Napi::CallbackInfo &info) {
    wf_meter_flush(Meter(info.Env()));
    return info.Env().Undefined();
  }

  Napi::Value Drain(const Napi::CallbackInfo &info) {
    wf_meter *meter = Meter(info.Env());
    size_t max = info.Length() > 0 ? info[0].As<Napi::Number>().Uint32Value() : kDefaultBatch;
    std::vector<wf_flow_record> buffer(std::min(max, wf_meter_pending(meter)));
    size_t n = wf_meter_drain(meter, buffer.data(), buffer.size());
    return PackFlowRecords(info.Env(), buffer.data(), n);
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (meter_) wf_meter_destroy(meter_);
    meter_ = nullptr;
    return info.Env().Undefined();
  }

  wf_meter *meter_ = nullptr;
};

Napi::Object Backend(Napi::Env env, const char *name, bool available, const std::string &detail) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", name);
  o.Set("status", available ? "available" : "unavailable");
  o.Set("detail", detail);
  return o;
}

// What this build can capture with; nothing is listed as available unless it works here.
Napi::Value Backends(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array list = Napi::Array::New(env);
  uint32_t i = 0;
  list.Set(i++, Backend(env, "file", true, "pcap and pcapng, either byte order, µs or ns"));
  char pcapVersion[200] = "";
  const bool pcap = wf_libpcap_available(pcapVersion, sizeof pcapVersion);
  list.Set(i++, Backend(env, "afpacket", true,
                        std::string("TPACKET_V3 ring, fanout, BPF via libpcap; ") +
                            (pcap ? std::string("filters available (") + pcapVersion + ")"
                                  : "filters unavailable: libpcap runtime not found")));
  char pcapDetail[256] = "";
  const bool pcapCapture = wf_pcap_capture_available(pcapDetail, sizeof pcapDetail);
  list.Set(i++, Backend(env, "libpcap", pcapCapture,
                        pcapCapture ? std::string(pcapDetail)
                        : pcap      ? std::string(pcapDetail)
                                    : "libpcap runtime library not found (apt-get install libpcap0.8): " +
                                          std::string(pcapDetail)));
  list.Set(i++, Backend(env, "xdp", false, "not built in (needs libxdp/libbpf)"));
  list.Set(i++, Backend(env, "dpdk", false, "not built in (needs DPDK and dedicated NIC queues)"));
  list.Set(i++, Backend(env, "pf_ring", false, "not built in (needs the PF_RING kernel module)"));
  return list;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("FlowMeter", FlowMeter::Init(env));
  exports.Set("backends", Napi::Function::New(env, Backends));
  exports.Set("LiveCapture", InitCapture(env));
  exports.Set("Exporter", InitExporter(env));
  exports.Set("recordLayout", FlowRecordLayout(env));
  exports.Set("TangoNode", InitTango(env));
  exports.Set("TangoForwarder", InitTangoForwarder(env));
  exports.Set("ImpairmentRelay", InitRelay(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(wirefleet_engine, Init)
