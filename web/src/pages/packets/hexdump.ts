/** Hex to bytes and a Wireshark-style dump. Pure: unit-tested in node. */

export function hexToBytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error('not a hex string');
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

export interface HexLine {
  /** "0000", "0010", … */
  offset: string;
  /** Sixteen "xx" (fewer on the last line). */
  hex: string[];
  /** Printable ASCII, "." for the rest. */
  ascii: string;
}

/** 16 bytes a line: offset, hex (a gap after 8) and ASCII, as Wireshark and `xxd` show it. */
export function hexLines(bytes: Uint8Array): HexLine[] {
  const lines: HexLine[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const chunk = bytes.subarray(at, at + 16);
    lines.push({
      offset: at.toString(16).padStart(4, '0'),
      hex: [...chunk].map((b) => b.toString(16).padStart(2, '0')),
      ascii: [...chunk].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join(''),
    });
  }
  return lines;
}

/** The whole dump as text, e.g. for copying. */
export function hexDumpText(bytes: Uint8Array): string {
  return hexLines(bytes)
    .map((line) => {
      const left = line.hex.slice(0, 8).join(' ');
      const right = line.hex.slice(8).join(' ');
      return `${line.offset}  ${left.padEnd(23)}  ${right.padEnd(23)}  ${line.ascii}`;
    })
    .join('\n');
}
