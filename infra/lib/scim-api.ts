import { Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { LambdaRestApi } from './rest-api';
import { StageSettings } from './stage';

export interface ScimApiProps {
  readonly stage: StageSettings;
  readonly handler: lambda.IFunction;
  /** The router's `*.BASE_DOMAIN` custom domain: SCIM is `https://<subdomain>.<base>/scim/v2/`. */
  readonly domain: apigwv2.DomainName;
}

/** What a directory blocked by the web ACL reads: a SCIM error (RFC 7644, section 3.12). */
const TOO_MANY_REQUESTS = JSON.stringify({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
  status: '429',
  detail: 'Too many requests came from this address: the directory retries later.',
});

/**
 * `scim` on a REST API of its own behind AWS WAF, mapped at `scim` on the organizations'
 * wildcard domain (the mapping strips `/scim`: the function serves `/v2/...`). Its own API
 * rather than the router's: a directory's first sync sends thousands of requests from one
 * address, far above the router's per-address POST rule, and its stage throttle keeps the
 * Cognito calls inside the account's quotas (docs/design.md, "SCIM 2.0"). The function
 * verifies the organization's SCIM token itself.
 */
export class ScimApi extends Construct {
  readonly http: LambdaRestApi;

  constructor(scope: Construct, id: string, props: ScimApiProps) {
    super(scope, id);
    this.http = new LambdaRestApi(this, 'Http', {
      stage: props.stage,
      name: 'scim',
      handler: props.handler,
      throttle: props.stage.scimThrottle,
      prefix: 'v2',
      disableExecuteApiEndpoint: true,
      logPath: true,
      rateRules: props.stage.scimRateRules,
      blockedBody: { contentType: 'APPLICATION_JSON', content: TOO_MANY_REQUESTS },
    });
    for (const method of this.http.api.methods) {
      Validations.of(method).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          "scim checks the bearer token itself against the digests of the organization's SCIM tokens (the organization named by the host); an API Gateway authorizer cannot know them",
      });
    }
    const mapping = new apigwv2.CfnApiMapping(this, 'Mapping', {
      apiId: this.http.api.restApiId,
      domainName: props.domain.name,
      stage: this.http.stage.stageName,
      apiMappingKey: 'scim',
    });
    mapping.node.addDependency(this.http.stage);
  }
}
