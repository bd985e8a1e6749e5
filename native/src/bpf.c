/*
 * BPF filter compilation through libpcap loaded at run time (dlopen), so the
 * engine builds without libpcap headers and runs without libpcap when no
 * filter is asked for.
 *
 * The expression is compiled against pcap_open_dead(linktype, snaplen) with
 * PCAP_NETMASK_UNKNOWN (as Arkime's TPACKET_V3 reader does); the classic BPF
 * program is copied out so the pcap handle can be closed at once. libpcap's
 * struct bpf_insn has the layout of the kernel's struct sock_filter, so the
 * copy attaches with SO_ATTACH_FILTER as is.
 *
 * libpcap < 1.8 kept the compiler's state in globals, so compilations are
 * serialized with a mutex.
 */
#define _GNU_SOURCE /* RTLD_* on older glibc */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wirefleet.h"

/* Minimal libpcap ABI, declared here so no pcap headers are needed. */
struct pcap_bpf_insn {
  uint16_t code;
  uint8_t jt;
  uint8_t jf;
  uint32_t k;
};
struct pcap_bpf_program {
  unsigned int bf_len;
  struct pcap_bpf_insn *bf_insns;
};
typedef struct pcap pcap_t;

#define PCAP_NETMASK_UNKNOWN 0xffffffffu
#define DLT_RAW_LINUX 12 /* LINKTYPE_RAW (101) is DLT_RAW (12) to pcap_open_dead on Linux */

static struct {
  void *lib;
  pcap_t *(*open_dead)(int, int);
  int (*compile)(pcap_t *, struct pcap_bpf_program *, const char *, int, uint32_t);
  void (*freecode)(struct pcap_bpf_program *);
  void (*close)(pcap_t *);
  char *(*geterr)(pcap_t *);
  const char *(*lib_version)(void);
  char load_error[200];
} pcap;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;

static void load_libpcap(void) {
  static const char *const names[] = {"libpcap.so.1", "libpcap.so.0.8", "libpcap.so"};
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !pcap.lib; i++)
    pcap.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  if (!pcap.lib) {
    snprintf(pcap.load_error, sizeof pcap.load_error,
             "libpcap not found (needed for BPF filters; apt-get install libpcap0.8)");
    return;
  }
  /* POSIX allows converting dlsym's void * to a function pointer; memcpy keeps -Wpedantic quiet. */
#define RESOLVE(field, symbol)                                     \
  do {                                                             \
    void *sym = dlsym(pcap.lib, symbol);                           \
    if (!sym) {                                                    \
      snprintf(pcap.load_error, sizeof pcap.load_error,            \
               "libpcap found but lacks %s", symbol);              \
      dlclose(pcap.lib);                                           \
      pcap.lib = NULL;                                             \
      return;                                                      \
    }                                                              \
    memcpy(&pcap.field, &sym, sizeof sym);                         \
  } while (0)
  RESOLVE(open_dead, "pcap_open_dead");
  RESOLVE(compile, "pcap_compile");
  RESOLVE(freecode, "pcap_freecode");
  RESOLVE(close, "pcap_close");
  RESOLVE(geterr, "pcap_geterr");
  RESOLVE(lib_version, "pcap_lib_version");
#undef RESOLVE
}

static int loaded(void) {
  pthread_once(&load_once, load_libpcap);
  return pcap.lib != NULL;
}

int wf_libpcap_available(char *version, size_t len) {
  int ok = loaded();
  if (version && len) snprintf(version, len, "%s", ok ? pcap.lib_version() : pcap.load_error);
  return ok;
}

int wf_bpf_compile(const char *expr, int linktype, uint32_t snaplen, struct wf_bpf_program *out,
                   char *err, size_t errlen) {
  out->len = 0;
  out->insns = NULL;
  if (!expr) expr = "";
  if (!loaded()) {
    snprintf(err, errlen, "filter \"%s\": %s", expr, pcap.load_error);
    return -1;
  }
  if (snaplen == 0 || snaplen > 262144) snaplen = 262144;
  int dlt = linktype == WF_LINKTYPE_RAW ? DLT_RAW_LINUX : linktype;
  int rc = -1;
  struct pcap_bpf_program prog = {0, NULL};
  pthread_mutex_lock(&compile_lock);
  pcap_t *p = pcap.open_dead(dlt, (int)snaplen);
  if (!p) {
    snprintf(err, errlen, "filter \"%s\": pcap_open_dead failed for link type %d", expr, linktype);
    goto out;
  }
  if (pcap.compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    const char *why = pcap.geterr(p);
    snprintf(err, errlen, "filter \"%s\": %s", expr, why && *why ? why : "does not compile");
    pcap.close(p);
    goto out;
  }
  if (prog.bf_len == 0 || prog.bf_len > 4096 /* BPF_MAXINSNS */) {
    snprintf(err, errlen, "filter \"%s\": program of %u instructions is beyond the kernel's limit",
             expr, prog.bf_len);
  } else if (!(out->insns = malloc(prog.bf_len * sizeof *prog.bf_insns))) {
    snprintf(err, errlen, "filter \"%s\": out of memory", expr);
  } else {
    memcpy(out->insns, prog.bf_insns, prog.bf_len * sizeof *prog.bf_insns);
    out->len = prog.bf_len;
    rc = 0;
  }
  pcap.freecode(&prog);
  pcap.close(p);
out:
  pthread_mutex_unlock(&compile_lock);
  return rc;
}

void wf_bpf_free(struct wf_bpf_program *prog) {
  if (!prog) return;
  free(prog->insns);
  prog->insns = NULL;
  prog->len = 0;
}
