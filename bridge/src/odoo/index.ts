/** Write-back to Odoo: the client (two transports) and the durable milestone outbox. */
export * from './client.ts';
export * from './outbox.ts';
export * from './refusal.ts';
