/**
 * MCP through the real `agentls serve` with the fixture MCP server (fixtures/mcp/server.py):
 * the ChatController's server list from `initialize`, `agent/mcpStatus` and `agent/mcpServers`,
 * and an MCP call (asked, approved, run) drawn as a tool entry with its server and tool.
 */

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CancellationToken } from 'vscode-jsonrpc/node';
import { ChatController, type AgentConnection } from '../../src/controller';
import type { ApprovalParams } from '../../src/protocol';
import { mcpFromInitializeResult, methodsFromInitializeResult } from '../../src/server';
import {
  CLIENT_DIR,
  REPO_DIR,
  VENV_BIN,
  API_KEY,
  makeSandbox,
  startFakeApi,
  startServer,
  venvReady,
  type FakeApi,
  type Sandbox,
} from './harness';

const FIXTURE = path.join(REPO_DIR, 'fixtures', 'mcp', 'server.py');
const SECRET = 'vscode-fixture-secret-0123456789';

describe('MCP against the real agentls serve', () => {
  let api: FakeApi;
  let sandbox: Sandbox;

  before(async () => {
    const missing = venvReady();
    if (missing) throw new Error(missing);
    api = await startFakeApi(API_KEY, [path.join(CLIENT_DIR, 'test', 'protocol', 'mcp_fake_api.py')]);
    sandbox = makeSandbox();
  });

  after(async () => {
    await api?.stop();
    sandbox?.cleanup();
  });

  test('the server list follows the servers; an MCP call is asked, run and drawn as server › tool', async () => {
    const python = path.join(VENV_BIN, 'python');
    const server = await startServer({
      sandbox,
      baseUrl: api.baseUrl,
      initializationOptions: {
        approvals: true,
        mcpServers: {
          fix: { command: python, args: [FIXTURE] },
          broken: { command: python, args: [FIXTURE, '--crash'], env: { FIXTURE_SECRET: SECRET } },
        },
      },
    });
    const controller = new ChatController();
    server.eventListeners.add((event) => controller.handleEvent(event));
    let statuses = 0;
    server.connection.onNotification('agent/mcpStatus', (params: unknown) => {
      statuses++;
      controller.handleMcpStatus(params);
    });
    try {
      const connection: AgentConnection = {
        sendRequest: <R>(method: string, params: unknown, token?: CancellationToken) =>
          token ? server.connection.sendRequest<R>(method, params, token) : server.connection.sendRequest<R>(method, params),
      };
      controller.setConnection(connection);
      const methods = methodsFromInitializeResult(server.initializeResult);
      assert.ok(methods.includes('agent/mcpServers'), 'the server lists agent/mcpServers');
      controller.setServer({ status: 'running', methods });
      const listed = mcpFromInitializeResult(server.initializeResult);
      assert.deepEqual(
        listed?.map((s) => [s.name, s.state]).sort(),
        [['broken', 'starting'], ['fix', 'starting']],
        'initialize lists the configured servers',
      );
      controller.setMcpServers(listed ?? []);

      // the notifications alone bring the panel to the servers' states
      const settled = await server.waitFor(
        () => {
          const servers = controller.state.mcpServers ?? [];
          const fix = servers.find((s) => s.name === 'fix');
          const broken = servers.find((s) => s.name === 'broken');
          return fix?.state === 'ready' && broken?.state === 'failed' ? servers : undefined;
        },
        60_000,
        'fix ready and broken failed',
      );
      assert.ok(statuses >= 1, 'agent/mcpStatus was sent');
      const fix = settled.find((s) => s.name === 'fix');
      assert.ok(fix?.tools.includes('echo'), `echo among ${fix?.tools.join(', ')}`);
      const broken = settled.find((s) => s.name === 'broken');
      assert.ok(broken?.error, 'a failed server says why');
      assert.ok(!JSON.stringify(settled).includes(SECRET), 'no secret in the statuses');
      const asked = await controller.refreshMcpServers();
      assert.deepEqual(asked, controller.state.mcpServers, 'agent/mcpServers agrees');

      // the call: asked (kind "mcp", naming the tool), approved in the panel, run, drawn
      const approvals: ApprovalParams[] = [];
      server.onApproval = (params, token) => {
        approvals.push(params as unknown as ApprovalParams);
        const answer = controller.handleApprovalRequest(params, token);
        const open = controller.state.approvals.at(-1);
        if (open) controller.approvals.answer(open.id, 'approve');
        return answer;
      };
      const result = await controller.send('mcp-echo: please');
      assert.equal(result?.status, 'completed', JSON.stringify(result));
      assert.equal(approvals[0]?.kind, 'mcp');
      assert.deepEqual(
        { server: approvals[0]?.tool?.server, tool: approvals[0]?.tool?.tool },
        { server: 'fix', tool: 'echo' },
      );
      const tool = controller.state.entries.find((e) => e.kind === 'tool');
      assert.ok(tool?.kind === 'tool', 'a tool entry');
      assert.deepEqual(tool.mcp, { server: 'fix', tool: 'echo' });
      assert.equal(tool.status, 'completed');
      assert.equal(JSON.parse(tool.command).text, 'hello from mcp', 'the arguments are shown');
      assert.match(tool.output, /hello from mcp/);

      // a resumed session draws the call the same way
      const resumed = await controller.resume(controller.state.sessionId);
      assert.ok(resumed);
      const redrawn = controller.state.entries.find((e) => e.kind === 'tool');
      assert.ok(redrawn?.kind === 'tool');
      assert.deepEqual(redrawn.mcp, { server: 'fix', tool: 'echo' });
      assert.match(redrawn.output, /hello from mcp/);
    } finally {
      controller.dispose();
      await server.close();
    }
  });
});
