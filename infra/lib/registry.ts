import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { StageSettings } from './stage';

/** The index `list_organizations` queries (`shared/src/aws/dynamodb.rs`, GSI1). */
export const ORGANIZATIONS_INDEX = 'gsi1';
/** Audit events, idempotency records and leases carry their expiry here (TTL_ATTRIBUTE). */
export const TTL_ATTRIBUTE = 'expires_at';

/**
 * The registry: one table, the key schema `tenantctl setup` creates locally
 * (`DynamoRegistry::ensure_table`): `pk`/`sk`, the index `gsi1` (`gsi1pk`/`gsi1sk`, all
 * attributes) over the organizations, TTL on `expires_at`, on-demand capacity, point-in-time
 * recovery and deletion protection.
 */
export class Registry extends Construct {
  readonly table: dynamodb.TableV2;

  constructor(scope: Construct, id: string, stage: StageSettings) {
    super(scope, id);
    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      globalSecondaryIndexes: [
        {
          indexName: ORGANIZATIONS_INDEX,
          partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
          projectionType: dynamodb.ProjectionType.ALL,
        },
      ],
      timeToLiveAttribute: TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: stage.tableDeletionProtection,
      // AWS-owned key: encrypted at rest at no cost; nothing here needs a key of our own.
      encryption: dynamodb.TableEncryptionV2.dynamoOwnedKey(),
      removalPolicy: stage.dataRemoval,
    });
  }
}
