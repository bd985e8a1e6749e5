// Live capture binding: what crosses from the capture thread to JS (see capture_live.h) - the
// counters' JS form, tick/segment/done messages delivered through the threadsafe function, and
// the settlement of run()'s promise - plus the small option helpers shared by the binding.
#include <cerrno>
#include <cstdlib>
#include <ctime>

#include "capture_live.h"

namespace wf_live {

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

void LiveCapture::Deliver(Napi::Env env, Napi::Function, Message *m) {
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
void LiveCapture::CallSafely(Napi::Env env, Napi::FunctionReference &fn,
                             const std::initializer_list<napi_value> &args) {
  try {
    fn.Call(args);
  } catch (const Napi::Error &e) {
    if (callback_error_.IsEmpty())
      callback_error_ = Napi::Reference<Napi::Value>::New(e.Value(), 1);
    stop_.store(true);
  }
  (void)env;
}

void LiveCapture::OnDone(Napi::Env env, const Snapshot &snap, const std::string &error) {
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

}  // namespace wf_live
