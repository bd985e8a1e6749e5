// ImpairmentRelay: a JS handle on wf_relay. The relay runs on its own C thread; JS starts it,
// reads its counters and stops it. Nothing per frame crosses into JS.
#include "relay_binding.h"

#include <string>

#include "options.h"

extern "C" {
#include "relay.h"
}

namespace {

double FractionOption(Napi::Object o, const char *key) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return 0;
  if (!o.Get(key).IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return o.Get(key).As<Napi::Number>().DoubleValue();
}

// {delayMs, jitterMs, loss, reorder, reorderDelayMs}, every field optional (0).
wf_relay_impairment ImpairmentOption(Napi::Object o, const char *key) {
  wf_relay_impairment imp{};
  if (!o.Has(key) || o.Get(key).IsUndefined()) return imp;
  if (!o.Get(key).IsObject()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be an object");
  Napi::Object v = o.Get(key).As<Napi::Object>();
  imp.delay_ms = UintOption(v, "delayMs", 0);
  imp.jitter_ms = UintOption(v, "jitterMs", 0);
  imp.loss = FractionOption(v, "loss");
  imp.reorder = FractionOption(v, "reorder");
  imp.reorder_delay_ms = UintOption(v, "reorderDelayMs", 0);
  char err[160] = "";
  if (wf_relay_impairment_check(&imp, err, sizeof err) != 0) {
    throw Napi::RangeError::New(o.Env(), std::string(key) + ": " + err);
  }
  return imp;
}

uint64_t SeedOption(Napi::Object o) {
  if (!o.Has("seed") || o.Get("seed").IsUndefined()) return 0x7a6e676f72656c61ull;
  Napi::Value v = o.Get("seed");
  if (v.IsBigInt()) {
    bool lossless = true;
    const uint64_t seed = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(o.Env(), "seed must be 0..2^64-1");
    return seed;
  }
  return UintOption(o, "seed", 0);
}

Napi::Object DirStats(Napi::Env env, const wf_relay_dir_stats &s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("received", static_cast<double>(s.received));
  o.Set("forwarded", static_cast<double>(s.forwarded));
  o.Set("forwarded_bytes", static_cast<double>(s.forwarded_bytes));
  o.Set("dropped_loss", static_cast<double>(s.dropped_loss));
  o.Set("dropped_queue_full", static_cast<double>(s.dropped_queue_full));
  o.Set("reordered", static_cast<double>(s.reordered));
  o.Set("send_errors", static_cast<double>(s.send_errors));
  o.Set("queued", static_cast<double>(s.queued));
  o.Set("interface_errors", static_cast<double>(s.interface_errors));
  return o;
}

class ImpairmentRelay : public Napi::ObjectWrap<ImpairmentRelay> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "ImpairmentRelay",
                       {InstanceMethod("stats", &ImpairmentRelay::Stats),
                        InstanceMethod("stop", &ImpairmentRelay::Stop)});
  }

  explicit ImpairmentRelay(const Napi::CallbackInfo &info) : Napi::ObjectWrap<ImpairmentRelay>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      throw Napi::TypeError::New(env, "new ImpairmentRelay({interfaceA, interfaceB, ...}) needs an options object");
    }
    Napi::Object o = info[0].As<Napi::Object>();
    const std::string netns = StringOption(o, "netns");
    const std::string a = StringOption(o, "interfaceA");
    const std::string b = StringOption(o, "interfaceB");
    wf_relay_config c{};
    c.netns = netns.c_str();
    c.interface_a = a.c_str();
    c.interface_b = b.c_str();
    c.dir[WF_RELAY_A_TO_B] = ImpairmentOption(o, "aToB");
    c.dir[WF_RELAY_B_TO_A] = ImpairmentOption(o, "bToA");
    c.seed = SeedOption(o);
    c.queue_limit = UintOption(o, "queueLimit", 0);
    char err[512] = "";
    relay_ = wf_relay_start(&c, err, sizeof err);
    if (!relay_) throw Napi::Error::New(env, err);
  }

  ~ImpairmentRelay() override { wf_relay_stop(relay_, nullptr); }

 private:
  // stats() -> {forwarded, dropped_loss, dropped_queue_full, reordered, a_to_b: {...}, b_to_a: {...}}
  Napi::Value Stats(const Napi::CallbackInfo &info) {
    if (relay_) wf_relay_get_stats(relay_, &last_);
    return StatsToJs(info.Env(), last_);
  }

  // stop(): joins the thread (it wakes at once); frames still queued are dropped. Idempotent;
  // stats() keeps answering with the final counters.
  Napi::Value Stop(const Napi::CallbackInfo &info) {
    if (relay_) wf_relay_stop(relay_, &last_);
    relay_ = nullptr;
    return info.Env().Undefined();
  }

  static Napi::Object StatsToJs(Napi::Env env, const wf_relay_stats &s) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("forwarded", static_cast<double>(s.forwarded));
    o.Set("dropped_loss", static_cast<double>(s.dropped_loss));
    o.Set("dropped_queue_full", static_cast<double>(s.dropped_queue_full));
    o.Set("reordered", static_cast<double>(s.reordered));
    o.Set("a_to_b", DirStats(env, s.dir[WF_RELAY_A_TO_B]));
    o.Set("b_to_a", DirStats(env, s.dir[WF_RELAY_B_TO_A]));
    return o;
  }

  wf_relay *relay_ = nullptr;
  wf_relay_stats last_{};
};

}  // namespace

Napi::Function InitRelay(Napi::Env env) { return ImpairmentRelay::Init(env); }
