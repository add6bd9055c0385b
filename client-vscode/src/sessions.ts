/** The "Resume Session…" list: sessions from `agent/listSessions` as quick-pick items. */

import type { SessionSummary } from './protocol';

export interface SessionItem {
  sessionId: string;
  label: string;
  description: string;
  detail: string;
}

export function relativeTime(iso: string, now: Date): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.max(0, Math.round((now.getTime() - then) / 1000));
  if (seconds < 60) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days < 30) return days === 1 ? 'yesterday' : `${days} days ago`;
  return new Date(then).toISOString().slice(0, 10);
}

export function sessionItems(
  sessions: readonly SessionSummary[],
  now: Date,
  currentSessionId?: string,
): SessionItem[] {
  return sessions.map((session) => {
    const turns = `${session.turns} turn${session.turns === 1 ? '' : 's'}`;
    const current = session.sessionId === currentSessionId ? ' · open' : '';
    return {
      sessionId: session.sessionId,
      label: session.title.trim() || '(untitled session)',
      description: `${relativeTime(session.updatedAt, now)} · ${turns}${current}`,
      detail: session.sessionId,
    };
  });
}
