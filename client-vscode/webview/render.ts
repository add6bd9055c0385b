/**
 * Draws the chat state into the page. Entries are keyed by id and re-rendered only when the
 * reducer produced a new object for them (or their pending approval changed).
 */

import type { FromWebview, PanelCommand, PanelDecision } from '../src/messages';
import {
  formatUsage,
  type AssistantEntry,
  type ChatState,
  type Entry,
  type NoticeEntry,
  type PendingApproval,
  type ToolEntry,
  type TurnEndEntry,
  type UserEntry,
} from '../src/state';
import { renderMarkdown } from './markdown';

type Post = (message: FromWebview) => void;

interface Rendered {
  entry: Entry;
  approval: PendingApproval | undefined;
  el: HTMLElement;
}

const TOOL_MARKS: Record<ToolEntry['status'], string> = {
  running: '● running',
  completed: '✓ done',
  failed: '✗ failed',
  denied: '⊘ denied',
  aborted: '■ aborted',
};

const DECISION_LABELS: [PanelDecision, string][] = [
  ['approve', 'Approve'],
  ['approveForSession', 'Approve for session'],
  ['deny', 'Deny'],
];

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class ChatView {
  private readonly log: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly status: HTMLElement;
  private readonly title: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly orphanApprovals: HTMLElement;
  private readonly rendered = new Map<string, Rendered>();
  /** Tool blocks the person opened or closed by hand keep that state. */
  private readonly toggled = new Map<string, boolean>();
  private state: ChatState | undefined;
  private scheduled = false;

  constructor(
    private readonly doc: Document,
    private readonly post: Post,
  ) {
    const byId = <T extends HTMLElement>(id: string): T => {
      const found = doc.getElementById(id);
      if (!found) throw new Error(`missing #${id}`);
      return found as T;
    };
    this.log = byId('log');
    this.input = byId<HTMLTextAreaElement>('input');
    this.sendButton = byId<HTMLButtonElement>('btn-send');
    this.status = byId('status');
    this.title = byId('title');
    this.banner = byId('banner');
    this.orphanApprovals = el('div', 'orphan-approvals');
    this.wire();
  }

  private wire(): void {
    const form = this.doc.getElementById('composer');
    form?.addEventListener('submit', (event) => {
      event.preventDefault();
      this.primaryAction();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (!this.state?.running) this.primaryAction();
      }
    });
    // Escape anywhere in the panel stops the running turn, like the Stop button
    this.doc.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.state?.running && !this.state.stopping) {
        event.preventDefault();
        this.post({ type: 'stop' });
      }
    });
    this.doc.getElementById('btn-new')?.addEventListener('click', () => this.command('newSession'));
    this.doc
      .getElementById('btn-sessions')
      ?.addEventListener('click', () => this.command('resumeSession'));
  }

  private command(command: PanelCommand): void {
    this.post({ type: 'command', command });
  }

  /** Send, or Stop while a turn runs. */
  private primaryAction(): void {
    const state = this.state;
    if (state?.running) {
      if (!state.stopping) this.post({ type: 'stop' });
      return;
    }
    const text = this.input.value;
    if (text.trim() === '') return;
    if (state && state.server.status !== 'running') return;
    this.post({ type: 'send', text });
    this.input.value = '';
  }

  /** Coalesces bursts of streamed deltas into one paint. */
  schedule(state: ChatState): void {
    this.state = state;
    if (this.scheduled) return;
    this.scheduled = true;
    const run = (): void => {
      if (!this.scheduled) return;
      this.scheduled = false;
      if (this.state) this.render(this.state);
    };
    requestAnimationFrame(run);
    setTimeout(run, 50);
  }

  render(state: ChatState): void {
    this.state = state;
    const nearBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.renderChrome(state);

    const approvalsByCall = new Map<string, PendingApproval>();
    for (const approval of state.approvals) approvalsByCall.set(approval.callId, approval);
    const toolCalls = new Set<string>();
    const wanted: HTMLElement[] = [];
    const seen = new Set<string>();
    for (const entry of state.entries) {
      seen.add(entry.id);
      const approval = entry.kind === 'tool' ? approvalsByCall.get(entry.callId) : undefined;
      if (entry.kind === 'tool') toolCalls.add(entry.callId);
      const cached = this.rendered.get(entry.id);
      if (cached && cached.entry === entry && cached.approval === approval) {
        wanted.push(cached.el);
        continue;
      }
      const node = this.renderEntry(entry, approval);
      if (cached && cached.el.parentNode) cached.el.replaceWith(node);
      this.rendered.set(entry.id, { entry, approval, el: node });
      wanted.push(node);
    }
    for (const id of [...this.rendered.keys()]) {
      if (!seen.has(id)) {
        this.rendered.get(id)?.el.remove();
        this.rendered.delete(id);
      }
    }
    // questions whose tool block is not (yet) shown get a card of their own
    this.orphanApprovals.replaceChildren(
      ...state.approvals
        .filter((approval) => !toolCalls.has(approval.callId))
        .map((approval) => this.renderApproval(approval, true)),
    );
    wanted.push(this.orphanApprovals);

    const children = this.log.children;
    let inOrder = children.length === wanted.length;
    for (let i = 0; inOrder && i < wanted.length; i++) {
      if (children[i] !== wanted[i]) inOrder = false;
    }
    if (!inOrder) this.log.replaceChildren(...wanted);
    if (nearBottom) this.log.scrollTop = this.log.scrollHeight;
  }

  private renderChrome(state: ChatState): void {
    const firstMessage = state.entries.find((e) => e.kind === 'user');
    const title =
      state.title?.trim() ||
      (firstMessage?.kind === 'user' ? firstMessage.text.split('\n')[0]?.trim().slice(0, 80) : '') ||
      'New session';
    this.title.textContent = title;
    this.title.title = state.sessionId ?? '';
    const button = this.sendButton;
    if (state.running) {
      button.textContent = state.stopping ? 'Stopping…' : 'Stop';
      button.disabled = state.stopping;
      button.classList.add('stop');
      button.title = 'Stop the running turn';
    } else {
      button.textContent = 'Send';
      button.disabled = state.server.status !== 'running';
      button.classList.remove('stop');
      button.title = 'Send (Enter)';
    }
    this.status.textContent = state.approvals.length
      ? 'Waiting for your approval'
      : state.stopping
        ? 'Stopping…'
        : state.running
          ? 'Working…'
          : '';
    this.renderBanner(state);
  }

  private renderBanner(state: ChatState): void {
    const { server } = state;
    const parts: HTMLElement[] = [];
    const buttons: [string, PanelCommand][] = [];
    let level = 'info';
    if (server.status === 'starting') {
      parts.push(el('span', '', 'Starting the agentls server…'));
    } else if (server.status === 'restarting') {
      parts.push(el('span', '', server.message ?? 'The agentls server stopped; restarting it…'));
      level = 'warning';
    } else if (server.status === 'failed' || server.status === 'stopped') {
      parts.push(el('span', '', server.message ?? 'The agentls server is not running.'));
      level = 'error';
      buttons.push(['Open Settings', 'openSettings'], ['Show Log', 'showLog'], ['Restart', 'restartServer']);
    } else if (server.model && !server.model.configured) {
      parts.push(
        el(
          'span',
          '',
          'No model is available: set OPENAI_API_KEY in the environment VS Code starts from, or set "agentls.baseUrl" to a local OpenAI-compatible server. The "agentls" output has the details.',
        ),
      );
      level = 'warning';
      buttons.push(['Open Settings', 'openSettings']);
    }
    if (parts.length === 0) {
      this.banner.hidden = true;
      this.banner.replaceChildren();
      return;
    }
    for (const [label, command] of buttons) {
      const b = el('button', 'banner-button', label);
      b.type = 'button';
      b.dataset.command = command;
      b.addEventListener('click', () => this.command(command));
      parts.push(b);
    }
    this.banner.className = `banner banner-${level}`;
    this.banner.hidden = false;
    this.banner.replaceChildren(...parts);
  }

  private renderEntry(entry: Entry, approval: PendingApproval | undefined): HTMLElement {
    switch (entry.kind) {
      case 'user':
        return this.renderUser(entry);
      case 'assistant':
        return this.renderAssistant(entry);
      case 'tool':
        return this.renderTool(entry, approval);
      case 'turnEnd':
        return this.renderTurnEnd(entry);
      case 'notice':
        return this.renderNotice(entry);
      case 'diff':
        return el('div', 'turn-diff');
    }
  }

  private renderUser(entry: UserEntry): HTMLElement {
    const node = el('div', 'msg msg-user');
    node.dataset.entryId = entry.id;
    node.append(el('div', 'bubble', entry.text));
    return node;
  }

  private renderAssistant(entry: AssistantEntry): HTMLElement {
    const node = el('div', `msg msg-assistant markdown${entry.streaming ? ' streaming' : ''}`);
    node.dataset.entryId = entry.id;
    node.innerHTML = renderMarkdown(entry.text);
    return node;
  }

  private renderTool(entry: ToolEntry, approval: PendingApproval | undefined): HTMLElement {
    const status = approval ? 'approval' : entry.status;
    const details = el('details', `tool tool-${status}`);
    details.dataset.entryId = entry.id;
    details.dataset.callId = entry.callId;
    details.dataset.status = entry.status;
    const lines = entry.output.split('\n').length;
    const byHand = this.toggled.get(entry.id);
    details.open =
      byHand ?? (entry.status === 'running' || approval !== undefined || lines <= 12);
    details.addEventListener('toggle', () => {
      if (details.isConnected) this.toggled.set(entry.id, details.open);
    });

    const summary = el('summary', 'tool-summary');
    const mark = approval ? '? needs approval' : TOOL_MARKS[entry.status];
    summary.append(el('span', `tool-mark mark-${status}`, mark));
    summary.append(el('code', 'tool-command', entry.command || entry.name));
    if (entry.exitCode !== undefined) {
      summary.append(el('span', 'tool-exit', `exit ${entry.exitCode}`));
    }
    details.append(summary);
    if (entry.output !== '') {
      details.append(el('pre', 'tool-output', entry.output));
    }
    if (approval) details.append(this.renderApproval(approval, false));
    return details;
  }

  private renderApproval(approval: PendingApproval, standalone: boolean): HTMLElement {
    const card = el('div', standalone ? 'approval approval-standalone' : 'approval');
    card.dataset.approvalId = approval.id;
    card.append(el('div', 'approval-question', 'Run this command?'));
    if (standalone) card.append(el('code', 'approval-command', approval.command));
    if (approval.reason) card.append(el('div', 'approval-reason muted', approval.reason));
    if (approval.cwd) card.append(el('div', 'approval-cwd muted', `in ${approval.cwd}`));
    const row = el('div', 'approval-buttons');
    for (const [decision, label] of DECISION_LABELS) {
      const b = el('button', `approval-button decision-${decision}`, label);
      b.type = 'button';
      b.dataset.decision = decision;
      b.addEventListener('click', () => {
        for (const other of row.querySelectorAll('button')) other.disabled = true;
        this.post({ type: 'approve', id: approval.id, decision });
      });
      row.append(b);
    }
    card.append(row);
    return card;
  }

  private renderTurnEnd(entry: TurnEndEntry): HTMLElement {
    const node = el('div', `turn-end turn-${entry.status}`);
    node.dataset.entryId = entry.id;
    node.dataset.status = entry.status;
    const label =
      entry.status === 'interrupted'
        ? '■ Interrupted'
        : entry.status === 'failed'
          ? '✗ Failed'
          : '✓ Done';
    node.append(el('span', 'turn-status', label));
    if (entry.error?.message) node.append(el('span', 'turn-error', entry.error.message));
    const usage = formatUsage(entry.usage);
    if (usage) node.append(el('span', 'turn-usage muted', usage));
    return node;
  }

  private renderNotice(entry: NoticeEntry): HTMLElement {
    const node = el('div', `notice notice-${entry.level}`, entry.text);
    node.dataset.entryId = entry.id;
    return node;
  }
}
