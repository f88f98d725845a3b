#!/usr/bin/env node
/**
 * `npm run icons`: renders resources/icon.svg into the tray's four state icons
 * and the app icon, in Windows sizes (PNG 16/20/24/32/48/256 and .ico), with
 * @resvg/resvg-js (SVG → PNG) and png-to-ico (PNGs → .ico). The outputs are
 * committed, so a build needs neither library's native part.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import pngToIco from 'png-to-ico';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'resources');
const source = fs.readFileSync(path.join(dir, 'icon.svg'), 'utf8');

/** Shape as well as colour: colour-blind staff and washed-out POS screens still tell them apart. */
export const STATES = {
  green: { fill: '#1e7a3c', mark: 'M9.5 16.5l4.5 4.5 8.5-9.5', stroke: 3.4 },
  amber: { fill: '#b86a00', mark: 'M16 9v8.5M16 22.6v.2', stroke: 3.6 },
  red: { fill: '#b3261e', mark: 'M11 11l10 10M21 11l-10 10', stroke: 3.4 },
  grey: { fill: '#5d6470', mark: 'M10 16h12', stroke: 3.6 },
};
const TRAY_SIZES = [16, 20, 24, 32, 48];
const APP_SIZES = [16, 24, 32, 48, 64, 128, 256];

const svgFor = (s) => source.replace('{{fill}}', s.fill).replace('{{mark}}', s.mark).replace('{{stroke}}', String(s.stroke));
const render = (svg, size) => new Resvg(svg, { fitTo: { mode: 'width', value: size } }).render().asPng();

for (const [name, s] of Object.entries(STATES)) {
  const svg = svgFor(s);
  const pngs = TRAY_SIZES.map((size) => render(svg, size));
  TRAY_SIZES.forEach((size, i) => fs.writeFileSync(path.join(dir, `tray-${name}-${size}.png`), pngs[i]));
  // Electron picks @2x on high-DPI screens when given the 16 px name.
  fs.writeFileSync(path.join(dir, `tray-${name}.png`), pngs[0]);
  fs.writeFileSync(path.join(dir, `tray-${name}@2x.png`), pngs[3]);
  fs.writeFileSync(path.join(dir, `tray-${name}.ico`), await pngToIco(pngs));
}
// The app icon (installer, window, taskbar): the working state's disc.
const app = APP_SIZES.map((size) => render(svgFor(STATES.green), size));
fs.writeFileSync(path.join(dir, 'icon.png'), app[app.length - 1]);
fs.writeFileSync(path.join(dir, 'icon.ico'), await pngToIco(app));
console.log(`icons: ${Object.keys(STATES).length} tray states × ${TRAY_SIZES.length} sizes and the app icon written to resources/`);
