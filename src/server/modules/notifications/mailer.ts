// Outgoing mail through the configured SMTP relay (nodemailer). A transport is built from the
// current settings for each message, so a settings change takes effect on the next message.

import nodemailer from 'nodemailer';
import { AppError } from '../../shared/app-error.js';

export interface SmtpSettings {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  use_tls: boolean;
  default_from_email: string;
}

export interface MailMessage {
  to: string | string[];
  subject: string;
  text: string;
}

export interface MailerOptions {
  /** TLS options for the relay (tests trust their own CA or accept self-signed). */
  tls?: { rejectUnauthorized?: boolean; ca?: string | Buffer };
  timeoutMs?: number;
}

export function createMailer(getSettings: () => Promise<SmtpSettings>, opts: MailerOptions = {}) {
  return {
    /** Sends a message; a relay that refuses or is unreachable gives AppError('unavailable'). */
    async send(msg: MailMessage): Promise<{ messageId: string; accepted: string[] }> {
      const s = await getSettings();
      if (!s.host)
        throw new AppError({ code: 'conflict', message: 'SMTP is not configured: set host first' });
      if (!s.default_from_email) {
        throw new AppError({
          code: 'conflict',
          message: 'SMTP is not configured: set default_from_email first',
        });
      }
      const timeout = opts.timeoutMs ?? 15_000;
      const transport = nodemailer.createTransport({
        host: s.host,
        port: s.port,
        secure: s.use_tls,
        ...(s.user ? { auth: { user: s.user, pass: s.password ?? '' } } : {}),
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
        ...(opts.tls ? { tls: opts.tls } : {}),
      });
      try {
        const info = await transport.sendMail({
          from: s.default_from_email,
          to: msg.to,
          subject: msg.subject,
          text: msg.text,
        });
        return { messageId: String(info.messageId), accepted: (info.accepted ?? []).map(String) };
      } catch (err) {
        const e = err as { code?: string; responseCode?: number; message?: string };
        // The relay's own reply is safe and useful to show; socket internals are not.
        const why = e.responseCode ? `the relay answered ${e.responseCode}` : (e.code ?? 'connection failed');
        throw new AppError({
          code: 'unavailable',
          message: `could not deliver the message: ${why}`,
          cause: err,
        });
      } finally {
        transport.close();
      }
    },
  };
}

export type Mailer = ReturnType<typeof createMailer>;
