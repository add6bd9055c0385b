/**
 * Draws the chat state into the page. Entries are keyed by id and re-rendered only when the
 * reducer produced a new object for them (or their pending approval changed).
 */

import { countChanges } from '../src/diffDocs';
import type { FromWebview, PanelCommand, PanelDecision } from '../src/messages';
import type { FileChange, McpServerStatus, SessionSummary } from '../src/protocol';
import {
  formatUsage,
  type AssistantEntry,
  type ChatState,
  type DiffEntry,
  type Entry,
  type NoticeEntry,
  type PendingApproval,
  type ToolEntry,
  type TurnEndEntry,
  type UserEntry,
} from '../src/state';
import { highlightBlock, renderMarkdown } from './markdown';

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

const MCP_STATES: Record<string, string> = {
  starting: 'starting…',
  ready: 'ready',
  failed: 'failed',
  disabled: 'disabled',
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

/** Tool output longer than this shows its last lines, with a button for the rest. */
export const TAIL_LINES = 40;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function relativeTime(iso: string, now: number): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return '';
  const minutes = Math.round(Math.max(0, now - then) / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  return days === 1 ? 'yesterday' : `${days} days ago`;
}

/** A diff as a block of coloured lines. */
function renderDiffText(diff: string): HTMLElement {
  const pre = el('pre', 'diff-text');
  for (const line of diff.split('\n')) {
    const cls =
      line.startsWith('+') && !line.startsWith('+++')
        ? 'diff-add'
        : line.startsWith('-') && !line.startsWith('---')
          ? 'diff-del'
          : line.startsWith('@@')
            ? 'diff-hunk'
            : 'diff-ctx';
    pre.append(el('span', cls, `${line}\n`));
  }
  return pre;
}

export class ChatView {
  private readonly log: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly status: HTMLElement;
  private readonly title: HTMLElement;
  private readonly model: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly meter: HTMLElement;
  private readonly chips: HTMLElement;
  private readonly queueMode: HTMLInputElement;
  private readonly sessions: HTMLElement;
  private readonly sessionSearch: HTMLInputElement;
  private readonly sessionItems: HTMLElement;
  private readonly sessionsButton: HTMLElement;
  private readonly mcp: HTMLElement;
  private mcpKey = '';
  /** MCP servers whose details (error, tools) the person opened. */
  private readonly mcpOpen = new Set<string>();
  private readonly orphanApprovals: HTMLElement;
  private readonly earlier: HTMLElement;
  private readonly rendered = new Map<string, Rendered>();
  /** Tool blocks the person opened or closed by hand keep that state. */
  private readonly toggled = new Map<string, boolean>();
  /** Tool blocks whose whole output the person asked to see. */
  private readonly fullOutput = new Set<string>();
  /** The turn whose Undo waits for a confirmation. */
  private confirmUndo: string | undefined;
  /** The session being renamed in the list. */
  private renaming: string | undefined;
  /** Changes of what entries depend on besides themselves (methods, confirmations). */
  private chromeKey = '';
  private sessionsKey = '';
  private state: ChatState | undefined;
  private scheduled = false;
  private searchTimer: ReturnType<typeof setTimeout> | undefined;
  /** Drawn queued messages, kept while they wait (so a streamed delta does not redraw them). */
  private queuedNodes = new Map<string, HTMLElement>();
  /**
   * The steer mode last written to the toggle: a click is kept until the extension's state
   * says otherwise (a streamed delta painted before that state arrives must not undo it).
   */
  private shownSteerMode: ChatState['steerMode'] | undefined;

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
    this.model = byId('model');
    this.banner = byId('banner');
    this.meter = byId('context-meter');
    this.chips = byId('chips');
    this.queueMode = byId<HTMLInputElement>('queue-mode');
    this.sessions = byId('sessions');
    this.sessionSearch = byId<HTMLInputElement>('session-search');
    this.sessionItems = byId('session-items');
    this.sessionsButton = byId('btn-sessions');
    this.mcp = byId('mcp-servers');
    this.orphanApprovals = el('div', 'orphan-approvals');
    this.earlier = el('button', 'load-earlier', 'Load earlier messages');
    (this.earlier as HTMLButtonElement).type = 'button';
    this.earlier.addEventListener('click', () => this.post({ type: 'loadEarlier' }));
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
        // during a turn Enter adds the message to it (or queues it); the button stops
        this.submitText();
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
    this.sessionsButton.addEventListener('click', () => {
      const list = this.state?.sessionList;
      const open = !(list?.open ?? false);
      this.post({ type: 'sessions', open, query: list?.query ?? '' });
      if (open) setTimeout(() => this.sessionSearch.focus(), 0);
    });
    this.sessionSearch.addEventListener('input', () => {
      if (this.searchTimer) clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => {
        this.post({ type: 'sessions', open: true, query: this.sessionSearch.value });
      }, 200);
    });
    this.sessionSearch.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.stopPropagation();
        this.post({ type: 'sessions', open: false, query: this.sessionSearch.value });
      }
    });
    this.doc.getElementById('btn-add-file')?.addEventListener('click', () => this.post({ type: 'addFile' }));
    this.queueMode.addEventListener('change', () =>
      this.post({ type: 'steerMode', mode: this.queueMode.checked ? 'queue' : 'steer' }),
    );
  }

  private command(command: PanelCommand): void {
    this.post({ type: 'command', command });
  }

  /** The button: Send, or Stop while a turn runs. */
  private primaryAction(): void {
    const state = this.state;
    if (state?.running) {
      if (this.input.value.trim() !== '') {
        this.submitText();
        return;
      }
      if (!state.stopping) this.post({ type: 'stop' });
      return;
    }
    this.submitText();
  }

  private submitText(): void {
    const state = this.state;
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

  /** Re-render without a new state (a local change: a confirmation, a toggle). */
  private refresh(): void {
    if (this.state) this.render(this.state);
  }

  render(state: ChatState): void {
    this.state = state;
    const nearBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.renderChrome(state);
    this.renderSessions(state);
    this.renderMcp(state);
    this.renderChips(state);

    const chromeKey = JSON.stringify([state.server.methods ?? [], this.confirmUndo ?? '', state.running]);
    if (chromeKey !== this.chromeKey) {
      this.chromeKey = chromeKey;
      // turn buttons depend on what the server offers and on whether a turn runs
      for (const [id, item] of this.rendered) {
        if (item.entry.kind === 'turnEnd' || item.entry.kind === 'user') this.rendered.delete(id);
      }
    }

    const approvalsByCall = new Map<string, PendingApproval>();
    for (const approval of state.approvals) approvalsByCall.set(approval.callId, approval);
    const toolCalls = new Set<string>();
    const wanted: HTMLElement[] = [];
    if (state.historyCursor) wanted.push(this.earlier);
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
      const old = cached?.el ?? this.log.querySelector(`[data-entry-id="${entry.id}"]`);
      if (old && old.parentNode) old.replaceWith(node);
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
    const queued = new Map<string, HTMLElement>();
    state.queued.forEach((text, i) => {
      const key = `${i}:${text}`;
      const node = this.queuedNodes.get(key) ?? this.renderQueued(text);
      queued.set(key, node);
      wanted.push(node);
    });
    this.queuedNodes = queued;

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
    const model = state.server.model;
    this.model.textContent = model?.name ?? '';
    this.model.title = model ? `${model.name} at ${model.baseUrl} (${model.wireApi})` : '';
    this.model.hidden = !model?.name;
    const button = this.sendButton;
    if (state.running) {
      button.textContent = state.stopping ? 'Stopping…' : 'Stop';
      button.disabled = state.stopping;
      button.classList.add('stop');
      button.title = 'Stop the running turn (Escape)';
    } else {
      button.textContent = 'Send';
      button.disabled = state.server.status !== 'running';
      button.classList.remove('stop');
      button.title = 'Send (Enter)';
    }
    const steers = state.server.methods?.includes('agent/steer') ?? false;
    this.input.placeholder = state.running
      ? steers && state.steerMode === 'steer'
        ? 'Add to the running turn… (Enter; Escape stops it)'
        : 'Queue a message for when the turn ends… (Enter; Escape stops the turn)'
      : 'Ask agentls… (Enter to send, Shift+Enter for a new line, !cmd runs a command)';
    if (state.steerMode !== this.shownSteerMode) {
      this.shownSteerMode = state.steerMode;
      this.queueMode.checked = state.steerMode === 'queue';
    }
    const toggle = this.doc.getElementById('queue-toggle');
    if (toggle) toggle.hidden = !steers;
    this.status.textContent = state.approvals.length
      ? 'Waiting for your approval'
      : state.compacting
        ? 'Compacting…'
        : state.stopping
          ? 'Stopping…'
          : state.running
            ? state.queued.length
              ? `Working… (${plural(state.queued.length, 'message')} queued)`
              : 'Working…'
            : '';
    this.renderMeter(state);
    this.renderBanner(state);
  }

  private renderMeter(state: ChatState): void {
    const usage = state.contextUsage;
    if (!usage) {
      this.meter.hidden = true;
      return;
    }
    this.meter.hidden = false;
    const fmt = (n: number): string => n.toLocaleString('en-US');
    const percent = typeof usage.percent === 'number' ? Math.max(0, Math.min(100, usage.percent)) : undefined;
    this.meter.dataset.tokens = String(usage.inputTokens);
    this.meter.dataset.level = percent === undefined ? 'unknown' : percent >= 85 ? 'high' : percent >= 60 ? 'mid' : 'low';
    const bar = this.doc.getElementById('context-bar');
    if (bar) bar.style.width = `${percent ?? 0}%`;
    const label = this.doc.getElementById('context-label');
    const text =
      percent !== undefined && usage.contextWindow
        ? `${Math.round(percent)}% of ${fmt(usage.contextWindow)} tokens`
        : percent !== undefined
          ? `${Math.round(percent)}% of the context`
          : `${fmt(usage.inputTokens)} tokens (window unknown)`;
    if (label) label.textContent = text;
    this.meter.title = `Context: ${fmt(usage.inputTokens)} in, ${fmt(usage.outputTokens)} out${usage.contextWindow ? `, window ${fmt(usage.contextWindow)}` : ''}`;
  }

  private renderChips(state: ChatState): void {
    const key = JSON.stringify(state.attachments);
    if (this.chips.dataset.key === key) return;
    this.chips.dataset.key = key;
    this.chips.replaceChildren(
      ...state.attachments.map((attachment) => {
        const chip = el('span', `chip${attachment.auto ? ' chip-auto' : ''}`);
        chip.dataset.attachmentId = attachment.id;
        chip.title = attachment.auto ? `${attachment.uri} (the active editor; sent with the message)` : attachment.uri;
        chip.append(el('span', 'chip-label', attachment.label));
        const remove = el('button', 'chip-remove', '×');
        remove.type = 'button';
        remove.title = 'Do not send this';
        remove.setAttribute('aria-label', `Remove ${attachment.label}`);
        remove.addEventListener('click', () => this.post({ type: 'removeAttachment', id: attachment.id }));
        chip.append(remove);
        return chip;
      }),
    );
    this.chips.hidden = state.attachments.length === 0;
  }

  /** One row per configured MCP server: a state dot, its name and tool count; opens to the error and tools. */
  private renderMcp(state: ChatState): void {
    const servers = state.mcpServers ?? [];
    const key = JSON.stringify(servers);
    if (key === this.mcpKey) return;
    this.mcpKey = key;
    this.mcp.hidden = servers.length === 0;
    if (servers.length === 0) {
      this.mcp.replaceChildren();
      return;
    }
    const failed = servers.filter((s) => s.state === 'failed').length;
    const ready = servers.filter((s) => s.state === 'ready').length;
    const head = el('div', 'mcp-head');
    head.append(el('span', 'mcp-title', 'MCP servers'));
    const counts = [`${ready}/${servers.length} ready`, failed ? `${failed} failed` : ''].filter(Boolean).join(' · ');
    head.append(el('span', 'mcp-counts muted', counts));
    this.mcp.replaceChildren(head, ...servers.map((server) => this.renderMcpServer(server)));
  }

  private renderMcpServer(server: McpServerStatus): HTMLElement {
    const item = el('details', `mcp-server mcp-${server.state}`);
    item.dataset.server = server.name;
    item.dataset.state = server.state;
    item.open = this.mcpOpen.has(server.name);
    item.addEventListener('toggle', () => {
      if (!item.isConnected) return;
      if (item.open) this.mcpOpen.add(server.name);
      else this.mcpOpen.delete(server.name);
    });
    const summary = el('summary', 'mcp-summary');
    const dot = el('span', `mcp-dot dot-${server.state}`);
    dot.setAttribute('aria-label', server.state);
    summary.append(dot, el('span', 'mcp-name', server.name));
    const stateText = MCP_STATES[server.state] ?? server.state;
    const detail = server.state === 'ready' ? plural(server.tools.length, 'tool') : stateText;
    summary.append(el('span', 'mcp-detail muted', detail));
    summary.title = server.error
      ? `${server.name}: ${stateText}: ${server.error}`
      : `${server.name}: ${stateText}${server.tools.length ? ` (${server.tools.join(', ')})` : ''}`;
    item.append(summary);
    if (server.error) item.append(el('div', 'mcp-error', server.error));
    if (server.tools.length) {
      const tools = el('div', 'mcp-tools');
      for (const tool of server.tools) tools.append(el('code', 'mcp-tool', tool));
      item.append(tools);
    } else if (!server.error) {
      item.append(el('div', 'muted', server.state === 'starting' ? 'Starting…' : 'No tools.'));
    }
    return item;
  }

  private renderSessions(state: ChatState): void {
    const list = state.sessionList;
    this.sessions.hidden = !list.open;
    this.sessionsButton.setAttribute('aria-expanded', String(list.open));
    if (!list.open) {
      this.renaming = undefined;
      return;
    }
    if (this.doc.activeElement !== this.sessionSearch && this.sessionSearch.value !== list.query) {
      this.sessionSearch.value = list.query;
    }
    const key = JSON.stringify([list.sessions, list.loading, list.error, this.renaming, state.sessionId]);
    if (key === this.sessionsKey) return;
    this.sessionsKey = key;
    const items: HTMLElement[] = [];
    if (list.error) items.push(el('div', 'notice notice-error', list.error));
    if (list.sessions.length === 0 && !list.loading && !list.error) {
      items.push(el('div', 'muted session-empty', list.query ? 'No session matches.' : 'No sessions yet.'));
    }
    const now = Date.now();
    for (const session of list.sessions) items.push(this.renderSession(session, state.sessionId, now));
    this.sessionItems.replaceChildren(...items);
    const field = this.sessionItems.querySelector<HTMLInputElement>('input.session-rename');
    if (field) {
      field.focus();
      field.select();
    }
  }

  private renderSession(session: SessionSummary, currentId: string | undefined, now: number): HTMLElement {
    const row = el('div', `session${session.sessionId === currentId ? ' session-current' : ''}`);
    row.setAttribute('role', 'listitem');
    row.dataset.sessionId = session.sessionId;
    const title = session.title.trim() || '(untitled session)';
    if (this.renaming === session.sessionId) {
      const field = el('input', 'session-rename');
      field.value = title;
      field.setAttribute('aria-label', 'New title');
      field.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') {
          event.preventDefault();
          this.renaming = undefined;
          if (field.value.trim() !== '') {
            this.post({ type: 'renameSession', sessionId: session.sessionId, title: field.value.trim() });
          }
          this.sessionsKey = '';
          this.refresh();
        } else if (event.key === 'Escape') {
          event.stopPropagation();
          this.renaming = undefined;
          this.sessionsKey = '';
          this.refresh();
        }
      });
      row.append(field);
    } else {
      const open = el('button', 'session-open');
      open.type = 'button';
      open.title = `Open this session (${session.sessionId})`;
      open.append(el('span', 'session-title', title));
      const meta = [relativeTime(session.updatedAt, now), plural(session.turns, 'turn')].filter(Boolean).join(' · ');
      open.append(el('span', 'session-meta muted', meta));
      open.addEventListener('click', () => this.post({ type: 'openSession', sessionId: session.sessionId }));
      row.append(open);
    }
    const rename = el('button', 'icon-button', 'Rename');
    rename.type = 'button';
    rename.dataset.action = 'rename';
    rename.addEventListener('click', () => {
      this.renaming = session.sessionId;
      this.sessionsKey = '';
      this.refresh();
    });
    const remove = el('button', 'icon-button', 'Delete');
    remove.type = 'button';
    remove.dataset.action = 'delete';
    remove.title = "Move it to this workspace's trash folder (restorable)";
    remove.addEventListener('click', () => this.post({ type: 'deleteSession', sessionId: session.sessionId }));
    row.append(rename, remove);
    return row;
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
        return this.renderTurnDiff(entry);
    }
  }

  private renderUser(entry: UserEntry): HTMLElement {
    const node = el('div', `msg msg-user${entry.steer ? ' msg-steer' : ''}`);
    node.dataset.entryId = entry.id;
    const bubble = el('div', 'bubble', entry.text);
    node.append(bubble);
    if (entry.steer) node.append(el('span', 'steer-mark muted', 'added to the running turn'));
    const actions = this.turnActions(entry);
    if (actions) node.append(actions);
    if (entry.context?.length) {
      const chips = el('div', 'sent-chips');
      for (const item of entry.context) {
        const name = item.uri.split('/').pop() ?? item.uri;
        const range = item.range ? `:${item.range.start.line + 1}-${item.range.end.line + 1}` : '';
        const chip = el('span', 'chip chip-sent', `${decodeURIComponent(name)}${range}`);
        chip.title = item.uri;
        chips.append(chip);
      }
      node.append(chips);
    }
    return node;
  }

  private renderAssistant(entry: AssistantEntry): HTMLElement {
    const node = el('div', `msg msg-assistant markdown${entry.streaming ? ' streaming' : ''}`);
    node.dataset.entryId = entry.id;
    node.innerHTML = renderMarkdown(entry.text);
    for (const pre of node.querySelectorAll('pre')) {
      const code = pre.querySelector('code');
      if (!code) continue;
      const source = code.textContent ?? '';
      const language = highlightBlock(code);
      const wrap = el('div', 'code-block');
      const bar = el('div', 'code-bar');
      bar.append(el('span', 'code-lang muted', language ?? ''));
      const copy = el('button', 'code-button', 'Copy');
      copy.type = 'button';
      copy.dataset.action = 'copy';
      copy.addEventListener('click', () => {
        this.post({ type: 'copy', text: source });
        copy.textContent = 'Copied';
        setTimeout(() => (copy.textContent = 'Copy'), 1500);
      });
      const insert = el('button', 'code-button', 'Insert');
      insert.type = 'button';
      insert.dataset.action = 'insert';
      insert.title = 'Insert at the cursor of the active editor';
      insert.addEventListener('click', () => this.post({ type: 'insert', text: source }));
      bar.append(copy, insert);
      pre.replaceWith(wrap);
      wrap.append(bar, pre);
    }
    return node;
  }

  private renderChanges(changes: readonly FileChange[], callId: string): HTMLElement {
    const box = el('div', 'file-changes');
    changes.forEach((change, index) => {
      const row = el('div', `file-change change-${change.kind}`);
      row.dataset.path = change.path;
      const { added, removed } = countChanges(change.diff);
      const kind = change.kind === 'add' ? 'A' : change.kind === 'delete' ? 'D' : 'M';
      row.append(el('span', `change-kind kind-${change.kind}`, kind));
      const name = change.movePath ? `${change.path} → ${change.movePath}` : change.path;
      row.append(el('code', 'change-path', name));
      row.append(el('span', 'change-added', `+${added}`), el('span', 'change-removed', `−${removed}`));
      const open = el('button', 'code-button', 'Open diff');
      open.type = 'button';
      open.dataset.action = 'open-diff';
      open.addEventListener('click', () => this.post({ type: 'openDiff', callId, index }));
      row.append(open);
      box.append(row);
    });
    return box;
  }

  private renderTool(entry: ToolEntry, approval: PendingApproval | undefined): HTMLElement {
    const status = approval ? 'approval' : entry.status;
    const details = el('details', `tool tool-${status}`);
    details.dataset.entryId = entry.id;
    details.dataset.callId = entry.callId;
    details.dataset.status = entry.status;
    // open by default: the end of the output is where the error is
    details.open = this.toggled.get(entry.id) ?? true;
    details.addEventListener('toggle', () => {
      if (details.isConnected) this.toggled.set(entry.id, details.open);
    });

    const summary = el('summary', 'tool-summary');
    const mark = approval ? '? needs approval' : TOOL_MARKS[entry.status];
    summary.append(el('span', `tool-mark mark-${status}`, mark));
    if (entry.mcp) {
      // an MCP call reads like a command: which server and tool, then its arguments
      details.classList.add('tool-mcp');
      details.dataset.mcpServer = entry.mcp.server;
      const target = el('span', 'tool-mcp-target');
      target.append(el('span', 'tool-mcp-server', entry.mcp.server), el('span', 'muted', ' › '), el('span', 'tool-mcp-tool', entry.mcp.tool));
      target.title = `MCP tool ${entry.mcp.tool} of the server ${entry.mcp.server}`;
      summary.append(target);
      if (entry.command) summary.append(el('code', 'tool-command tool-args', entry.command));
    } else {
      const command = entry.command || entry.name;
      summary.append(el('code', 'tool-command', command));
    }
    if (entry.exitCode !== undefined) {
      summary.append(el('span', 'tool-exit', `exit ${entry.exitCode}`));
    }
    details.append(summary);
    if (entry.changes?.length) details.append(this.renderChanges(entry.changes, entry.callId));
    if (entry.output !== '') details.append(this.renderOutput(entry));
    if (approval) details.append(this.renderApproval(approval, false));
    return details;
  }

  private renderOutput(entry: ToolEntry): HTMLElement {
    const lines = entry.output.replace(/\n$/, '').split('\n');
    const box = el('div', 'tool-output-box');
    const full = this.fullOutput.has(entry.id) || lines.length <= TAIL_LINES;
    if (!full) {
      const hidden = lines.length - TAIL_LINES;
      const more = el('button', 'tool-more', `Show ${plural(hidden, 'earlier line')}`);
      more.type = 'button';
      more.addEventListener('click', () => {
        this.fullOutput.add(entry.id);
        this.rendered.delete(entry.id);
        this.refresh();
      });
      box.append(more);
    }
    const pre = el('pre', 'tool-output', full ? entry.output : lines.slice(-TAIL_LINES).join('\n'));
    box.append(pre);
    // the tail is what matters: keep the output scrolled to its end
    requestAnimationFrame(() => (pre.scrollTop = pre.scrollHeight));
    return box;
  }

  private renderApproval(approval: PendingApproval, standalone: boolean): HTMLElement {
    const card = el('div', standalone ? 'approval approval-standalone' : 'approval');
    card.dataset.approvalId = approval.id;
    const isPatch = approval.kind === 'patch';
    const question = isPatch ? 'Apply these changes?' : approval.kind === 'mcp' ? 'Call this MCP tool?' : 'Run this command?';
    card.append(el('div', 'approval-question', question));
    if (isPatch && approval.changes?.length) {
      // inside its tool block the files are listed already; the diffs are what to judge
      if (standalone) card.append(this.renderChanges(approval.changes, approval.callId));
      for (const change of approval.changes) card.append(renderDiffText(change.diff));
    } else if (standalone) {
      card.append(el('code', 'approval-command', approval.command));
    }
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

  /** Files that Undo of `turnId` would restore: what it and every later turn changed. */
  private filesFrom(turnId: string): string[] {
    const entries = this.state?.entries ?? [];
    const start = entries.findIndex((e) => e.turnId === turnId);
    const files = new Set<string>();
    for (const entry of start >= 0 ? entries.slice(start) : []) {
      if (entry.kind === 'diff') for (const file of entry.files) files.add(file.path);
      if (entry.kind === 'tool') for (const change of entry.changes ?? []) files.add(change.path);
    }
    return [...files];
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
    const turnId = entry.turnId;
    const state = this.state;
    if (!turnId || !state || entry.status !== 'failed') return node;
    const actions = el('span', 'turn-actions');
    const retry = el('button', 'turn-button', 'Retry');
    retry.type = 'button';
    retry.dataset.action = 'retry';
    retry.title = "Send this turn's message again";
    retry.disabled = state.running;
    retry.addEventListener('click', () => this.post({ type: 'retry', turnId }));
    actions.append(retry);
    node.append(actions);
    return node;
  }

  /**
   * Undo and Fork sit on the message that started the turn: every turn has one, also when a
   * redrawn history carries no ending for it.
   */
  private turnActions(entry: UserEntry): HTMLElement | undefined {
    const turnId = entry.turnId;
    const state = this.state;
    if (!turnId || entry.steer || !state) return undefined;
    const methods = state.server.methods ?? [];
    const actions = el('div', 'turn-actions user-actions');
    const button = (label: string, action: string, title: string, onClick: () => void): void => {
      const b = el('button', 'turn-button', label);
      b.type = 'button';
      b.dataset.action = action;
      b.title = title;
      b.disabled = state.running;
      b.addEventListener('click', onClick);
      actions.append(b);
    };
    if (methods.includes('agent/undo')) {
      button('Undo', 'undo', 'Restore the files and the conversation to before this turn (later turns too)', () => {
        this.confirmUndo = turnId;
        this.refresh();
      });
    }
    if (methods.includes('agent/fork')) {
      button('Fork from here', 'fork', 'A new session with the conversation up to and including this turn', () =>
        this.post({ type: 'fork', turnId }),
      );
    }
    if (actions.childElementCount === 0) return undefined;
    const box = el('div', 'user-footer');
    box.append(actions);
    if (this.confirmUndo === turnId) box.append(this.renderUndoConfirmation(turnId));
    return box;
  }

  private renderUndoConfirmation(turnId: string): HTMLElement {
    const card = el('div', 'confirm');
    const files = this.filesFrom(turnId);
    card.append(
      el(
        'div',
        'confirm-question',
        'Undo this turn and every later one? The conversation goes back to before it.',
      ),
    );
    if (files.length) {
      card.append(el('div', 'muted', `Files to restore (${files.length}):`));
      const list = el('ul', 'confirm-files');
      for (const file of files) list.append(el('li', '', file));
      card.append(list);
    } else {
      card.append(el('div', 'muted', 'Files the turn changed (by patches or commands) are restored too.'));
    }
    const row = el('div', 'approval-buttons');
    const yes = el('button', 'approval-button decision-approve', 'Undo');
    yes.type = 'button';
    yes.dataset.confirm = 'yes';
    yes.addEventListener('click', () => {
      this.confirmUndo = undefined;
      this.post({ type: 'undo', turnId });
      this.refresh();
    });
    const no = el('button', 'approval-button', 'Cancel');
    no.type = 'button';
    no.dataset.confirm = 'no';
    no.addEventListener('click', () => {
      this.confirmUndo = undefined;
      this.refresh();
    });
    row.append(yes, no);
    card.append(row);
    return card;
  }

  private renderTurnDiff(entry: DiffEntry): HTMLElement {
    const node = el('div', 'turn-diff');
    node.dataset.entryId = entry.id;
    const added = entry.files.reduce((n, f) => n + (Number(f.added) || 0), 0);
    const removed = entry.files.reduce((n, f) => n + (Number(f.removed) || 0), 0);
    const head = el('div', 'turn-diff-head');
    head.append(
      el('span', '', `Changed in this turn: ${plural(entry.files.length, 'file')}`),
      el('span', 'change-added', `+${added}`),
      el('span', 'change-removed', `−${removed}`),
    );
    node.append(head);
    for (const file of entry.files) {
      const row = el('div', 'file-change');
      row.dataset.path = file.path;
      row.append(el('code', 'change-path', file.path));
      row.append(el('span', 'change-added', `+${file.added}`), el('span', 'change-removed', `−${file.removed}`));
      const turnId = entry.turnId;
      if (turnId) {
        const open = el('button', 'code-button', 'Open diff');
        open.type = 'button';
        open.dataset.action = 'open-diff';
        open.addEventListener('click', () => this.post({ type: 'openTurnDiff', turnId, path: file.path }));
        row.append(open);
      }
      node.append(row);
    }
    return node;
  }

  private renderQueued(text: string): HTMLElement {
    const node = el('div', 'msg msg-user msg-queued');
    node.append(el('div', 'bubble', text));
    node.append(el('span', 'steer-mark muted', 'queued: sent when the turn ends'));
    return node;
  }

  private renderNotice(entry: NoticeEntry): HTMLElement {
    const node = el('div', `notice notice-${entry.level}`, entry.text);
    node.dataset.entryId = entry.id;
    return node;
  }
}
