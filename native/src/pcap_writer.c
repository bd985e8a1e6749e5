/*
 * Rotating in-memory pcap segment writer: see pcap_writer.h.
 */
#include "pcap_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SNAPLEN 262144u
#define DEFAULT_SEGMENT_BYTES (64ull << 20)
#define DEFAULT_PENDING 16u
#define NS_PER_S 1000000000ull

struct wf_pcap_writer {
  wf_pcap_writer_config cfg;
  wf_pcap_segment cur; /* data == NULL until the first packet */
  size_t cur_cap;
  wf_pcap_segment *pending; /* ring of cfg.max_pending */
  size_t p_head, p_len;
  uint64_t next_sequence;
  wf_pcap_writer_stats st;
};

static void put_le16(uint8_t *b, uint16_t v) {
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *b, uint32_t v) {
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
  b[2] = (uint8_t)(v >> 16);
  b[3] = (uint8_t)(v >> 24);
}

void wf_pcap_file_header(uint8_t h[WF_PCAP_HEADER_LEN], int linktype, uint32_t snaplen) {
  put_le32(h, 0xa1b23c4du); /* nanosecond pcap */
  put_le16(h + 4, 2);
  put_le16(h + 6, 4);
  put_le32(h + 8, 0);  /* thiszone */
  put_le32(h + 12, 0); /* sigfigs */
  put_le32(h + 16, snaplen);
  put_le32(h + 20, (uint32_t)linktype);
}

wf_pcap_writer *wf_pcap_writer_create(const wf_pcap_writer_config *config, char *err,
                                      size_t errlen) {
  wf_pcap_writer *w = calloc(1, sizeof *w);
  if (!w) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  w->cfg = *config;
  if (w->cfg.snaplen == 0 || w->cfg.snaplen > DEFAULT_SNAPLEN) w->cfg.snaplen = DEFAULT_SNAPLEN;
  if (w->cfg.max_segment_bytes == 0) w->cfg.max_segment_bytes = DEFAULT_SEGMENT_BYTES;
  if (w->cfg.max_segment_bytes < WF_PCAP_HEADER_LEN + WF_PCAP_RECORD_HEADER_LEN)
    w->cfg.max_segment_bytes = WF_PCAP_HEADER_LEN + WF_PCAP_RECORD_HEADER_LEN;
  if (w->cfg.max_pending == 0) w->cfg.max_pending = DEFAULT_PENDING;
  w->pending = calloc(w->cfg.max_pending, sizeof *w->pending);
  if (!w->pending) {
    free(w);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  return w;
}

/* Queues the current segment as completed; 0, or -1 if the queue is full (nothing changes). */
static int complete(wf_pcap_writer *w) {
  if (!w->cur.data || w->cur.packets == 0) return 0;
  if (w->p_len == w->cfg.max_pending) return -1;
  w->cur.sequence = w->next_sequence++;
  w->pending[(w->p_head + w->p_len) % w->cfg.max_pending] = w->cur;
  w->p_len++;
  w->st.segments_completed++;
  w->st.bytes_written += w->cur.len;
  memset(&w->cur, 0, sizeof w->cur);
  w->cur_cap = 0;
  return 0;
}

/* Makes room for `need` more bytes in the current segment, starting one if needed. */
static int reserve(wf_pcap_writer *w, size_t need) {
  if (!w->cur.data) {
    size_t cap = 64 * 1024;
    if (cap > w->cfg.max_segment_bytes) cap = (size_t)w->cfg.max_segment_bytes;
    if (cap < WF_PCAP_HEADER_LEN + need) cap = WF_PCAP_HEADER_LEN + need;
    w->cur.data = malloc(cap);
    if (!w->cur.data) return -1;
    w->cur_cap = cap;
    wf_pcap_file_header(w->cur.data, w->cfg.linktype, w->cfg.snaplen);
    w->cur.len = WF_PCAP_HEADER_LEN;
    return 0;
  }
  if (w->cur_cap - w->cur.len >= need) return 0;
  size_t cap = w->cur_cap * 2;
  if (cap > w->cfg.max_segment_bytes) cap = (size_t)w->cfg.max_segment_bytes;
  if (cap < w->cur.len + need) cap = w->cur.len + need;
  uint8_t *grown = realloc(w->cur.data, cap);
  if (!grown) return -1;
  w->cur.data = grown;
  w->cur_cap = cap;
  return 0;
}

int wf_pcap_writer_add(wf_pcap_writer *w, const wf_packet *p) {
  uint32_t caplen = p->caplen < w->cfg.snaplen ? p->caplen : w->cfg.snaplen;
  uint32_t wirelen = p->wirelen < caplen ? caplen : p->wirelen;
  size_t rec = WF_PCAP_RECORD_HEADER_LEN + (size_t)caplen;
  if (w->cur.data && w->cur.packets > 0) {
    int too_big = w->cur.len + rec > w->cfg.max_segment_bytes;
    int too_old = w->cfg.max_segment_seconds &&
                  p->ts_ns >= w->cur.first_ns + (uint64_t)w->cfg.max_segment_seconds * NS_PER_S;
    if ((too_big || too_old) && complete(w) < 0) {
      w->st.packets_dropped++;
      return -1;
    }
  }
  if (reserve(w, rec) < 0) {
    w->st.packets_dropped++;
    return -1;
  }
  uint8_t *r = w->cur.data + w->cur.len;
  put_le32(r, (uint32_t)(p->ts_ns / NS_PER_S));
  put_le32(r + 4, (uint32_t)(p->ts_ns % NS_PER_S));
  put_le32(r + 8, caplen);
  put_le32(r + 12, wirelen);
  if (caplen) memcpy(r + WF_PCAP_RECORD_HEADER_LEN, p->data, caplen);
  w->cur.len += rec;
  if (w->cur.packets == 0) w->cur.first_ns = p->ts_ns;
  w->cur.last_ns = p->ts_ns;
  w->cur.packets++;
  w->st.packets_written++;
  return 0;
}

void wf_pcap_writer_tick(wf_pcap_writer *w, uint64_t now_ns) {
  if (w->cfg.max_segment_seconds && w->cur.packets > 0 &&
      now_ns >= w->cur.first_ns + (uint64_t)w->cfg.max_segment_seconds * NS_PER_S)
    (void)complete(w); /* queue full: retried on the next tick or packet */
}

int wf_pcap_writer_finish(wf_pcap_writer *w) { return complete(w); }

size_t wf_pcap_writer_ready(const wf_pcap_writer *w) { return w->p_len; }

int wf_pcap_writer_take(wf_pcap_writer *w, wf_pcap_segment *out) {
  if (w->p_len == 0) return 0;
  *out = w->pending[w->p_head];
  memset(&w->pending[w->p_head], 0, sizeof *out);
  w->p_head = (w->p_head + 1) % w->cfg.max_pending;
  w->p_len--;
  return 1;
}

void wf_pcap_writer_get_stats(const wf_pcap_writer *w, wf_pcap_writer_stats *out) {
  *out = w->st;
}

void wf_pcap_writer_destroy(wf_pcap_writer *w) {
  if (!w) return;
  while (w->p_len) {
    free(w->pending[w->p_head].data);
    w->p_head = (w->p_head + 1) % w->cfg.max_pending;
    w->p_len--;
  }
  free(w->pending);
  free(w->cur.data);
  free(w);
}
