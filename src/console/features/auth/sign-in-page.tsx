import {
  Alert,
  Anchor,
  Button,
  Center,
  Paper,
  PasswordInput,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconAlertCircle, IconInfoCircle } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { ApiError, errorMessage, fieldError } from '../../api/errors';
import { useSignIn } from '../../api/identity';
import { API_DOCS_URL } from '../../api/system';
import { useSession } from './session';

const capitalize = (s: string) => (s ? `${s[0]?.toUpperCase()}${s.slice(1)}.`.replace(/\.\.$/, '.') : s);

function signInMessage(error: unknown): string {
  if (error instanceof ApiError) {
    // 401: wrong credentials or a disabled account; 403: an API-only account. The manager's
    // message says which, without revealing whether the username exists.
    if (error.status === 401 || error.status === 403) return capitalize(error.message);
    if (error.status === 429) return 'Too many attempts. Wait a minute and try again.';
  }
  return errorMessage(error);
}

export function SignInPage() {
  const { me, notice, setNotice } = useSession();
  const signIn = useSignIn();
  const navigate = useNavigate();
  const location = useLocation();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const from = (location.state as { from?: string } | null)?.from;

  if (me) return <Navigate to={from && from !== '/sign-in' ? from : '/'} replace />;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setNotice(null);
    signIn.mutate(
      { username, password },
      {
        onSuccess: () => {
          setNotice(null);
          navigate(from && from !== '/sign-in' ? from : '/', { replace: true });
        },
      },
    );
  };
  const apiOnly = signIn.error instanceof ApiError && signIn.error.status === 403;

  return (
    <Center mih="100vh" p="md" bg="var(--steward-backdrop)">
      <Paper component="main" withBorder shadow="sm" p="xl" w="100%" maw={400} radius="md">
        <form onSubmit={submit} aria-labelledby="sign-in-title">
          <Stack>
            <div>
              <Title order={1} size="h2" id="sign-in-title">
                Steward
              </Title>
              <Text c="dimmed" size="sm">
                Sign in to manage your appliance fleet
              </Text>
            </div>
            {notice && (
              <Alert color="yellow" icon={<IconInfoCircle />} role="status">
                {notice}
              </Alert>
            )}
            {signIn.error && (
              <Alert
                color="red"
                icon={<IconAlertCircle />}
                role="alert"
                title={apiOnly ? 'This account cannot sign in here' : 'Sign-in failed'}
              >
                {signInMessage(signIn.error)}
              </Alert>
            )}
            <TextInput
              label="Username"
              name="username"
              autoComplete="username"
              required
              autoFocus
              value={username}
              onChange={(e) => setUsername(e.currentTarget.value)}
              error={fieldError(signIn.error, 'username')}
            />
            <PasswordInput
              label="Password"
              name="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              error={fieldError(signIn.error, 'password')}
            />
            <Button type="submit" loading={signIn.isPending} fullWidth>
              Sign in
            </Button>
            <Text size="xs" c="dimmed" ta="center">
              Scripts and integrations use API tokens:{' '}
              <Anchor href={API_DOCS_URL} size="xs">
                API documentation
              </Anchor>
            </Text>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
