/**
 * The one table of the suite's Lambda functions: one entry per crate under `functions/` of the
 * Cargo workspace (a test holds the two together). Everything the stack knows about a function
 * is here: what kind it is, its size, the environment its code reads and the AWS calls it
 * makes, from which its least-privilege role is built.
 *
 * Where the facts come from (read, not guessed):
 * - environment: `shared/src/config.rs`, `shared/src/trigger.rs` (`TriggerDeps::new`), each
 *   function's `main.rs`/`wiring.rs`;
 * - AWS calls: the adapters in `shared/src/aws/` (cognito.rs, dynamodb.rs, ses.rs, signin.rs)
 *   followed from the handlers through `shared/src/domain/`. The sign-in calls of the router
 *   (InitiateAuth, RespondToAuthChallenge, ForgotPassword, RevokeToken, ...) and the pools'
 *   JWKS are public Cognito endpoints that IAM does not govern, so they need no permission.
 */

/** How a function is invoked. */
export type FunctionKind =
  /** A Cognito user pool trigger, attached to every organization's pool. */
  | 'trigger'
  /** lambda_http behind an API Gateway REST API (Lambda proxy integration) and AWS WAF. */
  | 'http'
  /** Invoked by Step Functions (and by operators with `aws lambda invoke`). */
  | 'worker';

/**
 * DynamoDB actions on the registry table. DynamoDB authorises every item of a
 * TransactWriteItems by its own action (Put -> PutItem, Update -> UpdateItem, Delete ->
 * DeleteItem, ConditionCheck -> ConditionCheckItem), so a function's list names each kind of
 * item its transactions carry (shared/src/aws/dynamodb.rs):
 * - create_person: Put (person, e-mail and id claims, audit), Update (the seat counter, for a
 *   person who holds a seat), ConditionCheck (nobody signs in under the username);
 * - save_person: Put, and Update when the seat changes hands;
 * - every write of a person also puts its search entries (Put), deletes the entries of
 *   terms it no longer has (Delete: only where names, addresses or usernames change) and
 *   adds to the people counters (Update) when a status or role moves (docs/design.md,
 *   "Admin API at scale");
 * - change_email: Put (new claim) and Delete (old claim); change_username: Put, Delete (the old
 *   alias claim) and ConditionCheck (the new name is free);
 * - leases, idempotency keys, legacy hashes: PutItem/UpdateItem/DeleteItem on one item.
 */
export type RegistryAction =
  | 'GetItem'
  | 'Query'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'ConditionCheckItem'
  | 'BatchWriteItem';

/** Environment variables the stack can fill in; the names are the ones the code reads. */
export type EnvVar =
  | 'TABLE_NAME'
  | 'BASE_DOMAIN'
  | 'MAIL_FROM'
  | 'SES_CONFIGURATION_SET'
  | 'PRODUCT_NAME'
  /** Every trigger's `*_ARN` (the `ProvisioningConfig` of `org create`). */
  | 'TRIGGER_ARNS'
  /** The migration map's MaxConcurrency, so that a worker can take its share of each quota. */
  | 'MIGRATION_MAX_CONCURRENCY'
  /** The admin UI's origin: the CORS headers of admin-api's answers (a REST API leaves them to the function). */
  | 'ADMIN_UI_ORIGIN'
  /**
   * `true` for lambda_http behind a REST API stage: lambda_http would otherwise put the stage's
   * name in front of every path (`/live/login`). Read by lambda_http, not by our code.
   */
  | 'AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH';

export interface FunctionSpec {
  /** The crate under `functions/`, and the construct id. */
  readonly name: string;
  /** The binary to package, when it differs from the crate's name. */
  readonly binary?: string;
  readonly kind: FunctionKind;
  readonly description: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /**
   * Triggers: the variable `tenantctl` and the worker read the function's ARN from (see
   * `ProvisioningConfig::from_env`); also the name of the SSM parameter that publishes it.
   */
  readonly arnVariable?: string;
  readonly env: readonly EnvVar[];
  /** The registry table's actions its code calls (on the table itself, not its index). */
  readonly registry: readonly RegistryAction[];
  /**
   * Why it holds what it holds, in a sentence or two: the README's deploy section lists it
   * beside the actions (`npm run permissions` prints that section from this table).
   */
  readonly why: string;
  /**
   * Cognito user pool actions on the organizations' pools (resource-level, limited to pools
   * tagged `org-id`).
   */
  readonly poolActions?: readonly string[];
  /** Creates user pools (CreateUserPool and ListUserPools: no pool resource yet). */
  readonly createsPools?: boolean;
  /** Sends our own mails through SES from MAIL_FROM. */
  readonly sendsMail?: boolean;
  /**
   * Reads and writes the organizations' identity-provider client secrets in Secrets Manager
   * (names `signin/<org id>/<provider>`, shared::domain::settings::secret_name).
   */
  readonly providerSecrets?: boolean;
  /** Lists the registry's organizations (Query on the index `gsi1`). */
  readonly listsOrganizations?: boolean;
  /**
   * Set while the crate is being written in another branch: the stack deploys the function
   * when `functions/<name>` exists, and skips it with a note until then. Every other entry
   * must have its crate.
   */
  readonly arrivesWith?: string;
}

/**
 * Triggers must answer Cognito within 5 s (3 attempts). The code gives itself 4 s or the
 * Lambda deadline less 300 ms, whichever is sooner (`shared::trigger::invocation_budget`), and
 * answers "backend unavailable" when that passes; a 4 s timeout therefore lets it answer in
 * 3.7 s with its own message, and Lambda never runs one past Cognito's limit.
 */
const TRIGGER_TIMEOUT_SECONDS = 4;
/**
 * Triggers do little work (one or two registry reads, at most a transaction and one Cognito
 * call); 256 MB gives the small Rust binaries more CPU and network than 128 MB for the price
 * of a few milliseconds.
 */
const TRIGGER_MEMORY_MB = 256;
const TRIGGER_ENV: readonly EnvVar[] = ['TABLE_NAME', 'BASE_DOMAIN'];

export const FUNCTIONS: readonly FunctionSpec[] = [
  {
    name: 'pre-signup',
    kind: 'trigger',
    description: 'PreSignUp: who may get a login; links a federated identity to an existing person',
    memoryMb: TRIGGER_MEMORY_MB,
    timeoutSeconds: TRIGGER_TIMEOUT_SECONDS,
    arnVariable: 'PRE_SIGNUP_ARN',
    env: TRIGGER_ENV,
    registry: ['GetItem', 'PutItem'],
    why: 'Reads the organization and the person a sign-up claims to be; records a federated identity linked to an existing person (a transaction of Puts), and links it in Cognito (AdminLinkProviderForUser; AdminGetUser recognises a link an earlier attempt made).',
    // link_provider: AdminLinkProviderForUser, and AdminGetUser to recognise a link an
    // earlier attempt made.
    poolActions: ['AdminLinkProviderForUser', 'AdminGetUser'],
  },
  {
    name: 'post-confirmation',
    kind: 'trigger',
    description: 'PostConfirmation: records confirmed sign-ups and first logins, mirrors roles into groups',
    memoryMb: TRIGGER_MEMORY_MB,
    timeoutSeconds: TRIGGER_TIMEOUT_SECONDS,
    arnVariable: 'POST_CONFIRMATION_ARN',
    env: TRIGGER_ENV,
    registry: ['GetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem'],
    why: 'Records a confirmed self sign-up or first SSO sign-in as a person (create_person: Puts, the seat counter\'s Update, a ConditionCheck that nobody signs in under the username) and mirrors their roles into groups (AdminAddUserToGroup).',
    poolActions: ['AdminAddUserToGroup'],
  },
  {
    name: 'pre-authentication',
    kind: 'trigger',
    description: 'PreAuthentication: organization-level refusals before the password',
    memoryMb: TRIGGER_MEMORY_MB,
    timeoutSeconds: TRIGGER_TIMEOUT_SECONDS,
    arnVariable: 'PRE_AUTHENTICATION_ARN',
    env: TRIGGER_ENV,
    registry: ['GetItem'],
    why: 'Reads the organization of the pool to refuse sign-ins of suspended or SSO-only organizations; writes nothing.',
  },
  {
    name: 'post-authentication',
    kind: 'trigger',
    description:
      'PostAuthentication: person-level refusals after the password; records first logins; finishes lazy migrations',
    memoryMb: TRIGGER_MEMORY_MB,
    timeoutSeconds: TRIGGER_TIMEOUT_SECONDS,
    arnVariable: 'POST_AUTHENTICATION_ARN',
    env: TRIGGER_ENV,
    // A lazily migrated person's legacy password hash is deleted at their first sign-in with
    // the new login (shared::domain::lazy_migration::complete_lazy_migration): DeleteItem.
    registry: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    why: 'Refuses people who may not sign in; records a login the registry lacks (create_person) and first logins (save_person); deletes a lazily migrated person\'s legacy hash at their first sign-in (DeleteItem); puts repaired and migrated logins into their role groups.',
    // person_or_repair: a login the registry lacks is recorded with its role groups; a lazily
    // migrated login gets its role groups at its first sign-in.
    poolActions: ['AdminAddUserToGroup'],
  },
  {
    name: 'pre-token-generation',
    kind: 'trigger',
    description: 'PreTokenGeneration: the organization and roles as claims',
    memoryMb: TRIGGER_MEMORY_MB,
    timeoutSeconds: TRIGGER_TIMEOUT_SECONDS,
    arnVariable: 'PRE_TOKEN_GENERATION_ARN',
    env: TRIGGER_ENV,
    registry: ['GetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem'],
    why: 'Reads the organization and person for the claims; records the first login after the new-password challenge (save_person) and repairs a login the registry lacks (create_person, AdminAddUserToGroup).',
    poolActions: ['AdminAddUserToGroup'],
  },
  {
    name: 'custom-message',
    kind: 'trigger',
    description: "CustomMessage: the organization's branded Cognito messages",
    memoryMb: TRIGGER_MEMORY_MB,
    timeoutSeconds: TRIGGER_TIMEOUT_SECONDS,
    arnVariable: 'CUSTOM_MESSAGE_ARN',
    env: TRIGGER_ENV,
    registry: ['GetItem'],
    why: 'Reads the organization to brand Cognito\'s messages; writes nothing.',
  },
  {
    name: 'user-migration',
    kind: 'trigger',
    description: "UserMigration: a legacy person's password checked and moved at the first sign-in",
    // bcrypt cost 12, Argon2id and PBKDF2 are CPU-bound: 1,769 MB is one full vCPU, so a check
    // takes what `cargo bench -p user-migration --bench verification` measures on one core
    // (a few hundred milliseconds), well inside the budget above, once per person.
    memoryMb: 1769,
    timeoutSeconds: TRIGGER_TIMEOUT_SECONDS,
    arnVariable: 'USER_MIGRATION_ARN',
    env: TRIGGER_ENV,
    // Reads the organization, the person and their legacy hash; writes nothing (Cognito may
    // call it three times, or fail after its answer): post-authentication deletes the hash.
    registry: ['GetItem', 'Query'],
    why: 'Reads the organization, the person and their legacy hash, and one of the organization\'s legacy hashes (Query, one item) whose scheme times the answer for an unknown username like a wrong password; writes nothing (post-authentication deletes the hash) and calls no Cognito API (Cognito creates the login from its answer).',
    // No Cognito call: the login does not exist until Cognito creates it from the answer.
  },
  {
    name: 'admin-api',
    kind: 'http',
    description: "The admin API behind the organizations' admin UI",
    memoryMb: 512,
    // A REST API integration waits 29 s by default.
    timeoutSeconds: 29,
    env: ['TABLE_NAME', 'BASE_DOMAIN', 'MAIL_FROM', 'SES_CONFIGURATION_SET', 'ADMIN_UI_ORIGIN', 'AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH'],
    // Idempotency keys are deleted when a request of ours fails, so the same key can finish it.
    registry: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    why: 'Everything an organization\'s admins do: people (create_person, save_person, imports), roles, e-mail and username changes, settings, the audit log and people lists (Query), idempotency keys (Put, Update, Delete); the person\'s Cognito login and the pool\'s settings (UpdateUserPool sends the pool\'s tags back: TagResource and UntagResource); welcome mails from MAIL_FROM; the identity providers\' secrets under signin/*.',
    poolActions: [
      // activation on, resend, password reset (shared::domain::activation); a login of the
      // person's name found already is read before it is reset (AdminGetUser: whose is it?)
      'AdminCreateUser',
      'AdminGetUser',
      'AdminSetUserPassword',
      'AdminEnableUser',
      // roles, activation off, delete (shared::domain::people)
      'AdminAddUserToGroup',
      'AdminRemoveUserFromGroup',
      'AdminDisableUser',
      'AdminUserGlobalSignOut',
      'AdminDeleteUser',
      'CreateGroup',
      'DeleteGroup',
      // e-mail or username change of a deactivated person, a renamed person's new login
      // (shared::domain::email_change, activation): the address, the preferred_username alias
      'AdminUpdateUserAttributes',
      'AdminDeleteUserAttributes',
      // organization settings (shared::domain::settings): identity providers, the app
      // client's providers and URLs, self sign-up, MFA
      'CreateIdentityProvider',
      'UpdateIdentityProvider',
      'DescribeIdentityProvider',
      'DeleteIdentityProvider',
      'ListIdentityProviders',
      'DescribeUserPool',
      'UpdateUserPool',
      'DescribeUserPoolClient',
      'UpdateUserPoolClient',
      'SetUserPoolMfaConfig',
      // UpdateUserPool sends the pool's tags back: TagResource and UntagResource are its
      // dependent actions (Service Authorization Reference).
      'TagResource',
      'UntagResource',
    ],
    sendsMail: true,
    // The identity providers' client secrets (signin/<org id>/<provider>).
    providerSecrets: true,
  },
  {
    name: 'auth-router',
    kind: 'http',
    description: "The organizations' subdomains: discovery and each organization's login pages",
    memoryMb: 512,
    // A sign-in waits for Cognito, which runs up to three triggers of 5 s each in turn.
    timeoutSeconds: 20,
    env: ['TABLE_NAME', 'BASE_DOMAIN', 'PRODUCT_NAME', 'AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH'],
    // First logins and spent activation links are saved; attempts are counted.
    registry: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    why: 'Counts sign-in, reset and discovery attempts per address and organization (one-minute windows: UpdateItem with ADD); records first logins and spent activation links (save_person: Puts); confirms e-mail and username changes (transactions with the old claim\'s Delete and the new name\'s ConditionCheck) and applies them to the login (AdminUpdateUserAttributes, AdminDeleteUserAttributes); sets the password an activation link\'s person chose (AdminSetUserPassword). Its sign-in calls are Cognito\'s public API, not governed by IAM.',
    // An activation link sets the password the person chose; a confirmed e-mail address or
    // username becomes the login's (shared::domain::email_change; back to the login's own
    // name deletes the alias).
    poolActions: ['AdminSetUserPassword', 'AdminUpdateUserAttributes', 'AdminDeleteUserAttributes'],
  },
  {
    name: 'scim',
    kind: 'http',
    description: "SCIM 2.0 for each organization's directory: people provisioned, changed and deprovisioned",
    memoryMb: 512,
    // A REST API integration waits 29 s by default.
    timeoutSeconds: 29,
    env: ['TABLE_NAME', 'BASE_DOMAIN', 'MAIL_FROM', 'SES_CONFIGURATION_SET', 'AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH'],
    registry: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    why: "A directory's changes to the organization's people through the admin API's rules: people recorded and saved with their directory record and externalId claim (create_person, save_person, save_directory: Puts, the seat counter's Update, the old claim's Delete, ConditionChecks), looked up by claim and listed (Query); their Cognito login switched on and off, renamed and re-addressed; welcome mails from MAIL_FROM.",
    poolActions: [
      // activation on (shared::domain::activation)
      'AdminCreateUser',
      'AdminGetUser',
      'AdminSetUserPassword',
      'AdminEnableUser',
      'AdminAddUserToGroup',
      'AdminRemoveUserFromGroup',
      // activation off (shared::domain::people)
      'AdminDisableUser',
      'AdminUserGlobalSignOut',
      // e-mail and username changes (shared::domain::email_change)
      'AdminUpdateUserAttributes',
      'AdminDeleteUserAttributes',
    ],
    sendsMail: true,
  },
  {
    name: 'tenant-migration',
    binary: 'tenant-migration',
    kind: 'worker',
    description: 'Provisions and migrates one organization per invocation (the item processor of the migration state machine)',
    memoryMb: 1024,
    // Lambda's limit; an organization larger than one invocation is resumed from its
    // checkpoint by the state machine (see migration.ts).
    timeoutSeconds: 900,
    env: [
      'TABLE_NAME',
      'BASE_DOMAIN',
      'MAIL_FROM',
      'SES_CONFIGURATION_SET',
      'TRIGGER_ARNS',
      'MIGRATION_MAX_CONCURRENCY',
    ],
    // The provisioning lease is released with a conditional delete; an organization's search
    // entries are written in batches before its switch (reindex_people, owned).
    registry: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem', 'BatchWriteItem'],
    why: 'Provisions organizations (CreateUserPool with the org-id, subdomain and managed-by tags: TagResource; adopts a pool found by name only when its org-id tag is the organization\'s) and migrates their people (AdminCreateUser; AdminGetUser when a resumed run finds the login made), the first administrator with a welcome mail, jobs and checkpoints in the registry, the provisioning lease released with a conditional delete, the search entries and people counters of a migrated organization built before its switch (BatchWriteItem).',
    listsOrganizations: true,
    createsPools: true,
    poolActions: [
      // provisioning: the pool's settings, groups, app client and prefix domain
      'SetUserPoolMfaConfig',
      'CreateGroup',
      'ListUserPoolClients',
      'CreateUserPoolClient',
      'DescribeUserPool',
      'CreateUserPoolDomain',
      // the first administrator (activation), and one replaced before being welcomed
      'AdminCreateUser',
      'AdminSetUserPassword',
      'AdminEnableUser',
      'AdminAddUserToGroup',
      'AdminDeleteUser',
      // a migrated person's login that a resumed run finds already made
      // (shared::aws::migration::create_migrated_login)
      'AdminGetUser',
    ],
    sendsMail: true,
  },
];

/** The triggers, in the order of `TriggerArns` in `shared/src/ports.rs`. */
export function triggers(): FunctionSpec[] {
  return FUNCTIONS.filter((f) => f.kind === 'trigger');
}
