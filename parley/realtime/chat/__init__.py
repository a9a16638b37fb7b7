"""The chat client ("aim") endpoints twilio-chat 5.x/6.x calls through the tunnel
(docs/realtime-protocol.md §7 "Chat client endpoints").

Every write goes through the same domain functions as REST (one write path),
after the role check and the service's pre-event webhook (docs/behaviour.md,
"Roles" and "Pre-event webhooks for client actions"); its events carry
``Origin("sdk", identity)``, so post-event webhooks always fire for client
actions.
"""
