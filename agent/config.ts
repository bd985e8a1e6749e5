/**
 * The agent's config file (/etc/wirefleet/agent.json): JSON with comments,
 * snake_case keys, strict (an unknown key is an error, so a typo cannot pass
 * silently). Relative paths resolve against the file's directory. Secret and
 * TLS files named in it are read when it loads, so a bad path fails at start.
 *
 * The parts live in config/: defaults, the zod schema, JSONC, parsing
 * (rules across fields, paths) and loading (secret and TLS files).
 */

export {
  AgentConfigError,
  configDefaults,
  DEFAULT_CONFIG_PATH,
  DEFAULT_STATE_DIR,
} from './config/defaults.js';
export { stripJsonComments } from './config/jsonc.js';
export { loadAgentConfig } from './config/load.js';
export { type AgentConfig, parseAgentConfig } from './config/parse.js';
export { ipv4PrefixProblem, parseListen } from './config/values.js';
