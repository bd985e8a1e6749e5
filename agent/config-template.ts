import { configDefaults, DEFAULT_STATE_DIR } from './config.js';

/**
 * The starting config `wirefleet agent init` writes: every section present,
 * each with a comment, defaults spelled out so they are easy to change.
 * Files that are read at load (password, TLS) are left commented out.
 */
export interface InitConfigOptions {
  agentId?: string;
  mqttUrl?: string;
  interface?: string;
  stateDir?: string;
}

export function renderInitConfig(options: InitConfigOptions = {}): string {
  const d = configDefaults;
  const q = (value: unknown) => JSON.stringify(value);
  const agentId = options.agentId ?? 'edge-1';
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  return `// wirefleet edge agent config (JSON with comments). Unknown keys are errors.
// Relative paths resolve against this file's directory. Check it with:
//   wirefleet agent install --config <this file> --dry-run
{
  // This agent's id: a-z, 0-9 and '-', up to 63 characters; the MQTT client id unless
  // mqtt.client_id says otherwise. 'wirefleet agent register' writes a complete config.
  "agent_id": ${q(agentId)},

  // The MQTT broker the agent publishes flows, heartbeats and events to.
  "mqtt": {
    "url": ${q(options.mqttUrl ?? 'mqtt://127.0.0.1:1883')},
    // The MQTT client id, when it is not the agent id (AWS IoT: the thing name, wirefleet-<id>):
    // "client_id": ${q(`wirefleet-${agentId}`)},
    "username": ${q(agentId)},
    // A password file must be mode 0600 and owned by root:
    // "password_file": "/etc/wirefleet/mqtt-password",
    // mTLS (mqtts:// or wss:// only); cert and key together, key file mode 0600:
    // "ca_file": "/etc/wirefleet/ca.pem",
    // "cert_file": "/etc/wirefleet/agent.crt",
    // "key_file": "/etc/wirefleet/agent.key",
    "keepalive_sec": ${d.mqtt.keepalive_sec},
    "reconnect_min_ms": ${d.mqtt.reconnect_min_ms},
    "reconnect_max_ms": ${d.mqtt.reconnect_max_ms}
  },

  // What to capture: a live interface (afpacket or libpcap), or instead "file": a pcap to replay.
  "capture": {
    "interface": ${q(options.interface ?? 'eth0')},
    "backend": ${q(d.capture.backend)},
    "buffer_size_mb": ${d.capture.buffer_size_mb},
    "snaplen": ${d.capture.snaplen},
    "filter": ${q(d.capture.filter)},
    "timestamp_source": ${q(d.capture.timestamp_source)},
    "promiscuous": ${d.capture.promiscuous},
    "autostart": ${d.capture.autostart}
  },

  // The flow table and how often ended flows are sent.
  "flows": {
    "table_size": ${d.flows.table_size},
    "idle_timeout_sec": ${d.flows.idle_timeout_sec},
    "active_timeout_sec": ${d.flows.active_timeout_sec},
    "summary_interval_sec": ${d.flows.summary_interval_sec},
    "batch_max_records": ${d.flows.batch_max_records}
  },

  // Where batches wait on disk while the broker is unreachable; the oldest go first when full.
  "spool": {
    "dir": ${q(`${stateDir}/spool`)},
    "max_size_mb": ${d.spool.max_size_mb}
  },

  // The local control API (bearer token from token_file, created 0600 if missing).
  "control": {
    "enabled": ${d.control.enabled},
    "listen": ${q(d.control.listen)},
    "token_file": ${q(d.control.token_file)}
  },

  // Heartbeats and metrics, and the routing locators and EID prefixes this site announces.
  "heartbeat": {
    "interval_sec": ${d.heartbeat.interval_sec},
    "metrics_interval_sec": ${d.heartbeat.metrics_interval_sec},
    "rlocs": [],      // e.g. [{ "address": "192.0.2.1", "priority": 1, "weight": 100 }]
    "eid_prefixes": [] // e.g. ["10.1.0.0/16"]
  },

  // When to raise events.
  "alerts": {
    "drop_rate_pct": ${d.alerts.drop_rate_pct.toFixed(1)}
  },

  // The capture engine must carry a valid Ed25519 signature by this key (signature: <addon>.sig).
  "integrity": {
    "public_key_file": ${q(d.integrity.public_key_file)},
    "signature_file": null,
    "allow_unsigned": ${d.integrity.allow_unsigned}
  },

  // Log level (JSON lines on stdout, journald under systemd) and an optional audit file (under ${stateDir}).
  "log": {
    "level": ${q(d.log.level)},
    "audit_file": null
  },

  // Evidence: the live capture recorded as encrypted pcap segments (never plaintext on disk),
  // spooled here until the cloud confirms each one. Needs a key file, mode 0600
  // (wirefleet keygen --out FILE); the control API's encryption/enable turns it on at run time.
  "evidence": {
    "enabled": ${d.evidence.enabled},
    "key_file": null,
    "cipher": ${q(d.evidence.cipher)},
    "spool_dir": ${q(`${stateDir}/evidence`)},
    "max_spool_mb": ${d.evidence.max_spool_mb},
    "segment_mb": ${d.evidence.segment_mb},
    "segment_seconds": ${d.evidence.segment_seconds}
  },

  // Tango: this site's end of an authenticated multipath tunnel to one peer site (root: a TUN
  // and AF_PACKET sockets). Both sites list the same paths and classes; the pair secret comes
  // from \`wirefleet tango secret --out FILE\` (0600). See the README, "Tango tunnels".
  "tango": {
    "enabled": false,
    "side": 0,
    "secret_file": null,
    "peer": {},
    "routes": [],
    "paths": [],
    "classes": []
  }
}
`;
}
