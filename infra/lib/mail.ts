import { Arn, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';

export interface MailProps {
  /** MAIL_FROM. */
  readonly mailFrom: string;
  /** Its domain: the SES identity. */
  readonly mailDomain: string;
  /** Where the identity's DKIM records go. */
  readonly hostedZoneId: string;
}

/**
 * Our own mails (welcome mails, temporary passwords, activation links) through SES v2: the
 * sender's domain as an identity with Easy DKIM, its DKIM records in Route 53, and a
 * configuration set (SES_CONFIGURATION_SET) that requires TLS, keeps reputation metrics and
 * suppresses addresses that bounced or complained. Cognito's own messages do not go through
 * here (they are Cognito's, branded by the custom-message trigger).
 */
export class Mail extends Construct {
  readonly identity: ses.EmailIdentity;
  readonly configurationSet: ses.ConfigurationSet;
  private readonly props: MailProps;

  constructor(scope: Construct, id: string, props: MailProps) {
    super(scope, id);
    this.props = props;
    this.configurationSet = new ses.ConfigurationSet(this, 'ConfigurationSet', {
      reputationMetrics: true,
      sendingEnabled: true,
      tlsPolicy: ses.ConfigurationSetTlsPolicy.REQUIRE,
      suppressionReasons: ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
    });
    this.identity = new ses.EmailIdentity(this, 'Identity', {
      identity: ses.Identity.domain(props.mailDomain),
      configurationSet: this.configurationSet,
      dkimSigning: true,
      feedbackForwarding: true,
    });
    // Easy DKIM: three CNAMEs; SES verifies the domain once they resolve.
    const dkim: Array<[string, string]> = [
      [this.identity.dkimDnsTokenName1, this.identity.dkimDnsTokenValue1],
      [this.identity.dkimDnsTokenName2, this.identity.dkimDnsTokenValue2],
      [this.identity.dkimDnsTokenName3, this.identity.dkimDnsTokenValue3],
    ];
    dkim.forEach(([name, value], i) => {
      new route53.CfnRecordSet(this, `Dkim${i + 1}`, {
        hostedZoneId: props.hostedZoneId,
        name,
        type: 'CNAME',
        ttl: '1800',
        resourceRecords: [value],
      });
    });
  }

  /** SendEmail from MAIL_FROM only, through this identity and configuration set. */
  grantSend(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ses:SendEmail'],
        resources: [
          Arn.format({ service: 'ses', resource: 'identity', resourceName: this.props.mailDomain }, stack),
          Arn.format(
            { service: 'ses', resource: 'configuration-set', resourceName: this.configurationSet.configurationSetName },
            stack,
          ),
        ],
        // The code sends MAIL_FROM lower-cased (EmailAddress::parse) while an operator may
        // deploy it with capitals in its local part: compare without case, as mail does.
        conditions: { StringEqualsIgnoreCase: { 'ses:FromAddress': this.props.mailFrom } },
      }),
    );
  }
}
