"""The demo knowledge base: five real outages written up as published postmortems."""
