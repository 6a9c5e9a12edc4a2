from odoo import api, fields, models

CONTACT_KINDS = [
    ('dispatch', 'Events acknowledged by the bridge'),
    ('writeback', 'Write-back call from the bridge'),
]


class LogisticsBridgeContact(models.Model):
    """When Odoo last heard from the bridge: one row per kind of contact and 10-second slot.

    Rows are only ever inserted (never one row updated by every call): two write-back calls running
    at once would otherwise conflict on that row under REPEATABLE READ and fail the bridge's batch.
    Old rows are pruned by the dispatch cron; the overview reads the latest per kind.
    """

    _name = 'logistics.bridge.contact'
    _description = 'Logistics Bridge contact'
    _log_access = False
    _order = 'at desc, id desc'
    _rec_name = 'kind'

    kind = fields.Selection(CONTACT_KINDS, required=True, readonly=True)
    at = fields.Datetime(required=True, readonly=True)
    detail = fields.Char(readonly=True, help="What the contact was, e.g. the API method called.")

    _kind_at_index = models.Index('(kind, at DESC)')

    # Within this many seconds of the last recorded contact of the same kind, nothing is written.
    SLOT_SECONDS = 10
    KEEP_DAYS = 7

    @api.model
    def _record(self, kind, detail=None):
        """Record a contact now (in the caller's transaction; rolled back with it). Cheap: one insert at most."""
        self.env.cr.execute("""
            INSERT INTO logistics_bridge_contact (kind, at, detail)
            SELECT %(kind)s, now() AT TIME ZONE 'UTC', %(detail)s
             WHERE NOT EXISTS (SELECT 1 FROM logistics_bridge_contact
                                WHERE kind = %(kind)s AND at > (now() AT TIME ZONE 'UTC') - make_interval(secs => %(slot)s))
        """, {'kind': kind, 'detail': detail, 'slot': self.SLOT_SECONDS})

    @api.model
    def _last(self):
        """{kind: latest datetime or None} for every kind."""
        self.env.cr.execute("""
            SELECT k.kind, (SELECT MAX(at) FROM logistics_bridge_contact c WHERE c.kind = k.kind)
              FROM unnest(%s::varchar[]) AS k(kind)
        """, [[kind for kind, _label in CONTACT_KINDS]])
        return dict(self.env.cr.fetchall())

    @api.model
    def _prune(self):
        """Forget contacts older than KEEP_DAYS, keeping the latest of each kind."""
        self.env.cr.execute("""
            DELETE FROM logistics_bridge_contact c
             WHERE at < (now() AT TIME ZONE 'UTC') - make_interval(days => %s)
               AND at < (SELECT MAX(at) FROM logistics_bridge_contact l WHERE l.kind = c.kind)
        """, [self.KEEP_DAYS])
