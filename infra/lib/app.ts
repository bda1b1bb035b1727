import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { stageSettings } from './stage';
import { SuiteStack } from './suite-stack';

/**
 * The app: one stack for the stage chosen with `-c stage=dev|prod` (default dev), checked by
 * cdk-nag's AwsSolutions pack during synthesis (an unacknowledged finding stops it; every
 * acknowledgment carries its reason, also written into the template's metadata).
 *
 * `-c bundling=skip` synthesizes without building the Rust functions (tests, cfn-lint, and
 * machines that cannot build arm64); a deployment always builds them.
 */
export function createSuite(app: App): SuiteStack {
  if (app.node.tryGetContext('bundling') === 'skip') {
    app.node.setContext('aws:cdk:bundling-stacks', []);
  }
  const stage = stageSettings(app.node.tryGetContext('stage'));
  const stack = new SuiteStack(app, `OrgSignin-${stage.name}`, {
    stage,
    description: `Organization sign-in on Amazon Cognito (${stage.name}): triggers, router, admin API, migration`,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
  return stack;
}
