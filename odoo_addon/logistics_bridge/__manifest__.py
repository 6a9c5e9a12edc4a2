{
    'name': 'Logistics Bridge',
    'version': '19.0.1.0.0',
    'category': 'Inventory/Delivery',
    'summary': 'Canonical logistics events out (transactional outbox), milestones back, through the Logistics Bridge sidecar',
    'description': """
Odoo stays the system of record for orders and invoicing and never learns a partner's API:
this module writes canonical events to a transactional outbox in the same transaction as the
business change, sends them after commit to the Logistics Bridge over a websocket, and accepts
canonical milestones (tracking, labels, delivery, exceptions, inventory levels) through a batch
write-back API. See README.md.
""",
    'author': 'Odoo Logistics Bridge',
    'license': 'LGPL-3',
    'depends': ['mail', 'stock', 'sale_stock', 'delivery', 'stock_delivery'],
    'external_dependencies': {'python': ['websocket-client']},
    'data': [
        'security/logistics_bridge_security.xml',
        'security/ir.model.access.csv',
        'data/ir_config_parameter_data.xml',
        'data/ir_cron_data.xml',
        'views/logistics_bridge_event_views.xml',
        'views/logistics_bridge_milestone_views.xml',
        'views/logistics_bridge_overview_views.xml',
        'views/stock_picking_views.xml',
        'views/sale_order_views.xml',
        'views/delivery_carrier_views.xml',
        'views/logistics_bridge_api_key_views.xml',
        'views/res_config_settings_views.xml',
        'views/logistics_bridge_menus.xml',
    ],
    'assets': {
        'web.assets_tests': [
            'logistics_bridge/static/tests/tours/*.js',
        ],
    },
    'demo': [
        'data/logistics_bridge_demo.xml',
    ],
    'installable': True,
    'application': False,
}
