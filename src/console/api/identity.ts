// Sign-in, sessions, tokens, users and groups.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, setSignedIn } from './client';

export { onSessionEnded } from './client';

import { ApiError, unwrap } from './errors';
import type { NewToken, NewUser, TokenPatch, TokenSettings, UserPatch, WhoAmI } from './types';

export const keys = {
  whoami: ['whoami'] as const,
  tokens: ['tokens'] as const,
  tokenActivity: (id: number) => ['tokens', id, 'activity'] as const,
  tokenSettings: ['token-settings'] as const,
  users: ['users'] as const,
  groups: ['groups'] as const,
  sessions: ['sessions'] as const,
};

/** Who is signed in; `null` when nobody is (401). */
export function useWhoAmI() {
  return useQuery({
    queryKey: keys.whoami,
    retry: false,
    staleTime: 60_000,
    queryFn: async (): Promise<WhoAmI | null> => {
      const res = await api.GET('/api/v1/auth/whoami/');
      if (res.response.status === 401) {
        setSignedIn(false);
        return null;
      }
      const me = unwrap(res);
      setSignedIn(true);
      return me;
    },
  });
}

export function useSignIn() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: { username: string; password: string }) =>
      unwrap(await api.POST('/api/v1/auth/token/', { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.whoami }),
  });
}

export function useSignOut() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async () => {
      setSignedIn(false);
      const res = await api.POST('/api/v1/auth/logout/');
      if (!res.response.ok && res.response.status !== 401) unwrap(res);
    },
    onSettled: () => {
      qc.clear();
      qc.setQueryData(keys.whoami, null);
    },
  });
}

export function useSessions() {
  return useQuery({
    queryKey: keys.sessions,
    queryFn: async () => unwrap(await api.GET('/api/v1/auth/sessions/')),
  });
}

export function useEndSession() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: number) =>
      unwrap(await api.DELETE('/api/v1/auth/sessions/{id}/', { params: { path: { id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.sessions }),
  });
}

export function useTokens(enabled = true) {
  return useQuery({
    queryKey: keys.tokens,
    enabled,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/tokens/', { params: { query: { page_size: 100, ordering: 'name' } } })),
  });
}

export function useTokenActivity(id: number | null) {
  return useQuery({
    queryKey: keys.tokenActivity(id ?? 0),
    enabled: id !== null,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/tokens/{id}/activity/', {
          params: { path: { id: id ?? 0 }, query: { page_size: 20 } },
        }),
      ),
  });
}

/** Token settings are admin-only; anyone else gets `null` and the page works without them. */
export function useTokenSettings() {
  return useQuery({
    queryKey: keys.tokenSettings,
    retry: false,
    queryFn: async (): Promise<TokenSettings | null> => {
      const res = await api.GET('/api/v1/config/api_tokens/');
      if (res.response.status === 403) return null;
      return unwrap(res);
    },
  });
}

export function useSaveTokenSettings() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: TokenSettings) => unwrap(await api.POST('/api/v1/config/api_tokens/', { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.tokenSettings }),
  });
}

export function useCreateToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: NewToken) => unwrap(await api.POST('/api/v1/tokens/', { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.tokens }),
  });
}

export function useUpdateToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ id, body }: { id: number; body: TokenPatch }) =>
      unwrap(await api.PATCH('/api/v1/tokens/{id}/', { params: { path: { id } }, body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.tokens }),
  });
}

export function useRefreshToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ id, grace }: { id: number; grace: number }) =>
      unwrap(
        await api.POST('/api/v1/tokens/{id}/refresh/', {
          params: { path: { id } },
          body: { grace_period_seconds: grace },
        }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.tokens }),
  });
}

export function useDeleteToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: number) => {
      const res = await api.DELETE('/api/v1/tokens/{id}/', { params: { path: { id } } });
      if (!res.response.ok) unwrap(res);
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.tokens }),
  });
}

export function useUsers(enabled = true) {
  return useQuery({
    queryKey: keys.users,
    enabled,
    retry: (n, e) => !(e instanceof ApiError && e.status === 403) && n < 2,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/authentication/users/', {
          params: { query: { page_size: 100, ordering: 'username' } },
        }),
      ),
  });
}

export function useAddUser() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: NewUser) =>
      unwrap(await api.POST('/api/v1/authentication/users/add/', { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.users }),
  });
}

export function useUpdateUser() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ id, body }: { id: number; body: UserPatch }) =>
      unwrap(await api.PATCH('/api/v1/authentication/users/{id}/', { params: { path: { id } }, body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.users }),
  });
}

export function useSetPassword() {
  return useMutation({
    mutationFn: async ({ id, password, current }: { id: number; password: string; current?: string }) =>
      unwrap(
        await api.PUT('/api/v1/authentication/users/{id}/password/', {
          params: { path: { id } },
          body: current ? { password, current_password: current } : { password },
        }),
      ),
  });
}

export function useCreateApiKey() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: number) =>
      unwrap(
        await api.POST('/api/v1/authentication/users/{id}/api-key/', { params: { path: { id } }, body: {} }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.tokens }),
  });
}

export function useGroups(enabled = true) {
  return useQuery({
    queryKey: keys.groups,
    enabled,
    queryFn: async () => unwrap(await api.GET('/api/v1/authentication/groups/')),
  });
}

export function useAddGroup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: { name: string; description?: string }) =>
      unwrap(await api.POST('/api/v1/authentication/groups/', { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.groups }),
  });
}

export function useDeleteGroup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: number) => {
      const res = await api.DELETE('/api/v1/authentication/groups/{id}/', { params: { path: { id } } });
      if (!res.response.ok) unwrap(res);
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.groups }),
  });
}
