// Exports of a list (`GET .../export/?format=csv|json`): the same filters, permission, rows and
// fields as the list, streamed batch by batch so the manager never holds the whole file.
//
// - Rows come from the service as an async iterable of batches (keyset or page reads); each
//   batch is encoded and written as the client takes it (Readable.from pipes with backpressure).
// - The first batch is read before any byte goes out: a bad filter, a missing permission or a
//   failing first query is an ordinary problem+json answer, never a half-sent file.
// - Each row is serialised with the list item's own schema (`reply.serializeInput`, the same
//   serializer Fastify uses for the list), so an export shows exactly the list's fields and
//   nothing a row carries beyond them (a digest could never slip out).
// - CSV is RFC 4180 (CRLF, fields with a comma, quote or line break quoted) by csv-stringify,
//   with spreadsheet formula injection neutralised (`escape_formulas`: a text cell starting with
//   = + - @ tab or CR gets a leading '). Objects and arrays are one cell of JSON.
// - JSON is one array. An error after the first byte aborts the connection, so a client sees a
//   failed download (no closing chunk), never a truncated file that looks complete.

import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { FastifyReply } from 'fastify';
import { type TObject, type TProperties, Type } from 'typebox';
import { StrictObject } from './schemas.js';

export type ExportFormat = 'csv' | 'json';

/** The list parameters an export does not take: it always covers every matching row. */
const PAGING = ['page', 'page_size', 'size', 'limit', 'offset', 'cursor'] as const;
type Paging = (typeof PAGING)[number];

export const ExportFormatSchema = Type.Union([Type.Literal('csv'), Type.Literal('json')], {
  description:
    "`csv` (RFC 4180, a header row, text cells starting with = + - @ tab or CR prefixed with `'`) or `json` (one array of the list's items)",
  examples: ['csv'],
});

/** An export's querystring: the list's own filters (its schema, less paging) and `format`. */
export function ExportQuery<T extends TProperties>(list: TObject<T>) {
  const filters = Object.fromEntries(
    Object.entries(list.properties).filter(([k]) => !(PAGING as readonly string[]).includes(k)),
  ) as Omit<T, Paging>;
  return StrictObject({ ...filters, format: ExportFormatSchema });
}

/** The OpenAPI answer of an export: a CSV file or a JSON array of the list's items. */
export function ExportResponse(item: TObject, example?: unknown) {
  return {
    description: 'The file, as an attachment (`content-disposition`), streamed',
    content: {
      'text/csv': {
        schema: Type.String({ description: 'A header row of the field names, then one row per item' }),
        example: `${Object.keys(item.properties).join(',')}\r\n…`,
      },
      'application/json': {
        schema: Type.Array(item),
        example: [example ?? (item as { examples?: unknown[] }).examples?.[0] ?? {}],
      },
    },
  };
}

/** One cell: text as is, numbers and booleans as written in JSON, objects as JSON, null empty. */
function cell(v: unknown): string | number {
  if (v === null || v === undefined) return '';
  // csv-stringify would write booleans as 1 and an empty cell; the list says true and false.
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'object') return JSON.stringify(v);
  return v as string | number;
}

// csv-stringify quotes a field holding the record delimiter (CRLF) but not a lone CR or LF,
// which RFC 4180 readers take as a line break: `quoted_match` quotes those too.
const csvOptions = {
  escape_formulas: true,
  record_delimiter: 'windows' as const,
  eof: true,
  quoted_match: /[\r\n]/,
};

export interface ExportOptions<T> {
  /** The file's name part: `steward-<name>-<yyyy-mm-dd>.<format>`. */
  name: string;
  format: ExportFormat;
  /** The list item's schema: its properties are the columns, in order. */
  item: TObject;
  /** The rows, in batches. */
  batches: AsyncIterable<T[]>;
  now?: Date;
}

/** Sends the rows as an attachment. Resolves once the stream is handed to Fastify. */
export async function sendExport<T extends object>(reply: FastifyReply, opts: ExportOptions<T>) {
  const it = opts.batches[Symbol.asyncIterator]();
  // Read before answering: errors here are still a clean 4xx/5xx.
  const first = await it.next();
  const columns = Object.keys(opts.item.properties);
  const serialize = (row: T) =>
    reply.serializeInput(row as Record<string, unknown>, opts.item as unknown as Record<string, unknown>);
  const date = (opts.now ?? new Date()).toISOString().slice(0, 10);
  const csv = opts.format === 'csv';

  async function* body(): AsyncGenerator<string> {
    let next = first;
    let rows = 0;
    try {
      yield csv ? stringify([columns], csvOptions) : '[';
      while (!next.done) {
        const batch = next.value;
        if (batch.length > 0) {
          if (csv) {
            const records = batch.map((row) => {
              const out = JSON.parse(serialize(row)) as Record<string, unknown>;
              return columns.map((c) => cell(out[c]));
            });
            yield stringify(records, csvOptions);
          } else {
            yield `${rows === 0 ? '\n' : ',\n'}${batch.map(serialize).join(',\n')}`;
          }
          rows += batch.length;
        }
        next = await it.next();
      }
      if (!csv) yield '\n]\n';
    } finally {
      // The client went away (or a read failed): stop the reads too.
      if (!next.done) await it.return?.();
    }
  }

  reply
    .type(csv ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
    .header('content-disposition', `attachment; filename="steward-${opts.name}-${date}.${opts.format}"`);
  return reply.send(Readable.from(body(), { objectMode: false }));
}
