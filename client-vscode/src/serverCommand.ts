/**
 * Which program runs `agentls serve`, and a message with a fix when there is none.
 *
 * Order: the `agentls.server.command` setting; else `agentls.server.pythonPath` with
 * `-m agentls serve`; else the workspace's own virtualenv (trusted workspaces only: a folder
 * must not choose the program we run); else `agentls` on PATH; else ~/.local/bin/agentls
 * (where pipx and `pip install --user` put it, often missing from a desktop session's PATH).
 */

import * as path from 'node:path';

export interface ResolveInput {
  command: readonly string[];
  pythonPath: string;
  workspaceFolder?: string;
  workspaceTrusted: boolean;
  env: Readonly<Record<string, string | undefined>>;
  platform: NodeJS.Platform;
  home: string;
}

export interface Probe {
  isExecutable(file: string): boolean;
}

export interface ServerCommand {
  ok: true;
  command: string;
  args: string[];
  /** Where it came from, for the log. */
  source: string;
}

export interface ServerCommandError {
  ok: false;
  message: string;
  fix: string;
}

export type Resolution = ServerCommand | ServerCommandError;

export const INSTALL_FIX =
  'Install agentls (`pip install agentls` or `pipx install agentls`), or set ' +
  '"agentls.server.command" to the full command, e.g. ["/path/to/venv/bin/agentls", "serve"], ' +
  'or "agentls.server.pythonPath" to a Python that has agentls installed.';

function pathApi(platform: NodeJS.Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** `${workspaceFolder}`, `${userHome}`, `${env:NAME}` and a leading `~`. */
export function expandVariables(value: string, input: ResolveInput): string {
  let out = value.replace(/\$\{(workspaceFolder|userHome|env:([A-Za-z_][A-Za-z0-9_]*))\}/g, (
    match,
    name: string,
    envName: string | undefined,
  ) => {
    if (name === 'workspaceFolder') return input.workspaceFolder ?? match;
    if (name === 'userHome') return input.home;
    return envName !== undefined ? (input.env[envName] ?? '') : match;
  });
  if (out === '~' || out.startsWith('~/') || out.startsWith('~\\')) {
    out = input.home + out.slice(1);
  }
  return out;
}

function hasSeparator(file: string, platform: NodeJS.Platform): boolean {
  return file.includes('/') || (platform === 'win32' && file.includes('\\'));
}

function executableNames(name: string, input: ResolveInput): string[] {
  if (input.platform !== 'win32' || path.win32.extname(name) !== '') return [name];
  const exts = (input.env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean);
  return exts.map((ext) => name + ext.toLowerCase());
}

/** Like `which`: the first executable `name` on PATH. */
export function findOnPath(name: string, input: ResolveInput, probe: Probe): string | undefined {
  const api = pathApi(input.platform);
  const pathValue = input.env.PATH ?? input.env.Path ?? '';
  const dirs = pathValue.split(input.platform === 'win32' ? ';' : ':').filter(Boolean);
  for (const dir of dirs) {
    for (const candidate of executableNames(name, input)) {
      const full = api.join(dir, candidate);
      if (probe.isExecutable(full)) return full;
    }
  }
  return undefined;
}

function locate(program: string, input: ResolveInput, probe: Probe): string | undefined {
  if (hasSeparator(program, input.platform)) {
    const api = pathApi(input.platform);
    const full = api.isAbsolute(program)
      ? program
      : api.resolve(input.workspaceFolder ?? input.home, program);
    return executableNames(full, input).find((candidate) => probe.isExecutable(candidate));
  }
  return findOnPath(program, input, probe);
}

export function resolveServerCommand(input: ResolveInput, probe: Probe): Resolution {
  const api = pathApi(input.platform);
  if (input.command.length > 0) {
    const [program, ...args] = input.command.map((part) => expandVariables(part, input));
    if (program === undefined || program.trim() === '') {
      return { ok: false, message: '"agentls.server.command" is empty.', fix: INSTALL_FIX };
    }
    const found = locate(program, input, probe);
    if (!found) {
      return {
        ok: false,
        message: `The agentls server command "${program}" (from "agentls.server.command") was not found or is not executable.`,
        fix:
          'Fix "agentls.server.command" in the settings: its first item must be an executable ' +
          '(absolute path, or a name on PATH), e.g. ["/path/to/venv/bin/agentls", "serve"].',
      };
    }
    return { ok: true, command: found, args, source: 'agentls.server.command' };
  }
  if (input.pythonPath !== '') {
    const python = expandVariables(input.pythonPath, input);
    const found = locate(python, input, probe);
    if (!found) {
      return {
        ok: false,
        message: `The Python interpreter "${python}" (from "agentls.server.pythonPath") was not found or is not executable.`,
        fix:
          'Fix "agentls.server.pythonPath" in the settings (a Python with agentls installed), ' +
          'or clear it to look for agentls on PATH.',
      };
    }
    return {
      ok: true,
      command: found,
      args: ['-m', 'agentls', 'serve'],
      source: 'agentls.server.pythonPath',
    };
  }
  const candidates: string[] = [];
  if (input.workspaceFolder !== undefined && input.workspaceTrusted) {
    for (const venv of ['.venv', 'venv']) {
      candidates.push(
        input.platform === 'win32'
          ? api.join(input.workspaceFolder, venv, 'Scripts', 'agentls.exe')
          : api.join(input.workspaceFolder, venv, 'bin', 'agentls'),
      );
    }
  }
  for (const candidate of candidates) {
    if (probe.isExecutable(candidate)) {
      return { ok: true, command: candidate, args: ['serve'], source: "the workspace's virtualenv" };
    }
  }
  const onPath = findOnPath('agentls', input, probe);
  if (onPath) return { ok: true, command: onPath, args: ['serve'], source: 'PATH' };
  const userBin =
    input.platform === 'win32' ? undefined : api.join(input.home, '.local', 'bin', 'agentls');
  if (userBin && probe.isExecutable(userBin)) {
    return { ok: true, command: userBin, args: ['serve'], source: '~/.local/bin' };
  }
  return {
    ok: false,
    message: 'The agentls server was not found (not on PATH, nor in the workspace\'s .venv).',
    fix: INSTALL_FIX,
  };
}

/** One line for the log and error messages. */
export function formatCommand(command: ServerCommand): string {
  return [command.command, ...command.args].map((part) => (/\s/.test(part) ? `"${part}"` : part)).join(' ');
}

/** Explains a server that exited while starting, from the tail of what it printed. */
export function explainStartFailure(command: ServerCommand | undefined, stderrTail: string): {
  message: string;
  fix: string;
} {
  const tail = stderrTail.trim().split('\n').slice(-3).join(' | ');
  const what = command ? `"${formatCommand(command)}"` : 'The agentls server';
  if (/No module named ['"]?agentls/.test(stderrTail)) {
    return {
      message: `${what} could not start: agentls is not installed for that Python.`,
      fix: INSTALL_FIX,
    };
  }
  return {
    message: `${what} exited while starting${tail ? `: ${tail}` : '.'}`,
    fix: 'See the "agentls" output for the full log; check "agentls.server.command" / "agentls.server.pythonPath".',
  };
}

/**
 * In a remote window (Remote-SSH, WSL, containers, code-server) the server runs on the remote
 * machine, and `agentls.server.*` (machine scope) are read from the remote side: a value
 * in the local user settings is ignored. A fix that points at those settings says where.
 */
export function remoteHint(remoteName: string | undefined): string {
  if (!remoteName) return '';
  return (
    ` This is a remote window (${remoteName}): "agentls.server.command" and "agentls.server.pythonPath" ` +
    'are read from the Remote settings ("Preferences: Open Remote Settings"; for code-server, ' +
    '<user-data-dir>/Machine/settings.json), not from your user settings.'
  );
}
