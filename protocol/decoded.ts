/** Result of every header decoder: the parsed header and a zero-copy view of what follows it. */
export interface Decoded<H> {
  header: H;
  headerLength: number;
  payload: Uint8Array;
}
