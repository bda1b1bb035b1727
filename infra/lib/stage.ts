import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

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
  /** HTTP API throttling of the default route (steady requests/s, burst). */
  readonly adminApiThrottle: { rate: number; burst: number };
  readonly routerThrottle: { rate: number; burst: number };
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
