// Live capture binding: the LiveCapture JS class (see capture_live.h for the design and the
// other parts: capture_thread.cc, capture_deliver.cc).
#include "capture.h"

#include <node_api.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "capture_live.h"
#include "records.h"

namespace wf_live {

Napi::Function LiveCapture::Init(Napi::Env env) {
  Napi::Function ctor =
      DefineClass(env, "LiveCapture",
                  {InstanceMethod("run", &LiveCapture::Run),
                   InstanceMethod("stop", &LiveCapture::Stop),
                   InstanceMethod("stats", &LiveCapture::Stats),
                   InstanceMethod("meterStats", &LiveCapture::MeterStats),
                   InstanceMethod("drain", &LiveCapture::Drain),
                   InstanceMethod("snapshot", &LiveCapture::SnapshotFlows),
                   InstanceMethod("flush", &LiveCapture::Flush),
                   InstanceMethod("close", &LiveCapture::Close),
                   InstanceAccessor("linktype", &LiveCapture::Linktype, nullptr),
                   InstanceAccessor("running", &LiveCapture::Running, nullptr),
                   StaticMethod("compileFilter", &LiveCapture::CompileFilter)});
  return ctor;
}

LiveCapture::LiveCapture(const Napi::CallbackInfo &info) : Napi::ObjectWrap<LiveCapture>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject())
    throw Napi::TypeError::New(env, "LiveCapture needs an options object with an interface");
  Napi::Object o = info[0].As<Napi::Object>();
  interface_ = StringOption(o, "interface");
  filter_ = StringOption(o, "filter");
  std::string ts = StringOption(o, "timestampSource");
  int source = WF_TS_KERNEL;
  if (ts == "adapter") source = WF_TS_ADAPTER;
  else if (ts == "adapter_unsynced") source = WF_TS_ADAPTER_UNSYNCED;
  else if (!ts.empty() && ts != "kernel")
    throw Napi::RangeError::New(env, "timestampSource must be kernel, adapter or adapter_unsynced");
  ts_source_ = source;
  wf_capture_config cfg{};
  cfg.interface = interface_.c_str();
  cfg.snaplen = UintOption(o, "snaplen", 0);
  cfg.promiscuous = o.Has("promiscuous") && o.Get("promiscuous").ToBoolean();
  cfg.buffer_size_mb = UintOption(o, "bufferSizeMb", 0);
  cfg.block_size_kb = UintOption(o, "blockSizeKb", 0);
  cfg.block_timeout_ms = UintOption(o, "blockTimeoutMs", 0);
  cfg.filter = filter_.empty() ? nullptr : filter_.c_str();
  cfg.timestamp_source = source;
  cfg.fanout_group = UintOption(o, "fanoutGroup", 0);
  const std::string backend = StringOption(o, "backend");
  if (backend == "libpcap") backend_ = 1;
  else if (!backend.empty() && backend != "afpacket")
    throw Napi::RangeError::New(env, "backend must be afpacket or libpcap");
  cfg.backend = backend_;
  snaplen_ = cfg.snaplen ? cfg.snaplen : 262144;
  block_timeout_ms_ = cfg.block_timeout_ms ? cfg.block_timeout_ms : 50;

  wf_meter_config mc = MeterConfigOption(o.Get("meter"));
  char err[512] = "";
  meter_ = wf_meter_create(&mc, err, sizeof err);
  if (!meter_) throw Napi::RangeError::New(env, err[0] ? err : "could not create the flow meter");

  errno = 0;
  cap_ = wf_capture_open(&cfg, err, sizeof err);
  if (!cap_) {
    const int e = errno;
    wf_meter_destroy(meter_);
    meter_ = nullptr;
    Napi::Error error = Napi::Error::New(env, err[0] ? err : "could not open the capture");
    error.Set("code", "ECAPTUREOPEN");
    error.Set("reason", ErrnoName(e));
    throw error;
  }
  linktype_ = wf_capture_linktype(cap_);
  napi_add_env_cleanup_hook(env, &LiveCapture::EnvCleanup, this);
  env_ = env;
}

LiveCapture::~LiveCapture() {
  if (env_) napi_remove_env_cleanup_hook(env_, &LiveCapture::EnvCleanup, this);
  Shutdown();
}

void LiveCapture::EnvCleanup(void *arg) {
  auto *self = static_cast<LiveCapture *>(arg);
  self->env_ = nullptr;
  self->tearing_down_.store(true);
  self->Shutdown();
}

// Stops and joins the thread, frees everything. Safe to call more than once.
void LiveCapture::Shutdown() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (cap_) {
    wf_capture_get_stats(cap_, &last_.cap);
    wf_capture_close(cap_);
    cap_ = nullptr;
  }
  std::lock_guard<std::mutex> lock(meter_mu_);
  if (meter_) wf_meter_destroy(meter_);
  meter_ = nullptr;
}

// run(durationMs, {onTick, onSegment, writeFile, tickMs, segmentBytes, segmentSeconds}) -> Promise
Napi::Value LiveCapture::Run(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!cap_) throw Napi::Error::New(env, "the capture is closed");
  if (running_) throw Napi::Error::New(env, "the capture is already running");
  double duration = 0;
  if (info.Length() > 0 && !info[0].IsUndefined() && !info[0].IsNull()) {
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "durationMs must be a number");
    duration = info[0].As<Napi::Number>().DoubleValue();
    if (!(duration >= 0)) throw Napi::RangeError::New(env, "durationMs must be >= 0 (0 = until stop())");
  }
  Napi::Object o = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>()
                                                            : Napi::Object::New(env);
  tick_ms_ = std::max<uint32_t>(50, UintOption(o, "tickMs", 1000));
  on_tick_.Reset();
  on_segment_.Reset();
  if (o.Has("onTick") && o.Get("onTick").IsFunction())
    on_tick_ = Napi::Persistent(o.Get("onTick").As<Napi::Function>());
  if (o.Has("onSegment") && o.Get("onSegment").IsFunction())
    on_segment_ = Napi::Persistent(o.Get("onSegment").As<Napi::Function>());
  std::string write_file = StringOption(o, "writeFile");
  const bool want_pcap = !write_file.empty() || !on_segment_.IsEmpty();
  if (want_pcap) {
    wf_pcap_writer_config pc{};
    pc.linktype = linktype_;
    pc.snaplen = snaplen_;
    // With only a file, small segments keep the file growing steadily; for JS, the caller's size.
    pc.max_segment_bytes = UintOption(o, "segmentBytes", on_segment_.IsEmpty() ? 4u << 20 : 64u << 20);
    pc.max_segment_seconds = UintOption(o, "segmentSeconds", on_segment_.IsEmpty() ? 1 : 60);
    pc.max_pending = 64;
    char err[256] = "";
    writer_.reset(wf_pcap_writer_create(&pc, err, sizeof err));
    if (!writer_) throw Napi::Error::New(env, err);
  } else {
    writer_.reset();
  }
  file_.reset();
  if (!write_file.empty()) {
    FILE *f = fopen(write_file.c_str(), "wb");
    if (!f) {
      Napi::Error e = Napi::Error::New(env, "cannot write " + write_file + ": " + strerror(errno));
      e.Set("code", "EWRITEFILE");
      throw e;
    }
    file_.reset(f);
  }
  file_segments_ = 0;
  segments_in_flight_.store(0);

  deferred_ = std::make_unique<Napi::Promise::Deferred>(env);
  tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo &) {}),
                                        "wirefleet-capture", 0, 1);
  stop_.store(false);
  running_ = true;
  Ref();  // kept alive until the run settles
  const uint64_t duration_ms = static_cast<uint64_t>(duration);
  thread_ = std::thread([this, duration_ms] { Loop(duration_ms); });
  return deferred_->Promise();
}

Napi::Value LiveCapture::Stop(const Napi::CallbackInfo &info) {
  stop_.store(true);
  return info.Env().Undefined();
}

Napi::Value LiveCapture::Stats(const Napi::CallbackInfo &info) {
  Snapshot s;
  {
    std::lock_guard<std::mutex> lock(snap_mu_);
    s = last_;
  }
  if (cap_) wf_capture_get_stats(cap_, &s.cap);
  {
    std::lock_guard<std::mutex> lock(meter_mu_);
    if (meter_) wf_meter_get_stats(meter_, &s.meter);
  }
  if (running_) s.seconds = Elapsed();
  return SnapshotToJs(info.Env(), s);
}

wf_meter *LiveCapture::LockedMeter(Napi::Env env) {
  if (!meter_) throw Napi::Error::New(env, "the capture is closed");
  return meter_;
}

Napi::Value LiveCapture::MeterStats(const Napi::CallbackInfo &info) {
  std::lock_guard<std::mutex> lock(meter_mu_);
  wf_meter_stats s;
  wf_meter_get_stats(LockedMeter(info.Env()), &s);
  return MeterStatsToJs(info.Env(), s);
}

Napi::Value LiveCapture::Drain(const Napi::CallbackInfo &info) {
  size_t max = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value()
                                                        : kDefaultBatch;
  std::vector<wf_flow_record> buffer;
  {
    std::lock_guard<std::mutex> lock(meter_mu_);
    wf_meter *m = LockedMeter(info.Env());
    buffer.resize(std::min(max, wf_meter_pending(m)));
    buffer.resize(wf_meter_drain(m, buffer.data(), buffer.size()));
  }
  return PackFlowRecords(info.Env(), buffer.data(), buffer.size());
}

Napi::Value LiveCapture::SnapshotFlows(const Napi::CallbackInfo &info) {
  size_t limit = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value()
                                                          : 1000;
  std::vector<wf_flow_record> buffer(limit);
  {
    std::lock_guard<std::mutex> lock(meter_mu_);
    buffer.resize(wf_meter_snapshot(LockedMeter(info.Env()), buffer.data(), buffer.size()));
  }
  return PackFlowRecords(info.Env(), buffer.data(), buffer.size());
}

Napi::Value LiveCapture::Flush(const Napi::CallbackInfo &info) {
  std::lock_guard<std::mutex> lock(meter_mu_);
  wf_meter_flush(LockedMeter(info.Env()));
  return info.Env().Undefined();
}

// Closes the socket and frees the meter; a running capture is stopped first (its promise still
// settles). Drain the flows before closing.
Napi::Value LiveCapture::Close(const Napi::CallbackInfo &info) {
  if (running_) {
    // Let the thread finish; OnDone runs later on this thread and settles the promise.
    stop_.store(true);
    close_after_run_ = true;
    return info.Env().Undefined();
  }
  Shutdown();
  return info.Env().Undefined();
}

Napi::Value LiveCapture::CompileFilter(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "compileFilter(expression) needs a string");
  std::string expr = info[0].As<Napi::String>();
  uint32_t snaplen = 262144;
  int linktype = WF_LINKTYPE_ETHERNET;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    snaplen = UintOption(o, "snaplen", snaplen);
    linktype = static_cast<int>(UintOption(o, "linktype", WF_LINKTYPE_ETHERNET));
  }
  char err[512] = "";
  wf_bpf_program prog{};
  if (wf_bpf_compile(expr.c_str(), linktype, snaplen, &prog, err, sizeof err) < 0) {
    Napi::Error e = Napi::Error::New(env, err);
    e.Set("code", "EFILTER");
    throw e;
  }
  const uint32_t n = prog.len;
  wf_bpf_free(&prog);
  return Num(env, n);
}

}  // namespace wf_live

Napi::Function InitCapture(Napi::Env env) { return wf_live::LiveCapture::Init(env); }
