/**
 * The folder graph is enforced by `npm run lint` (eslint.config.js, rule graph/folders): the relay, the simulator and
 * the contracts never import the companion; protocol/ imports only protocol/ and common/; the window imports only the
 * contracts, the presentation (face/) and common/; the plugin client (front/) and the tunnel do not import each other.
 * ESLint's own API lints planted imports under the repository's config, so the rule is shown to fire, and not to fire
 * on what the graph allows.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: root });
});

/** The graph's complaints about `code` as if it were the file at `file` (relative to the repository). */
async function edges(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result!.messages.filter((m) => m.ruleId === 'graph/folders').map((m) => m.message);
}

const use = (what: string, from: string) => `import { ${what} } from '${from}';\nexport const used = ${what};\n`;

describe('the folder graph in lint', () => {
  it('refuses the imports that broke it before: the relay reaching into the companion', async () => {
    expect(await edges('relay/probeback.ts', use('versionFromPage', '../main/core/front/client.ts'))).toEqual([
      'relay/probeback.ts may not import main/core/front/client.ts: the relay never imports the companion (main/): share through protocol/, face/ or common/.',
    ]);
    expect(await edges('relay/supportcli.ts', use('reportText', '../main/core/diagnostics/run.ts'))).toHaveLength(1);
    expect(await edges('relay/console/verdict.ts', `export { faceOf } from '../../main/core/agent.ts';\n`)).toHaveLength(1);
  }, 60_000);

  it('lets the relay import the contracts, the presentation and common/ (where those moved)', async () => {
    expect(await edges('relay/probeback.ts', use('versionFromPage', '../protocol/front.ts'))).toEqual([]);
    expect(await edges('relay/supportcli.ts', use('reportText', '../face/report.ts'))).toEqual([]);
    expect(await edges('relay/link.ts', use('Heartbeat', '../common/mux.ts'))).toEqual([]);
  }, 60_000);

  it('keeps the simulator and the contracts away from the companion, and protocol/ to itself and common/', async () => {
    expect(await edges('sim/server.ts', use('createAgent', '../main/core/agent.ts'))).toHaveLength(1);
    expect(await edges('protocol/local.ts', use('strings', '../face/strings.ts'))).toHaveLength(1);
    expect(await edges('protocol/tunnel/codec.ts', use('explain', '../../main/core/front/errors.ts'))).toHaveLength(1);
    expect(await edges('protocol/tunnel/codec.ts', use('Envelope', '../events.ts'))).toEqual([]);
    expect(await edges('protocol/tunnel/codec.ts', use('systemClock', '../../common/clock.ts'))).toEqual([]);
    expect(await edges('protocol/front.ts', use('z', 'zod'))).toEqual([]);
  }, 60_000);

  it('lets the window import only the contracts, the presentation and common/', async () => {
    expect(await edges('renderer/src/app.tsx', use('faceOf', '../../face/face.ts'))).toEqual([]);
    expect(await edges('renderer/src/bridge.ts', `import type { Bridge } from '../../protocol/bridge.ts';\nexport type B = Bridge;\n`)).toEqual([]);
    expect(await edges('renderer/src/app.tsx', use('describe', '../../main/core/cli.ts'))).toHaveLength(1);
    expect(await edges('renderer/src/bridge.ts', `import type { Bridge } from '../../preload/index.ts';\nexport type B = Bridge;\n`)).toHaveLength(1);
    expect(await edges('renderer/console/src/app.tsx', use('routes', '../../../relay/console/routes.ts'))).toHaveLength(1);
  }, 60_000);

  it('keeps the plugin client and the tunnel apart, dynamic imports and re-exports too; both use upstream.ts', async () => {
    expect(await edges('main/core/front/client.ts', use('keyLike', '../tunnel/gate.ts'))).toHaveLength(1);
    expect(await edges('main/core/tunnel/link.ts', use('isFrontError', '../front/errors.ts'))).toHaveLength(1);
    expect(await edges('main/core/tunnel/client.ts', `export const later = () => import('../front/probe.ts');\n`)).toHaveLength(1);
    expect(await edges('main/core/tunnel/client.ts', `export * from '../front/errors.ts';\n`)).toHaveLength(1);
    expect(await edges('main/core/front/client.ts', use('keyLike', '../upstream.ts'))).toEqual([]);
    expect(await edges('main/core/tunnel/link.ts', use('isFrontError', '../upstream.ts'))).toEqual([]);
    // Elsewhere in the core both may be imported together (the agent wires them).
    expect(await edges('main/core/agent.ts', `${use('explain', './front/errors.ts')}${use('proxyFor', './tunnel/proxy.ts').replace('used', 'used2')}`)).toEqual([]);
  }, 60_000);
});
