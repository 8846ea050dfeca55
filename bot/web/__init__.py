"""HTTP blueprints: the Twilio webhook, health and the operators' console."""
