// The console's pages, by section: the side navigation and the Ctrl+K palette both list them, so
// a page added here can be reached both ways, and each shows only to who may read it.
import {
  IconActivity,
  IconAffiliate,
  IconClipboardList,
  IconDatabaseExport,
  IconDeviceDesktopAnalytics,
  IconFiles,
  IconKey,
  IconLayoutDashboard,
  IconLicense,
  IconPackage,
  IconServer,
  IconSettings,
  IconStack2,
  IconUsers,
} from '@tabler/icons-react';
import type { ReactNode } from 'react';

export interface NavItem {
  to: string;
  label: string;
  icon: ReactNode;
  permission?: string;
}

export const NAV_SECTIONS: { title: string; items: NavItem[] }[] = [
  {
    title: 'Fleet',
    items: [
      { to: '/', label: 'Dashboard', icon: <IconLayoutDashboard size={18} /> },
      {
        to: '/appliances',
        label: 'Appliances',
        icon: <IconServer size={18} />,
        permission: 'appliances:read',
      },
      {
        to: '/config-groups',
        label: 'Configuration groups',
        icon: <IconStack2 size={18} />,
        permission: 'configuration:read',
      },
      {
        to: '/hub-groups',
        label: 'Hub groups',
        icon: <IconAffiliate size={18} />,
        permission: 'configuration:read',
      },
      {
        to: '/upgrades',
        label: 'Upgrades',
        icon: <IconPackage size={18} />,
        permission: 'upgrades:read',
      },
      {
        to: '/activities',
        label: 'Activities',
        icon: <IconActivity size={18} />,
        permission: 'appliances:read',
      },
    ],
  },
  {
    title: 'Access',
    items: [
      { to: '/tokens', label: 'API tokens', icon: <IconKey size={18} /> },
      { to: '/users', label: 'Users & groups', icon: <IconUsers size={18} />, permission: 'users:read' },
      { to: '/sessions', label: 'Sessions', icon: <IconDeviceDesktopAnalytics size={18} /> },
      { to: '/audit', label: 'Audit log', icon: <IconClipboardList size={18} />, permission: 'audit:read' },
    ],
  },
  {
    title: 'System',
    items: [
      { to: '/settings', label: 'Settings', icon: <IconSettings size={18} />, permission: 'system:read' },
      { to: '/licensing', label: 'Licensing', icon: <IconLicense size={18} />, permission: 'license:read' },
      { to: '/files', label: 'Files', icon: <IconFiles size={18} />, permission: 'files:read' },
      { to: '/backup', label: 'Backup', icon: <IconDatabaseExport size={18} />, permission: 'backup:read' },
    ],
  },
];
