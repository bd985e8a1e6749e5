// The release version lives in protocol/ so the agent and the cloud share it without importing each other.
export { VERSION } from '../protocol/version.js';
