// Request and response schemas of the destination list routes.
import { Type } from 'typebox';
import { Id, StrictObject } from '../../http/schemas.js';

const ListName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]*$',
  description:
    'A letter or digit, then letters, digits, spaces, dots, dashes or underscores; unique (case-insensitively), and what configuration content references',
});

const EntryText = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'An IPv4 or IPv6 address, or a network in CIDR notation',
});

export const ListParams = StrictObject({
  id: Id({ description: 'Destination list id' }),
});
export const EntryParams = StrictObject({
  id: Id({ description: 'Destination list id' }),
  entry_id: Id({ description: 'Entry id' }),
});

export const DestinationList = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    description: Type.String(),
    entry_count: Type.Integer(),
    used_by: Type.Array(Type.String(), {
      description: 'Configuration groups whose content references this list',
    }),
    created: Type.String(),
    updated: Type.String(),
  },
  {
    examples: [
      {
        id: 1,
        name: 'office-egress',
        description: 'Where workers may send results',
        entry_count: 2,
        used_by: ['TestGroup1'],
        created: '2026-01-01T10:00:00.000Z',
        updated: '2026-01-02T08:30:00.000Z',
      },
    ],
  },
);

export const Entry = Type.Object(
  {
    id: Type.Integer(),
    value: Type.String({
      description: 'Normalised: IPv6 compressed lowercase; /32 and /128 as bare addresses',
    }),
    kind: Type.String({ description: '`ip` or `cidr`' }),
    comment: Type.String(),
    created: Type.String(),
  },
  {
    examples: [
      { id: 7, value: '192.0.2.0/24', kind: 'cidr', comment: 'SIEM', created: '2026-01-01T10:00:00.000Z' },
    ],
  },
);

export const CreateListBody = StrictObject(
  {
    name: ListName,
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    entries: Type.Optional(Type.Array(EntryText, { maxItems: 1000, description: 'Initial entries' })),
  },
  {
    examples: [
      {
        name: 'office-egress',
        description: 'Where workers may send results',
        entries: ['192.0.2.10', '198.51.100.0/24'],
      },
    ],
  },
);

export const UpdateListBody = StrictObject(
  {
    name: Type.Optional(ListName),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { examples: [{ description: 'Egress for the Frankfurt office' }] },
);

export const EntriesBody = StrictObject(
  {
    entries: Type.Array(EntryText, { minItems: 1, maxItems: 1000 }),
    comment: Type.Optional(Type.String({ maxLength: 300, description: 'Stored with each added entry' })),
  },
  { examples: [{ entries: ['203.0.113.5', '2001:db8::/32'], comment: 'partner SIEM' }] },
);

export const RemoveEntriesBody = StrictObject(
  { entries: Type.Array(EntryText, { minItems: 1, maxItems: 1000 }) },
  { examples: [{ entries: ['203.0.113.5'] }] },
);

export const EntriesChanged = Type.Object(
  {
    added: Type.Optional(Type.Array(Entry)),
    removed: Type.Optional(Type.Array(Entry)),
    groups_out_of_sync: Type.Array(Type.String(), {
      description: 'Groups that got a new revision with the change (their members: changes_awaiting_apply)',
    }),
  },
  {
    examples: [
      {
        added: [
          {
            id: 8,
            value: '203.0.113.5',
            kind: 'ip',
            comment: 'partner SIEM',
            created: '2026-01-01T10:00:00.000Z',
          },
        ],
        groups_out_of_sync: ['TestGroup1'],
      },
    ],
  },
);
