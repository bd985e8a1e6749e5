// Pure wire-format codecs: no I/O, no Node built-ins, only Uint8Array/DataView/TextEncoder.
export * from './address.js';
export * from './capture-file.js';
export * from './checksum.js';
export type * from './decoded.js';
export * from './dissect.js';
export * from './errors.js';
export * from './ethernet.js';
export * from './ip-protocols.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './lisp.js';
export * from './pcap.js';
export * from './pcapng.js';
export * from './siphash.js';
export * from './tango.js';
export * from './tango-signature.js';
export * from './udp.js';
