import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../infra/cloud/paths.js';
import { DEFAULT_SETTINGS, SettingsError } from '../../../infra/cloud/settings.js';
import { CONSOLE_CSP, IMMUTABLE } from '../../../infra/local/console.js';
import { type FastSynth, synthFast } from './synth.js';

type Resource = {
  Type: string;
  Properties: Record<string, any>;
  DependsOn?: string[];
  DeletionPolicy?: string;
};

// AWS managed policy ids, as the CloudFront developer guide lists them.
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

const CERTIFICATE =
  'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9';
const WEB_ACL =
  'arn:aws:wafv2:us-east-1:123456789012:global/webacl/wirefleet/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9';

const resourcesOf = (synth: FastSynth) =>
  synth.template.toJSON().Resources as Record<string, Resource>;
const one = (synth: FastSynth, type: string, idPrefix = ''): [string, Resource] => {
  const found = Object.entries(resourcesOf(synth)).filter(
    ([id, r]) => r.Type === type && id.startsWith(idPrefix),
  );
  expect(found, `${type} ${idPrefix}`).toHaveLength(1);
  return found[0]!;
};
const distributionConfig = (synth: FastSynth) =>
  one(synth, 'AWS::CloudFront::Distribution')[1].Properties.DistributionConfig;

describe('console hosting: buckets', () => {
  let synth: FastSynth;
  beforeAll(() => {
    synth = synthFast();
  });

  const tlsOnly = (bucketId: string) =>
    synth.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });

  it('console bucket: private, SSE-S3, TLS only, no website hosting, access-logged, retained', () => {
    const [id, bucket] = one(synth, 'AWS::S3::Bucket', 'ConsoleBucket');
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
    ]);
    expect(bucket.Properties.OwnershipControls.Rules).toEqual([
      { ObjectOwnership: 'BucketOwnerEnforced' },
    ]);
    expect(bucket.Properties.WebsiteConfiguration).toBeUndefined();
    expect(bucket.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: expect.stringMatching(/^StorageAccessLogBucket/) },
      LogFilePrefix: 'console-bucket/',
    });
    expect(bucket.DeletionPolicy).toBe('Retain');
    tlsOnly(id);
  });

  it('only this distribution may read it, through OAC (SigV4 on every request), not OAI', () => {
    const [bucketId] = one(synth, 'AWS::S3::Bucket', 'ConsoleBucket');
    const [distributionId] = one(synth, 'AWS::CloudFront::Distribution');
    const [oacId, oac] = one(synth, 'AWS::CloudFront::OriginAccessControl');
    expect(oac.Properties.OriginAccessControlConfig).toMatchObject({
      OriginAccessControlOriginType: 's3',
      SigningBehavior: 'always',
      SigningProtocol: 'sigv4',
    });
    expect(
      Object.values(resourcesOf(synth)).filter(
        (r) => r.Type === 'AWS::CloudFront::CloudFrontOriginAccessIdentity',
      ),
    ).toEqual([]);
    const s3Origin = distributionConfig(synth).Origins.find((o: any) => o.S3OriginConfig);
    expect(s3Origin.DomainName).toEqual({ 'Fn::GetAtt': [bucketId, 'RegionalDomainName'] });
    expect(s3Origin.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [oacId, 'Id'] });
    expect(s3Origin.S3OriginConfig.OriginAccessIdentity).toBe('');
    const [, policy] = Object.entries(resourcesOf(synth)).find(
      ([, r]) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties.Bucket.Ref === bucketId,
    )!;
    const reads = policy.Properties.PolicyDocument.Statement.filter(
      (s: any) => s.Effect === 'Allow',
    );
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatchObject({
      Principal: { Service: 'cloudfront.amazonaws.com' },
      Action: 's3:GetObject',
    });
    // arn:<partition>:cloudfront::<account>:distribution/<this distribution>
    expect(reads[0].Condition.StringEquals['AWS:SourceArn']['Fn::Join'][1]).toContainEqual({
      Ref: distributionId,
    });
  });

  it('CloudFront log bucket: ACLs enabled (ObjectWriter) yet private, SSE-S3, TLS only, expiring, access-logged', () => {
    const [id, bucket] = one(synth, 'AWS::S3::Bucket', 'ConsoleCloudFrontLogBucket');
    expect(bucket.Properties.OwnershipControls.Rules).toEqual([
      { ObjectOwnership: 'ObjectWriter' },
    ]);
    expect(Object.values(bucket.Properties.PublicAccessBlockConfiguration)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
    ]);
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([
      {
        Id: 'expire-cloudfront-logs',
        Status: 'Enabled',
        ExpirationInDays: DEFAULT_SETTINGS.accessLogRetentionDays,
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
    ]);
    expect(bucket.Properties.LoggingConfiguration.LogFilePrefix).toBe('cloudfront-log-bucket/');
    tlsOnly(id);
    expect(distributionConfig(synth).Logging).toEqual({
      Bucket: { 'Fn::GetAtt': [id, 'RegionalDomainName'] },
      Prefix: 'console/',
      IncludeCookies: false,
    });
  });
});

describe('console hosting: the distribution', () => {
  let synth: FastSynth;
  let config: Record<string, any>;
  let behaviour: (path: string) => Record<string, any>;
  beforeAll(() => {
    synth = synthFast();
    config = distributionConfig(synth);
    behaviour = (pattern) => config.CacheBehaviors.find((b: any) => b.PathPattern === pattern);
  });

  it('serves index.html at /, over HTTP/2 and HTTP/3, IPv6, price class 100, default certificate', () => {
    expect(config).toMatchObject({
      Enabled: true,
      DefaultRootObject: 'index.html',
      HttpVersion: 'http2and3',
      IPV6Enabled: true,
      PriceClass: 'PriceClass_100',
    });
    expect(config.Aliases).toBeUndefined();
    expect(config.WebACLId).toBeUndefined();
  });

  it('default behaviour (index.html): the bucket, never cached, HTTPS redirect, GET/HEAD, console headers', () => {
    const [headersId] = one(synth, 'AWS::CloudFront::ResponseHeadersPolicy');
    const s3Origin = config.Origins.find((o: any) => o.S3OriginConfig);
    expect(config.DefaultCacheBehavior).toEqual({
      TargetOriginId: s3Origin.Id,
      CachePolicyId: CACHING_DISABLED,
      ViewerProtocolPolicy: 'redirect-to-https',
      AllowedMethods: ['GET', 'HEAD'],
      CachedMethods: ['GET', 'HEAD'],
      Compress: true,
      ResponseHeadersPolicyId: { Ref: headersId },
    });
  });

  it('/assets/*: the bucket, cached (CachingOptimized), compressed, same headers', () => {
    const s3Origin = config.Origins.find((o: any) => o.S3OriginConfig);
    expect(behaviour('/assets/*')).toMatchObject({
      TargetOriginId: s3Origin.Id,
      CachePolicyId: CACHING_OPTIMIZED,
      ViewerProtocolPolicy: 'redirect-to-https',
      Compress: true,
      ResponseHeadersPolicyId: config.DefaultCacheBehavior.ResponseHeadersPolicyId,
    });
  });

  it('/api/*: the HTTP API over HTTPS only, every method, no cache, all viewer values but Host, its own headers', () => {
    const api = behaviour('/api/*');
    const [apiId] = one(synth, 'AWS::ApiGatewayV2::Api');
    const origin = config.Origins.find((o: any) => o.Id === api.TargetOriginId);
    expect(origin.CustomOriginConfig).toEqual({
      OriginProtocolPolicy: 'https-only',
      OriginSSLProtocols: ['TLSv1.2'],
    });
    expect(origin.DomainName).toEqual({
      'Fn::Join': [
        '',
        [{ Ref: apiId }, '.execute-api.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }],
      ],
    });
    expect(api).toMatchObject({
      ViewerProtocolPolicy: 'https-only',
      CachePolicyId: CACHING_DISABLED,
      OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
    });
    expect([...api.AllowedMethods].sort()).toEqual(
      ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'].sort(),
    );
    // The API's own security headers (Hono secureHeaders) pass through untouched.
    expect(api.ResponseHeadersPolicyId).toBeUndefined();
    expect(config.CacheBehaviors).toHaveLength(2);
  });

  it('response headers: the local CSP (self only, no inline, no framing), HSTS, nosniff, DENY, no referrer', () => {
    const [, policy] = one(synth, 'AWS::CloudFront::ResponseHeadersPolicy');
    const security = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp: string = security.ContentSecurityPolicy.ContentSecurityPolicy;
    expect(csp).toBe(CONSOLE_CSP);
    const directives = Object.fromEntries(
      csp.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values.join(' ')];
      }),
    );
    expect(directives).toMatchObject({
      'default-src': "'self'",
      'script-src': "'self'",
      'style-src': "'self'",
      'connect-src': "'self'",
      'frame-ancestors': "'none'",
      'object-src': "'none'",
    });
    expect(csp).not.toMatch(/unsafe-|https?:|\*/);
    expect(security.ContentSecurityPolicy.Override).toBe(true);
    expect(security.StrictTransportSecurity.AccessControlMaxAgeSec).toBeGreaterThanOrEqual(
      365 * 86_400,
    );
    expect(security.ContentTypeOptions).toEqual({ Override: true });
    expect(security.FrameOptions).toEqual({ FrameOption: 'DENY', Override: true });
    expect(security.ReferrerPolicy).toEqual({ ReferrerPolicy: 'no-referrer', Override: true });
  });

  it('deploys hashed assets (immutable) before index.html (no-cache), which it then invalidates', () => {
    const deployments = Object.entries(resourcesOf(synth)).filter(
      ([, r]) => r.Type === 'Custom::CDKBucketDeployment',
    );
    expect(deployments).toHaveLength(2);
    const [assetsId, assets] = deployments.find(([id]) => id.startsWith('ConsoleDeployAssets'))!;
    const [, index] = deployments.find(([id]) => id.startsWith('ConsoleDeployIndex'))!;
    const [bucketId] = one(synth, 'AWS::S3::Bucket', 'ConsoleBucket');
    const [distributionId] = one(synth, 'AWS::CloudFront::Distribution');
    expect(assets.Properties).toMatchObject({
      DestinationBucketName: { Ref: bucketId },
      Exclude: ['*'],
      Include: ['assets/*'],
      Prune: false,
      SystemMetadata: { 'cache-control': IMMUTABLE },
    });
    expect(assets.Properties.DistributionId).toBeUndefined();
    expect(index.Properties).toMatchObject({
      DestinationBucketName: { Ref: bucketId },
      Exclude: ['*'],
      Include: ['index.html'],
      Prune: false,
      SystemMetadata: { 'cache-control': 'no-cache' },
      DistributionId: { Ref: distributionId },
      DistributionPaths: ['/', '/index.html'],
    });
    expect(index.Properties.SourceObjectKeys).toEqual(assets.Properties.SourceObjectKeys);
    expect(index.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(assetsId)]));
  });

  it('outputs ConsoleUrl as https://<distribution domain>/', () => {
    const [distributionId] = one(synth, 'AWS::CloudFront::Distribution');
    synth.template.hasOutput('ConsoleUrl', {
      Value: {
        'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/']],
      },
    });
    expect(synth.template.toJSON().Outputs.ConsoleDnsTarget).toBeUndefined();
  });
});

describe('console hosting: context flags', () => {
  it('a custom domain: alias, its us-east-1 certificate, SNI and TLSv1.2_2021; the URL and DNS target follow', () => {
    const synth = synthFast({
      consoleDomainName: 'console.example.com',
      consoleCertificateArn: CERTIFICATE,
      consolePriceClass: '200',
      consoleWebAclArn: WEB_ACL,
    });
    const config = distributionConfig(synth);
    expect(config.Aliases).toEqual(['console.example.com']);
    expect(config.ViewerCertificate).toEqual({
      AcmCertificateArn: CERTIFICATE,
      MinimumProtocolVersion: 'TLSv1.2_2021',
      SslSupportMethod: 'sni-only',
    });
    expect(config.PriceClass).toBe('PriceClass_200');
    expect(config.WebACLId).toBe(WEB_ACL);
    const outputs = synth.template.toJSON().Outputs;
    expect(outputs.ConsoleUrl.Value).toBe('https://console.example.com/');
    expect(outputs.ConsoleDnsTarget.Value).toEqual({
      'Fn::GetAtt': [one(synth, 'AWS::CloudFront::Distribution')[0], 'DomainName'],
    });
  });

  it('price class All, however it is spelled', () => {
    expect(distributionConfig(synthFast({ consolePriceClass: 'all' })).PriceClass).toBe(
      'PriceClass_All',
    );
  });

  it('refuses a domain without a certificate, a certificate outside us-east-1, an unknown price class, a regional web ACL', () => {
    expect(() => synthFast({ consoleDomainName: 'console.example.com' })).toThrow(SettingsError);
    expect(() =>
      synthFast({
        consoleDomainName: 'console.example.com',
        consoleCertificateArn: CERTIFICATE.replace('us-east-1', 'eu-west-1'),
      }),
    ).toThrow(/us-east-1/);
    expect(() =>
      synthFast({ consoleDomainName: 'Console Example', consoleCertificateArn: CERTIFICATE }),
    ).toThrow(/DNS name/);
    expect(() => synthFast({ consolePriceClass: '300' })).toThrow(/100, 200 or All/);
    expect(() =>
      synthFast({
        consoleWebAclArn: WEB_ACL.replace(
          'us-east-1:123456789012:global',
          'eu-west-1:123456789012:regional',
        ),
      }),
    ).toThrow(/CLOUDFRONT/);
  });
});

describe('presigned PCAP downloads need no CORS', () => {
  it('the console fetch()es only its own API client; downloads leave by navigation', async () => {
    // A link to the presigned URL (web/src/api/save.ts) is a navigation, which
    // neither CORS nor connect-src governs. A fetch() of S3 would need both.
    const fetchers: string[] = [];
    const walk = async (dir: string) => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(file);
        else if (
          /\.tsx?$/.test(entry.name) &&
          /\bfetch\(|XMLHttpRequest|EventSource/.test(await readFile(file, 'utf8'))
        ) {
          fetchers.push(path.relative(REPO_ROOT, file));
        }
      }
    };
    await walk(path.join(REPO_ROOT, 'web', 'src'));
    expect(fetchers).toEqual(['web/src/api/client.ts']);
    const synth = synthFast();
    for (const [, bucket] of Object.entries(resourcesOf(synth))) {
      if (bucket.Type === 'AWS::S3::Bucket')
        expect(bucket.Properties.CorsConfiguration).toBeUndefined();
    }
  });
});
