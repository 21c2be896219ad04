/** The hub's database as services query it: the connection itself, or a transaction on it. */
import type { Kysely, Transaction } from 'kysely';
import type { HubSchema } from '../db/schema.ts';

export type Db = Kysely<HubSchema> | Transaction<HubSchema>;
