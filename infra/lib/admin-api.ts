import { Duration, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { LambdaHttpApi } from './http-api';
import { StageSettings } from './stage';

export interface AdminApiProps {
  readonly stage: StageSettings;
  readonly handler: lambda.IFunction;
  /** The admin UI's origin (CORS). */
  readonly adminUiOrigin: string;
}

/**
 * `admin-api` on an HTTP API. No API Gateway authorizer: its Cognito authorizer accepts at
 * most 1,000 pools and would need every organization's pool listed, so the function verifies
 * every token itself (RS256, the pool's JWKS, `iss` of a pool an organization owns, ...; see
 * the README's admin API section). Only `/v1/...` reaches the function.
 */
export class AdminApi extends Construct {
  readonly http: LambdaHttpApi;

  constructor(scope: Construct, id: string, props: AdminApiProps) {
    super(scope, id);
    this.http = new LambdaHttpApi(this, 'Http', {
      stage: props.stage,
      name: 'admin-api',
      handler: props.handler,
      throttle: props.stage.adminApiThrottle,
      routes: [{ path: '/v1/{proxy+}', methods: [apigwv2.HttpMethod.ANY] }],
      logPath: true,
      cors: {
        allowOrigins: [props.adminUiOrigin],
        allowMethods: [
          apigwv2.CorsHttpMethod.GET,
          apigwv2.CorsHttpMethod.POST,
          apigwv2.CorsHttpMethod.PUT,
          apigwv2.CorsHttpMethod.PATCH,
          apigwv2.CorsHttpMethod.DELETE,
        ],
        // What the admin UI sends: the bearer token, JSON or CSV bodies, the ETag it read,
        // and an idempotency key on changes.
        allowHeaders: ['authorization', 'content-type', 'if-match', 'idempotency-key'],
        exposeHeaders: ['etag', 'location', 'idempotent-replay', 'www-authenticate'],
        // Bearer tokens, not cookies.
        allowCredentials: false,
        maxAge: Duration.hours(1),
      },
    });
    for (const route of this.http.api.node.findAll()) {
      if (route instanceof apigwv2.HttpRoute) {
        Validations.of(route).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'admin-api verifies every bearer token itself: API Gateway authorizers cannot accept the pools of all organizations (one Cognito pool each, 1,000 pools at most per Cognito authorizer)',
        });
      }
    }
  }
}
