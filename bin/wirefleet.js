#!/usr/bin/env node
// The CLI is TypeScript, run from a bundle that rebuilds itself when a source changes (see
// cli-bundle.js), so there is no build step to forget.

// Node 20 is supported here; the SDK's notice about its future Node 22 floor is noise in CLI output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { loadCli } = await import('./cli-bundle.js');
const main = await loadCli();
process.exitCode = await main(process.argv.slice(2));
