"""The core's own registrations, made through the same hooks as any plugin."""
