// TangoForwarder: a JS handle on the C forwarding loop (native/src/tango_forward.c). The thread
// runs in C; these methods steer classes, send route updates and copy counters under the
// forwarder's lock. native/tango-forwarder.ts validates the options first (zod); the checks here
// keep the C side safe whatever it is given.
#include "tango_forward_binding.h"

#include <cstring>
#include <string>

#include "options.h"
#include "tango_binding.h"

extern "C" {
#include "tango_forward.h"
}

namespace {

uint8_t Small(Napi::Env env, Napi::Value v, const char *what, uint32_t limit) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d < limit) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    throw Napi::RangeError::New(env, std::string(what) + " must be an integer 0.." + std::to_string(limit - 1));
  }
  return static_cast<uint8_t>(d);
}

uint32_t Mask(uint32_t bits) { return bits == 0 ? 0 : 0xffffffffu << (32 - bits); }

// {classId, protocol, srcNet, srcBits, dstNet, dstBits, srcPorts: [lo, hi], dstPorts: [lo, hi]}
wf_tango_class_rule Rule(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, "a class rule must be an object");
  Napi::Object o = v.As<Napi::Object>();
  wf_tango_class_rule r{};
  r.class_id = Small(env, o.Get("classId"), "classId", WF_TANGO_CLASSES);
  r.protocol = static_cast<uint8_t>(UintOption(o, "protocol", 0));
  const uint32_t srcBits = UintOption(o, "srcBits", 0), dstBits = UintOption(o, "dstBits", 0);
  if (srcBits > 32 || dstBits > 32) throw Napi::RangeError::New(env, "a prefix length must be 0..32");
  r.src_mask = Mask(srcBits);
  r.dst_mask = Mask(dstBits);
  r.src_net = UintOption(o, "srcNet", 0);
  r.dst_net = UintOption(o, "dstNet", 0);
  auto range = [&](const char *key, uint16_t *lo, uint16_t *hi) {
    *lo = 0, *hi = 0xffff;
    Napi::Value p = o.Get(key);
    if (p.IsUndefined() || p.IsNull()) return;
    if (!p.IsArray() || p.As<Napi::Array>().Length() != 2) {
      throw Napi::TypeError::New(env, std::string(key) + " must be [low, high]");
    }
    Napi::Array a = p.As<Napi::Array>();
    for (uint32_t i = 0; i < 2; i++) {
      const Napi::Value e = a.Get(i);
      const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0 && d <= 65535) || d != static_cast<double>(static_cast<uint32_t>(d))) {
        throw Napi::RangeError::New(env, std::string(key) + " must hold ports 0..65535");
      }
      (i == 0 ? *lo : *hi) = static_cast<uint16_t>(d);
    }
  };
  range("srcPorts", &r.sport_lo, &r.sport_hi);
  range("dstPorts", &r.dport_lo, &r.dport_hi);
  return r;
}

void Name(Napi::Env env, const std::string &name, const char *what, char out[IF_NAMESIZE]) {
  if (name.empty() || name.size() >= IF_NAMESIZE || name.find('/') != std::string::npos) {
    throw Napi::RangeError::New(env, std::string(what) + " must be an interface name of 1..15 characters");
  }
  std::memcpy(out, name.c_str(), name.size() + 1);
}

class TangoForwarder : public Napi::ObjectWrap<TangoForwarder> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "TangoForwarder",
                       {InstanceMethod("setClassPath", &TangoForwarder::SetClassPath),
                        InstanceMethod("sendRouteUpdate", &TangoForwarder::SendRouteUpdate),
                        InstanceMethod("classPaths", &TangoForwarder::ClassPaths),
                        InstanceMethod("stats", &TangoForwarder::Stats),
                        InstanceMethod("locked", &TangoForwarder::Locked),
                        InstanceMethod("stop", &TangoForwarder::Stop)});
  }

  // new TangoForwarder({node, tunName, paths: [{pathId, interface}], classes, classPaths})
  explicit TangoForwarder(const Napi::CallbackInfo &info) : Napi::ObjectWrap<TangoForwarder>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "TangoForwarder needs options");
    Napi::Object o = info[0].As<Napi::Object>();
    wf_tango_forward_config c{};
    c.node = UnwrapTangoNode(o.Get("node"));
    const std::string netns = StringOption(o, "netns");
    if (netns.size() >= sizeof c.netns) throw Napi::RangeError::New(env, "netns is too long");
    std::memcpy(c.netns, netns.c_str(), netns.size() + 1);
    Name(env, StringOption(o, "tunName"), "tunName", c.tun_name);
    Napi::Value paths = o.Get("paths");
    if (!paths.IsArray()) throw Napi::TypeError::New(env, "paths must be an array");
    Napi::Array pa = paths.As<Napi::Array>();
    if (pa.Length() < 1 || pa.Length() > WF_TANGO_MAX_PATHS) throw Napi::RangeError::New(env, "1 to 8 paths");
    c.path_count = pa.Length();
    for (uint32_t i = 0; i < pa.Length(); i++) {
      if (!pa.Get(i).IsObject()) throw Napi::TypeError::New(env, "a path must be {pathId, interface}");
      Napi::Object p = pa.Get(i).As<Napi::Object>();
      c.paths[i].path_id = Small(env, p.Get("pathId"), "pathId", WF_TANGO_MAX_PATHS);
      Name(env, StringOption(p, "interface"), "interface", c.paths[i].ifname);
    }
    Napi::Value classes = o.Get("classes");
    if (!classes.IsUndefined()) {
      if (!classes.IsArray()) throw Napi::TypeError::New(env, "classes must be an array");
      Napi::Array ca = classes.As<Napi::Array>();
      for (uint32_t i = 0; i < ca.Length(); i++) {
        const wf_tango_class_rule r = Rule(env, ca.Get(i));
        char err[160] = "";
        if (wf_tango_classifier_add(&c.classes, &r, err, sizeof err) != 0) throw Napi::RangeError::New(env, err);
      }
    }
    Napi::Value map = o.Get("classPaths");
    if (!map.IsArray() || map.As<Napi::Array>().Length() != WF_TANGO_CLASSES) {
      throw Napi::TypeError::New(env, "classPaths must be an array of 16 path ids");
    }
    for (uint32_t i = 0; i < WF_TANGO_CLASSES; i++) {
      c.class_path[i] = Small(env, map.As<Napi::Array>().Get(i), "classPaths[i]", WF_TANGO_MAX_PATHS);
    }
    char err[200] = "";
    forwarder_ = wf_tango_forwarder_start(&c, err, sizeof err);
    if (!forwarder_) throw Napi::Error::New(env, std::string("cannot start the Tango forwarder: ") + err);
    // The node must outlive the thread that uses it.
    node_ = Napi::Persistent(o.Get("node").As<Napi::Object>());
  }

  ~TangoForwarder() override { wf_tango_forwarder_stop(forwarder_); }

 private:
  wf_tango_forwarder *Get(Napi::Env env) {
    if (!forwarder_) throw Napi::Error::New(env, "the Tango forwarder is stopped");
    // The lock is held for locked()'s callback: a call back in would wait for itself.
    if (inLocked_) throw Napi::Error::New(env, "call the forwarder's methods outside locked()");
    return forwarder_;
  }

  Napi::Value SetClassPath(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    char err[160] = "";
    if (wf_tango_forwarder_set_class_path(Get(env), Small(env, info[0], "classId", WF_TANGO_CLASSES),
                                          Small(env, info[1], "pathId", WF_TANGO_MAX_PATHS), err, sizeof err) != 0) {
      throw Napi::RangeError::New(env, err);
    }
    return env.Undefined();
  }

  // -> the number of paths the update went out on
  Napi::Value SendRouteUpdate(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    char err[160] = "";
    const int n = wf_tango_forwarder_send_route_update(Get(env), Small(env, info[0], "classId", WF_TANGO_CLASSES),
                                                       Small(env, info[1], "pathId", WF_TANGO_MAX_PATHS), err,
                                                       sizeof err);
    if (n < 0) throw Napi::Error::New(env, std::string("route update not sent: ") + err);
    return Napi::Number::New(env, n);
  }

  Napi::Value ClassPaths(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    uint8_t map[WF_TANGO_CLASSES];
    wf_tango_forwarder_class_paths(Get(env), map);
    Napi::Array a = Napi::Array::New(env, WF_TANGO_CLASSES);
    for (uint32_t i = 0; i < WF_TANGO_CLASSES; i++) a.Set(i, Napi::Number::New(env, map[i]));
    return a;
  }

  Napi::Value Stats(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_tango_forward_stats s{};
    wf_tango_forwarder_stats(Get(env), &s);
    Napi::Object o = Napi::Object::New(env);
    auto set = [&](Napi::Object t, const char *key, uint64_t v) { t.Set(key, Napi::Number::New(env, static_cast<double>(v))); };
    set(o, "tunRx", s.tun_rx);
    set(o, "tunTx", s.tun_tx);
    set(o, "encapErrors", s.encap_errors);
    set(o, "tooBig", s.too_big);
    set(o, "icmpFragNeeded", s.icmp_frag_needed);
    set(o, "ecnDrops", s.ecn_drops);
    set(o, "rxRejected", s.rx_rejected);
    set(o, "tunWriteErrors", s.tun_write_errors);
    set(o, "routeUpdatesSent", s.route_updates_sent);
    set(o, "routeUpdatesApplied", s.route_updates_applied);
    set(o, "routeUpdatesIgnored", s.route_updates_ignored);
    set(o, "routeUpdatesRefused", s.route_updates_refused);
    Napi::Array paths = Napi::Array::New(env, s.path_count);
    for (size_t i = 0; i < s.path_count && i < WF_TANGO_MAX_PATHS; i++) {
      Napi::Object p = Napi::Object::New(env);
      set(p, "pathId", s.paths[i].path_id);
      set(p, "txFrames", s.paths[i].tx_frames);
      set(p, "rxFrames", s.paths[i].rx_frames);
      set(p, "txErrors", s.paths[i].tx_errors);
      set(p, "rxErrors", s.paths[i].rx_errors);
      set(p, "maxInner", s.paths[i].max_inner);
      paths.Set(static_cast<uint32_t>(i), p);
    }
    o.Set("perPath", paths);
    o.Set("running", s.running != 0);
    o.Set("error", s.error[0] ? Napi::Value(Napi::String::New(env, s.error)) : env.Null());
    return o;
  }

  // locked(fn): calls fn while holding the lock that guards the node, so the node's own methods
  // (pathStats, stats, key rotation) are safe while the thread runs. The thread waits meanwhile.
  Napi::Value Locked(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    wf_tango_forwarder *f = Get(env);
    if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "locked needs a function");
    struct Unlock {
      TangoForwarder *self;
      wf_tango_forwarder *f;
      ~Unlock() {
        self->inLocked_ = false;
        wf_tango_forwarder_unlock(f);
      }
    };
    wf_tango_forwarder_lock(f);
    inLocked_ = true;
    Unlock unlock{this, f};
    return info[0].As<Napi::Function>().Call({});
  }

  // stop(): joins the thread, closes the sockets and the TUN. Idempotent.
  Napi::Value Stop(const Napi::CallbackInfo &info) {
    if (inLocked_) throw Napi::Error::New(info.Env(), "call the forwarder's methods outside locked()");
    wf_tango_forwarder_stop(forwarder_);
    forwarder_ = nullptr;
    node_.Reset();
    return info.Env().Undefined();
  }

  wf_tango_forwarder *forwarder_ = nullptr;
  bool inLocked_ = false;
  Napi::ObjectReference node_;
};

}  // namespace

Napi::Function InitTangoForwarder(Napi::Env env) { return TangoForwarder::Init(env); }
