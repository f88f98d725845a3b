#!/usr/bin/env node
import { launch } from './launch.js';

// `serve` keeps its young generation from its first size up to a cap (common/heap.ts says why): growth is
// off from the first module it compiles, and `serve` lets it grow again up to the cap once the relay is set up.
await launch('relay', 'relay/cli.ts', process.argv.slice(2).includes('serve') ? ['--semi-space-growth-factor=1'] : []);
