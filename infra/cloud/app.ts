// CDK app entry (cdk.json: "npx tsx infra/cloud/app.ts").
import { addNagChecks, buildApp } from './wirefleet-app.js';

const { app } = buildApp();
addNagChecks(app);
app.synth();
