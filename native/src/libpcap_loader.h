/*
 * libpcap loaded at run time (dlopen), shared by the BPF compiler (bpf.c) and the libpcap
 * capture backend (pcap_backend.c). No pcap headers: the little ABI used is declared here.
 */
#ifndef WF_LIBPCAP_LOADER_H
#define WF_LIBPCAP_LOADER_H

#include <stdint.h>
#include <sys/time.h>

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
struct pcap_pkthdr {
  struct timeval ts; /* tv_usec holds nanoseconds with PCAP_TSTAMP_PRECISION_NANO */
  uint32_t caplen;
  uint32_t len;
};
struct pcap_stat {
  unsigned int ps_recv;
  unsigned int ps_drop;
  unsigned int ps_ifdrop;
};
typedef struct pcap pcap_t;
typedef void (*wf_pcap_handler)(unsigned char *user, const struct pcap_pkthdr *h,
                                const unsigned char *bytes);

#define PCAP_NETMASK_UNKNOWN 0xffffffffu
#define PCAP_ERRBUF_SIZE 256
#define PCAP_TSTAMP_HOST 0
#define PCAP_TSTAMP_ADAPTER 3
#define PCAP_TSTAMP_ADAPTER_UNSYNCED 4
#define PCAP_TSTAMP_PRECISION_NANO 1
#define PCAP_ERROR (-1)
#define PCAP_ERROR_NO_SUCH_DEVICE (-5)
#define PCAP_ERROR_PERM_DENIED (-8)
#define PCAP_ERROR_IFACE_NOT_UP (-9)
#define PCAP_ERROR_CANTSET_TSTAMP_TYPE (-10)
#define PCAP_ERROR_PROMISC_PERM_DENIED (-11)
#define PCAP_ERROR_TSTAMP_PRECISION_NOTSUP (-12)
#define PCAP_WARNING_TSTAMP_TYPE_NOTSUP 3

struct wf_libpcap {
  /* Always present once loaded (BPF compilation). */
  pcap_t *(*open_dead)(int, int);
  int (*compile)(pcap_t *, struct pcap_bpf_program *, const char *, int, uint32_t);
  void (*freecode)(struct pcap_bpf_program *);
  void (*close)(pcap_t *);
  char *(*geterr)(pcap_t *);
  const char *(*lib_version)(void);
  /* Capture: present when capture_ok (libpcap >= 1.5). */
  int capture_ok;
  pcap_t *(*create)(const char *, char *);
  int (*set_snaplen)(pcap_t *, int);
  int (*set_promisc)(pcap_t *, int);
  int (*set_buffer_size)(pcap_t *, int);
  int (*set_timeout)(pcap_t *, int);
  int (*set_tstamp_precision)(pcap_t *, int);
  int (*set_tstamp_type)(pcap_t *, int);
  int (*activate)(pcap_t *);
  int (*setfilter)(pcap_t *, struct pcap_bpf_program *);
  int (*setnonblock)(pcap_t *, int, char *);
  int (*get_selectable_fd)(pcap_t *);
  int (*dispatch)(pcap_t *, int, wf_pcap_handler, unsigned char *);
  int (*stats)(pcap_t *, struct pcap_stat *);
  int (*datalink)(pcap_t *);
  const char *(*statustostr)(int);
  char capture_error[200]; /* why capture_ok is 0 */
};

/* The loaded library (loaded once, thread-safe), or NULL with the reason in *why. */
const struct wf_libpcap *wf_libpcap_load(const char **why);

/* libpcap < 1.8 kept the filter compiler's state in globals: hold this around pcap_compile. */
void wf_libpcap_lock(void);
void wf_libpcap_unlock(void);

#endif
