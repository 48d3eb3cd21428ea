// A form for a group's configuration, built from the field catalog: one typed input per field,
// labelled in words with its section, name, range and default as help. A value the catalog
// refuses is said under the field as it is typed (the same check the manager makes), and the
// manager's message after a save; a number out of range is never clamped behind the admin's back.
import {
  ActionIcon,
  Code,
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
import {
  checkValue,
  FIELD_CATALOG,
  type FieldDef,
  fieldDef,
  fieldHelp,
  fieldSection,
} from '../../../contract/fleet-fields';

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
  const help = fieldHelp(def);
  const common = {
    label: def.description,
    description: (
      <>
        {fieldSection(def.name)} · <Code fz="xs">{def.name}</Code>
        {help ? ` · ${help}` : ''}
      </>
    ),
    // What the manager said after a save, else what it would say now.
    error: error ?? checkValue(def, value),
  };
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
          clampBehavior="none"
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
              aria-label={`Remove ${def?.description ?? name}`}
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
        data={unused.map((f) => ({
          value: f.name,
          label: `${f.description} (${fieldSection(f.name)}, ${f.name})`,
        }))}
        onChange={(name) => {
          const def = name ? fieldDef(name) : undefined;
          if (def) setDraft({ ...draft, [def.name]: def.secret ? '' : def.default });
        }}
      />
    </Stack>
  );
}
