import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { EnvVar, FUNCTIONS } from '../lib/functions';
import { permissionsMarkdown } from '../lib/permissions';
import { REPO_ROOT } from './helpers';

/**
 * The function table (infra/lib/functions.ts) against the Cargo workspace it deploys: every
 * crate under `functions/` has an entry, every entry has its crate (or says which issue
 * brings it), and the names the table relies on are the ones the Rust code uses.
 */

const read = (...parts: string[]) => fs.readFileSync(path.join(REPO_ROOT, ...parts), 'utf8');

function workspaceFunctionCrates(): string[] {
  return fs
    .readdirSync(path.join(REPO_ROOT, 'functions'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(REPO_ROOT, 'functions', d.name, 'Cargo.toml')))
    .map((d) => d.name)
    .sort();
}

/** The binaries a crate builds: its `[[bin]]` names, or the package name without any. */
function binariesOf(crate: string): string[] {
  const manifest = read('functions', crate, 'Cargo.toml');
  const bins = [...manifest.matchAll(/\[\[bin\]\][^[]*?name\s*=\s*"([^"]+)"/g)].map((m) => m[1]);
  if (bins.length) return bins;
  const pkg = /\[package\][^[]*?name\s*=\s*"([^"]+)"/.exec(manifest);
  return pkg ? [pkg[1]] : [];
}

/** Every Rust source file of the shared crate and of one function. */
function rustSources(crate: string): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.rs')) files.push(p);
    }
  };
  walk(path.join(REPO_ROOT, 'shared', 'src'));
  walk(path.join(REPO_ROOT, 'functions', crate, 'src'));
  return files.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
}

/**
 * Variables the stack sets before the code reads them, each with the issue that will read
 * it. Everything else the table sets must be read by the function's code today.
 */
const SET_AHEAD: Partial<Record<EnvVar, string>> = {
  MIGRATION_MAX_CONCURRENCY: "issue 10: each worker's share of the Cognito quotas",
  // Read by lambda_http (request.rs, apigw_path_with_stage), not by our sources.
  AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH: 'lambda_http keeps the REST stage out of the path',
};

describe('the function table', () => {
  it('covers the workspace: functions/* are members', () => {
    assert.match(read('Cargo.toml'), /members\s*=\s*\[[^\]]*"functions\/\*"/);
  });

  it('has an entry for every crate under functions/', () => {
    const names = new Set(FUNCTIONS.map((f) => f.name));
    for (const crate of workspaceFunctionCrates()) {
      assert.ok(names.has(crate), `functions/${crate} has no entry in infra/lib/functions.ts: add one (kind, size, env, permissions)`);
    }
  });

  it('has a crate for every entry, unless it says which issue brings it', () => {
    const crates = new Set(workspaceFunctionCrates());
    for (const spec of FUNCTIONS) {
      if (!crates.has(spec.name)) {
        assert.ok(
          spec.arrivesWith,
          `${spec.name} is in the table but functions/${spec.name} does not exist: remove the entry or say which issue brings it (arrivesWith)`,
        );
      }
    }
  });

  it('names each function once, and a binary its crate builds', () => {
    assert.equal(new Set(FUNCTIONS.map((f) => f.name)).size, FUNCTIONS.length);
    for (const spec of FUNCTIONS.filter((f) => fs.existsSync(path.join(REPO_ROOT, 'functions', f.name)))) {
      const binary = spec.binary ?? spec.name;
      assert.ok(binariesOf(spec.name).includes(binary), `functions/${spec.name} builds no binary '${binary}'`);
    }
  });

  it('publishes exactly the *_ARN variables that provisioning reads', () => {
    const config = read('shared', 'src', 'config.rs');
    const read_by_code = [...config.matchAll(/arn\("([A-Z_]+_ARN)"\)/g)].map((m) => m[1]).sort();
    assert.ok(read_by_code.length >= 7, 'ProvisioningConfig::from_env reads the trigger ARNs');
    const triggers = FUNCTIONS.filter((f) => f.kind === 'trigger');
    assert.deepEqual(triggers.map((t) => t.arnVariable).sort(), read_by_code);
    for (const other of FUNCTIONS.filter((f) => f.kind !== 'trigger')) {
      assert.equal(other.arnVariable, undefined, `${other.name} is not a trigger`);
    }
  });

  it("sets only variables the function's code reads", () => {
    for (const spec of FUNCTIONS.filter((f) => fs.existsSync(path.join(REPO_ROOT, 'functions', f.name)))) {
      const sources = rustSources(spec.name);
      for (const name of spec.env) {
        if (SET_AHEAD[name]) continue;
        const expected = name === 'TRIGGER_ARNS' ? 'PRE_SIGNUP_ARN' : name;
        assert.ok(sources.includes(`"${expected}"`), `${spec.name}: its code never reads ${expected}`);
      }
    }
  });

  it('keeps every trigger inside Cognito\'s 5 s, with room to answer', () => {
    for (const spec of FUNCTIONS.filter((f) => f.kind === 'trigger')) {
      assert.ok(spec.timeoutSeconds < 5, `${spec.name}: ${spec.timeoutSeconds} s`);
      assert.ok(spec.arnVariable, `${spec.name} needs the variable its ARN is published as`);
    }
  });

  it("is what the README's deploy section says each function may do", () => {
    const readme = read('README.md');
    const start = readme.indexOf('<!-- permissions:begin');
    const end = readme.indexOf('<!-- permissions:end -->');
    assert.ok(start >= 0 && end > start, 'README.md has the permissions list between its markers');
    const listed = readme.slice(readme.indexOf('\n', start) + 1, end).trim();
    assert.equal(listed, permissionsMarkdown(), 'README.md: paste the output of `npm run permissions` (in infra/) between the markers');
  });

  it('grants Cognito actions by their API names', () => {
    for (const spec of FUNCTIONS) {
      for (const action of spec.poolActions ?? []) {
        assert.match(action, /^[A-Z][A-Za-z]+$/, `${spec.name}: ${action}`);
      }
    }
  });
});
