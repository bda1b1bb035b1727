import { CfnOutput, Fn, Stack, StackProps } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { AdminApi } from './admin-api';
import { Mail } from './mail';
import { Migration, MIGRATION_MAX_CONCURRENCY } from './migration';
import { Monitoring } from './monitoring';
import { deploymentParameters } from './parameters';
import { Registry } from './registry';
import { RouterSite } from './router-site';
import { RustFunctions } from './rust-functions';
import { ScimApi } from './scim-api';
import { StageSettings } from './stage';
import { Triggers } from './triggers';

export interface SuiteStackProps extends StackProps {
  readonly stage: StageSettings;
}

/** The SSM path of a stage's published settings: `/org-signin/<stage>`. */
export function parameterPrefix(stage: StageSettings): string {
  return `/org-signin/${stage.name}`;
}

/** The whole suite of one stage. */
export class SuiteStack extends Stack {
  readonly functions: RustFunctions;

  constructor(scope: Construct, id: string, props: SuiteStackProps) {
    super(scope, id, props);
    const { stage } = props;
    const params = deploymentParameters(this);
    const prefix = parameterPrefix(stage);

    const registry = new Registry(this, 'Registry', stage);
    const mail = new Mail(this, 'Mail', {
      mailFrom: params.mailFrom,
      mailDomain: params.mailDomain,
      hostedZoneId: params.mailHostedZoneId,
    });
    this.functions = new RustFunctions(this, 'Functions', {
      stage,
      params,
      registry,
      mail,
      migrationMaxConcurrency: MIGRATION_MAX_CONCURRENCY,
    });
    const fn = (name: string) => {
      const found = this.functions.byName.get(name);
      if (!found) throw new Error(`the stack needs functions/${name}`);
      return found;
    };
    new Triggers(this, 'Triggers', this.functions, prefix);
    const adminApi = new AdminApi(this, 'AdminApi', {
      stage,
      handler: fn('admin-api'),
      adminUiOrigin: params.adminUiOrigin,
    });
    const router = new RouterSite(this, 'Router', { stage, handler: fn('auth-router'), params });
    const scim = new ScimApi(this, 'Scim', {
      stage,
      handler: fn('scim'),
      domain: router.wildcardDomain,
    });
    const migration = new Migration(this, 'Migration', { stage, worker: fn('tenant-migration') });
    new Monitoring(this, 'Monitoring', {
      stage,
      alarmTopicArn: params.alarmTopicArn,
      functions: this.functions,
      apis: { AdminApi: adminApi.http, Router: router.http, Scim: scim.http },
      migration: migration.stateMachine,
    });

    // The rest of an operator's `tenantctl` environment, beside the trigger ARNs: with
    // `aws ssm get-parameters-by-path --path /org-signin/<stage>` it runs against this stack.
    const published: Record<string, string> = {
      TABLE_NAME: registry.table.tableName,
      BASE_DOMAIN: params.baseDomain,
      MAIL_FROM: params.mailFrom,
      SES_CONFIGURATION_SET: mail.configurationSet.configurationSetName,
      MIGRATION_STATE_MACHINE_ARN: migration.stateMachine.stateMachineArn,
      MIGRATION_BUCKET: migration.bucket.bucketName,
    };
    for (const [name, value] of Object.entries(published)) {
      new ssm.StringParameter(this, `Setting${name}`, {
        parameterName: `${prefix}/${name}`,
        stringValue: value,
      });
    }

    new CfnOutput(this, 'SettingsPath', {
      value: prefix,
      description: "SSM path of tenantctl's environment: the trigger ARNs, TABLE_NAME, BASE_DOMAIN, MAIL_FROM, ...",
    });
    new CfnOutput(this, 'AdminApiUrl', {
      value: adminApi.http.api.url,
      description: "The admin API's base URL (routes under /v1/)",
    });
    new CfnOutput(this, 'LoginUrl', {
      value: Fn.join('', ['https://', params.baseDomain, '/']),
      description: 'The main domain (discovery); organizations sign in at https://<subdomain>.<BaseDomain>/login',
    });
    new CfnOutput(this, 'MigrationStateMachineArn', { value: migration.stateMachine.stateMachineArn });
    new CfnOutput(this, 'WorkerFunctionName', {
      value: fn('tenant-migration').functionName,
      description: 'The tenant-migration Lambda: `aws lambda invoke` it with an event of events/tenant-migration/ to create an organization',
    });
    new CfnOutput(this, 'MigrationBucketName', { value: migration.bucket.bucketName });
    new CfnOutput(this, 'TableName', { value: registry.table.tableName });
  }
}
