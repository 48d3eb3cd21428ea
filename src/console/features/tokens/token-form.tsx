// The "+ New token" and "Edit token" dialog: every option a token has, errors next to fields.
import {
  Alert,
  Button,
  Checkbox,
  Group,
  Modal,
  NumberInput,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  TagsInput,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { IconAlertCircle } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { fieldError, formErrorMessage, rangeError } from '../../api/errors';
import { useCreateToken, useUpdateToken, useUsers } from '../../api/identity';
import { AREAS, type NewToken, type Token, type TokenSettings, type TokenWithSecret } from '../../api/types';
import { useSession } from '../auth/session';

type ExpiryChoice = '30' | '90' | '365' | 'never' | 'custom';

const DAY = 86_400_000;

function initialExpiry(token: Token | undefined, settings: TokenSettings | null | undefined): ExpiryChoice {
  if (token) return token.expires_at ? 'custom' : 'never';
  const d = settings?.default_lifetime_days;
  if (d === null && !settings?.max_lifetime_days) return 'never';
  if (d === 30 || d === 365) return String(d) as ExpiryChoice;
  return '90';
}

export function TokenFormModal({
  opened,
  onClose,
  token,
  settings,
  onCreated,
}: {
  opened: boolean;
  onClose: () => void;
  token?: Token;
  settings: TokenSettings | null | undefined;
  onCreated: (t: TokenWithSecret) => void;
}) {
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={token ? `Edit token “${token.name}”` : 'New API token'}
      size="lg"
      centered
    >
      {opened && <TokenForm token={token} settings={settings} onDone={onClose} onCreated={onCreated} />}
    </Modal>
  );
}

function TokenForm({
  token,
  settings,
  onDone,
  onCreated,
}: {
  token?: Token;
  settings: TokenSettings | null | undefined;
  onDone: () => void;
  onCreated: (t: TokenWithSecret) => void;
}) {
  const { me, isAdmin } = useSession();
  const users = useUsers(isAdmin && !token);
  const create = useCreateToken();
  const update = useUpdateToken();
  const mutation = token ? update : create;
  const error = mutation.error;

  const [name, setName] = useState(token?.name ?? '');
  const [description, setDescription] = useState(token?.description ?? '');
  const [ownerId, setOwnerId] = useState<string | null>(String(token?.owner_id ?? me?.user.id ?? ''));
  const [expiry, setExpiry] = useState<ExpiryChoice>(initialExpiry(token, settings));
  const [customDate, setCustomDate] = useState(token?.expires_at?.slice(0, 10) ?? '');
  const [scopes, setScopes] = useState<string[]>(token?.scopes.filter((s) => s !== '*') ?? []);
  const [enabled, setEnabled] = useState(token?.enabled ?? true);
  const [requiresLogin, setRequiresLogin] = useState(token?.requires_login ?? false);
  const [allowInUrl, setAllowInUrl] = useState(token?.allow_in_url ?? false);
  const [allowedIps, setAllowedIps] = useState<string[]>(token?.allowed_ips ?? []);
  const [rateLimit, setRateLimit] = useState<number | string>(token?.rate_limit_per_minute ?? '');
  const [tags, setTags] = useState<string[]>(token?.default_tags ?? []);
  const [profile, setProfile] = useState(token?.default_profile ?? '');

  const owner = users.data?.results.find((u) => String(u.id) === ownerId);
  // Admins may hand out any permission (the manager narrows it to the owner's role); others
  // only what they hold themselves.
  const grantable = (perm: string) => isAdmin || (me?.permissions ?? []).includes(perm);
  const maxDays = settings?.max_lifetime_days ?? null;

  const expiresAt = (): string | null => {
    if (expiry === 'never') return null;
    if (expiry === 'custom') return customDate ? new Date(`${customDate}T23:59:59Z`).toISOString() : null;
    return new Date(Date.now() + Number(expiry) * DAY).toISOString();
  };

  const toggleScope = (perm: string, on: boolean) =>
    setScopes((s) => (on ? [...new Set([...s, perm])] : s.filter((x) => x !== perm)));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body: NewToken = {
      name: name.trim(),
      description,
      enabled,
      expires_at: expiresAt(),
      requires_login: requiresLogin,
      allow_in_url: allowInUrl,
      allowed_ips: allowedIps,
      rate_limit_per_minute: rateLimit === '' ? null : Number(rateLimit),
      default_tags: tags,
      default_profile: profile.trim() === '' ? null : profile.trim(),
    };
    if (scopes.length > 0 || token) body.scopes = scopes;
    if (token) {
      update.mutate({ id: token.id, body }, { onSuccess: onDone });
    } else {
      if (isAdmin && ownerId && Number(ownerId) !== me?.user.id) body.owner_id = Number(ownerId);
      create.mutate(body, {
        onSuccess: (t) => {
          onDone();
          onCreated(t);
        },
      });
    }
  };

  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="sm">
        {error && (
          <Alert color="red" icon={<IconAlertCircle />} role="alert">
            {formErrorMessage(error)}
          </Alert>
        )}
        <TextInput
          label="Name"
          description="One token per application, named after it, so each can be removed or expired alone"
          required
          data-autofocus
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          error={fieldError(error, 'name')}
          maxLength={100}
        />
        <Textarea
          label="Description"
          autosize
          minRows={1}
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
          error={fieldError(error, 'description')}
        />
        {isAdmin && !token && (
          <Select
            label="Owner"
            description="The token acts as this user; API-only users exist for integrations"
            data={(users.data?.results ?? []).map((u) => ({
              value: String(u.id),
              label: `${u.username} (${u.role}${u.api_only ? ', API-only' : ''})`,
            }))}
            value={ownerId}
            onChange={setOwnerId}
            searchable
            allowDeselect={false}
            error={fieldError(error, 'owner_id')}
          />
        )}
        <Group grow align="flex-start" wrap="wrap">
          <Select
            label="Expires"
            data={[
              { value: '30', label: 'In 30 days' },
              { value: '90', label: 'In 90 days' },
              { value: '365', label: 'In 1 year' },
              { value: 'custom', label: 'On a date…' },
              { value: 'never', label: 'Never', disabled: maxDays !== null },
            ]}
            value={expiry}
            onChange={(v) => setExpiry((v as ExpiryChoice) ?? '90')}
            allowDeselect={false}
            error={expiry !== 'custom' ? fieldError(error, 'expires_at') : undefined}
            description={maxDays !== null ? `At most ${maxDays} days (token settings)` : undefined}
          />
          {expiry === 'custom' && (
            <TextInput
              type="date"
              label="Expiry date (UTC, end of day)"
              value={customDate}
              onChange={(e) => setCustomDate(e.currentTarget.value)}
              error={fieldError(error, 'expires_at')}
              required
            />
          )}
        </Group>
        <div>
          <Text size="sm" fw={500} id="scopes-label">
            Scopes
          </Text>
          <Text size="xs" c="dimmed" mb={6}>
            What the token may do. None ticked: the owner's read permissions.
            {owner ? ` Limited to what ${owner.username} (${owner.role}) may do.` : ''}
          </Text>
          <SimpleGrid
            cols={{ base: 1, xs: 2 }}
            spacing={6}
            verticalSpacing={4}
            role="group"
            aria-labelledby="scopes-label"
          >
            {AREAS.map((area) => (
              <Group key={area} gap={8} wrap="nowrap">
                <Text size="sm" w={110}>
                  {area}
                </Text>
                {(['read', 'write'] as const).map((level) => {
                  const perm = `${area}:${level}`;
                  return (
                    <Checkbox
                      key={perm}
                      size="xs"
                      label={level}
                      aria-label={perm}
                      disabled={!grantable(perm)}
                      checked={scopes.includes(perm)}
                      onChange={(e) => toggleScope(perm, e.currentTarget.checked)}
                    />
                  );
                })}
              </Group>
            ))}
          </SimpleGrid>
          {fieldError(error, 'scopes') && (
            <Text c="red" size="xs" mt={4} role="alert">
              {fieldError(error, 'scopes')}
            </Text>
          )}
        </div>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <Switch label="Enabled" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
          <Switch
            label="Requires login"
            description="Works only while the owner is signed in"
            checked={requiresLogin}
            onChange={(e) => setRequiresLogin(e.currentTarget.checked)}
          />
          <Switch
            label="Allow in URL"
            description={
              settings && !settings.allow_tokens_in_url
                ? '?token= is off in the token settings'
                : 'May be sent as ?token= (visible in logs)'
            }
            checked={allowInUrl}
            onChange={(e) => setAllowInUrl(e.currentTarget.checked)}
            error={fieldError(error, 'allow_in_url')}
          />
        </SimpleGrid>
        <TagsInput
          label="Allowed IPs"
          description="Addresses or CIDR blocks; press Enter after each. Empty: any address"
          placeholder="192.0.2.0/24"
          value={allowedIps}
          onChange={setAllowedIps}
          error={fieldError(error, 'allowed_ips')}
          splitChars={[',', ' ']}
        />
        <Group grow align="flex-start" wrap="wrap">
          <NumberInput
            label="Rate limit (requests per minute)"
            placeholder={
              settings?.default_rate_limit_per_minute
                ? String(settings.default_rate_limit_per_minute)
                : 'Default'
            }
            min={1}
            max={1_000_000}
            clampBehavior="none"
            value={rateLimit}
            onChange={setRateLimit}
            error={fieldError(error, 'rate_limit_per_minute') ?? rangeError(rateLimit, 1, 1_000_000)}
          />
          <TextInput
            label="Default profile"
            placeholder="none"
            value={profile}
            onChange={(e) => setProfile(e.currentTarget.value)}
            error={fieldError(error, 'default_profile')}
          />
        </Group>
        <TagsInput
          label="Default tags"
          description="Applied to what this token uploads"
          value={tags}
          onChange={setTags}
          error={fieldError(error, 'default_tags')}
        />
        <Group justify="flex-end" mt="sm">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={mutation.isPending}>
            {token ? 'Save' : 'Create token'}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
