// TangoNode: a JS handle on wf_tango_node. Per-packet work stays in C; this surface configures
// the node, moves single frames in and out (tests, tools, the simulator's control path) and
// reads the counters. A forwarding loop in C takes the node through UnwrapTangoNode.
#include "tango_binding.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "options.h"

extern "C" {
#include "tango_forward.h"
}

namespace {

constexpr napi_type_tag kTangoTag = {0x74616e676f6e6f64ull, 0x5be1c2a94f0d7e33ull};

uint64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// A clock reading: a non-negative bigint of epoch ns, or undefined for CLOCK_REALTIME now.
uint64_t NowOption(const Napi::CallbackInfo &info, size_t at) {
  if (info.Length() <= at || info[at].IsUndefined()) return RealtimeNs();
  if (!info[at].IsBigInt()) throw Napi::TypeError::New(info.Env(), "nowNs must be a bigint (epoch ns)");
  bool lossless = true;
  const uint64_t v = info[at].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(info.Env(), "nowNs must be 0..2^64-1");
  return v;
}

Napi::TypedArrayOf<uint8_t> Bytes(Napi::Env env, Napi::Value v, const char *what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, std::string(what) + " must be a Uint8Array");
  }
  return v.As<Napi::TypedArrayOf<uint8_t>>();
}

void Key(Napi::Env env, Napi::Value v, uint8_t out[WF_TANGO_KEY_LEN]) {
  Napi::TypedArrayOf<uint8_t> key = Bytes(env, v, "key");
  if (key.ElementLength() != WF_TANGO_KEY_LEN) throw Napi::RangeError::New(env, "key must be 16 bytes");
  std::memcpy(out, key.Data(), WF_TANGO_KEY_LEN);
}

uint32_t Epoch(Napi::Env env, Napi::Value v) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "epoch must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    throw Napi::RangeError::New(env, "epoch must be an integer 0..4294967295");
  }
  return static_cast<uint32_t>(d);
}

uint8_t PathId(Napi::Env env, Napi::Value v) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "pathId must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d < WF_TANGO_MAX_PATHS) || d != static_cast<double>(static_cast<int>(d))) {
    throw Napi::RangeError::New(env, "pathId must be an integer 0..7");
  }
  return static_cast<uint8_t>(d);
}

void Address(Napi::Object o, const char *key, uint8_t out[16]) {
  const std::string text = StringOption(o, key);
  if (inet_pton(AF_INET6, text.c_str(), out) != 1) {
    throw Napi::TypeError::New(o.Env(), std::string(key) + " must be an IPv6 address");
  }
}

void Mac(Napi::Object o, const char *key, uint8_t out[6]) {
  const std::string text = StringOption(o, key);
  unsigned b[6];
  char tail;
  if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6 ||
      text.size() != 17) {
    throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a MAC address like 02:00:00:00:00:01");
  }
  for (int i = 0; i < 6; i++) out[i] = static_cast<uint8_t>(b[i]);
}

Napi::Error ResultError(Napi::Env env, int rc, const char *what) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + wf_tango_result_name(rc));
  e.Set("code", wf_tango_result_name(rc));
  return e;
}

Napi::Object Rejects(Napi::Env env, const uint64_t *counts) {
  Napi::Object o = Napi::Object::New(env);
  for (int i = 0; i < WF_TANGO_REJECT_REASONS; i++) {
    o.Set(wf_tango_result_name(-i - 1), Napi::Number::New(env, static_cast<double>(counts[i])));
  }
  return o;
}

class TangoNode : public Napi::ObjectWrap<TangoNode> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "TangoNode",
                       {InstanceMethod("setPath", &TangoNode::SetPath),
                        InstanceMethod("setSendKey", &TangoNode::SetSendKey),
                        InstanceMethod("rotateReceiveKey", &TangoNode::RotateReceiveKey),
                        InstanceMethod("setClockOffset", &TangoNode::SetClockOffset),
                        InstanceMethod("encapsulate", &TangoNode::Encapsulate),
                        InstanceMethod("decapsulate", &TangoNode::Decapsulate),
                        InstanceMethod("pathStats", &TangoNode::PathStats),
                        InstanceMethod("stats", &TangoNode::Stats),
                        InstanceMethod("close", &TangoNode::Close)});
  }

  explicit TangoNode(const Napi::CallbackInfo &info) : Napi::ObjectWrap<TangoNode>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      throw Napi::TypeError::New(env, "new TangoNode({side, ...}) needs an options object");
    }
    Napi::Object o = info[0].As<Napi::Object>();
    wf_tango_config c{};
    if (!o.Has("side") || o.Get("side").IsUndefined()) throw Napi::TypeError::New(env, "side is required (0 or 1)");
    c.side = static_cast<uint8_t>(Limited(o, "side", 1));
    c.udp_port = static_cast<uint16_t>(Limited(o, "udpPort", 65535));
    c.hop_limit = static_cast<uint8_t>(Limited(o, "hopLimit", 255));
    c.mtu = static_cast<uint16_t>(Limited(o, "mtu", 65535));
    c.max_age_ms = UintOption(o, "maxAgeMs", 0);
    c.max_ahead_ms = UintOption(o, "maxAheadMs", 0);
    c.grace_ms = UintOption(o, "graceMs", 0);
    char err[200] = "";
    node_ = wf_tango_create(&c, err, sizeof err);
    if (!node_) throw Napi::RangeError::New(env, err);
    info.This().As<Napi::Object>().TypeTag(&kTangoTag);
  }

  // A forwarder still running on the node (finalizers at exit run in no set order) frees it
  // itself once its thread has stopped.
  ~TangoNode() override {
    if (node_ && !wf_tango_forwarder_adopt_node(node_)) wf_tango_destroy(node_);
  }

  wf_tango_node *Get(Napi::Env env) {
    if (!node_) throw Napi::Error::New(env, "the Tango node is closed");
    return node_;
  }

 private:
  static uint32_t Limited(Napi::Object o, const char *key, uint32_t max) {
    const uint32_t v = UintOption(o, key, 0);
    if (v > max) throw Napi::RangeError::New(o.Env(), std::string(key) + " must be at most " + std::to_string(max));
    return v;
  }

  // setPath({pathId, localAddress, peerAddress, localMac, nextHopMac})
  Napi::Value SetPath(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_tango_node *node = Get(env);
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "setPath needs a path object");
    Napi::Object o = info[0].As<Napi::Object>();
    wf_tango_path_config p{};
    p.path_id = PathId(env, o.Get("pathId"));
    Address(o, "localAddress", p.local_addr);
    Address(o, "peerAddress", p.peer_addr);
    Mac(o, "localMac", p.local_mac);
    Mac(o, "nextHopMac", p.next_hop_mac);
    char err[200] = "";
    if (wf_tango_set_path(node, &p, err, sizeof err) != 0) throw Napi::RangeError::New(env, err);
    return env.Undefined();
  }

  // setSendKey(epoch, key: 16 bytes)
  Napi::Value SetSendKey(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_tango_node *node = Get(env);
    uint8_t key[WF_TANGO_KEY_LEN];
    Key(env, info[1], key);
    wf_tango_set_send_key(node, Epoch(env, info[0]), key);
    std::memset(key, 0, sizeof key);
    return env.Undefined();
  }

  // rotateReceiveKey(epoch, key: 16 bytes, nowNs?: bigint)
  Napi::Value RotateReceiveKey(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_tango_node *node = Get(env);
    uint8_t key[WF_TANGO_KEY_LEN];
    Key(env, info[1], key);
    char err[200] = "";
    const int rc = wf_tango_rotate_receive_key(node, Epoch(env, info[0]), key, NowOption(info, 2), err, sizeof err);
    std::memset(key, 0, sizeof key);
    if (rc != 0) throw Napi::RangeError::New(env, err);
    return env.Undefined();
  }

  // setClockOffset(peerMinusLocalNs: bigint)
  Napi::Value SetClockOffset(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_tango_node *node = Get(env);
    if (info.Length() < 1 || !info[0].IsBigInt()) throw Napi::TypeError::New(env, "offset must be a bigint (ns)");
    bool lossless = true;
    const int64_t v = info[0].As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env, "offset must fit in 64 bits");
    wf_tango_set_clock_offset(node, v);
    return env.Undefined();
  }

  // encapsulate(pathId, inner: Uint8Array, nowNs?: bigint) -> Uint8Array (a new frame)
  Napi::Value Encapsulate(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_tango_node *node = Get(env);
    const uint8_t path = PathId(env, info[0]);
    Napi::TypedArrayOf<uint8_t> inner = Bytes(env, info[1], "inner");
    const uint64_t now = NowOption(info, 2);
    // The frame is always the inner packet plus the fixed overhead. A plain Uint8Array, not a
    // Buffer: Buffer#slice shares memory, Uint8Array#slice copies.
    const size_t size = WF_TANGO_OVERHEAD + inner.ElementLength();
    Napi::ArrayBuffer bytes = Napi::ArrayBuffer::New(env, size);
    const int n = wf_tango_encapsulate(node, path, inner.Data(), inner.ElementLength(), now,
                                       static_cast<uint8_t *>(bytes.Data()), size);
    if (n < 0) throw ResultError(env, n, "encapsulate");
    return Napi::TypedArrayOf<uint8_t>::New(env, static_cast<size_t>(n), bytes, 0);
  }

  // decapsulate(frame: Uint8Array, nowNs?: bigint) -> {ok: true, ...delivery} | {ok: false, reason}
  Napi::Value Decapsulate(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_tango_node *node = Get(env);
    Napi::TypedArrayOf<uint8_t> frame = Bytes(env, info[0], "frame");
    wf_tango_delivery d{};
    const int rc = wf_tango_decapsulate(node, frame.Data(), frame.ElementLength(), NowOption(info, 1), &d);
    Napi::Object o = Napi::Object::New(env);
    o.Set("ok", rc == WF_TANGO_OK);
    if (rc != WF_TANGO_OK) {
      o.Set("reason", wf_tango_result_name(rc));
      return o;
    }
    o.Set("pathId", d.path_id);
    o.Set("seq", d.seq);
    o.Set("timestamp", d.timestamp);
    o.Set("epoch", d.epoch);
    o.Set("innerOffset", static_cast<double>(d.inner_offset));
    o.Set("innerLength", static_cast<double>(d.inner_len));
    o.Set("delayNs", static_cast<double>(d.delay_ns));
    o.Set("trafficClass", d.traffic_class);
    o.Set("reordered", d.reordered != 0);
    o.Set("resync", d.resync != 0);
    return o;
  }

  Napi::Value PathStats(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_tango_node *node = Get(env);
    wf_tango_path_stats s{};
    wf_tango_get_path_stats(node, PathId(env, info[0]), &s);
    Napi::Object o = Napi::Object::New(env);
    auto set = [&](const char *key, double v) { o.Set(key, Napi::Number::New(env, v)); };
    o.Set("configured", s.configured != 0);
    set("tx_packets", static_cast<double>(s.tx_packets));
    set("tx_bytes", static_cast<double>(s.tx_bytes));
    set("tx_next_seq", s.tx_next_seq);
    set("rx_packets", static_cast<double>(s.rx_packets));
    set("rx_bytes", static_cast<double>(s.rx_bytes));
    set("rx_expected", static_cast<double>(s.rx_expected));
    set("rx_lost", static_cast<double>(s.rx_lost));
    set("rx_reordered", static_cast<double>(s.rx_reordered));
    set("rx_resyncs", static_cast<double>(s.rx_resyncs));
    set("rx_top_seq", s.rx_top_seq);
    set("rx_last_ns", static_cast<double>(s.rx_last_ns));
    set("delay_samples", static_cast<double>(s.delay_samples));
    set("delay_last_ns", static_cast<double>(s.delay_last_ns));
    set("delay_min_ns", static_cast<double>(s.delay_min_ns));
    set("delay_max_ns", static_cast<double>(s.delay_max_ns));
    set("delay_sum_ns", static_cast<double>(s.delay_sum_ns));
    set("jitter_ns", static_cast<double>(s.jitter_ns));
    o.Set("rejects", Rejects(env, s.rejects));
    return o;
  }

  Napi::Value Stats(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_tango_node_stats s{};
    wf_tango_get_node_stats(Get(env), &s);
    Napi::Object o = Napi::Object::New(env);
    o.Set("rx_frames", Napi::Number::New(env, static_cast<double>(s.rx_frames)));
    o.Set("rx_accepted", Napi::Number::New(env, static_cast<double>(s.rx_accepted)));
    o.Set("tx_packets", Napi::Number::New(env, static_cast<double>(s.tx_packets)));
    o.Set("tx_errors", Napi::Number::New(env, static_cast<double>(s.tx_errors)));
    o.Set("rejects", Rejects(env, s.rejects));
    return o;
  }

  // close(): zeroes the keys and frees the node. Idempotent. Refused while a forwarder runs on
  // the node (also from inside its locked()): its thread would use the freed node.
  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (node_ && wf_tango_forwarder_holds(node_)) {
      throw Napi::Error::New(info.Env(), "a Tango forwarder is running on this node: stop the forwarder first");
    }
    wf_tango_destroy(node_);
    node_ = nullptr;
    return info.Env().Undefined();
  }

  wf_tango_node *node_ = nullptr;
};

}  // namespace

Napi::Function InitTango(Napi::Env env) { return TangoNode::Init(env); }

wf_tango_node *UnwrapTangoNode(Napi::Value value) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kTangoTag)) {
    throw Napi::TypeError::New(env, "expected a TangoNode (native/tango.ts)");
  }
  return TangoNode::Unwrap(value.As<Napi::Object>())->Get(env);
}
