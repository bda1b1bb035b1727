import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, Arn, ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { EnvVar, FUNCTIONS, FunctionSpec } from './functions';
import { Mail } from './mail';
import { DeploymentParameters } from './parameters';
import { ORGANIZATIONS_INDEX, Registry } from './registry';
import { StageSettings } from './stage';

/** The Cargo workspace this app deploys: the repository's root. */
export const WORKSPACE_ROOT = path.resolve(__dirname, '..', '..');

/** Whether the workspace has the function's crate. */
export function crateExists(spec: FunctionSpec): boolean {
  return fs.existsSync(path.join(WORKSPACE_ROOT, 'functions', spec.name, 'Cargo.toml'));
}

/** The identity providers' secrets: what the settings do with them (shared::aws::secrets). */
export const SECRET_ACTIONS = ['CreateSecret', 'PutSecretValue', 'GetSecretValue', 'DeleteSecret'] as const;

export interface RustFunctionsProps {
  readonly stage: StageSettings;
  readonly params: DeploymentParameters;
  readonly registry: Registry;
  readonly mail: Mail;
  /** The migration map's MaxConcurrency (MIGRATION_MAX_CONCURRENCY). */
  readonly migrationMaxConcurrency: number;
}

/**
 * One RustFunction (cargo-lambda-cdk; arm64, provided.al2023) per entry of the function table
 * whose crate exists, each with its own log group (JSON, retention by stage) and its own role
 * holding exactly the table's permissions, nothing from AWS managed policies.
 */
export class RustFunctions extends Construct {
  /** By crate name; only the deployed ones. */
  readonly byName = new Map<string, lambda.Function>();
  readonly specs: FunctionSpec[] = [];
  readonly logGroups = new Map<string, logs.LogGroup>();

  constructor(scope: Construct, id: string, props: RustFunctionsProps) {
    super(scope, id);
    for (const spec of FUNCTIONS) {
      if (!crateExists(spec)) {
        if (!spec.arrivesWith) {
          throw new Error(
            `functions/${spec.name} is in the function table (infra/lib/functions.ts) but not in the workspace: remove the entry or add the crate`,
          );
        }
        Annotations.of(this).addInfo(
          `${spec.name} is not deployed: functions/${spec.name} is not in the workspace yet (it arrives with ${spec.arrivesWith})`,
        );
        continue;
      }
      this.specs.push(spec);
    }
    // Triggers first: the worker's environment names them.
    const ordered = [...this.specs].sort((a, b) => Number(b.kind === 'trigger') - Number(a.kind === 'trigger'));
    for (const spec of ordered) {
      this.byName.set(spec.name, this.create(spec, props));
    }
  }

  private create(spec: FunctionSpec, props: RustFunctionsProps): lambda.Function {
    const scope = new Construct(this, spec.name);
    const logGroup = new logs.LogGroup(scope, 'Logs', {
      retention: props.stage.logRetention,
      removalPolicy: props.stage.logRemoval,
    });
    this.logGroups.set(spec.name, logGroup);
    const role = new iam.Role(scope, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${spec.name}: only the calls its code makes`,
    });
    logGroup.grantWrite(role);

    const fn = new RustFunction(scope, 'Function', {
      manifestPath: path.join(WORKSPACE_ROOT, 'Cargo.toml'),
      binaryName: spec.binary ?? spec.name,
      architecture: lambda.Architecture.ARM_64,
      runtime: 'provided.al2023',
      description: spec.description,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      // INFO in every stage: the runtime passes AWS_LAMBDA_LOG_LEVEL to every crate, and the
      // AWS SDK's DEBUG lines would flood the logs with request details.
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      environment: this.environment(spec, props),
    });

    this.grant(spec, role, props);
    return fn;
  }

  private environment(spec: FunctionSpec, props: RustFunctionsProps): Record<string, string> {
    const env: Record<string, string> = {};
    const values: Record<Exclude<EnvVar, 'TRIGGER_ARNS'>, () => string> = {
      TABLE_NAME: () => props.registry.table.tableName,
      BASE_DOMAIN: () => props.params.baseDomain,
      MAIL_FROM: () => props.params.mailFrom,
      SES_CONFIGURATION_SET: () => props.mail.configurationSet.configurationSetName,
      PRODUCT_NAME: () => props.params.productName,
      MIGRATION_MAX_CONCURRENCY: () => String(props.migrationMaxConcurrency),
      ADMIN_UI_ORIGIN: () => props.params.adminUiOrigin,
      AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH: () => 'true',
    };
    for (const name of spec.env) {
      if (name === 'TRIGGER_ARNS') {
        for (const trigger of FUNCTIONS.filter((s) => s.kind === 'trigger')) {
          const fn = this.byName.get(trigger.name);
          if (fn) {
            env[trigger.arnVariable!] = fn.functionArn;
          } else {
            Annotations.of(this).addWarningV2(
              'org-signin:trigger-not-deployed',
              `${spec.name} gets no ${trigger.arnVariable}: ${trigger.name} is not deployed yet, and organizations cannot be provisioned until it is`,
            );
          }
        }
      } else {
        env[name] = values[name]();
      }
    }
    return env;
  }

  private grant(spec: FunctionSpec, role: iam.Role, props: RustFunctionsProps): void {
    const stack = Stack.of(this);
    const table = props.registry.table;
    role.addToPolicy(
      new iam.PolicyStatement({ actions: spec.registry.map((a) => `dynamodb:${a}`), resources: [table.tableArn] }),
    );
    if (spec.listsOrganizations) {
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: [`${table.tableArn}/index/${ORGANIZATIONS_INDEX}`],
        }),
      );
    }
    if (spec.poolActions?.length) {
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: spec.poolActions.map((a) => `cognito-idp:${a}`),
          resources: [organizationPools(stack)],
          // Only the organizations' pools: `tenantctl`/the worker tag every pool they create
          // with `org-id` (CognitoPools::create_pool).
          conditions: { Null: { 'aws:ResourceTag/org-id': 'false' } },
        }),
      );
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cognito-idp:<AWS::Region>:<AWS::AccountId>:userpool/*]',
        reason:
          "The organizations' user pools are created at run time, one per organization, so no ARN can be named here; the statement holds only the actions this function calls and only on pools tagged org-id",
      });
    }
    if (spec.createsPools) {
      role.addToPolicy(
        new iam.PolicyStatement({
          // CreateUserPool with tags needs TagResource as well (a dependent action in the
          // Service Authorization Reference). A pool may be created, and tagged, only with the
          // tags the statement above requires.
          actions: ['cognito-idp:CreateUserPool', 'cognito-idp:TagResource'],
          resources: ['*'],
          conditions: {
            Null: { 'aws:RequestTag/org-id': 'false' },
            StringEquals: { 'aws:RequestTag/managed-by': 'tenantctl' },
          },
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          // Finds a pool an interrupted run created (find_pool_by_name).
          actions: ['cognito-idp:ListUserPools'],
          resources: ['*'],
        }),
      );
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'CreateUserPool and ListUserPools act on no existing pool, so IAM accepts only "*" for them (and for the TagResource CreateUserPool needs to tag the new pool); CreateUserPool and TagResource are allowed only with the org-id and managed-by=tenantctl tags that every other pool permission requires',
      });
    }
    if (spec.sendsMail) {
      props.mail.grantSend(role);
    }
    if (spec.providerSecrets) {
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: SECRET_ACTIONS.map((a) => `secretsmanager:${a}`),
          // Only the suite's own names (Secrets Manager appends a random suffix to the ARN).
          resources: [
            Arn.format(
              { service: 'secretsmanager', resource: 'secret', resourceName: 'signin/*', arnFormat: ArnFormat.COLON_RESOURCE_NAME },
              stack,
            ),
          ],
        }),
      );
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:signin/*]',
        reason:
          "Each organization's identity-provider secrets are created at run time under signin/<org id>/<provider>: no ARN can be named here; the statement holds only those names and the four actions the settings call",
      });
    }
  }
}

/** Every user pool of this account and Region (the organizations' pools are made at run time). */
export function organizationPools(stack: Stack): string {
  return Arn.format(
    { service: 'cognito-idp', resource: 'userpool', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME },
    stack,
  );
}
