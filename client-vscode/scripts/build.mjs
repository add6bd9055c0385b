// Bundles with esbuild:
//   dist/extension.js        the extension (CommonJS, `vscode` external)
//   dist/webview.js/.css     the chat panel (browser IIFE: marked + DOMPurify bundled)
//   out/test/**.test.js      the tests (`node scripts/build.mjs --tests`): in unit/, browser/ and
//                            protocol/ `vscode` and `vscode-languageclient/node` resolve to small
//                            mocks; in integration/ only `vscode` does (the real client runs)
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const withTests = process.argv.includes('--tests');
const production = process.argv.includes('--production');

const common = {
  absWorkingDir: root,
  bundle: true,
  logLevel: 'warning',
  legalComments: 'none',
};

function testEntries(dirs) {
  return dirs.flatMap((dir) => {
    try {
      return readdirSync(join(root, dir))
        .filter((name) => name.endsWith('.test.ts'))
        .map((name) => `${dir}/${name}`);
    } catch {
      return [];
    }
  });
}

rmSync(join(root, 'dist'), { recursive: true, force: true });

const builds = [
  esbuild.build({
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    external: ['vscode'],
    minify: production,
    sourcemap: !production,
  }),
  esbuild.build({
    ...common,
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify: production,
  }),
];

if (withTests) {
  rmSync(join(root, 'out'), { recursive: true, force: true });
  const entryPoints = testEntries(['test/unit', 'test/browser', 'test/protocol', 'test/workbench']);
  builds.push(
    esbuild.build({
      ...common,
      entryPoints,
      outdir: 'out/test',
      outbase: 'test',
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'inline',
      external: ['playwright-core'],
      alias: {
        vscode: './test/mock/vscode.ts',
        'vscode-languageclient/node': './test/mock/languageclient.ts',
      },
    }),
  );
}

if (withTests) {
  // extension.ts with the REAL vscode-languageclient (only `vscode` is mocked)
  builds.push(
    esbuild.build({
      ...common,
      entryPoints: testEntries(['test/integration']),
      outdir: 'out/test',
      outbase: 'test',
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'inline',
      external: ['playwright-core'],
      alias: { vscode: './test/mock/vscode-permissive.cjs' },
    }),
  );
}

await Promise.all(builds);
console.log(`built dist/extension.js, dist/webview.js, dist/webview.css${withTests ? ' and out/test/' : ''}`);
