// Live capture binding, shared by its three parts:
//   capture.cc          the LiveCapture JS class (options, run/stop, flows, close, compileFilter)
//   capture_thread.cc   the capture thread: polling, metering, pcap segments, ticks
//   capture_deliver.cc  messages from the thread to JS (threadsafe function), run settlement,
//                       and the counters' JS form
//
// Threading (the simple design): each LiveCapture owns one wf_capture, one wf_meter and one
// std::mutex guarding the meter.
//  - run() starts a std::thread that polls the capture; packets of one poll call are metered
//    while holding the mutex (taken at the first packet, released when the call returns, so never
//    while waiting in poll()). The same thread feeds the optional pcap writer (owned by the thread
//    for the run) and writes completed segments to --write FILE.
//  - JS stays responsive: drain(), snapshot(), flush() and meterStats() take the mutex briefly;
//    stats() reads the capture's counters (thread-safe in the backends) and the rates computed at
//    the last tick.
//  - The thread reports to JS through one napi_threadsafe_function: a tick every tickMs (onTick),
//    each completed pcap segment (onSegment, as a Buffer that JS then owns), and the end of the
//    run, which joins the thread and settles the promise run() returned.
// A FlowMeter object is not shared with the capture thread: its methods take no lock, so handing
// its wf_meter to another thread would race with JS calls on it.
#pragma once

#include <napi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "options.h"
#include "pcap_writer.h"
#include "wirefleet.h"

namespace wf_live {

constexpr size_t kDefaultBatch = 4096;
constexpr int kMaxPollMs = 100;               // bounds how long stop() takes to be noticed
constexpr uint32_t kMaxSegmentsInFlight = 16; // onSegment buffers not yet consumed by JS

uint64_t WallNs();
const char *ErrnoName(int e);
inline Napi::Number Num(Napi::Env env, double v) { return Napi::Number::New(env, v); }

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

Napi::Object SnapshotToJs(Napi::Env env, const Snapshot &s);

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
  static Napi::Function Init(Napi::Env env);
  explicit LiveCapture(const Napi::CallbackInfo &info);
  ~LiveCapture() override;

 private:
  // ---- JS thread (capture.cc) ----
  static void EnvCleanup(void *arg);
  void Shutdown();  // stops and joins the thread, frees everything; safe to call more than once
  Napi::Value Linktype(const Napi::CallbackInfo &info) { return Num(info.Env(), linktype_); }
  Napi::Value Running(const Napi::CallbackInfo &info) {
    return Napi::Boolean::New(info.Env(), running_);
  }
  Napi::Value Run(const Napi::CallbackInfo &info);
  Napi::Value Stop(const Napi::CallbackInfo &info);
  Napi::Value Stats(const Napi::CallbackInfo &info);
  wf_meter *LockedMeter(Napi::Env env);
  Napi::Value MeterStats(const Napi::CallbackInfo &info);
  Napi::Value Drain(const Napi::CallbackInfo &info);
  Napi::Value SnapshotFlows(const Napi::CallbackInfo &info);
  Napi::Value Flush(const Napi::CallbackInfo &info);
  Napi::Value Close(const Napi::CallbackInfo &info);
  static Napi::Value CompileFilter(const Napi::CallbackInfo &info);
  double Elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }

  // ---- capture thread (capture_thread.cc) ----
  struct PollCtx {
    LiveCapture *self;
    std::unique_lock<std::mutex> *lock;
  };
  static void OnPacket(void *arg, const wf_packet *p);
  // Writes completed segments to the file and/or hands them to JS. Returns an error or "".
  std::string MoveSegments();
  Snapshot TakeSnapshot(uint64_t *last_packets, uint64_t *last_bytes, double *last_t);
  void Loop(uint64_t duration_ms);

  // ---- JS thread: messages from the capture thread (capture_deliver.cc) ----
  static void Deliver(Napi::Env env, Napi::Function, Message *m);
  void CallSafely(Napi::Env env, Napi::FunctionReference &fn,
                  const std::initializer_list<napi_value> &args);
  void OnDone(Napi::Env env, const Snapshot &snap, const std::string &error);

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
  int backend_ = 0;  // wf_capture_config.backend
};

}  // namespace wf_live
