/**
 * Where the running companion's local API is: local-api.json in the data
 * folder. Only read here; every command that asks the companion checks the
 * answer with verifyCompanion (proof.ts) before the token goes anywhere.
 */
import path from 'node:path';
import { LOCAL_API_FILE, LocalApiFile } from '../../../protocol/local.ts';
import { readJsonFile } from '../files.ts';

/** The running agent's API address and token, if local-api.json is there and valid. */
export function runningAgent(dataDir: string): LocalApiFile | null {
  try {
    const raw = readJsonFile(path.join(dataDir, LOCAL_API_FILE));
    return raw === null ? null : LocalApiFile.parse(raw);
  } catch {
    return null;
  }
}
