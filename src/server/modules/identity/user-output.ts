// How a user is shown by the API (the seed's user fields): never a password hash.

import type { Role } from '../../db/schema.js';
import type { UserRow } from './identity.repo.js';

export interface UserOut {
  id: number;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
  directory_name: string;
  directory_type: number;
  last_login: string | null;
  date_joined: string;
  is_superuser: boolean;
  is_active: boolean;
  role: Role;
  api_only: boolean;
  group_id: number | null;
}

export function userOut(u: UserRow): UserOut {
  return {
    id: u.id,
    username: u.username,
    email: u.email,
    first_name: u.first_name,
    last_name: u.last_name,
    directory_name: u.directory_name,
    directory_type: u.directory_type,
    last_login: u.last_login ? u.last_login.toISOString() : null,
    date_joined: u.date_joined.toISOString(),
    is_superuser: u.role === 'admin',
    is_active: u.is_active,
    role: u.role,
    api_only: u.api_only,
    group_id: u.group_id,
  };
}
