#!/usr/bin/env node
import v8 from 'node:v8';
import { launch } from './launch.js';

// `serve` keeps its young generation from its first size up to a cap (common/heap.ts says why): growth is
// off from the first module it compiles, and `serve` lets it grow again up to the cap once the relay is set up.
if (process.argv.slice(2).includes('serve')) v8.setFlagsFromString('--semi-space-growth-factor=1');
await launch('relay', 'relay/cli.ts');
