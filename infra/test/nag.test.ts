import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NagPack } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { synth } from './helpers';

/**
 * cdk-nag's AwsSolutions pack on both stages: no finding left unacknowledged, every
 * acknowledgment written with its reason, and none of them stale (each one silences a finding
 * that the pack really raises, on the construct it is attached to).
 */

interface Acknowledgment {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

function acknowledgmentsIn(scope: IConstruct): Acknowledgment[] {
  return scope.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          // Stored as `Annotation::<rule id>` when no plugin namespace is given.
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/** Runs the pack and records which acknowledgment silenced which finding. */
function runPack(scope: IConstruct) {
  const used = new Set<string>();
  const proto = NagPack.prototype as unknown as { isAcknowledged(resource: IConstruct, ruleId: string): boolean };
  const original = proto.isAcknowledged;
  proto.isAcknowledged = function (resource: IConstruct, ruleId: string) {
    const acknowledged = original.call(this, resource, ruleId);
    if (acknowledged) {
      for (let c: IConstruct | undefined = resource; c; c = c.node.scope) used.add(`${c.node.path}|${ruleId}`);
    }
    return acknowledged;
  };
  try {
    const report = new AwsSolutionsChecks().validateScope(scope);
    return { report, used };
  } finally {
    proto.isAcknowledged = original;
  }
}

for (const stage of ['dev', 'prod'] as const) {
  describe(`cdk-nag AwsSolutions on ${stage}`, () => {
    const { stack } = synth(stage);
    const { report, used } = runPack(stack);
    const acknowledgments = acknowledgmentsIn(stack);

    it('leaves no finding unacknowledged', () => {
      const open = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.locations?.join(', ') ?? r.resourceLogicalId}`));
      assert.deepEqual(open, []);
    });

    it('gives a reason for every acknowledgment', () => {
      assert.ok(acknowledgments.length > 0);
      for (const a of acknowledgments) {
        assert.ok(a.reason.trim().length >= 40, `${a.id} on ${a.path}: say why in a sentence`);
      }
    });

    it('has no stale acknowledgment: each silences a real finding', () => {
      for (const a of acknowledgments) {
        assert.ok(used.has(`${a.path}|${a.id}`), `${a.id} on ${a.path} silences nothing: remove it`);
      }
    });
  });
}
