import { CfnCondition, Fn, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { LambdaRestApi } from './rest-api';
import { DeploymentParameters } from './parameters';
import { StageSettings } from './stage';

export interface RouterSiteProps {
  readonly stage: StageSettings;
  readonly handler: lambda.IFunction;
  readonly params: DeploymentParameters;
}

/** What a client blocked by the web ACL's rate rules reads: a page like the router's own. */
const TOO_MANY_REQUESTS_PAGE =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
  '<title>Too many requests</title></head><body style="font-family:system-ui,sans-serif;max-width:30rem;margin:4rem auto;padding:0 1rem">' +
  '<h1>Too many requests</h1><p>Too many requests came from your network. Wait a few minutes, then try again.</p></body></html>';

/**
 * `auth-router` on `BASE_DOMAIN` (discovery) and `*.BASE_DOMAIN` (each organization's login
 * pages): a REST API behind AWS WAF, reachable only through these two custom domains (its
 * execute-api endpoint is disabled, so every request carries one of our hosts), A and AAAA alias records
 * in the hosted zone, and the certificate given as a parameter or requested here and
 * validated through the same zone. Cognito's own custom domains are not used (4 per account):
 * each pool has a prefix domain for OAuth only.
 */
export class RouterSite extends Construct {
  readonly http: LambdaRestApi;
  readonly domains: apigwv2.DomainName[] = [];
  /** `*.BASE_DOMAIN`: the organizations' sites (SCIM is mapped on it too). */
  wildcardDomain!: apigwv2.DomainName;

  constructor(scope: Construct, id: string, props: RouterSiteProps) {
    super(scope, id);
    const { params } = props;
    this.http = new LambdaRestApi(this, 'Http', {
      stage: props.stage,
      name: 'auth-router',
      handler: props.handler,
      throttle: props.stage.routerThrottle,
      disableExecuteApiEndpoint: true,
      // `/activate/<person id>.<secret>` is a single-use credential: never in a log.
      logPath: false,
      rateRules: props.stage.routerRateRules,
      blockedBody: { contentType: 'TEXT_HTML', content: TOO_MANY_REQUESTS_PAGE },
    });
    for (const method of this.http.api.methods) {
      Validations.of(method).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'The login pages are public by nature: the router signs people in itself (Cognito USER_PASSWORD_AUTH, session cookies verified on every request, CSRF tokens on every form)',
      });
    }

    const wildcard = `*.${params.baseDomain}`;
    const createCertificate = new CfnCondition(this, 'CreateCertificate', {
      expression: Fn.conditionNot(params.certificateGiven),
    });
    const requested = new acm.CfnCertificate(this, 'Certificate', {
      domainName: params.baseDomain,
      subjectAlternativeNames: [wildcard],
      validationMethod: 'DNS',
      domainValidationOptions: [
        { domainName: params.baseDomain, hostedZoneId: params.hostedZoneId },
        { domainName: wildcard, hostedZoneId: params.hostedZoneId },
      ],
    });
    requested.cfnOptions.condition = createCertificate;
    const certificate = acm.Certificate.fromCertificateArn(
      this,
      'CertificateInUse',
      Fn.conditionIf(params.certificateGiven.logicalId, params.certificateArn, requested.ref).toString(),
    );

    [
      ['Apex', params.baseDomain],
      ['Wildcard', wildcard],
    ].forEach(([name, domainName]) => {
      const domain = new apigwv2.DomainName(this, `${name}Domain`, {
        domainName,
        certificate,
        endpointType: apigwv2.EndpointType.REGIONAL,
        securityPolicy: apigwv2.SecurityPolicy.TLS_1_2,
        ipAddressType: apigwv2.IpAddressType.DUAL_STACK,
      });
      this.domains.push(domain);
      if (name === 'Wildcard') this.wildcardDomain = domain;
      // The v2 API maps REST API stages to regional custom domains too (and keeps the
      // domain dual-stack); an empty key maps every path.
      const mapping = new apigwv2.CfnApiMapping(this, `${name}Mapping`, {
        apiId: this.http.api.restApiId,
        domainName: domain.name,
        stage: this.http.stage.stageName,
      });
      mapping.node.addDependency(this.http.stage);
      for (const type of ['A', 'AAAA']) {
        new route53.CfnRecordSet(this, `${name}${type}`, {
          hostedZoneId: params.hostedZoneId,
          name: domainName,
          type,
          aliasTarget: {
            dnsName: domain.regionalDomainName,
            hostedZoneId: domain.regionalHostedZoneId,
            evaluateTargetHealth: false,
          },
        });
      }
    });
  }
}
