// The whoami answer both reference servers give (bench/reference-server.mjs and
// bench/ecosystem-reference-server.mjs): the same fields as the manager's, for a token with the
// benchmark's one scope.
export function whoamiBody(tokenId = 1, permissions = ['users:read']) {
  return {
    user: {
      id: 1,
      username: 'admin',
      email: '',
      first_name: '',
      last_name: '',
      directory_name: '',
      directory_type: 0,
      last_login: new Date().toISOString(),
      date_joined: new Date().toISOString(),
      is_superuser: true,
      is_active: true,
      role: 'admin',
      api_only: false,
      group_id: null,
    },
    auth_method: 'api_token',
    credential_source: 'authorization_token',
    token_id: tokenId,
    session_id: null,
    permissions,
  };
}
