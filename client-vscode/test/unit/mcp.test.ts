/**
 * MCP in the panel's logic: the server list (from `initialize`, `agent/mcpServers` and
 * `agent/mcpStatus`), MCP calls as tool entries (live and redrawn), and their approvals.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { approvalFromParams } from '../../src/approvals';
import { ChatController, type AgentConnection } from '../../src/controller';
import { mcpFromToolName, parseMcpServers, type AgentEvent, type ApprovalParams } from '../../src/protocol';
import { mcpFromInitializeResult } from '../../src/server';
import { entriesFromHistory, initialState, reduce, type ChatState } from '../../src/state';

const S = '44444444-4444-4444-8444-444444444444';

function started(fields: Record<string, unknown>): AgentEvent {
  return { sessionId: S, turnId: 't1', seq: 1, type: 'toolCallStarted', callId: 'c1', ...fields } as AgentEvent;
}

describe('MCP servers and calls', () => {
  test('a server list from the wire keeps well-formed entries only', () => {
    const parsed = parseMcpServers({
      servers: [
        { name: 'fix', state: 'ready', error: null, tools: ['echo', 3, 'slow'] },
        { name: 'broken', state: 'failed', error: 'exited with status 3', tools: [] },
        { state: 'ready' },
        'junk',
      ],
    });
    assert.deepEqual(parsed, [
      { name: 'fix', state: 'ready', tools: ['echo', 'slow'] },
      { name: 'broken', state: 'failed', error: 'exited with status 3', tools: [] },
    ]);
    assert.equal(parseMcpServers({ servers: 'nope' }), undefined);
    assert.equal(parseMcpServers(null), undefined);
    const init = { capabilities: { experimental: { agent: { mcp: [{ name: 'fix', state: 'starting', tools: [] }] } } } };
    assert.deepEqual(mcpFromInitializeResult(init), [{ name: 'fix', state: 'starting', tools: [] }]);
    assert.equal(mcpFromInitializeResult({ capabilities: {} }), undefined, 'a server without MCP says nothing');
  });

  test('model-facing names split back into server and tool', () => {
    assert.deepEqual(mcpFromToolName('mcp__my_db__run_query'), { server: 'my_db', tool: 'run_query' });
    assert.equal(mcpFromToolName('shell'), undefined);
    assert.equal(mcpFromToolName('mcp__only'), undefined);
  });

  test('an MCP call is a tool entry with its server, tool and arguments; output and status as for commands', () => {
    let state: ChatState = { ...initialState(), sessionId: S };
    state = reduce(state, {
      type: 'event',
      event: started({ name: 'mcp__fix__echo', arguments: '{"text": "hi"}', mcp: { server: 'fix', tool: 'echo' } }),
    });
    const tool = state.entries[0];
    assert.equal(tool?.kind, 'tool');
    if (tool?.kind !== 'tool') return;
    assert.deepEqual(tool.mcp, { server: 'fix', tool: 'echo' });
    assert.equal(tool.command, '{"text": "hi"}', 'the arguments, not "mcp__fix__echo {...}"');
    state = reduce(state, { type: 'event', event: { sessionId: S, turnId: 't1', seq: 2, type: 'toolOutputDelta', callId: 'c1', delta: 'hi' } });
    state = reduce(state, { type: 'event', event: { sessionId: S, turnId: 't1', seq: 3, type: 'toolCallCompleted', callId: 'c1', status: 'failed', output: 'hi (error)' } });
    const done = state.entries[0];
    assert.ok(done?.kind === 'tool' && done.status === 'failed' && done.output === 'hi (error)' && done.exitCode === undefined);

    // a name cut to 64 characters and hashed: the event's `mcp` field still names the pair
    const hashed = reduce({ ...initialState(), sessionId: S }, {
      type: 'event',
      event: started({ name: 'mcp__a_very_long_server__x_1234abcd', arguments: '{}', mcp: { server: 'a.very.long.server', tool: 'x' } }),
    }).entries[0];
    assert.ok(hashed?.kind === 'tool');
    assert.deepEqual(hashed.mcp, { server: 'a.very.long.server', tool: 'x' });
    assert.equal(hashed.command, '', 'no arguments: nothing after the tool');

    // a shell call is untouched
    const shell = reduce({ ...initialState(), sessionId: S }, {
      type: 'event',
      event: started({ name: 'shell', arguments: JSON.stringify({ command: ['bash', '-lc', 'ls'] }) }),
    }).entries[0];
    assert.ok(shell?.kind === 'tool' && shell.mcp === undefined && shell.command === 'ls');
  });

  test('a redrawn MCP call keeps its server and tool', () => {
    const { entries } = entriesFromHistory([
      { role: 'user', text: 'go', turnId: 't' },
      { role: 'tool', text: '{"text": "x"}', callId: 'h1', toolName: 'mcp__fix__echo', status: 'completed', output: 'x', turnId: 't' },
    ]);
    const tool = entries[1];
    assert.ok(tool?.kind === 'tool');
    assert.deepEqual(tool.mcp, { server: 'fix', tool: 'echo' });
    assert.equal(tool.command, '{"text": "x"}');
  });

  test('an MCP approval names the server, tool and arguments', () => {
    const params: ApprovalParams = {
      sessionId: S,
      turnId: 't1',
      callId: 'c1',
      kind: 'mcp',
      cwd: '/w',
      reason: 'fix: echo {"text": "hi"}',
      tool: { server: 'fix', tool: 'echo', arguments: '{"text": "hi"}' },
    };
    const approval = approvalFromParams('a1', params);
    assert.equal(approval.command, 'fix › echo {"text": "hi"}');
    assert.equal(approval.kind, 'mcp');
  });

  test('the controller takes the list from initialize, agent/mcpServers and agent/mcpStatus', async () => {
    const logged: string[] = [];
    const controller = new ChatController({ log: (line) => logged.push(line) });
    const asked: string[] = [];
    let answer: unknown = { servers: [{ name: 'fix', state: 'ready', tools: ['echo'] }] };
    const connection: AgentConnection = {
      sendRequest: async <R>(method: string): Promise<R> => {
        asked.push(method);
        return answer as R;
      },
    };
    controller.setConnection(connection);
    controller.setServer({ status: 'running', methods: ['agent/send'] });
    assert.equal(await controller.refreshMcpServers(), undefined, 'not asked of a server without the method');
    assert.deepEqual(asked, []);

    controller.setMcpServers([{ name: 'fix', state: 'starting', tools: [] }]);
    assert.equal(controller.state.mcpServers?.[0]?.state, 'starting');
    controller.setServer({ status: 'running', methods: ['agent/send', 'agent/mcpServers'] });
    await controller.refreshMcpServers();
    assert.deepEqual(asked, ['agent/mcpServers']);
    assert.deepEqual(controller.state.mcpServers, [{ name: 'fix', state: 'ready', tools: ['echo'] }]);

    const actions: string[] = [];
    controller.onDidChange((_state, action) => actions.push(action.type));
    controller.handleMcpStatus({ servers: [{ name: 'fix', state: 'ready', tools: ['echo'] }] });
    assert.deepEqual(actions, [], 'an unchanged list is not sent again');
    controller.handleMcpStatus({ servers: [{ name: 'fix', state: 'failed', error: 'crashed', tools: [] }] });
    assert.deepEqual(controller.state.mcpServers, [{ name: 'fix', state: 'failed', error: 'crashed', tools: [] }]);
    controller.handleMcpStatus({ nope: true });
    assert.match(logged.join('\n'), /malformed agent\/mcpStatus/);
    assert.equal(controller.state.mcpServers?.[0]?.state, 'failed', 'a malformed notification changes nothing');

    answer = Promise.reject(new Error('boom'));
    await controller.refreshMcpServers();
    assert.match(logged.join('\n'), /agent\/mcpServers failed: boom/);
  });
});
