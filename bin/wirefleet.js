#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so there is no build step to forget.
import { register } from 'tsx/esm/api';

// Node 20 is supported here; the SDK's notice about its future Node 22 floor is noise in CLI output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../infra/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
