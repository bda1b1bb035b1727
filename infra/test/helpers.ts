import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, CfnElement } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { Template } from 'aws-cdk-lib/assertions';
import { createSuite } from '../lib/app';
import { SuiteStack } from '../lib/suite-stack';

/** The app's own context (feature flags) from cdk.json, as the CLI would pass it. */
const CDK_JSON_CONTEXT = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context;

export interface Synthesized {
  readonly app: App;
  readonly stack: SuiteStack;
  readonly template: Template;
  /** The raw template, for the few checks Template's matchers cannot express. */
  readonly json: { Resources: Record<string, { Type: string; Properties?: any; DeletionPolicy?: string; UpdateReplacePolicy?: string; Condition?: string; Metadata?: any }>; Parameters: Record<string, any>; Conditions: Record<string, any>; Outputs: Record<string, any> };
}

/**
 * Synthesizes the app as `cdk synth -c stage=<stage> -c bundling=skip` would: no Rust build
 * (`aws:cdk:bundling-stacks` = []), no AWS account, no network. cdk-nag runs during the
 * synthesis, so an unacknowledged finding fails every test that synthesizes.
 */
export function synth(stage: 'dev' | 'prod', extraContext: Record<string, unknown> = {}): Synthesized {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, stage, bundling: 'skip', ...extraContext } });
  const stack = createSuite(app);
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON() as Synthesized['json'] };
}

export function resourcesOfType(s: Synthesized, type: string): Array<[string, Synthesized['json']['Resources'][string]]> {
  return Object.entries(s.json.Resources).filter(([, r]) => r.Type === type);
}

/** The logical id of the CloudFormation element at a construct path below the stack. */
export function logicalIdAt(s: Synthesized, cdkPath: string): string {
  let node: IConstruct | undefined = s.stack;
  for (const id of cdkPath.split('/')) node = node?.node.tryFindChild(id);
  const element = node && (CfnElement.isCfnElement(node) ? node : node.node.defaultChild);
  if (!element || !CfnElement.isCfnElement(element)) throw new Error(`no CloudFormation element at ${cdkPath}`);
  return s.stack.getLogicalId(element);
}

/**
 * A state machine's definition as JSON: the CloudFormation Fn::Join is joined with each token
 * written as `<<Ref:X>>` / `<<GetAtt:X.Arn>>` so that the definition itself can be inspected.
 */
export function stateMachineDefinition(s: Synthesized): any {
  const [, sm] = resourcesOfType(s, 'AWS::StepFunctions::StateMachine')[0];
  const parts: unknown[] = sm.Properties.DefinitionString['Fn::Join'][1];
  const text = parts
    .map((p) => {
      if (typeof p === 'string') return p;
      const token = p as Record<string, any>;
      if (token.Ref) return `<<Ref:${token.Ref}>>`;
      if (token['Fn::GetAtt']) return `<<GetAtt:${token['Fn::GetAtt'].join('.')}>>`;
      return '<<token>>';
    })
    .join('');
  return JSON.parse(text);
}

/** The repository root: the Cargo workspace. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
