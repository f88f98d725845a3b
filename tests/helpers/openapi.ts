/**
 * Validates events against the iikoCloud API OpenAPI specification's webhook
 * schemas, kept as a fixture (tests/fixtures/iiko/cloud-webhook-schemas.json,
 * which names its public source). OpenAPI 3.0 is not quite JSON Schema, so the
 * schemas are translated first, keeping their meaning:
 * - `nullable: true` allows null;
 * - a type written "constant string 'TableOrderUpdate'" is that constant;
 * - formats: uuid, `yyyy-MM-dd HH:mm:ss.fff`, int32, int64, double;
 * - a discriminated base (OrderItem by `type`, Customer by `type`) means one of
 *   its mapped subtypes, and a subtype that extends the base (allOf) gets the
 *   base's properties, so `additionalProperties: false` holds on the whole.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

type Json = Record<string, unknown>;
const FIXTURE = path.join(import.meta.dirname, '../fixtures/iiko/cloud-webhook-schemas.json');
const PREFIX = '#/components/schemas/';

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const refName = (ref: string) => ref.slice(PREFIX.length);

function convert(schema: unknown, all: Record<string, Json>): unknown {
  if (Array.isArray(schema)) return schema.map((s) => convert(s, all));
  if (!isObj(schema)) return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) {
    if (['description', 'example', 'title', 'deprecated', 'discriminator', 'nullable'].includes(k)) continue;
    if (k === '$ref') out.$ref = `#/definitions/${refName(String(v))}`;
    else if (k === 'type' && typeof v === 'string' && v.startsWith('constant string')) {
      out.type = 'string';
      out.const = /'(.*)'/.exec(v)?.[1];
    } else out[k] = convert(v, all);
  }
  // A subtype extending a discriminated base: take the base's properties in, drop the allOf.
  if (Array.isArray(schema.allOf)) {
    const bases = schema.allOf.filter((x): x is Json => isObj(x) && typeof x.$ref === 'string' && isObj(all[refName(x.$ref)]?.discriminator));
    if (bases.length) {
      const props = { ...(out.properties as Json | undefined) };
      const required = new Set<string>((out.required as string[] | undefined) ?? []);
      for (const b of bases) {
        const base = all[refName(String(b.$ref))]!;
        Object.assign(props, convert(base.properties, all) as Json);
        for (const r of (base.required as string[] | undefined) ?? []) required.add(r);
      }
      out.properties = props;
      out.required = [...required];
      out.allOf = (out.allOf as unknown[]).filter((x, i) => !bases.includes((schema.allOf as unknown[])[i] as Json));
      if ((out.allOf as unknown[]).length === 0) delete out.allOf;
    }
  }
  if (schema.nullable === true) {
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
    } else return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

/** A discriminated base as "one of its subtypes", chosen by the discriminator's value. */
function dispatch(base: Json): Json {
  const d = base.discriminator as { propertyName: string; mapping: Record<string, string> };
  const keys = Object.keys(d.mapping);
  return {
    type: 'object',
    required: [d.propertyName],
    properties: { [d.propertyName]: { enum: keys } },
    allOf: keys.map((k) => ({
      if: { properties: { [d.propertyName]: { const: k } } },
      then: { $ref: `#/definitions/${refName(d.mapping[k]!)}` },
    })),
  };
}

export interface CloudSchemas {
  /** Validates one webhook event: order events against Cloud's schema for their type, others as an envelope Cloud skips. */
  validate(event: unknown): { ok: boolean; errors: string[] };
  /** Cloud's webhook event types (WebHookEventType). */
  cloudTypes: string[];
}

let cached: CloudSchemas | null = null;

export function cloudSchemas(): CloudSchemas {
  if (cached) return cached;
  const fixture = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as { schemas: Record<string, Json> };
  const all = fixture.schemas;
  const definitions: Json = {};
  for (const [name, s] of Object.entries(all)) definitions[name] = isObj(s.discriminator) ? dispatch(s) : convert(s, all);
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv, ['uuid']);
  ajv.addFormat('yyyy-MM-dd HH:mm:ss.fff', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('double', { type: 'number', validate: (n: number) => Number.isFinite(n) });
  const W = 'iikoTransport.PublicApi.Contracts.WebHooks.';
  const byType: Record<string, ValidateFunction> = {};
  for (const t of ['TableOrderUpdate', 'DeliveryOrderUpdate']) {
    byType[t] = ajv.compile({ definitions, $ref: `#/definitions/${W}${t}WebHookEventInfo` });
  }
  const cloudTypes = (all[`${W}WebHookEventType`]!.enum as string[]).slice();
  const envelope = all[`${W}TableOrderUpdateWebHookEventInfo`]!.properties as Json;
  // An event Cloud does not have: the same envelope, a type no Cloud handler acts on.
  const other = ajv.compile({
    type: 'object', additionalProperties: false,
    required: ['eventType', 'eventTime', 'organizationId', 'correlationId', 'eventInfo'],
    properties: {
      eventType: { type: 'string', not: { enum: cloudTypes } },
      eventTime: convert(envelope.eventTime, all), organizationId: convert(envelope.organizationId, all),
      correlationId: convert(envelope.correlationId, all), eventInfo: { type: 'object' },
    },
  });
  const text = (e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`;
  cached = {
    cloudTypes,
    validate(event) {
      const t = isObj(event) ? String(event.eventType) : '';
      const v = byType[t] ?? other;
      const ok = v(event) as boolean;
      return { ok, errors: ok ? [] : (v.errors ?? []).map(text) };
    },
  };
  return cached;
}
