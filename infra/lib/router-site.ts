import { CfnCondition, Fn, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { LambdaHttpApi } from './http-api';
import { DeploymentParameters } from './parameters';
import { StageSettings } from './stage';

export interface RouterSiteProps {
  readonly stage: StageSettings;
  readonly handler: lambda.IFunction;
  readonly params: DeploymentParameters;
}

/**
 * `auth-router` on `BASE_DOMAIN` (discovery) and `*.BASE_DOMAIN` (each organization's login
 * pages): an HTTP API reachable only through these two custom domains (its execute-api
 * endpoint is disabled, so every request carries one of our hosts), A and AAAA alias records
 * in the hosted zone, and the certificate given as a parameter or requested here and
 * validated through the same zone. Cognito's own custom domains are not used (4 per account):
 * each pool has a prefix domain for OAuth only.
 */
export class RouterSite extends Construct {
  readonly http: LambdaHttpApi;
  readonly domains: apigwv2.DomainName[] = [];

  constructor(scope: Construct, id: string, props: RouterSiteProps) {
    super(scope, id);
    const { params } = props;
    this.http = new LambdaHttpApi(this, 'Http', {
      stage: props.stage,
      name: 'auth-router',
      handler: props.handler,
      throttle: props.stage.routerThrottle,
      disableExecuteApiEndpoint: true,
      // `/activate/<person id>.<secret>` is a single-use credential: never in a log.
      logPath: false,
    });
    Validations.of(this.http.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'The login pages are public by nature: the router signs people in itself (Cognito USER_PASSWORD_AUTH, session cookies verified on every request, CSRF tokens on every form)',
    });

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
      new apigwv2.ApiMapping(this, `${name}Mapping`, {
        api: this.http.api,
        domainName: domain,
        stage: this.http.stage,
      });
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
