/** Starting the server process: a clear error when the program cannot run, stderr kept. */

import { spawn, type ChildProcess } from 'node:child_process';
import type { ServerCommand } from './serverCommand';
import { formatCommand } from './serverCommand';

export class ServerSpawnError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'ServerSpawnError';
  }
}

export interface SpawnOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Everything the server prints on stderr (its log). */
  onStderr?: (text: string) => void;
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/** Resolves once the process runs; rejects with a ServerSpawnError (ENOENT, EACCES...). */
export function spawnServer(command: ServerCommand, options: SpawnOptions): Promise<ChildProcess> {
  return new Promise<ChildProcess>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(command.command, command.args, {
        cwd: options.cwd,
        env: options.env,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (error) {
      reject(spawnError(command, error));
      return;
    }
    let started = false;
    child.on('error', (error) => {
      if (!started) reject(spawnError(command, error));
    });
    child.once('spawn', () => {
      started = true;
      resolve(child);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => options.onStderr?.(text));
    child.once('exit', (code, signal) => options.onExit?.(code, signal));
  });
}

function spawnError(command: ServerCommand, error: unknown): ServerSpawnError {
  const code = (error as { code?: unknown }).code;
  const reason = error instanceof Error ? error.message : String(error);
  const what = `"${formatCommand(command)}" (from ${command.source})`;
  if (code === 'ENOENT') {
    return new ServerSpawnError(
      `Could not start the agentls server: ${what} was not found.`,
      'Set "agentls.server.command" to the full path of agentls, or install it (`pip install agentls`).',
    );
  }
  if (code === 'EACCES') {
    return new ServerSpawnError(
      `Could not start the agentls server: ${what} is not executable.`,
      'Make it executable (chmod +x) or point "agentls.server.command" at the right program.',
    );
  }
  return new ServerSpawnError(
    `Could not start the agentls server ${what}: ${reason}`,
    'Check "agentls.server.command" / "agentls.server.pythonPath" and the "agentls" output.',
  );
}

/** A bounded tail of the server's stderr, for error messages. */
export class TextTail {
  private text = '';
  constructor(private readonly limit = 4000) {}
  push(chunk: string): void {
    this.text = (this.text + chunk).slice(-this.limit);
  }
  clear(): void {
    this.text = '';
  }
  toString(): string {
    return this.text;
  }
}
