import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { LambdaRestApi } from './rest-api';
import { RustFunctions } from './rust-functions';
import { StageSettings } from './stage';

/** The metrics this stack derives from the functions' logs live in `OrgSignin/<stage>`. */
export const METRIC_NAMESPACE_PREFIX = 'OrgSignin';

export interface MonitoringProps {
  readonly stage: StageSettings;
  readonly alarmTopicArn: string;
  readonly functions: RustFunctions;
  readonly apis: Record<string, LambdaRestApi>;
  readonly migration: sfn.StateMachine;
}

/**
 * Alarms, all to the operators' SNS topic:
 * - every function: errors its code logs (`level` ERROR in its JSON logs). A trigger refuses
 *   by returning an error, so Lambda's `Errors` metric counts every refused sign-in there;
 *   the code logs refusals as warnings and failures as errors (`shared::trigger::serve`), so
 *   the logged errors are what needs a person;
 * - the HTTP functions and the worker also on Lambda's `Errors` (for them a crash or a
 *   timeout, never an answer);
 * - every function: throttled invocations (the account's concurrency ran out);
 * - each HTTP API: 5xx answers;
 * - the migration state machine: failed, timed-out or aborted executions;
 * - SES: the account's bounce rate nearing the level at which SES reviews the account.
 */
export class Monitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const topic = sns.Topic.fromTopicArn(this, 'Topic', props.alarmTopicArn);
    const notify = new actions.SnsAction(topic);
    const period = props.stage.alarmPeriod;
    const namespace = `${METRIC_NAMESPACE_PREFIX}/${props.stage.name}`;
    const add = (name: string, alarm: cloudwatch.AlarmProps) => {
      const created = new cloudwatch.Alarm(this, name, {
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...alarm,
      });
      created.addAlarmAction(notify);
      created.addOkAction(notify);
      this.alarms.push(created);
    };

    for (const spec of props.functions.specs) {
      const fn = props.functions.byName.get(spec.name)!;
      const logGroup = props.functions.logGroups.get(spec.name)!;
      const loggedErrors = new logs.MetricFilter(this, `${spec.name}LoggedErrorsFilter`, {
        logGroup,
        filterPattern: logs.FilterPattern.stringValue('$.level', '=', 'ERROR'),
        metricNamespace: namespace,
        metricName: `${spec.name}-LoggedErrors`,
        metricValue: '1',
        unit: cloudwatch.Unit.COUNT,
      });
      add(`${spec.name}LoggedErrors`, {
        alarmDescription: `${spec.name} logged an error: see its log group`,
        metric: loggedErrors.metric({ statistic: cloudwatch.Stats.SUM, period }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
      if (spec.kind !== 'trigger') {
        add(`${spec.name}Errors`, {
          alarmDescription: `${spec.name} failed an invocation (crash or timeout)`,
          metric: fn.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        });
      }
      add(`${spec.name}Throttles`, {
        alarmDescription: `${spec.name} was throttled: the account's Lambda concurrency ran out`,
        metric: fn.metricThrottles({ period, statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    }

    for (const [name, api] of Object.entries(props.apis)) {
      add(`${name}ServerErrors`, {
        alarmDescription: `${name} answered 5xx: see the function's logs and the API's access logs`,
        metric: api.api.metricServerError({ period, statistic: cloudwatch.Stats.SUM }),
        threshold: 5,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    }

    const sm = props.migration;
    const failures = new cloudwatch.MathExpression({
      expression: 'failed + timedOut + aborted',
      usingMetrics: {
        failed: sm.metricFailed({ period, statistic: cloudwatch.Stats.SUM }),
        timedOut: sm.metricTimedOut({ period, statistic: cloudwatch.Stats.SUM }),
        aborted: sm.metricAborted({ period, statistic: cloudwatch.Stats.SUM }),
      },
      period,
      label: 'Migration executions that did not succeed',
    });
    add('MigrationFailed', {
      alarmDescription: 'A migration execution failed, timed out or was aborted: see its map run and report',
      metric: failures,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    add('SesBounceRate', {
      alarmDescription: "SES bounce rate above 5% (SES reviews accounts at 5% and may pause sending at 10%)",
      metric: new cloudwatch.Metric({
        namespace: 'AWS/SES',
        metricName: 'Reputation.BounceRate',
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.hours(1),
      }),
      threshold: 0.05,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
  }
}
