/**
 * Shapes of what the API returns, as the console reads them. They mirror
 * functions/ (PacketRecord, RouteDecision, PacketStats, dissect Layer); web/
 * does not import functions/, so they are restated here.
 */

export const WORKLOAD_TYPES = [
  'local_private',
  'code_generation',
  'complex_reasoning',
  'fast_response',
  'general',
] as const;
export type WorkloadType = (typeof WORKLOAD_TYPES)[number];

export const PRIORITIES = ['high', 'medium', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface PacketRecord {
  packet_id: string;
  /** Epoch seconds with microseconds. */
  timestamp: number;
  instance_id: number;
  outer_header: {
    src_ip: string;
    dst_ip: string;
    src_port: number;
    dst_port: number;
    ttl: number;
    dscp: number;
    ip_id: number;
    ip_checksum: string;
    udp_checksum: number;
  };
  lisp_header: {
    flags: string;
    flag_names: string;
    nonce: number;
    instance_id: number;
    lsb: number;
  };
  inner_header: {
    src_ip: string;
    dst_ip: string;
    src_port: number;
    dst_port: number;
    protocol: number;
    ttl: number;
    dscp: number;
  };
  metadata: Record<string, string | number | boolean>;
}

export interface PacketStats {
  total_packets: number;
  total_bytes: number;
  packets_by_model: Record<string, number>;
  packets_by_workload: Record<string, number>;
  /** Packets routed in the last hour. */
  recent_packets: number;
  avg_packet_size: number;
}

export interface RecentPage {
  status: 'success';
  count: number;
  packets: PacketRecord[];
  next_token: string | null;
}

export interface Layer {
  name: 'ethernet' | 'ipv4' | 'ipv6' | 'udp' | 'lisp' | 'payload';
  offset: number;
  length: number;
  fields: Record<string, string | number | boolean>;
}

export interface PacketDetailResponse {
  status: 'success';
  packet: PacketRecord;
  layers: Layer[];
  frame_hex: string;
}

export interface RouteDecision {
  selected_model: string;
  endpoint: string;
  workload_type: string;
  confidence: number;
  reasons: string[];
  lisp_packet: PacketRecord;
}

/** GET .../download/pcap with Accept: application/json. */
export interface DownloadLink {
  url: string;
  expires_at: string;
  filename: string;
  content_type?: string;
  packets: number;
  bytes: number;
}

/** GET /packets/exports/{id} (and the 202 that starts one). */
/** What every job's status says (PCAP exports and evidence windows). */
export interface JobState {
  status: 'queued' | 'running' | 'done' | 'failed';
  /** In the 202 that started the job: where to poll. */
  status_url?: string;
  error?: { code: string; message: string };
}

export interface ExportJob extends JobState {
  export_id: string;
  packets?: number;
  bytes?: number;
  count?: number;
  format?: string;
  url?: string;
  expires_at?: string;
  filename?: string;
  content_type?: string;
}

/** A packet's frame size: the metadata carries it; the record has no other size. */
export function frameSize(packet: PacketRecord): number | undefined {
  const size = packet.metadata.frame_size;
  return typeof size === 'number' ? size : undefined;
}
