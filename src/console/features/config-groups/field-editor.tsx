// A form for a group's configuration, built from the field catalog: one typed input per field,
// the manager's validation message under the field it concerns.
import {
  ActionIcon,
  Group,
  NumberInput,
  PasswordInput,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core';
import { IconX } from '@tabler/icons-react';
import { FIELD_CATALOG, type FieldDef, fieldDef } from '../../../contract/fleet-fields';

export type Draft = Record<string, unknown>;

function FieldInput({
  def,
  value,
  error,
  onChange,
}: {
  def: FieldDef;
  value: unknown;
  error?: string;
  onChange: (v: unknown) => void;
}) {
  const common = { label: def.name, description: def.description, error };
  switch (def.type) {
    case 'boolean':
      return (
        <Switch {...common} checked={value === true} onChange={(e) => onChange(e.currentTarget.checked)} />
      );
    case 'integer':
    case 'number':
      return (
        <NumberInput
          {...common}
          min={def.min}
          max={def.max}
          allowDecimal={def.type === 'number'}
          value={typeof value === 'number' ? value : ''}
          onChange={(v) => onChange(v === '' ? null : Number(v))}
        />
      );
    case 'enum':
      return (
        <Select
          {...common}
          data={[...(def.values ?? [])]}
          value={typeof value === 'string' ? value : null}
          onChange={(v) => onChange(v)}
        />
      );
    case 'list':
      return (
        <TagsInput
          {...common}
          value={Array.isArray(value) ? value.map(String) : []}
          onChange={onChange}
          maxTags={def.maxItems}
        />
      );
    default:
      return def.secret ? (
        <PasswordInput
          {...common}
          placeholder={value === undefined ? 'stored (write-only): type to replace' : undefined}
          value={typeof value === 'string' ? value : ''}
          onChange={(e) => onChange(e.currentTarget.value)}
          autoComplete="off"
        />
      ) : (
        <TextInput
          {...common}
          maxLength={def.maxLength}
          value={typeof value === 'string' ? value : ''}
          onChange={(e) => onChange(e.currentTarget.value)}
        />
      );
  }
}

export function FieldEditor({
  draft,
  setDraft,
  errors,
}: {
  draft: Draft;
  setDraft: (d: Draft) => void;
  errors: (field: string) => string | undefined;
}) {
  const names = Object.keys(draft).sort();
  const unused = FIELD_CATALOG.filter((f) => !(f.name in draft));
  return (
    <Stack gap="sm">
      {names.length === 0 && (
        <Text size="sm" c="dimmed">
          No fields set: members keep their own configuration. Add a field below.
        </Text>
      )}
      {names.map((name) => {
        const def = fieldDef(name);
        return (
          <Group key={name} align="flex-start" wrap="nowrap" gap="xs">
            <div style={{ flex: 1 }}>
              {def ? (
                <FieldInput
                  def={def}
                  value={draft[name]}
                  error={errors(name)}
                  onChange={(v) => setDraft({ ...draft, [name]: v })}
                />
              ) : (
                <TextInput
                  label={name}
                  description="Not in this console's catalog"
                  value={JSON.stringify(draft[name])}
                  readOnly
                  error={errors(name)}
                />
              )}
            </div>
            <ActionIcon
              variant="subtle"
              color="gray"
              mt={24}
              aria-label={`Remove ${name}`}
              onClick={() => {
                const { [name]: _, ...rest } = draft;
                setDraft(rest);
              }}
            >
              <IconX size={16} />
            </ActionIcon>
          </Group>
        );
      })}
      <Select
        label="Add a field"
        placeholder="Search the field catalog"
        searchable
        value={null}
        data={unused.map((f) => ({ value: f.name, label: `${f.name} — ${f.description}` }))}
        onChange={(name) => {
          const def = name ? fieldDef(name) : undefined;
          if (def) setDraft({ ...draft, [def.name]: def.secret ? '' : def.default });
        }}
      />
    </Stack>
  );
}
