"""Command handlers: the one write path. Each runs inside a unit of work opened by the bus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.domain import commands as c
from engine.services.handlers import catalog_xref, exceptions, intake, inventory, master_data, orders, routing, tracking
from engine.services.unit_of_work import AbstractUnitOfWork

Handler = Callable[[Any, AbstractUnitOfWork], Any]

COMMAND_HANDLERS: dict[type[c.Command], Handler] = {
    c.UpsertSku: master_data.upsert_sku,
    c.UpsertNode: master_data.upsert_node,
    c.UpsertChannel: master_data.upsert_channel,
    c.UpsertPriceList: master_data.upsert_price_list,
    c.UpsertAccount: master_data.upsert_account,
    c.UpsertCustomer: master_data.upsert_customer,
    c.UpsertCarrier: master_data.upsert_carrier,
    c.UpsertLanes: master_data.upsert_lanes,
    c.ReceiveStock: inventory.receive_stock,
    c.AdjustStock: inventory.adjust_stock,
    c.RecordCycleCount: inventory.record_cycle_count,
    c.TransferStock: inventory.transfer_stock,
    c.RecordReturnReceipt: inventory.record_return_receipt,
    c.RecordPick: inventory.record_pick,
    c.SetStockPolicy: inventory.set_stock_policy,
    c.SetChannelCap: inventory.set_channel_cap,
    c.PlaceCheckoutHold: inventory.place_checkout_hold,
    c.ReleaseCheckoutHold: inventory.release_checkout_hold,
    c.ExpireCheckoutHolds: inventory.expire_checkout_holds,
    c.ReconcileInventory: inventory.reconcile_inventory,
    c.PlaceOrder: orders.place_order,
    c.AllocateOrder: orders.allocate_order,
    c.DeallocateOrder: orders.deallocate_order,
    c.ReleaseOrderToFulfillment: orders.release_to_fulfillment,
    c.RecordShipment: orders.record_shipment,
    c.MarkDelivered: orders.mark_delivered,
    c.RecordTracking: tracking.record_tracking,
    c.CancelOrder: orders.cancel_order,
    c.HoldOrder: orders.hold_order,
    c.FlagOrderException: orders.flag_exception,
    c.ResumeOrder: orders.resume_order,
    c.SetRateCard: routing.set_rate_card,
    c.SetLaneOnTime: routing.set_lane_on_time,
    c.SetMarkdownRisk: routing.set_markdown_risk,
    c.CreateRoutingPolicy: routing.create_routing_policy,
    c.ActivateRoutingPolicy: routing.activate_routing_policy,
    c.CommitRouting: routing.commit_routing,
    c.RecordRoutingDecision: routing.record_routing_decision,
    c.ReceiveIntakeDocument: intake.receive_intake_document,
    c.SettleIntakeDocument: intake.settle_intake_document,
    c.UpsertBuyerParts: catalog_xref.upsert_buyer_parts,
    c.OpenException: exceptions.open_exception,
    c.CloseException: exceptions.close_exception,
    c.AssignException: exceptions.assign_exception,
    c.AnnotateException: exceptions.annotate_exception,
    c.SetResolutionPolicy: exceptions.set_resolution_policy,
    c.CorrectOrderAddress: exceptions.correct_order_address,
    c.SubstituteOrderLine: exceptions.substitute_order_line,
    c.RepriceOrderLine: exceptions.reprice_order_line,
    c.RecordPaymentSignal: exceptions.record_payment_signal,
    c.RecordShortPick: exceptions.record_short_pick,
    c.RecordCarrierIncident: exceptions.record_carrier_incident,
    c.CreateProposal: exceptions.create_proposal,
    c.DecideProposal: exceptions.decide_proposal,
    c.RecordProposalResult: exceptions.record_proposal_result,
}
