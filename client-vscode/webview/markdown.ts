/**
 * Markdown to safe HTML: marked renders, DOMPurify removes anything that could run; code
 * blocks are then highlighted with highlight.js (its output is escaped text in spans, and the
 * colours come from VS Code's theme variables in style.css).
 */

import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/common';
import { Marked } from 'marked';

const marked = new Marked({ gfm: true, breaks: false, async: false });

let hooked = false;

function installHooks(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node instanceof Element && node.tagName === 'A' && node.hasAttribute('href')) {
      node.setAttribute('rel', 'noopener noreferrer');
    }
  });
}

export function renderMarkdown(text: string): string {
  installHooks();
  const html = marked.parse(text, { async: false });
  return DOMPurify.sanitize(html, {
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'object', 'embed'],
    FORBID_ATTR: ['style'],
    ALLOW_DATA_ATTR: false,
  });
}

/** Above this size a block is left plain: highlighting it on every streamed delta costs too much. */
const MAX_HIGHLIGHT = 100_000;

/** The language of a fenced block (`language-ts`), when highlight.js knows it. */
export function blockLanguage(code: Element): string | undefined {
  for (const cls of code.classList) {
    if (cls.startsWith('language-')) {
      const name = cls.slice('language-'.length);
      return hljs.getLanguage(name) ? name : undefined;
    }
  }
  return undefined;
}

/** Highlights one `<code>` of a `<pre>` in place; returns the language used. */
export function highlightBlock(code: HTMLElement): string | undefined {
  const source = code.textContent ?? '';
  if (source.length > MAX_HIGHLIGHT) return undefined;
  const language = blockLanguage(code);
  if (!language) return undefined;
  // highlight.js escapes the text: its HTML is spans of classes around escaped source
  code.innerHTML = hljs.highlight(source, { language, ignoreIllegals: true }).value;
  code.classList.add('hljs');
  return language;
}
