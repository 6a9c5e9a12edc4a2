"""The labels of a picking's parcels: which tracking number is current for each parcel.

Plain functions on a plain dict (the picking stores it in ``bridge_parcel_labels``), no records:

    {"1": {"tracking_number": "TRK1", "tracking_url": "https://...", "occurred_at": "2026-11-26T12:00:00Z",
           "count": 3, "attachment_id": 42}, "2": {...}, ...}

Rules, whatever order the ``label.created`` milestones arrive in:
- parcel n of count: one entry per parcel; ``carrier_tracking_ref`` is every entry's number,
  comma-joined in parcel order (Odoo's own convention for a picking of several packages);
- the same number again for a parcel changes nothing (a re-delivered label);
- a newer label for a parcel replaces its number (a label bought again, e.g. by a fallback carrier);
  an older one is outdated and changes nothing;
- a newer label with another parcel count starts a new set: the parcels of the old count go;
- a label without ``parcel`` is parcel 1 of 1 (a single-parcel shipment, as before);
- cancelling the shipment in Odoo voids them all (the picking clears the dict).
"""
import json

from . import contract

SEPARATOR = ','


def parcel_of(payload):
    """(index, count) of a label.created payload; (1, 1) for a single-parcel shipment."""
    parcel = payload.get('parcel') or {}
    return parcel.get('index', 1), parcel.get('count', 1)


def entry_of(payload, occurred_at):
    """The stored entry of one label (``attachment_id`` is added once the label is attached)."""
    _index, count = parcel_of(payload)
    return {'tracking_number': payload['tracking_number'], 'tracking_url': payload.get('tracking_url') or False,
            'occurred_at': contract.format_timestamp(occurred_at), 'count': count, 'attachment_id': False}


def merge(labels, payload, occurred_at):
    """Apply one label to ``labels`` (not modified).

    :returns: (new labels, verdict, replaced entries) with verdict one of
        ``'added'`` (a parcel without a label got one), ``'replaced'`` (its number changed, or a new
        set replaced the old), ``'same'`` (this number is already the parcel's) and ``'outdated'``
        (older than what is recorded: nothing changes).
    """
    labels = dict(labels or {})
    index, count = parcel_of(payload)
    key = str(index)
    entry = entry_of(payload, occurred_at)
    current = labels.get(key)
    if current and current['tracking_number'] == entry['tracking_number'] and current['count'] == count:
        return labels, 'same', []
    if labels and any(e['count'] != count for e in labels.values()):
        # Another parcel count: a new set when newer than everything recorded, else an old one.
        if entry['occurred_at'] < max(e['occurred_at'] for e in labels.values()):
            return labels, 'outdated', []
        gone = [e for k, e in labels.items() if e['count'] != count or k == key]
        kept = {k: e for k, e in labels.items() if e['count'] == count and k != key}
        return dict(kept, **{key: entry}), 'replaced', gone
    if current and entry['occurred_at'] < current['occurred_at']:
        return labels, 'outdated', []
    labels[key] = entry
    return labels, ('replaced' if current else 'added'), ([current] if current else [])


def ordered(labels):
    """The entries in parcel order."""
    return [labels[k] for k in sorted(labels or {}, key=int)]


def tracking_ref(labels):
    """``carrier_tracking_ref``: every parcel's number, comma-joined in parcel order."""
    return SEPARATOR.join(e['tracking_number'] for e in ordered(labels)) or False


def tracking_url(labels):
    """``bridge_tracking_url``: the first parcel's page (a multi-piece shipment's master tracking)."""
    first = ordered(labels)[:1]
    return first[0]['tracking_url'] if first else False


def tracking_link(labels, template=None):
    """What the carrier's ``get_tracking_link`` answers: one URL for one parcel; for several, Odoo's
    JSON list of ``[number, url]`` pairs (``stock.picking.get_multiple_carrier_tracking``), each URL
    the partner's, else the carrier's template (``<shipmenttrackingnumber>`` replaced)."""
    links = []
    for e in ordered(labels):
        url = e['tracking_url'] or (template.replace('<shipmenttrackingnumber>', e['tracking_number']) if template else False)
        if url:
            links.append([e['tracking_number'], url])
    if not links:
        return False
    return links[0][1] if len(labels) == 1 else json.dumps(links)


def attachment_name(prefix, payload):
    """File name of a label: ``<prefix>-<number>.<fmt>``, with ``(n of count)`` for several parcels."""
    index, count = parcel_of(payload)
    suffix = f" ({index} of {count})" if count > 1 else ''
    return f"{prefix}-{payload['tracking_number']}{suffix}.{payload['label']['format'].lower()}"


def attachment_description(payload):
    index, count = parcel_of(payload)
    suffix = f", parcel {index} of {count}" if count > 1 else ''
    return f"Label {payload['carrier']} {payload['tracking_number']}{suffix}"
