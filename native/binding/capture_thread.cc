// Live capture binding: the capture thread (see capture_live.h). It polls the capture, meters
// every packet under the meter mutex, feeds the pcap writer, moves completed segments to the
// --write file or to JS, and posts ticks and the end of the run through the threadsafe function.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "capture_live.h"

namespace wf_live {

void LiveCapture::OnPacket(void *arg, const wf_packet *p) {
  auto *ctx = static_cast<PollCtx *>(arg);
  LiveCapture *self = ctx->self;
  if (!ctx->lock->owns_lock()) ctx->lock->lock();
  wf_meter_packet(self->meter_, p->linktype, p->data, p->caplen, p->wirelen, p->ts_ns);
  if (self->writer_) wf_pcap_writer_add(self->writer_.get(), p);
}

// Writes completed segments to the file and/or hands them to JS. Returns an error or "".
std::string LiveCapture::MoveSegments() {
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

Snapshot LiveCapture::TakeSnapshot(uint64_t *last_packets, uint64_t *last_bytes, double *last_t) {
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

void LiveCapture::Loop(uint64_t duration_ms) {
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

}  // namespace wf_live
