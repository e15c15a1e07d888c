"""Partners' webhooks: endpoints they register, deliveries of what happens to their requests as
signed Standard Webhooks requests, retried with backoff from a table that survives restarts, and
never sent to an address inside the hub's own networks."""
