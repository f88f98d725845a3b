/**
 * A venue's iiko ids: `PUT /v1/venues/:venueId {iikoOrganizationId, iikoTerminalGroupId}`
 * (behind the API key). The iiko-cloud webhook format names the organization in
 * every event, and Cloud's order bodies name a terminal group; the companion's
 * plugin shows neither, so EVVA says them once per venue.
 */
import express, { type Router } from 'express';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { RelayErrorCode, VenueIikoSettings } from '../protocol/relay.ts';
import type { FeedStore } from './db/feed.ts';
import type { RelayStore } from './db/store.ts';

export interface IikoRouteDeps {
  store: RelayStore;
  feed: FeedStore;
  clock: Clock;
  log: Logger;
  /** New ids may unblock iiko-cloud deliveries that waited for them. */
  kick(venueId: string): void;
  /** Clustered: tells the other nodes the venue's settings changed. */
  settingsChanged?: (venueId: string) => void;
}

const json = express.json({ limit: '4kb' });

export function iikoRoutes(d: IikoRouteDeps): Router {
  const r = express.Router();
  r.put('/v1/venues/:venueId', json, async (req, res, next) => {
    try {
      const venueId = String(req.params.venueId);
      if (!(await d.store.getVenue(venueId))) return void res.status(404).json({ error: RelayErrorCode.unknownVenue });
      const body = VenueIikoSettings.safeParse(req.body);
      if (!body.success) {
        return void res.status(400).json({
          error: RelayErrorCode.badRequest,
          message: `expected { "iikoOrganizationId"?: UUID | null, "iikoTerminalGroupId"?: UUID | null }: ${body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
        });
      }
      const ids = await d.feed.setIikoIds(venueId, { organizationId: body.data.iikoOrganizationId, terminalGroupId: body.data.iikoTerminalGroupId }, d.clock.now());
      d.log.info('venue iiko ids set', { venueId, organization: ids.organizationId !== null, terminalGroup: ids.terminalGroupId !== null });
      d.kick(venueId);
      d.settingsChanged?.(venueId);
      res.json({ venueId, iikoOrganizationId: ids.organizationId, iikoTerminalGroupId: ids.terminalGroupId });
    } catch (e) { next(e); }
  });
  return r;
}
