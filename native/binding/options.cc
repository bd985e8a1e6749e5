#include "options.h"

uint32_t UintOption(Napi::Object o, const char *key, uint32_t fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined() || o.Get(key).IsNull()) return fallback;
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw Napi::RangeError::New(o.Env(), std::string(key) + " must be an integer 0..4294967295");
  return static_cast<uint32_t>(d);
}

std::string StringOption(Napi::Object o, const char *key) {
  if (!o.Has(key) || o.Get(key).IsUndefined() || o.Get(key).IsNull()) return "";
  if (!o.Get(key).IsString())
    throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return o.Get(key).As<Napi::String>();
}

wf_meter_config MeterConfigOption(Napi::Value options) {
  wf_meter_config config{};
  config.max_flows = 65536;
  if (!options.IsObject()) return config;
  Napi::Object o = options.As<Napi::Object>();
  config.max_flows = UintOption(o, "maxFlows", 65536);
  config.idle_timeout_s = UintOption(o, "idleTimeoutS", 0);
  config.active_timeout_s = UintOption(o, "activeTimeoutS", 0);
  if (o.Has("seed") && o.Get("seed").IsBigInt()) {
    bool lossless = true;
    config.seed = o.Get("seed").As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return config;
}
