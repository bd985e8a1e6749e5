/**
 * Capture-file generator for testing the C flow meter (native/src/wirefleet.h): frames built with
 * the protocol/ encoders, each carrying what it *is* (`meta`), an independent model of the
 * metering semantics, pcap/pcapng writers and the comparison of engine output with the model.
 * The parts live in capture-gen/; this module gathers them so tests import one place.
 */

export { alignFlows, project } from './capture-gen/compare.js';
export { type PcapVariant, writePcap, writePcapng } from './capture-gen/files.js';
export {
  at,
  canonicalIp,
  concat,
  encodeIcmp,
  type FragmentKind,
  type Frame,
  type FrameMeta,
  ipv6FragmentHeader,
  type L4,
  mergeTimelines,
  type PacketSpec,
  packet,
  payloadOf,
  retime,
  T0_NS,
  udpFragments,
  type Vlan,
} from './capture-gen/frames.js';
export {
  AmbiguousTimelineError,
  type ExpectedFlow,
  type ExpectedStats,
  type MeterModelOptions,
  type ModelEndReason,
  type ModelState,
  meterModel,
} from './capture-gen/model.js';
export {
  arp,
  fixIPv4Checksum,
  malformedFrame,
  stpBpdu,
  truncatedFrame,
} from './capture-gen/non-ip-and-broken.js';
export { TcpConversation } from './capture-gen/tcp-conversation.js';
