/**
 * The packaged extension in a real VS Code workbench (code-server) in headless Chromium, with
 * the real `agentls serve` and the strict fake model API. One workbench for all scenarios (it
 * takes seconds to start), but no scenario depends on another: each starts from a known place
 * (the panel visible, no turn running, no approval pending, a new session; see `fresh`), so one
 * failure cannot spill into the next. Steps leave screenshots in test-results/workbench/, and
 * a failed scenario a FAILED-* one of the moment it failed.
 *
 * Everything waits on something the page shows (an element, a turn's ending), never on time;
 * the timeouts are generous because the machine may be busy (2 cores shared with other work).
 *
 * The fake API takes its script from the user's words: "slow: 0.05" streams a tick every
 * 50 ms for a minute, "run: CMD" calls the shell tool with CMD, anything else is echoed.
 * Approvals are "always-ask" here, so every command waits for a button.
 *
 * The MCP scenario's server "fix" (fixtures/mcp/server.py) is configured in the state home's
 * config.toml; "mcp-echo: ..." makes the fake model call its `echo` tool (mcp_fake_api.py).
 *
 * Scenarios that need a server method that is not there yet (listed in the server's
 * `initialize` result, `capabilities.experimental.agent.methods`) are skipped, saying which.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import {
  API_KEY,
  CLIENT_DIR,
  REPO_DIR,
  VENV_BIN,
  makeSandbox,
  startFakeApi,
  startServer,
  type FakeApi,
  type Sandbox,
} from '../protocol/harness';
import { Workbench, workbenchMissing } from './codeServer';

const missing = workbenchMissing();

/** How long a turn (or an approval question) may take to show on a loaded machine. */
const TURN_MS = 90_000;

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
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('agentls serve did not answer initialize in 60 s')), 60_000)),
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

  const turnEnds = (): Promise<number> => panel.locator('.turn-end').count();

  /** Waits for the n-th turn ending (1-based) of the panel's session and returns its status. */
  const waitTurnEnd = async (n: number): Promise<string> => {
    const end = panel.locator('.turn-end').nth(n - 1);
    await end.waitFor({ timeout: TURN_MS });
    return (await end.getAttribute('data-status')) ?? '';
  };

  const sessionId = async (): Promise<string> => (await panel.locator('#title').getAttribute('title')) ?? '';

  /** No turn runs and none is queued: Stop until the panel offers Send. */
  const settleTurns = async (): Promise<void> => {
    const stop = panel.locator('#btn-send.stop');
    for (let round = 0; round < 5; round++) {
      const running = (await stop.count()) > 0;
      const queued = await panel.locator('.msg-queued').count();
      if (!running && queued === 0) return;
      if (!running) {
        // a queued message starts as soon as the turn has ended
        await stop.waitFor({ timeout: TURN_MS });
        continue;
      }
      const ends = await turnEnds();
      if (await panel.locator('#btn-send.stop:not([disabled])').count()) await stop.click();
      await panel.locator('.turn-end').nth(ends).or(panel.locator('#btn-send:not(.stop)')).first().waitFor({ timeout: TURN_MS });
    }
    throw new Error('turns keep starting in the panel');
  };

  /** No editor open (a changed one is closed without saving): no chip from an earlier scenario. */
  const closeEditors = async (): Promise<void> => {
    const page = bench.page;
    const tab = page.locator('.tabs-container .tab');
    if ((await tab.count()) === 0) return;
    await bench.command('View: Close All Editors');
    const dontSave = page.locator('.monaco-dialog-box .monaco-button', { hasText: "Don't Save" });
    const gone = tab.first().waitFor({ state: 'detached' });
    await Promise.race([gone, dontSave.waitFor().then(() => dontSave.click())]);
    await gone;
  };

  /** No notification toast left over from an earlier scenario. */
  const clearToasts = async (): Promise<void> => {
    const toast = bench.page.locator('.notification-toast');
    if ((await toast.count()) === 0) return;
    await bench.command('Notifications: Clear All Notifications');
    await toast.first().waitFor({ state: 'detached' });
  };

  /**
   * Every scenario starts from the same place: no editor or notification, the chat panel
   * visible, no turn running, the session list closed, messages added to a running turn
   * (not queued), and a new, empty session.
   */
  const fresh = async (): Promise<void> => {
    await closeEditors();
    await clearToasts();
    panel = await bench.openPanel();
    await settleTurns();
    await panel.locator('#btn-send:not([disabled]):not(.stop)').waitFor();
    if (await panel.locator('#sessions').isVisible()) {
      await panel.locator('#btn-sessions').click();
      await panel.locator('#sessions').waitFor({ state: 'hidden' });
    }
    const queueMode = panel.locator('#queue-mode');
    if ((await queueMode.isVisible()) && (await queueMode.isChecked())) await queueMode.uncheck();
    const before = await sessionId();
    await panel.locator('#btn-new').click();
    await panel.locator(`#title:not([title="${before}"]):not([title=""])`).waitFor();
    await panel.locator('.msg-user, .turn-end, .notice').first().waitFor({ state: 'detached' });
  };

  /** A scenario: from a fresh start; a screenshot of the moment it failed. */
  const scenario = (name: string, body: (t: TestContext) => Promise<void>): void => {
    test(name, async (t) => {
      try {
        await fresh();
        await body(t);
      } catch (error) {
        await bench.screenshot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`);
        throw error;
      }
    });
  };

  before(async () => {
    // the default fake plus one rule: "mcp-echo: ..." calls the fixture MCP server's echo tool
    api = await startFakeApi(API_KEY, [path.join(CLIENT_DIR, 'test', 'protocol', 'mcp_fake_api.py')]);
    sandbox = makeSandbox();
    const toml = (value: string): string => JSON.stringify(value);
    fs.writeFileSync(
      path.join(sandbox.home, 'config.toml'),
      `[mcp_servers.fix]\ncommand = ${toml(path.join(VENV_BIN, 'python'))}\nargs = [${toml(path.join(REPO_DIR, 'fixtures', 'mcp', 'server.py'))}]\n`,
    );
    ({ methods, model } = await serverMethods(sandbox, api.baseUrl));
    bench = new Workbench({
      sandbox,
      baseUrl: api.baseUrl,
      userSettings: { 'agentls.approval': 'always-ask' },
    });
    await bench.start();
    panel = await bench.openPanel();
    await panel.locator('#btn-send:not([disabled])').waitFor();
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

  scenario('the header names the model', async () => {
    const shown = await panel.locator('#model').innerText();
    assert.ok(model === '' || shown.includes(model), `header shows "${shown}", the server's model is "${model}"`);
  });

  scenario('send and stream an answer', async () => {
    await send('hello from the workbench');
    await panel.locator('.msg-assistant', { hasText: 'You said: hello from the workbench' }).waitFor();
    assert.equal(await waitTurnEnd(1), 'completed');
    assert.equal(await panel.locator('.msg-user .bubble').first().innerText(), 'hello from the workbench');
    await bench.screenshot('sent-and-streamed');
  });

  scenario('Stop mid-stream', async () => {
    await send('slow: 0.05');
    const answer = panel.locator('.msg-assistant.streaming');
    await answer.waitFor();
    await panel.locator('.msg-assistant', { hasText: 'tick tick tick' }).waitFor();
    assert.equal(await panel.locator('#btn-send').innerText(), 'Stop');
    // the view's Interrupt button follows the turn (context key agentls.turnRunning)
    const interrupt = bench.page.locator('.action-label[aria-label^="Interrupt"]');
    await interrupt.first().waitFor();
    await bench.screenshot('streaming');
    await panel.locator('#btn-send').click();
    assert.equal(await waitTurnEnd(1), 'interrupted');
    await interrupt.first().waitFor({ state: 'hidden' });
    assert.equal(await panel.locator('.msg-assistant.streaming').count(), 0, 'nothing streams after Stop');
    assert.equal(await panel.locator('#btn-send').innerText(), 'Send');
    await bench.screenshot('stopped-mid-stream');
  });

  scenario('approve and deny', async () => {
    await send('run: echo approved > approved.txt');
    const approve = panel.locator('.approval button[data-decision="approve"]');
    await approve.waitFor({ timeout: TURN_MS });
    await bench.screenshot('approval-asked');
    await approve.click();
    assert.equal(await waitTurnEnd(1), 'completed');
    const approvedTool = panel.locator('.tool').last();
    assert.equal(await approvedTool.getAttribute('data-status'), 'completed');
    assert.ok(fs.existsSync(path.join(sandbox.workspace, 'approved.txt')), 'the approved command ran');

    await send('run: echo denied > denied.txt');
    const deny = panel.locator('.approval button[data-decision="deny"]');
    await deny.waitFor({ timeout: TURN_MS });
    await deny.click();
    assert.equal(await waitTurnEnd(2), 'completed');
    assert.equal(await panel.locator('.tool').last().getAttribute('data-status'), 'denied');
    assert.ok(!fs.existsSync(path.join(sandbox.workspace, 'denied.txt')), 'the denied command did not run');
    await bench.screenshot('approved-and-denied');
  });

  scenario('Stop mid-command', async () => {
    await send('run: echo started; sleep 60');
    const approve = panel.locator('.approval button[data-decision="approve"]');
    await approve.waitFor({ timeout: TURN_MS });
    await approve.click();
    await panel.locator('.tool[data-status="running"] .tool-output', { hasText: 'started' }).waitFor({ timeout: TURN_MS });
    await bench.screenshot('command-running');
    await panel.locator('#btn-send').click();
    assert.equal(await waitTurnEnd(1), 'interrupted');
    assert.equal(await panel.locator('.tool').last().getAttribute('data-status'), 'aborted');
    await bench.screenshot('stopped-mid-command');
  });

  scenario("reload the window: the conversation comes back with each turn's ending", async (t) => {
    // a completed turn, a command's turn, a stopped one
    await send('before the reload');
    assert.equal(await waitTurnEnd(1), 'completed');
    await send('run: echo kept');
    const approve = panel.locator('.approval button[data-decision="approve"]');
    await approve.waitFor({ timeout: TURN_MS });
    await approve.click();
    assert.equal(await waitTurnEnd(2), 'completed');
    await send('slow: 0.05');
    await panel.locator('.msg-assistant', { hasText: 'tick tick' }).waitFor({ timeout: TURN_MS });
    await panel.locator('#btn-send').click();
    assert.equal(await waitTurnEnd(3), 'interrupted');

    const before = await panel.locator('.msg-user .bubble').allInnerTexts();
    const statuses = await panel.locator('.turn-end').evaluateAll((nodes) =>
      nodes.map((node) => node.getAttribute('data-status')),
    );
    await bench.reload();
    panel = await bench.openPanel();
    await panel.locator('.msg-user .bubble').nth(before.length - 1).waitFor();
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
    assert.match(await panel.locator('.turn-end').last().innerText(), /Interrupted/);
  });

  scenario('a patch: a file-change block, and "Open diff" opens VS Code\'s diff editor', async (t) => {
    fs.writeFileSync(path.join(sandbox.workspace, 'greet.txt'), 'hello\nworld\n');
    await send('patch:\n*** Begin Patch\n*** Update File: greet.txt\n@@\n hello\n-world\n+workbench\n*** End Patch');
    const approve = panel.locator('.approval button[data-decision="approve"]');
    // a server may apply a patch inside the workspace without asking
    await approve.or(panel.locator('.turn-end')).first().waitFor({ timeout: TURN_MS });
    if (await approve.isVisible()) {
      await bench.screenshot('patch-approval');
      await approve.click();
    }
    await waitTurnEnd(1);
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
    await diffEditor.waitFor();
    await bench.page.locator('.tab', { hasText: 'greet.txt' }).first().waitFor();
    // both sides, whole files: before the patch on the left, after it on the right
    await diffEditor.locator('.editor.original .view-line', { hasText: 'world' }).first().waitFor();
    await diffEditor.locator('.editor.modified .view-line', { hasText: 'workbench' }).first().waitFor();
    assert.equal(await diffEditor.locator('.editor.modified .view-line', { hasText: 'hello' }).count(), 1, 'context lines too');
    await bench.screenshot('patch-open-diff');
  });

  scenario('the editor: a chip for the active file, a highlighted code block copied and inserted at the cursor', async () => {
    fs.writeFileSync(path.join(sandbox.workspace, 'chip.txt'), 'hello\nfrom the open editor\n');
    const page = bench.page;
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').waitFor();
    await page.keyboard.type('chip.txt');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'chip.txt' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.tab', { hasText: 'chip.txt' }).first().waitFor();
    const chip = panel.locator('#chips .chip', { hasText: 'chip.txt' });
    await chip.waitFor();
    await send('code please\n```js\nlet inserted = 1;\n```');
    assert.equal(await waitTurnEnd(1), 'completed');
    await panel.locator('.msg-user .sent-chips .chip', { hasText: 'chip.txt' }).last().waitFor();
    await bench.screenshot('code-block-and-chip');
    // the file's text reached the model with the message (the fake echoes what it was sent)
    await panel.locator('.msg-assistant', { hasText: 'chip.txt' }).filter({ hasText: 'from the open editor' }).last().waitFor();
    const block = panel.locator('.code-block', { hasText: 'let inserted' }).last();
    await block.locator('.hljs-keyword', { hasText: 'let' }).waitFor();
    await block.locator('[data-action="insert"]').click();
    await page.locator('.monaco-editor .view-line', { hasText: 'let inserted = 1;' }).first().waitFor();
    await block.locator('[data-action="copy"]').click();
    await page.waitForFunction(async () => (await navigator.clipboard.readText()).includes('let inserted = 1;'));
    await bench.screenshot('inserted-at-cursor');
    await bench.command('View: Revert and Close Editor');
    await page.locator('.tab', { hasText: 'chip.txt' }).first().waitFor({ state: 'detached' });
  });

  scenario("!cmd runs the person's own command", async (t) => {
    if (!needs(t, 'agent/runCommand')) return;
    await send('!echo from-the-user');
    assert.equal(await waitTurnEnd(1), 'completed');
    await panel.locator('.tool .tool-output', { hasText: 'from-the-user' }).last().waitFor();
    await bench.screenshot('user-command');
  });

  scenario("steering a running turn: typed during a command, it joins the turn's next request", async (t) => {
    if (!needs(t, 'agent/steer')) return;
    // the command runs until the test has seen the steer accepted (no race with its end)
    const go = path.join(sandbox.workspace, 'steer-go');
    fs.rmSync(go, { force: true });
    await send('run: while [ ! -e steer-go ]; do sleep 0.1; done; echo slept');
    const approve = panel.locator('.approval button[data-decision="approve"]');
    await approve.waitFor({ timeout: TURN_MS });
    await approve.click();
    await panel.locator('.tool[data-status="running"]').waitFor({ timeout: TURN_MS });
    await send('also say steered');
    await panel.locator('.msg-steer', { hasText: 'also say steered' }).waitFor();
    await bench.screenshot('steered');
    fs.writeFileSync(go, '');
    assert.equal(await waitTurnEnd(1), 'completed');
    // the fake model answers the newest user message: the steer reached the model in this turn
    await panel.locator('.msg-assistant', { hasText: 'You said: also say steered' }).waitFor();
    assert.equal(await turnEnds(), 1, 'no second turn for the steer');
  });

  scenario('queued while running; the Interrupt command; an approval while the panel is hidden notifies', async (t) => {
    if (!needs(t, 'agent/steer')) return;
    await send('slow: 0.05');
    await panel.locator('.msg-assistant.streaming').waitFor({ timeout: TURN_MS });
    // ticks keep arriving while the toggle is clicked: they must not undo the click
    await panel.locator('#queue-mode').check();
    await send('run: echo notified > notified.txt');
    await panel.locator('.msg-queued', { hasText: 'notified.txt' }).waitFor();
    await bench.screenshot('queued');
    // another view takes the sidebar: the chat panel is hidden
    await bench.command('View: Show Explorer');
    await bench.command('agentls: Interrupt');
    const toast = bench.page.locator('.notification-toast', { hasText: 'waits for your approval' });
    await toast.waitFor({ timeout: TURN_MS });
    await bench.screenshot('approval-notification');
    await toast.locator('.monaco-button', { hasText: 'Show' }).click();
    panel = bench.panel();
    const approve = panel.locator('.approval button[data-decision="approve"]');
    await approve.waitFor();
    await approve.click();
    assert.equal(await waitTurnEnd(1), 'interrupted', 'the Interrupt command stopped the first turn');
    assert.equal(await waitTurnEnd(2), 'completed', 'the queued message ran when it ended');
    assert.ok(fs.existsSync(path.join(sandbox.workspace, 'notified.txt')));
  });

  scenario('the context meter moves', async (t) => {
    await send('start the context');
    await waitTurnEnd(1);
    if (!(await panel.locator('#context-meter').isVisible())) {
      t.skip('the server sends no tokenUsage events yet (PROTOCOL v2)');
      return;
    }
    const before = await panel.locator('#context-meter').getAttribute('data-tokens');
    await send('make the context grow a little');
    await waitTurnEnd(2);
    const after = await panel.locator('#context-meter').getAttribute('data-tokens');
    assert.notEqual(after, before);
    await bench.screenshot('context-meter');
  });

  scenario('undo the last turn', async (t) => {
    if (!needs(t, 'agent/undo')) return;
    await send('run: echo undo-me > undo.txt');
    await panel.locator('.approval button[data-decision="approve"]').click({ timeout: TURN_MS });
    await waitTurnEnd(1);
    assert.ok(fs.existsSync(path.join(sandbox.workspace, 'undo.txt')));
    await panel.locator('.msg-user').last().hover();
    await panel.locator('.msg-user button[data-action="undo"]').last().click();
    await panel.locator('.confirm button[data-confirm="yes"]').click();
    await panel.locator('.notice', { hasText: 'Undone' }).waitFor();
    assert.ok(!fs.existsSync(path.join(sandbox.workspace, 'undo.txt')), 'the file the turn created is gone');
    await bench.screenshot('undone');
  });

  scenario('fork from a turn: a new session with the conversation up to it', async (t) => {
    if (!needs(t, 'agent/fork')) return;
    await send('the turn to fork from');
    await waitTurnEnd(1);
    await send('a turn after the fork point');
    await waitTurnEnd(2);
    const title = await sessionId();
    await panel.locator('.msg-user').first().hover();
    await panel.locator('.msg-user button[data-action="fork"]').first().click();
    await panel.locator('.notice', { hasText: 'Forked' }).waitFor();
    assert.notEqual(await sessionId(), title, 'another session id');
    assert.deepEqual(
      await panel.locator('.msg-user .bubble').allInnerTexts(),
      ['the turn to fork from'],
      'only the turns up to the fork',
    );
    await bench.screenshot('forked');
  });

  scenario('a session renamed, searched and deleted', async (t) => {
    if (!needs(t, 'agent/renameSession') || !needs(t, 'agent/deleteSession')) return;
    await send('a session to rename');
    await waitTurnEnd(1);
    await panel.locator('#btn-sessions').click();
    const list = panel.locator('#sessions');
    await list.waitFor();
    const current = list.locator('.session.session-current');
    await current.waitFor();
    await current.locator('button[data-action="rename"]').click();
    const field = list.locator('input.session-rename');
    await field.fill('Renamed in the workbench');
    await field.press('Enter');
    await list.locator('.session-title', { hasText: 'Renamed in the workbench' }).waitFor();
    await list.locator('#session-search').fill('Renamed');
    await list.locator('.session', { hasText: 'Renamed in the workbench' }).waitFor();
    await bench.screenshot('sessions-renamed');
    await list.locator('.session', { hasText: 'Renamed in the workbench' }).locator('button[data-action="delete"]').click();
    await list.locator('.session', { hasText: 'Renamed in the workbench' }).waitFor({ state: 'detached' });
    await bench.screenshot('sessions-deleted');
  });

  scenario('MCP: the server in the panel with its state and tools; a call asked and drawn as server › tool', async (t) => {
    if (!needs(t, 'agent/mcpServers')) return;
    const server = panel.locator('#mcp-servers .mcp-server[data-server="fix"]');
    await panel.locator('#mcp-servers .mcp-server[data-server="fix"][data-state="ready"]').waitFor({ timeout: TURN_MS });
    assert.match(await server.locator('.mcp-detail').innerText(), /^\d+ tools$/);
    await server.locator('summary').click();
    await server.locator('.mcp-tool', { hasText: 'echo' }).waitFor();
    await bench.screenshot('mcp-servers');
    await server.locator('summary').click();
    await send('mcp-echo: please');
    const block = panel.locator('.tool[data-mcp-server="fix"]');
    await block.waitFor({ timeout: TURN_MS });
    assert.equal(await block.locator('.tool-mcp-target').innerText(), 'fix › echo');
    assert.match(await block.locator('.tool-args').innerText(), /hello from mcp/);
    const approve = panel.locator('.approval button[data-decision="approve"]');
    await approve.waitFor({ timeout: TURN_MS });
    assert.equal(await panel.locator('.approval-question').innerText(), 'Call this MCP tool?');
    await approve.click();
    assert.equal(await waitTurnEnd(1), 'completed');
    assert.equal(await block.getAttribute('data-status'), 'completed');
    assert.match(await block.locator('.tool-output').innerText(), /hello from mcp/);
    await bench.screenshot('mcp-call');
  });
});
