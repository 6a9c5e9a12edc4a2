#!/usr/bin/python3
"""Record request/response pairs of the write-back API from a real running Odoo 19 into
test/fixtures/odoo/*.json (one file per pair), for CI to replay without Odoo.

    ODOO_SRC=/work/odoo-19 LAB=/work/odoo-lab python3 scripts/odoo-record-fixtures.py

With node_modules present it also starts the real bridge (bridge/src/server.ts) and records the
websocket exchanges: every event type produced by Odoo's standard flows, sent with the
dispatcher's own wire code, and the bridge's answers (accepted, duplicate, rejected).

It (1) prepares data through `odoo-bin shell` on the lab database: an API key for the integration
user `logistics_bridge`, and a sale order with the demo bridge carrier, confirmed and delivered;
(2) calls the API over HTTP exactly as the bridge does, on both transports (JSON-2 and /jsonrpc
execute_kw); (3) writes each exchange as
{transport, description, request: {method, url, headers, body}, response: {status, body}}
with secrets replaced by placeholders; (4) revokes the API key it made.

env / options: ODOO_SRC, LAB (reads $LAB/odoo.conf), ODOO_URL (http://127.0.0.1:8069),
ODOO_DB (lab), OUT (test/fixtures/odoo), PY (/usr/bin/python3), ODOO_USER (odoo when run as root).
"""
import json
import os
import secrets
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URL = os.environ.get('ODOO_URL', 'http://127.0.0.1:8069').rstrip('/')
DB = os.environ.get('ODOO_DB', 'lab')
OUT = os.environ.get('OUT', os.path.join(ROOT, 'test', 'fixtures', 'odoo'))
KEY_NAME = 'fixture recorder (scripts/odoo-record-fixtures.py)'
KEY_PLACEHOLDER = '<api key of the integration user>'

SETUP = r'''
import json
# The lab's own cron worker must not pick up these events while we record (it would write the same
# outbox rows concurrently): batch mode for the duration, restored at the end.
icp = env['ir.config_parameter'].sudo()
saved_modes = {w: icp.get_param('logistics_bridge.workflow_' + w, 'realtime') for w in ('order', 'shipment', 'return')}
for w in saved_modes:
    icp.set_param('logistics_bridge.workflow_' + w, 'batch')
env.cr.commit()
user = env.ref('logistics_bridge.user_logistics_bridge')
key = env['res.users.apikeys'].with_user(user).sudo()._generate(None, %(key_name)r, None)
carrier = env.ref('logistics_bridge.delivery_carrier_bridge_ground')
partner = env.ref('base.res_partner_2')
warehouse = env['stock.warehouse'].search([('company_id', '=', env.company.id)], limit=1)
products = env['product.product'].search([('is_storable', '=', True), ('default_code', '!=', False)], limit=2)
for p in products:
    env['stock.quant']._update_available_quantity(p, warehouse.lot_stock_id, 10)
    if not p.weight:
        p.weight = 1.5
order = env['sale.order'].create({'partner_id': partner.id, 'warehouse_id': warehouse.id, 'carrier_id': carrier.id,
    'order_line': [(0, 0, {'product_id': p.id, 'product_uom_qty': 1}) for p in products]})
order.action_confirm()
picking = order.picking_ids.filtered(lambda p: p.picking_type_code == 'outgoing')[:1]
picking.carrier_id = carrier
for move in picking.move_ids:
    move.quantity = move.product_uom_qty
    move.picked = True
picking.button_validate()
events = env['logistics.bridge.event'].search([('picking_id', '=', picking.id)], order='sequence')
env.cr.commit()
exchanges = []
bridge_port = %(bridge_port)r
if bridge_port:
    # Every event type from the standard flows, sent with the dispatcher's own wire code
    # (Dispatcher._call) to the real bridge, each frame recorded as it crossed the socket.
    import copy
    from odoo.addons.logistics_bridge.services.dispatcher import Dispatcher, _default_connect
    from odoo.addons.logistics_bridge.services.settings import BridgeSettings
    Event = env['logistics.bridge.event']
    def new_order(qty):
        o = env['sale.order'].create({'partner_id': partner.id, 'warehouse_id': warehouse.id, 'carrier_id': carrier.id,
            'order_line': [(0, 0, {'product_id': p.id, 'product_uom_qty': qty}) for p in products]})
        o.action_confirm()
        pk = o.picking_ids.filtered(lambda p: p.picking_type_code == 'outgoing')[:1]
        pk.carrier_id = carrier
        return o, pk
    o2, p2 = new_order(3)
    for move in p2.move_ids:
        move.quantity = 1
        move.picked = True
    p2._action_done()                       # shipment.requested (partial) + order.released of the backorder
    p2.carrier_tracking_ref = 'TRK-FIXTURE'
    p2.cancel_shipment()                    # shipment.cancelled
    wizard = env['stock.return.picking'].with_context(active_ids=p2.ids, active_id=p2.id, active_model='stock.picking').create({'picking_id': p2.id})
    for line in wizard.product_return_moves:
        line.quantity = 1
    returned = env['stock.picking'].browse(wizard.action_create_returns()['res_id'])   # return.requested
    o3, p3 = new_order(1)
    o3._action_cancel()                     # order.cancelled
    picked = {}
    for e in Event.search([('picking_id', 'in', (picking | p2 | p2.backorder_ids | returned | p3).ids)], order='id'):
        kind = e.event_type + ('.backorder' if e.event_type == 'order.released' and e.payload['fulfilment'].get('backorder_of') else '')
        picked.setdefault(kind, e)
    env.cr.commit()
    frames = []
    def recording_connect(url, headers, timeout):
        ws = _default_connect(url, headers, timeout)
        send, recv = ws.send, ws.recv
        def rec_send(text):
            frames.append(('request', text))
            return send(text)
        def rec_recv():
            text = recv()
            frames.append(('response', text))
            return text
        ws.send, ws.recv = rec_send, rec_recv
        return ws
    settings = BridgeSettings(url='ws://127.0.0.1:%%s/v1/odoo' %% bridge_port, token=%(bridge_token)r, timeout=10)
    dispatcher = Dispatcher(env, settings, connect=recording_connect)
    def exchange(name, description, envelopes):
        del frames[:]
        dispatcher._call('events.publish', {'events': envelopes})
        exchanges.append({'name': name, 'description': description, 'request': frames[0][1], 'response': frames[-1][1]})
    for kind, e in sorted(picked.items()):
        exchange('ws-events-publish-' + kind.replace('.', '-'), 'A real %%s event produced by Odoo, accepted by the bridge.' %% kind, [e._to_envelope()])
    first = sorted(picked.values(), key=lambda e: e.id)[0]
    exchange('ws-events-publish-duplicate', 'The same event sent again (e.g. after a lost answer): a duplicate, done.', [first._to_envelope()])
    broken = copy.deepcopy(picked['order.released']._to_envelope())
    broken['id'] = '%(broken_id)s'
    broken['payload']['ship_to']['country'] = 'USA'
    exchange('ws-events-publish-rejected', 'An event with a payload the contract refuses (country "USA"): rejected with path and message.', [broken])
    dispatcher.close()
    answered = set()
    for x in exchanges:
        result = json.loads(x['response']).get('result') or {}
        answered |= set(result.get('accepted', [])) | set(result.get('duplicates', []))
    Event.search([('uuid', 'in', list(answered))]).write({'state': 'acknowledged', 'next_attempt_at': False})
    env.cr.commit()
for w, mode in saved_modes.items():
    icp.set_param('logistics_bridge.workflow_' + w, mode)
env.cr.commit()
print('FIXTURE_SETUP ' + json.dumps({'key': key, 'uid': user.id, 'login': user.login, 'picking_id': picking.id,
    'picking': picking.name, 'order': order.name, 'warehouse': warehouse.code,
    'sku': products[0].default_code, 'event_ids': events.mapped('uuid'), 'exchanges': exchanges,
    'state_event_ids': env['logistics.bridge.event'].search([('picking_id', '!=', False)], order='id desc', limit=2).mapped('uuid')[::-1]}))
'''

TEARDOWN = r'''
user = env.ref('logistics_bridge.user_logistics_bridge')
env['res.users.apikeys'].sudo().search([('user_id', '=', user.id), ('name', '=', %(key_name)r)]).unlink()
env.cr.commit()
print('FIXTURE_TEARDOWN ok')
'''


def odoo_shell(code):
    src = os.environ.get('ODOO_SRC')
    lab = os.environ.get('LAB')
    if not src or not lab:
        sys.exit('set ODOO_SRC and LAB (the lab made by ../shared/odoo/odoo-up.sh)')
    py = os.environ.get('PY', '/usr/bin/python3')
    if os.path.exists(os.path.join(src, 'odoo-bin')):
        cmd = [py, os.path.join(src, 'odoo-bin'), 'shell']
        env = None
    else:
        cmd = [py, '-m', 'odoo', 'shell']
        env = dict(os.environ, PYTHONPATH=src)
    cmd += ['-c', os.path.join(lab, 'odoo.conf'), '-d', DB, '--no-http', '--logfile', os.path.join(lab, 'log', 'shell.log')]
    if os.geteuid() == 0:
        cmd = ['runuser', '-u', os.environ.get('ODOO_USER', 'odoo'), '--'] + cmd
    for _attempt in range(3):
        proc = subprocess.run(cmd, input=code, capture_output=True, text=True, cwd=lab, env=env, timeout=600, check=False)
        for line in proc.stdout.splitlines():
            if line.startswith('FIXTURE_'):
                return line.split(' ', 1)[1]
        if 'SerializationFailure' not in proc.stderr:
            break
        print('  (serialization conflict with the running Odoo, trying again)')
    sys.exit(f'odoo shell failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}')


def post(path, body, headers):
    data = json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method='POST', headers=dict(headers, **{'Content-Type': 'application/json'}))
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    text = raw.decode('utf-8', 'replace')
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    return status, parsed


def scrub(value, secrets):
    """Replace secrets anywhere in a JSON value."""
    if isinstance(value, str):
        for secret, placeholder in secrets.items():
            value = value.replace(secret, placeholder)
        return value
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    return value


def scrub_response(body):
    """Drop the server-side stack trace of an error answer: it names local paths and changes with every Odoo build."""
    if isinstance(body, dict):
        body = dict(body)
        if 'debug' in body:
            body['debug'] = '<server traceback removed>'
        if isinstance(body.get('error'), dict) and isinstance(body['error'].get('data'), dict):
            body['error'] = dict(body['error'], data=dict(body['error']['data'], debug='<server traceback removed>'))
    return body


class Recorder:
    def __init__(self, key):
        self.key = key
        self.secrets = {key: KEY_PLACEHOLDER}
        self.written = []

    def json2(self, name, description, method, body, key=None):
        key = key or self.key
        headers = {'Authorization': f'bearer {key}', 'X-Odoo-Database': DB}
        path = f'/json/2/logistics.bridge.api/{method}'
        status, response = post(path, body, headers)
        self._write(name, 'json2', description, path, headers, body, status, response)
        return status, response

    def jsonrpc(self, name, description, service, method, args):
        body = {'jsonrpc': '2.0', 'method': 'call', 'id': len(self.written) + 1,
                'params': {'service': service, 'method': method, 'args': args}}
        status, response = post('/jsonrpc', body, {})
        self._write(name, 'jsonrpc', description, '/jsonrpc', {}, body, status, response)
        return status, response

    def _write(self, name, transport, description, path, headers, body, status, response):
        headers = dict(headers, **{'Content-Type': 'application/json'})
        if 'Authorization' in headers:
            headers['Authorization'] = 'bearer <api key>'
        fixture = {
            'transport': transport,
            'description': description,
            'recorded_from': 'Odoo 19.0 Community (real server), module logistics_bridge',
            'request': {'method': 'POST', 'url': path, 'headers': headers, 'body': scrub(body, self.secrets)},
            'response': {'status': status, 'body': scrub_response(scrub(response, self.secrets))},
        }
        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, name + '.json'), 'w', encoding='utf-8') as f:
            json.dump(fixture, f, indent=2, ensure_ascii=False)
            f.write('\n')
        self.written.append(name)
        print(f'  {name}.json  HTTP {status}')


def milestone(setup, mtype, payload, occurred_at, **extra):
    item = {'id': str(uuid.uuid4()), 'type': mtype, 'schema_version': 1, 'occurred_at': occurred_at,
            'source': {'partner': 'easypost-sim', 'partner_ref': 'shp_1'},
            'aggregate': f"stock.picking:{setup['picking_id']}", 'payload': payload}
    if setup['event_ids']:
        item['event_id'] = setup['event_ids'][-1]
    item.update(extra)
    return item


def start_bridge(token, admin):
    """The real bridge (bridge/src/server.ts) on a free port, for the websocket exchanges; None without node."""
    if os.environ.get('NO_BRIDGE') == '1' or not os.path.isdir(os.path.join(ROOT, 'node_modules', 'tsx')):
        print('  (no bridge: websocket exchanges not recorded; needs node_modules)')
        return None, None
    data_dir = tempfile.mkdtemp(prefix='lb-record-')
    proc = subprocess.Popen(['node', '--import', 'tsx', 'bridge/src/server.ts'], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, PORT='0', BRIDGE_ANNOUNCE_PORT='1', BRIDGE_DATA_DIR=data_dir,
                                                BRIDGE_TOKEN=token, BRIDGE_ADMIN_TOKEN=admin, LOG_LEVEL='warn'))
    for line in proc.stdout:
        if line.startswith('BRIDGE_PORT='):
            return proc, int(line.strip().split('=')[1])
    sys.exit('the bridge did not start')


def write_ws_fixture(exchange):
    request, response = json.loads(exchange['request']), json.loads(exchange['response'])
    fixture = {
        'transport': 'websocket',
        'description': exchange['description'],
        'recorded_from': 'Odoo 19.0 Community (real server, the dispatcher\'s wire code) -> the real bridge (bridge/src/server.ts)',
        'request': {'method': 'events.publish', 'url': 'ws://127.0.0.1:8787/v1/odoo',
                    'headers': {'Authorization': 'Bearer <bridge token>'}, 'body': request},
        'response': {'status': 101, 'body': response},
    }
    with open(os.path.join(OUT, exchange['name'] + '.json'), 'w', encoding='utf-8') as f:
        json.dump(fixture, f, indent=2, ensure_ascii=False)
        f.write('\n')
    result = response.get('result') or {}
    print(f"  {exchange['name']}.json  accepted={len(result.get('accepted', []))} duplicates={len(result.get('duplicates', []))} rejected={len(result.get('rejected', []))}")


def main():
    token, admin = secrets.token_hex(16), secrets.token_hex(16)
    bridge, port = start_bridge(token, admin)
    try:
        setup = json.loads(odoo_shell(SETUP % {'key_name': KEY_NAME, 'bridge_port': port, 'bridge_token': token,
                                               'broken_id': str(uuid.uuid4())}))
    finally:
        if bridge:
            bridge.terminate()
            bridge.wait(10)
    print(f"recording against {URL} db={DB}: picking {setup['picking']} (id {setup['picking_id']}), order {setup['order']}")
    os.makedirs(OUT, exist_ok=True)
    for exchange in setup.get('exchanges', []):
        write_ws_fixture(exchange)
    rec = Recorder(setup['key'])
    try:
        ref = setup['picking']
        label = milestone(setup, 'label.created', {
            'shipment_ref': ref, 'carrier': 'bridge_ground', 'service': 'GROUND', 'tracking_number': '9400100000000000000017',
            'tracking_url': 'https://track.example.com/9400100000000000000017',
            'label': {'format': 'PDF', 'url': 'https://labels.example.com/shp_1.pdf'}, 'cost': {'amount': 18.4, 'currency': 'USD'}},
            '2026-11-26T13:00:00Z')
        dispatched = milestone(setup, 'shipment.dispatched', {'shipment_ref': ref, 'tracking_number': '9400100000000000000017'}, '2026-11-26T14:00:00Z')
        delivered = milestone(setup, 'shipment.delivered', {'shipment_ref': ref, 'tracking_number': '9400100000000000000017',
                                                             'location': 'Pleasant Hill, CA', 'message': 'Left at front desk'}, '2026-11-26T17:00:00Z')
        late_in_transit = milestone(setup, 'shipment.in_transit', {'shipment_ref': ref, 'location': 'Oakland, CA'}, '2026-11-26T15:00:00Z')
        bad_ref = milestone(setup, 'shipment.exception', {'shipment_ref': 'WH/OUT/99999', 'reason_class': 'lost', 'reason': 'Parcel lost'},
                            '2026-11-26T18:00:00Z')
        invalid = milestone(setup, 'shipment.exception', {'shipment_ref': ref, 'reason_class': 'aliens', 'reason': 'x'}, '2026-11-26T18:00:00Z')
        pod = milestone(setup, 'shipment.proof_of_delivery', {'shipment_ref': ref, 'signer': 'J. Doe', 'signed_at': '2026-11-26T17:01:00Z',
                                                              'evidence_url': 'https://pod.example.com/shp_1.png'}, '2026-11-26T17:02:00Z')
        inventory = {'id': str(uuid.uuid4()), 'type': 'inventory.level', 'schema_version': 1, 'occurred_at': '2026-11-26T21:00:00Z',
                     'source': {'partner': 'wms-sim'}, 'aggregate': f"inventory:{setup['warehouse']}",
                     'payload': {'sku': setup['sku'], 'warehouse': setup['warehouse'],
                                 'on_hand': {'value': 40, 'uom': 'Units'}, 'available': {'value': 35, 'uom': 'Units'}}}

        rec.json2('json2-apply-milestones-applied', 'A batch of three milestones of one shipment, all applied (label, dispatched, delivered).',
                  'apply_milestones', {'milestones': [label, dispatched, delivered]})
        rec.json2('json2-apply-milestones-mixed', 'One batch answering each status: duplicate (same id again), stale (older than delivered), '
                  'rejected (shipment_ref of another picking; schema violation), applied (proof of delivery).',
                  'apply_milestones', {'milestones': [delivered, late_in_transit, bad_ref, invalid, pod]})
        rec.json2('json2-apply-inventory-levels', 'inventory.level through apply_inventory_levels (recorded; applying is a setting).',
                  'apply_inventory_levels', {'levels': [inventory]})
        rec.json2('json2-contract-info', 'What this Odoo understands.', 'contract_info', {})
        rec.json2('json2-get-event-states', 'States of the outbox events of the recorded picking.', 'get_event_states',
                  {'event_ids': setup['event_ids'] + [str(uuid.uuid4())]})
        rec.json2('json2-bad-api-key', 'A revoked or wrong API key: HTTP 401.', 'apply_milestones', {'milestones': [label]},
                  key='0000000000000000000000000000000000000000')
        first, second = setup['state_event_ids']
        dead = {'id': first, 'state': 'dead', 'attempts': 3, 'at': '2026-11-26T12:00:00.900Z',
                'last_error': 'easypost-sim: 422 address_invalid: street1 is missing', 'error_class': 'business'}
        rec.json2('json2-apply-event-states', 'Event delivery states pushed by the bridge, one result per item: applied (dead; blocked by it), '
                  'duplicate (the same state again), stale (an older state), unknown (an event id this Odoo never emitted), '
                  'rejected (a malformed item).', 'apply_event_states', {'states': [
                      dead,
                      {'id': second, 'state': 'blocked', 'attempts': 0, 'at': '2026-11-26T12:00:01.000Z', 'blocked_by': first,
                       'last_error': f'waiting: earlier event {first} is dead'},
                      dead,
                      {'id': first, 'state': 'retrying', 'attempts': 2, 'at': '2026-11-26T12:00:00.100Z', 'last_error': '503',
                       'error_class': 'technical'},
                      {'id': str(uuid.uuid4()), 'state': 'delivered', 'attempts': 1, 'at': '2026-11-26T12:00:02.000Z'},
                      {'id': first, 'state': 'flying', 'attempts': 1, 'at': '2026-11-26T12:00:03.000Z'},
                  ]})
        rec.json2('json2-unknown-method', 'A method this Odoo does not have (an older module without apply_event_states): HTTP 404.',
                  'apply_event_statez', {'states': []})

        status, uid_answer = rec.jsonrpc('jsonrpc-authenticate', 'common.authenticate with the integration user login and its API key: the uid.',
                                         'common', 'authenticate', [DB, setup['login'], setup['key'], {}])
        uid = uid_answer.get('result') if isinstance(uid_answer, dict) else setup['uid']
        exception = milestone(setup, 'shipment.exception', {'shipment_ref': ref, 'tracking_number': '9400100000000000000017',
                                                            'reason_class': 'address_invalid', 'reason': 'Street number does not exist'},
                              '2026-11-26T18:00:00Z')
        rec.jsonrpc('jsonrpc-execute-kw-apply-milestones', 'object.execute_kw apply_milestones: one applied, one duplicate.',
                    'object', 'execute_kw', [DB, uid, setup['key'], 'logistics.bridge.api', 'apply_milestones', [[exception, label]]])
        rec.jsonrpc('jsonrpc-execute-kw-apply-event-states', 'object.execute_kw apply_event_states: delivered after the dead letter was replayed.',
                    'object', 'execute_kw', [DB, uid, setup['key'], 'logistics.bridge.api', 'apply_event_states', [[
                        {'id': first, 'state': 'delivered', 'attempts': 4, 'at': '2026-11-26T12:30:00.000Z'}]]])
        rec.jsonrpc('jsonrpc-execute-kw-unknown-method', 'execute_kw of a method this Odoo does not have: AttributeError.',
                    'object', 'execute_kw', [DB, uid, setup['key'], 'logistics.bridge.api', 'apply_event_statez', [[]]])
        rec.jsonrpc('jsonrpc-execute-kw-bad-key', 'execute_kw with a wrong API key: AccessDenied in the JSON-RPC error.',
                    'object', 'execute_kw', [DB, uid, 'wrong-key', 'logistics.bridge.api', 'apply_milestones', [[label]]])
        rec.jsonrpc('jsonrpc-execute-kw-access-error', 'The integration user tries what it has no right to (write a sale order): AccessError.',
                    'object', 'execute_kw', [DB, uid, setup['key'], 'sale.order', 'write', [[1], {'note': 'not allowed'}]])
    finally:
        odoo_shell(TEARDOWN % {'key_name': KEY_NAME})
    print(f"wrote {len(rec.written) + len(setup.get('exchanges', []))} fixtures to {os.path.relpath(OUT, ROOT)}")


if __name__ == '__main__':
    main()
