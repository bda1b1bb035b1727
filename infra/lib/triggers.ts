import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { organizationPools, RustFunctions } from './rust-functions';

/**
 * The Cognito triggers of every organization's pool. The pools are created at run time by
 * `tenantctl org create` and the migration worker, so nothing here names a pool: each trigger
 * may be invoked by Cognito for any user pool of this account and Region (`SourceAccount`
 * plus a `SourceArn` pattern), and by nothing else. Their ARNs are published as SSM
 * parameters named after the variables the code reads (`PRE_SIGNUP_ARN`, ...), under
 * `<prefix>/`, so that an operator's `tenantctl` can be given the same values the worker has.
 */
export class Triggers extends Construct {
  readonly parameters: ssm.StringParameter[] = [];

  constructor(scope: Construct, id: string, functions: RustFunctions, parameterPrefix: string) {
    super(scope, id);
    const stack = Stack.of(this);
    for (const spec of functions.specs.filter((s) => s.kind === 'trigger')) {
      const fn = functions.byName.get(spec.name)!;
      fn.addPermission('InvokedByThisAccountsUserPools', {
        principal: new iam.ServicePrincipal('cognito-idp.amazonaws.com'),
        action: 'lambda:InvokeFunction',
        sourceAccount: stack.account,
        sourceArn: organizationPools(stack),
      });
      this.parameters.push(
        new ssm.StringParameter(this, spec.arnVariable!, {
          parameterName: `${parameterPrefix}/${spec.arnVariable}`,
          stringValue: fn.functionArn,
          description: `${spec.name}: attached to every new organization's user pool`,
        }),
      );
    }
  }
}
