// Who is signed in, and what happens when the session ends under our feet: the next API call
// answers 401, and the user is sent to the sign-in page with a message saying why.
import { Center, Loader } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useEffect, useState } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { keys, onSessionEnded, useWhoAmI } from '../../api/identity';
import type { WhoAmI } from '../../api/types';

interface SessionState {
  me: WhoAmI | null;
  notice: string | null;
  setNotice: (n: string | null) => void;
  can: (permission: string) => boolean;
  isAdmin: boolean;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const whoami = useWhoAmI();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(
    () =>
      onSessionEnded(() => {
        setNotice('Your session has expired or was ended. Sign in again to continue.');
        qc.clear();
        qc.setQueryData(keys.whoami, null);
        navigate('/sign-in', { replace: true, state: { from: location.pathname } });
      }),
    [qc, navigate, location.pathname],
  );

  const me = whoami.data ?? null;
  const perms = new Set(me?.permissions ?? []);
  const value: SessionState = {
    me,
    notice,
    setNotice,
    can: (p) => perms.has(p) || perms.has('*'),
    isAdmin: me?.user.role === 'admin',
  };
  if (whoami.isPending) {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

export function RequireSession({ children }: { children: ReactNode }) {
  const { me } = useSession();
  const location = useLocation();
  if (!me) return <Navigate to="/sign-in" replace state={{ from: location.pathname }} />;
  return <>{children}</>;
}
