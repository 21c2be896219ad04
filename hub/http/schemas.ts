/**
 * JSON schemas of what callers send: bodies, query strings and path parameters. Fastify validates them
 * before a handler runs (ajv, without type coercion and without removing unknown keys, so a misspelt or
 * mistyped field is a 400 naming it). Query values arrive as text: numbers are matched by pattern and
 * converted in the handlers. The services check meaning (lengths, durations, states) again.
 */

const id = { type: 'string', minLength: 1, maxLength: 200 } as const;
const text = (maxLength: number) => ({ type: 'string', maxLength }) as const;
const optionalText = (maxLength: number) => ({ type: ['string', 'null'], maxLength }) as const;
export const WHOLE_NUMBER = '^[0-9]{1,15}$';
export const HEX_HASH = '^[0-9a-f]{64}$';
/** A whole number in a query string. */
const digits = { type: 'string', pattern: WHOLE_NUMBER } as const;
const hash = { type: 'string', pattern: HEX_HASH } as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id },
  additionalProperties: false,
} as const;

export const noQuery = { type: 'object', properties: {}, additionalProperties: false } as const;

export const openSessionBody = {
  type: 'object',
  required: ['targetId'],
  properties: { targetId: id },
  additionalProperties: false,
} as const;

export const closeSessionBody = {
  type: 'object',
  properties: { reason: text(500) },
  additionalProperties: false,
} as const;

/** One body for every method; what each method needs besides is required by the if/then below. */
export const proofBody = {
  type: 'object',
  required: ['method', 'connection'],
  properties: {
    method: { type: 'string', enum: ['postgres-scram-sha-256', 'postgres-md5', 'ssh-signature'] },
    connection: { type: 'integer', minimum: 0, maximum: 2_147_483_647 },
    purpose: { type: 'string', enum: ['client', 'catalog', 'bastion'] },
    clientFirst: { type: 'string', minLength: 1, maxLength: 1024 },
    serverFirst: { type: 'string', minLength: 1, maxLength: 1024 },
    channelBinding: { type: ['string', 'null'], maxLength: 256 },
    salt: { type: 'string', minLength: 1, maxLength: 16 },
    data: { type: 'string', minLength: 1, maxLength: 8192 },
    hash: { type: 'string', enum: ['sha256', 'sha512'] },
    targetId: { type: 'string', minLength: 1, maxLength: 63 },
  },
  allOf: [
    {
      if: { properties: { method: { const: 'postgres-scram-sha-256' } } },
      then: { required: ['clientFirst', 'serverFirst'] },
    },
    { if: { properties: { method: { const: 'postgres-md5' } } }, then: { required: ['salt'] } },
    { if: { properties: { method: { const: 'ssh-signature' } } }, then: { required: ['data'] } },
  ],
  additionalProperties: false,
} as const;

export const relayConnectionBody = {
  type: 'object',
  required: ['sessionId', 'accessToken'],
  properties: {
    sessionId: id,
    accessToken: { type: 'string', minLength: 1, maxLength: 16_384 },
    client: {
      type: 'object',
      required: ['address', 'port'],
      properties: { address: text(100), port: { type: 'integer', minimum: 0, maximum: 65_535 } },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;

export const sessionSearchQuery = {
  type: 'object',
  properties: {
    subject: text(500),
    targetId: text(200),
    from: text(64),
    to: text(64),
    decision: { type: 'string', enum: ['denied', 'held'] },
    chainStatus: { type: 'string', enum: ['ok', 'broken', 'incomplete'] },
    limit: digits,
    before: text(200),
  },
  additionalProperties: false,
} as const;

export const sessionEventsQuery = {
  type: 'object',
  properties: { afterSeq: digits, limit: digits },
  additionalProperties: false,
} as const;

export const recordingBatchBody = {
  type: 'object',
  required: ['events'],
  properties: {
    events: {
      type: 'array',
      maxItems: 5000,
      items: {
        type: 'object',
        required: ['seq', 'at', 'type', 'payload', 'prevHash', 'hash'],
        properties: {
          seq: { type: 'integer', minimum: 1 },
          at: { type: 'string', minLength: 1, maxLength: 64 },
          type: { type: 'string', minLength: 1, maxLength: 64 },
          payload: {},
          prevHash: hash,
          hash,
        },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
} as const;

export const exportQuery = {
  type: 'object',
  required: ['since'],
  properties: { since: text(64) },
  additionalProperties: false,
} as const;

export const accessRequestBody = {
  type: 'object',
  required: ['targetId', 'reason'],
  properties: {
    targetId: id,
    reason: text(2000),
    durationSeconds: { type: 'integer', minimum: 1 },
    duration: text(32),
  },
  additionalProperties: false,
} as const;

export const accessRequestListQuery = {
  type: 'object',
  properties: { scope: { type: 'string', enum: ['mine', 'pending'] }, limit: digits },
  additionalProperties: false,
} as const;

export const decisionBody = {
  type: 'object',
  required: ['approve'],
  properties: {
    approve: { type: 'boolean' },
    comment: optionalText(2000),
    via: { anyOf: [{ type: 'string', enum: ['app', 'notification', 'cli'] }, { type: 'null' }] },
  },
  additionalProperties: false,
} as const;

export const revokeBody = {
  type: 'object',
  properties: { comment: optionalText(2000) },
  additionalProperties: false,
} as const;

export const holdBody = {
  type: 'object',
  required: ['sessionId', 'connection', 'sql', 'classes', 'rule'],
  properties: {
    sessionId: id,
    connection: { type: 'integer', minimum: 1 },
    sql: { type: 'string', minLength: 1, maxLength: 100_000 },
    classes: { type: 'array', maxItems: 64, items: text(64) },
    rule: text(500),
    timeoutSeconds: { type: 'integer', minimum: 1 },
    context: {
      type: 'object',
      required: ['tables', 'writes', 'estimatedRows'],
      properties: {
        tables: { type: 'array', maxItems: 64, items: text(200) },
        writes: { type: 'array', maxItems: 64, items: text(200) },
        estimatedRows: { anyOf: [{ type: 'number', minimum: 0 }, { type: 'null' }] },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;

export const approvalListQuery = {
  type: 'object',
  properties: { scope: { type: 'string', enum: ['pending', 'mine'] }, limit: digits },
  additionalProperties: false,
} as const;

export const withdrawBody = {
  type: 'object',
  properties: { reason: optionalText(2000) },
  additionalProperties: false,
} as const;

export const waitQuery = {
  type: 'object',
  properties: { timeout: digits },
  additionalProperties: false,
} as const;

export const eventsQuery = {
  type: 'object',
  properties: { after: digits },
  additionalProperties: false,
} as const;
