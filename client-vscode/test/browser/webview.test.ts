/**
 * The chat webview in headless Chromium (playwright-core, Debian's /usr/bin/chromium): the
 * bundled page with its real HTML and CSP, `acquireVsCodeApi` mocked, and the real
 * ChatController on the other end of postMessage (with a scripted server behind it).
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { CancellationToken } from 'vscode-jsonrpc';
import { ChatController } from '../../src/controller';
import type { ToWebview } from '../../src/messages';
import type { AgentEvent, ApprovalResult, SendResult } from '../../src/protocol';
import { makeNonce, webviewHtml } from '../../src/webviewHtml';

const CHROMIUM = process.env.AGENTLS_CHROMIUM ?? '/usr/bin/chromium';
const S = '66666666-6666-4666-8666-666666666666';

function clientDir(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'scripts', 'build.mjs'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('client-vscode not found');
    dir = parent;
  }
  return dir;
}

declare global {
  interface Window {
    __posted: unknown[];
    __toExtension(message: unknown): Promise<void>;
  }
}

/** The scripted "server" behind the controller: the test decides when a send answers. */
interface OpenSend {
  params: { text: string; sessionId?: string };
  token: CancellationToken | undefined;
  resolve(result: SendResult): void;
}

describe('chat webview in Chromium', () => {
  let context: BrowserContext;
  let page: Page;
  let workDir: string;
  let controller: ChatController;
  const sends: OpenSend[] = [];
  let seq = 0;

  const event = (turnId: string, fields: Record<string, unknown>): void => {
    controller.handleEvent({ sessionId: S, turnId, seq: seq++, ...fields } as AgentEvent);
  };

  const posted = (): Promise<unknown[]> => page.evaluate(() => window.__posted);
  const text = (selector: string): Promise<string> => page.locator(selector).last().innerText();
  const waitFor = async (predicate: () => boolean, what: string): Promise<void> => {
    const started = Date.now();
    while (!predicate()) {
      if (Date.now() - started > 10_000) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    const root = clientDir();
    const dist = path.join(root, 'dist');
    for (const file of ['webview.js', 'webview.css']) {
      if (!fs.existsSync(path.join(dist, file))) throw new Error(`dist/${file} is missing: build first`);
    }
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentls-webview-'));
    const htmlFile = path.join(workDir, 'index.html');
    fs.writeFileSync(
      htmlFile,
      webviewHtml({
        scriptUri: pathToFileURL(path.join(dist, 'webview.js')).href,
        styleUri: pathToFileURL(path.join(dist, 'webview.css')).href,
        cspSource: 'file:',
        nonce: makeNonce(),
      }),
    );
    context = await chromium.launchPersistentContext(path.join(workDir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 420, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });

    controller = new ChatController({
      post: (message: ToWebview) => {
        void page.evaluate((m) => window.postMessage(m, '*'), message as unknown);
      },
    });
    controller.setConnection({
      sendRequest: <R>(method: string, params: unknown, token?: CancellationToken): Promise<R> => {
        if (method !== 'agent/send') return Promise.reject(new Error(`unexpected ${method}`));
        return new Promise<R>((resolve) => {
          sends.push({
            params: params as OpenSend['params'],
            token,
            resolve: (result) => resolve(result as R),
          });
        });
      },
    });
    // the page's acquireVsCodeApi: records, and hands each message to the controller
    await page.exposeBinding('__toExtension', (_source, message: unknown) => {
      controller.handleWebviewMessage(message);
    });
    await page.addInitScript(() => {
      window.__posted = [];
      (window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => ({
        postMessage: (message: unknown) => {
          window.__posted.push(message);
          void window.__toExtension(message);
        },
        getState: () => undefined,
        setState: () => undefined,
      });
    });
    await page.goto(pathToFileURL(htmlFile).href);
    await page.locator('#btn-send').waitFor();
    assert.deepEqual(pageErrors, [], 'the page loads without errors under its CSP');
  });

  after(async () => {
    await page?.screenshot({ path: path.join(clientDir(), 'out', 'webview.png') }).catch(() => undefined);
    await context?.close();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  test('the page says ready; Send is enabled once the server runs', async () => {
    assert.deepEqual((await posted())[0], { type: 'ready' });
    assert.equal(await page.locator('#btn-send').isDisabled(), true, 'no server yet');
    controller.setServer({
      status: 'running',
      model: { name: 'gpt-test', baseUrl: 'http://x/v1', wireApi: 'responses', configured: true },
    });
    await page.waitForFunction(() => !(document.getElementById('btn-send') as HTMLButtonElement).disabled);
    assert.equal(await text('#title'), 'New session');
  });

  test('send, streamed Markdown (sanitized), a tool block with live output, approvals, Stop', async () => {
    await page.locator('#input').fill('Show me **bold**');
    await page.locator('#input').press('Enter');
    await waitFor(() => sends.length === 1, 'agent/send');
    assert.equal(sends[0]?.params.text, 'Show me **bold**');
    assert.ok(sends[0]?.token);
    await page.locator('.msg-user .bubble').waitFor();
    assert.equal(await text('.msg-user .bubble'), 'Show me **bold**', 'the user text is shown as typed');
    assert.equal(await page.locator('#btn-send').innerText(), 'Stop');
    assert.equal(await page.locator('#input').inputValue(), '');

    const t = 'turn-1';
    event(t, { type: 'turnStarted', text: 'Show me **bold**' });
    for (const delta of ['Here is ', '**bold**', ' text', '<img src=x onerror="window.pwned=1">', '<script>window.pwned=2</script>']) {
      event(t, { type: 'textDelta', itemId: 'm1', delta });
    }
    await page.locator('.msg-assistant strong').waitFor();
    assert.equal(await text('.msg-assistant strong'), 'bold');
    assert.equal(await page.locator('.msg-assistant.streaming').count(), 1, 'still streaming');
    assert.equal(await page.locator('#log script, #log [onerror]').count(), 0, 'sanitized');
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    event(t, { type: 'messageCompleted', itemId: 'm1', text: 'Here is **bold** text' });
    await page.waitForFunction(() => document.querySelectorAll('.msg-assistant.streaming').length === 0);

    // a tool call: command, live output
    event(t, { type: 'toolCallStarted', callId: 'c1', name: 'shell', arguments: JSON.stringify({ command: ['bash', '-lc', 'ls -la'] }) });
    await page.locator('.tool[data-call-id="c1"]').waitFor();
    assert.equal(await text('.tool[data-call-id="c1"] .tool-command'), 'ls -la');
    assert.match(await text('.tool[data-call-id="c1"] .tool-mark'), /running/);
    event(t, { type: 'toolOutputDelta', callId: 'c1', delta: 'total 8\n' });
    event(t, { type: 'toolOutputDelta', callId: 'c1', delta: 'a.txt\n' });
    await page.waitForFunction(() =>
      document.querySelector('.tool[data-call-id="c1"] .tool-output')?.textContent?.includes('a.txt'),
    );
    event(t, { type: 'toolCallCompleted', callId: 'c1', status: 'completed', exitCode: 0, output: 'total 8\na.txt\n' });
    await page.waitForFunction(() => document.querySelector('.tool[data-call-id="c1"]')?.getAttribute('data-status') === 'completed');
    assert.equal(await text('.tool[data-call-id="c1"] .tool-exit'), 'exit 0');
    // collapsible
    const summary = page.locator('.tool[data-call-id="c1"] > summary');
    assert.equal(await page.locator('.tool[data-call-id="c1"]').getAttribute('open'), '');
    await summary.click();
    assert.equal(await page.locator('.tool[data-call-id="c1"]').getAttribute('open'), null, 'collapsed by a click');

    // an approval inside the next tool block: Approve for session
    event(t, { type: 'toolCallStarted', callId: 'c2', name: 'shell', arguments: JSON.stringify({ command: ['bash', '-lc', 'touch x'] }) });
    const question = controller.handleApprovalRequest({
      sessionId: S,
      turnId: t,
      callId: 'c2',
      kind: 'shell',
      command: ['bash', '-lc', 'touch x'],
      cwd: '/work/project',
    });
    const buttons = page.locator('.tool[data-call-id="c2"] .approval-button');
    await buttons.first().waitFor();
    assert.deepEqual(await buttons.allInnerTexts(), ['Approve', 'Approve for session', 'Deny']);
    assert.match(await text('.tool[data-call-id="c2"] .approval-cwd'), /\/work\/project/);
    assert.equal(await text('#status'), 'Waiting for your approval');
    await page.screenshot({ path: path.join(clientDir(), 'out', 'webview-approval.png') });
    await page.locator('.tool[data-call-id="c2"] [data-decision="approveForSession"]').click();
    const decision: ApprovalResult = await question;
    assert.deepEqual(decision, { decision: 'approveForSession' });
    await page.waitForFunction(() => document.querySelectorAll('.approval').length === 0);
    event(t, { type: 'toolCallCompleted', callId: 'c2', status: 'failed', exitCode: 1, output: 'touch: cannot touch' });
    await page.waitForFunction(() => document.querySelector('.tool[data-call-id="c2"]')?.getAttribute('data-status') === 'failed');
    assert.equal(await text('.tool[data-call-id="c2"] .tool-exit'), 'exit 1');

    // denied and aborted are marked
    event(t, { type: 'toolCallStarted', callId: 'c3', name: 'shell', arguments: JSON.stringify({ command: ['rm', '-rf', 'build'] }) });
    event(t, { type: 'toolCallCompleted', callId: 'c3', status: 'denied', output: 'denied' });
    event(t, { type: 'toolCallStarted', callId: 'c4', name: 'shell', arguments: JSON.stringify({ command: ['sleep', '100'] }) });
    event(t, { type: 'textDelta', itemId: 'm2', delta: 'still go' });
    await page.locator('.tool[data-call-id="c4"]').waitFor();
    assert.match(await text('.tool[data-call-id="c3"] .tool-mark'), /denied/);

    // Stop: the button posts stop; the controller cancels the request's token
    await page.locator('#btn-send').click();
    await waitFor(() => sends[0]?.token?.isCancellationRequested === true, 'the cancellation');
    await page.waitForFunction(() => document.getElementById('btn-send')?.textContent === 'Stopping…');
    event(t, { type: 'toolCallCompleted', callId: 'c4', status: 'aborted', output: 'aborted' });
    event(t, { type: 'turnCompleted', status: 'interrupted', finalMessage: 'still go', usage: { input_tokens: 1234, output_tokens: 56 } });
    sends[0]?.resolve({ sessionId: S, turnId: t, status: 'interrupted', finalMessage: 'still go', usage: { input_tokens: 1234, output_tokens: 56 } });
    await page.locator('.turn-end[data-status="interrupted"]').waitFor();
    assert.match(await text('.turn-end'), /Interrupted/);
    assert.match(await text('.turn-end .turn-usage'), /1,234 in · 56 out tokens/);
    assert.match(await text('.tool[data-call-id="c4"] .tool-mark'), /aborted/);
    await page.waitForFunction(() => document.getElementById('btn-send')?.textContent === 'Send');
    await page.screenshot({ path: path.join(clientDir(), 'out', 'webview-turn.png') });
    const types = (await posted()).map((m) => (m as { type: string }).type);
    assert.deepEqual(types, ['ready', 'send', 'approve', 'stop']);
  });

  test('Escape stops a running turn; a withdrawn approval leaves the panel', async () => {
    await page.locator('#input').fill('run: touch y');
    await page.locator('#btn-send').click();
    await waitFor(() => sends.length === 2, 'the second send');
    const t = 'turn-2';
    event(t, { type: 'turnStarted', text: 'run: touch y' });
    event(t, { type: 'toolCallStarted', callId: 'c5', name: 'shell', arguments: JSON.stringify({ command: ['bash', '-lc', 'touch y'] }) });
    let cancel: () => void = () => undefined;
    const token: CancellationToken = {
      isCancellationRequested: false,
      onCancellationRequested: ((listener: () => void) => {
        cancel = listener;
        return { dispose: () => undefined };
      }) as CancellationToken['onCancellationRequested'],
    };
    const question = controller.handleApprovalRequest(
      { sessionId: S, turnId: t, callId: 'c5', kind: 'shell', command: ['bash', '-lc', 'touch y'], cwd: '/w' },
      token,
    );
    await page.locator('.tool[data-call-id="c5"] .approval').waitFor();
    await page.keyboard.press('Escape');
    await waitFor(() => sends[1]?.token?.isCancellationRequested === true, 'Escape → stop');
    cancel(); // the server withdraws the question as the turn stops
    await assert.rejects(question);
    await page.waitForFunction(() => document.querySelectorAll('.approval').length === 0);
    event(t, { type: 'toolCallCompleted', callId: 'c5', status: 'aborted', output: 'aborted' });
    sends[1]?.resolve({ sessionId: S, turnId: t, status: 'interrupted' });
    await page.locator('.tool[data-call-id="c5"][data-status="aborted"]').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('.turn-end[data-status="interrupted"]').length === 2);
  });

  test('redraw from history (resume), and the server banner', async () => {
    controller.dispatch({
      type: 'historyLoaded',
      result: {
        sessionId: S,
        title: 'fix the build',
        createdAt: '2026-01-01T00:00:00Z',
        updatedAt: '2026-01-01T00:00:00Z',
        warnings: ['1 call was left without output; it was marked aborted'],
        history: [
          { role: 'user', text: 'fix the build' },
          { role: 'tool', text: 'make', callId: 'h1', toolName: 'shell', status: 'failed', exitCode: 2, output: 'error: x' },
          { role: 'assistant', text: 'The build fails in `x`.' },
        ],
      },
    });
    await page.waitForFunction(() => document.getElementById('title')?.textContent === 'fix the build');
    assert.equal(await page.locator('.msg-user').count(), 1);
    assert.equal(await page.locator('.turn-end').count(), 0);
    assert.equal(await text('.tool[data-call-id="h1"] .tool-command'), 'make');
    assert.equal(await text('.tool[data-call-id="h1"] .tool-exit'), 'exit 2');
    assert.equal(await text('.msg-assistant code'), 'x');
    assert.match(await text('.notice-warning'), /marked aborted/);

    // a fresh page state from a reset (what a re-created view gets) draws the same
    const before = await page.locator('#log').innerHTML();
    await page.evaluate((state) => window.postMessage({ type: 'reset', state }, '*'), controller.state as unknown);
    await page.waitForTimeout(100);
    assert.equal(await page.locator('#log').innerHTML(), before);

    controller.setServer({ status: 'failed', message: 'agentls was not found. Install it (pip install agentls).' });
    await page.locator('#banner:not([hidden])').waitFor();
    assert.match(await text('#banner'), /not found/);
    assert.equal(await page.locator('#btn-send').isDisabled(), true);
    await page.locator('#banner [data-command="showLog"]').click();
    await page.waitForFunction(() =>
      window.__posted.some((m) => (m as { command?: string }).command === 'showLog'),
    );
  });

  test('v2 panel: highlighted code with Copy/Insert, output tail, file changes, Retry/Undo, meter, chips, sessions', async () => {
    controller.setServer({
      status: 'running',
      model: { name: 'gpt-test', baseUrl: 'http://x/v1', wireApi: 'responses', configured: true },
      methods: ['agent/send', 'agent/undo', 'agent/fork', 'agent/steer', 'agent/listSessions', 'agent/renameSession', 'agent/deleteSession'],
    });
    await page.waitForFunction(() => document.getElementById('model')?.textContent === 'gpt-test');
    const count = (await posted()).length;
    const newPosts = async (): Promise<{ type: string; [key: string]: unknown }[]> =>
      (await posted()).slice(count) as { type: string; [key: string]: unknown }[];
    const t = 'turn-v2';
    controller.dispatch({ type: 'userSent', text: 'v2 please' });
    event(t, { type: 'turnStarted', text: 'v2 please' });
    const code = 'const answer: number = 42; // the answer';
    event(t, { type: 'messageCompleted', itemId: 'm9', text: 'Here:\n\n```ts\n' + code + '\n```\n' });
    const block = page.locator('.code-block').last();
    await block.waitFor();
    assert.ok((await block.locator('.hljs-keyword').count()) > 0, 'keywords are highlighted');
    assert.equal(await block.locator('.code-lang').innerText(), 'ts');
    await block.locator('[data-action="copy"]').click();
    await block.locator('[data-action="insert"]').click();

    const output = Array.from({ length: 100 }, (_, i) => `line ${i + 1}`).join('\n');
    event(t, { type: 'toolCallStarted', callId: 'long', name: 'shell', arguments: JSON.stringify({ command: ['make'] }) });
    event(t, { type: 'toolCallCompleted', callId: 'long', status: 'failed', exitCode: 2, output: output + '\nerror: the end' });
    const longTool = page.locator('.tool[data-call-id="long"]');
    await longTool.locator('.tool-more').waitFor();
    assert.equal(await longTool.getAttribute('open'), '', 'long output is not collapsed');
    const tail = await longTool.locator('.tool-output').innerText();
    assert.match(tail, /error: the end$/);
    assert.doesNotMatch(tail, /^line 1$/m);
    assert.equal(await longTool.locator('.tool-more').innerText(), 'Show 61 earlier lines');
    await longTool.locator('.tool-more').click();
    await page.waitForFunction(() => /^line 1$/m.test(document.querySelector('.tool[data-call-id="long"] .tool-output')?.textContent ?? ''));

    const diff = '--- a/greet.txt\n+++ b/greet.txt\n@@ -1,2 +1,2 @@\n hello\n-world\n+there';
    event(t, { type: 'toolCallStarted', callId: 'p1', name: 'apply_patch', arguments: '{}', changes: [{ path: 'greet.txt', kind: 'update', diff }] });
    const change = page.locator('.tool[data-call-id="p1"] .file-change');
    await change.waitFor();
    assert.match(await change.innerText(), /greet\.txt[\s\S]*\+1[\s\S]*−1/);
    await change.locator('[data-action="open-diff"]').click();
    event(t, { type: 'turnDiff', diff, files: [{ path: 'greet.txt', added: 1, removed: 1 }] });
    await page.locator('.turn-diff .file-change').waitFor();
    event(t, { type: 'tokenUsage', inputTokens: 7000, outputTokens: 20, contextWindow: 10000 });
    await page.locator('#context-meter:not([hidden])').waitFor();
    assert.equal(await text('#context-label'), '70% of 10,000 tokens');
    assert.equal(await page.locator('#context-meter').getAttribute('data-level'), 'mid');
    event(t, { type: 'turnCompleted', status: 'failed', error: { message: '500 from the model API' } });
    controller.dispatch({ type: 'sendResult', result: { sessionId: S, turnId: t, status: 'failed', error: { message: '500 from the model API' } } });
    const end = page.locator('.turn-end[data-status="failed"]').last();
    await end.locator('[data-action="retry"]').waitFor();
    const before = sends.length;
    await end.locator('[data-action="retry"]').click();
    await waitFor(() => sends.length === before + 1, 'the retried send');
    assert.equal(sends.at(-1)?.params.text, 'v2 please', 'Retry sends the turn\'s message again');
    sends.at(-1)?.resolve({ sessionId: S, turnId: 'turn-retry', status: 'completed' });
    const asked = page.locator('.msg-user', { hasText: 'v2 please' }).first();
    await asked.hover();
    await asked.locator('[data-action="undo"]:not([disabled])').click();
    const confirm = page.locator('.confirm');
    await confirm.waitFor();
    assert.match(await confirm.innerText(), /greet\.txt/, 'the confirmation lists the files');
    await confirm.locator('[data-confirm="yes"]').click();
    await confirm.waitFor({ state: 'detached' });

    controller.setEditorAttachment({ id: 'auto:file:///w/a.ts', uri: 'file:///w/a.ts', label: 'a.ts:3-5', auto: true });
    const chip = page.locator('#chips .chip');
    await chip.waitFor();
    assert.equal(await chip.locator('.chip-label').innerText(), 'a.ts:3-5');
    await chip.locator('.chip-remove').click();
    await chip.waitFor({ state: 'detached' });

    controller.dispatch({
      type: 'sessionList',
      patch: { open: true, query: '', loading: false, sessions: [{ sessionId: 'x1', title: 'old work', createdAt: '', updatedAt: new Date().toISOString(), turns: 3 }] },
    });
    const row = page.locator('#sessions .session');
    await row.waitFor();
    assert.match(await row.innerText(), /old work[\s\S]*just now · 3 turns/);
    await row.locator('[data-action="rename"]').click();
    await page.locator('input.session-rename').fill('new title');
    await page.locator('input.session-rename').press('Enter');
    await row.locator('[data-action="delete"]').click();
    await page.screenshot({ path: path.join(clientDir(), 'out', 'webview-v2.png') });

    controller.dispatch({
      type: 'historyLoaded',
      result: { sessionId: S, title: 'long one', createdAt: '', updatedAt: '', warnings: [], historyCursor: 'older', history: [
        { role: 'user', text: 'newest question', turnId: 'tn' },
        { role: 'assistant', text: 'newest answer', turnId: 'tn', outcome: { status: 'interrupted' } },
      ] },
    });
    await page.locator('#log > .load-earlier').waitFor();
    assert.equal(await page.locator('#log > *').first().getAttribute('class'), 'load-earlier', 'at the top');
    assert.equal(await text('.turn-end[data-status="interrupted"] .turn-status'), '■ Interrupted', 'a redrawn turn keeps its ending');
    await page.locator('.load-earlier').click();

    const types = (await newPosts()).map((m) => m.type);
    for (const expected of ['copy', 'insert', 'openDiff', 'retry', 'undo', 'removeAttachment', 'renameSession', 'deleteSession', 'loadEarlier']) {
      assert.ok(types.includes(expected), `posted ${expected} (got ${types.join(', ')})`);
    }
    const copy = (await newPosts()).find((m) => m.type === 'copy');
    assert.equal(copy?.text, code + '\n', 'Copy takes the source, not the highlighted HTML');
    const rename = (await newPosts()).find((m) => m.type === 'renameSession');
    assert.deepEqual(rename, { type: 'renameSession', sessionId: 'x1', title: 'new title' });
  });
  test('MCP: the server list with state dots, errors and tool counts; MCP calls as server › tool blocks', async () => {
    controller.setMcpServers([
      { name: 'fix', state: 'starting', tools: [] },
      { name: 'broken', state: 'starting', tools: [] },
    ]);
    const section = page.locator('#mcp-servers');
    await section.waitFor();
    assert.equal(await section.locator('.mcp-server').count(), 2);
    assert.equal(await section.locator('.mcp-server[data-server="fix"]').getAttribute('data-state'), 'starting');
    controller.handleMcpStatus({
      servers: [
        { name: 'fix', state: 'ready', tools: ['echo', 'slow', 'lookup'] },
        { name: 'broken', state: 'failed', error: 'the server exited before it finished starting', tools: [] },
      ],
    });
    await page.locator('.mcp-server[data-server="fix"][data-state="ready"]').waitFor();
    assert.equal(await text('.mcp-server[data-server="fix"] .mcp-detail'), '3 tools');
    assert.equal(await page.locator('.mcp-server[data-server="fix"] .dot-ready').count(), 1);
    assert.match(await text('#mcp-servers .mcp-counts'), /1\/2 ready · 1 failed/);
    const broken = page.locator('.mcp-server[data-server="broken"]');
    assert.match((await broken.locator('summary').getAttribute('title')) ?? '', /failed: the server exited/, 'the error on hover');
    assert.equal(await broken.locator('.mcp-error').isVisible(), false, 'closed until asked');
    await broken.locator('summary').click();
    assert.equal(await broken.locator('.mcp-error').isVisible(), true, 'and on expanding');
    // the person's choice survives a redraw of the list
    controller.handleMcpStatus({
      servers: [
        { name: 'fix', state: 'ready', tools: ['echo', 'slow', 'lookup', 'added'] },
        { name: 'broken', state: 'failed', error: 'the server exited before it finished starting', tools: [] },
      ],
    });
    await page.waitForFunction(() => document.querySelector('.mcp-server[data-server="fix"] .mcp-detail')?.textContent === '4 tools');
    assert.equal(await page.locator('.mcp-server[data-server="broken"]').getAttribute('open'), '');

    const t = 'turn-mcp';
    controller.dispatch({ type: 'userSent', text: 'use the tool' });
    event(t, { type: 'turnStarted', text: 'use the tool' });
    event(t, { type: 'toolCallStarted', callId: 'm1', name: 'mcp__fix__echo', arguments: '{"text": "hello"}', mcp: { server: 'fix', tool: 'echo' } });
    const block = page.locator('.tool[data-call-id="m1"]');
    await block.waitFor();
    assert.equal(await block.getAttribute('data-mcp-server'), 'fix');
    assert.equal(await block.locator('.tool-mcp-target').innerText(), 'fix › echo');
    assert.equal(await block.locator('.tool-args').innerText(), '{"text": "hello"}');
    assert.match(await block.locator('.tool-mark').innerText(), /running/);
    const question = controller.handleApprovalRequest({
      sessionId: S, turnId: t, callId: 'm1', kind: 'mcp', cwd: '/w',
      reason: 'fix: echo {"text": "hello"}',
      tool: { server: 'fix', tool: 'echo', arguments: '{"text": "hello"}' },
    });
    await block.locator('.approval').waitFor();
    assert.equal(await block.locator('.approval-question').innerText(), 'Call this MCP tool?');
    await block.locator('[data-decision="approve"]').click();
    assert.deepEqual(await question, { decision: 'approve' });
    event(t, { type: 'toolOutputDelta', callId: 'm1', delta: 'hello' });
    event(t, { type: 'toolCallCompleted', callId: 'm1', status: 'completed', output: 'hello' });
    await page.locator('.tool[data-call-id="m1"][data-status="completed"]').waitFor();
    assert.equal(await block.locator('.tool-output').innerText(), 'hello');
    assert.match(await block.locator('.tool-mark').innerText(), /done/);
    assert.equal(await block.locator('.tool-exit').count(), 0, 'no exit code for a tool');
    event(t, { type: 'toolCallStarted', callId: 'm2', name: 'mcp__fix__fail', arguments: '{}', mcp: { server: 'fix', tool: 'fail' } });
    event(t, { type: 'toolCallCompleted', callId: 'm2', status: 'failed', output: 'it failed on purpose' });
    await page.locator('.tool[data-call-id="m2"][data-status="failed"]').waitFor();
    assert.equal(await page.locator('.tool[data-call-id="m2"] .tool-args').count(), 0, 'no arguments: none shown');
    assert.match(await text('.tool[data-call-id="m2"] .tool-mark'), /failed/);
    event(t, { type: 'turnCompleted', status: 'completed' });
    controller.dispatch({ type: 'sendResult', result: { sessionId: S, turnId: t, status: 'completed' } });
    await page.screenshot({ path: path.join(clientDir(), 'out', 'webview-mcp.png') });

    controller.setMcpServers([]);
    await page.locator('#mcp-servers').waitFor({ state: 'hidden' });
  });
});
