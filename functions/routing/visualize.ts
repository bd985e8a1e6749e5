import { dissectFrame } from '../../protocol/dissect.js';

const WIDTH = 72;

const TITLES: Record<string, [string, string]> = {
  ethernet: ['Ethernet II', 'Ethernet II'],
  ipv4: ['Outer IPv4 (ITR RLOC -> ETR RLOC)', 'Inner IPv4 (source EID -> model EID)'],
  ipv6: ['Outer IPv6 (RLOCs)', 'Inner IPv6 (EIDs)'],
  udp: ['Outer UDP (LISP data port 4341)', 'Inner UDP'],
  lisp: ['LISP data header (RFC 9300)', 'LISP data header (RFC 9300)'],
  payload: ['Payload (JSON: query + routing metadata)', 'Payload'],
};

/** An ASCII picture of the frame's layers with their field values, decoded from the bytes. */
export function visualizePacket(frame: Uint8Array, caption: string): string {
  const { layers, payload } = dissectFrame(frame);
  const border = `+${'-'.repeat(WIDTH - 2)}+`;
  const row = (text: string) => `| ${text.padEnd(WIDTH - 4).slice(0, WIDTH - 4)} |`;
  const lines = [caption, border];
  const seen: Record<string, number> = {};
  for (const layer of layers) {
    const nth = seen[layer.name] ?? 0;
    seen[layer.name] = nth + 1;
    const title = TITLES[layer.name]?.[Math.min(nth, 1)] ?? layer.name;
    const size = `${layer.length} bytes @ ${layer.offset}`;
    lines.push(
      row(`${title}${' '.repeat(Math.max(1, WIDTH - 4 - title.length - size.length))}${size}`),
    );
    let current = ' ';
    for (const [key, value] of Object.entries(layer.fields)) {
      const part = ` ${key}=${value}`;
      if (current.length + part.length > WIDTH - 4) {
        lines.push(row(current));
        current = ' ';
      }
      current += part;
    }
    if (current.trim()) lines.push(row(current));
    lines.push(border);
  }
  if (payload.length > 0 && !layers.some((l) => l.name === 'payload')) {
    lines.push(row(`Payload  ${payload.length} bytes`), border);
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(payload);
  if (text) {
    lines.push('Payload text:');
    for (let i = 0; i < Math.min(text.length, 600); i += WIDTH - 2)
      lines.push(`  ${text.slice(i, i + WIDTH - 2)}`);
  }
  return lines.join('\n');
}
