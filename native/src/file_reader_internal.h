/* Private to the C core and its fuzzers: not part of the Node-facing contract. */
#ifndef WF_FILE_READER_INTERNAL_H
#define WF_FILE_READER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "wirefleet.h"

/* Reads a capture held in memory. `data` is not copied and must outlive the
 * reader; wf_file_close frees only the reader. */
wf_file_reader *wf_file_open_memory(const uint8_t *data, size_t len, char *err, size_t errlen);

/* Reads a capture held in memory through the same buffered path as a file,
 * starting with a buffer of buf_bytes (it grows for larger records): lets
 * tests and fuzzers check window moves against wf_file_open_memory. */
wf_file_reader *wf_file_open_memory_buffered(const uint8_t *data, size_t len, size_t buf_bytes,
                                             char *err, size_t errlen);

/* ---- shared by file_reader.c (windows, API) and file_formats.c (records) ---- */

typedef struct wf_iface {
  int linktype;
  uint32_t snaplen;
  uint8_t res_pow2; /* if_tsresol: units are 2^-exp seconds, else 10^-exp */
  uint8_t res_exp;
  int64_t offset_s; /* if_tsoffset */
} wf_iface;

enum { WF_FMT_PCAP = 1, WF_FMT_PCAPNG = 2 };

/* A record parser's answer besides 1 (packet), 0 (end) and -1 (corrupt):
 * the next record is not wholly in the window and the window may not move
 * now (packets already handed out point into it). */
#define WF_FILE_MOVE 2

struct wf_file_reader {
  /* The window: data[0, size) holds file bytes [base, base + size). In
   * memory mode it is the whole input; a file is read into buf with pread. */
  const uint8_t *data;
  size_t size;
  size_t off;         /* read position within the window */
  uint64_t base;
  uint64_t file_size; /* shrinks if the file turns out shorter than fstat said */
  int fd;             /* -1: memory mode, or a buffered memory source (src) */
  const uint8_t *src; /* buffered memory source (tests, fuzzers) */
  uint8_t *buf;
  size_t buf_cap;
  int may_move;       /* whether the window may move during this call */
  int format;
  int big_endian;     /* pcap: whole file; pcapng: current section */
  uint64_t records;   /* packets returned so far (for error messages) */
  int nsec;           /* pcap */
  int linktype;       /* pcap */
  wf_iface *ifs;      /* pcapng: interfaces of the current section */
  size_t n_ifs, cap_ifs;
};

/* File bytes from the read position to the end of the file. */
static inline uint64_t wf_file_left(const wf_file_reader *r) {
  return r->file_size - (r->base + r->off);
}

/* Makes the window hold min(n, wf_file_left) bytes from the read position:
 * 1 done, 0 it would have to move and may not (WF_FILE_MOVE), -1 I/O error. */
int wf_file_need(wf_file_reader *r, uint64_t n, char *err, size_t errlen);

__attribute__((format(printf, 3, 4))) void wf_file_err(char *err, size_t errlen, const char *fmt,
                                                        ...);

int wf_pcap_next(wf_file_reader *r, wf_packet *out, char *err, size_t errlen);
int wf_pcapng_next(wf_file_reader *r, wf_packet *out, char *err, size_t errlen);
/* Byte order from an SHB's magic at off + 8 (caller checked 12 bytes): 1 big, 0 little, -1 bad. */
int wf_pcapng_byte_order(const uint8_t *d, size_t off);

#endif
