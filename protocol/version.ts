import pkg from '../package.json' with { type: 'json' };

/** The release version, from package.json: one place for the API, the CLI and the agent. */
export const VERSION: string = pkg.version;
