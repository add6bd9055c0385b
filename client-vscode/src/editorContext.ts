/**
 * The composer's chip for the active editor: its selection when there is one, else its file.
 * Sent as `agent/send.context` items (v2), which the server reads from the editor's buffer
 * when the document is open (text document sync), else from disk.
 */

import type { ContextRange } from './protocol';
import type { Attachment } from './state';

/** What of an editor the chip needs (a vscode.TextEditor fits through `editorSnapshot`). */
export interface EditorSnapshot {
  uri: string;
  /** The file's name, for the chip. */
  name: string;
  /** The first selection, when it is not empty. */
  selection?: { range: ContextRange; text: string };
}

/** A selection larger than this goes as a range only (the server reads it). */
export const MAX_SELECTION_TEXT = 64 * 1024;

export function attachmentFor(editor: EditorSnapshot | undefined): Attachment | undefined {
  if (!editor) return undefined;
  if (!editor.selection) {
    return { id: `auto:${editor.uri}`, uri: editor.uri, label: editor.name, auto: true };
  }
  const { range, text } = editor.selection;
  const first = range.start.line + 1;
  // a selection ending at column 0 does not include that line
  const lastLine = range.end.character === 0 && range.end.line > range.start.line ? range.end.line : range.end.line + 1;
  const attachment: Attachment = {
    id: `auto:${editor.uri}#${first}-${lastLine}`,
    uri: editor.uri,
    label: first === lastLine ? `${editor.name}:${first}` : `${editor.name}:${first}-${lastLine}`,
    range,
    auto: true,
  };
  if (text.length <= MAX_SELECTION_TEXT) attachment.text = text;
  return attachment;
}
