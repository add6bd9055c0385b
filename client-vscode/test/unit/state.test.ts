import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeArgv, describeCall, shellQuote } from '../../src/describe';
import type { AgentEvent } from '../../src/protocol';
import {
  entriesFromHistory,
  formatUsage,
  initialState,
  reduce,
  type Action,
  type ChatState,
  type Entry,
} from '../../src/state';

const S = '11111111-1111-4111-8111-111111111111';

let seq = 0;
function ev(turnId: string, event: Record<string, unknown>): Action {
  return { type: 'event', event: { sessionId: S, turnId, seq: seq++, ...event } as AgentEvent };
}

function run(actions: Action[], state: ChatState = initialState()): ChatState {
  return actions.reduce(reduce, state);
}

function kinds(state: ChatState): string[] {
  return state.entries.map((e) => e.kind);
}

describe('describe', () => {
  test('a bash -lc call reads as its script', () => {
    assert.equal(describeCall('shell', JSON.stringify({ command: ['bash', '-lc', 'ls -la | wc -l'] })), 'ls -la | wc -l');
  });
  test('other argv are joined and quoted', () => {
    assert.equal(describeArgv(['git', 'commit', '-m', "it's done"]), `git commit -m 'it'"'"'s done'`);
    assert.equal(describeArgv(['echo', '']), "echo ''");
    assert.equal(shellQuote('a/b.c'), 'a/b.c');
  });
  test('malformed arguments are shown as they came', () => {
    assert.equal(describeCall('shell', '{not json'), '{not json');
    assert.equal(describeCall('other', '{"x":1}'), 'other {"x":1}');
  });
});

describe('reducer: a turn', () => {
  test('send, streamed deltas, a tool call with live output, completion and usage', () => {
    const t = 'turn-1';
    const state = run([
      { type: 'server', server: { status: 'running' } },
      { type: 'userSent', text: 'list files' },
      ev(t, { type: 'turnStarted', text: 'list files' }),
      ev(t, { type: 'textDelta', itemId: 'm1', delta: 'Let me ' }),
      ev(t, { type: 'textDelta', itemId: 'm1', delta: 'look.' }),
      ev(t, { type: 'messageCompleted', itemId: 'm1', text: 'Let me look.' }),
      ev(t, { type: 'toolCallStarted', callId: 'c1', name: 'shell', arguments: '{"command":["bash","-lc","ls"]}' }),
      ev(t, { type: 'toolOutputDelta', callId: 'c1', delta: 'a.txt\n' }),
      ev(t, { type: 'toolOutputDelta', callId: 'c1', delta: 'b.txt\n' }),
    ]);
    assert.equal(state.running, true);
    assert.equal(state.turnId, t);
    assert.equal(state.sessionId, S);
    assert.deepEqual(kinds(state), ['user', 'assistant', 'tool']);
    const user = state.entries[0];
    assert.equal(user?.kind === 'user' && user.turnId, t, 'the sent message joins its turn');
    const tool = state.entries[2];
    assert.ok(tool?.kind === 'tool');
    assert.equal(tool.command, 'ls');
    assert.equal(tool.output, 'a.txt\nb.txt\n');
    assert.equal(tool.status, 'running');

    const done = run(
      [
        ev(t, { type: 'toolCallCompleted', callId: 'c1', status: 'completed', exitCode: 0, output: 'a.txt\nb.txt\n' }),
        ev(t, { type: 'textDelta', itemId: 'm2', delta: 'Two files.' }),
        ev(t, { type: 'turnCompleted', status: 'completed', finalMessage: 'Two files.', usage: { input_tokens: 1200, output_tokens: 30 } }),
      ],
      state,
    );
    assert.deepEqual(kinds(done), ['user', 'assistant', 'tool', 'assistant', 'turnEnd']);
    const finished = done.entries[2];
    assert.equal(finished?.kind === 'tool' && finished.exitCode, 0);
    assert.equal(finished?.kind === 'tool' && finished.status, 'completed');
    const streamed = done.entries[3];
    assert.equal(streamed?.kind === 'assistant' && streamed.streaming, false, 'the turn end stops streaming');
    assert.equal(done.running, true, 'running until agent/send answers');

    const answered = reduce(done, {
      type: 'sendResult',
      result: { sessionId: S, turnId: t, status: 'completed', finalMessage: 'Two files.', usage: { input_tokens: 1200, output_tokens: 30 } },
    });
    assert.equal(answered.running, false);
    assert.equal(answered.turnId, undefined);
    assert.deepEqual(kinds(answered), kinds(done), 'the result does not add a second turn end');
    const end = answered.entries.at(-1);
    assert.equal(end?.kind === 'turnEnd' && formatUsage(end.usage), '1,200 in · 30 out tokens');
  });

  test('Stop: stopping until the request answers "interrupted"; running tools are marked aborted', () => {
    const t = 'turn-2';
    let state = run([
      { type: 'userSent', text: 'slow' },
      ev(t, { type: 'turnStarted', text: 'slow' }),
      ev(t, { type: 'textDelta', itemId: 'm', delta: 'tick ' }),
      ev(t, { type: 'toolCallStarted', callId: 'c', name: 'shell', arguments: '{"command":["sleep","9"]}' }),
      { type: 'stopRequested' },
    ]);
    assert.equal(state.stopping, true);
    state = reduce(state, {
      type: 'sendResult',
      result: { sessionId: S, turnId: t, status: 'interrupted', finalMessage: 'tick ' },
    });
    assert.equal(state.running, false);
    assert.equal(state.stopping, false);
    const tool = state.entries.find((e) => e.kind === 'tool');
    assert.equal(tool?.kind === 'tool' && tool.status, 'aborted');
    const end = state.entries.at(-1);
    assert.equal(end?.kind === 'turnEnd' && end.status, 'interrupted');
    const text = state.entries.find((e) => e.kind === 'assistant');
    assert.equal(text?.kind === 'assistant' && text.text, 'tick ', 'the partial answer stays');
  });

  test('denied and aborted calls keep what they printed; the mark says why', () => {
    const t = 'turn-3';
    const state = run([
      { type: 'userSent', text: 'x' },
      ev(t, { type: 'turnStarted', text: 'x' }),
      ev(t, { type: 'toolCallStarted', callId: 'd', name: 'shell', arguments: '{"command":["rm","-rf","/"]}' }),
      ev(t, { type: 'toolCallCompleted', callId: 'd', status: 'denied', output: 'denied' }),
      ev(t, { type: 'toolCallStarted', callId: 'a', name: 'shell', arguments: '{"command":["make"]}' }),
      ev(t, { type: 'toolOutputDelta', callId: 'a', delta: 'building…\n' }),
      ev(t, { type: 'toolCallCompleted', callId: 'a', status: 'aborted', output: 'aborted' }),
    ]);
    const [denied, aborted] = state.entries.filter((e) => e.kind === 'tool');
    assert.equal(denied?.kind === 'tool' && denied.status, 'denied');
    assert.equal(denied?.kind === 'tool' && denied.command, 'rm -rf /');
    assert.equal(denied?.kind === 'tool' && denied.output, '', 'the mark says denied; no output repeats it');
    assert.equal(aborted?.kind === 'tool' && aborted.status, 'aborted');
    assert.equal(aborted?.kind === 'tool' && aborted.output, 'building…\n');
  });

  test('retrying drops the partial text of the failed attempt', () => {
    const t = 'turn-4';
    const state = run([
      { type: 'userSent', text: 'x' },
      ev(t, { type: 'turnStarted', text: 'x' }),
      ev(t, { type: 'textDelta', itemId: 'm', delta: 'half an ans' }),
      ev(t, { type: 'retrying', attempt: 1, delayMs: 500, reason: '503 from the model API' }),
      ev(t, { type: 'textDelta', itemId: 'm', delta: 'The answer.' }),
    ]);
    assert.deepEqual(kinds(state), ['user', 'notice', 'assistant']);
    const text = state.entries[2];
    assert.equal(text?.kind === 'assistant' && text.text, 'The answer.');
    const notice = state.entries[1];
    assert.match(notice?.kind === 'notice' ? notice.text : '', /Retrying \(attempt 1\) in 0\.5 s: 503/);
  });

  test('a failed turn shows its error; a failed request shows why and ends the turn', () => {
    const t = 'turn-5';
    const failed = run([
      { type: 'userSent', text: 'x' },
      ev(t, { type: 'turnStarted', text: 'x' }),
      ev(t, { type: 'turnCompleted', status: 'failed', error: { message: '401 from the model API. Check OPENAI_API_KEY' } }),
      { type: 'sendResult', result: { sessionId: S, turnId: t, status: 'failed', error: { message: '401 from the model API. Check OPENAI_API_KEY' } } },
    ]);
    const end = failed.entries.at(-1);
    assert.equal(end?.kind === 'turnEnd' && end.error?.message, '401 from the model API. Check OPENAI_API_KEY');

    const lost = run([
      { type: 'userSent', text: 'y' },
      ev('t6', { type: 'turnStarted', text: 'y' }),
      ev('t6', { type: 'textDelta', itemId: 'm', delta: 'par' }),
      { type: 'sendFailed', message: 'The connection to the agentls server was lost' },
    ]);
    assert.equal(lost.running, false);
    assert.equal(lost.entries.at(-1)?.kind, 'notice');
    const partial = lost.entries.find((e) => e.kind === 'assistant');
    assert.equal(partial?.kind === 'assistant' && partial.streaming, false);
  });

  test('events of another session are ignored; unchanged entries keep their identity', () => {
    let state = run([
      { type: 'sessionStarted', sessionId: S },
      { type: 'userSent', text: 'x' },
      ev('t', { type: 'turnStarted', text: 'x' }),
      ev('t', { type: 'textDelta', itemId: 'm', delta: 'a' }),
    ]);
    const other = reduce(state, {
      type: 'event',
      event: { sessionId: 'other', turnId: 'q', seq: 0, type: 'textDelta', itemId: 'm', delta: 'zzz' },
    });
    assert.equal(other, state, 'nothing changed');
    const user: Entry | undefined = state.entries[0];
    state = reduce(state, ev('t', { type: 'textDelta', itemId: 'm', delta: 'b' }));
    assert.equal(state.entries[0], user, 'the user entry is the same object');
    const text = state.entries[1];
    assert.equal(text?.kind === 'assistant' && text.text, 'ab');
  });

  test('the reducer never mutates its input', () => {
    const before = run([{ type: 'userSent', text: 'x' }, ev('t', { type: 'turnStarted', text: 'x' })]);
    const frozen = JSON.stringify(before);
    run([ev('t', { type: 'textDelta', itemId: 'm', delta: 'abc' }), { type: 'stopRequested' }], before);
    assert.equal(JSON.stringify(before), frozen);
  });
});

describe('reducer: sessions, history and approvals', () => {
  test('history is redrawn: messages, tool calls with status and exit code, warnings first', () => {
    const state = run([
      { type: 'userSent', text: 'old' },
      {
        type: 'historyLoaded',
        result: {
          sessionId: S,
          title: 'list the files',
          createdAt: '2026-01-01T00:00:00Z',
          updatedAt: '2026-01-01T00:00:00Z',
          warnings: ['the last turn was cut off by a crash'],
          history: [
            { role: 'user', text: 'list the files' },
            { role: 'tool', text: 'ls', callId: 'c1', toolName: 'shell', status: 'completed', exitCode: 0, output: 'a\n' },
            { role: 'tool', text: 'rm x', callId: 'c2', toolName: 'shell', status: 'denied', output: 'denied' },
            { role: 'assistant', text: 'One file: **a**' },
          ],
        },
      },
    ]);
    assert.equal(state.sessionId, S);
    assert.equal(state.title, 'list the files');
    assert.equal(state.running, false);
    assert.deepEqual(kinds(state), ['notice', 'user', 'tool', 'tool', 'assistant']);
    const tool = state.entries[2];
    assert.equal(tool?.kind === 'tool' && tool.exitCode, 0);
    assert.equal(state.entries[3]?.kind === 'tool' && state.entries[3].status, 'denied');
    // ids stay unique after a redraw
    const ids = new Set(state.entries.map((e) => e.id));
    assert.equal(ids.size, state.entries.length);
    assert.ok(!ids.has('e1'), 'ids continue from the counter');
  });

  test('entriesFromHistory numbers entries from the given id', () => {
    const { entries, nextId } = entriesFromHistory([{ role: 'user', text: 'a' }], [], 7);
    assert.equal(entries[0]?.id, 'e7');
    assert.equal(nextId, 8);
  });

  test('a new session clears the panel', () => {
    const state = run([{ type: 'userSent', text: 'x' }, { type: 'sendFailed', message: 'x' }, { type: 'sessionStarted', sessionId: S }]);
    assert.deepEqual(state.entries, []);
    assert.equal(state.sessionId, S);
  });

  test('approvals come and go; a turn end drops its open questions', () => {
    const approval = { id: 'approval-1', sessionId: S, turnId: 't', callId: 'c', command: 'touch x', cwd: '/w' };
    let state = run([{ type: 'approvalRequested', approval }, { type: 'approvalRequested', approval }]);
    assert.equal(state.approvals.length, 1);
    state = reduce(state, { type: 'approvalClosed', id: 'approval-1' });
    assert.equal(state.approvals.length, 0);
    state = run([{ type: 'approvalRequested', approval }, ev('t', { type: 'turnCompleted', status: 'interrupted' })], state);
    assert.equal(state.approvals.length, 0);
  });
});
