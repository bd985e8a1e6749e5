import { App } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SETTINGS,
  SettingsError,
  settingsFromContext,
} from '../../../infra/cloud/settings.js';

const settings = (context: Record<string, unknown>) =>
  settingsFromContext(new App({ context }).node);

describe('deployment settings from CDK context', () => {
  it('defaults: stack Wirefleet, deletion protection on, 30-day PCAPs, 300 s links', () => {
    expect(settings({})).toEqual(DEFAULT_SETTINGS);
    expect(DEFAULT_SETTINGS).toMatchObject({
      stackName: 'Wirefleet',
      deletionProtection: true,
      pcapRetentionDays: 30,
      pcapUrlTtlSeconds: 300,
    });
  });

  it('reads -c strings and cdk.json values alike', () => {
    expect(
      settings({
        stackName: 'Wirefleet-dev',
        deletionProtection: 'false',
        pcapRetentionDays: '7',
        accessLogRetentionDays: 365,
        logRetentionDays: '14',
        apiRateLimit: 20,
        apiBurstLimit: '40',
        pcapUrlTtlSeconds: '900',
      }),
    ).toEqual({
      stackName: 'Wirefleet-dev',
      deletionProtection: false,
      pcapRetentionDays: 7,
      accessLogRetentionDays: 365,
      logRetentionDays: RetentionDays.TWO_WEEKS,
      apiRateLimit: 20,
      apiBurstLimit: 40,
      pcapUrlTtlSeconds: 900,
    });
  });

  it.each([
    [{ pcapRetentionDays: '0' }, /pcapRetentionDays must be an integer from 1/],
    [{ pcapRetentionDays: '2.5' }, /pcapRetentionDays/],
    [{ pcapRetentionDays: 'thirty' }, /pcapRetentionDays/],
    [{ deletionProtection: 'no' }, /deletionProtection must be true or false/],
    [{ logRetentionDays: '10' }, /logRetentionDays must be one of .*\b14\b/],
    [{ apiBurstLimit: '5001' }, /apiBurstLimit must be an integer from 1 to 5000/],
    [{ pcapUrlTtlSeconds: 901 }, /pcapUrlTtlSeconds/],
    [{ stackName: '1stack' }, /stackName must start with a letter/],
    [{ stackName: 'has space' }, /stackName/],
  ])('refuses %j', (context, message) => {
    expect(() => settings(context)).toThrow(SettingsError);
    expect(() => settings(context)).toThrow(message);
  });
});
