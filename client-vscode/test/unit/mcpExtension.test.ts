/**
 * The MCP server list through extension.ts (the `vscode` mock, a fake language client): the
 * list `initialize` gives, the `agent/mcpServers` asked once running, `agent/mcpStatus` after.
 */

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { ResponseError } from 'vscode-jsonrpc';
import { activate, deactivate } from '../../src/extension';
import type { ToWebview } from '../../src/messages';
import { fake } from '../mock/languageclient';
import { Uri, mock } from '../mock/vscode';

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

const original = fake.initializeResult;

function initializeResult(methods: string[], mcp: unknown): unknown {
  return {
    capabilities: {
      experimental: {
        agent: {
          version: 1,
          methods,
          model: { name: 'gpt-test', baseUrl: 'http://127.0.0.1:1/v1', wireApi: 'responses', configured: true },
          mcp,
        },
      },
    },
  };
}

async function activateWith(result: unknown, mcpServers: () => Promise<unknown>) {
  await deactivate();
  mock.reset();
  fake.reset();
  mock.workspaceFolders = [{ uri: Uri.file('/work/project'), name: 'project', index: 0 }];
  mock.config = { 'server.command': ['/bin/sh', '-c', 'exit 0'] };
  fake.initializeResult = result;
  fake.handle = async (method) => {
    if (method === 'agent/mcpServers') return mcpServers();
    if (method === 'agent/resume') throw new ResponseError(-33001, 'no session');
    throw new ResponseError(-32601, `unhandled ${method}`);
  };
  const api = activate({ subscriptions: [], extensionUri: Uri.file('/ext') } as never);
  const view = mock.openView();
  await settle();
  return { api, client: fake.last, view };
}

afterEach(async () => {
  await deactivate();
  fake.initializeResult = original;
});

test('the panel gets the list from initialize, then agent/mcpServers, then agent/mcpStatus', async () => {
  const answer: unknown = { servers: [{ name: 'fix', state: 'ready', error: null, tools: ['echo'] }] };
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { api, client, view } = await activateWith(
    initializeResult(['agent/send', 'agent/mcpServers'], [{ name: 'fix', state: 'starting', tools: [] }]),
    async () => {
      await gate;
      return answer;
    },
  );
  assert.deepEqual(api.controller.state.mcpServers, [{ name: 'fix', state: 'starting', tools: [] }], 'from initialize');
  release();
  await settle();
  assert.ok(client.sent.some((r) => r.method === 'agent/mcpServers'));
  assert.deepEqual(api.controller.state.mcpServers, [{ name: 'fix', state: 'ready', tools: ['echo'] }]);
  client.notify('agent/mcpStatus', { servers: [{ name: 'fix', state: 'failed', error: 'crashed', tools: [] }] });
  assert.equal(api.controller.state.mcpServers?.[0]?.state, 'failed');
  const posted = (view.webview.posted as ToWebview[]).filter((m) => m.type === 'action' && m.action.type === 'mcpServers');
  assert.ok(posted.length >= 2, 'the webview was told each change');
});

test('a server that does not list agent/mcpServers is not asked; no MCP: no section', async () => {
  let asked = 0;
  const { api, client } = await activateWith(initializeResult(['agent/send'], undefined), async () => {
    asked++;
    return { servers: [] };
  });
  assert.equal(asked, 0);
  assert.ok(!client.sent.some((r) => r.method === 'agent/mcpServers'));
  assert.deepEqual(api.controller.state.mcpServers ?? [], []);
});
