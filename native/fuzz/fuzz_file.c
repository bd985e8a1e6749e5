/*
 * libFuzzer target for the pcap/pcapng reader: the input is a whole capture
 * file read from memory (no disk), and every packet it yields is parsed. The
 * same input is also read through the buffered path a file takes, with a
 * small buffer and reads cut into odd pieces, in batches: it must yield the
 * same packets and end the same way.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../src/file_reader_internal.h"
#include "../src/wirefleet.h"

#define MAX_PACKETS 4096

static wf_packet seen[MAX_PACKETS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256], err2[256];
  wf_file_reader *r = wf_file_open_memory(data, size, err, sizeof err);
  wf_file_reader *b = wf_file_open_memory_buffered(data, size, 64 + size % 200, err2, sizeof err2);
  if ((r == NULL) != (b == NULL)) __builtin_trap();
  if (r == NULL) return 0;
  (void)wf_file_format(r);
  if (wf_file_size(r) != size) __builtin_trap();

  wf_packet pkt;
  int rc;
  size_t n = 0;
  while ((rc = wf_file_next(r, &pkt, err, sizeof err)) == 1) {
    /* Packet bytes must lie inside the input (ASan would only catch it past the end). */
    if (pkt.data < data || pkt.caplen > size || (size_t)(pkt.data - data) > size - pkt.caplen)
      __builtin_trap();
    wf_parsed p;
    (void)wf_parse(pkt.linktype, pkt.data, pkt.caplen, pkt.wirelen, &p);
    if (n < MAX_PACKETS) seen[n] = pkt;
    n++;
  }
  /* Errors are sticky: asking again must not move past the bad record. */
  if (rc < 0 && wf_file_next(r, &pkt, err, sizeof err) != -1) __builtin_trap();

  wf_packet batch[7];
  size_t got, m = 0;
  int st;
  while ((got = wf_file_next_batch(b, batch, 1 + size % 7, &st, err2, sizeof err2)) > 0) {
    for (size_t i = 0; i < got; i++, m++) {
      if (m >= MAX_PACKETS) continue;
      const wf_packet *a = &seen[m], *q = &batch[i];
      if (a->caplen != q->caplen || a->wirelen != q->wirelen || a->ts_ns != q->ts_ns ||
          a->linktype != q->linktype || memcmp(a->data, q->data, a->caplen) != 0)
        __builtin_trap();
    }
  }
  if (m != n || st != rc || (rc < 0 && strcmp(err, err2) != 0)) __builtin_trap();
  wf_file_close(b);
  wf_file_close(r);
  return 0;
}
