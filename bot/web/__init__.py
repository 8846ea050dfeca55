"""HTTP blueprints: the Twilio webhook, health, and (later) the console."""
