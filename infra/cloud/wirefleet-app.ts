import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { settingsFromContext } from './settings.js';
import { WirefleetStack } from './stack.js';

/** The app's one stack, with the settings from the app's context. */
export function buildApp(app: App = new App()): { app: App; stack: WirefleetStack } {
  const settings = settingsFromContext(app.node);
  const stack = new WirefleetStack(app, settings.stackName, settings);
  return { app, stack };
}

/**
 * cdk-nag's AwsSolutions rules as a validation plugin: synthesis fails on any
 * finding that is not acknowledged, with a reason, on the construct concerned.
 */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}
