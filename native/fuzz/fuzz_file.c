/*
 * libFuzzer target for the pcap/pcapng reader: the input is a whole capture
 * file read from memory (no disk), and every packet it yields is parsed.
 */
#include <stddef.h>
#include <stdint.h>

#include "../src/file_reader_internal.h"
#include "../src/wirefleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  wf_file_reader *r = wf_file_open_memory(data, size, err, sizeof err);
  if (r == NULL) return 0;
  (void)wf_file_format(r);
  if (wf_file_size(r) != size) __builtin_trap();

  wf_packet pkt;
  int rc;
  while ((rc = wf_file_next(r, &pkt, err, sizeof err)) == 1) {
    /* Packet bytes must lie inside the input (ASan would only catch it past the end). */
    if (pkt.data < data || pkt.caplen > size || (size_t)(pkt.data - data) > size - pkt.caplen)
      __builtin_trap();
    wf_parsed p;
    (void)wf_parse(pkt.linktype, pkt.data, pkt.caplen, pkt.wirelen, &p);
  }
  /* Errors are sticky: asking again must not move past the bad record. */
  if (rc < 0 && wf_file_next(r, &pkt, err, sizeof err) != -1) __builtin_trap();
  wf_file_close(r);
  return 0;
}
