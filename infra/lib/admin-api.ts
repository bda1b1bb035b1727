import { Duration, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { LambdaRestApi } from './rest-api';
import { StageSettings } from './stage';

export interface AdminApiProps {
  readonly stage: StageSettings;
  readonly handler: lambda.IFunction;
  /** The admin UI's origin (CORS). */
  readonly adminUiOrigin: string;
}

/** What a client blocked by the web ACL's rate rules reads: a problem like the function's own. */
const TOO_MANY_REQUESTS = JSON.stringify({
  type: '/problems/too-many-requests',
  code: 'too-many-requests',
  title: 'Too many requests',
  status: 429,
  detail: 'Too many requests came from your network. Wait a few minutes, then try again.',
});

/**
 * `admin-api` on a REST API behind AWS WAF. No API Gateway authorizer: its Cognito authorizer accepts at
 * most 1,000 pools and would need every organization's pool listed, so the function verifies
 * every token itself (RS256, the pool's JWKS, `iss` of a pool an organization owns, ...; see
 * the README's admin API section). Only `/v1/...` reaches the function.
 */
export class AdminApi extends Construct {
  readonly http: LambdaRestApi;

  constructor(scope: Construct, id: string, props: AdminApiProps) {
    super(scope, id);
    this.http = new LambdaRestApi(this, 'Http', {
      stage: props.stage,
      name: 'admin-api',
      handler: props.handler,
      throttle: props.stage.adminApiThrottle,
      prefix: 'v1',
      logPath: true,
      rateRules: props.stage.adminApiRateRules,
      blockedBody: { contentType: 'APPLICATION_JSON', content: TOO_MANY_REQUESTS },
      blockedHeaders: [
        { name: 'access-control-allow-origin', value: props.adminUiOrigin },
        { name: 'vary', value: 'origin' },
      ],
      cors: {
        allowOrigins: [props.adminUiOrigin],
        allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
        // What the admin UI sends: the bearer token, JSON or CSV bodies, the ETag it read,
        // and an idempotency key on changes.
        allowHeaders: ['authorization', 'content-type', 'if-match', 'idempotency-key'],
        // The preflight's list; the function adds its own to the answers (cors.rs).
        exposeHeaders: ['etag', 'location', 'idempotent-replay', 'www-authenticate', 'retry-after'],
        // Bearer tokens, not cookies.
        allowCredentials: false,
        maxAge: Duration.hours(1),
      },
    });
    // CORS preflights (OPTIONS, answered by API Gateway) are not checked by cdk-nag.
    for (const method of this.http.api.methods.filter((m) => m.httpMethod !== 'OPTIONS')) {
      Validations.of(method).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'admin-api verifies every bearer token itself: API Gateway authorizers cannot accept the pools of all organizations (one Cognito pool each, 1,000 pools at most per Cognito authorizer)',
      });
    }
  }
}
