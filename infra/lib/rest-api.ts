import { Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { RateRules, StageSettings } from './stage';

export interface LambdaRestApiProps {
  readonly stage: StageSettings;
  /** The API's name (the function's, within the stack). */
  readonly name: string;
  readonly handler: lambda.IFunction;
  readonly throttle: { rate: number; burst: number };
  /** The one path prefix that reaches the function (`v1` -> `/v1/{proxy+}`); every path when not given. */
  readonly prefix?: string;
  readonly cors?: apigw.CorsOptions;
  /** Only through custom domains. */
  readonly disableExecuteApiEndpoint?: boolean;
  /**
   * Log the request path. Off where a path can carry a secret (the router's
   * `/activate/<token>` links): the access log then names the resource and status only.
   */
  readonly logPath: boolean;
  /** The web ACL's rate-based rules, per client address. */
  readonly rateRules: RateRules;
  /** What a blocked client reads (the web ACL's custom 429 answer). */
  readonly blockedBody: { contentType: 'TEXT_HTML' | 'APPLICATION_JSON'; content: string };
  /** More headers of the 429 answer (the admin UI's CORS header, so that it can read it). */
  readonly blockedHeaders?: Array<{ name: string; value: string }>;
}

/** The name of the one stage; `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` keeps it out of the functions' paths. */
export const STAGE_NAME = 'live';

/**
 * A regional REST API in front of one lambda_http function (Lambda proxy integration, payload
 * 1.0): one stage with throttling and JSON access logs in a log group of its own, and an AWS
 * WAF web ACL with rate-based rules per client address associated with the stage. A REST API,
 * not an HTTP API, because AWS WAF cannot be associated with HTTP APIs (docs/design.md,
 * "AWS WAF in front of both APIs").
 */
export class LambdaRestApi extends Construct {
  readonly api: apigw.RestApi;
  readonly stage: apigw.Stage;
  readonly accessLogs: logs.LogGroup;
  readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: LambdaRestApiProps) {
    super(scope, id);
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
      resource: '$context.resourcePath',
      status: '$context.status',
      responseLength: '$context.responseLength',
      latencyMs: '$context.responseLatency',
      integrationLatencyMs: '$context.integrationLatency',
      integrationError: '$context.integration.error',
      error: '$context.error.message',
      wafStatus: '$context.waf.status',
    };
    if (props.logPath) fields.path = '$context.path';

    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: `${Stack.of(this).stackName}-${props.name}`,
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL], ipAddressType: apigw.IpAddressType.DUAL_STACK },
      disableExecuteApiEndpoint: props.disableExecuteApiEndpoint,
      defaultCorsPreflightOptions: props.cors,
      // No account-wide CloudWatch role: the access logs go to a log group of our own.
      cloudWatchRole: false,
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: props.throttle.rate,
        throttlingBurstLimit: props.throttle.burst,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify(fields)),
      },
    });
    this.stage = this.api.deploymentStage;

    const integration = new apigw.LambdaIntegration(props.handler, { proxy: true });
    const base = props.prefix ? this.api.root.addResource(props.prefix) : this.api.root;
    if (!props.prefix) base.addMethod('ANY', integration);
    base.addProxy({ defaultIntegration: integration, anyMethod: true });

    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions-APIG2',
        reason:
          'The function is the validator: every form and JSON body is parsed into typed requests and refused with a clear message, which an API Gateway model cannot express for these bodies',
      },
      {
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution logging needs the account-wide API Gateway CloudWatch role; JSON access logs per API (request id, address, status, latency, integration and WAF errors) and the functions\' own logs cover what execution logs would show',
      },
      {
        id: 'AwsSolutions-COG4',
        reason:
          'One Cognito user pool per organization: a Cognito authorizer takes at most 1,000 pools and would need every organization listed, so the functions verify tokens and sessions themselves',
      },
    );
    Validations.of(this.stage).acknowledge({
      id: 'AwsSolutions-APIG6',
      reason:
        'Execution logging needs the account-wide API Gateway CloudWatch role; JSON access logs per API (request id, address, status, latency, integration and WAF errors) and the functions\' own logs cover what execution logs would show',
    });

    this.webAcl = webAcl(this, props);
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: this.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
  }
}

/**
 * A REGIONAL web ACL: allow by default; block a client address above a rule's rate with 429,
 * `Retry-After` and the API's own kind of body. Rules are evaluated in priority order; a
 * rate-based rule counts every request that its scope-down statement (if any) matches.
 */
function webAcl(scope: Construct, props: LambdaRestApiProps): wafv2.CfnWebACL {
  const metric = (name: string) => `${Stack.of(scope).stackName}-${props.name}-${name}`.replace(/[^A-Za-z0-9_-]/g, '-');
  const block = {
    block: {
      customResponse: {
        responseCode: 429,
        customResponseBodyKey: 'too-many-requests',
        // The rules count over 5 minutes; waiting one is usually enough to fall under.
        responseHeaders: [{ name: 'retry-after', value: '60' }, ...(props.blockedHeaders ?? [])],
      },
    },
  };
  const rules: wafv2.CfnWebACL.RuleProperty[] = [
    {
      name: 'PerAddress',
      priority: 0,
      action: block,
      statement: { rateBasedStatement: { aggregateKeyType: 'IP', limit: props.rateRules.perAddress, evaluationWindowSec: 300 } },
      visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: metric('per-address') },
    },
  ];
  if (props.rateRules.postsPerAddress !== undefined) {
    rules.push({
      name: 'PostsPerAddress',
      priority: 1,
      action: block,
      statement: {
        rateBasedStatement: {
          aggregateKeyType: 'IP',
          limit: props.rateRules.postsPerAddress,
          evaluationWindowSec: 300,
          scopeDownStatement: {
            byteMatchStatement: {
              fieldToMatch: { method: {} },
              positionalConstraint: 'EXACTLY',
              searchString: 'POST',
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          },
        },
      },
      visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: metric('posts-per-address') },
    });
  }
  return new wafv2.CfnWebACL(scope, 'WebAcl', {
    scope: 'REGIONAL',
    defaultAction: { allow: {} },
    customResponseBodies: { 'too-many-requests': props.blockedBody },
    rules,
    visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: metric('web-acl') },
  });
}
