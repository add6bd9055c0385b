/**
 * A real workbench for the tests: code-server (VS Code in a browser) with the packaged .vsix,
 * opened in headless Chromium. scripts/workbench.sh installs code-server and Node 24 into a
 * cache and passes their paths in AGENTLS_CODE_SERVER / AGENTLS_NODE24.
 *
 * code-server is a remote window: the extension runs on the "server" side, where machine
 * settings live in `<user-data-dir>/Machine/settings.json` (user settings with a
 * machine scope such as `agentls.server.command` are ignored there).
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { chromium, type Browser, type FrameLocator, type Page } from 'playwright-core';
import { API_KEY, CLIENT_DIR, VENV_BIN, type Sandbox } from '../protocol/harness';

export const CHROMIUM = process.env.AGENTLS_CHROMIUM ?? '/usr/bin/chromium';
export const RESULTS_DIR = path.join(CLIENT_DIR, 'test-results', 'workbench');
/** Starting code-server, the workbench, the extension and its server: slow on a busy machine. */
const STARTUP_MS = 120_000;

export function workbenchMissing(): string | undefined {
  const entry = process.env.AGENTLS_CODE_SERVER;
  const node = process.env.AGENTLS_NODE24;
  if (!entry || !node) return 'AGENTLS_CODE_SERVER / AGENTLS_NODE24 are not set: run scripts/workbench.sh';
  if (!fs.existsSync(entry)) return `${entry} is missing: run scripts/workbench.sh --install`;
  if (!fs.existsSync(node)) return `${node} is missing: run scripts/workbench.sh --install`;
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is missing: apt-get install -y chromium`;
  if (!findVsix()) return 'no agentls-*.vsix in client-vscode/: run scripts/test.sh first';
  return undefined;
}

function findVsix(): string | undefined {
  const name = fs.readdirSync(CLIENT_DIR).find((file) => /^agentls-.*\.vsix$/.test(file));
  return name ? path.join(CLIENT_DIR, name) : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface WorkbenchOptions {
  sandbox: Sandbox;
  baseUrl: string;
  /** Extra user settings (agentls.* and workbench ones). */
  userSettings?: Record<string, unknown>;
}

export class Workbench {
  private child: ChildProcess | undefined;
  private browser: Browser | undefined;
  private log = '';
  page!: Page;
  url = '';
  readonly userDataDir: string;
  readonly extensionsDir: string;
  readonly pageErrors: string[] = [];
  private shots = 0;

  constructor(private readonly options: WorkbenchOptions) {
    this.userDataDir = path.join(options.sandbox.root, 'code-server-data');
    this.extensionsDir = path.join(options.sandbox.root, 'code-server-extensions');
  }

  private node(): string {
    return process.env.AGENTLS_NODE24 ?? 'node';
  }

  private entry(): string {
    return process.env.AGENTLS_CODE_SERVER ?? '';
  }

  private env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (key.startsWith('AGENTLS_') || key.startsWith('OPENAI_') || key.startsWith('VSCODE_')) continue;
      env[key] = value;
    }
    const { sandbox } = this.options;
    Object.assign(env, {
      HOME: sandbox.userHome,
      XDG_CONFIG_HOME: path.join(sandbox.userHome, '.config'),
      XDG_DATA_HOME: path.join(sandbox.userHome, '.local', 'share'),
      AGENTLS_HOME: sandbox.home,
      OPENAI_BASE_URL: this.options.baseUrl,
      OPENAI_API_KEY: API_KEY,
      // no marketplace: nothing leaves the machine
      EXTENSIONS_GALLERY: '{}',
    });
    return env;
  }

  private writeSettings(): void {
    const machine = path.join(this.userDataDir, 'Machine');
    const user = path.join(this.userDataDir, 'User');
    fs.mkdirSync(machine, { recursive: true });
    fs.mkdirSync(user, { recursive: true });
    fs.writeFileSync(
      path.join(machine, 'settings.json'),
      JSON.stringify({ 'agentls.server.command': [path.join(VENV_BIN, 'agentls'), 'serve'] }, null, 2),
    );
    fs.writeFileSync(
      path.join(user, 'settings.json'),
      JSON.stringify(
        {
          'workbench.startupEditor': 'none',
          'workbench.tips.enabled': false,
          'workbench.enableExperiments': false,
          'security.workspace.trust.enabled': false,
          'telemetry.telemetryLevel': 'off',
          'extensions.autoCheckUpdates': false,
          'extensions.autoUpdate': false,
          'update.mode': 'none',
          'chat.disableAIFeatures': true,
          'window.confirmBeforeClose': 'never',
          ...this.options.userSettings,
        },
        null,
        2,
      ),
    );
  }

  installExtension(): void {
    const vsix = findVsix();
    if (!vsix) throw new Error('no .vsix');
    const result = spawnSync(
      this.node(),
      [
        this.entry(),
        '--user-data-dir', this.userDataDir,
        '--extensions-dir', this.extensionsDir,
        '--install-extension', vsix,
        '--force',
      ],
      { env: this.env(), encoding: 'utf8', timeout: 120_000 },
    );
    if (result.status !== 0) {
      throw new Error(`installing ${vsix} failed (${result.status}): ${result.stdout}\n${result.stderr}`);
    }
  }

  async start(): Promise<void> {
    this.writeSettings();
    this.installExtension();
    const port = await freePort();
    const child = spawn(
      this.node(),
      [
        this.entry(),
        '--auth', 'none',
        '--bind-addr', `127.0.0.1:${port}`,
        '--user-data-dir', this.userDataDir,
        '--extensions-dir', this.extensionsDir,
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--ignore-last-opened',
        this.options.sandbox.workspace,
      ],
      { env: this.env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    const append = (text: string): void => {
      this.log = (this.log + text).slice(-20_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`code-server did not start in 120 s:\n${this.log}`)), STARTUP_MS);
      const check = (): void => {
        if (/HTTP server listening on/.test(this.log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', check);
      child.stderr?.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`code-server exited (${code}):\n${this.log}`));
      });
    });
    this.url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(this.options.sandbox.workspace)}`;

    this.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // the page reaches loopback only
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      ],
    });
    const context = await this.browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: `http://127.0.0.1:${port}` });
    // generous: a busy machine (2 cores shared with other work) slows the workbench down
    context.setDefaultTimeout(60_000);
    this.page = await context.newPage();
    this.page.on('pageerror', (error) => this.pageErrors.push(String(error)));
    await this.page.goto(this.url);
    await this.page.locator('.monaco-workbench').waitFor({ timeout: STARTUP_MS });
  }

  /** The server-side log (code-server and, through it, the extension host's stderr). */
  output(): string {
    return this.log;
  }

  /** Every log file the workbench wrote (the extension host's among them). */
  logFiles(): string {
    const root = path.join(this.userDataDir, 'logs');
    const texts: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.log')) texts.push(`== ${full}\n${fs.readFileSync(full, 'utf8')}`);
      }
    };
    if (fs.existsSync(root)) walk(root);
    return texts.join('\n');
  }

  /** The chat panel's page: two frames deep. */
  panel(): FrameLocator {
    return this.page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  }

  /** Runs a command by its title from the command palette (asks again while it loads). */
  async command(title: string): Promise<void> {
    const page = this.page;
    const input = page.locator('.quick-input-widget input');
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    for (let attempt = 1; ; attempt++) {
      await page.keyboard.press('F1');
      await input.waitFor();
      // typed, not filled: the palette filters on key events
      await page.keyboard.type(title);
      try {
        await row.waitFor({ timeout: 5_000 });
        break;
      } catch (error) {
        await page.keyboard.press('Escape');
        if (attempt >= 6) throw error;
      }
    }
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden' }).catch(() => undefined);
  }

  /** The extension is active once its status bar item shows. */
  async waitForExtension(): Promise<void> {
    await this.page.locator('.statusbar-item', { hasText: 'agentls' }).first().waitFor({ timeout: STARTUP_MS });
  }

  async openPanel(): Promise<FrameLocator> {
    await this.waitForExtension();
    await this.command('agentls: Open Chat');
    const panel = this.panel();
    await panel.locator('#btn-send').waitFor({ timeout: STARTUP_MS });
    return panel;
  }

  async reload(): Promise<void> {
    await this.page.reload();
    await this.page.locator('.monaco-workbench').waitFor({ timeout: STARTUP_MS });
  }

  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `${String(++this.shots).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path: file }).catch(() => undefined);
    return file;
  }

  async stop(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    this.browser = undefined;
    const child = this.child;
    this.child = undefined;
    if (!child?.pid) return;
    const group = -child.pid;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    try {
      process.kill(group, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(group, 'SIGKILL');
      } catch {
        // gone
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
    // the extension host and the agentls server share the group: make sure none is left
    try {
      process.kill(group, 'SIGKILL');
    } catch {
      // all gone
    }
  }
}
