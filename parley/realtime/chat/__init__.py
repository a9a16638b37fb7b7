"""The chat client ("aim") endpoints twilio-chat 5.x/6.x calls through the tunnel
(client-protocol.md §3 "Chat endpoints").

Every write goes through the same domain functions as REST (one write path),
after the role check of roles.md §5 and the service's pre-event webhook
(webhooks.md §4); its events carry ``Origin("sdk", identity)``, so post-event
webhooks always fire for client actions.
"""
