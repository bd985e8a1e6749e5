/*
 * libpcap loaded at run time, so the engine builds without libpcap headers and runs without
 * libpcap when neither a filter nor the libpcap backend is asked for. Tries libpcap.so.1,
 * then libpcap.so.0.8 (Debian's name), then libpcap.so. The symbols BPF compilation needs are
 * required; the capture symbols are optional (capture_ok says whether all were found).
 */
#define _GNU_SOURCE /* RTLD_* on older glibc */
#include "libpcap_loader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct wf_libpcap pcap;
static void *lib;
static char load_error[200];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;

void wf_libpcap_lock(void) { pthread_mutex_lock(&compile_lock); }
void wf_libpcap_unlock(void) { pthread_mutex_unlock(&compile_lock); }

/* POSIX allows converting dlsym's void * to a function pointer; memcpy keeps -Wpedantic quiet. */
static int resolve(void *field, size_t size, const char *symbol) {
  void *sym = dlsym(lib, symbol);
  if (!sym || size != sizeof sym) return 0;
  memcpy(field, &sym, sizeof sym);
  return 1;
}

static void load(void) {
  static const char *const names[] = {"libpcap.so.1", "libpcap.so.0.8", "libpcap.so"};
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !lib; i++)
    lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(load_error, sizeof load_error,
             "libpcap not found (needed for BPF filters; apt-get install libpcap0.8)");
    return;
  }
#define REQUIRE(field, symbol)                                                     \
  if (!resolve(&pcap.field, sizeof pcap.field, symbol)) {                          \
    snprintf(load_error, sizeof load_error, "libpcap found but lacks %s", symbol); \
    dlclose(lib);                                                                  \
    lib = NULL;                                                                    \
    return;                                                                        \
  }
  REQUIRE(open_dead, "pcap_open_dead")
  REQUIRE(compile, "pcap_compile")
  REQUIRE(freecode, "pcap_freecode")
  REQUIRE(close, "pcap_close")
  REQUIRE(geterr, "pcap_geterr")
  REQUIRE(lib_version, "pcap_lib_version")
#undef REQUIRE
#define OPTIONAL(field, symbol)                                                    \
  if (!resolve(&pcap.field, sizeof pcap.field, symbol)) {                          \
    snprintf(pcap.capture_error, sizeof pcap.capture_error,                        \
             "%s lacks %s (the libpcap backend needs libpcap >= 1.5)",             \
             pcap.lib_version(), symbol);                                          \
    return;                                                                        \
  }
  OPTIONAL(create, "pcap_create")
  OPTIONAL(set_snaplen, "pcap_set_snaplen")
  OPTIONAL(set_promisc, "pcap_set_promisc")
  OPTIONAL(set_buffer_size, "pcap_set_buffer_size")
  OPTIONAL(set_timeout, "pcap_set_timeout")
  OPTIONAL(set_tstamp_precision, "pcap_set_tstamp_precision")
  OPTIONAL(set_tstamp_type, "pcap_set_tstamp_type")
  OPTIONAL(activate, "pcap_activate")
  OPTIONAL(setfilter, "pcap_setfilter")
  OPTIONAL(setnonblock, "pcap_setnonblock")
  OPTIONAL(get_selectable_fd, "pcap_get_selectable_fd")
  OPTIONAL(dispatch, "pcap_dispatch")
  OPTIONAL(stats, "pcap_stats")
  OPTIONAL(datalink, "pcap_datalink")
  OPTIONAL(statustostr, "pcap_statustostr")
#undef OPTIONAL
  pcap.capture_ok = 1;
}

const struct wf_libpcap *wf_libpcap_load(const char **why) {
  pthread_once(&load_once, load);
  if (!lib) {
    if (why) *why = load_error;
    return NULL;
  }
  if (why) *why = "";
  return &pcap;
}
