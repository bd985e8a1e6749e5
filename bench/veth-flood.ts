import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The live-capture test bed shared by `npm run bench -- live` and `-- recording`: two network
 * namespaces joined by a veth pair, and a small C sender (sendmmsg, 64 datagrams per call) that
 * floods 60-byte UDP frames to port 9999, at full speed or paced.
 *
 * The flood goes to an address whose static neighbour entry is a foreign MAC: frames reach the
 * capture side (taps see every frame on the veth) and its IP layer drops them at once
 * (PACKET_OTHERHOST), so the receiving stack costs little and the sender gets further.
 */

const SENDER_C = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  const char *host = argv[1]; double seconds = atof(argv[2]); double rate = atof(argv[3]);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9999)};
  inet_pton(AF_INET, host, &to.sin_addr);
  if (connect(s, (struct sockaddr *)&to, sizeof to) < 0) { perror("connect"); return 1; }
  enum { B = 64 };
  char payload[18] = "wirefleet-bench!!";
  struct mmsghdr msgs[B]; struct iovec iov[B];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < B; i++) { iov[i].iov_base = payload; iov[i].iov_len = sizeof payload; msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1; }
  unsigned long long sent = 0; double t0 = now(), t;
  while ((t = now()) - t0 < seconds) {
    if (rate > 0 && sent >= (t - t0) * rate) continue;  /* paced: spin until the next batch is due */
    int n = sendmmsg(s, msgs, B, 0);
    if (n > 0) sent += n;
  }
  printf("%llu %.3f\n", sent, now() - t0);
  return 0;
}
`;

const FOREIGN_MAC = '02:00:00:00:00:09';

export const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
export const ip = (...args: string[]) => sh('ip', args);

export interface FloodBedNames {
  nsA: string;
  nsB: string;
  /** The capture side's interface (in nsA). */
  vethA: string;
  vethB: string;
  /** Where the sender floods (from nsB). */
  floodAddr: string;
  /** Three octets: nsA is .1, nsB .2. */
  subnet: string;
}

/**
 * Compiles the sender into `tmp`: `SENDER HOST SECONDS RATE` floods 60-byte frames (18-byte
 * UDP payloads) to HOST:9999, 64 per sendmmsg (RATE 0: full speed), and prints "sent seconds".
 */
export function buildUdpFlood(tmp: string): string {
  const sender = path.join(tmp, 'udp-flood');
  writeFileSync(`${sender}.c`, SENDER_C);
  sh('cc', ['-O2', '-o', sender, `${sender}.c`]);
  return sender;
}

/** Names for one bench's bed; `tag` keeps two benches apart, the pid two runs. */
export function floodBedNames(tag: string, subnet: string): FloodBedNames {
  const id = process.pid.toString(36).slice(-5);
  return {
    nsA: `wf${tag}-a-${id}`,
    nsB: `wf${tag}-b-${id}`,
    vethA: `wf${tag}a${id}`.slice(0, 15),
    vethB: `wf${tag}b${id}`.slice(0, 15),
    floodAddr: `${subnet}.9`,
    subnet,
  };
}

/**
 * Builds the sender in `tmp` and the namespaces (root). The sender runs as
 * `ip netns exec nsB SENDER floodAddr SECONDS RATE` (RATE 0: full speed) and prints
 * "sent seconds". remove() deletes both namespaces, and so the veth pair.
 */
export function setUpFloodBed(
  names: FloodBedNames,
  tmp: string,
): { sender: string; remove(): void } {
  const { nsA, nsB, vethA, vethB, floodAddr, subnet } = names;
  const sender = buildUdpFlood(tmp);
  const remove = () => {
    for (const ns of [nsA, nsB]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  };
  try {
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    ip('link', 'add', vethA, 'netns', nsA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', `${subnet}.1/24`, 'dev', vethA);
    ip('-n', nsB, 'addr', 'add', `${subnet}.2/24`, 'dev', vethB);
    ip('-n', nsA, 'link', 'set', vethA, 'up');
    ip('-n', nsB, 'link', 'set', vethB, 'up');
    ip(
      '-n',
      nsB,
      'neigh',
      'replace',
      floodAddr,
      'lladdr',
      FOREIGN_MAC,
      'dev',
      vethB,
      'nud',
      'permanent',
    );
  } catch (error) {
    remove();
    throw error;
  }
  return { sender, remove };
}
