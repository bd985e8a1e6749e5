/*
 * Reads capture files end to end under the sanitizers: every packet is parsed
 * (and metered when flow_table.c is built in, WF_HAVE_FLOW_TABLE). A file that
 * is refused or corrupt midway is reported, not a failure: the point is that
 * no input makes the C core misbehave. Exit status is 0 unless a sanitizer aborts.
 */
#include <inttypes.h>
#include <stdio.h>

#include "../src/wirefleet.h"

typedef struct counts {
  uint64_t files, read_ok, refused, packets, parsed_ip, not_ip, parse_errors;
  uint64_t truncated, malformed, unsupported;
} counts;

#ifdef WF_HAVE_FLOW_TABLE
static void drain(wf_meter *m) {
  wf_flow_record recs[256];
  while (wf_meter_pending(m) > 0) {
    if (wf_meter_drain(m, recs, sizeof recs / sizeof recs[0]) == 0) break;
  }
}
#endif

static void count_result(counts *c, int rc) {
  switch (rc) {
  case WF_PARSE_OK: c->parsed_ip++; break;
  case WF_PARSE_NOT_IP: c->not_ip++; break;
  case WF_PARSE_TRUNCATED: c->truncated++; c->parse_errors++; break;
  case WF_PARSE_MALFORMED: c->malformed++; c->parse_errors++; break;
  default: c->unsupported++; c->parse_errors++; break;
  }
}

static void check_file(const char *path, counts *c) {
  char err[256] = "";
  c->files++;
  wf_file_reader *r = wf_file_open(path, err, sizeof err);
  if (r == NULL) {
    printf("%s: %s\n", path, err);
    c->refused++;
    return;
  }
#ifdef WF_HAVE_FLOW_TABLE
  wf_meter_config cfg = {.max_flows = 4096, .idle_timeout_s = 300, .active_timeout_s = 1800, .seed = 1};
  wf_meter *m = wf_meter_create(&cfg, err, sizeof err);
  if (m == NULL) {
    printf("%s: meter: %s\n", path, err);
    c->refused++;
    wf_file_close(r);
    return;
  }
  uint64_t offered = 0;
#endif
  wf_packet pkt;
  int rc;
  while ((rc = wf_file_next(r, &pkt, err, sizeof err)) == 1) {
    wf_parsed p;
    c->packets++;
    count_result(c, wf_parse(pkt.linktype, pkt.data, pkt.caplen, pkt.wirelen, &p));
#ifdef WF_HAVE_FLOW_TABLE
    wf_meter_packet(m, pkt.linktype, pkt.data, pkt.caplen, pkt.wirelen, pkt.ts_ns);
    offered++;
    if (wf_meter_pending(m) >= 1024) drain(m);
#endif
  }
  if (rc < 0) {
    printf("%s: %s\n", path, err);
    c->refused++;
  } else {
    c->read_ok++;
  }
#ifdef WF_HAVE_FLOW_TABLE
  wf_meter_flush(m);
  drain(m);
  wf_meter_stats st;
  wf_meter_get_stats(m, &st);
  if (st.packets != offered || st.flows_active != 0)
    fprintf(stderr, "%s: meter stats: packets %" PRIu64 " (offered %" PRIu64 ") active %" PRIu64 "\n",
            path, st.packets, offered, st.flows_active);
  wf_meter_destroy(m);
#endif
  wf_file_close(r);
}

int main(int argc, char **argv) {
  counts c = {0};
  for (int i = 1; i < argc; i++) check_file(argv[i], &c);
  printf("files %" PRIu64 " read_ok %" PRIu64 " refused %" PRIu64 " packets %" PRIu64
         " parsed_ip %" PRIu64 " not_ip %" PRIu64 " parse_errors %" PRIu64 "\n",
         c.files, c.read_ok, c.refused, c.packets, c.parsed_ip, c.not_ip, c.parse_errors);
  fprintf(stderr, "parse_errors: truncated %" PRIu64 " malformed %" PRIu64
          " unsupported_linktype %" PRIu64 "\n", c.truncated, c.malformed, c.unsupported);
  return 0;
}
