import { CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { StageSettings } from './stage';

/**
 * How many organizations migrate at once: the Distributed Map's MaxConcurrency, also given
 * to the worker as MIGRATION_MAX_CONCURRENCY so that each worker takes 1/5 of every Cognito
 * quota (issue 10: "derive each worker's share from the map's MaxConcurrency").
 *
 * The arithmetic, with Cognito's default request-rate quotas (per account and Region, shared
 * by every pool; Cognito developer guide, "Quotas"):
 * - Migrating an organization is Cognito-bound, not CPU-bound. Its pool costs about six calls
 *   in the 15 RPS categories (CreateUserPool and SetUserPoolMfaConfig in UserPoolUpdate,
 *   CreateGroup x2 in UserPoolResourceUpdate, CreateUserPoolClient in UserPoolClientUpdate,
 *   CreateUserPoolDomain, DescribeUserPool in UserPoolRead), and those categories also allow
 *   only 5 RPS per pool: one worker on one organization can never use more than a third of
 *   them. Three workers are the fewest that can reach 15 RPS; five leave room for the time
 *   each one spends on DynamoDB and in back-off.
 * - Its people cost one AdminCreateUser each (UserCreation, 50 RPS) and one
 *   AdminAddUserToGroup per role (UserResourceUpdate, 25 RPS). With the worker's defaults a
 *   little under the quotas (48 and 24 RPS, leaving the rest to live sign-ups and admins)
 *   each of 5 workers gets 4.8 group additions/s, the binding one with a role a person: a
 *   5,000-person organization in invite mode takes about 17 minutes, two invocations (the
 *   first answers `finished: false` and the map calls it again). More workers would add no throughput
 *   (the quota is the ceiling, not the workers) and would make each organization slower, so
 *   more of them would need a second invocation; fewer would leave the pool categories idle.
 * - 1,000 organizations (the default pool quota per account) x ~6 pool calls / 15 RPS: about
 *   7 minutes of pool creation in all; 100,000 invited people with one role each / 24 RPS:
 *   about 70 minutes.
 */
export const MIGRATION_MAX_CONCURRENCY = 5;

/** The worker's answer says whether the organization is finished (`finished: false` = resume). */
export const MIGRATION_ITEM_ACTION = 'migrate_organization';

export interface MigrationProps {
  readonly stage: StageSettings;
  readonly worker: lambda.IFunction;
}

/**
 * The migration state machine: a Distributed Map over a job's organizations, read from a
 * manifest in the migration bucket, each run by the `tenant-migration` Lambda, the report
 * (every organization's result or error) written back to the bucket at the end.
 *
 * Input: `{"job": "<job id>", "manifest_key": "jobs/<job id>/organizations.json"}`, the
 * manifest a JSON array of the legacy organizations (tenantctl writes both). Each item
 * reaches the worker as `{"action": "migrate_organization", "job": ..., "organization":
 * <item>}`.
 */
export class Migration extends Construct {
  readonly bucket: s3.Bucket;
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: MigrationProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: props.stage.dataRemoval,
      lifecycleRules: [
        // Manifests and reports are kept as long as the audit log (400 days).
        { expiration: Duration.days(400), abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Only operators (tenantctl, with their IAM identity) and this state machine use the bucket, and CloudTrail records both; server access logs would need a second bucket for a handful of objects per job',
    });

    const migrateOrganization = new tasks.LambdaInvoke(this, 'MigrateOrganization', {
      lambdaFunction: props.worker,
      payload: sfn.TaskInput.fromObject({
        action: sfn.JsonPath.stringAt('$.action'),
        job: sfn.JsonPath.stringAt('$.job'),
        organization: sfn.JsonPath.objectAt('$.organization'),
      }),
      payloadResponseOnly: true,
      resultPath: '$.result',
      // Lambda's own transient errors (ServiceException, SdkClientException, ...) are retried
      // by default; these are the ones it adds.
      retryOnServiceExceptions: true,
    });
    migrateOrganization.addRetry({
      // Lambda throttled the invocation (account concurrency): wait and try again.
      errors: ['Lambda.TooManyRequestsException'],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 6,
      jitterStrategy: sfn.JitterType.FULL,
    });
    migrateOrganization.addRetry({
      // The worker's transient failures (its errorType is the domain error's code): AWS
      // unreachable or failing, another run holding the organization's lease, a record
      // changed by someone else meanwhile, or the invocation timing out or dying (a timeout or
      // an out-of-memory reaches Step Functions as Lambda.Unknown: "Handle Lambda service
      // exceptions" in the Step Functions developer guide); every step is checkpointed, so a
      // retry resumes.
      errors: ['Unreachable', 'AwsError', 'InProgress', 'Conflict', 'Sandbox.Timedout', 'Lambda.Unknown'],
      interval: Duration.seconds(30),
      backoffRate: 2,
      maxAttempts: 3,
      jitterStrategy: sfn.JitterType.FULL,
    });
    const finished = new sfn.Succeed(this, 'OrganizationDone');
    const moreToDo = new sfn.Choice(this, 'MoreToDo')
      .when(
        sfn.Condition.and(
          sfn.Condition.isPresent('$.result.finished'),
          sfn.Condition.booleanEquals('$.result.finished', false),
        ),
        migrateOrganization,
      )
      .otherwise(finished);

    const organizations = new sfn.DistributedMap(this, 'Organizations', {
      itemReader: new sfn.S3JsonItemReader({
        bucket: this.bucket,
        key: sfn.JsonPath.stringAt('$.manifest_key'),
      }),
      itemSelector: {
        action: MIGRATION_ITEM_ACTION,
        job: sfn.JsonPath.stringAt('$.job'),
        organization: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
      },
      maxConcurrency: MIGRATION_MAX_CONCURRENCY,
      // No ItemBatcher: one organization per child execution. The organization is the unit of
      // checkpoint, retry and report; a batch would fail its other organizations with one, and
      // a batch of large ones would not fit in one invocation. The cost of one execution per
      // organization is a few state transitions, nothing next to its Cognito work.
      //
      // Every organization failure is tolerated: one organization never stops the others
      // (issue 10). Each failure is in the report, counted by the worker's error alarm, and
      // retried with `tenantctl migrate resume`.
      toleratedFailurePercentage: 100,
      // Children may run longer than the 5 minutes of an express execution.
      mapExecutionType: sfn.StateMachineType.STANDARD,
      resultWriterV2: new sfn.ResultWriterV2({
        bucket: this.bucket,
        prefix: 'reports',
        writerConfig: new sfn.WriterConfig({
          outputType: sfn.OutputType.JSON,
          transformation: sfn.Transformation.NONE,
        }),
      }),
      resultPath: '$.report',
    });
    organizations.itemProcessor(migrateOrganization.next(moreToDo));

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.stage.logRetention,
      removalPolicy: props.stage.logRemoval,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(organizations),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.hours(24),
      tracingEnabled: true,
      logs: {
        destination: this.logGroup,
        level: sfn.LogLevel.ALL,
        // Organizations' names and addresses stay out of the logs; the report has them.
        includeExecutionData: false,
      },
    });
    const stack = Stack.of(this);
    const logicalId = (c: Construct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
    const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalId(this.stateMachine)}"}]}]}`;
    Validations.of(this.stateMachine).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray tracing (AwsSolutions-SF2): PutTraceSegments and PutTelemetryRecords accept no resource but "*"',
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${logicalId(props.worker)}.Arn>:*]`,
        reason: 'Invoking the worker includes its versions and aliases (the LambdaInvoke task grants both forms of its ARN); it is the one function named',
      },
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<${logicalId(this.bucket)}>/*]`,
        reason: "The map reads the job's manifest and writes its report: object keys are per job, inside the one migration bucket",
      },
      {
        id: `AwsSolutions-IAM5[Resource::${executions}:*]`,
        reason: "A Distributed Map starts its child executions under this state machine's own executions, whose names are made at run time",
      },
      {
        id: `AwsSolutions-IAM5[Resource::${executions}/*:*]`,
        reason: "The map run's child executions (described and stopped by the map), named at run time under this state machine",
      },
    );
  }
}
