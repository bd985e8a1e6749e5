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
 * `from` resumes after that key (exclusive), as a page token does.
 */
export async function* queryPages(
  doc: DynamoDBDocumentClient,
  what: string,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey' | 'Limit'>,
  pageLimit?: () => number | undefined,
  from?: Record<string, unknown>,
): AsyncGenerator<QueryCommandOutput> {
  let startKey: Record<string, unknown> | undefined = from;
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

/** Items read from DynamoDB per request at most (one Query page is also at most 1 MB). */
const MAX_QUERY_PAGE = 1000;

export interface PageRequest {
  /** The partition the query reads (its `pk`), to resume inside it. */
  pk: string;
  /** Items wanted, at least 1. */
  limit: number;
  /** Resume after the item with this sort key (exclusive): the position a page token holds. */
  after?: string;
  /** Items evaluated at most, to bound one request when filters reject most of them. */
  maxRead: number;
  /** A check done here on items the FilterExpression kept (what DynamoDB cannot express). */
  keep?: (item: Record<string, unknown>) => boolean;
}

/** `{ after }` for a PageRequest when resuming, nothing for a first page. */
export const pageAfter = (after: string | undefined): { after?: string } =>
  after === undefined ? {} : { after };

export interface ItemPage {
  items: Record<string, unknown>[];
  /** Sort key of the last item considered when more may follow; undefined at the end. */
  next?: string;
}

/**
 * One page of a single-partition Query for a paged API list: up to `limit`
 * items in store order, and the position to resume from. Stops early (with a
 * position) once `maxRead` items were evaluated, so a page under a selective
 * filter may be short, or even empty, and still not be the last.
 */
export async function readPage(
  doc: DynamoDBDocumentClient,
  what: string,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey' | 'Limit'>,
  request: PageRequest,
): Promise<ItemPage> {
  const items: Record<string, unknown>[] = [];
  let read = 0;
  const filtered = input.FilterExpression !== undefined;
  const pages = queryPages(
    doc,
    what,
    input,
    // Unfiltered, one more than wanted tells whether anything follows without an extra read.
    () =>
      Math.max(
        1,
        Math.min(
          filtered ? MAX_QUERY_PAGE : request.limit - items.length + 1,
          request.maxRead - read,
          MAX_QUERY_PAGE,
        ),
      ),
    request.after === undefined ? undefined : { pk: request.pk, sk: request.after },
  );
  for await (const page of pages) {
    const got = page.Items ?? [];
    read += page.ScannedCount ?? got.length;
    for (let i = 0; i < got.length; i++) {
      const item = got[i]!;
      if (request.keep && !request.keep(item)) continue;
      items.push(item);
      if (items.length === request.limit) {
        const more = i < got.length - 1 || page.LastEvaluatedKey !== undefined;
        return more ? { items, next: String(item.sk) } : { items };
      }
    }
    if (page.LastEvaluatedKey === undefined) return { items };
    if (read >= request.maxRead) return { items, next: String(page.LastEvaluatedKey.sk) };
  }
  return { items };
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
