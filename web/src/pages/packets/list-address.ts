/** Where the packet list was (its filters), so a packet's "back" link returns there. */
let lastList = '/packets';

export function rememberListAddress(path: string, query: string): void {
  lastList = query ? `${path}?${query}` : path;
}

export function listAddress(): string {
  return lastList;
}
