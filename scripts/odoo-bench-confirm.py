"""Added time per sale order confirmation with the logistics_bridge hook on vs off.

Run inside `odoo shell` against the lab database (the module installed, demo data):

    runuser -u odoo -- /usr/bin/python3 /work/odoo-19/odoo-bin shell -c /work/odoo-lab/odoo.conf -d lab \
        --no-http < scripts/odoo-bench-confirm.py

With a live bridge (what users live with): scripts/odoo-bench-live.sh starts the partner simulators and a
bridge delivering to them and writing back into this same Odoo, then runs this script with
BENCH_BRIDGE_URL / BENCH_BRIDGE_TOKEN, which it sets for the run (and restores after).

Each measured step is what the user waits for: `action_confirm()` + commit (the commit runs the
post-commit cron notification), with the ORM's record cache emptied before it (a new request) and the
registry's caches warm (after each mode switch one unmeasured confirmation refills what set_param
cleared). Modes alternate order by order (warm-up first) so drift hits both:
  off      - workflow "order release" off: the hook reads the setting and returns
  realtime - outbox row + NOTIFY queued in the transaction: the server's dispatcher thread (services/listener.py)
             LISTENs, sends and marks the rows on its own cursor
  realtime-cron - the previous path, for comparison (logistics_bridge.wakeup = cron): outbox row + cron
             trigger row in the transaction, cron workers notified after commit, a cron run per wake-up
  batch    - outbox row only (the 5-minute run sends it)
  webhook  - for comparison, no outbox but Odoo 19's own "Send Webhook Notification" server action
             run on the confirmation (what an automation rule would do), posting after commit to a
             local partner that answers in BENCH_WEBHOOK_DELAY seconds (default 0.3; Odoo caps the
             wait at 1 s and drops the call if the partner is down)
Nothing is sent from the confirmation itself. N (default 40) orders per mode.
Then (BENCH_WAKE=1, default) the wake-up latency: real-time confirmations committed, and the time
until the lab server's dispatcher has handled their events (needs the lab server running). With a live
bridge, commit -> partner: from each measured real-time commit to the moment the bridge recorded the
partner's acceptance ("delivered", its clock, shown in Odoo as bridge_state_at once written back).
"""
import os
import statistics
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.addons.logistics_bridge.models import stock_picking as bridge_picking
from odoo.addons.logistics_bridge.services import listener as bridge_listener
from odoo.addons.logistics_bridge.services import wakeup as bridge_wakeup

N = int(os.environ.get('BENCH_N', '40'))
# Pause between measured confirmations (all modes alike): lets the cron worker woken by the previous
# real-time confirmation finish its (after-commit) run instead of competing for the CPU with the
# next measurement. BENCH_PAUSE=0 measures back-to-back confirmations.
PAUSE = float(os.environ.get('BENCH_PAUSE', '0.3'))
WARMUP = 3
icp = env['ir.config_parameter'].sudo()
previous = icp.get_param('logistics_bridge.workflow_order', 'realtime')
previous_wakeup = icp.get_param('logistics_bridge.wakeup', 'listener')
BRIDGE_URL = os.environ.get('BENCH_BRIDGE_URL')
previous_bridge = (icp.get_param('logistics_bridge.url'), icp.get_param('logistics_bridge.token'))
if BRIDGE_URL:
    icp.set_param('logistics_bridge.url', BRIDGE_URL)
    icp.set_param('logistics_bridge.token', os.environ.get('BENCH_BRIDGE_TOKEN', ''))
    env.cr.commit()
    # A shell does not signal cache changes by itself (a request or a cron run would): the server's
    # dispatcher must read the new URL.
    env.registry.signal_changes()
    env.registry.reset_changes()
partner = env.ref('base.res_partner_2')
warehouse = env['stock.warehouse'].search([('company_id', '=', env.company.id)], limit=1)
# the SKUs the warehouse simulator knows (bridge/src/simulators/wms/app.ts), so the live bridge delivers
products = env['product.product'].search([('default_code', 'in', ['FURN_7800', 'FURN_0269'])], limit=2)
if len(products) < 2:
    products = env['product.product'].search([('is_storable', '=', True), ('default_code', '!=', False)], limit=2)
for p in products:
    env['stock.quant']._update_available_quantity(p, warehouse.lot_stock_id, 1000)
    p.weight = p.weight or 1.0
carrier = env.ref('logistics_bridge.delivery_carrier_bridge_ground')
modes = ['off', 'realtime', 'realtime-cron', 'batch', 'webhook']
commits = {}  # order id -> wall-clock time of its measured real-time commit
DELAY = float(os.environ.get('BENCH_WEBHOOK_DELAY', '0.3'))


class SlowPartner(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length') or 0))
        time.sleep(DELAY)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


partner_server = ThreadingHTTPServer(('127.0.0.1', 0), SlowPartner)
threading.Thread(target=partner_server.serve_forever, daemon=True).start()
webhook = env['ir.actions.server'].create({
    'name': 'bench: order confirmed webhook', 'model_id': env['ir.model']._get_id('sale.order'), 'state': 'webhook',
    'webhook_url': f'http://127.0.0.1:{partner_server.server_address[1]}/hook'})
env.cr.commit()
timings = {m: [] for m in modes}
# The module's own time inside each measured confirmation, timed directly (immune to the machine's
# noise that the with/without difference carries): the release hook (settings, outbox row with its
# payload) and, at commit, the pre-commit trigger row of real-time workflows.
own = {m: [] for m in modes}
own_now = [0.0]


def timed(function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            own_now[0] += (time.perf_counter() - start) * 1000.0
    return wrapper


bridge_picking.StockPicking._logistics_bridge_release = timed(bridge_picking.StockPicking._logistics_bridge_release)
bridge_wakeup._write_trigger = timed(bridge_wakeup._write_trigger)
bridge_listener._notify = timed(bridge_listener._notify)  # the listener path's pre-commit NOTIFY
parts = {m: ([], []) for m in modes}  # (action_confirm only, commit only)


def make_order():
    time.sleep(PAUSE)
    order = env['sale.order'].create({
        'partner_id': partner.id, 'warehouse_id': warehouse.id, 'carrier_id': carrier.id,
        'order_line': [(0, 0, {'product_id': p.id, 'product_uom_qty': 1}) for p in products]})
    env.cr.commit()
    return order


def switch_mode(mode):
    """Set the workflow's mode, then confirm one unmeasured order: set_param clears the registry's
    'stable' cache (Odoo's and the module's settings), which a user's confirmation would find warm."""
    icp.set_param('logistics_bridge.workflow_order', {'webhook': 'off', 'realtime-cron': 'realtime'}.get(mode, mode))
    icp.set_param('logistics_bridge.wakeup', 'cron' if mode == 'realtime-cron' else 'listener')
    env.cr.commit()
    if mode != 'webhook':
        warm = make_order()
        warm.action_confirm()
        env.cr.commit()
        time.sleep(PAUSE)  # the dispatcher run this may have woken ends before the measured confirmation


def confirm(order, mode):
    env.invalidate_all()
    own_now[0] = 0.0
    start = time.perf_counter()
    order.action_confirm()
    if mode == 'webhook':
        webhook.with_context(active_model='sale.order', active_id=order.id, active_ids=order.ids).run()
    middle = time.perf_counter()
    env.cr.commit()
    end = time.perf_counter()
    if mode.startswith('realtime'):
        commits[order.id] = (mode, time.time())
    parts[mode][0].append((middle - start) * 1000.0)
    parts[mode][1].append((end - middle) * 1000.0)
    own[mode].append(own_now[0])
    return (end - start) * 1000.0


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


try:
    for i in range(WARMUP):
        for mode in modes:
            switch_mode(mode)
            confirm(make_order(), mode)
    for m in modes:
        parts[m][0].clear()
        parts[m][1].clear()
        own[m].clear()
    for i in range(N):
        for mode in (modes if i % 2 == 0 else list(reversed(modes))):
            order = make_order()
            switch_mode(mode)
            timings[mode].append(confirm(order, mode))
finally:
    icp.set_param('logistics_bridge.workflow_order', previous)
    icp.set_param('logistics_bridge.wakeup', previous_wakeup)
    webhook.unlink()
    env.cr.commit()
    partner_server.shutdown()



def wake_up_latency(samples=5):
    """Real time only: from COMMIT to the lab server's dispatcher cron having handled the event (sent
    it, or recorded why not when no bridge listens): the wake-up works and is prompt (the cron
    threads' own poll is 60 s). Needs the lab Odoo server running (its cron threads)."""
    icp.set_param('logistics_bridge.workflow_order', 'realtime')
    env.cr.commit()
    out = []
    for _i in range(samples):
        order = make_order()
        order.action_confirm()
        uuids = env['logistics.bridge.event'].search([('sale_id', '=', order.id)]).mapped('uuid')
        env.cr.commit()
        start = time.perf_counter()
        while time.perf_counter() - start < 90:
            env.cr.execute("SELECT COUNT(*) FROM logistics_bridge_event WHERE uuid = ANY(%s) AND (attempts > 0 OR state != 'pending')", [uuids])
            handled = env.cr.fetchone()[0]
            env.cr.commit()
            if handled == len(uuids):
                out.append((time.perf_counter() - start) * 1000.0)
                break
            time.sleep(0.01)
    return out


latencies = wake_up_latency() if os.environ.get('BENCH_WAKE', '1') == '1' else []
icp.set_param('logistics_bridge.workflow_order', previous)
env.cr.commit()


def commit_to_partner(wait=60):
    """Per real-time mode: commit -> the bridge's 'delivered' time of the order's event, once written back."""
    out = {}
    deadline = time.time() + wait
    while True:
        env.invalidate_all()
        rows = env['logistics.bridge.event'].search_read(
            [('sale_id', 'in', list(commits)), ('event_type', '=', 'order.released')], ['sale_id', 'bridge_state', 'bridge_state_at'])
        env.cr.commit()
        landed = {r['sale_id'][0]: r for r in rows if r['bridge_state'] in ('delivered', 'done') or r['bridge_state_at'] and r['bridge_state'] not in ('queued', 'delivering', 'retrying')}
        if len(landed) >= len(commits) or time.time() > deadline:
            break
        time.sleep(1)
    for order_id, (mode, at) in commits.items():
        r = landed.get(order_id)
        if r and r['bridge_state'] == 'delivered' and r['bridge_state_at']:
            out.setdefault(mode, []).append((r['bridge_state_at'].replace(tzinfo=timezone.utc).timestamp() - at) * 1000.0)
    return out, len(commits) - len(landed)


partner_latency, missing = commit_to_partner() if BRIDGE_URL else ({}, 0)
if BRIDGE_URL:
    icp.set_param('logistics_bridge.url', previous_bridge[0] or '')
    icp.set_param('logistics_bridge.token', previous_bridge[1] or '')
    env.cr.commit()
    env.registry.signal_changes()
    env.registry.reset_changes()

base_median = statistics.median(timings['off'])
base_p95 = p95(timings['off'])
print(f"\nsale order confirmation (action_confirm + commit), {N} orders per mode, 2 lines, bridge carrier, db {env.cr.dbname}, pause {PAUSE}s, webhook partner {DELAY}s")
print(f"{'mode':<14}{'median ms':>12}{'p95 ms':>10}{'added median':>15}{'added p95':>12}{'confirm med':>14}{'commit med':>13}"
      f"{'module own med':>17}{'own p95':>10}")
for mode in modes:
    med, top = statistics.median(timings[mode]), p95(timings[mode])
    print(f"{mode:<14}{med:>12.1f}{top:>10.1f}{med - base_median:>+15.1f}{top - base_p95:>+12.1f}"
          f"{statistics.median(parts[mode][0]):>14.1f}{statistics.median(parts[mode][1]):>13.1f}"
          f"{statistics.median(own[mode]):>17.2f}{p95(own[mode]):>10.2f}")


def median_diff_ci(a, b, rounds=2000, seed=19):
    """95% bootstrap interval of median(a) - median(b): how much of an 'added' figure is the machine's noise."""
    import random  # noqa: PLC0415
    rng = random.Random(seed)
    diffs = sorted(statistics.median(rng.choices(a, k=len(a))) - statistics.median(rng.choices(b, k=len(b))) for _ in range(rounds))
    return diffs[int(0.025 * rounds)], diffs[int(0.975 * rounds)]


for mode in modes[1:]:
    low, high = median_diff_ci(timings[mode], timings['off'])
    print(f"{mode}: added median {statistics.median(timings[mode]) - base_median:+.1f} ms, 95% bootstrap interval [{low:+.1f}, {high:+.1f}] ms")
print("module own: time inside the module's release hook and its pre-commit trigger row or NOTIFY, timed directly; "
      "the 'added' columns also carry the machine's noise")
if latencies:
    print(f"real time: commit -> event handled by the server's dispatcher cron: median {statistics.median(latencies):.0f} ms, "
          f"max {max(latencies):.0f} ms over {len(latencies)} orders (the cron threads' own poll is 60 s)")
for mode, values in partner_latency.items():
    print(f"{mode}: commit -> partner accepted (the bridge's delivered time, written back): median {statistics.median(values):.0f} ms, "
          f"p95 {p95(values):.0f} ms, max {max(values):.0f} ms over {len(values)} orders")
if BRIDGE_URL:
    print(f"real-time orders whose delivered state had not landed in Odoo 60 s after the run: {missing}")
events = env['logistics.bridge.event'].search_count([('state', '=', 'pending')])
print(f"(pending events now in the outbox: {events}; the bridge's state never enters these figures)")
