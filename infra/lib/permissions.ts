import { FUNCTIONS, FunctionSpec } from './functions';
import { ORGANIZATIONS_INDEX } from './registry';
import { SECRET_ACTIONS } from './rust-functions';

/**
 * What each function's role allows and why, as the README's deploy section lists it: made
 * from the same table (functions.ts) the roles are built from, so that the two cannot drift
 * (a test compares the README with this; `npm run permissions` prints it).
 */
export function permissionsMarkdown(): string {
  return FUNCTIONS.map(entry).join('\n');
}

function entry(spec: FunctionSpec): string {
  const grants: string[] = [`DynamoDB on the registry table: ${spec.registry.join(', ')}`];
  if (spec.listsOrganizations) grants.push(`DynamoDB: Query on its index \`${ORGANIZATIONS_INDEX}\``);
  if (spec.poolActions?.length) grants.push(`Cognito on pools tagged \`org-id\`: ${spec.poolActions.join(', ')}`);
  if (spec.createsPools) {
    grants.push(
      'Cognito without a resource: CreateUserPool and TagResource only with the tags `org-id` and `managed-by=tenantctl`, ListUserPools',
    );
  }
  if (spec.sendsMail) {
    grants.push("SES: SendEmail from `MAIL_FROM` (compared without case) through the suite's identity and configuration set");
  }
  if (spec.providerSecrets) grants.push(`Secrets Manager on \`signin/*\`: ${SECRET_ACTIONS.join(', ')}`);
  grants.push('CloudWatch Logs: its own log group');
  return `- **\`${spec.name}\`**: ${grants.join('; ')}. ${spec.why}`;
}
