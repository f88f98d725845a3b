/**
 * The one dispatcher for commands the relay sends down the tunnel (`cmd`
 * frames): payment notices, menu sync, remote diagnostics, logs. Parts
 * register a handler by name in the composition root; the link only calls
 * `run` and sends back what it returns. A handler's failure becomes a
 * `cmd_result` with an error; nothing a command does can throw into the link.
 */
import type { Logger } from '../../common/logger.ts';

/** Answers one command; throw CommandError for an answer the relay can act on. */
export type CommandHandler = (args: unknown) => Promise<unknown>;

/** Error codes a `cmd_result` carries (docs/protocol.md, "Commands"). */
export type CommandErrorCode = 'unsupported' | 'bad_args' | 'disabled' | 'busy' | 'failed' | 'too_large';

export class CommandError extends Error {
  constructor(readonly code: CommandErrorCode, message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

export type CommandOutcome =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: CommandErrorCode; message: string } };

export interface Commands {
  /** Adds the handler for `name`; registering a name twice is a wiring bug and throws. */
  register(name: string, handler: CommandHandler): void;
  /** Runs `name`; always resolves, an unknown name or a throwing handler gives `ok: false`. */
  run(name: string, args: unknown): Promise<CommandOutcome>;
  /** The registered names, for hello/support output. */
  names(): string[];
}

export function createCommands(log: Logger): Commands {
  const handlers = new Map<string, CommandHandler>();
  return {
    register(name, handler) {
      if (handlers.has(name)) throw new Error(`command ${name} registered twice`);
      handlers.set(name, handler);
    },
    async run(name, args) {
      const handler = handlers.get(name);
      if (!handler) return { ok: false, error: { code: 'unsupported', message: `command ${name} is not supported by this companion` } };
      try {
        return { ok: true, result: await handler(args) };
      } catch (e) {
        if (e instanceof CommandError) return { ok: false, error: { code: e.code, message: e.message.slice(0, 500) } };
        log.error('command failed', { name, err: e instanceof Error ? e.message : String(e) });
        return { ok: false, error: { code: 'failed', message: 'the command failed on the companion; see its log' } };
      }
    },
    names: () => [...handlers.keys()],
  };
}
