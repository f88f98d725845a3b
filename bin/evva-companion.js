#!/usr/bin/env node
import { launch } from './launch.js';

// `run` shares a POS PC all day: its young generation stays at its first size from the first module it
// compiles on (common/heap.ts says why). The other commands live for a second; more scavenges would only slow them.
await launch('companion', 'main/core/cli.ts', process.argv.slice(2).includes('run') ? ['--semi-space-growth-factor=1'] : []);
