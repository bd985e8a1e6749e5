import {
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { storeCall } from './errors.js';

/**
 * The pages of one DynamoDB Query, following LastEvaluatedKey until the end or
 * until the caller stops iterating. `pageLimit` is asked before each page, so
 * a caller can shrink pages to what it still wants (undefined: no Limit).
 */
export async function* queryPages(
  doc: DynamoDBDocumentClient,
  what: string,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey' | 'Limit'>,
  pageLimit?: () => number | undefined,
): AsyncGenerator<QueryCommandOutput> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const limit = pageLimit?.();
    const page = await storeCall(what, () =>
      doc.send(
        new QueryCommand({
          ...input,
          ...(limit !== undefined ? { Limit: limit } : {}),
          ExclusiveStartKey: startKey,
        }),
      ),
    );
    yield page;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

/** Counts the items a query matches (Select COUNT, every page). */
export async function countQuery(
  doc: DynamoDBDocumentClient,
  what: string,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey' | 'Limit' | 'Select'>,
): Promise<number> {
  let total = 0;
  for await (const page of queryPages(doc, what, { ...input, Select: 'COUNT' })) {
    total += page.Count ?? 0;
  }
  return total;
}

/**
 * Equality and comparison filters on plain attributes, collected into the
 * FilterExpression / names / values a Query takes.
 */
export class QueryFilter {
  private readonly names: Record<string, string> = {};
  private readonly conditions: string[] = [];

  constructor(readonly values: Record<string, unknown>) {}

  /** `attribute op :value`, e.g. where('agent_id', '=', 'edge-1'). */
  where(attribute: string, op: '=' | '>=' | '<=', value: unknown): this {
    const name = `#f${this.conditions.length}`;
    const placeholder = `:f${this.conditions.length}`;
    this.names[name] = attribute;
    this.values[placeholder] = value;
    this.conditions.push(`${name} ${op} ${placeholder}`);
    return this;
  }

  get empty(): boolean {
    return this.conditions.length === 0;
  }

  /** The parts to spread into a QueryCommandInput. */
  input(): Pick<
    QueryCommandInput,
    'FilterExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
  > {
    return {
      ...(this.empty
        ? {}
        : {
            FilterExpression: this.conditions.join(' AND '),
            ExpressionAttributeNames: this.names,
          }),
      ExpressionAttributeValues: this.values,
    };
  }
}
