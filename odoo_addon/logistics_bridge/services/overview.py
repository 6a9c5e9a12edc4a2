"""The figures of the Logistics Bridge overview screen, computed on the server from the outbox.

Everything is read with the caller's rights (a manager sees the events of their companies).
Ages are measured from when the outbox row was written (``create_date``).
"""
from dataclasses import dataclass, field
from datetime import timedelta

from .event_states import ATTENTION_STATES

# (key, label, from minutes, to minutes): age of an outbox row.
AGE_BUCKETS = [
    ('lt5', '< 5 min', 0, 5),
    ('m5_60', '5-60 min', 5, 60),
    ('h1_24', '1-24 h', 60, 24 * 60),
    ('gt24', '> 24 h', 24 * 60, None),
]
UNSENT_STATES = ('pending', 'sent')


@dataclass
class Overview:
    now: object
    # {outbox state: {bucket key: count}}, every state and bucket present (0 when none)
    by_state: dict
    oldest_unsent: object            # logistics.bridge.event or an empty recordset
    oldest_unsent_age: timedelta | None
    last_dispatch: object            # datetime or None: the bridge last acknowledged events
    last_writeback: object           # datetime or None: the bridge last called the write-back API
    bridge_counts: dict              # {'dead': n, 'manual': n, 'blocked': n}
    total: int
    warnings: list = field(default_factory=list)

    @property
    def last_contact(self):
        return max(filter(None, (self.last_dispatch, self.last_writeback)), default=None)


def human_age(delta):
    """'3 d 4 h', '2 h 05 min', '7 min', '< 1 min'."""
    if delta is None:
        return ''
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return '< 1 min'
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f'{days} d {hours} h'
    if hours:
        return f'{hours} h {minutes:02d} min'
    return f'{minutes} min'


def compute(env, settings, now):
    """The overview as the current user sees it at ``now`` (naive UTC)."""
    Event = env['logistics.bridge.event']
    states = [key for key, _label in Event._fields['state'].selection]
    by_state = {state: dict.fromkeys((b[0] for b in AGE_BUCKETS), 0) for state in states}
    for key, _label, low, high in AGE_BUCKETS:
        domain = [('create_date', '<=', now - timedelta(minutes=low))] if low else []
        if high is not None:
            domain.append(('create_date', '>', now - timedelta(minutes=high)))
        for state, count in Event._read_group(domain, ['state'], ['__count']):
            by_state[state][key] = count
    total = sum(sum(row.values()) for row in by_state.values())
    oldest = Event.search([('state', 'in', UNSENT_STATES)], order='create_date asc, id asc', limit=1)
    oldest_age = (now - oldest.create_date) if oldest else None
    bridge_counts = dict.fromkeys(ATTENTION_STATES, 0)
    for state, count in Event._read_group([('bridge_state', 'in', ATTENTION_STATES)], ['bridge_state'], ['__count']):
        bridge_counts[state] = count
    last = env['logistics.bridge.contact'].sudo()._last()
    overview = Overview(now=now, by_state=by_state, oldest_unsent=oldest, oldest_unsent_age=oldest_age,
                        last_dispatch=last.get('dispatch'), last_writeback=last.get('writeback'),
                        bridge_counts=bridge_counts, total=total)
    overview.warnings = warnings(overview, settings)
    return overview


def warnings(overview, settings):
    """What a manager must look at now, in plain sentences."""
    out = []
    pending_limit = timedelta(minutes=settings.alert_pending_minutes)
    if overview.oldest_unsent_age is not None and overview.oldest_unsent_age > pending_limit:
        event = overview.oldest_unsent
        out.append(f"The oldest event waiting to be sent ({event.display_label}) has waited "
                   f"{human_age(overview.oldest_unsent_age)} (alert after {settings.alert_pending_minutes} min)"
                   + (f"; last error: {event.last_error}" if event.last_error else '') + '.')
    contact_limit = timedelta(minutes=settings.alert_contact_minutes)
    last_contact = overview.last_contact
    if overview.total and (last_contact is None or overview.now - last_contact > contact_limit):
        since = f"for {human_age(overview.now - last_contact)}" if last_contact else "yet"
        out.append(f"No contact with the bridge {since} (no acknowledged events, no write-back call; "
                   f"alert after {settings.alert_contact_minutes} min).")
    return out
