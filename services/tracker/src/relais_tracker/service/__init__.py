"""The tracker's application steps: each orchestrates the repository, the domain and
the adapters for one job, in the transaction its caller gives it.

- orders: an order event -> the stored order (OrderIntake), its shipments with the
  events held for them (OrderShipments), or their cancellation (OrderCancellation);
- carrier_events: normalized carrier events -> matched shipments or held events
  (CarrierEventRecorder);
- history: recording events once, folding a shipment's progress;
- publishing: storing a changed shipment and publishing it through the outbox;
- polling: the loop polling carriers that only offer a pull API;
- order_view: what the order API shows of an order.
"""
