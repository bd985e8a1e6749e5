import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  type BehaviorOptions,
  CachedMethods,
  CachePolicy,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  type PriceClass,
  ResponseHeadersPolicy,
  SecurityPolicyProtocol,
  SSLMethod,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { CONSOLE_CSP, IMMUTABLE } from '../local/console.js';
import { consoleFiles } from './console-files.js';
import { acknowledgeWildcard, nagBucketObjects } from './grants.js';
import { DEFAULT_CONSOLE_PRICE_CLASS, type WirefleetSettings } from './settings.js';

/** Built names carry a content hash (web/build.ts), so they are cached for a year. */
export const ASSETS_PATH = '/assets/*';
/** The API's routes: /api/v1/... (functions/api/app.ts). */
export const API_PATH = '/api/*';
/** The console's entry; never cached, so a deploy shows at the next load. */
export const INDEX_CACHE_CONTROL = 'no-cache';
/** Prefixes of the two buckets' server access logs in the stack's access-log bucket. */
export const CONSOLE_BUCKET_LOG_PREFIX = 'console-bucket/';
export const CLOUDFRONT_LOG_BUCKET_LOG_PREFIX = 'cloudfront-log-bucket/';
/** Prefix of CloudFront's own access logs in their bucket. */
export const CLOUDFRONT_LOG_PREFIX = 'console/';
/** Two years: browsers remember to use HTTPS only for the console's host. */
export const HSTS_MAX_AGE = Duration.days(730);

export interface ConsoleProps {
  settings: WirefleetSettings;
  /** The HTTP API that /api/* goes to (its $default stage, so paths pass through unchanged). */
  httpApi: IHttpApi;
  /** Where the two console buckets send their S3 server access logs (Storage's log bucket). */
  accessLogBucket: IBucket;
  /** The console build; web/build.ts by default. Tests pass a stand-in script. */
  buildScript?: string;
}

/**
 * The web console in AWS: the files web/build.ts writes, in a private bucket
 * read by CloudFront through Origin Access Control, and the HTTP API behind
 * the same distribution at /api/*. One origin, so the browser needs no CORS
 * and the console's CSP can say connect-src 'self'.
 */
export class Console extends Construct {
  readonly bucket: Bucket;
  /** CloudFront standard logs (they need ACLs, so not the stack's log bucket). */
  readonly cloudFrontLogBucket: Bucket;
  readonly distribution: Distribution;
  readonly responseHeadersPolicy: ResponseHeadersPolicy;
  /** The role of BucketDeployment's function, holding only the grants listed in deploy(). */
  readonly deployRole: Role;
  /** `https://<domain>/`: the custom domain when one is set, else the distribution's. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ConsoleProps) {
    super(scope, id);
    const { settings } = props;

    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // OAC signs CloudFront's requests; ACLs play no part.
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: CONSOLE_BUCKET_LOG_PREFIX,
      // Rebuilt from the repository on every deploy, but CloudFormation cannot
      // delete a bucket that still holds files: `cdk destroy` leaves it, as it
      // leaves the other buckets (README, "Tearing it down").
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // CloudFront standard logs (legacy) are written with ACLs, so their bucket
    // must have ACLs enabled; Storage's log bucket has them disabled
    // (BucketOwnerEnforced) and stays that way. ObjectWriter is what
    // aws-cdk-lib's Distribution picks for the bucket it makes itself. The
    // bucket is still private: Block Public Access refuses public ACLs.
    this.cloudFrontLogBucket = new Bucket(this, 'CloudFrontLogBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // SSE-S3: SSE-KMS would need a customer managed key whose policy admits CloudFront's log delivery.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.OBJECT_WRITER,
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: CLOUDFRONT_LOG_BUCKET_LOG_PREFIX,
      lifecycleRules: [
        {
          id: 'expire-cloudfront-logs',
          expiration: Duration.days(settings.accessLogRetentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.responseHeadersPolicy = new ResponseHeadersPolicy(this, 'Headers', {
      comment: 'wirefleet console: CSP (same as the local stack), HSTS, no framing, no referrer',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: CONSOLE_CSP, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: HSTS_MAX_AGE,
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        // Presigned PCAP links are followed from the console: no Referer reaches S3.
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
      customHeadersBehavior: {
        customHeaders: [
          { header: 'Cross-Origin-Opener-Policy', value: 'same-origin', override: true },
          { header: 'Cross-Origin-Resource-Policy', value: 'same-origin', override: true },
          {
            header: 'Permissions-Policy',
            value: 'camera=(), microphone=(), geolocation=()',
            override: true,
          },
        ],
      },
    });

    this.distribution = this.createDistribution(props);
    this.url = `https://${settings.consoleDomainName ?? this.distribution.distributionDomainName}/`;
    this.deployRole = this.deploy(props);
  }

  private createDistribution(props: ConsoleProps): Distribution {
    const { settings } = props;
    const fromBucket: Omit<BehaviorOptions, 'cachePolicy'> = {
      origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
      viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: CachedMethods.CACHE_GET_HEAD,
      compress: true,
      responseHeadersPolicy: this.responseHeadersPolicy,
    };
    const apiDomain = `${props.httpApi.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    const customDomain =
      settings.consoleDomainName && settings.consoleCertificateArn
        ? {
            domainNames: [settings.consoleDomainName],
            certificate: Certificate.fromCertificateArn(
              this,
              'Certificate',
              settings.consoleCertificateArn,
            ),
            minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
            sslSupportMethod: SSLMethod.SNI,
          }
        : {};

    const distribution = new Distribution(this, 'Distribution', {
      comment: `wirefleet console and API (${Stack.of(this).stackName})`,
      defaultRootObject: 'index.html',
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: (settings.consolePriceClass ?? DEFAULT_CONSOLE_PRICE_CLASS) as PriceClass,
      enableIpv6: true,
      ...customDomain,
      ...(settings.consoleWebAclArn ? { webAclId: settings.consoleWebAclArn } : {}),
      // index.html (and anything else outside /assets/): always from the
      // bucket, so a deploy shows at the next load.
      defaultBehavior: { ...fromBucket, cachePolicy: CachePolicy.CACHING_DISABLED },
      additionalBehaviors: {
        // Hashed names: CachingOptimized keeps them up to its one-year maximum,
        // as their Cache-Control (immutable) allows, and compresses them.
        [ASSETS_PATH]: { ...fromBucket, cachePolicy: CachePolicy.CACHING_OPTIMIZED },
        // The API, as it is: nothing cached, every method. AllViewerExceptHostHeader
        // forwards all headers, cookies and query strings except Host (API Gateway
        // routes by its own host name and answers 403 to another one).
        // Authorization cannot be named in an origin request policy, but with
        // caching disabled the AllViewer and AllViewerExceptHostHeader managed
        // policies do forward it:
        // https://repost.aws/knowledge-center/cloudfront-authorization-header
        // ("If caching is turned off, then you can use AllViewer and
        // AllViewerExceptHostHeader origin request policies to forward an
        // authorization header"). No response headers policy here: the API sets
        // its own (Hono secureHeaders), and CloudFront leaves them as they are.
        [API_PATH]: {
          origin: new HttpOrigin(apiDomain, {
            protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
          }),
          // No redirect: a POST redirected to https would arrive as a GET without its body.
          viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: AllowedMethods.ALLOW_ALL,
          cachePolicy: CachePolicy.CACHING_DISABLED,
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          compress: true,
        },
      },
      enableLogging: true,
      logBucket: this.cloudFrontLogBucket,
      logFilePrefix: CLOUDFRONT_LOG_PREFIX,
      logIncludesCookies: false,
    });
    this.acknowledgeDistribution(distribution, props.settings);
    return distribution;
  }

  /**
   * Copies the build into the bucket: hashed assets first, then index.html,
   * which names them, so no page ever points at a file not there yet. Old
   * assets are kept (no prune): a page loaded before the deploy still finds
   * its files. index.html is then invalidated at the edge.
   *
   * BucketDeployment would give its function s3:GetObject*, List*, DeleteObject*
   * and PutObject* on both buckets and cloudfront:CreateInvalidation on "*".
   * Its role here is handed over without policy updates, and holds exactly
   * what the handler's `aws s3 cp`, `aws s3 sync` and CreateInvalidation need.
   */
  private deploy(props: ConsoleProps): Role {
    const files = consoleFiles(this, 'Files', props.buildScript);
    const logGroup = new LogGroup(this, 'DeployLogs', {
      retention: props.settings.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(this, 'DeployRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Copies the built web console into its bucket and invalidates index.html',
    });
    logGroup.grantWrite(role);
    const allow = (actions: string[], resources: string[]) =>
      role.addToPrincipalPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions, resources }));
    // The one zip synth built, in the bootstrap assets bucket.
    allow(['s3:GetObject'], [files.bucket.arnForObjects(files.s3ObjectKey)]);
    // `aws s3 sync` lists the destination to compare, then uploads.
    allow(['s3:ListBucket'], [this.bucket.bucketArn]);
    allow(
      ['s3:PutObject'],
      [this.bucket.arnForObjects('index.html'), this.bucket.arnForObjects('assets/*')],
    );
    allow(
      ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation'],
      [this.distribution.distributionArn],
    );
    acknowledgeWildcard(
      role,
      nagBucketObjects(this.bucket, 'assets/'),
      "Only s3:PutObject, only under the console bucket's assets/ prefix: each build writes files named by their content hash (web/build.ts), so their names are known only after the build. index.html is granted by its exact key; no delete, no read, no other bucket.",
    );

    const handlerRole = role.withoutPolicyUpdates();
    const source = Source.bucket(files.bucket, files.s3ObjectKey);
    const assets = new BucketDeployment(this, 'DeployAssets', {
      sources: [source],
      destinationBucket: this.bucket,
      exclude: ['*'],
      include: ['assets/*'],
      prune: false,
      cacheControl: [CacheControl.fromString(IMMUTABLE)],
      role: handlerRole,
      logGroup,
    });
    const index = new BucketDeployment(this, 'DeployIndex', {
      sources: [source],
      destinationBucket: this.bucket,
      exclude: ['*'],
      include: ['index.html'],
      prune: false,
      cacheControl: [CacheControl.fromString(INDEX_CACHE_CONTROL)],
      distribution: this.distribution,
      distributionPaths: ['/', '/index.html'],
      role: handlerRole,
      logGroup,
    });
    index.node.addDependency(assets);
    this.acknowledgeDeployFunction();
    return role;
  }

  private acknowledgeDistribution(distribution: Distribution, settings: WirefleetSettings): void {
    Validations.of(distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason:
        'No geo restriction: the console is an operator tool for a fleet whose agents and operators may be in any country, and a country block is not access control. Every API call behind it needs a bearer token; the static files hold no data.',
    });
    if (!settings.consoleWebAclArn) {
      Validations.of(distribution).acknowledge({
        id: 'AwsSolutions-CFR2',
        reason:
          'No AWS WAF by default: a web ACL for CloudFront must be created in us-east-1 (scope CLOUDFRONT), outside this regional stack, and bills monthly whether used or not. The console is static files read through OAC; /api/* authenticates every request by bearer token and is throttled at the API stage. To add one, create a web ACL in us-east-1 (for example with the AWS managed Core rule set and a rate-based rule) and deploy with -c consoleWebAclArn=<its ARN>.',
      });
    }
    if (!settings.consoleCertificateArn) {
      Validations.of(distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason:
          "Without a custom domain the console is served under the distribution's *.cloudfront.net name and certificate, for which CloudFront fixes the security policy at TLSv1 whatever the distribution asks. Current browsers refuse anything below TLS 1.2, so the console and its token travel over TLS 1.2 or 1.3 in practice. To enforce TLSv1.2_2021 at the edge, deploy with -c consoleDomainName=<name> -c consoleCertificateArn=<ACM certificate in us-east-1>: the distribution then uses SNI with TLSv1.2_2021 and this finding no longer applies.",
      });
    }
  }

  /** BucketDeployment's function is a stack-wide singleton whose Python runtime aws-cdk-lib chooses. */
  private acknowledgeDeployFunction(): void {
    const stack = Stack.of(this);
    const handler = stack.node.children.find((c) =>
      c.node.id.startsWith('Custom::CDKBucketDeployment'),
    );
    if (!handler) throw new Error('BucketDeployment created no handler function at stack level');
    Validations.of(handler).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        "BucketDeployment's handler is aws-cdk-lib's own Python function (with the AWS CLI layer), on the runtime that aws-cdk-lib release chose. It runs only during deployments, to copy the console build into its bucket and invalidate index.html, and moves with aws-cdk-lib upgrades.",
    });
  }
}
