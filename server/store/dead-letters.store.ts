// Notifications that exhausted their retries (notification_dead_letters). Kept in the
// truth store: an operator must be able to see every emergency message that never
// reached a hero.
import type { Tx } from '../db.ts';
import type { Message } from '../notify/providers.ts';

/** Records the dead letter once per message key; true when this call recorded it. */
export async function insertDeadLetter(tx: Tx, msg: Message, error: string): Promise<boolean> {
  const [fresh] = await tx`
    insert into notification_dead_letters (key, channel, hero_id, offer_id, incident_id, error)
    values (${msg.key}, ${msg.channel}, ${msg.heroId}, ${msg.offerId}, ${msg.incidentId}, ${error.slice(0, 1000)})
    on conflict do nothing returning key`;
  return fresh !== undefined;
}
