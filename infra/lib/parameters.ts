import { CfnCondition, CfnParameter, Fn, Stack } from 'aws-cdk-lib';

/**
 * What differs between deployments of one stage: CloudFormation parameters, given with
 * `cdk deploy --parameters Name=value` (later deployments keep the previous values). Nothing
 * here is looked up at synth time, so `cdk synth` needs no AWS account and no network.
 */
export interface DeploymentParameters {
  /** BASE_DOMAIN: organizations sign in at `<subdomain>.<BaseDomain>`. */
  readonly baseDomain: string;
  /** The Route 53 public hosted zone that holds BaseDomain's records. */
  readonly hostedZoneId: string;
  /** An ACM certificate for BaseDomain and *.BaseDomain, or '' to have one made and validated in the zone. */
  readonly certificateArn: string;
  readonly certificateGiven: CfnCondition;
  /** MAIL_FROM: the sender of our own mails; its domain becomes the SES identity. */
  readonly mailFrom: string;
  /** The domain part of MAIL_FROM. */
  readonly mailDomain: string;
  /** The hosted zone of the mail domain (DKIM records); defaults to HostedZoneId. */
  readonly mailHostedZoneId: string;
  /** The admin UI's origin, the one origin CORS lets call the admin API. */
  readonly adminUiOrigin: string;
  /** Where alarms go. */
  readonly alarmTopicArn: string;
  /** PRODUCT_NAME: the product's name on the main domain's pages. */
  readonly productName: string;
}

export function deploymentParameters(stack: Stack): DeploymentParameters {
  const baseDomain = new CfnParameter(stack, 'BaseDomain', {
    type: 'String',
    description: 'BASE_DOMAIN: organizations sign in at <subdomain>.<BaseDomain>, such as app.example.com',
    allowedPattern: '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$',
    constraintDescription: 'a lower-case domain name such as app.example.com',
  });
  const hostedZoneId = new CfnParameter(stack, 'HostedZoneId', {
    type: 'AWS::Route53::HostedZone::Id',
    description: 'The Route 53 public hosted zone of BaseDomain: the router\'s records (and the certificate\'s validation) go there',
  });
  const certificateArn = new CfnParameter(stack, 'CertificateArn', {
    type: 'String',
    default: '',
    description: 'An ACM certificate in this Region covering BaseDomain and *.BaseDomain; empty to have the stack request one, validated through HostedZoneId',
    allowedPattern: '^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$',
    constraintDescription: 'empty, or an ACM certificate ARN',
  });
  const mailFrom = new CfnParameter(stack, 'MailFrom', {
    type: 'String',
    description: 'MAIL_FROM: the sender of welcome mails, such as no-reply@app.example.com; its domain is verified in SES (DKIM)',
    allowedPattern: '^[^@\\s]+@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$',
    constraintDescription: 'an address with a lower-case domain, such as no-reply@app.example.com',
  });
  const mailHostedZoneId = new CfnParameter(stack, 'MailHostedZoneId', {
    type: 'String',
    default: '',
    description: "The Route 53 hosted zone of MailFrom's domain, for its DKIM records; empty when it is HostedZoneId",
    allowedPattern: '^$|^Z[A-Z0-9]+$',
    constraintDescription: 'empty, or a hosted zone id',
  });
  const adminUiOrigin = new CfnParameter(stack, 'AdminUiOrigin', {
    type: 'String',
    description: 'The admin UI\'s origin, the only one CORS lets call the admin API, such as https://admin.example.com',
    allowedPattern: '^https://[a-z0-9.-]+(:[0-9]{1,5})?$',
    constraintDescription: 'https://host[:port], no path and no trailing slash',
  });
  const alarmTopicArn = new CfnParameter(stack, 'AlarmTopicArn', {
    type: 'String',
    description: 'The SNS topic that receives the alarms',
    allowedPattern: '^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$',
    constraintDescription: 'an SNS topic ARN',
  });
  const productName = new CfnParameter(stack, 'ProductName', {
    type: 'String',
    default: 'Sign in',
    description: "PRODUCT_NAME: the product's name on the main domain's pages",
    minLength: 1,
    maxLength: 60,
  });

  const certificateGiven = new CfnCondition(stack, 'CertificateGiven', {
    expression: Fn.conditionNot(Fn.conditionEquals(certificateArn.valueAsString, '')),
  });
  const mailZoneGiven = new CfnCondition(stack, 'MailHostedZoneGiven', {
    expression: Fn.conditionNot(Fn.conditionEquals(mailHostedZoneId.valueAsString, '')),
  });

  stack.templateOptions.metadata = {
    'AWS::CloudFormation::Interface': {
      ParameterGroups: [
        { Label: { default: 'Domains' }, Parameters: ['BaseDomain', 'HostedZoneId', 'CertificateArn'] },
        { Label: { default: 'Mail' }, Parameters: ['MailFrom', 'MailHostedZoneId'] },
        { Label: { default: 'Admin UI and operations' }, Parameters: ['AdminUiOrigin', 'AlarmTopicArn', 'ProductName'] },
      ],
    },
  };

  return {
    baseDomain: baseDomain.valueAsString,
    hostedZoneId: hostedZoneId.valueAsString,
    certificateArn: certificateArn.valueAsString,
    certificateGiven,
    mailFrom: mailFrom.valueAsString,
    mailDomain: Fn.select(1, Fn.split('@', mailFrom.valueAsString)),
    mailHostedZoneId: Fn.conditionIf(
      mailZoneGiven.logicalId,
      mailHostedZoneId.valueAsString,
      hostedZoneId.valueAsString,
    ).toString(),
    adminUiOrigin: adminUiOrigin.valueAsString,
    alarmTopicArn: alarmTopicArn.valueAsString,
    productName: productName.valueAsString,
  };
}
