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
 * The library is loaded by libpcap_loader.c (shared with the libpcap capture backend).
 *
 * libpcap < 1.8 kept the compiler's state in globals, so compilations are
 * serialized with a mutex.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpcap_loader.h"
#include "wirefleet.h"

#define DLT_RAW_LINUX 12 /* LINKTYPE_RAW (101) is DLT_RAW (12) to pcap_open_dead on Linux */

int wf_libpcap_available(char *version, size_t len) {
  const char *why = "";
  const struct wf_libpcap *pcap = wf_libpcap_load(&why);
  if (version && len) snprintf(version, len, "%s", pcap ? pcap->lib_version() : why);
  return pcap != NULL;
}

int wf_bpf_compile(const char *expr, int linktype, uint32_t snaplen, struct wf_bpf_program *out,
                   char *err, size_t errlen) {
  out->len = 0;
  out->insns = NULL;
  if (!expr) expr = "";
  const char *why = "";
  const struct wf_libpcap *pcap = wf_libpcap_load(&why);
  if (!pcap) {
    snprintf(err, errlen, "filter \"%s\": %s", expr, why);
    return -1;
  }
  if (snaplen == 0 || snaplen > 262144) snaplen = 262144;
  int dlt = linktype == WF_LINKTYPE_RAW ? DLT_RAW_LINUX : linktype;
  int rc = -1;
  struct pcap_bpf_program prog = {0, NULL};
  wf_libpcap_lock();
  pcap_t *p = pcap->open_dead(dlt, (int)snaplen);
  if (!p) {
    snprintf(err, errlen, "filter \"%s\": pcap_open_dead failed for link type %d", expr, linktype);
    goto out;
  }
  if (pcap->compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    const char *why = pcap->geterr(p);
    snprintf(err, errlen, "filter \"%s\": %s", expr, why && *why ? why : "does not compile");
    pcap->close(p);
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
  pcap->freecode(&prog);
  pcap->close(p);
out:
  wf_libpcap_unlock();
  return rc;
}

void wf_bpf_free(struct wf_bpf_program *prog) {
  if (!prog) return;
  free(prog->insns);
  prog->insns = NULL;
  prog->len = 0;
}
