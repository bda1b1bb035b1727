import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { StageSettings } from './stage';

export interface LambdaHttpApiProps {
  readonly stage: StageSettings;
  /** The API's name (the function's, within the stack). */
  readonly name: string;
  readonly handler: lambda.IFunction;
  readonly throttle: { rate: number; burst: number };
  /** Routes to the function; `$default` (every path) when not given. */
  readonly routes?: Array<{ path: string; methods: apigwv2.HttpMethod[] }>;
  readonly cors?: apigwv2.CorsPreflightOptions;
  /** Only through custom domains. */
  readonly disableExecuteApiEndpoint?: boolean;
  /**
   * Log the request path. Off where a path can carry a secret (the router's
   * `/activate/<token>` links): the access log then names the route and status only.
   */
  readonly logPath: boolean;
}

/**
 * An HTTP API in front of one lambda_http function (payload 2.0): one `$default` stage with
 * throttling and JSON access logs in a log group of its own.
 */
export class LambdaHttpApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: LambdaHttpApiProps) {
    super(scope, id);
    const integration = new HttpLambdaIntegration('Integration', props.handler, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    });
    this.api = new apigwv2.HttpApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-${props.name}`,
      createDefaultStage: false,
      corsPreflight: props.cors,
      disableExecuteApiEndpoint: props.disableExecuteApiEndpoint,
      defaultIntegration: props.routes ? undefined : integration,
    });
    for (const route of props.routes ?? []) {
      this.api.addRoutes({ path: route.path, methods: route.methods, integration });
    }
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.stage.logRetention,
      removalPolicy: props.stage.logRemoval,
    });
    const fields: Record<string, string> = {
      requestId: '$context.requestId',
      time: '$context.requestTime',
      ip: '$context.identity.sourceIp',
      userAgent: '$context.identity.userAgent',
      domain: '$context.domainName',
      method: '$context.httpMethod',
      route: '$context.routeKey',
      status: '$context.status',
      responseLength: '$context.responseLength',
      latencyMs: '$context.responseLatency',
      integrationLatencyMs: '$context.integrationLatency',
      integrationError: '$context.integrationErrorMessage',
      error: '$context.error.message',
    };
    if (props.logPath) fields.path = '$context.path';
    this.stage = this.api.addStage('Stage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rate, burstLimit: props.throttle.burst },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(fields)),
      },
    });
  }
}
