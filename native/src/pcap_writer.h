/*
 * Rotating in-memory pcap segment writer (private to the engine and its
 * binding; not part of the wirefleet.h contract).
 *
 * Packets are appended to the current segment, a complete pcap file in memory
 * (nanosecond pcap, little-endian, magic 0xa1b23c4d). A segment is completed
 * when the next record would take it past max_segment_bytes, when a packet is
 * max_segment_seconds newer than the segment's first (or wf_pcap_writer_tick
 * says so with the wall clock), or on wf_pcap_writer_finish. Completed segments
 * queue until taken; the taker owns the memory and releases it with free().
 *
 * Every segment starts with the 24-byte file header, so each one is a valid
 * pcap on its own; to write one continuous file, write the first segment whole
 * and later ones from offset WF_PCAP_HEADER_LEN.
 *
 * Not thread-safe: one writer per thread (or guard it).
 */
#ifndef WF_PCAP_WRITER_H
#define WF_PCAP_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "wirefleet.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WF_PCAP_HEADER_LEN 24
#define WF_PCAP_RECORD_HEADER_LEN 16

typedef struct wf_pcap_writer_config {
  int linktype;                 /* LINKTYPE_* of every packet written (WF_LINKTYPE_ETHERNET...) */
  uint32_t snaplen;             /* written in the file header; longer packets are cut; 0 = 262144 */
  uint64_t max_segment_bytes;   /* 0 = 64 MiB; a single larger packet still gets a segment of its own */
  uint32_t max_segment_seconds; /* 0 = no time limit */
  uint32_t max_pending;         /* completed segments held until taken; 0 = 16. When full, packets
                                   are dropped (counted) rather than memory growing without bound */
} wf_pcap_writer_config;

typedef struct wf_pcap_segment {
  uint8_t *data;     /* a whole pcap file; the taker frees it with free() */
  size_t len;
  uint64_t sequence; /* 0, 1, 2... in completion order */
  uint64_t packets;
  uint64_t first_ns; /* timestamps of the first and last packet */
  uint64_t last_ns;
} wf_pcap_segment;

typedef struct wf_pcap_writer_stats {
  uint64_t packets_written;   /* packets placed in segments */
  uint64_t bytes_written;     /* pcap bytes of all segments, headers included */
  uint64_t segments_completed;
  uint64_t packets_dropped;   /* pending queue full, or out of memory */
} wf_pcap_writer_stats;

typedef struct wf_pcap_writer wf_pcap_writer;

wf_pcap_writer *wf_pcap_writer_create(const wf_pcap_writer_config *config, char *err, size_t errlen);
/* 0 = written, -1 = dropped (counted in packets_dropped). */
int wf_pcap_writer_add(wf_pcap_writer *w, const wf_packet *packet);
/* Completes the current segment if it has packets and is max_segment_seconds old at now_ns. */
void wf_pcap_writer_tick(wf_pcap_writer *w, uint64_t now_ns);
/* Completes the current segment if it has packets: 0, or -1 when the pending queue is full
 * (take segments, then call again). */
int wf_pcap_writer_finish(wf_pcap_writer *w);
/* Number of completed segments waiting. */
size_t wf_pcap_writer_ready(const wf_pcap_writer *w);
/* Moves the oldest completed segment into *out: 1, or 0 when none is waiting. */
int wf_pcap_writer_take(wf_pcap_writer *w, wf_pcap_segment *out);
void wf_pcap_writer_get_stats(const wf_pcap_writer *w, wf_pcap_writer_stats *out);
/* Writes the 24-byte file header the writer's segments start with (for an empty file). */
void wf_pcap_file_header(uint8_t out[WF_PCAP_HEADER_LEN], int linktype, uint32_t snaplen);
/* Frees the writer, the current segment and any segment not taken. */
void wf_pcap_writer_destroy(wf_pcap_writer *w);

#ifdef __cplusplus
}
#endif

#endif
