/**
 * The packaged extension in a real VS Code workbench (code-server) in headless Chromium, with
 * the real `agentls serve` and the strict fake model API. One workbench for all scenarios, in
 * order; each step leaves a screenshot in test-results/workbench/.
 *
 * The fake API takes its script from the user's words: "slow: 0.05" streams a tick every
 * 50 ms for a minute, "run: CMD" calls the shell tool with CMD, anything else is echoed.
 * Approvals are "always-ask" here, so every command waits for a button.
 *
 * Scenarios that need a server method that is not there yet (listed in the server's
 * `initialize` result, `capabilities.experimental.agent.methods`) are skipped, saying which.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { makeSandbox, startFakeApi, startServer, type FakeApi, type Sandbox } from '../protocol/harness';
import { Workbench, workbenchMissing } from './codeServer';

const missing = workbenchMissing();

/** Each logged "Error: Channel has been closed" with the stack lines under it. */
export function channelClosedErrors(log: string): string[] {
  const lines = log.split('\n');
  const found: string[] = [];
  lines.forEach((line, i) => {
    if (!line.includes('Channel has been closed')) return;
    const stack = [line];
    for (let j = i + 1; j < lines.length && /^\s+at /.test(lines[j] ?? ''); j++) stack.push(lines[j] ?? '');
    found.push(stack.join('\n'));
  });
  return found;
}

/** The methods the server under test announces. */
async function serverMethods(sandbox: Sandbox, baseUrl: string): Promise<{ methods: string[]; model: string }> {
  const server = await Promise.race([
    startServer({ sandbox, baseUrl }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('agentls serve did not answer initialize in 30 s')), 30_000)),
  ]);
  try {
    const agent = (server.initializeResult as {
      capabilities?: { experimental?: { agent?: { methods?: unknown; model?: { name?: unknown } | null } } };
    }).capabilities?.experimental?.agent;
    const methods = Array.isArray(agent?.methods) ? agent.methods.filter((m): m is string => typeof m === 'string') : [];
    const model = typeof agent?.model?.name === 'string' ? agent.model.name : '';
    return { methods, model };
  } finally {
    await server.close();
  }
}

describe('the extension in a real workbench (code-server)', { skip: missing }, () => {
  let api: FakeApi;
  let sandbox: Sandbox;
  let bench: Workbench;
  let panel: FrameLocator;
  let methods: string[] = [];
  let model = '';

  const needs = (t: TestContext, method: string): boolean => {
    if (methods.includes(method)) return true;
    t.skip(`the server does not list ${method} in capabilities.experimental.agent.methods yet`);
    return false;
  };

  const send = async (text: string): Promise<void> => {
    const input = panel.locator('#input');
    await input.fill(text);
    await input.press('Enter');
  };

  const lastTurnEnd = (): ReturnType<FrameLocator['locator']> => panel.locator('.turn-end').last();
  const turnEnds = (): Promise<number> => panel.locator('.turn-end').count();

  /** Waits for the n-th turn ending (1-based) and returns its status. */
  const waitTurnEnd = async (n: number): Promise<string> => {
    const end = panel.locator('.turn-end').nth(n - 1);
    await end.waitFor({ timeout: 30_000 });
    return (await end.getAttribute('data-status')) ?? '';
  };

  before(async () => {
    api = await startFakeApi();
    sandbox = makeSandbox();
    ({ methods, model } = await serverMethods(sandbox, api.baseUrl));
    bench = new Workbench({
      sandbox,
      baseUrl: api.baseUrl,
      userSettings: { 'agentls.approval': 'always-ask' },
    });
    await bench.start();
    panel = await bench.openPanel();
    await panel.locator('#btn-send:not([disabled])').waitFor({ timeout: 60_000 });
    await bench.screenshot('panel-open');
  });

  after(async () => {
    if (bench) {
      await bench.screenshot('last');
      await bench.stop();
      const log = bench.output();
      if (process.env.AGENTLS_WORKBENCH_LOG) fs.writeFileSync(process.env.AGENTLS_WORKBENCH_LOG, log);
    }
    await api?.stop();
    sandbox?.cleanup();
  });

  test('the header names the model', async () => {
    const shown = await panel.locator('#model').innerText();
    assert.ok(model === '' || shown.includes(model), `header shows "${shown}", the server's model is "${model}"`);
  });

  test('send and stream an answer', async () => {
    await send('hello from the workbench');
    await panel.locator('.msg-assistant', { hasText: 'You said: hello from the workbench' }).waitFor({ timeout: 30_000 });
    assert.equal(await waitTurnEnd(1), 'completed');
    assert.equal(await panel.locator('.msg-user .bubble').first().innerText(), 'hello from the workbench');
    await bench.screenshot('sent-and-streamed');
  });

  test('Stop mid-stream', async () => {
    await send('slow: 0.05');
    const answer = panel.locator('.msg-assistant.streaming');
    await answer.waitFor({ timeout: 30_000 });
    await panel.locator('.msg-assistant', { hasText: 'tick tick tick' }).waitFor({ timeout: 30_000 });
    assert.equal(await panel.locator('#btn-send').innerText(), 'Stop');
    // the view's Interrupt button follows the turn (context key agentls.turnRunning)
    const interrupt = bench.page.locator('.action-label[aria-label^="Interrupt"]');
    await interrupt.first().waitFor({ timeout: 10_000 });
    await bench.screenshot('streaming');
    await panel.locator('#btn-send').click();
    assert.equal(await waitTurnEnd(2), 'interrupted');
    await interrupt.first().waitFor({ state: 'hidden', timeout: 10_000 });
    assert.equal(await panel.locator('.msg-assistant.streaming').count(), 0, 'nothing streams after Stop');
    assert.equal(await panel.locator('#btn-send').innerText(), 'Send');
    await bench.screenshot('stopped-mid-stream');
  });

  test('approve and deny', async () => {
    await send('run: echo approved > approved.txt');
    const approve = panel.locator('.approval button[data-decision="approve"]');
    await approve.waitFor({ timeout: 30_000 });
    await bench.screenshot('approval-asked');
    await approve.click();
    assert.equal(await waitTurnEnd(3), 'completed');
    const approvedTool = panel.locator('.tool').last();
    assert.equal(await approvedTool.getAttribute('data-status'), 'completed');
    assert.ok(fs.existsSync(path.join(sandbox.workspace, 'approved.txt')), 'the approved command ran');

    await send('run: echo denied > denied.txt');
    const deny = panel.locator('.approval button[data-decision="deny"]');
    await deny.waitFor({ timeout: 30_000 });
    await deny.click();
    assert.equal(await waitTurnEnd(4), 'completed');
    assert.equal(await panel.locator('.tool').last().getAttribute('data-status'), 'denied');
    assert.ok(!fs.existsSync(path.join(sandbox.workspace, 'denied.txt')), 'the denied command did not run');
    await bench.screenshot('approved-and-denied');
  });

  test('Stop mid-command', async () => {
    await send('run: echo started; sleep 60');
    const approve = panel.locator('.approval button[data-decision="approve"]');
    await approve.waitFor({ timeout: 30_000 });
    await approve.click();
    const running = panel.locator('.tool[data-status="running"]');
    await running.waitFor({ timeout: 30_000 });
    await panel.locator('.tool[data-status="running"] .tool-output', { hasText: 'started' }).waitFor({ timeout: 30_000 });
    await bench.screenshot('command-running');
    await panel.locator('#btn-send').click();
    assert.equal(await waitTurnEnd(5), 'interrupted');
    assert.equal(await panel.locator('.tool').last().getAttribute('data-status'), 'aborted');
    await bench.screenshot('stopped-mid-command');
  });

  test('reload the window: the conversation comes back with each turn\'s ending', async (t) => {
    const before = await panel.locator('.msg-user .bubble').allInnerTexts();
    const statuses = await panel.locator('.turn-end').evaluateAll((nodes) =>
      nodes.map((node) => node.getAttribute('data-status')),
    );
    await bench.reload();
    panel = await bench.openPanel();
    await panel.locator('.msg-user .bubble').nth(before.length - 1).waitFor({ timeout: 60_000 });
    assert.deepEqual(await panel.locator('.msg-user .bubble').allInnerTexts(), before, 'every message of the session');
    await bench.screenshot('after-reload');
    const logs = bench.output() + bench.logFiles();
    assert.match(logs, /ExtensionService#_doActivateExtension agentls\.agentls/, 'the extension host log is read');
    // VS Code's own JSON language client may log this too; ours would have our bundle in its stack
    const ours = channelClosedErrors(logs).filter((stack) => /agentls\.agentls-[^/]*\/dist\/extension\.js/.test(stack));
    assert.deepEqual(ours, [], 'no "Channel has been closed" from the previous window\'s agentls server exit');
    if ((await turnEnds()) === 0) {
      t.skip("the server's agent/resume history carries no turn outcomes yet (PROTOCOL v2: history entries with turnId and status)");
      return;
    }
    const after = await panel.locator('.turn-end').evaluateAll((nodes) =>
      nodes.map((node) => node.getAttribute('data-status')),
    );
    assert.deepEqual(after, statuses, 'each turn ends as it did before the reload');
    assert.match(await lastTurnEnd().innerText(), /Interrupted/);
  });

  test('a patch: a file-change block, and "Open diff" opens VS Code\'s diff editor', async (t) => {
    const count = await turnEnds();
    fs.writeFileSync(path.join(sandbox.workspace, 'greet.txt'), 'hello\nworld\n');
    await send('patch:\n*** Begin Patch\n*** Update File: greet.txt\n@@\n hello\n-world\n+workbench\n*** End Patch');
    const approve = panel.locator('.approval button[data-decision="approve"]');
    const ended = panel.locator('.turn-end').nth(count);
    await Promise.race([approve.waitFor({ timeout: 30_000 }), ended.waitFor({ timeout: 30_000 })]);
    if (await approve.isVisible()) {
      await bench.screenshot('patch-approval');
      await approve.click();
    }
    await waitTurnEnd(count + 1);
    const change = panel.locator('.file-change', { hasText: 'greet.txt' }).first();
    if ((await change.count()) === 0) {
      t.skip('the server sends no toolCallStarted.changes / turnDiff for apply_patch yet (PROTOCOL v2)');
      return;
    }
    assert.equal(fs.readFileSync(path.join(sandbox.workspace, 'greet.txt'), 'utf8'), 'hello\nworkbench\n');
    assert.match(await change.innerText(), /\+1[\s\S]*−1/);
    await bench.screenshot('patch-file-change');
    await change.locator('button[data-action="open-diff"]').click();
    const diffEditor = bench.page.locator('.monaco-diff-editor').first();
    await diffEditor.waitFor({ timeout: 20_000 });
    await bench.page.locator('.tab', { hasText: 'greet.txt' }).first().waitFor({ timeout: 10_000 });
    // both sides, whole files: before the patch on the left, after it on the right
    await diffEditor.locator('.editor.original .view-line', { hasText: 'world' }).first().waitFor({ timeout: 20_000 });
    await diffEditor.locator('.editor.modified .view-line', { hasText: 'workbench' }).first().waitFor({ timeout: 20_000 });
    assert.equal(await diffEditor.locator('.editor.modified .view-line', { hasText: 'hello' }).count(), 1, 'context lines too');
    await bench.screenshot('patch-open-diff');
    // back to the panel for the next steps
    await bench.command('View: Close All Editors');
    panel = await bench.openPanel();
  });

  test('the editor: a chip for the active file, a highlighted code block copied and inserted at the cursor', async () => {
    const count = await turnEnds();
    const page = bench.page;
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').waitFor();
    await page.keyboard.type('greet.txt');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'greet.txt' }).first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    await page.locator('.tab', { hasText: 'greet.txt' }).first().waitFor({ timeout: 10_000 });
    const chip = panel.locator('#chips .chip', { hasText: 'greet.txt' });
    await chip.waitFor({ timeout: 10_000 });
    await send('code please\n```js\nlet inserted = 1;\n```');
    assert.equal(await waitTurnEnd(count + 1), 'completed');
    await panel.locator('.msg-user .sent-chips .chip', { hasText: 'greet.txt' }).last().waitFor({ timeout: 10_000 });
    await bench.screenshot('code-block-and-chip');
    // the file's text reached the model with the message (the fake echoes what it was sent)
    await panel.locator('.msg-assistant', { hasText: 'greet.txt' }).filter({ hasText: 'workbench' }).last().waitFor({ timeout: 10_000 });
    const block = panel.locator('.code-block', { hasText: 'let inserted' }).last();
    await block.locator('.hljs-keyword', { hasText: 'let' }).waitFor({ timeout: 10_000 });
    await block.locator('[data-action="insert"]').click();
    await page.locator('.monaco-editor .view-line', { hasText: 'let inserted = 1;' }).first().waitFor({ timeout: 10_000 });
    await block.locator('[data-action="copy"]').click();
    await page.waitForFunction(
      async () => (await navigator.clipboard.readText()).includes('let inserted = 1;'),
      undefined,
      { timeout: 10_000 },
    );
    await bench.screenshot('inserted-at-cursor');
    await bench.command('View: Revert and Close Editor');
    panel = await bench.openPanel();
  });

  test('!cmd runs the person\'s own command', async (t) => {
    if (!needs(t, 'agent/runCommand')) return;
    const count = await turnEnds();
    await send('!echo from-the-user');
    assert.equal(await waitTurnEnd(count + 1), 'completed');
    await panel.locator('.tool .tool-output', { hasText: 'from-the-user' }).last().waitFor({ timeout: 10_000 });
    await bench.screenshot('user-command');
  });

  test('steering a running turn: typed during a command, it joins the turn\'s next request', async (t) => {
    if (!needs(t, 'agent/steer')) return;
    const count = await turnEnds();
    await send('run: sleep 3; echo slept');
    const approve = panel.locator('.approval button[data-decision="approve"]');
    await approve.waitFor({ timeout: 30_000 });
    await approve.click();
    await panel.locator('.tool[data-status="running"]').waitFor({ timeout: 30_000 });
    await send('also say steered');
    await panel.locator('.msg-steer', { hasText: 'also say steered' }).waitFor({ timeout: 30_000 });
    await bench.screenshot('steered');
    assert.equal(await waitTurnEnd(count + 1), 'completed');
    // the fake model answers the newest user message: the steer reached the model in this turn
    await panel.locator('.msg-assistant', { hasText: 'You said: also say steered' }).waitFor({ timeout: 10_000 });
  });

  test('queued while running; the Interrupt command; an approval while the panel is hidden notifies', async (t) => {
    if (!needs(t, 'agent/steer')) return;
    const count = await turnEnds();
    await send('slow: 0.05');
    await panel.locator('.msg-assistant.streaming').waitFor({ timeout: 30_000 });
    await panel.locator('#queue-mode').check();
    await send('run: echo notified > notified.txt');
    await panel.locator('.msg-queued', { hasText: 'notified.txt' }).waitFor({ timeout: 10_000 });
    await bench.screenshot('queued');
    // another view takes the sidebar: the chat panel is hidden
    await bench.command('View: Show Explorer');
    await bench.command('agentls: Interrupt');
    const toast = bench.page.locator('.notification-toast', { hasText: 'waits for your approval' });
    await toast.waitFor({ timeout: 30_000 });
    await bench.screenshot('approval-notification');
    await toast.locator('.monaco-button', { hasText: 'Show' }).click();
    panel = bench.panel();
    const approve = panel.locator('.approval button[data-decision="approve"]');
    await approve.waitFor({ timeout: 15_000 });
    await approve.click();
    assert.equal(await waitTurnEnd(count + 1), 'interrupted', 'the Interrupt command stopped the first turn');
    assert.equal(await waitTurnEnd(count + 2), 'completed', 'the queued message ran when it ended');
    assert.ok(fs.existsSync(path.join(sandbox.workspace, 'notified.txt')));
    await panel.locator('#queue-mode').uncheck();
  });

  test('the context meter moves', async (t) => {
    if (!(await panel.locator('#context-meter').isVisible())) {
      t.skip('the server sends no tokenUsage events yet (PROTOCOL v2)');
      return;
    }
    const before = await panel.locator('#context-meter').getAttribute('data-tokens');
    const count = await turnEnds();
    await send('make the context grow a little');
    await waitTurnEnd(count + 1);
    const after = await panel.locator('#context-meter').getAttribute('data-tokens');
    assert.notEqual(after, before);
    await bench.screenshot('context-meter');
  });

  test('undo the last turn', async (t) => {
    if (!needs(t, 'agent/undo')) return;
    const count = await turnEnds();
    await send('run: echo undo-me > undo.txt');
    await panel.locator('.approval button[data-decision="approve"]').click({ timeout: 30_000 });
    await waitTurnEnd(count + 1);
    assert.ok(fs.existsSync(path.join(sandbox.workspace, 'undo.txt')));
    await panel.locator('.msg-user').last().hover();
    await panel.locator('.msg-user button[data-action="undo"]').last().click();
    await panel.locator('.confirm button[data-confirm="yes"]').click({ timeout: 10_000 });
    await panel.locator('.notice', { hasText: 'Undone' }).waitFor({ timeout: 30_000 });
    assert.ok(!fs.existsSync(path.join(sandbox.workspace, 'undo.txt')), 'the file the turn created is gone');
    await bench.screenshot('undone');
  });

  test('fork from a turn: a new session with the conversation up to it', async (t) => {
    if (!needs(t, 'agent/fork')) return;
    const users = await panel.locator('.msg-user .bubble').count();
    const title = await panel.locator('#title').getAttribute('title');
    await panel.locator('.msg-user').first().hover();
    await panel.locator('.msg-user button[data-action="fork"]').first().click();
    await panel.locator('.notice', { hasText: 'Forked' }).waitFor({ timeout: 30_000 });
    assert.notEqual(await panel.locator('#title').getAttribute('title'), title, 'another session id');
    assert.ok((await panel.locator('.msg-user .bubble').count()) < users, 'only the turns up to the fork');
    await bench.screenshot('forked');
  });

  test('a session renamed, searched and deleted', async (t) => {
    if (!needs(t, 'agent/renameSession') || !needs(t, 'agent/deleteSession')) return;
    await panel.locator('#btn-sessions').click();
    const list = panel.locator('#sessions');
    await list.waitFor();
    const first = list.locator('.session').first();
    await first.waitFor({ timeout: 10_000 });
    await first.locator('button[data-action="rename"]').click();
    const field = list.locator('input.session-rename');
    await field.fill('Renamed in the workbench');
    await field.press('Enter');
    await list.locator('.session-title', { hasText: 'Renamed in the workbench' }).waitFor({ timeout: 10_000 });
    await list.locator('#session-search').fill('Renamed');
    await list.locator('.session', { hasText: 'Renamed in the workbench' }).waitFor({ timeout: 10_000 });
    await bench.screenshot('sessions-renamed');
    await list.locator('.session', { hasText: 'Renamed in the workbench' }).locator('button[data-action="delete"]').click();
    await list.locator('.session', { hasText: 'Renamed in the workbench' }).waitFor({ state: 'detached', timeout: 10_000 });
    await bench.screenshot('sessions-deleted');
  });
});
