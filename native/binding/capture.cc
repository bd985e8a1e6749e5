// Node binding of live capture: LiveCapture runs an AF_PACKET TPACKET_V3 ring on a dedicated
// thread and meters every packet into its own flow meter.
//
// Threading (the simple design): each LiveCapture owns one wf_capture, one wf_meter and one
// std::mutex guarding the meter.
//  - run() starts a std::thread that polls the ring; packets of one poll call are metered while
//    holding the mutex (taken at the first packet, released when the call returns, so never while
//    waiting in poll()). The same thread feeds the optional pcap writer (owned by the thread for
//    the run) and writes completed segments to --write FILE.
//  - JS stays responsive: drain(), snapshot(), flush() and meterStats() take the mutex briefly;
//    stats() reads the capture's counters (thread-safe in afpacket.c) and the rates computed at
//    the last tick.
//  - The thread reports to JS through one napi_threadsafe_function: a tick every tickMs (onTick),
//    each completed pcap segment (onSegment, as a Buffer that JS then owns), and the end of the
//    run, which joins the thread and settles the promise run() returned.
// A FlowMeter object is not shared with the capture thread: its methods take no lock, so handing
// its wf_meter to another thread would race with JS calls on it.
#include "capture.h"

#include <node_api.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "wirefleet.h"
#include "pcap_writer.h"
#include "records.h"

namespace {

constexpr size_t kDefaultBatch = 4096;
constexpr int kMaxPollMs = 100;               // bounds how long stop() takes to be noticed
constexpr uint32_t kMaxSegmentsInFlight = 16; // onSegment buffers not yet consumed by JS

uint64_t WallNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

const char *ErrnoName(int e) {
  switch (e) {
    case ENODEV: return "ENODEV";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENETDOWN: return "ENETDOWN";
    case ENOMEM: return "ENOMEM";
    default: return "ECAPTURE";
  }
}

uint32_t UintOption(Napi::Object o, const char *key, uint32_t fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined() || o.Get(key).IsNull()) return fallback;
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw Napi::RangeError::New(o.Env(), std::string(key) + " must be a non-negative integer");
  return static_cast<uint32_t>(d);
}

std::string StringOption(Napi::Object o, const char *key) {
  if (!o.Has(key) || o.Get(key).IsUndefined() || o.Get(key).IsNull()) return "";
  if (!o.Get(key).IsString())
    throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return o.Get(key).As<Napi::String>();
}

Napi::Number Num(Napi::Env env, double v) { return Napi::Number::New(env, v); }

struct Rates {
  double pps = 0, mbps = 0;
};

// Everything the capture thread reports at a tick or at the end.
struct Snapshot {
  wf_capture_stats cap{};
  wf_meter_stats meter{};
  wf_pcap_writer_stats pcap{};
  Rates rates;
  double seconds = 0;
  bool has_pcap = false;
};

Napi::Object SnapshotToJs(Napi::Env env, const Snapshot &s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("packets", Num(env, static_cast<double>(s.cap.packets)));
  o.Set("bytes", Num(env, static_cast<double>(s.cap.bytes)));
  o.Set("kernel_packets", Num(env, static_cast<double>(s.cap.kernel_packets)));
  o.Set("kernel_drops", Num(env, static_cast<double>(s.cap.kernel_drops)));
  o.Set("freeze_count", Num(env, static_cast<double>(s.cap.freeze_count)));
  o.Set("blocks_total", Num(env, s.cap.blocks_total));
  o.Set("blocks_user", Num(env, s.cap.blocks_user));
  o.Set("buffer_usage_pct",
        Num(env, s.cap.blocks_total ? 100.0 * s.cap.blocks_user / s.cap.blocks_total : 0));
  o.Set("throughput_mbps", Num(env, s.rates.mbps));
  o.Set("packet_rate_pps", Num(env, s.rates.pps));
  o.Set("drop_rate", Num(env, s.cap.kernel_packets
                                  ? static_cast<double>(s.cap.kernel_drops) /
                                        static_cast<double>(s.cap.kernel_packets)
                                  : 0));
  o.Set("flows_active", Num(env, static_cast<double>(s.meter.flows_active)));
  o.Set("flows_emitted", Num(env, static_cast<double>(s.meter.flows_emitted)));
  o.Set("parse_errors", Num(env, static_cast<double>(s.meter.parse_errors)));
  o.Set("seconds", Num(env, s.seconds));
  if (s.has_pcap) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("packets_written", Num(env, static_cast<double>(s.pcap.packets_written)));
    p.Set("packets_dropped", Num(env, static_cast<double>(s.pcap.packets_dropped)));
    p.Set("bytes_written", Num(env, static_cast<double>(s.pcap.bytes_written)));
    p.Set("segments", Num(env, static_cast<double>(s.pcap.segments_completed)));
    o.Set("pcap", p);
  }
  return o;
}

class LiveCapture;

// One message from the capture thread to JS.
struct Message {
  enum Kind { kTick, kSegment, kDone } kind;
  LiveCapture *self;
  Snapshot snap;
  wf_pcap_segment segment{};
  std::string error;
};

class LiveCapture : public Napi::ObjectWrap<LiveCapture> {
 public:
  static Napi::Function Init(Napi::Env env) {
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

  explicit LiveCapture(const Napi::CallbackInfo &info) : Napi::ObjectWrap<LiveCapture>(info) {
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
    snaplen_ = cfg.snaplen ? cfg.snaplen : 262144;
    block_timeout_ms_ = cfg.block_timeout_ms ? cfg.block_timeout_ms : 50;

    wf_meter_config mc{};
    mc.max_flows = 65536;
    if (o.Has("meter") && o.Get("meter").IsObject()) {
      Napi::Object m = o.Get("meter").As<Napi::Object>();
      mc.max_flows = UintOption(m, "maxFlows", 65536);
      mc.idle_timeout_s = UintOption(m, "idleTimeoutS", 0);
      mc.active_timeout_s = UintOption(m, "activeTimeoutS", 0);
      if (m.Has("seed") && m.Get("seed").IsBigInt()) {
        bool lossless = true;
        mc.seed = m.Get("seed").As<Napi::BigInt>().Uint64Value(&lossless);
      }
    }
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

  ~LiveCapture() override {
    if (env_) napi_remove_env_cleanup_hook(env_, &LiveCapture::EnvCleanup, this);
    Shutdown();
  }

 private:
  // ---- JS thread ----

  static void EnvCleanup(void *arg) {
    auto *self = static_cast<LiveCapture *>(arg);
    self->env_ = nullptr;
    self->tearing_down_.store(true);
    self->Shutdown();
  }

  // Stops and joins the thread, frees everything. Safe to call more than once.
  void Shutdown() {
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

  Napi::Value Linktype(const Napi::CallbackInfo &info) { return Num(info.Env(), linktype_); }
  Napi::Value Running(const Napi::CallbackInfo &info) {
    return Napi::Boolean::New(info.Env(), running_);
  }

  // run(durationMs, {onTick, onSegment, writeFile, tickMs, segmentBytes, segmentSeconds}) -> Promise
  Napi::Value Run(const Napi::CallbackInfo &info) {
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

  Napi::Value Stop(const Napi::CallbackInfo &info) {
    stop_.store(true);
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo &info) {
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

  wf_meter *LockedMeter(Napi::Env env) {
    if (!meter_) throw Napi::Error::New(env, "the capture is closed");
    return meter_;
  }

  Napi::Value MeterStats(const Napi::CallbackInfo &info) {
    std::lock_guard<std::mutex> lock(meter_mu_);
    wf_meter_stats s;
    wf_meter_get_stats(LockedMeter(info.Env()), &s);
    return MeterStatsToJs(info.Env(), s);
  }

  Napi::Value Drain(const Napi::CallbackInfo &info) {
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

  Napi::Value SnapshotFlows(const Napi::CallbackInfo &info) {
    size_t limit = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value()
                                                            : 1000;
    std::vector<wf_flow_record> buffer(limit);
    {
      std::lock_guard<std::mutex> lock(meter_mu_);
      buffer.resize(wf_meter_snapshot(LockedMeter(info.Env()), buffer.data(), buffer.size()));
    }
    return PackFlowRecords(info.Env(), buffer.data(), buffer.size());
  }

  Napi::Value Flush(const Napi::CallbackInfo &info) {
    std::lock_guard<std::mutex> lock(meter_mu_);
    wf_meter_flush(LockedMeter(info.Env()));
    return info.Env().Undefined();
  }

  // Closes the socket and frees the meter; a running capture is stopped first (its promise still
  // settles). Drain the flows before closing.
  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (running_) {
      // Let the thread finish; OnDone runs later on this thread and settles the promise.
      stop_.store(true);
      close_after_run_ = true;
      return info.Env().Undefined();
    }
    Shutdown();
    return info.Env().Undefined();
  }

  static Napi::Value CompileFilter(const Napi::CallbackInfo &info) {
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

  double Elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }

  // ---- capture thread ----

  struct PollCtx {
    LiveCapture *self;
    std::unique_lock<std::mutex> *lock;
  };

  static void OnPacket(void *arg, const wf_packet *p) {
    auto *ctx = static_cast<PollCtx *>(arg);
    LiveCapture *self = ctx->self;
    if (!ctx->lock->owns_lock()) ctx->lock->lock();
    wf_meter_packet(self->meter_, p->linktype, p->data, p->caplen, p->wirelen, p->ts_ns);
    if (self->writer_) wf_pcap_writer_add(self->writer_.get(), p);
  }

  // Writes completed segments to the file and/or hands them to JS. Returns an error or "".
  std::string MoveSegments() {
    if (!writer_) return "";
    wf_pcap_segment seg;
    while (wf_pcap_writer_ready(writer_.get()) > 0) {
      if (!on_segment_.IsEmpty() && segments_in_flight_.load() >= kMaxSegmentsInFlight)
        break;  // JS is behind: keep them queued (the writer drops packets if its queue fills)
      if (!wf_pcap_writer_take(writer_.get(), &seg)) break;
      if (file_) {
        // One continuous pcap: the first segment whole, later ones without their file header.
        const size_t skip = file_segments_ == 0 ? 0 : WF_PCAP_HEADER_LEN;
        if (fwrite(seg.data + skip, 1, seg.len - skip, file_.get()) != seg.len - skip) {
          free(seg.data);
          return std::string("writing the capture file: ") + strerror(errno);
        }
        file_segments_++;
      }
      if (!on_segment_.IsEmpty()) {
        auto *m = new Message{Message::kSegment, this, {}, seg, {}};
        segments_in_flight_.fetch_add(1);
        if (tsfn_.NonBlockingCall(m, &LiveCapture::Deliver) != napi_ok) {
          segments_in_flight_.fetch_sub(1);
          free(seg.data);
          delete m;
        }
      } else {
        free(seg.data);
      }
    }
    return "";
  }

  Snapshot TakeSnapshot(uint64_t *last_packets, uint64_t *last_bytes, double *last_t) {
    Snapshot s;
    wf_capture_get_stats(cap_, &s.cap);
    {
      std::lock_guard<std::mutex> lock(meter_mu_);
      wf_meter_get_stats(meter_, &s.meter);
    }
    if (writer_) {
      wf_pcap_writer_get_stats(writer_.get(), &s.pcap);
      s.has_pcap = true;
    }
    s.seconds = Elapsed();
    const double dt = s.seconds - *last_t;
    if (dt > 0) {
      s.rates.pps = static_cast<double>(s.cap.packets - *last_packets) / dt;
      s.rates.mbps = static_cast<double>(s.cap.bytes - *last_bytes) * 8 / dt / 1e6;
    }
    *last_packets = s.cap.packets;
    *last_bytes = s.cap.bytes;
    *last_t = s.seconds;
    std::lock_guard<std::mutex> lock(snap_mu_);
    last_ = s;
    return s;
  }

  void Loop(uint64_t duration_ms) {
    using clock = std::chrono::steady_clock;
    started_ = clock::now();
    const auto end = started_ + std::chrono::milliseconds(duration_ms);
    auto next_tick = started_ + std::chrono::milliseconds(tick_ms_);
    uint64_t last_packets = 0, last_bytes = 0;
    double last_t = 0;
    std::string error;
    char err[512];
    while (!stop_.load()) {
      auto now = clock::now();
      if (duration_ms && now >= end) break;
      auto wait = std::min<clock::duration>(next_tick - now, std::chrono::milliseconds(kMaxPollMs));
      if (duration_ms) wait = std::min<clock::duration>(wait, end - now);
      int timeout = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
      if (timeout < 0) timeout = 0;
      int n;
      {
        std::unique_lock<std::mutex> lock(meter_mu_, std::defer_lock);
        PollCtx ctx{this, &lock};
        n = wf_capture_poll(cap_, timeout, &LiveCapture::OnPacket, &ctx, err, sizeof err);
      }
      if (n < 0) {
        error = err;
        break;
      }
      if (n > 0) {
        error = MoveSegments();
        if (!error.empty()) break;
      }
      if (clock::now() >= next_tick) {
        next_tick += std::chrono::milliseconds(tick_ms_);
        if (next_tick < clock::now()) next_tick = clock::now() + std::chrono::milliseconds(tick_ms_);
        const uint64_t wall = WallNs();
        if (ts_source_ != WF_TS_ADAPTER_UNSYNCED) {  // packet times are wall-clock times
          std::lock_guard<std::mutex> lock(meter_mu_);
          wf_meter_expire(meter_, wall);
        }
        if (writer_) wf_pcap_writer_tick(writer_.get(), wall);
        error = MoveSegments();
        if (!error.empty()) break;
        auto *m = new Message{Message::kTick, this, TakeSnapshot(&last_packets, &last_bytes, &last_t), {}, {}};
        if (tsfn_.NonBlockingCall(m, &LiveCapture::Deliver) != napi_ok) delete m;
      }
    }
    // Packets the kernel took before the stop sit in the block being filled, which it retires
    // block_timeout_ms after its first packet: wait that long once so none is left behind.
    if (error.empty() && !tearing_down_.load()) {
      const auto deadline = clock::now() + std::chrono::milliseconds(block_timeout_ms_ + 20);
      while (clock::now() < deadline) {
        std::unique_lock<std::mutex> lock(meter_mu_, std::defer_lock);
        PollCtx ctx{this, &lock};
        if (wf_capture_poll(cap_, 10, &LiveCapture::OnPacket, &ctx, err, sizeof err) < 0) break;
      }
      MoveSegments();
    }
    // Complete the last segment and hand everything over (waiting for JS if it is behind).
    if (writer_ && error.empty()) {
      bool finished = false;
      while (!tearing_down_.load()) {
        if (!finished) finished = wf_pcap_writer_finish(writer_.get()) == 0;
        error = MoveSegments();
        if (!error.empty() || (finished && wf_pcap_writer_ready(writer_.get()) == 0)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    if (file_ && file_segments_ == 0 && error.empty()) {  // no packet: still a valid, empty pcap
      uint8_t header[WF_PCAP_HEADER_LEN];
      wf_pcap_file_header(header, linktype_, snaplen_);
      if (fwrite(header, 1, sizeof header, file_.get()) != sizeof header)
        error = std::string("writing the capture file: ") + strerror(errno);
    }
    if (file_ && fflush(file_.get()) != 0 && error.empty())
      error = std::string("writing the capture file: ") + strerror(errno);
    // The final figures carry whole-run average rates.
    last_packets = last_bytes = 0;
    last_t = 0;
    auto *m = new Message{Message::kDone, this, TakeSnapshot(&last_packets, &last_bytes, &last_t), {}, error};
    if (tsfn_.NonBlockingCall(m, &LiveCapture::Deliver) != napi_ok) delete m;
    tsfn_.Release();
  }

  // ---- JS thread: messages from the capture thread ----

  static void Deliver(Napi::Env env, Napi::Function, Message *m) {
    std::unique_ptr<Message> owned(m);
    if (env == nullptr) {  // environment shutting down
      if (m->kind == Message::kSegment) free(m->segment.data);
      return;
    }
    LiveCapture *self = m->self;
    Napi::HandleScope scope(env);
    switch (m->kind) {
      case Message::kTick:
        if (!self->on_tick_.IsEmpty()) self->CallSafely(env, self->on_tick_, {SnapshotToJs(env, m->snap)});
        break;
      case Message::kSegment: {
        self->segments_in_flight_.fetch_sub(1);
        wf_pcap_segment seg = m->segment;
        Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(
            env, seg.data, seg.len, [](Napi::Env, uint8_t *data) { free(data); });
        Napi::Object meta = Napi::Object::New(env);
        meta.Set("sequence", Num(env, static_cast<double>(seg.sequence)));
        meta.Set("packets", Num(env, static_cast<double>(seg.packets)));
        meta.Set("first_seen", Num(env, static_cast<double>(seg.first_ns / 1000) / 1e6));
        meta.Set("last_seen", Num(env, static_cast<double>(seg.last_ns / 1000) / 1e6));
        self->CallSafely(env, self->on_segment_, {buf, meta});
        break;
      }
      case Message::kDone:
        self->OnDone(env, m->snap, m->error);
        break;
    }
  }

  // A throwing callback must not take the process down from inside the tsfn: remember the first
  // error, stop the capture and reject the run with it.
  void CallSafely(Napi::Env env, Napi::FunctionReference &fn, const std::initializer_list<napi_value> &args) {
    try {
      fn.Call(args);
    } catch (const Napi::Error &e) {
      if (callback_error_.IsEmpty())
        callback_error_ = Napi::Reference<Napi::Value>::New(e.Value(), 1);
      stop_.store(true);
    }
    (void)env;
  }

  void OnDone(Napi::Env env, const Snapshot &snap, const std::string &error) {
    if (thread_.joinable()) thread_.join();
    running_ = false;
    file_.reset();
    writer_.reset();
    tsfn_ = Napi::ThreadSafeFunction();
    auto deferred = std::move(deferred_);
    Napi::Object result = SnapshotToJs(env, snap);
    if (!callback_error_.IsEmpty()) {
      deferred->Reject(callback_error_.Value());
      callback_error_.Reset();
    } else if (!error.empty()) {
      Napi::Error e = Napi::Error::New(env, error);
      e.Set("code", "ECAPTURE");
      e.Set("stats", result);
      deferred->Reject(e.Value());
    } else {
      deferred->Resolve(result);
    }
    on_tick_.Reset();
    on_segment_.Reset();
    if (close_after_run_) Shutdown();
    Unref();
  }

  struct FileCloser {
    void operator()(FILE *f) const {
      if (f) fclose(f);
    }
  };
  struct WriterFree {
    void operator()(wf_pcap_writer *w) const { wf_pcap_writer_destroy(w); }
  };

  std::string interface_, filter_;
  int ts_source_ = WF_TS_KERNEL;
  int linktype_ = WF_LINKTYPE_ETHERNET;
  uint32_t snaplen_ = 262144;
  uint32_t block_timeout_ms_ = 50;
  napi_env env_ = nullptr;
  wf_capture *cap_ = nullptr;
  wf_meter *meter_ = nullptr;       // guarded by meter_mu_ while a run is on
  std::mutex meter_mu_;
  std::mutex snap_mu_;
  Snapshot last_;                   // last tick's figures (guarded by snap_mu_)
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> tearing_down_{false};
  bool running_ = false;
  bool close_after_run_ = false;
  uint32_t tick_ms_ = 1000;
  std::chrono::steady_clock::time_point started_{};
  std::unique_ptr<wf_pcap_writer, WriterFree> writer_;  // capture thread's during a run
  std::unique_ptr<FILE, FileCloser> file_;
  uint64_t file_segments_ = 0;
  std::atomic<uint32_t> segments_in_flight_{0};
  Napi::ThreadSafeFunction tsfn_;
  std::unique_ptr<Napi::Promise::Deferred> deferred_;
  Napi::FunctionReference on_tick_, on_segment_;
  Napi::Reference<Napi::Value> callback_error_;
};

}  // namespace

Napi::Function InitCapture(Napi::Env env) { return LiveCapture::Init(env); }
