/**
 * The v2 parts of the panel's logic: turn outcomes in history, diffs, token usage, compaction,
 * steering and queueing, user commands, attachments, undo/fork/retry, the session list, and
 * the pieces they use (diff sides, editor chips, message parsing, the safe output channel).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ResponseError, type CancellationToken } from 'vscode-jsonrpc';
import { approvalFromParams } from '../../src/approvals';
import { ChatController, type AgentConnection } from '../../src/controller';
import { applyHunks, countChanges, diffSides, fileDiffFromTurnDiff, parseHunks } from '../../src/diffDocs';
import { attachmentFor } from '../../src/editorContext';
import { parseFromWebview } from '../../src/messages';
import type { AgentEvent, HistoryEntry, SendResult } from '../../src/protocol';
import { SafeOutputChannel } from '../../src/safeOutput';
import { remoteHint } from '../../src/serverCommand';
import { entriesFromHistory, initialState, reduce, type ChatState } from '../../src/state';
import type * as vscode from 'vscode';

const S = '33333333-3333-4333-8333-333333333333';

interface Call {
  method: string;
  params: Record<string, unknown>;
  token: CancellationToken | undefined;
}

function fakeConnection(answer: (call: Call) => Promise<unknown>): AgentConnection & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    sendRequest: async <R>(method: string, params: unknown, token?: CancellationToken): Promise<R> => {
      const call = { method, params: params as Record<string, unknown>, token };
      calls.push(call);
      return (await answer(call)) as R;
    },
  };
}

function ev(turnId: string, fields: Record<string, unknown>): AgentEvent {
  return { sessionId: S, turnId, seq: 0, ...fields } as AgentEvent;
}

function running(methods: string[]): ChatController {
  const controller = new ChatController();
  controller.setServer({ status: 'running', model: null, methods });
  return controller;
}

const DIFF = ['--- a/greet.txt', '+++ b/greet.txt', '@@ -1,2 +1,2 @@', ' hello', '-world', '+there'].join('\n');

describe('history with turn outcomes (v2)', () => {
  test('outcome entries and user entries with status draw each turn\'s ending after its entries', () => {
    const history: HistoryEntry[] = [
      { role: 'user', text: 'one', turnId: 't1' },
      { role: 'assistant', text: 'partial', turnId: 't1' },
      { role: 'turn', turnId: 't1', status: 'interrupted' },
      { role: 'user', text: 'two', turnId: 't2', status: 'failed', error: { message: '401 from the model API' } },
      { role: 'tool', text: 'ls', turnId: 't2', callId: 'c1', status: 'completed', output: 'a' },
      { role: 'user', text: 'three', turnId: 't3' },
      { role: 'assistant', text: 'done', turnId: 't3' },
      { role: 'turn', turnId: 't3', status: 'completed', usage: { input_tokens: 5 } },
    ];
    const { entries } = entriesFromHistory(history);
    assert.deepEqual(
      entries.map((e) => `${e.kind}:${e.turnId ?? ''}${e.kind === 'turnEnd' ? `:${e.status}` : ''}`),
      [
        'user:t1', 'assistant:t1', 'turnEnd:t1:interrupted',
        'user:t2', 'tool:t2', 'turnEnd:t2:failed',
        'user:t3', 'assistant:t3', 'turnEnd:t3:completed',
      ],
    );
    const failed = entries.find((e) => e.kind === 'turnEnd' && e.status === 'failed');
    assert.equal(failed?.kind === 'turnEnd' ? failed.error?.message : '', '401 from the model API');
  });

  test('v1 history (no turn ids, no outcomes) still draws; unknown roles and bad statuses are ignored', () => {
    const { entries } = entriesFromHistory([
      { role: 'user', text: 'hi' },
      { role: 'mystery', text: '?' },
      { role: 'turn', status: 'completed' },
      { role: 'tool', text: 'x', status: 'weird' as 'completed' },
    ]);
    assert.deepEqual(entries.map((e) => e.kind), ['user', 'tool']);
    assert.equal(entries[1]?.kind === 'tool' ? entries[1].status : '', 'completed');
  });

  test('resume with a cursor offers "Load earlier"; a page is put before what is shown', () => {
    let state = reduce(initialState(), {
      type: 'historyLoaded',
      result: { sessionId: S, title: 't', createdAt: '', updatedAt: '', warnings: [], historyCursor: 'c1', history: [{ role: 'user', text: 'new', turnId: 't9' }] },
    });
    assert.equal(state.historyCursor, 'c1');
    state = reduce(state, { type: 'historyPrepended', history: [{ role: 'user', text: 'old', turnId: 't1' }] });
    assert.deepEqual(state.entries.map((e) => (e.kind === 'user' ? e.text : '')), ['old', 'new']);
    assert.equal(state.historyCursor, undefined);
    assert.equal(new Set(state.entries.map((e) => e.id)).size, 2, 'ids stay unique');
  });
});

describe('v2 events in the reducer', () => {
  test('changes on a tool call, one turn diff per turn (the latest), token usage, compaction', () => {
    let state: ChatState = { ...initialState(), sessionId: S };
    state = reduce(state, { type: 'event', event: ev('t1', { type: 'toolCallStarted', callId: 'p1', name: 'apply_patch', arguments: '{}', changes: [{ path: 'greet.txt', kind: 'update', diff: DIFF }] }) });
    const tool = state.entries.find((e) => e.kind === 'tool');
    assert.equal(tool?.kind === 'tool' ? tool.changes?.[0]?.path : '', 'greet.txt');
    state = reduce(state, { type: 'event', event: ev('t1', { type: 'turnDiff', diff: DIFF, files: [{ path: 'greet.txt', added: 1, removed: 1 }] }) });
    state = reduce(state, { type: 'event', event: ev('t1', { type: 'turnDiff', diff: DIFF, files: [{ path: 'greet.txt', added: 1, removed: 1 }, { path: 'b', added: 2, removed: 0 }] }) });
    const diffs = state.entries.filter((e) => e.kind === 'diff');
    assert.equal(diffs.length, 1);
    assert.equal(diffs[0]?.kind === 'diff' ? diffs[0].files.length : 0, 2);

    state = reduce(state, { type: 'event', event: ev('t1', { type: 'tokenUsage', inputTokens: 5000, outputTokens: 10, contextWindow: 10000 }) });
    assert.equal(state.contextUsage?.percent, 50);
    state = reduce(state, { type: 'event', event: ev('t1', { type: 'compaction', phase: 'started' }) });
    assert.equal(state.compacting, true);
    state = reduce(state, { type: 'event', event: ev('t1', { type: 'compaction', phase: 'completed', tokensBefore: 9000, tokensAfter: 1200 }) });
    assert.equal(state.compacting, undefined);
    assert.match(state.entries.at(-1)?.kind === 'notice' ? state.entries.at(-1)?.kind ?? '' : '', /notice/);
    const notice = state.entries.at(-1);
    assert.match(notice?.kind === 'notice' ? notice.text : '', /9,000 → 1,200/);
  });

  test('a patch approval carries its files', () => {
    const approval = approvalFromParams('a1', {
      sessionId: S, turnId: 't', callId: 'p1', kind: 'patch', cwd: '/w',
      changes: [{ path: 'greet.txt', kind: 'update', diff: DIFF }],
    });
    assert.equal(approval.kind, 'patch');
    assert.equal(approval.command, 'apply_patch: greet.txt');
    assert.equal(approval.changes?.length, 1);
  });
});

describe('diff sides for the diff editor', () => {
  test('forwards before the change, backwards after it, hunks when neither fits', () => {
    const hunks = parseHunks(DIFF);
    assert.equal(hunks.length, 1);
    assert.equal(applyHunks('hello\nworld\n', hunks), 'hello\nthere\n');
    assert.equal(applyHunks('hello\nthere\n', hunks, true), 'hello\nworld\n');
    assert.deepEqual(diffSides('update', DIFF, 'hello\nworld\n'), { before: 'hello\nworld\n', after: 'hello\nthere\n', how: 'applied' });
    assert.deepEqual(diffSides('update', DIFF, 'hello\nthere\n'), { before: 'hello\nworld\n', after: 'hello\nthere\n', how: 'reversed' });
    assert.equal(diffSides('update', DIFF, 'something else').how, 'hunks');
    assert.deepEqual(countChanges(DIFF), { added: 1, removed: 1 });
    const add = '--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+a\n+b';
    assert.deepEqual(diffSides('add', add, undefined), { before: '', after: 'a\nb', how: 'applied' });
  });

  test('one file out of a multi-file diff', () => {
    const turn = ['diff --git a/x b/x', '--- a/x', '+++ b/x', '@@ -1 +1 @@', '-1', '+2', 'diff --git a/y b/y', '--- a/y', '+++ b/y', '@@ -1 +1 @@', '-3', '+4'].join('\n');
    const y = fileDiffFromTurnDiff(turn, 'y');
    assert.match(y, /-3\n\+4/);
    assert.doesNotMatch(y, /^-1$/m);
  });
});

describe('editor chips', () => {
  test('a file without selection, a selection with its lines and text', () => {
    assert.equal(attachmentFor(undefined), undefined);
    assert.deepEqual(attachmentFor({ uri: 'file:///w/a.ts', name: 'a.ts' }), { id: 'auto:file:///w/a.ts', uri: 'file:///w/a.ts', label: 'a.ts', auto: true });
    const range = { start: { line: 2, character: 0 }, end: { line: 5, character: 0 } };
    const chip = attachmentFor({ uri: 'file:///w/a.ts', name: 'a.ts', selection: { range, text: 'x' } });
    assert.equal(chip?.label, 'a.ts:3-5');
    assert.equal(chip?.text, 'x');
  });

  test('the editor chip goes with every message; a removed one stays away until another file', async () => {
    const connection = fakeConnection(async (call) => ({ sessionId: S, turnId: `t${connection.calls.length}`, status: 'completed', ...(call.method === 'agent/send' ? {} : {}) }));
    const controller = running(['agent/send']);
    controller.setConnection(connection);
    controller.setEditorAttachment(attachmentFor({ uri: 'file:///w/a.ts', name: 'a.ts' }));
    controller.addAttachments([{ id: 'f1', uri: 'file:///w/b.ts', label: 'b.ts', auto: false }]);
    await controller.send('look');
    assert.deepEqual(connection.calls[0]?.params.context, [{ uri: 'file:///w/a.ts' }, { uri: 'file:///w/b.ts' }]);
    assert.deepEqual(controller.state.attachments.map((a) => a.uri), ['file:///w/a.ts'], 'a file added by hand goes once');
    const user = controller.state.entries.find((e) => e.kind === 'user');
    assert.equal(user?.kind === 'user' ? user.context?.length : 0, 2, 'the history shows what was attached');

    const autoId = controller.state.attachments[0]?.id ?? '';
    controller.handleWebviewMessage({ type: 'removeAttachment', id: autoId });
    controller.setEditorAttachment(attachmentFor({ uri: 'file:///w/a.ts', name: 'a.ts' }));
    assert.equal(controller.state.attachments.length, 0, 'removed: stays away for that file');
    controller.setEditorAttachment(attachmentFor({ uri: 'file:///w/c.ts', name: 'c.ts' }));
    assert.equal(controller.state.attachments[0]?.uri, 'file:///w/c.ts');
    await controller.send('again');
    assert.deepEqual(connection.calls[1]?.params.context, [{ uri: 'file:///w/c.ts' }]);
  });
});

describe('steering, queueing and user commands', () => {
  test('typing during a turn steers it (agent/steer); in queue mode it waits for the turn end', async () => {
    let finish: (result: SendResult) => void = () => undefined;
    const connection = fakeConnection(async (call) => {
      if (call.method === 'agent/send') {
        if (connection.calls.filter((c) => c.method === 'agent/send').length === 1) {
          return new Promise<SendResult>((resolve) => (finish = resolve));
        }
        return { sessionId: S, turnId: 't2', status: 'completed' };
      }
      if (call.method === 'agent/steer') return { accepted: true };
      throw new Error(call.method);
    });
    const controller = running(['agent/send', 'agent/steer']);
    controller.setConnection(connection);
    const first = controller.send('long task');
    controller.dispatch({ type: 'event', event: ev('t1', { type: 'turnStarted', text: 'long task' }) });
    await controller.send('also this');
    assert.deepEqual(connection.calls[1], { method: 'agent/steer', params: { text: 'also this', sessionId: S }, token: undefined });
    const steered = controller.state.entries.at(-1);
    assert.equal(steered?.kind === 'user' && steered.steer, true);
    assert.equal(steered?.turnId, 't1');

    controller.handleWebviewMessage({ type: 'steerMode', mode: 'queue' });
    await controller.send('after it');
    assert.deepEqual(controller.state.queued, ['after it']);
    finish({ sessionId: S, turnId: 't1', status: 'completed' });
    await first;
    await new Promise((resolve) => setTimeout(resolve, 10));
    const sends = connection.calls.filter((c) => c.method === 'agent/send');
    assert.equal(sends.length, 2, 'the queued message went when the turn ended');
    assert.equal(sends[1]?.params.text, 'after it');
    assert.deepEqual(controller.state.queued, []);
  });

  test('without agent/steer a message during a turn is refused with a notice', async () => {
    const connection = fakeConnection(() => new Promise(() => undefined));
    const controller = running(['agent/send']);
    controller.setConnection(connection);
    void controller.send('long task');
    await controller.send('more');
    assert.equal(connection.calls.length, 1);
    assert.match(JSON.stringify(controller.state.entries.at(-1)), /A turn is running/);
  });

  test('!cmd runs the person\'s own command when the server offers agent/runCommand', async () => {
    const connection = fakeConnection(async () => ({ sessionId: S, turnId: 'u1', status: 'completed' }));
    const controller = running(['agent/send', 'agent/runCommand']);
    controller.setConnection(connection);
    await controller.send('!ls -la');
    assert.equal(connection.calls[0]?.method, 'agent/runCommand');
    assert.deepEqual(connection.calls[0]?.params, { command: 'ls -la' });
    assert.ok(connection.calls[0]?.token, 'stoppable like a send');
    const plain = running(['agent/send']);
    plain.setConnection(connection);
    await plain.send('!ls');
    assert.equal(connection.calls[1]?.method, 'agent/send', 'an older server gets it as text');
  });
});

describe('undo, fork, retry, history paging', () => {
  test('undo redraws from the answer and lists restored and skipped files', async () => {
    const connection = fakeConnection(async (call) => {
      assert.equal(call.method, 'agent/undo');
      return {
        sessionId: S,
        restoredFiles: ['a.txt'],
        skippedFiles: [{ path: 'b.txt', reason: 'changed since the turn' }],
        history: [{ role: 'user', text: 'first', turnId: 't1' }, { role: 'turn', turnId: 't1', status: 'completed' }],
      };
    });
    const controller = running(['agent/undo']);
    controller.setConnection(connection);
    controller.dispatch({ type: 'sessionStarted', sessionId: S });
    controller.handleWebviewMessage({ type: 'undo', turnId: 't2' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(connection.calls[0]?.params, { turnId: 't2', sessionId: S });
    const texts = controller.state.entries.map((e) => (e.kind === 'notice' ? e.text : e.kind));
    assert.deepEqual(texts.slice(0, 2), ['user', 'turnEnd']);
    assert.match(texts.join('\n'), /Undone: restored a\.txt/);
    assert.match(texts.join('\n'), /b\.txt \(changed since the turn\)/);
  });

  test('an undo the server refuses says why', async () => {
    const connection = fakeConnection(async () => {
      throw new ResponseError(-33002, 'a turn is running');
    });
    const controller = running(['agent/undo']);
    controller.setConnection(connection);
    assert.equal(await controller.undo('t1'), undefined);
    assert.match(JSON.stringify(controller.state.entries.at(-1)), /Undo failed/);
  });

  test('fork resumes the new session; retry sends a failed turn\'s message again', async () => {
    const connection = fakeConnection(async (call) => {
      if (call.method === 'agent/fork') return { sessionId: 'forked' };
      if (call.method === 'agent/resume') return { sessionId: 'forked', title: 'f', createdAt: '', updatedAt: '', warnings: [], history: [] };
      if (call.method === 'agent/send') return { sessionId: 'forked', turnId: 't9', status: 'completed' };
      throw new Error(call.method);
    });
    const controller = running(['agent/fork']);
    controller.setConnection(connection);
    assert.equal(await controller.fork('t1'), 'forked');
    assert.deepEqual(connection.calls.map((c) => c.method), ['agent/fork', 'agent/resume']);
    assert.equal(controller.state.sessionId, 'forked');
    controller.dispatch({
      type: 'historyLoaded',
      result: { sessionId: 'forked', title: 'f', createdAt: '', updatedAt: '', warnings: [], history: [
        { role: 'user', text: 'try this', turnId: 't1', context: [{ uri: 'file:///w/a' }] },
        { role: 'turn', turnId: 't1', status: 'failed', error: { message: 'boom' } },
      ] },
    });
    await controller.retry('t1');
    const send = connection.calls.at(-1);
    assert.equal(send?.method, 'agent/send');
    assert.deepEqual(send?.params, { text: 'try this', sessionId: 'forked', context: [{ uri: 'file:///w/a' }] });
  });

  test('"Load earlier" asks agent/history with the cursor', async () => {
    const connection = fakeConnection(async () => ({ history: [{ role: 'user', text: 'older' }] }));
    const controller = running(['agent/history']);
    controller.setConnection(connection);
    controller.dispatch({ type: 'historyLoaded', result: { sessionId: S, title: '', createdAt: '', updatedAt: '', warnings: [], history: [{ role: 'user', text: 'newer' }], historyCursor: 'k' } });
    await controller.loadEarlier(50);
    assert.deepEqual(connection.calls[0], { method: 'agent/history', params: { cursor: 'k', limit: 50, sessionId: S }, token: undefined });
    assert.deepEqual(controller.state.entries.map((e) => (e.kind === 'user' ? e.text : '')), ['older', 'newer']);
  });
});

describe('the session list in the panel', () => {
  test('opened with a query, renamed, deleted; a v1 server is searched by title here', async () => {
    let sessions = [
      { sessionId: 'a', title: 'fix the build', createdAt: '', updatedAt: '2026-01-02T00:00:00Z', turns: 2 },
      { sessionId: 'b', title: 'write docs', createdAt: '', updatedAt: '2026-01-01T00:00:00Z', turns: 1 },
    ];
    let v1 = true;
    const connection = fakeConnection(async (call) => {
      if (call.method === 'agent/listSessions') {
        if (v1 && call.params.query !== undefined) throw new ResponseError(-32602, 'unknown field query');
        return { sessions };
      }
      if (call.method === 'agent/renameSession') {
        sessions = sessions.map((s) => (s.sessionId === call.params.sessionId ? { ...s, title: String(call.params.title) } : s));
        return {};
      }
      if (call.method === 'agent/deleteSession') {
        sessions = sessions.filter((s) => s.sessionId !== call.params.sessionId);
        return {};
      }
      throw new Error(call.method);
    });
    const controller = running(['agent/listSessions', 'agent/renameSession', 'agent/deleteSession']);
    controller.setConnection(connection);
    await controller.showSessions(true, 'docs');
    assert.deepEqual(controller.state.sessionList.sessions.map((s) => s.sessionId), ['b']);
    v1 = false;
    await controller.renameSession('a', 'Renamed');
    await controller.showSessions(true, '');
    assert.deepEqual(controller.state.sessionList.sessions.map((s) => s.title), ['Renamed', 'write docs']);
    await controller.deleteSession('b');
    assert.deepEqual(controller.state.sessionList.sessions.map((s) => s.sessionId), ['a']);
    assert.match(JSON.stringify(controller.state.entries), /trash folder/);
    controller.handleSessionsChanged();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(connection.calls.at(-1)?.method, 'agent/listSessions', 'sessionsChanged refreshes an open list');
  });
});

describe('panel messages (v2) are checked', () => {
  test('well-formed ones pass, others are dropped', () => {
    assert.deepEqual(parseFromWebview({ type: 'undo', turnId: 't1' }), { type: 'undo', turnId: 't1' });
    assert.deepEqual(parseFromWebview({ type: 'openDiff', callId: 'c', index: 0 }), { type: 'openDiff', callId: 'c', index: 0 });
    assert.equal(parseFromWebview({ type: 'openDiff', callId: 'c', index: -1 }), undefined);
    assert.equal(parseFromWebview({ type: 'steerMode', mode: 'sideways' }), undefined);
    assert.equal(parseFromWebview({ type: 'renameSession', sessionId: 'a' }), undefined);
    assert.deepEqual(parseFromWebview({ type: 'sessions', open: true, query: 'x' }), { type: 'sessions', open: true, query: 'x' });
    assert.equal(parseFromWebview({ type: 'insert', text: 5 }), undefined);
  });
});

describe('small pieces', () => {
  test('the output channel drops writes after dispose instead of throwing', () => {
    const lines: string[] = [];
    let disposed = false;
    const inner = {
      name: 'agentls',
      append: (v: string) => {
        if (disposed) throw new Error('Channel has been closed');
        lines.push(v);
      },
      appendLine: (v: string) => {
        if (disposed) throw new Error('Channel has been closed');
        lines.push(v);
      },
      replace: () => undefined,
      clear: () => undefined,
      show: () => undefined,
      hide: () => undefined,
      dispose: () => {
        disposed = true;
      },
    } as unknown as vscode.OutputChannel;
    const safe = new SafeOutputChannel(inner);
    safe.appendLine('before');
    disposed = true; // VS Code closed it first (the window is reloading)
    assert.doesNotThrow(() => safe.appendLine('server process exited'));
    safe.dispose();
    assert.doesNotThrow(() => safe.append('after'));
    assert.deepEqual(lines, ['before']);
  });

  test('a remote window is told where the server command goes', () => {
    assert.equal(remoteHint(undefined), '');
    assert.match(remoteHint('ssh-remote'), /Remote settings/);
    assert.match(remoteHint('ssh-remote'), /Machine\/settings\.json/);
  });
});

describe('apply_patch calls read as their files', () => {
  test('describeCall names the files of a patch', async () => {
    const { describeCall } = await import('../../src/describe');
    const input = '*** Begin Patch\n*** Update File: greet.txt\n@@\n-a\n+b\n*** Add File: new.md\n+x\n*** End Patch';
    assert.equal(describeCall('apply_patch', JSON.stringify({ input })), 'apply_patch: update greet.txt, add new.md');
    assert.equal(describeCall('apply_patch', JSON.stringify({ input: 'garbage' })), 'apply_patch');
  });
});

describe('turn diffs without git headers', () => {
  test('sections start at ---/+++ pairs', () => {
    const plain = ['--- a/x', '+++ b/x', '@@ -1 +1 @@', '-1', '+2', '--- a/y', '+++ b/y', '@@ -1 +1 @@', '-3', '+4'].join('\n');
    assert.equal(fileDiffFromTurnDiff(plain, 'y'), ['--- a/y', '+++ b/y', '@@ -1 +1 @@', '-3', '+4'].join('\n'));
    assert.equal(fileDiffFromTurnDiff(plain, 'z'), '');
    const added = ['diff --git a/new b/new', 'new file mode 100644', '--- /dev/null', '+++ b/new', '@@ -0,0 +1 @@', '+n'].join('\n');
    assert.match(fileDiffFromTurnDiff(added, 'new'), /\+n$/);
  });
});

describe('the steered event', () => {
  const base = (): ChatState => {
    let state = reduce(initialState(), { type: 'userSent', text: 'long task' });
    state = reduce(state, { type: 'event', event: ev('t1', { type: 'turnStarted', text: 'long task' }) });
    return state;
  };
  const users = (state: ChatState): string[] =>
    state.entries.flatMap((e) => (e.kind === 'user' ? [`${e.text}:${e.turnId ?? '-'}:${e.steer ? 'steer' : ''}`] : []));

  test('text steered from elsewhere shows as a user message of the running turn', () => {
    const state = reduce(base(), { type: 'event', event: ev('t1', { type: 'steered', text: 'from the terminal' }) });
    assert.deepEqual(users(state), ['long task:t1:', 'from the terminal:t1:steer']);
  });

  test("this panel's steer is drawn once, whether its answer or the event comes first", () => {
    const answerFirst = [
      { type: 'userSteered', text: 'also this' } as const,
      { type: 'event', event: ev('t1', { type: 'steered', text: 'also this' }) } as const,
    ];
    for (const order of [answerFirst, [...answerFirst].reverse()]) {
      const state = order.reduce(reduce, base());
      assert.deepEqual(users(state), ['long task:t1:', 'also this:t1:steer']);
      const entry = state.entries.at(-1);
      assert.ok(entry?.kind === 'user' && entry.steerSent && entry.steerJoined);
    }
  });

  test('the same text steered twice is two messages', () => {
    let state = base();
    for (let i = 0; i < 2; i++) {
      state = reduce(state, { type: 'userSteered', text: 'again' });
      state = reduce(state, { type: 'event', event: ev('t1', { type: 'steered', text: 'again' }) });
    }
    assert.deepEqual(users(state), ['long task:t1:', 'again:t1:steer', 'again:t1:steer']);
  });
});

describe('steered messages in a redrawn history', () => {
  test('a second user message of a turn is marked as added to it', () => {
    const { entries } = entriesFromHistory([
      { role: 'user', text: 'do it', turnId: 't1' },
      { role: 'user', text: 'and this', turnId: 't1' },
      { role: 'user', text: 'next', turnId: 't2' },
    ]);
    assert.deepEqual(entries.map((e) => (e.kind === 'user' ? Boolean(e.steer) : null)), [false, true, false]);
  });
});

describe("the server's history shape: outcome on a turn's last entry", () => {
  test('each turn ends as it did, with its error or reason', () => {
    const { entries } = entriesFromHistory([
      { role: 'user', text: 'a', turnId: 't1' },
      { role: 'assistant', text: 'tick', turnId: 't1', outcome: { status: 'interrupted' } },
      { role: 'user', text: 'b', turnId: 't2' },
      { role: 'tool', text: 'ls', turnId: 't2', callId: 'c', status: 'completed', output: '' },
      { role: 'assistant', text: 'ok', turnId: 't2', outcome: { status: 'completed', usage: { input_tokens: 3 } } },
      { role: 'user', text: 'c', turnId: 't3', outcome: { status: 'failed', error: { message: '401 from the model API' } } },
      { role: 'user', text: 'd', turnId: 't4', outcome: { status: 'interrupted', reason: 'the server shut down' } },
    ]);
    const ends = entries.filter((e) => e.kind === 'turnEnd');
    assert.deepEqual(ends.map((e) => (e.kind === 'turnEnd' ? `${e.turnId}:${e.status}:${e.error?.message ?? ''}` : '')), [
      't1:interrupted:',
      't2:completed:',
      't3:failed:401 from the model API',
      't4:interrupted:Stopped: the server shut down',
    ]);
    assert.equal(entries.findIndex((e) => e.kind === 'turnEnd' && e.turnId === 't2'), 6, 'after the turn\'s last entry');
  });
});

describe('the mcpWaiting event', () => {
  const started = (): ChatState => {
    const state = reduce(initialState(), { type: 'userSent', text: 'use the docs server' });
    return reduce(state, { type: 'event', event: ev('t1', { type: 'turnStarted', text: 'use the docs server' }) });
  };
  const notices = (state: ChatState): string[] =>
    state.entries.flatMap((e) => (e.kind === 'notice' ? [`${e.level}:${e.text}`] : []));

  test('the wait and its end are notices of the turn', () => {
    let state = reduce(started(), {
      type: 'event',
      event: ev('t1', { type: 'mcpWaiting', phase: 'started', servers: ['docs', 'db'] }),
    });
    state = reduce(state, {
      type: 'event',
      event: ev('t1', {
        type: 'mcpWaiting',
        phase: 'completed',
        servers: ['docs', 'db'],
        ready: ['docs'],
        failed: [{ name: 'db', error: 'exited with status 1' }],
        waitedMs: 120,
      }),
    });
    assert.deepEqual(notices(state), [
      'info:Waiting for MCP servers to start: docs, db…',
      'warning:Going on without MCP server(s) db (exited with status 1).',
    ]);
  });
});
