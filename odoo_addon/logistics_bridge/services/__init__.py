"""Plain-Python logic of the module: no model definitions here.

- contract:   event/milestone type lists and JSON Schema validation against data/contract/
- payloads:   canonical event payloads built from Odoo records
- backoff:    capped exponential backoff
- dispatcher: sends pending outbox rows to the bridge over a websocket (JSON-RPC events.publish)
- milestones: applies canonical milestones to pickings (the write-back API's logic)
- parcel_labels: the current label of each parcel of a picking (tracking numbers, links)
- event_states: shows the bridge's delivery state of events, with to-dos for people
- locks:      row locks that serialize concurrent write-back calls for one picking
"""
