import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { FUNCTIONS, FunctionSpec } from '../lib/functions';
import { MIGRATION_ITEM_ACTION, MIGRATION_MAX_CONCURRENCY } from '../lib/migration';
import { crateExists } from '../lib/rust-functions';
import { createSuite } from '../lib/app';
import { App } from 'aws-cdk-lib';
import { logicalIdAt, resourcesOfType, stateMachineDefinition, synth, Synthesized } from './helpers';

/**
 * Template assertions on the synthesized stack of each stage (no Rust build, no AWS account).
 * Each `describe` is one concern of issue 12.
 */

const deployed = FUNCTIONS.filter((f) => crateExists(f));
const fnId = (s: Synthesized, spec: FunctionSpec) => logicalIdAt(s, `Functions/${spec.name}/Function/Resource`);
const roleId = (s: Synthesized, spec: FunctionSpec) => logicalIdAt(s, `Functions/${spec.name}/Role/Resource`);
const fnArn = (s: Synthesized, spec: FunctionSpec) => ({ 'Fn::GetAtt': [fnId(s, spec), 'Arn'] });
const poolsArn = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cognito-idp:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':userpool/*']],
};

/** Every statement of a role's policies. */
function statementsOf(s: Synthesized, role: string): any[] {
  return resourcesOfType(s, 'AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === role))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}
const actionsOf = (statement: any): string[] => [statement.Action].flat();

let dev: Synthesized;
let prod: Synthesized;
before(() => {
  dev = synth('dev');
  prod = synth('prod');
});

describe('stages', () => {
  it('are chosen by context and named in the stack', () => {
    assert.equal(dev.stack.stackName, 'OrgSignin-dev');
    assert.equal(prod.stack.stackName, 'OrgSignin-prod');
  });

  it('refuse an unknown stage', () => {
    assert.throws(() => createSuite(new App({ context: { stage: 'staging', bundling: 'skip' } })), /unknown stage 'staging'/);
  });

  it('take every deployment value as a parameter, nothing looked up', () => {
    for (const name of ['BaseDomain', 'HostedZoneId', 'CertificateArn', 'MailFrom', 'MailHostedZoneId', 'AdminUiOrigin', 'AlarmTopicArn', 'ProductName']) {
      assert.ok(dev.json.Parameters[name], name);
    }
    assert.equal(dev.json.Parameters.HostedZoneId.Type, 'AWS::Route53::HostedZone::Id');
    // No context lookups were needed to synthesize (none recorded as missing).
    assert.deepEqual(dev.app.synth().manifest.missing ?? [], []);
  });

  it('keep user data in prod whatever happens to the stack', () => {
    for (const type of ['AWS::DynamoDB::GlobalTable', 'AWS::S3::Bucket', 'AWS::Logs::LogGroup']) {
      for (const [id, r] of resourcesOfType(prod, type)) {
        assert.equal(r.DeletionPolicy, 'Retain', `${id} in prod`);
        assert.equal(r.UpdateReplacePolicy, 'Retain', `${id} in prod`);
      }
    }
    prod.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: true })],
    });
  });

  it('let a dev stage be torn down', () => {
    for (const [id, r] of resourcesOfType(dev, 'AWS::DynamoDB::GlobalTable')) {
      assert.equal(r.DeletionPolicy, 'Delete', id);
    }
    dev.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })],
    });
  });

  it('contain no custom resources and no function but ours', () => {
    assert.deepEqual(
      Object.values(dev.json.Resources).filter((r) => r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource'),
      [],
    );
    dev.template.resourceCountIs('AWS::Lambda::Function', deployed.length);
  });
});

describe('functions', () => {
  it('one RustFunction per crate of the table: arm64, provided.al2023, JSON logs', () => {
    for (const spec of deployed) {
      const fn = dev.json.Resources[fnId(dev, spec)];
      assert.equal(fn.Properties.Runtime, 'provided.al2023', spec.name);
      assert.deepEqual(fn.Properties.Architectures, ['arm64'], spec.name);
      assert.equal(fn.Properties.Handler, 'bootstrap', spec.name);
      assert.equal(fn.Properties.MemorySize, spec.memoryMb, spec.name);
      assert.equal(fn.Properties.Timeout, spec.timeoutSeconds, spec.name);
      assert.equal(fn.Properties.LoggingConfig.LogFormat, 'JSON', spec.name);
      assert.equal(fn.Properties.LoggingConfig.ApplicationLogLevel, 'INFO', spec.name);
      assert.deepEqual(fn.Properties.LoggingConfig.LogGroup, { Ref: logicalIdAt(dev, `Functions/${spec.name}/Logs/Resource`) });
      assert.match(fn.Properties.Code.S3Key, /^[0-9a-f]{64}\.zip$/, `${spec.name} is an asset (cargo-lambda-cdk's package)`);
    }
  });

  it('triggers stop well before Cognito gives up (5 s)', () => {
    for (const spec of deployed.filter((f) => f.kind === 'trigger')) {
      assert.ok(dev.json.Resources[fnId(dev, spec)].Properties.Timeout <= 4, spec.name);
    }
  });

  it('log groups keep logs by stage: two weeks in dev, a year in prod', () => {
    for (const spec of deployed) {
      assert.equal(dev.json.Resources[logicalIdAt(dev, `Functions/${spec.name}/Logs/Resource`)].Properties.RetentionInDays, 14);
      assert.equal(prod.json.Resources[logicalIdAt(prod, `Functions/${spec.name}/Logs/Resource`)].Properties.RetentionInDays, 365);
    }
    for (const [id, r] of resourcesOfType(prod, 'AWS::Logs::LogGroup')) {
      assert.ok(r.Properties.RetentionInDays, `${id} has a retention`);
    }
  });

  it('get the environment their code reads', () => {
    const table = { Ref: logicalIdAt(dev, 'Registry/Table/Resource') };
    const configurationSet = { Ref: logicalIdAt(dev, 'Mail/ConfigurationSet/Resource') };
    for (const spec of deployed) {
      const env = dev.json.Resources[fnId(dev, spec)].Properties.Environment.Variables;
      assert.deepEqual(env.TABLE_NAME, table, spec.name);
      assert.deepEqual(env.BASE_DOMAIN, { Ref: 'BaseDomain' }, spec.name);
      if (spec.env.includes('MAIL_FROM')) assert.deepEqual(env.MAIL_FROM, { Ref: 'MailFrom' });
      if (spec.env.includes('SES_CONFIGURATION_SET')) assert.deepEqual(env.SES_CONFIGURATION_SET, configurationSet);
      const expected = new Set<string>(spec.env.filter((e) => e !== 'TRIGGER_ARNS'));
      if (spec.env.includes('TRIGGER_ARNS')) {
        for (const t of deployed.filter((f) => f.kind === 'trigger')) expected.add(t.arnVariable!);
      }
      assert.deepEqual(new Set(Object.keys(env)), expected, spec.name);
    }
  });

  it("give the worker every deployed trigger's ARN, and the map's concurrency", () => {
    const worker = FUNCTIONS.find((f) => f.name === 'tenant-migration')!;
    const env = dev.json.Resources[fnId(dev, worker)].Properties.Environment.Variables;
    for (const t of deployed.filter((f) => f.kind === 'trigger')) {
      assert.deepEqual(env[t.arnVariable!], fnArn(dev, t));
    }
    assert.equal(env.MIGRATION_MAX_CONCURRENCY, String(MIGRATION_MAX_CONCURRENCY));
  });

  it('skip a function whose crate has not arrived yet, and say so', () => {
    for (const spec of FUNCTIONS.filter((f) => !crateExists(f))) {
      assert.ok(spec.arrivesWith);
      const notes = dev.stack.node.findAll().flatMap((c) => c.node.metadata.map((m) => String(m.data)));
      assert.ok(notes.some((n) => n.includes(`${spec.name} is not deployed`)), `a note for ${spec.name}`);
      assert.throws(() => logicalIdAt(dev, `Functions/${spec.name}/Function/Resource`));
    }
  });
});

describe('least-privilege roles', () => {
  it('one role per function, no AWS managed policy, only its own log group', () => {
    for (const spec of deployed) {
      const role = dev.json.Resources[roleId(dev, spec)];
      assert.equal(role.Properties.ManagedPolicyArns, undefined, spec.name);
      const logs = statementsOf(dev, roleId(dev, spec)).filter((st) => actionsOf(st).some((a) => a.startsWith('logs:')));
      assert.deepEqual(logs, [
        {
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [logicalIdAt(dev, `Functions/${spec.name}/Logs/Resource`), 'Arn'] },
        },
      ]);
    }
  });

  it('DynamoDB: the registry only, the item actions the table entry names, never Scan or a wildcard', () => {
    const table = { 'Fn::GetAtt': [logicalIdAt(dev, 'Registry/Table/Resource'), 'Arn'] };
    for (const spec of deployed) {
      const statements = statementsOf(dev, roleId(dev, spec)).filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')));
      const onTable = statements.filter((st) => JSON.stringify(st.Resource) === JSON.stringify(table));
      assert.equal(onTable.length, 1, spec.name);
      assert.deepEqual([...actionsOf(onTable[0])].sort(), spec.registry.map((a) => `dynamodb:${a}`).sort(), spec.name);
      const onIndex = statements.filter((st) => st !== onTable[0]);
      assert.equal(onIndex.length, spec.listsOrganizations ? 1 : 0, spec.name);
      for (const st of statements) assert.ok(!actionsOf(st).some((a) => a.includes('*') || a === 'dynamodb:Scan'));
    }
  });

  it("Cognito: the entry's actions, only on pools tagged org-id", () => {
    for (const spec of deployed) {
      const statements = statementsOf(dev, roleId(dev, spec)).filter((st) => actionsOf(st).some((a) => a.startsWith('cognito-idp:')));
      const onPools = statements.filter((st) => JSON.stringify(st.Resource) === JSON.stringify(poolsArn));
      if (!spec.poolActions?.length) {
        assert.equal(onPools.length, 0, spec.name);
      } else {
        assert.equal(onPools.length, 1, spec.name);
        assert.deepEqual([...actionsOf(onPools[0])].sort(), spec.poolActions.map((a) => `cognito-idp:${a}`).sort(), spec.name);
        assert.deepEqual(onPools[0].Condition, { Null: { 'aws:ResourceTag/org-id': 'false' } }, spec.name);
      }
      const elsewhere = statements.filter((st) => !onPools.includes(st));
      if (spec.createsPools) {
        assert.deepEqual(
          elsewhere.map((st) => [actionsOf(st), st.Resource, st.Condition]),
          [
            [['cognito-idp:CreateUserPool', 'cognito-idp:TagResource'], '*', { Null: { 'aws:RequestTag/org-id': 'false' }, StringEquals: { 'aws:RequestTag/managed-by': 'tenantctl' } }],
            [['cognito-idp:ListUserPools'], '*', undefined],
          ],
        );
      } else {
        assert.deepEqual(elsewhere, [], spec.name);
      }
    }
  });

  it('SES: SendEmail from MAIL_FROM, through our identity and configuration set, for the senders only', () => {
    for (const spec of deployed) {
      const ses = statementsOf(dev, roleId(dev, spec)).filter((st) => actionsOf(st).some((a) => a.startsWith('ses:')));
      if (!spec.sendsMail) {
        assert.deepEqual(ses, [], spec.name);
        continue;
      }
      assert.equal(ses.length, 1, spec.name);
      assert.deepEqual(actionsOf(ses[0]), ['ses:SendEmail']);
      // The code sends MAIL_FROM lower-cased; the parameter may carry capitals.
      assert.deepEqual(ses[0].Condition, { StringEqualsIgnoreCase: { 'ses:FromAddress': { Ref: 'MailFrom' } } });
      const resources = JSON.stringify(ses[0].Resource);
      assert.match(resources, /:identity\//);
      assert.match(resources, /:configuration-set\//);
    }
  });

  it('no other service is granted to a function', () => {
    for (const spec of deployed) {
      for (const st of statementsOf(dev, roleId(dev, spec))) {
        for (const action of actionsOf(st)) {
          const services = spec.providerSecrets ? 'logs|dynamodb|cognito-idp|ses|secretsmanager' : 'logs|dynamodb|cognito-idp|ses';
          assert.match(action, new RegExp(`^(${services}):[A-Z][A-Za-z]+$`), `${spec.name}: ${action}`);
        }
      }
    }
  });

  it('gives only the settings function the secrets, and only under signin/', () => {
    for (const spec of deployed) {
      const secretStatements = statementsOf(dev, roleId(dev, spec)).filter((st) =>
        actionsOf(st).some((a) => a.startsWith('secretsmanager:')),
      );
      if (!spec.providerSecrets) {
        assert.equal(secretStatements.length, 0, spec.name);
        continue;
      }
      assert.equal(secretStatements.length, 1, spec.name);
      assert.deepEqual(
        [...actionsOf(secretStatements[0])].sort(),
        ['secretsmanager:CreateSecret', 'secretsmanager:DeleteSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
      );
      assert.match(JSON.stringify(secretStatements[0].Resource), /secret:signin\/\*/);
    }
    assert.ok(deployed.some((s) => s.name === 'admin-api' && s.providerSecrets));
  });
});

describe('registry table', () => {
  it("has the key schema, index and TTL the code uses (shared/src/aws/dynamodb.rs)", () => {
    dev.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gsi1pk', AttributeType: 'S' },
        { AttributeName: 'gsi1sk', AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: 'gsi1',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('has point-in-time recovery in every stage', () => {
    for (const s of [dev, prod]) {
      s.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      });
    }
  });
});

/** The methods of a REST API, by `<METHOD> <path>`. */
function methodsOf(s: Synthesized, apiPath: string): Map<string, any> {
  const apiId = logicalIdAt(s, apiPath);
  const resources = new Map(resourcesOfType(s, 'AWS::ApiGateway::Resource'));
  const pathOf = (ref: any): string => {
    if (ref['Fn::GetAtt']) return '';
    const r = resources.get(ref.Ref)!;
    return `${pathOf(r.Properties.ParentId)}/${r.Properties.PathPart}`;
  };
  const methods = new Map<string, any>();
  for (const [, m] of resourcesOfType(s, 'AWS::ApiGateway::Method')) {
    if (m.Properties.RestApiId.Ref !== apiId) continue;
    methods.set(`${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId) || '/'}`, m);
  }
  return methods;
}

/** The web ACL associated with an API's stage, and its rules by name. */
function webAclOf(s: Synthesized, construct: string) {
  const association = s.json.Resources[logicalIdAt(s, `${construct}/WebAclAssociation`)];
  assert.deepEqual(association.Properties.WebACLArn, { 'Fn::GetAtt': [logicalIdAt(s, `${construct}/WebAcl`), 'Arn'] });
  const acl = s.json.Resources[logicalIdAt(s, `${construct}/WebAcl`)];
  const rules = new Map<string, any>(acl.Properties.Rules.map((r: any) => [r.Name, r]));
  return { association, acl, rules };
}

describe('admin API', () => {
  it('is a regional REST API with CORS preflights for the admin UI origin only', () => {
    dev.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'], IpAddressType: 'dualstack' },
    });
    const preflight = methodsOf(dev, 'AdminApi/Http/Api/Resource').get('OPTIONS /v1/{proxy+}');
    assert.ok(preflight, 'OPTIONS /v1/{proxy+}');
    const headers = preflight.Properties.Integration.IntegrationResponses[0].ResponseParameters;
    assert.deepEqual(headers['method.response.header.Access-Control-Allow-Origin'], { 'Fn::Join': ['', ["'", { Ref: 'AdminUiOrigin' }, "'"]] });
    for (const h of ['authorization', 'if-match', 'idempotency-key']) {
      assert.ok(headers['method.response.header.Access-Control-Allow-Headers'].includes(h), h);
    }
  });

  it('sends /v1/... to admin-api, with no API Gateway authorizer (the function verifies tokens)', () => {
    const admin = FUNCTIONS.find((f) => f.name === 'admin-api')!;
    const methods = methodsOf(dev, 'AdminApi/Http/Api/Resource');
    assert.deepEqual([...methods.keys()].filter((k) => !k.startsWith('OPTIONS')).sort(), ['ANY /v1/{proxy+}']);
    const method = methods.get('ANY /v1/{proxy+}');
    assert.equal(method.Properties.AuthorizationType, 'NONE');
    assert.equal(method.Properties.Integration.Type, 'AWS_PROXY');
    assert.ok(JSON.stringify(method.Properties.Integration.Uri).includes(fnId(dev, admin)));
    const env = dev.json.Resources[fnId(dev, admin)].Properties.Environment.Variables;
    assert.equal(env.AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH, 'true');
    assert.deepEqual(env.ADMIN_UI_ORIGIN, { Ref: 'AdminUiOrigin' });
  });

  it('is throttled and writes JSON access logs, by stage', () => {
    for (const [s, throttle] of [
      [dev, { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 }],
      [prod, { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 }],
    ] as const) {
      const stage = s.json.Resources[logicalIdAt(s, 'AdminApi/Http/Api/DeploymentStage.live')];
      assert.equal(stage.Properties.StageName, 'live');
      assert.deepEqual(stage.Properties.MethodSettings, [
        { DataTraceEnabled: false, HttpMethod: '*', ResourcePath: '/*', ...throttle },
      ]);
      assert.ok(JSON.stringify(stage.Properties.AccessLogSetting.DestinationArn).includes(`{"Ref":"${logicalIdAt(s, 'AdminApi/Http/AccessLogs/Resource')}"}`));
      const format = JSON.parse(stage.Properties.AccessLogSetting.Format);
      assert.equal(format.requestId, '$context.requestId');
      assert.equal(format.status, '$context.status');
      assert.equal(format.wafStatus, '$context.waf.status');
    }
  });

  it('is behind an AWS WAF web ACL that blocks one address above 6,000 requests in 5 minutes with a 429 problem', () => {
    for (const s of [dev, prod]) {
      const { association, acl, rules } = webAclOf(s, 'AdminApi/Http');
      assert.equal(acl.Properties.Scope, 'REGIONAL');
      assert.deepEqual(acl.Properties.DefaultAction, { Allow: {} });
      assert.ok(JSON.stringify(association.Properties.ResourceArn).includes(logicalIdAt(s, 'AdminApi/Http/Api/Resource')));
      assert.ok(JSON.stringify(association.Properties.ResourceArn).includes('/stages/'));
      const rule = rules.get('PerAddress');
      assert.deepEqual(rule.Statement.RateBasedStatement, { AggregateKeyType: 'IP', Limit: 6000, EvaluationWindowSec: 300 });
      assert.equal(rule.Action.Block.CustomResponse.ResponseCode, 429);
      assert.deepEqual(rule.Action.Block.CustomResponse.ResponseHeaders, [
        { Name: 'retry-after', Value: '60' },
        { Name: 'access-control-allow-origin', Value: { Ref: 'AdminUiOrigin' } },
        { Name: 'vary', Value: 'origin' },
      ]);
      const body = acl.Properties.CustomResponseBodies['too-many-requests'];
      assert.equal(body.ContentType, 'APPLICATION_JSON');
      assert.equal(JSON.parse(body.Content).status, 429);
      assert.equal(rules.size, 1);
    }
  });
});

describe('router', () => {
  const api = () => logicalIdAt(dev, 'Router/Http/Api/Resource');

  it('serves every path through auth-router, only on its custom domains', () => {
    const router = FUNCTIONS.find((f) => f.name === 'auth-router')!;
    const apiResource = dev.json.Resources[api()];
    assert.equal(apiResource.Properties.DisableExecuteApiEndpoint, true);
    const methods = methodsOf(dev, 'Router/Http/Api/Resource');
    assert.deepEqual([...methods.keys()].sort(), ['ANY /', 'ANY /{proxy+}']);
    for (const m of methods.values()) {
      assert.equal(m.Properties.Integration.Type, 'AWS_PROXY');
      assert.ok(JSON.stringify(m.Properties.Integration.Uri).includes(fnId(dev, router)));
    }
    const env = dev.json.Resources[fnId(dev, router)].Properties.Environment.Variables;
    assert.equal(env.AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH, 'true');
  });

  it('answers on BASE_DOMAIN and *.BASE_DOMAIN with the given or a requested certificate', () => {
    const certificate = {
      'Fn::If': ['CertificateGiven', { Ref: 'CertificateArn' }, { Ref: logicalIdAt(dev, 'Router/Certificate') }],
    };
    for (const name of [{ Ref: 'BaseDomain' }, { 'Fn::Join': ['', ['*.', { Ref: 'BaseDomain' }]] }]) {
      dev.template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
        DomainName: name,
        DomainNameConfigurations: [
          { CertificateArn: certificate, EndpointType: 'REGIONAL', SecurityPolicy: 'TLS_1_2', IpAddressType: 'dualstack' },
        ],
      });
    }
    dev.template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 3);
    const routerMappings = resourcesOfType(dev, 'AWS::ApiGatewayV2::ApiMapping').filter(
      ([, m]) => !m.Properties.ApiMappingKey,
    );
    assert.equal(routerMappings.length, 2);
    for (const [, mapping] of routerMappings) {
      assert.deepEqual(mapping.Properties.ApiId, { Ref: api() });
      assert.deepEqual(mapping.Properties.Stage, { Ref: logicalIdAt(dev, 'Router/Http/Api/DeploymentStage.live') });
    }
    // SCIM: its own API at /scim on the organizations' wildcard domain only.
    const scim = resourcesOfType(dev, 'AWS::ApiGatewayV2::ApiMapping').filter(([, m]) => m.Properties.ApiMappingKey);
    assert.equal(scim.length, 1);
    assert.equal(scim[0][1].Properties.ApiMappingKey, 'scim');
    assert.deepEqual(scim[0][1].Properties.ApiId, { Ref: logicalIdAt(dev, 'Scim/Http/Api/Resource') });
    assert.deepEqual(scim[0][1].Properties.DomainName, { Ref: logicalIdAt(dev, 'Router/WildcardDomain/Resource') });
    const requested = dev.json.Resources[logicalIdAt(dev, 'Router/Certificate')];
    assert.equal(requested.Condition, logicalIdAt(dev, 'Router/CreateCertificate'));
    assert.equal(requested.Properties.ValidationMethod, 'DNS');
    assert.deepEqual(requested.Properties.DomainValidationOptions.map((o: any) => o.HostedZoneId), [
      { Ref: 'HostedZoneId' },
      { Ref: 'HostedZoneId' },
    ]);
  });

  it('serves SCIM from its own API: /v2 only, its own throttle and WAF limit, a SCIM error when blocked', () => {
    const methods = methodsOf(prod, 'Scim/Http/Api/Resource');
    assert.ok([...methods.keys()].every((k) => k.includes('/v2')), [...methods.keys()].join(', '));
    const stage = prod.json.Resources[logicalIdAt(prod, 'Scim/Http/Api/DeploymentStage.live')];
    assert.equal(stage.Properties.MethodSettings[0].ThrottlingRateLimit, 10);
    const { rules } = webAclOf(prod, 'Scim/Http');
    const rule = rules.get('PerAddress');
    assert.equal(rule.Statement.RateBasedStatement.Limit, 12000);
    assert.equal(rule.Action.Block.CustomResponse.ResponseCode, 429);
    const scimFn = dev.json.Resources[fnId(dev, FUNCTIONS.find((f) => f.name === 'scim')!)];
    assert.equal(scimFn.Properties.Environment.Variables.AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH, 'true');
  });

  it('has A and AAAA alias records for both names in the hosted zone', () => {
    const records = resourcesOfType(dev, 'AWS::Route53::RecordSet').filter(([, r]) => r.Properties.AliasTarget);
    assert.deepEqual(records.map(([, r]) => r.Properties.Type).sort(), ['A', 'A', 'AAAA', 'AAAA']);
    for (const [, r] of records) assert.deepEqual(r.Properties.HostedZoneId, { Ref: 'HostedZoneId' });
  });

  it('is throttled, and its access log never holds a path (activation links are secrets)', () => {
    const stage = prod.json.Resources[logicalIdAt(prod, 'Router/Http/Api/DeploymentStage.live')];
    assert.deepEqual(stage.Properties.MethodSettings, [
      { DataTraceEnabled: false, HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 },
    ]);
    const format: string = stage.Properties.AccessLogSetting.Format;
    assert.ok(!format.includes('$context.path'), format);
    assert.ok(format.includes('$context.requestId'));
  });

  it('is behind an AWS WAF web ACL: 3,000 requests and 600 posts per address in 5 minutes, then a 429 page', () => {
    for (const s of [dev, prod]) {
      const { acl, rules } = webAclOf(s, 'Router/Http');
      assert.equal(acl.Properties.Scope, 'REGIONAL');
      assert.deepEqual(rules.get('PerAddress').Statement.RateBasedStatement, { AggregateKeyType: 'IP', Limit: 3000, EvaluationWindowSec: 300 });
      const posts = rules.get('PostsPerAddress').Statement.RateBasedStatement;
      assert.equal(posts.Limit, 600);
      assert.equal(posts.AggregateKeyType, 'IP');
      assert.deepEqual(posts.ScopeDownStatement.ByteMatchStatement.FieldToMatch, { Method: {} });
      assert.equal(posts.ScopeDownStatement.ByteMatchStatement.SearchString, 'POST');
      for (const rule of rules.values()) {
        assert.equal(rule.Action.Block.CustomResponse.ResponseCode, 429);
        assert.equal(rule.VisibilityConfig.CloudWatchMetricsEnabled, true);
      }
      const body = acl.Properties.CustomResponseBodies['too-many-requests'];
      assert.equal(body.ContentType, 'TEXT_HTML');
      assert.ok(body.Content.includes('Too many requests'));
    }
  });
});

describe('mail', () => {
  it("verifies MAIL_FROM's domain with Easy DKIM and uses the configuration set", () => {
    dev.template.hasResourceProperties('AWS::SES::EmailIdentity', {
      EmailIdentity: { 'Fn::Select': [1, { 'Fn::Split': ['@', { Ref: 'MailFrom' }] }] },
      ConfigurationSetAttributes: { ConfigurationSetName: { Ref: logicalIdAt(dev, 'Mail/ConfigurationSet/Resource') } },
      DkimAttributes: { SigningEnabled: true },
    });
    const dkim = resourcesOfType(dev, 'AWS::Route53::RecordSet').filter(([, r]) => r.Properties.Type === 'CNAME');
    assert.equal(dkim.length, 3);
    for (const [, r] of dkim) {
      assert.deepEqual(r.Properties.HostedZoneId, { 'Fn::If': ['MailHostedZoneGiven', { Ref: 'MailHostedZoneId' }, { Ref: 'HostedZoneId' }] });
    }
  });

  it('sends over TLS only, keeps reputation metrics, suppresses bounces and complaints', () => {
    dev.template.hasResourceProperties('AWS::SES::ConfigurationSet', {
      DeliveryOptions: { TlsPolicy: 'REQUIRE' },
      ReputationOptions: { ReputationMetricsEnabled: true },
      SendingOptions: { SendingEnabled: true },
      SuppressionOptions: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
    });
  });
});

describe('triggers', () => {
  const triggers = () => deployed.filter((f) => f.kind === 'trigger');

  it("may be invoked by Cognito for this account's user pools, by nothing else", () => {
    for (const spec of triggers()) {
      const permissions = resourcesOfType(dev, 'AWS::Lambda::Permission').filter(
        ([, p]) => JSON.stringify(p.Properties.FunctionName) === JSON.stringify(fnArn(dev, spec)),
      );
      assert.equal(permissions.length, 1, spec.name);
      assert.deepEqual(permissions[0][1].Properties, {
        Action: 'lambda:InvokeFunction',
        FunctionName: fnArn(dev, spec),
        Principal: 'cognito-idp.amazonaws.com',
        SourceAccount: { Ref: 'AWS::AccountId' },
        SourceArn: poolsArn,
      });
    }
  });

  it('publish their ARNs as SSM parameters named after the variables the code reads', () => {
    for (const spec of triggers()) {
      dev.template.hasResourceProperties('AWS::SSM::Parameter', {
        Name: `/org-signin/dev/${spec.arnVariable}`,
        Type: 'String',
        Value: fnArn(dev, spec),
      });
    }
  });

  it("publish the rest of tenantctl's environment beside them", () => {
    for (const name of ['TABLE_NAME', 'BASE_DOMAIN', 'MAIL_FROM', 'SES_CONFIGURATION_SET', 'MIGRATION_STATE_MACHINE_ARN', 'MIGRATION_BUCKET']) {
      prod.template.hasResourceProperties('AWS::SSM::Parameter', { Name: `/org-signin/prod/${name}` });
    }
  });
});

describe('migration state machine', () => {
  const worker = () => FUNCTIONS.find((f) => f.name === 'tenant-migration')!;

  it('runs a Distributed Map over the manifest with the worker as item processor', () => {
    const definition = stateMachineDefinition(dev);
    const map = definition.States[definition.StartAt];
    assert.equal(map.Type, 'Map');
    assert.deepEqual(map.ItemProcessor.ProcessorConfig, { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    assert.equal(map.MaxConcurrency, MIGRATION_MAX_CONCURRENCY);
    assert.equal(map.ItemBatcher, undefined, 'one organization per child execution');
    assert.equal(map.ToleratedFailurePercentage, 100);
    assert.deepEqual(map.ItemReader.ReaderConfig, { InputType: 'JSON' });
    assert.equal(map.ItemReader.Parameters['Key.$'], '$.manifest_key');
    assert.deepEqual(map.ItemSelector, { action: MIGRATION_ITEM_ACTION, 'job.$': '$.job', 'organization.$': '$$.Map.Item.Value' });
    const task = map.ItemProcessor.States[map.ItemProcessor.StartAt];
    assert.equal(task.Type, 'Task');
    assert.equal(task.Resource, `<<GetAtt:${fnId(dev, worker())}.Arn>>`);
  });

  it('retries what is transient and resumes an organization that needs another invocation', () => {
    const definition = stateMachineDefinition(dev);
    const processor = definition.States[definition.StartAt].ItemProcessor;
    const task = processor.States[processor.StartAt];
    const retried = task.Retry.flatMap((r: any) => r.ErrorEquals);
    for (const error of ['Lambda.ServiceException', 'Lambda.TooManyRequestsException', 'Unreachable', 'InProgress', 'Conflict', 'Sandbox.Timedout', 'Lambda.Unknown']) {
      assert.ok(retried.includes(error), error);
    }
    const choice = processor.States[task.Next];
    assert.equal(choice.Type, 'Choice');
    assert.equal(choice.Choices[0].Next, processor.StartAt);
  });

  it("writes the report to the migration bucket at the end", () => {
    const definition = stateMachineDefinition(dev);
    const map = definition.States[definition.StartAt];
    assert.deepEqual(map.ResultWriter.Parameters, { Bucket: `<<Ref:${logicalIdAt(dev, 'Migration/Bucket/Resource')}>>`, Prefix: 'reports' });
  });

  it('logs every event without execution data, traced, and gives up after a day', () => {
    dev.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
    assert.equal(stateMachineDefinition(dev).TimeoutSeconds, 86400);
  });

  it('keeps manifests and reports in a private, encrypted, TLS-only bucket', () => {
    dev.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    dev.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });
});

describe('alarms', () => {
  const alarms = () => resourcesOfType(dev, 'AWS::CloudWatch::Alarm');

  it('all go to the SNS topic parameter', () => {
    assert.ok(alarms().length > 0);
    for (const [id, a] of alarms()) {
      assert.deepEqual(a.Properties.AlarmActions, [{ Ref: 'AlarmTopicArn' }], id);
      assert.deepEqual(a.Properties.OKActions, [{ Ref: 'AlarmTopicArn' }], id);
    }
  });

  it("watch every function's logged errors and throttles, and the non-triggers' Errors", () => {
    const byMetric = (name: string, fn?: FunctionSpec) =>
      alarms().filter(
        ([, a]) =>
          a.Properties.MetricName === name &&
          (!fn || JSON.stringify(a.Properties.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: fnId(dev, fn) } }])),
      );
    for (const spec of deployed) {
      assert.equal(byMetric(`${spec.name}-LoggedErrors`).length, 1, spec.name);
      assert.equal(byMetric('Throttles', spec).length, 1, spec.name);
      assert.equal(byMetric('Errors', spec).length, spec.kind === 'trigger' ? 0 : 1, spec.name);
    }
    for (const spec of deployed) {
      dev.template.hasResourceProperties('AWS::Logs::MetricFilter', {
        LogGroupName: { Ref: logicalIdAt(dev, `Functions/${spec.name}/Logs/Resource`) },
        FilterPattern: '{ $.level = "ERROR" }',
        MetricTransformations: [Match.objectLike({ MetricName: `${spec.name}-LoggedErrors`, MetricNamespace: 'OrgSignin/dev' })],
      });
    }
  });

  it("watch the three APIs' 5xx answers, the state machine's failures, and SES bounces", () => {
    assert.equal(alarms().filter(([, a]) => a.Properties.MetricName === '5XXError').length, 3);
    const sm = alarms().filter(([, a]) => JSON.stringify(a.Properties.Metrics ?? []).includes('ExecutionsFailed'));
    assert.equal(sm.length, 1);
    assert.match(JSON.stringify(sm[0][1].Properties.Metrics), /ExecutionsTimedOut/);
    assert.equal(alarms().filter(([, a]) => a.Properties.MetricName === 'Reputation.BounceRate').length, 1);
  });
});
