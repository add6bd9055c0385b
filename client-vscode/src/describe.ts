/** How a tool call's command is shown to a person: as they would type it in a shell. */

const SHELLS = new Set(['bash', 'sh', 'zsh']);
const SHELL_FLAGS = new Set(['-lc', '-c']);
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one word for a POSIX shell, only when it needs it. */
export function shellQuote(word: string): string {
  if (word !== '' && SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'"'"'`)}'`;
}

/** `["bash", "-lc", "ls -la"]` reads `ls -la`; anything else is the words joined and quoted. */
export function describeArgv(argv: readonly string[]): string {
  const [program, flag, script] = argv;
  if (argv.length === 3 && program !== undefined && flag !== undefined && script !== undefined) {
    if (SHELLS.has(program) && SHELL_FLAGS.has(flag)) return script;
  }
  return argv.map(shellQuote).join(' ');
}

/** The command of a `toolCallStarted` event, whose `arguments` is the call's JSON text. */
export function describeCall(name: string, argumentsJson: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(argumentsJson);
  } catch {
    return argumentsJson;
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    const command = (parsed as Record<string, unknown>).command;
    if (Array.isArray(command)) return describeArgv(command.map((part) => String(part)));
    const input = (parsed as Record<string, unknown>).input;
    if (name === 'apply_patch' && typeof input === 'string') return describePatch(input);
  }
  return name === 'shell' ? argumentsJson : `${name} ${argumentsJson}`;
}

const PATCH_FILE = /^\*\*\* (Add|Delete|Update) File: (.+)$/;

/** `apply_patch` calls read as the files they touch: "apply_patch: update a.ts, add b.ts". */
export function describePatch(patch: string): string {
  const files: string[] = [];
  for (const line of patch.split('\n')) {
    const match = PATCH_FILE.exec(line.trimEnd());
    if (match?.[1] && match[2]) files.push(`${match[1].toLowerCase()} ${match[2].trim()}`);
  }
  return files.length ? `apply_patch: ${files.join(', ')}` : 'apply_patch';
}
