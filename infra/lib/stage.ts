import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/**
 * AWS WAF rate-based rules per client address, counted over 5 minutes (the web ACL in front
 * of an API's stage). Far above what the functions' own limits let through (the router's
 * DynamoDB windows answer first, with their own page); WAF is for floods, which it stops
 * before they cost a Lambda invocation. AWS WAF's lowest limit is 10.
 */
export interface RateRules {
  /** Every request from one address. */
  readonly perAddress: number;
  /** POST requests from one address (the router's password, reset and discovery forms). */
  readonly postsPerAddress?: number;
}

/** What differs between the stages, chosen with `-c stage=dev|prod` (default dev). */
export interface StageSettings {
  readonly name: 'dev' | 'prod';
  /**
   * For everything that holds user data (the registry, the migration reports). Prod keeps it
   * whatever happens to the stack; dev can be torn down with `cdk destroy`.
   */
  readonly dataRemoval: RemovalPolicy;
  /** DynamoDB deletion protection: on in prod, off in dev so that a teardown can finish. */
  readonly tableDeletionProtection: boolean;
  /** For logs and other things that can be rebuilt. */
  readonly logRemoval: RemovalPolicy;
  readonly logRetention: RetentionDays;
  /** REST API stage throttling (steady requests/s, burst) for every method. */
  readonly adminApiThrottle: { rate: number; burst: number };
  readonly routerThrottle: { rate: number; burst: number };
  /** The web ACLs' rate-based rules (AWS WAF), per API. */
  readonly adminApiRateRules: RateRules;
  readonly routerRateRules: RateRules;
  /**
   * SCIM (a directory's provisioning): each change costs Cognito calls of the account's
   * UserCreation/UserUpdate quotas (50 and 25/s); a throttled directory retries (429).
   */
  readonly scimThrottle: { rate: number; burst: number };
  readonly scimRateRules: RateRules;
  /** How long an alarm's metric is looked at. */
  readonly alarmPeriod: Duration;
}

const STAGES: Record<string, StageSettings> = {
  dev: {
    name: 'dev',
    dataRemoval: RemovalPolicy.DESTROY,
    tableDeletionProtection: false,
    logRemoval: RemovalPolicy.DESTROY,
    logRetention: RetentionDays.TWO_WEEKS,
    adminApiThrottle: { rate: 10, burst: 20 },
    routerThrottle: { rate: 20, burst: 40 },
    adminApiRateRules: { perAddress: 6000 },
    routerRateRules: { perAddress: 3000, postsPerAddress: 600 },
    scimThrottle: { rate: 5, burst: 10 },
    scimRateRules: { perAddress: 6000 },
    alarmPeriod: Duration.minutes(5),
  },
  prod: {
    name: 'prod',
    dataRemoval: RemovalPolicy.RETAIN,
    tableDeletionProtection: true,
    logRemoval: RemovalPolicy.RETAIN,
    logRetention: RetentionDays.ONE_YEAR,
    // The admin UI's traffic is people clicking; 50/s is far above it and keeps a runaway
    // client from spending the account's Cognito UserCreation/UserUpdate quotas (50 and 25/s).
    adminApiThrottle: { rate: 50, burst: 100 },
    // Page views cost no AWS call with a warm cache; a sign-in costs one InitiateAuth of the
    // account's 120/s UserAuthentication quota. 200/s of pages leaves room for both.
    routerThrottle: { rate: 200, burst: 400 },
    // 20 requests/s from one address for 5 minutes: several admins behind one NAT, an import.
    adminApiRateRules: { perAddress: 6000 },
    // 10 pages/s and 2 posts/s from one address for 5 minutes: an office behind one NAT at
    // nine stays under; the router's own limits (30 passwords a minute per address) answer
    // first, so WAF only meets floods.
    routerRateRules: { perAddress: 3000, postsPerAddress: 600 },
    // 10 changes/s: a first sync of 10,000 people in under 20 minutes, with room left in the
    // account's Cognito quotas for the admin API, sign-ups and migrations.
    scimThrottle: { rate: 10, burst: 20 },
    // 40 requests/s from the directory's address for 5 minutes; Entra ID and Okta send far
    // fewer, and retry a 429.
    scimRateRules: { perAddress: 12000 },
    alarmPeriod: Duration.minutes(5),
  },
};

export function stageSettings(name: unknown): StageSettings {
  const key = name === undefined ? 'dev' : String(name);
  const found = STAGES[key];
  if (!found) {
    throw new Error(`unknown stage '${key}': use -c stage=dev or -c stage=prod`);
  }
  return found;
}
